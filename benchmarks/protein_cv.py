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
        [--ensemble 'NAME=RUNS/q1fc_s*[:N][,RUNS/other_s*[:N]]' \\
         [--members N]] [--dev-only] \\
        [--task localisation|membrane] \\
        [--baselines composition,hydropathy,cnn]

``--ensemble`` scores the runs of each part as one model averaging
their class probabilities (seeds 0, 1 and 2 of a fold: one figure per
fold, parameters summed), beside or instead of ``--runs``; with
``--members 5``, seeds 0-4, 5-9, 10-14 are three such ensembles, and the
mean +- sd runs over them (each ensemble takes a seed's place). Several
comma-separated globs make a mixed ensemble, each glob with its own
member count after a colon (``R/w20_s*:3,R/scan_s*:2``: ensemble a is
the first 3 seeds of the one and the first 2 of the other, b the next 3
and 2, ...; a glob without a count takes ``--members``).

Beside the test figures: each seed's accuracy on every fold, and the
pooled dev accuracy (the dev parts of the split and the five folds
together, about 720 sequences: the figure to select on; baselines train
on their dev parts, so they have none). ``--dev-only`` predicts and
prints the pooled dev accuracy and mean dev log-loss alone (no test part
is read, no baseline is fitted): the selection step before a test
figure is seen.

The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
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


def scored_run(path: str, data: Path, test: bool = True) -> Scored:
    """The finished run in ``path`` on the test and dev parts of its
    split (without ``test``, on the dev part alone: no test record is
    read)."""
    trained = load_trained(path)
    settings = trained.settings
    _, dev, test_part = load_protein_split(data, settings)
    if not test:
        test_part = []
    probabilities, dev_probabilities = (
        trained.predict_proba([cropped(r, settings) for r in part])
        if part else None for part in (test_part, dev))
    metrics = json.loads((Path(path) / 'metrics.json').read_text())
    return Scored(settings.seed, _part(settings), test_part, trained.labels,
                  probabilities, metrics['n_parameters'],
                  metrics['train_seconds'], dev, dev_probabilities)


def seed_groups(runs: Sequence[Scored], size: int) -> list[list[int]]:
    """The seeds of ``runs`` (sorted, over all parts) cut into
    consecutive groups of ``size`` (0: one group of all); a group left
    short is dropped.

    >>> runs = [Scored(s, 'split', [], ['0'], None, 1, 1.0)
    ...         for s in (4, 0, 2, 8, 6)]
    >>> seed_groups(runs, 2), seed_groups(runs, 0)
    ([[0, 2], [4, 6]], [[0, 2, 4, 6, 8]])
    """
    seeds = sorted({run.seed for run in runs})
    size = size or len(seeds) or 1
    return [seeds[i:i + size] for i in range(0, len(seeds) - size + 1,
                                               size)]


def _by_part(runs: Sequence[Scored]) -> dict[str, dict[int, Scored]]:
    by_part: dict[str, dict[int, Scored]] = defaultdict(dict)
    for run in runs:
        if run.seed in by_part[run.part]:
            raise ValueError(f'{run.part}: two runs of seed {run.seed}')
        by_part[run.part][run.seed] = run
    return by_part


def _row(part: str, members: Sequence[Scored]) -> tuple[Any, ...]:
    """The row of one model averaging the class probabilities of
    ``members`` (runs on the same test records of ``part``). Members
    that held out different dev parts (``--dev-fold``) share no dev
    record, so their ensemble has no dev figure."""
    first = members[0]
    for run in members:
        if run.labels != first.labels:
            raise ValueError(f"{part}: the runs' labels differ")
        if [r.id for r in run.test] != [r.id for r in first.test]:
            raise ValueError(f"{part}: the runs' test parts differ "
                             '(other split settings?)')
    same_dev = all([r.id for r in run.dev] == [r.id for r in first.dev]
                   for run in members)

    def mean(which: str) -> Any:
        return sum(getattr(r, which) for r in members) / len(members)

    def scored(records: Sequence[Any], probabilities: Any
               ) -> list[tuple[int, bool]]:
        return _scored(records, [first.labels[i]
                                 for i in probabilities.argmax(1)])
    test = scored(first.test, mean('probabilities')) if first.test else []
    dev, dev_losses = [], []
    if first.dev and same_dev:
        dev_mean = mean('dev_probabilities')
        dev = scored(first.dev, dev_mean)
        dev_losses = [
            -math.log(max(float(p[first.labels.index(r.label)]), 1e-12))
            for r, p in zip(first.dev, dev_mean)]
    return (test, sum(r.parameters for r in members),
            sum(r.seconds for r in members), dev, dev_losses)


def ensemble_rows(sources: Sequence[tuple[Sequence[Scored], int]]
                  ) -> dict[tuple[str, str], Any]:
    """``(name, part) ->`` the row of each ensemble of the ``sources``,
    each ``(runs, members)``: ensemble ``i`` averages the ``i``-th
    :func:`seed_groups` of every source (a mixed ensemble with several
    sources), so there are as many as the source with the fewest groups
    has. A seed with no finished run on any part is not among its
    source's seeds, so the groups move (the names show their seeds:
    ``'0+1'``, or ``'0+1 & 0'`` mixed). An ensemble is scored on a part
    only where all its members finished.

    >>> from qnlp.data.fasta import ProteinRecord
    >>> test = [ProteinRecord('a', 'MK', '0'), ProteinRecord('b', 'ML', '1')]
    >>> def run(seed, p):
    ...     return Scored(seed, 'split', test, ['0', '1'], torch.tensor(p),
    ...                   10, 1.0)
    >>> chains = [run(0, [[.9, .1], [.6, .4]]), run(1, [[.4, .6], [.1, .9]])]
    >>> hybrids = [run(0, [[.1, .9], [.2, .8]])]
    >>> ensemble_rows([(chains, 0)])
    {('0+1', 'split'): ([(2, True), (2, True)], 20, 2.0, [], [])}
    >>> ensemble_rows([(chains, 2), (hybrids, 1)])   # 'a' now misses
    {('0+1 & 0', 'split'): ([(2, False), (2, True)], 30, 3.0, [], [])}
    """
    sources = [(_by_part(runs), seed_groups(runs, size))
               for runs, size in sources]
    rows: dict[tuple[str, str], Any] = {}
    if not sources:
        return rows
    count = min(len(groups) for _, groups in sources)
    parts = sorted(set.intersection(*(set(by_part)
                                      for by_part, _ in sources)))
    for part in parts:
        for i in range(count):
            members = [by_part[part].get(seed) for by_part, groups
                       in sources for seed in groups[i]]
            if None in members:
                continue
            name = ' & '.join('+'.join(map(str, groups[i]))
                              for _, groups in sources)
            rows[name, part] = _row(part, members)
    return rows


def rows_of(runs: Sequence[Scored], ensemble: bool = False,
            members: int = 0) -> dict[tuple[Any, str], Any]:
    """``(seed, part) -> (scored test records, parameters, seconds,
    scored dev records, dev records' log-losses)`` of each run; with
    ``ensemble``, the :func:`ensemble_rows` of ``runs`` in groups of
    ``members`` seeds (0: one ensemble of all the seeds).

    >>> from qnlp.data.fasta import ProteinRecord
    >>> test = [ProteinRecord('a', 'MK', '0'), ProteinRecord('b', 'ML', '1')]
    >>> runs = [Scored(s, 'split', test, ['0', '1'], torch.tensor(p), 10, 1.0)
    ...         for s, p in ((0, [[.9, .1], [.6, .4]]),
    ...                      (1, [[.4, .6], [.1, .9]]))]
    >>> rows_of(runs)[1, 'split'][0]      # seed 1 misses 'a'
    [(2, False), (2, True)]
    >>> sorted(rows_of(runs, ensemble=True, members=1))
    [('0', 'split'), ('1', 'split')]
    """
    if ensemble:
        return ensemble_rows([(runs, members)])
    return {(seed, part): _row(part, [run])
            for part, of_seed in _by_part(runs).items()
            for seed, run in of_seed.items()}


def sources_of(globs: str, members: int, data: Path, test: bool = True,
               cache: dict[str, Scored] | None = None
               ) -> list[tuple[list[Scored], int]]:
    """``'GLOB[:N],GLOB[:N]'`` -> the finished runs of each glob and its
    member count (``members`` where a glob has none). A run already in
    ``cache`` (path -> scored run) is not predicted again: candidates
    that share runs cost one prediction a run."""
    cache = {} if cache is None else cache
    sources = []
    for item in globs.split(','):
        pattern, colon, count = item.rpartition(':')
        if not colon or not count.isdigit():
            pattern, count = item, str(members)
        paths = [path for path in sorted(glob.glob(pattern))
                 if (Path(path) / 'metrics.json').exists()]
        for path in paths:
            if path not in cache:
                cache[path] = scored_run(path, data, test)
        sources.append(([cache[path] for path in paths], int(count)))
    return sources


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
                model.n_parameters, seconds, [], [])
    return rows


