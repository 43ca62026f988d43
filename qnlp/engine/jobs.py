"""Batches of circuits on a pytket backend, with a job store that survives
a kill: nothing finished is ever run (or paid for) twice.

:func:`run_jobs` takes measured pytket circuits and a :class:`JobStore`
(one JSON file, rewritten atomically after every step). Each circuit is
keyed by its content and the number of shots, so the store is reused by
any later run that needs the same circuits:

1. circuits whose counts the store holds are *reused*;
2. circuits of batches submitted before but never retrieved are
   *recovered* through their stored pytket ``ResultHandle``\\s when the
   backend's handles outlive a process (remote devices); otherwise (a
   local simulator, whose jobs died with the process) they are
   *resubmitted*, as the same batch with the same seed;
3. the others are *submitted* in new batches of ``batch_size``.

Before anything is submitted the cost (circuits x shots) is estimated;
above ``confirm_above`` shots ``confirm`` must agree, and without a
``confirm`` callback the run stops with a :class:`~qnlp.errors.BackendError`.
Every batch is first written as ``submitting``, then ``submitted`` with
its handles, then ``finished`` with the counts of every circuit.

>>> import tempfile, pathlib
>>> from pytket import Circuit
>>> from qnlp.engine.backends import get_backend
>>> bell = Circuit(2, 2).H(0).CX(0, 1).measure_all()
>>> store = JobStore(pathlib.Path(tempfile.mkdtemp()) / 'jobs.json')
>>> outcome = run_jobs(get_backend('aer'), [bell], 100, store, seed=1)
>>> sorted(outcome.counts[0]), outcome.report.circuits
([(0, 0), (1, 1)], {'reused': 0, 'recovered': 0, 'resubmitted': 0, 'submitted': 1})
>>> again = run_jobs(get_backend('aer'), [bell], 100, JobStore(store.path))
>>> again.report.circuits['reused'], again.counts == outcome.counts
(1, True)
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from qnlp.errors import BackendError, CheckpointError
from qnlp.files import atomic_write_json

#: ``format`` field of a job store file.
STORE_FORMAT = 'qnlp-jobs'
STORE_VERSION = 1
#: Shots above which remote backends ask before submitting, by default.
DEFAULT_CONFIRM_ABOVE = 100_000

Counts = dict[tuple[int, ...], int]


def circuit_key(circuit: Any, shots: int) -> str:
    """Content key of a measured circuit run with ``shots``.

    >>> from pytket import Circuit
    >>> a = Circuit(1, 1).H(0).measure_all()
    >>> circuit_key(a, 10) == circuit_key(a.copy(), 10) != circuit_key(a, 20)
    True
    """
    text = json.dumps(circuit.to_dict(), sort_keys=True) + f'|shots={shots}'
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def default_confirm_above(backend: Any) -> int | None:
    """:data:`DEFAULT_CONFIRM_ABOVE` for remote backends, ``None`` (never
    ask) for local simulators."""
    from qnlp.engine.backends import is_remote
    return DEFAULT_CONFIRM_ABOVE if is_remote(backend) else None


@dataclass
class CostEstimate:
    """What a run will submit: ``circuits`` x ``shots`` in ``batches``."""
    circuits: int
    shots: int
    batches: int
    reused: int = 0
    recovered: int = 0

    @property
    def total_shots(self) -> int:
        """Shots to be paid for."""
        return self.circuits * self.shots

    def __str__(self) -> str:
        """
        >>> str(CostEstimate(30, 1024, 6, reused=10))
        '30 circuits x 1024 shots = 30,720 shots in 6 batches (10 circuits reused from earlier jobs, 0 recovered)'
        """
        return (f"{self.circuits} circuits x {self.shots} shots = "
                f"{self.total_shots:,} shots in {self.batches} batches "
                f"({self.reused} circuits reused from earlier jobs, "
                f"{self.recovered} recovered)")


@dataclass
class JobReport:
    """How every circuit (and batch) of a run was obtained."""
    circuits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ('reused', 'recovered', 'resubmitted', 'submitted'), 0))
    batches: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ('reused', 'recovered', 'resubmitted', 'submitted'), 0))
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {'circuits': dict(self.circuits),
                'batches': dict(self.batches), 'warnings': self.warnings}


@dataclass
class JobOutcome:
    """Counts of every circuit (in input order), the report and the cost
    estimate that was confirmed."""
    counts: list[Counts]
    report: JobReport
    estimate: CostEstimate


def _bits_text(bits: Sequence[int]) -> str:
    return ''.join(str(int(b)) for b in bits)


class JobStore:
    """The jobs of one backend, in one JSON file (atomic rewrites).

    ``batches``: list of ``{id, keys, seed, shots, status, handles,
    attempts}``; ``results``: circuit key -> ``{counts: {bits: n}, batch}``.
    A file that is not a job store is a :class:`~qnlp.errors.CheckpointError`
    naming it.
    """

    def __init__(self, path: str | Path, backend: str | None = None) -> None:
        self.path = Path(path)
        self.backend = backend
        self.batches: list[dict[str, Any]] = []
        self.results: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding='utf-8'))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(
                f"{self.path}: not a readable job store ({error}); move it "
                "away to start over (its jobs would be paid again)") from None
        try:
            if data.get('format') != STORE_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}")
            if data.get('version') != STORE_VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            batches = list(data['batches'])
            results = dict(data['results'])
            for batch in batches:
                for name in ('id', 'keys', 'seed', 'shots', 'status',
                             'handles'):
                    batch[name]   # noqa: B018 - presence check
                if batch['status'] not in ('submitting', 'submitted',
                                           'finished'):
                    raise ValueError(f"batch status {batch['status']!r}")
            for result in results.values():
                dict(result['counts'])
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"{self.path}: not a qnlp job store ({error}); move it away "
                "to start over (its jobs would be paid again)") from None
        stored = data.get('backend')
        if self.backend and stored and stored != self.backend:
            raise CheckpointError(f"{self.path}: holds jobs of backend "
                                  f"{stored}, not {self.backend}")
        self.batches, self.results = batches, results

    def save(self) -> None:
        """Write the store atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, {
            'format': STORE_FORMAT, 'version': STORE_VERSION,
            'backend': self.backend, 'batches': self.batches,
            'results': self.results})

    def counts(self, key: str) -> Counts:
        """The stored counts of a circuit key, as bit tuples."""
        return {tuple(int(b) for b in bits): int(n) for bits, n in
                self.results[key]['counts'].items()}

    def new_batch(self, keys: list[str], seed: int, shots: int
                  ) -> dict[str, Any]:
        batch = {'id': len(self.batches), 'keys': keys, 'seed': seed,
                 'shots': shots, 'status': 'submitting', 'handles': [],
                 'attempts': 0}
        self.batches.append(batch)
        return batch


