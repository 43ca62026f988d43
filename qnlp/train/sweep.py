"""Run independent tasks in this process, in worker processes, or on Ray.

A sweep (models x seeds in :func:`qnlp.tasks.compare.compare`) is a list
of tasks, each a pure function of its arguments. :func:`run_tasks` runs
them and returns the results *in task order*, whatever order they
finish in, so the caller assembles exactly what the sequential loop
would have assembled:

- ``executor='local', jobs=1``: one after another in this process (the
  plain loop; nothing is pickled).
- ``executor='local', jobs=N``: ``N`` worker processes of a
  :class:`concurrent.futures.ProcessPoolExecutor`, forked from a
  ``forkserver`` (``spawn`` where there is none), never from this
  process (torch and ``fork`` do not mix), each with
  ``torch.set_num_threads(threads)`` (default 1, so N jobs use N cores).
  As with any such pool, a script that calls this must guard its own
  code with ``if __name__ == '__main__':``.
- ``executor='ray'``: Ray tasks (``pip install 'qnlp[ray]'``) on the
  cluster named by ``$RAY_ADDRESS``, the one ``ray start`` left on this
  machine, or else a fresh local Ray instance; each task asks Ray for
  ``threads`` CPUs, and at most ``jobs`` are in flight (all when
  ``jobs`` is None).

A failing task does not stop the others: every task runs, ``on_done``
hears of each result or error as it comes, and then the failures are
raised together: a :class:`SweepError` (a :class:`QnlpError`, one line)
when every failure was itself a :class:`QnlpError`, else the first
other exception, with its traceback.

>>> run_tasks(pow, [(2, 3), (3, 2)])
[8, 9]
>>> run_tasks(pow, [(2, 3), (3, 2)], jobs=0)
Traceback (most recent call last):
...
qnlp.errors.ConfigError: jobs must be positive, got 0
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from typing import Any, Callable, Sequence

from qnlp.engine.device import set_threads
from qnlp.errors import ConfigError, QnlpError, SweepError

EXECUTORS = ('local', 'ray')

#: ``on_done(index, result, error)``: ``error`` is None on success.
OnDone = Callable[[int, Any, 'BaseException | None'], None]


def _call(function: Callable[..., Any], args: tuple, threads: int | None
          ) -> Any:
    """One task in a worker (process or Ray): set the threads, run it."""
    set_threads(threads)
    return function(*args)


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return ' '.join(text.split())


def run_tasks(function: Callable[..., Any], tasks: Sequence[tuple], *,
              jobs: int | None = 1, executor: str = 'local',
              threads: int | None = 1,
              names: Sequence[str] | None = None,
              on_done: OnDone | None = None,
              progress: bool = False, hint: str = '') -> list[Any]:
    """``[function(*args) for args in tasks]``, run by ``executor``.

    ``function`` must be importable by name in a worker (a module-level
    function) for ``jobs > 1`` and Ray. ``names`` label the tasks in
    error messages; ``hint`` is appended to a :class:`SweepError`.
    ``progress`` shows a tqdm bar over finished tasks.

    >>> seen = []
    >>> run_tasks(divmod, [(7, 2), (9, 4)],
    ...           on_done=lambda i, r, e: seen.append(i))
    [(3, 1), (2, 1)]
    >>> seen
    [0, 1]
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose from "
                          f"{', '.join(EXECUTORS)}")
    if jobs is not None and jobs <= 0:
        raise ConfigError(f"jobs must be positive, got {jobs}")
    if threads is not None and threads <= 0:
        raise ConfigError(f"threads must be positive, got {threads}")
    tasks = [tuple(args) for args in tasks]
    names = list(names) if names is not None else [
        f'task {i}' for i in range(len(tasks))]
    results: list[Any] = [None] * len(tasks)
    errors: dict[int, BaseException] = {}
    bar = _bar(len(tasks), progress)

    def done(index: int, result: Any, error: BaseException | None) -> None:
        if error is None:
            results[index] = result
        else:
            errors[index] = error
        if on_done is not None:
            with _outside(bar):
                on_done(index, result, error)
        if bar is not None:
            bar.update(1)

    try:
        if executor == 'ray':
            _run_ray(function, tasks, jobs, threads, done)
        elif jobs == 1 or jobs is None or len(tasks) <= 1:
            for index, args in enumerate(tasks):
                try:
                    result = function(*args)
                except Exception as error:  # noqa: BLE001 - reported below
                    done(index, None, error)
                else:
                    done(index, result, None)
        else:
            _run_processes(function, tasks, jobs, threads, done)
    finally:
        if bar is not None:
            bar.close()
    _raise_failures(errors, names, len(tasks), hint)
    return results


