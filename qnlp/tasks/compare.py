"""The quantum model of any task and its baselines on the same splits.

For every seed the corpus is split once (directories keep their files;
a single file is split with that seed), and every model trains on that
split. The table gives mean ± standard deviation of test accuracy and
macro F1, trainable parameters and training time, and is written as
``comparison.md``, ``comparison.json`` and ``comparison.png``. When the
runs were attacked (an image task's ``--attack ATTACK:EPS``), every row
also gives its accuracy under each attack, mean ± standard deviation,
and ``robustness.png`` plots accuracy against epsilon per model. Quantum
runs are kept under ``runs/`` (resumable), so an interrupted comparison
started again with the same arguments skips the finished ones.

*Variants* (``variants``: name -> settings; ``qnlp compare --variant
NAME=OPTIONS``) replace the one quantum model by several, each a row.
*Cross-validation*: for a task whose settings have ``folds`` (proteins),
``folds=K`` trains every model on every fold of every seed, on the same
folds for every seed (``split_seed``, 0 unless given), and a row gives
the mean over seeds of each seed's mean over the folds, ± the standard
deviation over seeds; ``comparison.json`` keeps every (seed, fold) run.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from qnlp.errors import ConfigError
from qnlp.files import atomic_write_json, atomic_write_text
from qnlp.tasks.runner import check_same_run, get_task, train
from qnlp.train.plots import plot_comparison, plot_robustness


def quantum_run(out: str | Path, name: str, settings: Any) -> Path:
    """The run directory of quantum model ``name`` with ``settings``
    (its seed, and its fold in cross-validation)."""
    fold = f'-fold{settings.fold}' if folds_of(settings) else ''
    return Path(out) / 'runs' / f'{name}-seed{settings.seed}{fold}'


def _check_kept(task_name: str, out: Path, settings: Any) -> None:
    """Refuse the run in ``out`` (finished or interrupted in an earlier
    call) when it was made with other settings."""
    from qnlp.train.run import CONFIG_FILE, RunDirectory
    if (out / CONFIG_FILE).is_file():
        check_same_run(out, RunDirectory(out).read_config(),
                       get_task(task_name), settings, "compare with the same "
                       "settings or give another --out")


def _quantum(task_name: str, data: str | Path, out: Path, settings: Any
             ) -> dict[str, Any]:
    """The quantum run in ``out``: reused when finished, resumed when
    interrupted, else trained."""
    from qnlp.train.run import RunDirectory
    run = RunDirectory(out)
    if run.finished():   # finished in an earlier call: with these settings?
        _check_kept(task_name, out, settings)
        return run.read_metrics()
    return train(task_name, data, out, settings,
                 resume=run.holds_run(), progress=False)


def row_of(metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the table from a run's ``metrics.json``: test accuracy
    and F1, trainable parameters, training time and, when the run was
    attacked, ``robust_accuracy`` (``clean`` on the attacked images and
    ``NAME:EPS`` -> accuracy).

    >>> row_of({'test_accuracy': 0.9, 'test_f1': 0.8, 'n_parameters': 7,
    ...         'train_seconds': 1.5, 'task_metrics': {'robust_accuracy':
    ...         {'clean': 0.9, 'pgd:0.1': 0.4}}})['robust_accuracy']
    {'clean': 0.9, 'pgd:0.1': 0.4}
    """
    row = {'accuracy': metrics['test_accuracy'], 'f1': metrics['test_f1'],
           'parameters': metrics['n_parameters'],
           'seconds': metrics['train_seconds']}
    robust = metrics.get('task_metrics', {}).get('robust_accuracy')
    if robust:
        row['robust_accuracy'] = dict(robust)
    return row


def folds_of(settings: Any) -> int:
    """The cross-validation folds of ``settings`` (0: none, or a task
    without folds).

    >>> from qnlp.tasks.proteins import ProteinSettings
    >>> from qnlp.tasks.sentences import SentenceSettings
    >>> folds_of(ProteinSettings(folds=5)), folds_of(SentenceSettings())
    (5, 0)
    """
    return int(getattr(settings, 'folds', 0) or 0)


