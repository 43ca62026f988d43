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
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from qnlp.errors import ConfigError
from qnlp.files import atomic_write_json, atomic_write_text
from qnlp.tasks.runner import check_same_run, get_task, train
from qnlp.train.plots import plot_comparison, plot_robustness
from qnlp.train.run import RunDirectory
from qnlp.train.sweep import run_tasks


def _quantum(task_name: str, data: str | Path, out: Path, settings: Any
             ) -> dict[str, Any]:
    """The quantum run in ``out``: reused when finished, resumed when
    interrupted, else trained."""
    run = RunDirectory(out)
    if run.finished():   # finished in an earlier call: with these settings?
        check_same_run(out, run.read_config(), get_task(task_name),
                       settings, "compare with the same settings or give "
                       "another --out")
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


def run_one(task_name: str, data: str | Path, out: str | Path, name: str,
            seed: int, settings: Any) -> dict[str, Any]:
    """One row of the table: the quantum model or baseline ``name``
    trained with ``seed``.

    A pure function of its arguments (quantum runs are written to, and
    reused from, ``out/runs/NAME-seedS``), so it can run in any process.

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
    if name == task.model_name(settings):
        run = Path(out) / 'runs' / f'{name}-seed{seed}'
        return row_of(_quantum(task_name, data, run, settings))
    return task.fit_baseline(name, str(data), settings)


def compare(data: str | Path, out: str | Path,
            baselines: Sequence[str] | None = None, seeds: int = 5,
            settings: Any = None, report: Callable[[str], None] = print, *,
            task: str | None = None, jobs: int | None = 1,
            executor: str = 'local', threads: int | None = 1,
            progress: bool = False) -> dict[str, Any]:
    """Train the task's quantum model and its ``baselines`` for
    ``seeds`` seeds on the same splits; write and return the table.

    ``task`` defaults to the one whose settings ``settings`` are
    (sentences without settings). Every (model, seed) pair is one task
    of :func:`run_one`; with ``jobs > 1`` or ``executor='ray'`` they run
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
    if seeds < 1:
        raise ConfigError(f"seeds must be positive, got {seeds}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")
    kind.check_data(str(data), settings)   # bad data fails here, once
    out.mkdir(parents=True, exist_ok=True)
    names = [kind.model_name(settings), *baselines]
    pairs = [(name, seed) for seed in range(seeds) for name in names]

    def done(index: int, row: Any, error: BaseException | None) -> None:
        name, seed = pairs[index]
        report(f"seed {seed} {name}: " + (
            f"accuracy {row['accuracy']:.3f}" if error is None
            else f"failed: {' '.join(str(error).split())}"))

    found = run_tasks(run_one, [(task, str(data), str(out), name, seed,
                                 settings) for name, seed in pairs],
                      jobs=jobs, executor=executor, threads=threads,
                      names=[f"{name} seed {seed}" for name, seed in pairs],
                      on_done=done, progress=progress,
                      hint=f"finished quantum runs are kept in {out / 'runs'} "
                           "and skipped when the comparison is run again")
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for (name, _), row in zip(pairs, found):
        rows[name].append(row)
    table = summarise(rows)
    result = {'task': task, 'data': str(data), 'seeds': seeds,
              'settings': {k: v for k, v in settings.to_dict().items()
                           if k != 'seed'},
              'models': table, 'runs': rows}
    atomic_write_json(out / 'comparison.json', result)
    atomic_write_text(out / 'comparison.md', markdown(table, data, seeds))
    plot_comparison(names, [table[n]['accuracy_mean'] for n in names],
                    [table[n]['accuracy_std'] for n in names],
                    out / 'comparison.png')
    attacks = attack_columns(table)
    if attacks:
        plot_robustness({name: {key: table[name]['robust_accuracy'][key]
                                for key in attacks} for name in names},
                        out / 'robustness.png')
    return result


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
             seeds: int) -> str:
    """The comparison table in Markdown.

    Precision and recall columns appear when every row has them, and a
    column per attack (``clean`` is the accuracy on the attacked images)
    when every row was attacked.

    >>> row = {'accuracy_mean': 0.9, 'accuracy_std': 0.0, 'f1_mean': 0.9,
    ...        'f1_std': 0.0, 'parameters': 5, 'train_seconds': 1.0,
    ...        'robust_accuracy': {'clean': {'mean': 0.9, 'std': 0.0},
    ...                            'pgd:0.1': {'mean': 0.5, 'std': 0.1}}}
    >>> print(markdown({'m': row}, 'data', 1).splitlines()[2])
    | model | test accuracy | test F1 (macro) | attacked inputs clean | pgd:0.1 | trainable parameters | training time (s) |
    """
    extra = [key for key in ('precision', 'recall')
             if table and all(f'{key}_mean' in row for row in table.values())]
    attacks = attack_columns(table)
    lines = [f"# Comparison on {corpus} ({seeds} seeds)", '',
             '| model | test accuracy | test F1 (macro) | '
             + ''.join(f'test {key} (macro) | ' for key in extra)
             + ''.join(f"{'attacked inputs clean' if key == 'clean' else key}"
                       " | " for key in attacks)
             + 'trainable parameters | training time (s) |',
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
    return '\n'.join(lines) + '\n'