def _accuracy(scored: Sequence[tuple[int, bool]]) -> float:
    return sum(c for _, c in scored) / len(scored)


def summary(rows: dict[tuple[int, str], Any], folds: int) -> dict[str, Any]:
    """Mean and sd over seeds of the split and CV accuracies, CV accuracy
    by length, each seed's accuracy on every fold, the pooled dev
    accuracy of a seed's parts (the split, where it has one, and all the
    folds; where the runs have dev parts) and their mean dev log-loss
    (``-log`` of the true label's probability: a finer figure to select
    on than the accuracy of a few hundred sequences), parameters and
    mean training seconds. Rows without test records (``--dev-only``)
    give the dev figures alone.

    >>> rows = {(s, p): ([(100, True), (2000, s == 0)], 7, 1.0,
    ...                  [(50, True), (60, p != 'fold1')], [0.5, 1.5])
    ...         for s in (0, 1) for p in ('split', 'fold0', 'fold1')}
    >>> result = summary(rows, 2)
    >>> result['split'], result['cv'], result['by_length']['long']
    ([1.0, 0.5], [1.0, 0.5], 0.5)
    >>> result['folds'], [round(d, 3) for d in result['dev_pooled']]
    ({0: [1.0, 1.0], 1: [0.5, 0.5]}, [0.833, 0.833])
    >>> result['dev_log_loss']
    [1.0, 1.0]
    >>> dev_only = {key: ([], *row[1:]) for key, row in rows.items()}
    >>> result = summary(dev_only, 2)
    >>> result['split'], result['cv'], len(result['dev_pooled'])
    ([], [], 2)
    """
    seeds = sorted({seed for seed, _ in rows})
    result: dict[str, Any] = {'seeds': seeds, 'split': [], 'cv': [],
                              'folds': {}, 'dev_pooled': [],
                              'dev_log_loss': []}
    by_length: dict[str, list[float]] = defaultdict(list)
    for seed in seeds:
        split = rows.get((seed, 'split'))
        parts = [rows.get((seed, f'fold{k}')) for k in range(folds)]
        if split and split[0]:
            result['split'].append(_accuracy(split[0]))
        pooled = []
        if folds and all(parts) and all(p[0] for p in parts):
            result['folds'][seed] = [_accuracy(p[0]) for p in parts]
            result['cv'].append(statistics.mean(result['folds'][seed]))
            pooled = [s for p in parts for s in p[0]]
        elif not folds and split:
            pooled = split[0]
        if all(parts):
            dev = [c for p in (split, *parts) if p for _, c in p[3]]
            if dev:
                result['dev_pooled'].append(sum(dev) / len(dev))
            losses = [x for p in (split, *parts) if p for x in p[4]]
            if losses:
                result['dev_log_loss'].append(sum(losses) / len(losses))
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
                        metavar='NAME=GLOB[:N],...', help='quantum runs '
                        'whose probabilities are averaged, part by part '
                        '(one model: parameters and seconds are summed); '
                        'several globs, each with N members: a mixed '
                        'ensemble')
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
    parser.add_argument('--dev-only', action='store_true',
                        help='the pooled dev accuracy and log-loss alone: '
                        'no test part '
                        'is read, no baseline fitted (for selection)')
    args = parser.parse_args()
    if args.members < 0:
        parser.error(f'--members {args.members}: give 0 or more seeds')
    results = {}
    test = not args.dev_only
    scored: dict[str, Scored] = {}
    for item, ensemble in [(r, False) for r in args.runs] + [
            (r, True) for r in args.ensemble]:
        name, _, globs = item.rpartition('=')
        sources = sources_of(globs, args.members, args.data, test, scored)
        rows = (ensemble_rows(sources) if ensemble else
                rows_of([run for runs, _ in sources for run in runs]))
        if not rows:
            parser.error(f'{item}: no finished runs (or no whole '
                         'ensemble) match')
        results[name or globs] = summary(rows, args.folds)
    if args.dev_only:
        print(f'task {args.task}; pooled dev accuracy and log-loss '
              f'(split + {args.folds} folds), no test part read')
        print('| model | parameters | pooled dev | dev log-loss | '
              'each seed / ensemble |')
        print('|---|---|---|---|---|')
        for name, r in results.items():
            print(f"| {name} | {r['parameters']:,} | "
                  f"{_mean_sd(r['dev_pooled'], 'one')} | "
                  f"{_mean_sd(r['dev_log_loss'], 'one')} | "
                  + ', '.join(f'{s}: {d:.4f}' for s, d in
                              zip(r['seeds'], r['dev_pooled'])) + ' |')
        print(json.dumps({'benchmark': 'protein_cv', 'task': args.task,
                          'dev_only': True, 'results': results}))
        return
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
    torch.set_num_threads(1)   # the script's own policy, not main()'s:
    main()                     # tests call main() in their process
