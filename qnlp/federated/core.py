"""Federated training of any task on Flower: the client, the server, the
engines.

The client (:func:`client_app`) and the server (:func:`serve`, run by a
Flower ``ServerApp``) are the same code whether the clients are Ray
actors of Flower's simulation engine, real ``flower-supernode``
processes on other machines, or (engine ``local``) called in turn in
this process by :class:`LocalGrid`, a Flower ``Grid`` without a network
(for tests and small machines: Ray costs seconds per round on two
cores). The rounds are those of Flower's own strategies
(``FedAvg``/``FedProx``/``FedAvgM`` ``start``), with two changes that
make a run reproducible and resumable (:func:`_ordered`): the clients of
a round are sampled with a generator seeded by the run's seed and the
round, in the order of their partition ids (Flower's node ids are
random), and replies are averaged in partition order (float sums depend
on order).

Each client trains the task's model on its partition of the training
split (:func:`qnlp.federated.partition.partition`) for the task's
``epochs`` with :func:`qnlp.train.fit` (a fresh optimiser every round,
the learning rate as ``client_schedule`` says; with FedProx the proximal
term ``mu/2 |w - w_global|^2`` is added to the loss), and replies with
its weights and example count. The server keeps the global model: it
evaluates it on the dev and test splits after every round (test
reported, never used to select), checkpoints it into the run directory,
and at the end writes the run like ``qnlp train`` does (``qnlp
evaluate``/``predict`` read it), with the same selection rule: the
global model of the round with the best dev accuracy (ties:
lowest dev loss; without a dev split, or for a task that selects by
epoch, the last round). Killed, it resumes from the
last finished round and ends with the weights of an uninterrupted run.

Every client and the server read the same DATA, so the model's
parameters (for DisCoCat: the symbol table, one entry per word sense)
are fixed up front from the whole training split, the union of all
clients' vocabularies; a client sends every parameter, and a symbol it
never saw comes back unchanged (so FedAvg shrinks that symbol's update by
the share of examples of the clients that lack it).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from qnlp.errors import CheckpointError, ConfigError, TrainingError
from qnlp.federated.partition import parse_partition, partition

STRATEGIES = ('fedavg', 'fedprox', 'fedavgm')
#: How a client's learning rate runs: ``task`` the task's own schedule,
#: restarted in every round; ``constant`` the task's ``lr`` throughout;
#: ``cosine`` constant within a round, cosine-decayed over the rounds.
CLIENT_SCHEDULES = ('task', 'constant', 'cosine')
ENGINES = ('local', 'ray')
#: Environment variable naming ``PARTITION:ROUND`` pairs (comma-separated)
#: at which a client raises, to try failure handling.
FAIL_VARIABLE = 'QNLP_FEDERATED_FAIL'


def require_flower() -> None:
    """A ConfigError naming the extra when Flower is missing."""
    try:
        import flwr  # noqa: F401
    except ImportError:
        raise ConfigError("federated training needs Flower: pip install "
                          "'qnlp[federated]'") from None


@dataclass(frozen=True)
class FederatedSettings:
    """How a federated run is organised (the task's own settings say how
    each client trains: ``epochs`` are local epochs per round).

    ``server_lr`` and ``server_momentum`` are FedAvgM's (Flower's
    ``server_learning_rate`` and ``server_momentum``: the global model
    moves by ``server_lr`` times the momentum of the averaged updates).

    >>> FederatedSettings(clients=5, rounds=3).clients_per_round
    5
    >>> FederatedSettings(clients=2, rounds=1, clients_per_round=3)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --clients-per-round 3: more than the 2 clients
    >>> FederatedSettings(rounds=4, client_schedule='cosine').client_lr(
    ...     0.1, 3)
    0.05
    """
    clients: int = 5
    rounds: int = 10
    strategy: str = 'fedavg'
    proximal_mu: float = 0.01
    partition: str = 'iid'
    clients_per_round: int = 0
    client_schedule: str = 'task'
    server_lr: float = 1.0
    server_momentum: float = 0.9

    def __post_init__(self) -> None:
        if self.clients < 1 or self.rounds < 1:
            raise ConfigError(f"--clients and --rounds must be positive, got "
                              f"{self.clients} and {self.rounds}")
        for option, value, choices in (
                ('strategy', self.strategy, STRATEGIES),
                ('client-schedule', self.client_schedule,
                 CLIENT_SCHEDULES)):
            if value not in choices:
                raise ConfigError(f"--{option} must be one of "
                                  f"{', '.join(choices)}, got {value!r}")
        if not self.proximal_mu >= 0:
            raise ConfigError(f"--proximal-mu must be at least 0, got "
                              f"{self.proximal_mu}")
        if not self.server_lr > 0:
            raise ConfigError(f"--server-lr must be positive, got "
                              f"{self.server_lr}")
        if not 0 <= self.server_momentum < 1:
            raise ConfigError(f"--server-momentum must be in [0, 1), got "
                              f"{self.server_momentum}")
        parse_partition(self.partition)
        if self.clients_per_round > self.clients:
            raise ConfigError(f"--clients-per-round {self.clients_per_round}"
                              f": more than the {self.clients} clients")
        if self.clients_per_round <= 0:
            object.__setattr__(self, 'clients_per_round', self.clients)

    def client_lr(self, lr: float, round_: int) -> float:
        """A client's learning rate in round ``round_`` (1-based) when the
        task's is ``lr``: ``cosine`` decays it from ``lr`` in round 1
        towards 0 after the last round."""
        if self.client_schedule != 'cosine':
            return lr
        return lr * (1 + math.cos(math.pi * (round_ - 1) / self.rounds)) / 2


@dataclass(frozen=True)
class Job:
    """Everything a client needs to train a round: task, data, settings
    (sent as JSON in every round's ConfigRecord)."""
    task: str
    data: str
    settings: dict[str, Any]
    federated: FederatedSettings

    #: Settings that select among one run's epochs; a client keeps the
    #: last of its local epochs each round, so they are refused here.
    WITHIN_ONE_RUN = ('patience', 'average_weights')

    def __post_init__(self) -> None:
        given = [name for name in self.WITHIN_ONE_RUN
                 if self.settings.get(name)]
        if given:
            raise ConfigError(f"{', '.join(given)}: a federated client "
                              "trains its local epochs each round and "
                              "sends the last weights; early stopping and "
                              "weight averaging are not taken by "
                              "qnlp federate")

    def to_json(self) -> str:
        return json.dumps({'task': self.task, 'data': self.data,
                           'settings': self.settings,
                           'federated': asdict(self.federated)})

    @classmethod
    def from_json(cls, text: str) -> "Job":
        value = json.loads(text)
        return cls(value['task'], value['data'], value['settings'],
                   FederatedSettings(**value['federated']))


# --- data, loaded once per process -------------------------------------

_LOADED: dict[str, Any] = {}


def _loaded(task_name: str, data: str, settings_values: dict[str, Any]
            ) -> tuple[Any, Any, Any]:
    """``(task, settings, loaded)``, read once per process (a Ray actor
    serves many rounds)."""
    import torch

    from qnlp.tasks import get_task
    key = json.dumps([task_name, data, settings_values], sort_keys=True)
    if key not in _LOADED:
        task = get_task(task_name)
        settings = task.Settings.from_dict(settings_values)
        torch.manual_seed(settings.seed)
        loaded = task.load(data, settings, progress=False)
        _LOADED.clear()   # one job at a time
        _LOADED[key] = (task, settings, loaded)
    return _LOADED[key]


def client_split(loaded: Any, federated: FederatedSettings, seed: int,
                 client: int, clients: int) -> Any:
    """Client ``client``'s share of the training split."""
    from qnlp.train.trainer import Split, _take
    labels = loaded.train.labels
    mine = partition(labels.tolist(), clients, federated.partition,
                     seed)[client]
    return Split(_take(loaded.train.circuits, mine), labels[mine])


# --- the client ----------------------------------------------------------

def _proximal(mu: float, model: Any) -> Callable[[Any], Any]:
    """FedProx's ``mu/2 |w - w_global|^2`` around ``model``'s weights
    now."""
    anchor = [p.detach().clone() for p in model.parameters()]

    def penalty(current: Any) -> Any:
        return mu / 2 * sum(((p - a) ** 2).sum() for p, a in
                            zip(current.parameters(), anchor))
    return penalty


def _failing(client: int, round_: int) -> bool:
    pairs = os.environ.get(FAIL_VARIABLE, '')
    return f"{client}:{round_}" in pairs.split(',')


def train_client(message: Any, context: Any) -> Any:
    """Flower ``train`` handler: local epochs on this client's partition
    from the global weights; replies with weights, example count and
    training loss."""
    from flwr.app import Message, MetricRecord, RecordDict

    from qnlp.train.trainer import fit
    config = message.content['config']
    job = Job.from_json(str(config['job']))
    client = int(context.node_config['partition-id'])
    clients = int(context.node_config['num-partitions'])
    round_ = int(config['server-round']) + int(config['round-offset'])
    if _failing(client, round_):
        raise RuntimeError(f"client {client} fails in round {round_} "
                           f"({FAIL_VARIABLE})")
    data = str(context.node_config.get('data', job.data))
    task, settings, loaded = _loaded(job.task, data, job.settings)
    local = client_split(loaded, job.federated, settings.seed, client,
                         clients)
    model = _model(task, settings, loaded)
    _load(model, message.content['arrays'])
    hooks = replace(task.hooks(settings, loaded), select='last')
    mu = float(config.get('proximal-mu', 0.0))
    if mu > 0:
        hooks = replace(hooks, penalty=_proximal(mu, model))
    train_config = replace(settings.train_config(),
                           seed=settings.seed + 1009 * round_ + client)
    if job.federated.client_schedule != 'task':
        train_config = replace(
            train_config, schedule='constant',
            lr=job.federated.client_lr(train_config.lr, round_))
    history = fit(model, local, None, train_config, progress=False,
                  hooks=hooks, eval_chunk=task.eval_chunk)
    metrics = MetricRecord({'num-examples': len(local.labels),
                            'train_loss': float(history[-1]['train_loss'])})
    return Message(RecordDict({'arrays': _arrays(model),
                               'metrics': metrics}), reply_to=message)


def _arrays(model: Any) -> Any:
    """The weights a client and the server exchange: the floating-point
    entries of ``model``'s state (parameters, batch-norm statistics);
    integer buffers (a data fingerprint, step counters) stay local."""
    from flwr.app import ArrayRecord
    return ArrayRecord({name: value for name, value
                        in model.state_dict().items()
                        if value.is_floating_point() or value.is_complex()})


def _load(model: Any, arrays: Any) -> None:
    """Put the exchanged weights ``arrays`` into ``model``."""
    model.load_state_dict({**model.state_dict(),
                           **arrays.to_torch_state_dict()})


_MODELS: dict[int, Any] = {}


def _model(task: Any, settings: Any, loaded: Any) -> Any:
    """The task's model for ``loaded`` (built once per process; its
    weights are replaced each round)."""
    from qnlp.engine.device import resolve_device
    if id(loaded) not in _MODELS:
        _MODELS.clear()
        _MODELS[id(loaded)] = build(task, settings, loaded,
                                    resolve_device(None))[0]
    return _MODELS[id(loaded)]


def build(task: Any, settings: Any, loaded: Any, device: Any
          ) -> tuple[Any, dict[str, Any]]:
    """The task's untrained model and the run state it leaves (a task's
    ``build`` may take from and add to ``loaded.state``, so each build
    works on its own copy: the server and a client share one load in
    one process)."""
    own = replace(loaded, state=dict(loaded.state))
    return task.build(settings, own, device), own.state


def query_client(message: Any, context: Any) -> Any:
    """Flower ``query`` handler: this client's partition id."""
    from flwr.app import Message, MetricRecord, RecordDict
    return Message(RecordDict({'partition': MetricRecord(
        {'partition-id': int(context.node_config['partition-id'])})}),
        reply_to=message)


def client_app() -> Any:
    """The Flower ``ClientApp`` of every federated qnlp run."""
    require_flower()
    from flwr.clientapp import ClientApp
    app = ClientApp()
    app.train()(train_client)
    app.query()(query_client)
    return app


# --- the server ----------------------------------------------------------

class _PartitionOrder:
    """A Grid whose nodes are listed in the order of their partitions."""

    def __init__(self, grid: Any, partition_of: dict[int, int]) -> None:
        self._grid, self._partition_of = grid, partition_of

    def get_node_ids(self) -> list[int]:
        return sorted(self._grid.get_node_ids(),
                      key=lambda node: self._partition_of[node])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)