def run_one(task_name: str, data: str | Path, out: str | Path, name: str,
            seed: int, settings: Any, quantum: bool = False
            ) -> dict[str, Any]:
    """One run of the table: the quantum model (``quantum``) or baseline
    ``name`` trained with ``seed`` on the split (or fold) of
    ``settings``.

    A pure function of its arguments (quantum runs are written to, and
    reused from, ``out/runs/NAME-seedS``, ``NAME-seedS-foldK`` in
    cross-validation), so it can run in any process.

    >>> import tempfile, pathlib
    >>> from qnlp.tasks.sentences import SentenceSettings
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for part in ('train', 'dev', 'test'):
    ...     _ = (folder / f'{part}.txt').write_text(
    ...         '1 Alice loves Bob\\n0 Bob hates Alice\\n')
    >>> row = run_one('sentences', folder, folder / 'out', 'bow', 0,
    ...               SentenceSettings())
    >>> row['accuracy'], row['parameters'] > 0
    (1.0, True)
    """
    task = get_task(task_name)
    settings = replace(settings, seed=seed)
    if quantum:
        return row_of(_quantum(task_name, data,
                               quantum_run(out, name, settings), settings))
    return task.fit_baseline(name, str(data), settings)


#: What a variant may be called (it names run directories).
VARIANT_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.+-]*')
#: Settings every model of a comparison shares: the command sets them.
SHARED = ('seed', 'folds', 'fold', 'split_seed')


def check_variants(variants: Mapping[str, Any], settings: Any,
                   baselines: Sequence[str]) -> None:
    """Refuse a variant name that cannot name a run directory or that
    is a baseline's, and a variant whose split settings (folds, split
    seed) are not the comparison's.

    >>> from qnlp.tasks.proteins import ProteinSettings
    >>> check_variants({'q/1': ProteinSettings()}, ProteinSettings(), [])
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: variant name 'q/1': use letters, digits and . _ + - (it names run directories)
    >>> check_variants({'q1': ProteinSettings(folds=5)}, ProteinSettings(),
    ...                ['cnn'])
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: variant q1: folds is set by the comparison for every model (5 here, 0 in the comparison)
    """
    names = {spec.name for spec in fields(settings)}
    for name, found in variants.items():
        if not VARIANT_NAME.fullmatch(name):
            raise ConfigError(f"variant name {name!r}: use letters, digits "
                              "and . _ + - (it names run directories)")
        if name in baselines:
            raise ConfigError(f"variant {name}: also the name of a baseline")
        if type(found) is not type(settings):
            raise ConfigError(f"variant {name}: settings of another task")
        for key in SHARED[1:]:
            if key in names and getattr(found, key) != getattr(settings, key):
                raise ConfigError(
                    f"variant {name}: {key} is set by the comparison for "
                    f"every model ({getattr(found, key)} here, "
                    f"{getattr(settings, key)} in the comparison)")


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    """The seeds of ``seeds``: a count (seeds 0..N-1) or the seeds.

    >>> seed_list(3), seed_list([4, 7])
    ([0, 1, 2], [4, 7])
    """
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds must be positive, got {seeds}")
        return list(range(seeds))
    found = [int(seed) for seed in seeds]
    if not found or min(found) < 0 or len(set(found)) != len(found):
        raise ConfigError(f"seeds must be distinct and non-negative, got "
                          f"{found}")
    return found