def _bar(total: int, progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc='tasks', unit='task', file=sys.stderr)


def _outside(bar: Any) -> Any:
    """Print around the bar instead of through it."""
    if bar is None:
        return nullcontext()
    return type(bar).external_write_mode(file=sys.stderr)


def _raise_failures(errors: dict[int, BaseException], names: list[str],
                    total: int, hint: str) -> None:
    if not errors:
        return
    order = sorted(errors)
    other = [i for i in order if not isinstance(errors[i], QnlpError)]
    if other:
        raise errors[other[0]]
    listed = '; '.join(f"{names[i]}: {_one_line(errors[i])}" for i in order)
    raise SweepError(f"{len(errors)} of {total} tasks failed: {listed}"
                     + (f" ({hint})" if hint else '')) from errors[order[0]]


def _context(function: Callable[..., Any]) -> Any:
    """``forkserver`` that has imported the task's module, else ``spawn``.

    Workers fork from a fresh single-threaded server process (never from
    this one, whose torch may hold threads), and the server imports the
    task's module once, so N workers do not import torch and lambeq N
    times; later pools of this process reuse the server.
    """
    if 'forkserver' not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context('spawn')
    context = multiprocessing.get_context('forkserver')
    module = getattr(function, '__module__', None) or '__main__'
    context.set_forkserver_preload(list(dict.fromkeys(['__main__', module])))
    return context


def _run_processes(function: Callable[..., Any], tasks: list[tuple],
                   jobs: int, threads: int | None,
                   done: Callable[[int, Any, BaseException | None], None]
                   ) -> None:
    context = _context(function)
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)), mp_context=context,
        initializer=set_threads, initargs=(threads,))
    try:
        futures = {pool.submit(function, *args): index
                   for index, args in enumerate(tasks)}
        for future in concurrent.futures.as_completed(futures):
            error = future.exception()
            if isinstance(error, BrokenProcessPool):  # killed, e.g. by OOM
                error = SweepError(f"a worker process died ({error})")
            done(futures[future], None if error else future.result(), error)
    except BaseException:  # Ctrl-C, or on_done raised: stop now
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers (files are
    written atomically, so a run killed mid-epoch resumes from its last
    checkpoint)."""
    terminate = getattr(pool, 'terminate_workers', None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    workers = list((getattr(pool, '_processes', None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.join(timeout=5)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install "
                          "'qnlp[ray]' (or pip install ray)") from None
    return ray


def _run_ray(function: Callable[..., Any], tasks: list[tuple],
             jobs: int | None, threads: int | None,
             done: Callable[[int, Any, BaseException | None], None]) -> None:
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        # $RAY_ADDRESS, else the cluster `ray start` left here, else a new
        # local instance (Ray's own order when address is None).
        ray.init(address=os.environ.get('RAY_ADDRESS') or None,
                 include_dashboard=False, log_to_driver=False,
                 logging_level='warning')
    try:
        remote = ray.remote(num_cpus=threads or 1, max_retries=0)(_call)
        limit = len(tasks) if jobs is None else jobs
        pending: dict[Any, int] = {}
        queue = list(enumerate(tasks))
        while queue or pending:
            while queue and len(pending) < limit:
                index, args = queue.pop(0)
                pending[remote.remote(function, args, threads)] = index
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    cause = getattr(error, 'cause', None)
                    done(index, None, cause if isinstance(
                        cause, BaseException) else error)
                except ray.exceptions.RayError as error:  # worker died...
                    done(index, None, SweepError(
                        f"Ray could not run the task: {_one_line(error)}"))
                else:
                    done(index, result, None)
    finally:
        if started:
            ray.shutdown()
