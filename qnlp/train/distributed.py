"""Data-parallel training on ``torch.distributed``: ranks, shards, launch.

A :class:`World` is the group of processes that train one model. Every
rank owns a fixed shard of each data split (example ``i`` belongs to rank
``i % size``): it parses, compiles and evaluates only those examples.
Each global minibatch is the same on every rank (one shared shuffling
generator); a rank computes the summed loss of its part of the batch,
the gradients are summed over ranks with one ``all_reduce`` and divided
by the global batch size, and every rank takes the same optimiser step.
So a run on N processes follows the same trajectory as a single-process
run with the same global batch and seed, up to floating-point summation
order.

Processes are started by :func:`launch` on one machine (``qnlp train
--nproc N``, gloo on CPU, nccl when every rank has its own GPU), or by
``torchrun`` on one or many machines: :func:`world_from_environment`
joins the group described by ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``
and ``MASTER_PORT``. Rank 0 alone writes checkpoints, metrics and the
progress bar; on resume it reads the checkpoint and broadcasts it.

>>> world = World()                 # a single process
>>> world.size, world.rank, world.is_main
(1, 0, True)
>>> world.shard(range(5))
[0, 1, 2, 3, 4]
>>> World(rank=1, size=2).shard(range(5))   # what rank 1 of 2 would own
[1, 3]
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, TypeVar

import torch

from qnlp.engine.device import set_threads
from qnlp.errors import ConfigError, QnlpError

T = TypeVar('T')


@dataclass(frozen=True)
class World:
    """This process's place in a group of ``size`` training processes.

    ``device`` is where this rank trains and where collectives run (the
    CPU with gloo; this rank's GPU with nccl).
    """
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device('cpu')

    @property
    def is_main(self) -> bool:
        """Rank 0 writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, items: Iterable[T]) -> list[T]:
        """The items this rank owns: every ``size``-th from ``rank``."""
        return [item for i, item in enumerate(items)
                if i % self.size == self.rank]

    def owner(self, index: int) -> int:
        """The rank that owns example ``index``."""
        return index % self.size

    def all_reduce(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks, in place; returns it."""
        if self.distributed:
            moved = tensor.to(self.device)
            torch.distributed.all_reduce(moved)
            if moved is not tensor:
                tensor.copy_(moved)
        return tensor

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order."""
        if not self.distributed:
            return [value]
        gathered: list[Any] = [None] * self.size
        torch.distributed.all_gather_object(gathered, value)
        return gathered

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (picklable) on every rank."""
        if not self.distributed:
            return value
        box = [value if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def sum_gradients(self, parameters: Iterable[torch.nn.Parameter]
                      ) -> None:
        """Sum the gradients of ``parameters`` over ranks (one call)."""
        if not self.distributed:
            return
        params = [p for p in parameters if p.grad is not None]
        if not params:
            return
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        self.all_reduce(flat)
        start = 0
        for p in params:
            count = p.grad.numel()
            p.grad.copy_(flat[start:start + count].view_as(p.grad))
            start += count

    def merge(self, shards: Sequence[Sequence[T]]) -> list[T]:
        """Undo :meth:`shard`: interleave per-rank lists into global order.

        >>> World(size=2).merge([[0, 2, 4], [1, 3]])
        [0, 1, 2, 3, 4]
        """
        total = sum(len(s) for s in shards)
        return [shards[i % self.size][i // self.size] for i in range(total)]


def world_from_environment(device: torch.device | str | None = None
                           ) -> World:
    """Join the process group that ``torchrun`` (or :func:`launch`) set up.

    Without ``WORLD_SIZE`` (or with 1) this is a single process on
    ``device``. On the CPU the group uses gloo; with ``device`` ``cuda``
    each rank takes GPU ``LOCAL_RANK`` and the group uses nccl.
    """
    device = torch.device(device or 'cpu')
    size = int(os.environ.get('WORLD_SIZE', '1'))
    if size <= 1:
        return World(device=device)
    rank = int(os.environ['RANK'])
    if device.type == 'cuda':
        device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
        torch.cuda.set_device(device)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(
            backend='nccl' if device.type == 'cuda' else 'gloo')
    return World(rank=rank, size=size, device=device)


def threads_per_process(nproc: int) -> int:
    """CPU threads each of ``nproc`` local processes should use."""
    return max(1, (os.cpu_count() or 1) // nproc)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank: int, nproc: int, port: int, function: Callable[..., Any],
            args: tuple, failures: Any) -> None:
    os.environ.update({'RANK': str(rank), 'LOCAL_RANK': str(rank),
                       'WORLD_SIZE': str(nproc),
                       'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(port)})
    set_threads(threads_per_process(nproc))
    try:
        function(*args)
    except QnlpError as error:  # bad input: one line, no traceback
        failures.put(str(error))
        raise SystemExit(2) from None
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def launch(function: Callable[..., Any], nproc: int, *args: Any) -> None:
    """Run ``function(*args)`` in ``nproc`` local processes (one group).

    Each process calls :func:`world_from_environment` to join. If a
    process fails on bad input its :class:`~qnlp.errors.QnlpError`
    message is raised here; any other failure raises ``RuntimeError``
    with the worker's traceback.
    """
    if nproc < 1:
        raise ConfigError(f"--nproc must be positive, got {nproc}")
    if int(os.environ.get('WORLD_SIZE', '1')) > 1:
        raise ConfigError("already inside a distributed launch (torchrun); "
                          "do not also give --nproc")
    import torch.multiprocessing as mp
    from torch.multiprocessing.spawn import ProcessException
    failures = mp.get_context('spawn').SimpleQueue()
    try:
        mp.start_processes(_worker, args=(nproc, _free_port(), function,
                                          args, failures),
                           nprocs=nproc, start_method='spawn')
    except ProcessException as error:
        if not failures.empty():
            raise QnlpError(failures.get()) from None
        raise RuntimeError(f"a training process failed: {error}") from None