def ensemble_row(data: str | Path, runs: Sequence[str | Path]
                 ) -> dict[str, Any]:
    """One row of the table for the finished quantum ``runs`` (the seeds
    of a model on one split or fold) as one model that averages their
    class probabilities on the test part; parameters and training
    seconds are summed. The runs must share the test part (a fixed
    split: ``split_seed``, or data with its own splits)."""
    from qnlp.tasks.runner import load_trained
    from qnlp.train.metrics import classification_report
    from qnlp.train.run import RunDirectory
    from qnlp.train.trainer import outputs
    mean, truth, labels, parameters, seconds = 0, None, None, 0, 0.0
    for run in runs:
        trained = load_trained(run)
        test = trained.task.load(str(data), trained.settings).test
        if truth is not None and (test.labels.tolist() != truth
                                  or trained.labels != labels):
            raise ConfigError(f"{run}: another test part than {runs[0]}'s; "
                              "an ensemble of seeds needs the same test "
                              "examples for every seed (give --split-seed)")
        truth, labels = test.labels.tolist(), trained.labels
        mean = mean + trained.task.probabilities(outputs(
            trained.model, test.circuits, trained.task.eval_chunk))
        metrics = RunDirectory(run).read_metrics()
        parameters += metrics['n_parameters']
        seconds += metrics['train_seconds']
    report = classification_report(truth, mean.argmax(1).tolist(), labels)
    return {'accuracy': report['accuracy'], 'f1': report['f1'],
            'parameters': parameters, 'seconds': seconds}


