"""Proteins over seeds and folds, by length (issue 23).

Collects finished quantum runs (``qnlp train --task proteins ...
--split-seed 0 --seed S [--folds 5 --fold K]``) and fits the classical
baselines on the same parts (split seed 0: the split and the folds do
not move with the model seed), then prints, per model: parameters, split
test accuracy and 5-fold CV mean, each as mean +- sd over seeds, and the
CV accuracy by sequence length (short < 400, medium 400-999, long >=
1,000 residues; every sequence is tested once a seed, so these pool the
folds, mean over seeds; with ``--folds 0``, on the split's test set).

    python benchmarks/protein_cv.py --runs 'RUNS/q1fc_s*' \\
        [--ensemble 'NAME=RUNS/q1fc_s*' [--members N]] \\
        [--task localisation|membrane] \\
        [--baselines composition,hydropathy,cnn]

``--ensemble`` scores the runs of each part as one model averaging
their class probabilities (seeds 0, 1 and 2 of a fold: one figure per
fold, parameters summed), beside or instead of ``--runs``; with
``--members 5``, seeds 0-4, 5-9, 10-14 are three such ensembles, and the
mean +- sd runs over them (each ensemble takes a seed's place).

Beside the test figures: each seed's accuracy on every fold, and the
pooled dev accuracy (the dev parts of the five folds together, about 600
sequences: the figure to select on; baselines train on their dev parts,
so they have none).

The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import glob
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from qnlp.baselines import PROTEIN_BASELINES
from qnlp.tasks.proteins import (DEEPLOC_LABEL_PATTERNS, ProteinSettings,
                                 cropped, load_protein_split)
from qnlp.tasks.runner import load_trained

DEEPLOC = Path(__file__).resolve().parents[2] / 'shared' / 'data' \
    / 'protein' / 'deeploc'
TASKS = {'localisation': DEEPLOC_LABEL_PATTERNS,
         'membrane': ((r'-M(\s|$)', '1'), (r'-S(\s|$)', '0'))}
LENGTHS = (('short', 0, 400), ('medium', 400, 1000),
           ('long', 1000, 10 ** 9))


def _part(settings: ProteinSettings) -> str:
    return f'fold{settings.fold}' if settings.folds else 'split'


def _scored(records: Sequence[Any], predicted: Sequence[str]
            ) -> list[tuple[int, bool]]:
    return [(len(r.sequence), p == r.label)
            for r, p in zip(records, predicted)]


@dataclass
class Scored:
    """One finished run's test records and class probabilities (a
    column per label name)."""
    seed: int
    part: str
    test: list[Any]
    labels: list[str]
    probabilities: Any
    parameters: int
    seconds: float
    dev: list[Any] = ()
    dev_probabilities: Any = None


def scored_run(path: str, data: Path) -> Scored:
    """The finished run in ``path`` on the test part of its split."""
    trained = load_trained(path)
    settings = trained.settings
    _, dev, test = load_protein_split(data, settings)
    probabilities, dev_probabilities = (
        trained.predict_proba([cropped(r, settings) for r in part])
        if part else None for part in (test, dev))
    metrics = json.loads((Path(path) / 'metrics.json').read_text())
    return Scored(settings.seed, _part(settings), test, trained.labels,
                  probabilities, metrics['n_parameters'],
                  metrics['train_seconds'], dev, dev_probabilities)


def rows_of(runs: Sequence[Scored], ensemble: bool = False,
            members: int = 0) -> dict[tuple[Any, str], Any]:
    """``(seed, part) -> (scored test records, parameters, seconds,
    scored dev records)``; with ``ensemble``, the runs of each part (say
    seeds 0, 1, 2) are one model averaging their class probabilities:
    ``('0+1+2', part) ->`` its scores, the summed parameters and
    training seconds, its dev scores. ``members`` > 0 cuts the seeds
    (sorted, over all parts) into consecutive groups of that many, one
    ensemble each (seeds 0-4, 5-9, 10-14 with 5), so that the summary's
    mean +- sd runs over independent ensembles; a group left short is
    dropped. A seed with no finished run on any part is not among the
    seeds, so the groups move (the row names show their seeds). A group is scored on a part only where all its members
    finished.

    >>> from qnlp.data.fasta import ProteinRecord
    >>> test = [ProteinRecord('a', 'MK', '0'), ProteinRecord('b', 'ML', '1')]
    >>> runs = [Scored(s, 'split', test, ['0', '1'], torch.tensor(p), 10, 1.0)
    ...         for s, p in ((0, [[.9, .1], [.6, .4]]),
    ...                      (1, [[.4, .6], [.1, .9]]))]
    >>> rows_of(runs)[1, 'split'][0]      # seed 1 misses 'a'
    [(2, False), (2, True)]
    >>> rows_of(runs, ensemble=True)
    {('0+1', 'split'): ([(2, True), (2, True)], 20, 2.0, [])}
    >>> sorted(rows_of(runs, ensemble=True, members=1))
    [('0', 'split'), ('1', 'split')]
    """
    seeds = sorted({run.seed for run in runs})
    size = 1 if not ensemble else members or len(seeds) or 1
    groups = [seeds[i:i + size] for i in range(0, len(seeds) - size + 1,
                                               size)]
    by_part: dict[str, dict[int, Scored]] = defaultdict(dict)
    for run in runs:
        if run.seed in by_part[run.part]:
            raise ValueError(f'{run.part}: two runs of seed {run.seed}')
        by_part[run.part][run.seed] = run
    rows: dict[tuple[Any, str], Any] = {}
    for part, of_seed in by_part.items():
        for seeds_of_group in groups:
            if any(s not in of_seed for s in seeds_of_group):
                continue
            group = [of_seed[s] for s in seeds_of_group]
            names = group[0].labels
            if any(r.labels != names for r in group):
                raise ValueError(f"{part}: the runs' labels differ")
            def predicted(which: str) -> list[str]:
                mean = sum(getattr(r, which) for r in group) / len(group)
                return [names[i] for i in mean.argmax(1)]
            seed = '+'.join(map(str, seeds_of_group)) if ensemble \
                else group[0].seed
            rows[seed, part] = (
                _scored(group[0].test, predicted('probabilities')),
                sum(r.parameters for r in group),
                sum(r.seconds for r in group),
                _scored(group[0].dev, predicted('dev_probabilities'))
                if group[0].dev else [])
    return rows


def quantum_rows(pattern: str, data: Path, ensemble: bool = False,
                 members: int = 0) -> dict[tuple[Any, str], Any]:
    """:func:`rows_of` the finished runs matching ``pattern``."""
    return rows_of([scored_run(path, data)
                    for path in sorted(glob.glob(pattern))
                    if (Path(path) / 'metrics.json').exists()], ensemble,
                   members)


def baseline_rows(name: str, data: Path, patterns: Any, seeds: Sequence[int],
                  folds: int) -> dict[tuple[int, str], Any]:
    """The same for baseline ``name``: trained on train + dev of each
    part."""
    rows = {}
    for seed in seeds:
        for fold in [None, *range(folds)]:
            settings = ProteinSettings(
                seed=seed, split_seed=0, label_patterns=patterns,
                folds=folds if fold is not None else 0, fold=fold or 0)
            train, dev, test = load_protein_split(data, settings)
            torch.manual_seed(seed)
            model = PROTEIN_BASELINES[name](seed)
            start = time.perf_counter()
            model.fit([r.sequence for r in train + dev],
                      [r.label for r in train + dev])
            seconds = time.perf_counter() - start
            rows[seed, _part(settings)] = (
                _scored(test, list(model.predict([r.sequence
                                                  for r in test]))),
                model.n_parameters, seconds, [])
    return rows


def summary(rows: dict[tuple[int, str], Any], folds: int) -> dict[str, Any]:
    """Mean and sd over seeds of the split and CV accuracies, CV accuracy
    by length, each seed's accuracy on every fold, the pooled dev
    accuracy of the folds a seed (where the runs have dev parts),
    parameters and mean training seconds.

    >>> rows = {(s, p): ([(100, True), (2000, s == 0)], 7, 1.0,
    ...                  [(50, True), (60, p == 'fold0')])
    ...         for s in (0, 1) for p in ('split', 'fold0', 'fold1')}
    >>> result = summary(rows, 2)
    >>> result['split'], result['cv'], result['by_length']['long']
    ([1.0, 0.5], [1.0, 0.5], 0.5)
    >>> result['folds'], result['dev_pooled']
    ({0: [1.0, 1.0], 1: [0.5, 0.5]}, [0.75, 0.75])
    """
    seeds = sorted({seed for seed, _ in rows})
    result: dict[str, Any] = {'seeds': seeds, 'split': [], 'cv': [],
                              'folds': {}, 'dev_pooled': []}
    by_length: dict[str, list[float]] = defaultdict(list)
    for seed in seeds:
        if (seed, 'split') in rows:
            scored = rows[seed, 'split'][0]
            result['split'].append(sum(c for _, c in scored) / len(scored))
        parts = [rows.get((seed, f'fold{k}')) for k in range(folds)]
        pooled = []
        if folds and all(parts):
            result['folds'][seed] = [sum(c for _, c in p[0]) / len(p[0])
                                     for p in parts]
            result['cv'].append(statistics.mean(result['folds'][seed]))
            pooled = [s for p in parts for s in p[0]]
            dev = [c for p in parts for _, c in p[3]]
            if dev:
                result['dev_pooled'].append(sum(dev) / len(dev))
        elif not folds and (seed, 'split') in rows:
            pooled = rows[seed, 'split'][0]
        if pooled:
            for label, low, high in LENGTHS:
                hits = [c for n, c in pooled if low <= n < high]
                by_length[label].append(sum(hits) / max(1, len(hits)))
    result['by_length'] = {k: statistics.mean(v) for k, v in
                           by_length.items()}
    any_row = next(iter(rows.values()))
    result['parameters'] = any_row[1]
    result['seconds'] = statistics.mean(r[2] for r in rows.values())
    return result


def _mean_sd(values: Sequence[float], one: str = '1 seed') -> str:
    if not values:
        return 'not run'
    if len(values) == 1:
        return f'{values[0]:.3f} ({one})'
    return (f'{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}'
            f' ({min(values):.3f}-{max(values):.3f})')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', action='append', default=[],
                        metavar='NAME=GLOB', help='quantum run directories')
    parser.add_argument('--ensemble', action='append', default=[],
                        metavar='NAME=GLOB', help='quantum runs whose '
                        'probabilities are averaged, part by part (one '
                        'model: parameters and seconds are summed)')
    parser.add_argument('--members', type=int, default=0, metavar='N',
                        help='ensembles of N consecutive seeds each (0-4, '
                        '5-9, ... with 5), scored as separate models: '
                        'mean +- sd over them; default: one ensemble of '
                        'all the runs')
    parser.add_argument('--data', type=Path, default=DEEPLOC)
    parser.add_argument('--task', choices=tuple(TASKS),
                        default='localisation')
    parser.add_argument('--baselines', default='composition,hydropathy,cnn')
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--folds', type=int, default=5)
    args = parser.parse_args()
    if args.members < 0:
        parser.error(f'--members {args.members}: give 0 or more seeds')
    torch.set_num_threads(1)
    results = {}
    for item, ensemble in [(r, False) for r in args.runs] + [
            (r, True) for r in args.ensemble]:
        name, _, pattern = item.rpartition('=')
        rows = quantum_rows(pattern, args.data, ensemble, args.members)
        if not rows:
            parser.error(f'{item}: no finished runs (or no whole '
                         'ensemble) match')
        results[name or pattern] = summary(rows, args.folds)
    seeds = [int(s) for s in args.seeds.split(',')]
    for name in filter(None, args.baselines.split(',')):
        results[name] = summary(baseline_rows(
            name, args.data, TASKS[args.task], seeds, args.folds),
            args.folds)
    print(f'task {args.task}; mean +- sd over seeds (min-max)')
    cv = f'{args.folds}-fold CV mean' if args.folds else 'CV'
    print(f'| model | parameters | pooled dev | split | {cv} | '
          f'{"CV" if args.folds else "split"} short / medium / long | '
          'training s |')
    print('|---|---|---|---|---|---|---|')
    for name, r in results.items():
        lengths = ' / '.join(f"{r['by_length'][k]:.3f}" for k, *_ in LENGTHS
                             if k in r['by_length'])
        one = (f"ensemble of seeds {r['seeds'][0]}"
               if isinstance(r['seeds'][0], str) else '1 seed')
        dev = _mean_sd(r['dev_pooled'], one) if r['dev_pooled'] else '-'
        print(f"| {name} | {r['parameters']:,} | {dev} | "
              f"{_mean_sd(r['split'], one)} | {_mean_sd(r['cv'], one)} | "
              f"{lengths} | {r['seconds']:.1f} |")
    print('\nTest accuracy by fold (a line a seed):')
    for name, r in results.items():
        for seed, accuracies in r['folds'].items():
            print(f"{name} seed {seed}: "
                  + ' '.join(f'{a:.3f}' for a in accuracies))
    print(json.dumps({'benchmark': 'protein_cv', 'task': args.task,
                      'results': results}))


if __name__ == '__main__':
    main()