def _retrieve(backend: Any, batch: dict[str, Any], handles: Sequence[Any],
              circuits: Mapping[str, Any], store: JobStore) -> None:
    """Counts of every handle of ``batch`` into the store; saves."""
    from pytket.backends import ResultHandle
    for key, handle in zip(batch['keys'], handles):
        if isinstance(handle, str):
            handle = ResultHandle.from_str(handle)
        result = backend.get_result(handle)
        counts = result.get_counts(cbits=circuits[key].bits)
        store.results[key] = {
            'counts': {_bits_text(bits): int(n) for bits, n in
                       sorted(counts.items())},
            'batch': batch['id']}
    batch['status'] = 'finished'
    batch['finished_at'] = time.time()
    store.save()


def _submit(backend: Any, batch: dict[str, Any], by_key: Mapping[str, Any],
            shots: int, optimisation_level: int, store: JobStore
            ) -> list[Any]:
    """Compile and submit one batch; its handles are stored at once."""
    batch['status'], batch['handles'] = 'submitting', []
    batch['attempts'] = batch.get('attempts', 0) + 1
    store.save()
    try:
        compiled = backend.get_compiled_circuits(
            [by_key[k] for k in batch['keys']],
            optimisation_level=optimisation_level)
        handles = backend.process_circuits(compiled, n_shots=shots,
                                           seed=batch['seed'])
    except Exception as error:
        raise BackendError(f"batch {batch['id']} was not accepted by "
                           f"{type(backend).__name__} "
                           f"({type(error).__name__}: {error})") from None
    batch['handles'] = [str(h) for h in handles]
    batch['status'] = 'submitted'
    batch['submitted_at'] = time.time()
    store.save()
    return handles


def _collect(backend: Any, batch: dict[str, Any], handles: Sequence[Any],
             by_key: Mapping[str, Any], store: JobStore) -> None:
    try:
        _retrieve(backend, batch, handles, by_key, store)
    except Exception as error:
        raise BackendError(
            f"batch {batch['id']}: results could not be retrieved "
            f"({type(error).__name__}: {error}); rerun to pick the "
            f"jobs up from {store.path}") from None