def compare(data: str | Path, out: str | Path,
            baselines: Sequence[str] | None = None,
            seeds: int | Sequence[int] = 5, settings: Any = None,
            report: Callable[[str], None] = print, *,
            task: str | None = None,
            variants: Mapping[str, Any] | None = None, ensemble: bool = False,
            jobs: int | None = 1, executor: str = 'local',
            threads: int | None = 1, progress: bool = False
            ) -> dict[str, Any]:
    """Train the task's quantum model (or each of ``variants``, name ->
    settings) and its ``baselines`` for ``seeds`` (a count, or the
    seeds) on the same splits; write and return the table.

    ``task`` defaults to the one whose settings ``settings`` are
    (sentences without settings). With ``settings.folds`` (a task with
    folds) every model runs on every fold of every seed (see the module
    docstring). ``ensemble`` adds a row ``NAME xN`` for each quantum
    model: its N seeds as one model (:func:`ensemble_row`, on each split
    or fold). Every (model, seed, fold) is one task of
    :func:`run_one`; with ``jobs > 1`` or ``executor='ray'`` they run
    in parallel (see :func:`qnlp.train.sweep.run_tasks`, ``threads``
    torch threads per worker) and the rows are put together in the
    sequential order, so the table is the same; only the training times
    differ. A failed task does not stop the others; the failures are
    raised at the end as one :class:`~qnlp.errors.SweepError`, and
    running the same comparison again skips the quantum runs that
    finished.
    """
    from qnlp.tasks.base import REGISTRY
    if task is None:
        task = next((name for name, kind in REGISTRY.items()
                     if settings is not None
                     and type(settings) is kind.Settings), 'sentences')
    kind = get_task(task)
    settings = settings if settings is not None else kind.Settings()
    known, usual = kind.baseline_choices(settings)
    baselines = list(usual if baselines is None else baselines)
    unknown = sorted(set(baselines) - set(known))
    if unknown:
        raise ConfigError(f"unknown baselines {unknown} for {task}; choose "
                          f"from {', '.join(known)}")
    if jobs is not None and jobs <= 0:
        raise ConfigError(f"jobs must be positive, got {jobs}")
    seeds = seed_list(seeds)
    if ensemble and len(seeds) < 2:
        raise ConfigError("an ensemble of seeds needs at least 2 seeds")
    if ensemble and getattr(settings, 'attacks', ()):
        raise ConfigError("an ensemble of seeds is not attacked: leave out "
                          "--ensemble or --attack")
    folds = folds_of(settings)
    if folds and getattr(settings, 'split_seed', 0) is None:
        # The same folds for every seed: seeds then move only the models.
        settings = replace(settings, split_seed=0)
        variants = {name: replace(found, split_seed=0) if
                    getattr(found, 'split_seed', 0) is None else found
                    for name, found in (variants or {}).items()}
    if ensemble and getattr(settings, 'split_seed', 0) is None:
        raise ConfigError("an ensemble of seeds needs the same test "
                          "examples for every seed: give --split-seed")
    quantum = dict(variants) if variants else {
        kind.model_name(settings): settings}
    check_variants(quantum, settings, baselines)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")
    kind.check_data(str(data), settings)   # bad data fails here, once
    out.mkdir(parents=True, exist_ok=True)
    models = [(name, found, True) for name, found in quantum.items()] + [
        (name, settings, False) for name in baselines]
    names = [name for name, *_ in models]
    # One task a (model, seed, fold): its settings carry the seed and fold.
    pairs = [(name, seed, fold, replace(found, seed=seed) if fold is None
              else replace(found, seed=seed, fold=fold), is_quantum)
             for seed in seeds for fold in (range(folds) if folds else [None])
             for name, found, is_quantum in models]
    for name, _, _, found, is_quantum in pairs:   # before any training
        if is_quantum:
            _check_kept(task, quantum_run(out, name, found), found)

    def where(seed: int, fold: int | None) -> str:
        return f"seed {seed}" + ('' if fold is None else f" fold {fold}")

    def done(index: int, row: Any, error: BaseException | None) -> None:
        name, seed, fold = pairs[index][:3]
        report(f"{where(seed, fold)} {name}: " + (
            f"accuracy {row['accuracy']:.3f}" if error is None
            else f"failed: {' '.join(str(error).split())}"))

    from qnlp.train.sweep import run_tasks
    found_rows = run_tasks(
        run_one, [(task, str(data), str(out), name, seed, found, is_quantum)
                  for name, seed, _, found, is_quantum in pairs],
        jobs=jobs, executor=executor, threads=threads,
        names=[f"{name} {where(seed, fold)}"
               for name, seed, fold, *_ in pairs],
        on_done=done, progress=progress,
        hint=f"finished quantum runs are kept in {out / 'runs'} and "
             "skipped when the comparison is run again")
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for (name, seed, fold, *_), row in zip(pairs, found_rows):
        rows[name].append({**row, 'seed': seed,
                           **({} if fold is None else {'fold': fold})})
    if ensemble:
        members = '+'.join(map(str, seeds))
        for name in quantum:
            group = f'{name} x{len(seeds)}'
            names.insert(names.index(name) + 1, group)
            rows[group] = [
                {**ensemble_row(data, [quantum_run(out, name, found)
                                       for other, _, at, found, _ in pairs
                                       if other == name and at == fold]),
                 'seed': members, **({} if fold is None else {'fold': fold})}
                for fold in (range(folds) if folds else [None])]
        rows = {name: rows[name] for name in names}
    table = summarise(per_seed(rows) if folds else rows)
    if folds:
        for name in names:
            table[name]['fold_accuracy'] = [
                statistics.mean(r['accuracy'] for r in rows[name]
                                if r['fold'] == fold) for fold in range(folds)]
    result = {'task': task, 'data': str(data), 'seeds': seeds,
              'folds': folds,
              'settings': {k: v for k, v in settings.to_dict().items()
                           if k != 'seed'},
              'variants': {name: {k: v for k, v in found.to_dict().items()
                                  if k != 'seed'}
                           for name, found in (variants or {}).items()},
              'models': table, 'runs': rows}
    atomic_write_json(out / 'comparison.json', result)
    atomic_write_text(out / 'comparison.md', markdown(
        table, data, len(seeds), folds, getattr(settings, 'split_seed',
                                                None)))
    plot_comparison(names, [table[n]['accuracy_mean'] for n in names],
                    [table[n]['accuracy_std'] for n in names],
                    out / 'comparison.png',   # then the metric, the quantum
                    'CV accuracy' if folds else 'test accuracy',
                    [n for n in names if n not in baselines])
    attacks = attack_columns(table)
    if attacks:
        plot_robustness({name: {key: table[name]['robust_accuracy'][key]
                                for key in attacks} for name in names},
                        out / 'robustness.png')
    return result


