"""Devices and floating types: names from the command line to torch.

Every model and the engine take a ``device`` (``cpu``, ``cuda``,
``cuda:N``) and a real ``dtype`` (``float64`` by default, ``float32``
where it is precise enough); quantum amplitudes use the matching complex
type. :func:`resolve_device` refuses a device that is not present with a
:class:`~qnlp.errors.DeviceError` (one line and exit status 2 in the
CLI), never a fallback that would hide the problem.

>>> resolve_device('cpu'), resolve_dtype('float32')
(device(type='cpu'), torch.float32)
>>> complex_dtype(torch.float32), real_dtype(torch.complex128)
(torch.complex64, torch.float64)
"""
from __future__ import annotations

import torch

from qnlp.errors import DeviceError

#: ``--dtype`` names and their torch types.
DTYPES = {'float64': torch.float64, 'float32': torch.float32}

Device = torch.device | str | None


def resolve_device(name: Device = None) -> torch.device:
    """``name`` as a ``torch.device`` that exists on this machine.

    ``None`` means the CPU. ``cuda`` and ``cuda:N`` need a CUDA device
    (``N`` below the device count), ``mps`` an Apple GPU.

    >>> resolve_device(None)
    device(type='cpu')
    >>> resolve_device('gpu')
    Traceback (most recent call last):
    ...
    qnlp.errors.DeviceError: unknown device 'gpu': use cpu, cuda or cuda:N
    """
    if name is None:
        return torch.device('cpu')
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceError(f"unknown device {name!r}: use cpu, cuda or "
                          "cuda:N") from None
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested, but torch finds "
                              "no CUDA device on this machine (torch "
                              f"{torch.__version__}, CUDA build: "
                              f"{torch.version.cuda or 'none'}); use "
                              "--device cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"device {name!r} requested, but there "
                              f"{'is' if count == 1 else 'are'} only "
                              f"{count} CUDA device{'s' * (count != 1)}")
        if device.index is None:   # as tensors report it: cuda:0
            device = torch.device('cuda', torch.cuda.current_device())
    elif device.type == 'mps':
        if not torch.backends.mps.is_available():
            raise DeviceError(f"device {name!r} requested, but no Apple "
                              "GPU (MPS) is available; use --device cpu")
    elif device.type != 'cpu':
        raise DeviceError(f"unsupported device {name!r}: use cpu, cuda or "
                          "cuda:N")
    return device


def resolve_dtype(name: str | torch.dtype | None = None) -> torch.dtype:
    """A real floating type from ``float64``/``float32`` (default float64).

    >>> resolve_dtype(None), resolve_dtype(torch.float32)
    (torch.float64, torch.float32)
    """
    if name is None:
        return torch.float64
    if isinstance(name, torch.dtype):
        if name not in DTYPES.values():
            raise DeviceError(f"unsupported dtype {name}: use float64 or "
                              "float32")
        return name
    if name not in DTYPES:
        raise DeviceError(f"unsupported dtype {name!r}: use "
                          f"{' or '.join(DTYPES)}")
    return DTYPES[name]


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex type of the same precision as ``dtype``."""
    if dtype in (torch.float32, torch.complex64):
        return torch.complex64
    return torch.complex128


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real type of the same precision as ``dtype``."""
    if dtype in (torch.float32, torch.complex64):
        return torch.float32
    return torch.float64


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer (CPU if none).

    >>> module_device(torch.nn.Linear(2, 2))
    device(type='cpu')
    """
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device('cpu')


def set_threads(count: int | None) -> None:
    """The one thread policy: ``count`` torch CPU threads for this
    process (``None``: leave torch's default). The command line calls it
    for ``--threads``; worker processes of sweeps (``--threads-per-job``)
    and data-parallel training (cores / processes) call it at start; the
    library never changes the thread count on its own.

    >>> before = torch.get_num_threads()
    >>> set_threads(1); torch.get_num_threads()
    1
    >>> set_threads(before); set_threads(None); torch.get_num_threads() == before
    True
    """
    if count is not None:
        torch.set_num_threads(count)