def run_jobs(backend: Any, circuits: Sequence[Any], shots: int,
             store: JobStore | str | Path, batch_size: int = 20,
             seed: int = 0, optimisation_level: int = 1,
             confirm_above: int | None = None,
             confirm: Callable[[CostEstimate], bool] | None = None,
             progress: bool = False,
             on_batch: Callable[[dict[str, Any]], None] | None = None,
             in_flight: int | None = None,
             resubmit_lost: bool = False,
             on_estimate: Callable[[CostEstimate], None] | None = None
             ) -> JobOutcome:
    """Run measured pytket ``circuits`` with ``shots`` each through the
    job store (see the module docstring) and return their counts.

    ``seed`` seeds batch ``b`` with ``seed + b`` (simulators); a
    resubmitted batch keeps its seed, so a resumed run gives the counts
    an uninterrupted one would. ``on_batch`` is called with each batch
    record once its counts are stored. At most ``in_flight`` batches are
    submitted ahead of retrieval: by default all of them on a remote
    backend (they queue together, and a resumed run recovers them by
    handle), one on a local simulator (whose jobs die with the process,
    so a kill loses at most one batch). A remote batch whose stored
    handles cannot be retrieved (or whose handles were never stored) is
    only submitted again with ``resubmit_lost``: it may have been paid
    for already. ``on_estimate`` is told the cost before anything is
    submitted.
    """
    if shots <= 0:
        raise BackendError(f"shots must be positive, got {shots}")
    if batch_size <= 0:
        raise BackendError(f"batch size must be positive, got {batch_size}")
    if not isinstance(store, JobStore):
        store = JobStore(store, type(backend).__name__)
    store.backend = store.backend or type(backend).__name__
    from qnlp.engine.backends import is_remote
    keys = [circuit_key(c, shots) for c in circuits]
    by_key = dict(zip(keys, circuits))
    report = JobReport()
    needed = [k for k in by_key if k not in store.results]
    report.circuits['reused'] = len(by_key) - len(needed)
    report.batches['reused'] = sum(
        1 for b in store.batches if b['status'] == 'finished'
        and b['keys'] and set(b['keys']) <= set(by_key))

    # 1. batches submitted before: recover by handle, or resubmit.
    pending = set(needed)
    resubmit: list[dict[str, Any]] = []
    lost: list[str] = []
    remote = is_remote(backend)
    for batch in store.batches:
        mine = [k for k in batch['keys'] if k in pending]
        if batch['status'] == 'finished' or not mine:
            continue
        pending -= set(mine)
        if batch['status'] == 'submitted' and remote:
            handles = dict(zip(batch['keys'], batch['handles']))
            try:
                batch['keys'] = mine
                batch['handles'] = [handles[k] for k in mine]
                _retrieve(backend, batch, batch['handles'], by_key, store)
                report.circuits['recovered'] += len(mine)
                report.batches['recovered'] += 1
                continue
            except Exception as error:   # unreachable, or job forgotten
                why = (f"batch {batch['id']}: stored handles could not be "
                       f"retrieved ({type(error).__name__}: {error})")
        elif batch['status'] == 'submitting':
            why = (f"batch {batch['id']} was being submitted when the run "
                   "stopped and its handles were never stored (it may "
                   "have run)")
        else:
            why = ''            # a local simulator's job died with it
        if why and remote:
            lost.append(why)
        if why:
            report.warnings.append(why + '; resubmitted')
        batch['keys'] = [k for k in mine if k not in store.results]
        if batch['keys']:
            resubmit.append(batch)
    if lost and not resubmit_lost:
        store.save()
        raise BackendError(
            '; '.join(lost) + f" (job store {store.path}). Rerun when the "
            "service is reachable, or pass --resubmit-lost to pay for "
            "these circuits again")
    fresh = [k for k in needed if k in pending]
    new = [fresh[i:i + batch_size] for i in range(0, len(fresh),
                                                   batch_size)]

    # 2. cost estimate and confirmation.
    estimate = CostEstimate(
        circuits=sum(len(b['keys']) for b in resubmit) + len(fresh),
        shots=shots, batches=len(resubmit) + len(new),
        reused=report.circuits['reused'],
        recovered=report.circuits['recovered'])
    if on_estimate is not None and estimate.circuits:
        on_estimate(estimate)
    if confirm_above is not None and estimate.total_shots > confirm_above:
        if confirm is None:
            raise BackendError(
                f"this run would submit {estimate} (more than "
                f"{confirm_above:,} shots); confirm with --yes")
        if not confirm(estimate):
            raise BackendError(f"not submitted: {estimate} was declined")

    # 3. submit batches (handles stored at once), retrieve in order.
    store.save()
    if in_flight is None:
        in_flight = len(resubmit) + len(new) if is_remote(backend) else 1
    in_flight = max(1, in_flight)
    plan: list[tuple[dict[str, Any] | None, list[str], str]] = \
        [(b, b['keys'], 'resubmitted') for b in resubmit] + \
        [(None, chunk, 'submitted') for chunk in new]
    bar = None
    if progress and plan:
        from tqdm import tqdm
        bar = tqdm(total=len(plan), desc='batches', unit='batch')
    waiting: list[tuple[dict[str, Any], list[Any]]] = []
    for number, (batch, chunk, how) in enumerate(plan):
        if batch is None:
            batch = store.new_batch(chunk, seed + len(store.batches), shots)
        waiting.append((batch, _submit(backend, batch, by_key, shots,
                                       optimisation_level, store)))
        report.circuits[how] += len(batch['keys'])
        report.batches[how] += 1
        while waiting and (len(waiting) >= in_flight
                           or number == len(plan) - 1):
            done, handles = waiting.pop(0)
            _collect(backend, done, handles, by_key, store)
            if bar is not None:
                bar.update()
            if on_batch is not None:
                on_batch(done)
    if bar is not None:
        bar.close()
    return JobOutcome([store.counts(k) for k in keys], report, estimate)