def _ordered(base: type) -> type:
    """``base`` (a Flower strategy) sampling the clients of each round
    with a generator seeded by the seed and the round, over nodes in
    partition order, and aggregating replies in partition order. The
    entries named in ``averaged`` (a model's running statistics) take
    the plain FedAvg average even when ``base`` steps the rest with
    server momentum (FedAvgM's extrapolation can make a batch-norm
    running variance negative)."""
    from flwr.serverapp.strategy import FedAvg

    class Ordered(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, seed: int,
                     partition_of: dict[int, int],
                     averaged: Iterable[str] = (), **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.seed, self.partition_of = seed, partition_of
            self.averaged = tuple(averaged)

        def configure_train(self, server_round: int, arrays: Any,
                            config: Any, grid: Any) -> Iterable[Any]:
            round_ = server_round + int(config['round-offset'])
            saved = random.getstate()
            random.seed(f"{self.seed}:{round_}")
            try:
                return super().configure_train(
                    server_round, arrays, config,
                    _PartitionOrder(grid, self.partition_of))
            finally:
                random.setstate(saved)

        def aggregate_train(self, server_round: int,
                            replies: Iterable[Any]) -> Any:
            replies = sorted(replies, key=lambda reply: self.partition_of[
                reply.metadata.src_node_id])
            if replies and all(reply.has_error() for reply in replies):
                raise TrainingError(f"round {server_round}: every client "
                                    f"failed; the first said: "
                                    f"{replies[0].error.reason}")
            arrays, metrics = super().aggregate_train(server_round, replies)
            if arrays is not None and self.averaged:
                plain, _ = FedAvg.aggregate_train(self, server_round, replies)
                for name in self.averaged:   # in place: FedAvgM keeps it
                    arrays[name] = plain[name]
            self.train_loss = None if metrics is None \
                else float(metrics['train_loss'])
            return arrays, metrics
    Ordered.__name__ = base.__name__
    return Ordered


def make_strategy(federated: FederatedSettings, seed: int,
                  partition_of: dict[int, int],
                  averaged: Iterable[str] = ()) -> Any:
    """Flower's FedAvg, FedProx or FedAvgM for ``federated`` (central
    evaluation only; :func:`_ordered` sampling and aggregation;
    ``averaged``: the exchanged entries that are not parameters)."""
    from flwr.serverapp.strategy import FedAvg, FedAvgM, FedProx
    sampled = federated.clients_per_round
    common = dict(fraction_train=sampled / federated.clients,
                  min_train_nodes=sampled,
                  min_available_nodes=federated.clients,
                  fraction_evaluate=0.0, seed=seed,
                  partition_of=partition_of)
    if federated.strategy == 'fedprox':
        return _ordered(FedProx)(proximal_mu=federated.proximal_mu, **common)
    if federated.strategy == 'fedavgm':
        return _ordered(FedAvgM)(
            server_learning_rate=federated.server_lr,
            server_momentum=federated.server_momentum, averaged=averaged,
            **common)
    return _ordered(FedAvg)(**common)


def server_state(strategy: Any) -> list[Any]:
    """What the strategy carries from round to round besides the global
    model (FedAvgM's momentum), as tensors for the checkpoint."""
    import torch
    momentum = getattr(strategy, 'momentum_vector', None)
    return [] if momentum is None else [torch.from_numpy(m.copy())
                                        for m in momentum]


def restore_server_state(strategy: Any, saved: list[Any]) -> None:
    """Put :func:`server_state` back into a new ``strategy``."""
    if saved:
        strategy.momentum_vector = [m.numpy() for m in saved]


def _partitions(grid: Any, clients: int, timeout: float = 600.0
                ) -> dict[int, int]:
    """Node id -> partition id of the connected clients (waits until
    ``clients`` nodes are there)."""
    from flwr.app import ConfigRecord, Message, RecordDict
    end = time.time() + timeout
    while len(nodes := list(grid.get_node_ids())) < clients:
        if time.time() > end:
            raise ConfigError(f"only {len(nodes)} of {clients} clients "
                              f"connected in {timeout:.0f} s")
        time.sleep(0.5)
    replies = grid.send_and_receive(
        [Message(RecordDict({'config': ConfigRecord({})}),
                 dst_node_id=node, message_type='query') for node in nodes],
        timeout=timeout)
    found = {reply.metadata.src_node_id:
             int(reply.content['partition']['partition-id'])
             for reply in replies if not reply.has_error()}
    if sorted(found.values()) != list(range(clients)):
        raise ConfigError(f"the clients hold partitions "
                          f"{sorted(found.values())}, not 0..{clients - 1}")
    return found


def _identity(job: Job, settings: Any, loaded: Any) -> dict[str, Any]:
    """What a checkpoint must match to be resumed (the settings with
    their defaults filled in, however the job gave them)."""
    return {'task': job.task, 'data_sha256': loaded.fingerprint,
            'settings': settings.to_dict(),
            'federated': asdict(job.federated)}


def _completed(identity: Any, settings: Any) -> Any:
    """A checkpoint's saved identity with the settings and federated
    options added since it was written filled in with their defaults, so
    that a run of an earlier version resumes; unchanged if it does not
    read as settings (then it simply does not match)."""
    try:
        return {**identity,
                'settings': type(settings).from_dict(
                    identity['settings']).to_dict(),
                'federated': asdict(FederatedSettings(
                    **identity['federated']))}
    except (ConfigError, KeyError, TypeError):
        return identity


def serve(grid: Any, job: Job, out: str | Path, resume: bool = False,
          overwrite: bool = False,
          on_round: Callable[[dict[str, Any]], None] | None = None
          ) -> dict[str, Any]:
    """The server of a federated run: Flower's strategy over ``grid``,
    the global model checkpointed into ``out`` after every round; returns
    the metrics (also in ``out/metrics.json``)."""
    import torch
    from flwr.app import ConfigRecord, MetricRecord

    from qnlp.files import atomic_write_text
    from qnlp.tasks.runner import check_same_run
    from qnlp.train.distributed import World
    from qnlp.train.run import CHECKPOINT_FILE, HISTORY_FILE, RunDirectory
    from qnlp.train.state import load_state, save_state
    from qnlp.train.trainer import selection_score
    task, settings, loaded = _loaded(job.task, job.data, job.settings)
    run = RunDirectory(out)
    run.check(resume, overwrite)
    identity = _identity(job, settings, loaded)
    offset, history = 0, []
    torch.manual_seed(settings.seed)
    model, state = build(task, settings, loaded, torch.device('cpu'))
    if resume:
        check_same_run(out, run.read_config(), task, settings,
                       "resume with the same settings")
        state = load_state(run.file(CHECKPOINT_FILE))
        if _completed(state.get('identity'), settings) != identity:
            raise CheckpointError(f"{run.file(CHECKPOINT_FILE)}: made by "
                                  "another federated run (other data or "
                                  "options)")
        offset, history = int(state['round']), list(state['history'])
        model.load_state_dict(state['model'])
        best, saved_server = state['best'], state.get('server', [])
    else:
        saved_server = []
        best = {'score': None, 'round': 0, 'model': None}
    hooks = task.hooks(settings, loaded)
    start = time.perf_counter() - (history[-1]['seconds'] if history
                                   else 0.0)

    def evaluate(server_round: int, arrays: Any) -> Any:
        if server_round == 0:   # the initial model: nothing to record
            return None
        round_ = offset + server_round
        _load(model, arrays)
        # 'epoch' and 'train_loss' (the clients' mean) as in qnlp train's
        # history, so curve.png shows the rounds
        row: dict[str, Any] = {'round': round_, 'epoch': round_,
                               'train_loss': strategy.train_loss}
        for name in ('dev', 'test'):
            split = getattr(loaded, name)
            if split is not None:
                scores = _scores(model, split, loaded, hooks, task)
                row[f'{name}_accuracy'] = scores['accuracy']
                row[f'{name}_loss'] = scores['loss']
        row['seconds'] = time.perf_counter() - start
        history.append(row)
        score = selection_score(row, hooks.select, round_)
        if best['score'] is None or score > best['score']:
            best.update(score=score, round=round_, model={
                k: v.detach().clone() for k, v in model.state_dict().items()})
        save_state(run.file(CHECKPOINT_FILE), {
            'identity': identity, 'round': round_,
            'model': model.state_dict(), 'history': history, 'best': best,
            'server': server_state(strategy)})
        atomic_write_text(run.file(HISTORY_FILE), ''.join(
            json.dumps(r) + '\n' for r in history))
        if on_round is not None:
            on_round(row)
        return MetricRecord({k: v for k, v in row.items()
                             if isinstance(v, (int, float))})

    config = {'task': job.task, 'data': job.data,
              'data_sha256': loaded.fingerprint, 'labels': loaded.labels,
              'settings': settings.to_dict(),
              'federated': asdict(job.federated), **state}
    replay = {'task': job.task, 'data': job.data, **settings.to_dict()}
    with run.claim():
        if not resume:
            run.start(config, replay, clear=overwrite)
        partition_of = _partitions(grid, job.federated.clients)
        parameters = {name for name, _ in model.named_parameters()}
        strategy = make_strategy(
            job.federated, settings.seed, partition_of,
            [name for name in _arrays(model) if name not in parameters])
        restore_server_state(strategy, saved_server)
        remaining = job.federated.rounds - offset
        if remaining > 0:
            result = strategy.start(
                grid, _arrays(model), num_rounds=remaining,
                train_config=ConfigRecord({'job': job.to_json(),
                                           'round-offset': offset}),
                evaluate_fn=evaluate)
            _load(model, result.arrays)
        if best['model'] is not None:
            model.load_state_dict(best['model'])
        metrics = _final_metrics(task, settings, model, loaded, hooks, job,
                                 history, World())
        metrics['selected_round'] = best['round'] or len(history)
        run.finish(dict(model.state_dict()), metrics, history)
    return metrics


def _scores(model: Any, split: Any, loaded: Any, hooks: Any, task: Any
            ) -> dict[str, Any]:
    from qnlp.tasks.runner import split_scores
    from qnlp.train.distributed import World
    return split_scores(model, split, loaded.labels, World(), hooks.loss,
                        task.eval_chunk)


def _final_metrics(task: Any, settings: Any, model: Any, loaded: Any,
                   hooks: Any, job: Job, history: list[dict[str, Any]],
                   world: Any) -> dict[str, Any]:
    """The core ``metrics.json`` of :mod:`qnlp.tasks.runner`, with the
    federated options and the seconds per round."""
    metrics: dict[str, Any] = {
        'task': job.task,
        'train_seconds': history[-1]['seconds'] if history else 0.0,
        'epochs': settings.epochs, 'epochs_run': len(history),
        'n_parameters': sum(p.numel() for p in model.parameters()
                            if p.requires_grad),
        'processes': 1, 'federated': asdict(job.federated),
        'rounds_run': len(history),
        'seconds_per_round': (history[-1]['seconds'] / len(history)
                              if history else None)}
    for name in ('train', 'dev', 'test'):
        split = getattr(loaded, name)
        scores = _scores(model, split, loaded, hooks, task) \
            if split is not None else {'accuracy': None, 'f1': None,
                                       'loss': None, 'examples': 0}
        for key in ('accuracy', 'f1', 'loss', 'examples'):
            metrics[f'{name}_{key}'] = scores[key]
        metrics[f'{name}_skipped'] = loaded.skipped.get(name, 0)
    metrics['task_metrics'] = {**loaded.metrics,
                               **task.extra_metrics(model, world)}
    return metrics


# --- engines -------------------------------------------------------------

class LocalGrid:
    """A Flower ``Grid`` that delivers each message by calling the
    ``ClientApp`` in this process, one node after another (node ``k+1``
    holds partition ``k``); a client that raises gets an error reply, as
    in Flower's simulation engine."""

    def __init__(self, app: Any, clients: int, run_id: int = 1) -> None:
        from flwr.app import Context, RecordDict
        self.app, self.run_id = app, run_id
        self.contexts = {
            k + 1: Context(run_id=run_id, node_id=k + 1,
                           node_config={'partition-id': k,
                                        'num-partitions': clients},
                           state=RecordDict(), run_config={})
            for k in range(clients)}

    def get_node_ids(self) -> list[int]:
        return list(self.contexts)

    def send_and_receive(self, messages: Iterable[Any], *,
                         timeout: float | None = None) -> list[Any]:
        from flwr.app import Error, Message
        from flwr.common.constant import ErrorCode
        from flwr.supercore.task_identity import TaskIdentity
        replies = []
        for message in messages:
            message.metadata.__dict__['_message_id'] = str(uuid.uuid4())
            node = message.metadata.dst_node_id
            server = TaskIdentity.node_id
            TaskIdentity.node_id = node
            try:
                replies.append(self.app(message, self.contexts[node]))
            except Exception as error:   # the client dies, the run goes on
                replies.append(Message(Error(
                    ErrorCode.CLIENT_APP_RAISED_EXCEPTION, repr(error)),
                    reply_to=message))
            finally:
                TaskIdentity.node_id = server
        return replies


def federate(job: Job, out: str | Path, *, engine: str = 'local',
             resume: bool = False, overwrite: bool = False,
             on_round: Callable[[dict[str, Any]], None] | None = None,
             cpus_per_client: float = 1.0) -> dict[str, Any]:
    """Run ``job`` on this machine: ``engine='ray'`` in Flower's
    simulation engine (each client a Ray actor with ``cpus_per_client``
    cores), ``'local'`` in this process (:class:`LocalGrid`). Returns
    the metrics."""
    require_flower()
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, "
                          f"got {engine!r}")
    from qnlp.train.run import RunDirectory
    RunDirectory(out).check(resume, overwrite)   # before any engine starts
    if engine == 'local':
        from flwr.common.constant import SUPERLINK_NODE_ID
        from flwr.supercore.task_identity import TaskIdentity
        TaskIdentity.task_id = TaskIdentity.run_id = 1
        TaskIdentity.node_id = SUPERLINK_NODE_ID
        return serve(LocalGrid(client_app(), job.federated.clients), job,
                     out, resume, overwrite, on_round)
    from flwr.serverapp import ServerApp
    from flwr.simulation import run_simulation
    outcome: dict[str, Any] = {}
    server = ServerApp()

    @server.main()
    def main(grid: Any, context: Any) -> None:
        try:
            outcome['metrics'] = serve(grid, job, out, resume, overwrite,
                                       on_round)
        except BaseException as error:   # re-raised in the caller
            outcome['error'] = error
    run_simulation(server, client_app(), num_supernodes=job.federated.clients,
                   backend_config={
                       'client_resources': {'num_cpus': cpus_per_client,
                                            'num_gpus': 0.0},
                       'init_args': {'include_dashboard': False}})
    if 'error' in outcome:
        raise outcome['error']
    if 'metrics' not in outcome:
        raise ConfigError("the Flower simulation ended without a result "
                          "(see its log above)")
    return outcome['metrics']
