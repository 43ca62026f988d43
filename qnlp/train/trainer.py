"""Training loop: optimisers, schedules, early stopping, resumable runs.

:func:`fit` trains any module that maps a
:class:`~qnlp.engine.PreparedBatch` to class probabilities (it needs a
``prepare`` method and a flat ``weights`` parameter for the gradient-free
optimisers), keeping the weights with the best dev accuracy (ties: lowest
dev loss). With ``TrainConfig(average_weights=d)`` an exponential
moving average of the weights (``a <- d a + (1 - d) w`` after every
optimiser step, starting from the initial weights) takes the raw
weights' place for dev selection and in the kept model
(:class:`WeightAverage`).

With ``checkpoint=PATH`` the whole training state (weights, optimiser,
schedule, shuffling generator, history, best weights) is written there
atomically after every epoch; ``resume=True`` continues from it, and the
run ends with exactly the weights and metrics of an uninterrupted run.

Gradients are rounded to multiples of ``GRADIENT_GRID`` (2^-40) before
each step. Summing the same per-example gradients in another order (one
process, or N ranks each summing a shard and then all-reducing) changes
the last bits; Adam divides by the root of the squared gradients, so
such differences grow from step to step until runs with different
process counts part ways. On the grid the steps are bit-identical
(unless a component falls within rounding of a grid point), and
components below 2^-41, pure rounding noise, are zero.

>>> import torch
>>> from qnlp.models import DisCoCatClassifier, SentencePipeline
>>> pipeline = SentencePipeline()
>>> texts = ['woman cooks meal', 'man debugs program'] * 2
>>> pipeline.fit_vocabulary(texts)
>>> circuits = pipeline.circuits(texts)
>>> model = DisCoCatClassifier.from_circuits(circuits, seed=0)
>>> data = Split(circuits, torch.tensor([1, 0, 1, 0]))
>>> history = fit(model, data, data, TrainConfig(epochs=30, lr=0.1),
...               progress=False)
>>> history[-1]['train_loss'] < history[0]['train_loss']
True
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from tqdm.auto import tqdm

from qnlp.choices import SCIPY_OPTIMISERS, SELECTIONS, STEP_SCHEDULES
from qnlp.engine import PreparedBatch
from qnlp.engine.device import module_device
from qnlp.engine.padded import then
from qnlp.errors import CheckpointError, ConfigError, TrainingError
from qnlp.files import atomic_write_text
from qnlp.train.config import TrainConfig
from qnlp.train.distributed import World
from qnlp.train.optim import make_optimizer, make_scheduler, scipy_epoch
from qnlp.train.state import load_state, save_state


def _identity(batch: Any, generator: torch.Generator) -> Any:
    return batch


@dataclass
class Hooks:
    """What a task changes in :func:`fit`'s loop.

    ``loss(outputs, labels)``: the training loss (default :func:`nll` of
    class probabilities; image models give logits and
    :func:`cross_entropy`); ``augment(batch, generator)``: a random
    transformation of each training minibatch (the generator is the
    run's, so a resumed run draws the same); ``select``: which weights
    are kept (:data:`qnlp.choices.SELECTIONS`): ``'dev-accuracy'`` those
    with the best dev accuracy (ties: lowest dev loss), ``'dev-loss'``
    those with the lowest dev loss (ties: best dev accuracy),
    ``'last'`` those of the last epoch (for data without a dev split).
    ``adversary(model, batch, labels, generator)``: replaces each
    (augmented) training minibatch by adversarial examples of it
    (adversarial training, :class:`qnlp.robust.attacks.Adversary`); None:
    off. ``penalty(model)``: a term added to every minibatch's loss
    (FedProx's proximal term, :mod:`qnlp.federated`; single-process
    training only).
    """
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = None  # type: ignore[assignment]
    augment: Callable[[Any, torch.Generator], Any] = _identity
    select: str = 'dev-accuracy'
    adversary: Callable[[torch.nn.Module, Any, torch.Tensor,
                         torch.Generator], Any] | None = None
    penalty: Callable[[torch.nn.Module], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if self.loss is None:
            self.loss = nll
        if self.select not in SELECTIONS:
            raise ConfigError(f"select must be one of "
                              f"{', '.join(SELECTIONS)}, got "
                              f"{self.select!r}")


@dataclass
class Split:
    """Circuits and integer labels of one data split.

    In data-parallel training a rank holds only its shard: ``positions``
    gives the global index of each example it holds and ``total`` the
    size of the whole split (see :mod:`qnlp.train.distributed`).
    """
    circuits: Sequence[Any]
    labels: torch.Tensor
    positions: Sequence[int] | None = None
    total: int | None = None

    @property
    def size(self) -> int:
        """Number of examples in the whole split (over every rank)."""
        return len(self.circuits) if self.total is None else self.total

    def local_index(self) -> dict[int, int]:
        """Global example index -> position in this rank's shard."""
        positions = self.positions if self.positions is not None \
            else range(len(self.circuits))
        return {g: k for k, g in enumerate(positions)}


#: Row of :func:`fit`'s history -> TensorBoard scalar tag.
TENSORBOARD_SCALARS = {'train_loss': 'loss/train', 'dev_loss': 'loss/dev',
                       'dev_accuracy': 'accuracy/dev', 'lr': 'lr'}


def summary_writer_class() -> Any:
    """torch's ``SummaryWriter``, or a ConfigError saying how to install
    TensorBoard (which it needs)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard needs TensorBoard: pip install "
                          "tensorboard (or pip install 'qnlp[tensorboard]')"
                          ) from None
    return SummaryWriter


class TensorBoardLog:
    """Writes the scalars of every epoch row of :func:`fit` (losses, dev
    accuracy, learning rate: :data:`TENSORBOARD_SCALARS`) to TensorBoard
    event files in ``directory``, at the row's epoch, flushed each epoch
    (a resumed run goes on from the epoch it resumes at).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> log = TensorBoardLog(folder)
    >>> log({'epoch': 1, 'train_loss': 0.7, 'lr': 0.1}); log.close()
    >>> len(list(folder.glob('events.out.tfevents.*')))
    1
    """

    def __init__(self, directory: str | Path) -> None:
        self.writer = summary_writer_class()(str(directory))

    def __call__(self, row: dict[str, float]) -> None:
        for key, tag in TENSORBOARD_SCALARS.items():
            if key in row:
                self.writer.add_scalar(tag, row[key], row['epoch'])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def nll(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``labels``: ``-log p[label]``, the
    probabilities clamped below at ``1e-12`` (where the gradient is 0),
    as one autograd node (:class:`_NLL`; the same numbers, bit for bit,
    as ``-log(p.gather(1, labels).clamp_min(1e-12)).mean()`` and its
    gradient, in a few kernels instead of six nodes). Probabilities
    straight from the padded engine's node are not given a node of
    their own: the loss joins that node
    (:func:`qnlp.engine.padded.then`; the same numbers).

    >>> p = torch.tensor([[0.9, 0.1], [0.2, 0.8]], requires_grad=True)
    >>> loss = nll(p, torch.tensor([0, 1]))
    >>> loss.backward()
    >>> round(loss.item(), 4), p.grad
    (0.1643, tensor([[-0.5556,  0.0000],
            [ 0.0000, -0.6250]]))
    """
    labels = labels.view(-1, 1)
    joined = then(probabilities, _NLL.value, _NLL.gradient, labels)
    return _NLL.apply(probabilities, labels) if joined is None else joined


class _NLL(torch.autograd.Function):
    """:func:`nll` with a hand-written backward (itself differentiable)."""

    @staticmethod
    def value(probabilities: torch.Tensor, labels: torch.Tensor
              ) -> tuple[torch.Tensor, tuple]:
        """The loss, and what :meth:`gradient` needs."""
        picked = probabilities.gather(1, labels)
        clamped = picked.clamp_min(1e-12)
        return clamped.log().mean().neg_(), (probabilities, labels, picked,
                                             clamped)

    @staticmethod
    def gradient(grad: torch.Tensor, probabilities: torch.Tensor,
                 labels: torch.Tensor, picked: torch.Tensor,
                 clamped: torch.Tensor) -> torch.Tensor:
        """The probabilities' gradient, as autograd through neg, mean,
        log and clamp_min computes it (``grad / -n`` is ``-grad / n``
        exactly, in one kernel instead of two)."""
        values = torch.where(picked >= 1e-12,
                             grad.div(-labels.shape[0]).div(clamped), 0.0)
        return torch.zeros_like(probabilities).scatter_(1, labels, values)

    @staticmethod
    def forward(ctx: Any, probabilities: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        loss, state = _NLL.value(probabilities, labels)
        ctx.save_for_backward(*state)
        return loss

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        probabilities, labels, picked, clamped = ctx.saved_tensors
        if torch.is_grad_enabled():   # double backward: from the input
            _, (_, _, picked, clamped) = _NLL.value(probabilities, labels)
        return _NLL.gradient(grad, probabilities, labels, picked,
                             clamped), None


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor
                  ) -> torch.Tensor:
    """Mean cross-entropy of ``labels`` given unnormalised ``logits``."""
    return torch.nn.functional.cross_entropy(logits, labels)


def outputs(model: Any, items: Any, chunk: int | None = None) -> Any:
    """Model outputs of ``items`` (prepared in chunks of ``chunk``), in
    eval mode, without gradients."""
    model.eval()
    size = len(items)
    step = chunk or max(size, 1)
    with torch.no_grad():
        parts = [model(model.prepare(items[first:first + step]))
                 for first in range(0, size, step)]
    return torch.cat(parts) if parts else torch.zeros(0)


def evaluate(model: torch.nn.Module, batch: PreparedBatch,
             labels: torch.Tensor, world: World = World(),
             loss: Callable[[torch.Tensor, torch.Tensor],
                            torch.Tensor] = nll,
             chunk: int | None = None) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on a prepared split (in eval
    mode: batch norm uses its running statistics); with ``chunk``,
    ``batch`` is the split's unprepared items, prepared and run that
    many at a time (:func:`outputs`).

    With a distributed ``world`` each rank passes its shard and every
    rank gets the figures of the whole split.
    """
    totals = torch.zeros(3, dtype=torch.float64)
    if len(labels):
        model.eval()
        with torch.no_grad():
            found = model(batch) if chunk is None \
                else outputs(model, batch, chunk)
            labels = labels.to(found.device)
            totals[0] = loss(found, labels).item() * len(labels)
            totals[1] = (found.argmax(1) == labels).sum().item()
            totals[2] = len(labels)
    loss_sum, correct, count = world.all_reduce(totals).tolist()
    if count == 0:
        raise ConfigError("cannot evaluate on an empty split")
    return loss_sum / count, correct / count


def selection_score(row: dict[str, Any], select: str, step: int
                    ) -> list[float]:
    """What picks the kept weights among epochs (or federated rounds):
    dev accuracy, ties broken by lower dev loss; lower dev loss, ties
    broken by dev accuracy; or (``'last'``) the latest step. Larger is
    better; a strict ``>`` keeps the first of equals.

    >>> row = {'dev_accuracy': 0.9, 'dev_loss': 0.3}
    >>> selection_score(row, 'dev-accuracy', 4)
    [0.9, -0.3]
    >>> selection_score(row, 'dev-loss', 4)
    [-0.3, 0.9]
    >>> selection_score({}, 'last', 4)
    [4.0]
    """
    if select == 'dev-accuracy':
        return [row['dev_accuracy'], -row['dev_loss']]
    if select == 'dev-loss':
        return [-row['dev_loss'], row['dev_accuracy']]
    return [float(step)]


def _clone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


class WeightAverage:
    """An exponential moving average of a module's parameters and
    floating-point buffers (batch norm's running statistics, so they
    match the averaged weights; as timm's ``ModelEmaV2``): after each
    optimiser step, ``update()`` moves every average ``1 - decay`` of
    the way to its tensor; ``in_place()`` puts the averages in the
    tensors' place for the duration of a ``with`` block.

    >>> layer = torch.nn.Linear(1, 1, bias=False)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(0.0)
    >>> average = WeightAverage(layer, decay=0.5)
    >>> with torch.no_grad():
    ...     _ = layer.weight.fill_(1.0)
    >>> average.update()
    >>> with average.in_place():
    ...     layer.weight.item()
    0.5
    >>> layer.weight.item()
    1.0
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.tensors = [t.detach() for t in (*model.parameters(),
                                             *model.buffers())
                        if t.is_floating_point() or t.is_complex()]
        self.averages = [t.clone() for t in self.tensors]

    def update(self) -> None:
        """Move the averages towards the current values."""
        with torch.no_grad():
            torch._foreach_lerp_(self.averages, self.tensors,
                                 1.0 - self.decay)

    def load(self, saved: Sequence[torch.Tensor]) -> None:
        """Take the averages of a checkpoint (ValueError if they do not
        fit the model)."""
        if len(saved) != len(self.averages) or any(
                a.shape != b.shape for a, b in zip(self.averages, saved)):
            raise ValueError("the saved weight averages do not fit the "
                             "model")
        with torch.no_grad():
            torch._foreach_copy_(self.averages, list(saved))

    @contextlib.contextmanager
    def in_place(self):
        """The tensors hold the averages inside the block, their own
        values again after it."""
        with torch.no_grad():
            raw = [t.clone() for t in self.tensors]
            torch._foreach_copy_(self.tensors, self.averages)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.tensors, raw)


class _Run:
    """Everything that changes during training, saved as one state."""

    def __init__(self, model: torch.nn.Module, config: TrainConfig,
                 hooks: Hooks, steps_per_epoch: int) -> None:
        self.model, self.config, self.hooks = model, config, hooks
        self.generator = torch.Generator().manual_seed(config.seed)
        self.scipy = SCIPY_OPTIMISERS.get(config.optimizer)
        # A model may say which of its parameters weight decay spares.
        groups = getattr(model, 'parameter_groups', model.parameters)()
        self.optimizer = None if self.scipy else make_optimizer(
            config.optimizer, groups, config.lr, config.seed,
            config.weight_decay)
        self.scheduler = None if self.optimizer is None else \
            make_scheduler(config.schedule, self.optimizer, config.epochs,
                           steps_per_epoch)
        self.per_step = config.schedule in STEP_SCHEDULES
        self.average = WeightAverage(model, config.average_weights) \
            if config.average_weights else None
        self.epoch = 0
        self.history: list[dict[str, float]] = []
        self.best_score: list[float] | None = None
        self.best_state = _clone(model.state_dict())
        self.stale = 0
        self.stopped = False

    def state(self, identity: dict[str, Any]) -> dict[str, Any]:
        return {
            'identity': identity, 'epoch': self.epoch,
            'model': self.model.state_dict(),
            'optimizer': self.optimizer.state_dict() if self.optimizer
            else {},
            'scheduler': self.scheduler.state_dict() if self.scheduler
            else {},
            'generator': self.generator.get_state(),
            'history': self.history, 'best_score': self.best_score,
            'best_state': self.best_state, 'stale': self.stale,
            'stopped': self.stopped,
            **({'average': self.average.averages} if self.average else {}),
        }

    def restore(self, state: dict[str, Any], identity: dict[str, Any],
                path: Path) -> None:
        saved = state.get('identity')
        if saved != identity:
            keys = sorted(k for k in set(identity) | set(saved or {})
                          if (saved or {}).get(k) != identity.get(k))
            raise CheckpointError(f"{path}: made with other settings "
                                  f"(differs in {', '.join(keys)}); start "
                                  "a new run directory or use the same "
                                  "settings")
        try:
            self.model.load_state_dict(state['model'])
            if self.optimizer is not None:
                self.optimizer.load_state_dict(state['optimizer'])
                self.scheduler.load_state_dict(state['scheduler'])
            self.generator.set_state(state['generator'])
            if self.average is not None:
                self.average.load(state['average'])
        except (KeyError, RuntimeError, ValueError) as error:
            raise CheckpointError(f"{path}: does not fit this model "
                                  f"({error})") from None
        self.epoch = int(state['epoch'])
        self.history = list(state['history'])
        self.best_score = state['best_score']
        self.best_state = state['best_state']
        self.stale = int(state['stale'])
        self.stopped = bool(state['stopped'])


def fit(model: torch.nn.Module, train: Split, dev: Split | None,
        config: TrainConfig, progress: bool = True,
        checkpoint: str | Path | None = None, resume: bool = False,
        identity: dict[str, Any] | None = None,
        on_epoch: Callable[[dict[str, float]], None] | None = None,
        history_file: str | Path | None = None,
        world: World = World(), hooks: Hooks | None = None,
        eval_chunk: int | None = None,
        tensorboard: str | Path | None = None) -> list[dict[str, float]]:
    """Train ``model`` in place; returns one metrics row per epoch.

    ``hooks`` (:class:`Hooks`) give the task's loss, augmentation and
    selection rule; ``dev=None`` (no dev split) keeps the last epoch.
    ``eval_chunk``: evaluate the dev split that many examples at a time
    (default all at once, prepared once). Minibatches are prepared one
    by one, unless the model has ``selectable_batches = True`` (its
    ``prepare`` gives a batch with ``select(index)``): then the training
    set is prepared once and each minibatch selected from it.
    A loss or weights that become NaN or infinite stop training with a
    :class:`~qnlp.errors.TrainingError` (the last checkpoint is kept).

    ``identity`` (settings and corpus hash) is stored in the checkpoint
    and must match on resume. ``on_epoch`` is called with each new row.
    ``history_file`` is rewritten (atomically, one JSON line per epoch)
    from the checkpointed history after every epoch, so after a kill and
    ``resume`` it is complete again. With a distributed ``world``,
    ``train`` and ``dev`` are this rank's shards; rank 0 alone writes the
    checkpoint and history file and reads the checkpoint on resume.
    ``tensorboard``: a directory for TensorBoard event files of every
    epoch's scalars (:class:`TensorBoardLog`; rank 0 writes them).
    """
    # Labels live where the model computes (prepare() follows the model).
    device = module_device(model)
    hooks = hooks or Hooks(select='dev-accuracy' if dev is not None
                           else 'last')
    if dev is None and hooks.select != 'last':
        raise ConfigError(f"selecting on {hooks.select} needs a dev split")
    train = replace(train, labels=train.labels.to(device))
    if dev is not None:
        dev = replace(dev, labels=dev.labels.to(device))
    batch_size = config.batch_size or train.size
    run = _Run(model, config, hooks, -(-train.size // batch_size))
    identity = {**(identity or {}), 'train': asdict(config)}
    if resume:
        run.restore(_read_checkpoint(checkpoint, world), identity,
                    Path(str(checkpoint)))
    if not world.is_main:
        checkpoint = history_file = on_epoch = tensorboard = None
        progress = False
    log = None if tensorboard is None else TensorBoardLog(tensorboard)
    # the whole training set is prepared only when it is used at once,
    # or when the model says minibatches can be selected from it
    full = model.prepare(train.circuits) \
        if batch_size >= train.size or run.scipy or \
        getattr(model, 'selectable_batches', False) else None
    dev_batch = None if dev is None else dev.circuits if eval_chunk \
        else model.prepare(dev.circuits)
    with _long_lived_objects_frozen(), contextlib.ExitStack() as logs:
        if log is not None:
            logs.callback(log.close)
        _epochs(run, train, dev, full, dev_batch, batch_size, world,
                checkpoint, identity, history_file,
                _each(on_epoch, log), progress, eval_chunk)
    model.load_state_dict(run.best_state)
    return run.history


def _each(*calls: Callable[[dict[str, float]], None] | None
          ) -> Callable[[dict[str, float]], None] | None:
    """One callback calling every given one in turn (None if none)."""
    given = [call for call in calls if call is not None]
    if not given:
        return None

    def call_each(row: dict[str, float]) -> None:
        for call in given:
            call(row)
    return call_each


@contextlib.contextmanager
def _long_lived_objects_frozen():
    """Keep the garbage collector off the objects that exist now.

    Parsed sentences, circuits and compiled plans can be millions of
    Python objects; every full collection during training would walk
    them all (about 10 s a time on the whole SST-2 training file, which
    stalls every rank of a distributed run). They live until training
    ends, so they are moved out of the collector's sight for its
    duration (no collection first: that would cost one such walk) and
    handed back afterwards.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _epochs(run: _Run, train: Split, dev: Split | None, full: PreparedBatch,
            dev_batch: PreparedBatch | None, batch_size: int, world: World,
            checkpoint: str | Path | None, identity: dict[str, Any],
            history_file: str | Path | None,
            on_epoch: Callable[[dict[str, float]], None] | None,
            progress: bool, eval_chunk: int | None = None) -> None:
    """The epochs of :func:`fit` still to run, with their bookkeeping."""
    model, config = run.model, run.config
    bar = tqdm(total=config.epochs, initial=run.epoch, desc='train',
               unit='epoch', disable=not progress, leave=False)
    start = time.perf_counter() - (run.history[-1]['seconds']
                                   if run.history else 0.0)
    while run.epoch < config.epochs and not run.stopped:
        lr = (run.optimizer.param_groups[0]['lr'] if run.optimizer
              else config.lr)
        total = _train_epoch(run, train, full, batch_size, world)
        _check_finite(model, total, run.epoch + 1)
        run.epoch += 1
        row = {'epoch': run.epoch, 'train_loss': total}
        # the weights that are evaluated and kept: the averages, if any
        with run.average.in_place() if run.average \
                else contextlib.nullcontext():
            if dev is not None:
                row['dev_loss'], row['dev_accuracy'] = evaluate(
                    model, dev_batch, dev.labels, world, run.hooks.loss,
                    eval_chunk)
            score = selection_score(row, run.hooks.select, run.epoch)
            if run.best_score is None or score > run.best_score:
                run.best_score, run.best_state, run.stale = (
                    score, _clone(model.state_dict()), 0)
            else:
                run.stale += 1
                run.stopped = bool(config.patience and
                                   run.stale >= config.patience)
        row['lr'] = lr
        row['seconds'] = time.perf_counter() - start
        if run.scheduler is not None and not run.per_step:
            run.scheduler.step()
        run.history.append(row)
        if checkpoint is not None:
            save_state(checkpoint, run.state(identity))
        if history_file is not None:
            atomic_write_text(history_file, ''.join(
                json.dumps(r) + '\n' for r in run.history))
        if on_epoch is not None:
            on_epoch(row)
        bar.update(1)
        bar.set_postfix(loss=f'{total:.3f}', **(
            {'dev_acc': f"{row['dev_accuracy']:.3f}"} if dev else {}))
    bar.close()


def _check_finite(model: torch.nn.Module, loss: float, epoch: int) -> None:
    """Stop with a clear message when training has diverged."""
    if not math.isfinite(loss):
        raise TrainingError(f"training diverged: the training loss is "
                            f"{loss} in epoch {epoch}; lower the learning "
                            "rate (--lr)")
    for name, parameter in model.named_parameters():
        if not torch.isfinite(parameter).all():
            raise TrainingError(f"training diverged: weights {name!r} hold "
                                f"NaN or infinite values after epoch "
                                f"{epoch}; lower the learning rate (--lr)")


def _read_checkpoint(checkpoint: str | Path | None, world: World) -> Any:
    """The saved training state, read by rank 0 and sent to every rank."""
    state, error = None, None
    if world.is_main:
        try:
            if checkpoint is None or not Path(checkpoint).exists():
                raise CheckpointError(f"{checkpoint}: nothing to resume")
            state = load_state(checkpoint)
        except CheckpointError as failure:
            error = str(failure)
    state, error = world.broadcast((state, error))
    if error is not None:
        raise CheckpointError(error)
    return state


def _train_epoch(run: _Run, train: Split, full: PreparedBatch,
                 batch_size: int, world: World) -> float:
    """One pass over the training data; returns the mean training loss.

    Each minibatch is drawn from the whole split with the shared
    generator; this rank evaluates the examples of it that it holds, and
    the gradients (of the loss summed over the batch, divided by the
    batch size) are summed over ranks before the step.
    """
    model, config = run.model, run.config
    size = train.size
    model.train()

    def batch_loss(batch: PreparedBatch, labels: torch.Tensor,
                   count: int) -> torch.Tensor:
        if not len(labels):  # nothing of this batch on this rank
            return sum(p.sum() for p in model.parameters()) * 0.0
        value = run.hooks.loss(model(batch), labels) * (len(labels) / count)
        if run.hooks.penalty is not None:
            value = value + run.hooks.penalty(model)
        return value

    if run.scipy is not None:
        if not isinstance(getattr(model, 'weights', None),
                          torch.nn.Parameter):
            raise ConfigError(f"{config.optimizer} needs a model with one "
                              "flat weight vector; use adam, sgd or spsa")

        def loss() -> torch.Tensor:
            return _summed(batch_loss(full, train.labels, size), world)
        scipy_epoch(run.scipy, model.weights, loss, config.evaluations,
                    config.lr)
        with torch.no_grad():
            return loss().item()
    order = torch.randperm(size, generator=run.generator)
    local = train.local_index()
    total = torch.zeros((), dtype=torch.float64)
    for first in range(0, size, batch_size):
        index = order[first:first + batch_size]
        if batch_size >= size:
            batch, labels = full, train.labels
        else:
            mine = [local[g] for g in index.tolist() if g in local]
            batch = full.select(mine) if full is not None else \
                model.prepare(_take(train.circuits, mine))
            labels = train.labels[mine]
        batch = run.hooks.augment(batch, run.generator)
        if run.hooks.adversary is not None and len(labels):
            batch = run.hooks.adversary(model, batch, labels, run.generator)
        count = len(index)

        run.optimizer.zero_grad()
        if config.optimizer == 'spsa':
            loss = run.optimizer.step(lambda: _summed(
                batch_loss(batch, labels, count), world))
        else:
            loss = batch_loss(batch, labels, count)
            loss.backward()
            world.sum_gradients(model.parameters())
            _round_to_grid(model.parameters())
            run.optimizer.step()
        if run.average is not None:
            run.average.update()
        if run.per_step:
            run.scheduler.step()
        total += float(loss.detach()) * count
    if config.optimizer != 'spsa':  # spsa's losses are already global
        world.all_reduce(total)
    return total.item() / size


def _take(items: Sequence[Any], index: list[int]) -> Any:
    """``items[index]``: a tensor is indexed at once, a list item by
    item."""
    if isinstance(items, torch.Tensor):
        return items[index]
    return [items[i] for i in index]


GRADIENT_GRID = 2.0 ** -40


def _round_to_grid(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Round gradients to multiples of :data:`GRADIENT_GRID` (in place).

    >>> p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    >>> p.grad = torch.tensor([0.1 + 1e-17, 3e-13], dtype=torch.float64)
    >>> _round_to_grid([p]); p.grad.tolist() == [round(0.1 / GRADIENT_GRID)
    ...     * GRADIENT_GRID, 0.0]
    True
    """
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.copy_(torch.round(p.grad / GRADIENT_GRID)
                             * GRADIENT_GRID)


def _summed(loss: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's share of a loss, summed over ranks (no gradient)."""
    return world.all_reduce(loss.detach().clone())