def per_seed(rows: dict[str, list[dict[str, Any]]]
             ) -> dict[str, list[dict[str, Any]]]:
    """Cross-validation: each model's runs (one a seed and fold) reduced
    to one row a seed, the mean over its folds of every figure
    (accuracy, F1, precision, recall, robust accuracy, parameters,
    seconds a run).

    >>> runs = [{'seed': s, 'fold': f, 'accuracy': a, 'f1': a,
    ...          'parameters': 5, 'seconds': 1.0}
    ...         for s, f, a in ((0, 0, 0.5), (0, 1, 1.0), (1, 0, 1.0),
    ...                         (1, 1, 1.0))]
    >>> [(r['seed'], r['accuracy']) for r in per_seed({'m': runs})['m']]
    [(0, 0.75), (1, 1.0)]
    """
    reduced: dict[str, list[dict[str, Any]]] = {}
    for name, runs in rows.items():
        seeds = list(dict.fromkeys(r['seed'] for r in runs))
        reduced[name] = []
        for seed in seeds:
            group = [r for r in runs if r['seed'] == seed]
            row: dict[str, Any] = {'seed': seed}
            for key in ('accuracy', 'f1', 'precision', 'recall',
                        'parameters', 'seconds'):
                if all(key in r for r in group):
                    row[key] = statistics.mean(r[key] for r in group)
            attacked = [r.get('robust_accuracy') or {} for r in group]
            shared = _shared_keys(attacked)
            if shared:
                row['robust_accuracy'] = {
                    key: statistics.mean(f[key] for f in attacked)
                    for key in shared}
            reduced[name].append(row)
    return reduced


def _spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(rows: dict[str, list[dict[str, Any]]]
              ) -> dict[str, dict[str, Any]]:
    """Mean and standard deviation per model; ``robust_accuracy`` maps
    each attack every run of the model faced (and ``clean``) to its
    ``{'mean': ..., 'std': ...}``.

    >>> runs = [{'accuracy': a, 'f1': a, 'parameters': 5, 'seconds': 1.0,
    ...          'robust_accuracy': {'clean': a, 'pgd:0.1': a / 2}}
    ...         for a in (0.8, 1.0)]
    >>> found = summarise({'m': runs})['m']['robust_accuracy']['pgd:0.1']
    >>> {key: round(value, 3) for key, value in found.items()}
    {'mean': 0.45, 'std': 0.071}
    """
    table: dict[str, dict[str, Any]] = {}
    for name, runs in rows.items():
        accuracy = [r['accuracy'] for r in runs]
        f1 = [r['f1'] for r in runs]
        table[name] = {
            'accuracy_mean': statistics.mean(accuracy),
            'accuracy_std': _spread(accuracy),
            'f1_mean': statistics.mean(f1), 'f1_std': _spread(f1),
            'parameters': round(statistics.mean(r['parameters']
                                                for r in runs)),
            'train_seconds': statistics.mean(r['seconds'] for r in runs)}
        for key in ('precision', 'recall'):  # when the runs record them
            if runs and all(key in r for r in runs):
                values = [r[key] for r in runs]
                table[name][f'{key}_mean'] = statistics.mean(values)
                table[name][f'{key}_std'] = _spread(values)
        attacked = [r.get('robust_accuracy') or {} for r in runs]
        shared = _shared_keys(attacked)
        if shared:
            table[name]['robust_accuracy'] = {
                key: {'mean': statistics.mean(f[key] for f in attacked),
                      'std': _spread([f[key] for f in attacked])}
                for key in shared}
    return table


def _shared_keys(found: list[dict[str, Any]]) -> list[str]:
    """The keys every dict of ``found`` has, in the first one's order."""
    return [key for key in found[0] if all(key in f for f in found)] \
        if found else []


def attack_columns(table: dict[str, dict[str, Any]]) -> list[str]:
    """The ``robust_accuracy`` keys every row of ``table`` has, in order
    (``clean`` first)."""
    return _shared_keys([row.get('robust_accuracy') or {}
                         for row in table.values()])


