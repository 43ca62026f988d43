"""Train, resume, load, evaluate and predict: once, for every task.

:func:`train` validates everything (settings, data, the run directory, a
run to resume) before it writes anything, then trains with
:func:`qnlp.train.fit` and writes the run through
:class:`qnlp.train.run.RunDirectory`. :func:`load_trained` reads a run
of any task back as a :class:`Trained` model that scores new data
(:meth:`Trained.evaluate`) and labels a user's inputs
(:meth:`Trained.predict`).

Every task writes the same core ``metrics.json``: for each split
``train``/``dev``/``test`` its ``_accuracy``, ``_f1`` (macro), ``_loss``,
``_examples`` and ``_skipped`` (null where a task has no such split), plus
``n_parameters``, ``train_seconds``, ``epochs``, ``epochs_run``,
``processes``, ``task`` and the task's own block ``task_metrics``.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from qnlp.errors import CheckpointError, ConfigError
from qnlp.files import check_readable_data
from qnlp.tasks.base import REGISTRY, Loaded, Settings, Task

#: Settings that describe the data rather than the model: stored in
#: ``run.yaml`` beside the settings.
REPLAY_KEYS = ('task', 'data')


def get_task(name: str) -> Task:
    """The task called ``name`` (``sentences``, ``proteins``, ...)."""
    import qnlp.tasks  # noqa: F401  (imports every task module)
    if name not in REGISTRY:
        raise ConfigError(f"unknown task {name!r}; choose one of "
                          f"{', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]()


def _settings(task: Task, settings: Any) -> Settings:
    if settings is None:
        return task.Settings()
    if isinstance(settings, dict):
        return task.Settings.from_dict(settings)
    if not isinstance(settings, task.Settings):
        raise ConfigError(f"{type(settings).__name__} are not the settings "
                          f"of task {task.name!r} ({task.Settings.__name__})")
    return settings


def check_same_run(out: str | Path, saved: dict[str, Any], task: Task,
                   settings: Any, hint: str) -> None:
    """Refuse a run directory ``out`` (its config ``saved``) made by
    another task or with other settings than ``settings``; ``hint`` says
    what to do instead. A setting the run's config lacks (added to the
    task after the run was made) is its default.

    >>> from qnlp.tasks.proteins import ProteinSettings
    >>> kept = ProteinSettings(qubits=1).to_dict()
    >>> del kept['pooling']   # a run made before --pooling existed
    >>> check_same_run('run', {'task': 'proteins', 'settings': kept},
    ...                get_task('proteins'), ProteinSettings(qubits=1), '')
    >>> check_same_run('run', {'task': 'proteins', 'settings': kept},
    ...                get_task('proteins'), ProteinSettings(qubits=2),
    ...                'give another --out')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: run: the run was made with other settings (differs in qubits); give another --out
    """
    if saved['task'] != task.name:
        raise ConfigError(f"{out}: holds a {saved['task']} run, not "
                          f"{task.name}")
    given = settings.to_dict()
    kept = {**type(settings)().to_dict(), **saved['settings']}
    differ = sorted(k for k in set(kept) | set(given)
                    if kept.get(k) != given.get(k))
    if differ:
        raise ConfigError(f"{out}: the run was made with other settings "
                          f"(differs in {', '.join(differ)}); {hint}")


def train(task: str | Task, data: str | Path, out: str | Path,
          settings: Any = None, *, resume: bool = False,
          overwrite: bool = False, progress: bool = True,
          device: Any = None, world: Any = None,
          tensorboard: str | Path | None = None) -> dict[str, Any]:
    """Train ``task`` on ``data`` into the run directory ``out``; returns
    the metrics (also in ``out/metrics.json``).

    ``resume=True`` continues the run in ``out`` (same task, settings and
    data, or it is refused before anything is written); a directory that
    holds a run is refused unless ``resume`` or ``overwrite``.
    ``tensorboard``: a directory for TensorBoard logs of every epoch
    (:class:`qnlp.train.trainer.TensorBoardLog`).
    """
    task = get_task(task) if isinstance(task, str) else task
    settings = _settings(task, settings)
    check_readable_data(data)   # before torch loads: answer at once
    from qnlp.engine.device import resolve_device
    from qnlp.train.distributed import World
    from qnlp.train.run import RunDirectory
    if tensorboard is not None:
        from qnlp.train.trainer import summary_writer_class
        summary_writer_class()   # missing TensorBoard: say so first
    world = world or World()
    device = resolve_device(device)
    run = RunDirectory(out)
    if world.is_main:
        run.check(resume, overwrite)
    saved = None
    if resume:
        saved = run.read_config()
        check_same_run(out, saved, task, settings, "resume with the same "
                       "settings or start a new run")
    import torch
    torch.manual_seed(settings.seed)
    loaded = task.load(str(data), settings, world=world, progress=progress)
    if getattr(settings, 'patience', 0) and loaded.dev is None:
        raise ConfigError(f"{data}: --patience stops after epochs without a "
                          "better dev score, and this run has no dev part "
                          "(give one, e.g. --dev-fraction, or drop "
                          "--patience)")
    if saved is not None and saved.get('data_sha256') != loaded.fingerprint:
        raise ConfigError(f"{data}: is not the data the run in {out} was "
                          "trained on (its SHA-256 differs)")
    model = task.build(settings, loaded, device)
    config = {'task': task.name, 'data': str(data),
              'data_sha256': loaded.fingerprint, 'labels': loaded.labels,
              'settings': settings.to_dict(), **loaded.state}
    replay = {'task': task.name, 'data': str(data), **settings.to_dict()}
    with run.claim() if world.is_main else contextlib.nullcontext():
        if world.is_main and not resume:
            run.start(config, replay, clear=overwrite)
        return _train_claimed(task, settings, loaded, model, run, resume,
                              progress, world, tensorboard)


def _train_claimed(task: Task, settings: Any, loaded: Loaded, model: Any,
                   run: Any, resume: bool, progress: bool, world: Any,
                   tensorboard: str | Path | None = None) -> dict[str, Any]:
    """Training and the final files, with the run directory held (rank
    0; other ranks train their shard and write nothing)."""
    from qnlp.train import fit
    from qnlp.train.run import CHECKPOINT_FILE, HISTORY_FILE
    start = time.perf_counter()
    hooks = task.hooks(settings, loaded)
    # A model without trainable parameters (a kernel SVC) was fitted by
    # Task.build, which may record its ``n_parameters`` and
    # ``fit_seconds``; there is no training loop to run.
    fitted = not any(p.requires_grad for p in model.parameters())
    history = [] if fitted else fit(
        model, loaded.train, loaded.dev, settings.train_config(),
        progress=progress,
        checkpoint=run.file(CHECKPOINT_FILE), resume=resume,
        history_file=run.file(HISTORY_FILE),
        identity={'data_sha256': loaded.fingerprint,
                  'settings': settings.to_dict()},
        world=world, hooks=hooks, eval_chunk=task.eval_chunk,
        tensorboard=tensorboard)
    seconds = time.perf_counter() - start + getattr(model, 'fit_seconds',
                                                    0.0)
    metrics: dict[str, Any] = {
        'task': task.name, 'train_seconds': seconds,
        'epochs': settings.epochs, 'epochs_run': len(history),
        'n_parameters': getattr(model, 'n_parameters', None) or sum(
            p.numel() for p in model.parameters() if p.requires_grad),
        'processes': world.size}
    for name in ('train', 'dev', 'test'):
        split = getattr(loaded, name)
        scores = split_scores(model, split, loaded.labels, world,
                              hooks.loss, task.eval_chunk)
        for key in ('accuracy', 'f1', 'loss', 'examples'):
            metrics[f'{name}_{key}'] = scores[key]
        metrics[f'{name}_skipped'] = loaded.skipped.get(name, 0)
    metrics['task_metrics'] = {**loaded.metrics,
                               **task.extra_metrics(model, world)}
    if world.is_main:
        run.finish(dict(model.state_dict()), metrics, history)
    return metrics


def split_scores(model: Any, split: Any, labels: Sequence[str], world: Any,
                 loss: Any, chunk: int | None = None
                 ) -> dict[str, float | None]:
    """Accuracy, macro F1 and loss of ``model`` on a whole split (every
    rank's shard gathered); all None for a missing split."""
    from qnlp.train.metrics import classification_report
    from qnlp.train.trainer import outputs
    if split is None:
        return {'accuracy': None, 'f1': None, 'loss': None, 'examples': 0}
    found = outputs(model, split.circuits, chunk)
    truth = split.labels.tolist()
    predicted = found.argmax(1).tolist() if len(found) else []
    value = loss(found, split.labels.to(found.device)).item() * len(truth) \
        if truth else 0.0
    positions = list(split.positions if split.positions is not None
                     else range(len(truth)))
    gathered = world.all_gather((positions, truth, predicted, value))
    rows = sorted(row for p, t, g, _ in gathered for row in zip(p, t, g))
    total = sum(part[3] for part in gathered)
    if not rows:
        raise ConfigError("cannot score an empty split")
    truth, predicted = [r[1] for r in rows], [r[2] for r in rows]
    report = classification_report(truth, predicted, list(labels))
    return {'accuracy': report['accuracy'], 'f1': report['f1'],
            'loss': total / len(rows), 'examples': len(rows)}


@dataclass
class Trained:
    """A finished run read back: its task, settings, config and model."""
    task: Task
    settings: Any
    config: dict[str, Any]
    model: Any
    path: Path

    @property
    def labels(self) -> list[str]:
        return list(self.config['labels'])

    def predict_proba(self, items: Sequence[Any]) -> Any:
        """Class probabilities ``[len(items), n_classes]`` of a user's
        inputs (sentences, sequences, reviews, image files)."""
        from qnlp.train.trainer import outputs
        inputs = self.task.inputs(items, self.settings, self.config,
                                  self.model)
        found = outputs(self.model, inputs, self.task.eval_chunk)
        return self.task.probabilities(found)

    def predict(self, items: Sequence[Any]) -> list[dict[str, Any]]:
        """One row per item: its label and class probabilities."""
        rows = []
        for item, probs in zip(items, self.predict_proba(items).tolist()):
            best = max(range(len(probs)), key=probs.__getitem__)
            rows.append({'input': str(item), 'label': self.labels[best],
                         'probabilities': dict(zip(self.labels, probs))})
        return rows

    def labelled(self, data: str | Path) -> tuple[list[Any], list[int]]:
        """The examples of ``data``, read as the run read its training
        data (the test split of a directory with its own splits, all of
        a single file), and their class indices; ConfigError for none or
        for labels unseen in training."""
        items, names = self.task.examples(str(data), self.settings,
                                          self.config)
        if not items:
            raise ConfigError(f"{data}: no examples to evaluate")
        unknown = sorted(set(names) - set(self.labels))
        if unknown:
            raise ConfigError(f"{data}: labels {unknown} were not in "
                              f"training (labels {self.labels})")
        return items, [self.labels.index(name) for name in names]

    def evaluate(self, data: str | Path, warn: Any = None
                 ) -> dict[str, Any]:
        """Metrics on new ``data`` (:meth:`labelled`). ``warn`` hears a line when the data look like
        another corpus than the run's."""
        from qnlp.train.metrics import classification_report
        warn = warn or (lambda line: print(f"qnlp: warning: {line}",
                                           file=sys.stderr))
        items, truth = self.labelled(data)
        for line in self.task.novelty(str(data), items, self.config):
            warn(line)
        probabilities = self.predict_proba(items)
        return classification_report(truth,
                                      probabilities.argmax(1).tolist(),
                                      self.labels)


def load_trained(run_dir: str | Path, device: Any = None) -> Trained:
    """Read the finished run in ``run_dir`` (any task) back, on
    ``device`` (default the CPU)."""
    from qnlp.engine.device import resolve_device
    from qnlp.train.run import RunDirectory
    run = RunDirectory(run_dir)
    config = run.read_config()
    task = get_task(config['task'])
    try:
        settings = task.Settings.from_dict(config['settings'])
    except ConfigError as error:   # e.g. its spaCy pipeline has gone
        raise ConfigError(f"{run_dir}: {error}") from None
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{run_dir}: config.json holds no settings "
                              f"of a {task.name} run ({error})") from None
    tensors = run.read_weights()
    try:
        model = task.restore(settings, config, tensors,
                             resolve_device(device))
    except (KeyError, TypeError, RuntimeError, ConfigError) as error:
        raise CheckpointError(f"{run_dir}: config.json and weights do not "
                              f"make a {task.name} model ({error})") \
            from None
    model.eval()
    return Trained(task, settings, config, model, Path(run_dir))