def markdown(table: dict[str, dict[str, Any]], corpus: str | Path,
             seeds: int, folds: int = 0, split_seed: int | None = None
             ) -> str:
    """The comparison table in Markdown.

    Precision and recall columns appear when every row has them, and a
    column per attack (``clean`` is the accuracy on the attacked images)
    when every row was attacked. In cross-validation (``folds``) the
    figures are CV means and a second table gives each fold's accuracy,
    mean over seeds.

    >>> row = {'accuracy_mean': 0.9, 'accuracy_std': 0.0, 'f1_mean': 0.9,
    ...        'f1_std': 0.0, 'parameters': 5, 'train_seconds': 1.0,
    ...        'robust_accuracy': {'clean': {'mean': 0.9, 'std': 0.0},
    ...                            'pgd:0.1': {'mean': 0.5, 'std': 0.1}}}
    >>> print(markdown({'m': row}, 'data', 1).splitlines()[2])
    | model | test accuracy | test F1 (macro) | attacked inputs clean | pgd:0.1 | trainable parameters | training time (s) |
    >>> row = {**row, 'fold_accuracy': [0.8, 1.0]}
    >>> print(markdown({'m': row}, 'data', 3, folds=2, split_seed=0))
    ... # doctest: +NORMALIZE_WHITESPACE
    # Comparison on data (3 seeds, 2-fold cross-validation, folds of split seed 0)
    <BLANKLINE>
    | model | CV accuracy | CV F1 (macro) | attacked inputs clean | pgd:0.1 | trainable parameters | training time (s, a run) |
    |---|---|---|---|---|---|---|
    | m | 0.900 ± 0.000 | 0.900 ± 0.000 | 0.900 ± 0.000 | 0.500 ± 0.100 | 5 | 1.00 |
    <BLANKLINE>
    Test accuracy by fold, mean over seeds; a CV figure is the mean over seeds of each seed's mean over the folds, ± the standard deviation over seeds.
    <BLANKLINE>
    | model | fold 0 | fold 1 |
    |---|---|---|
    | m | 0.800 | 1.000 |
    """
    extra = [key for key in ('precision', 'recall')
             if table and all(f'{key}_mean' in row for row in table.values())]
    attacks = attack_columns(table)
    scope = 'CV' if folds else 'test'
    title = f"# Comparison on {corpus} ({seeds} seeds" + (
        f", {folds}-fold cross-validation, folds of split seed {split_seed})"
        if folds else ')')
    lines = [title, '',
             f'| model | {scope} accuracy | {scope} F1 (macro) | '
             + ''.join(f'{scope} {key} (macro) | ' for key in extra)
             + ''.join(f"{'attacked inputs clean' if key == 'clean' else key}"
                       " | " for key in attacks)
             + 'trainable parameters | training time (s'
             + (', a run) |' if folds else ') |'),
             '|---|---|---|' + '---|' * (len(extra) + len(attacks))
             + '---|---|']
    for name, row in table.items():
        cells = ''.join(f"{row[f'{key}_mean']:.3f} ± {row[f'{key}_std']:.3f}"
                        " | " for key in extra)
        cells += ''.join(f"{found['mean']:.3f} ± {found['std']:.3f} | "
                         for found in (row['robust_accuracy'][key]
                                       for key in attacks))
        lines.append(f"| {name} | {row['accuracy_mean']:.3f} ± "
                     f"{row['accuracy_std']:.3f} | {row['f1_mean']:.3f} ± "
                     f"{row['f1_std']:.3f} | {cells}{row['parameters']} | "
                     f"{row['train_seconds']:.2f} |")
    if folds:
        lines += ['', "Test accuracy by fold, mean over seeds; a CV figure "
                      "is the mean over seeds of each seed's mean over the "
                      "folds, ± the standard deviation over seeds.", '',
                  '| model | ' + ' | '.join(f'fold {k}' for k in range(folds))
                  + ' |', '|---|' + '---|' * folds]
        lines += [f"| {name} | " + ' | '.join(
            f'{a:.3f}' for a in row['fold_accuracy']) + ' |'
            for name, row in table.items()]
    return '\n'.join(lines) + '\n'
