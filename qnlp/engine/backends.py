"""pytket backends by name: simulators, IBM devices and other extensions.

:func:`get_backend` turns a short name into a pytket ``Backend``:

=====================  ==================================================
``aer``                qiskit-aer's shot simulator (pytket-qiskit), with
                       an optional ``noise`` model (a
                       :class:`~qnlp.noise.NoiseSpec`)
``ibm:DEVICE``         an IBM Quantum device (pytket-qiskit); the API
                       token comes from ``QISKIT_IBM_TOKEN`` (or
                       ``IBM_QUANTUM_TOKEN``), the instance CRN from
                       ``QISKIT_IBM_INSTANCE`` when set
``ibm-emulator:DEVICE`` the same device emulated locally on Aer with its
                       noise model (needs the same credentials)
``quantinuum:DEVICE``  pytket-quantinuum's ``QuantinuumBackend``
``braket:DEVICE``      pytket-braket's ``BraketBackend`` (device ARN/name)
``qulacs``             pytket-qulacs's ``QulacsBackend``
``cirq``               pytket-cirq's ``CirqStateSampleBackend``
``MODULE:CLASS``       any other pytket backend class, e.g.
                       ``pytket.extensions.qiskit:AerBackend``
=====================  ==================================================

``options`` are passed to the backend's constructor. A missing extension
is a :class:`~qnlp.errors.BackendError` naming the package to install;
missing credentials too, before any network access.

>>> backend = get_backend('aer')
>>> type(backend).__name__, is_remote(backend)
('AerBackend', False)
>>> from qnlp.noise import parse_noise
>>> backend_label('ibm:ibm_brisbane'), backend_label('aer', parse_noise('0.01'))
('ibm-ibm_brisbane', 'aer-noisep1=0.001,p2=0.01-native')
>>> get_backend('quantum-magic')
Traceback (most recent call last):
...
qnlp.errors.BackendError: unknown backend 'quantum-magic'; known: aer, braket:DEVICE, cirq, ibm-emulator:DEVICE, ibm:DEVICE, quantinuum:DEVICE, qulacs, or MODULE:CLASS
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from qnlp.errors import BackendError

if TYPE_CHECKING:
    from qnlp.noise.channels import NoiseSpec

#: Qubits of the all-to-all ``--noise`` model before a wider circuit widens
#: it: every entry point builds it on ``max(NOISE_QUBITS, widest circuit)``
#: qubits, so the same jobs meet the same simulator (and the same shots).
NOISE_QUBITS = 16
#: Environment variables read for the IBM Quantum API token, in order.
IBM_TOKEN_VARIABLES = ('QISKIT_IBM_TOKEN', 'IBM_QUANTUM_TOKEN')
#: Environment variable of the IBM Quantum instance (CRN), optional.
IBM_INSTANCE_VARIABLE = 'QISKIT_IBM_INSTANCE'


@dataclass(frozen=True)
class _Known:
    package: str           # what to pip install
    module: str
    cls: str
    device: str | None     # constructor keyword of the device, or None


KNOWN: dict[str, _Known] = {
    'aer': _Known('pytket-qiskit', 'pytket.extensions.qiskit',
                  'AerBackend', None),
    'ibm': _Known('pytket-qiskit', 'pytket.extensions.qiskit',
                  'IBMQBackend', 'backend_name'),
    'ibm-emulator': _Known('pytket-qiskit', 'pytket.extensions.qiskit',
                           'IBMQEmulatorBackend', 'backend_name'),
    'quantinuum': _Known('pytket-quantinuum', 'pytket.extensions.quantinuum',
                         'QuantinuumBackend', 'device_name'),
    'braket': _Known('pytket-braket', 'pytket.extensions.braket',
                     'BraketBackend', 'device'),
    'qulacs': _Known('pytket-qulacs', 'pytket.extensions.qulacs',
                     'QulacsBackend', None),
    'cirq': _Known('pytket-cirq', 'pytket.extensions.cirq',
                   'CirqStateSampleBackend', None),
}


def _known_names() -> str:
    names = sorted(name + (':DEVICE' if known.device else '')
                   for name, known in KNOWN.items())
    return ', '.join(names) + ', or MODULE:CLASS'


def backend_label(name: str, noise: NoiseSpec | None = None,
                  options: Mapping[str, Any] | None = None) -> str:
    """A folder-safe label of a backend name, noise and constructor
    options, used to keep the jobs of each configuration apart.

    >>> backend_label('aer', options={'simulation_method': 'statevector'})
    'aer-opts134b3b71'
    """
    label = re.sub(r'[^A-Za-z0-9_.,=-]+', '-', name).strip('-') or 'backend'
    if noise:
        label += f'-noise{noise.label()}-native'
    if options:
        text = json.dumps(options, sort_keys=True, default=str)
        label += '-opts' + hashlib.sha256(text.encode()).hexdigest()[:8]
    return label


def is_remote(backend: Any) -> bool:
    """Whether jobs outlive this process (pytket's ``persistent_handles``):
    true for cloud devices, false for local simulators."""
    return bool(getattr(backend, 'persistent_handles', False))


def _import(module: str, cls: str, package: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as error:
        raise BackendError(f"backend {name!r} needs the pytket extension "
                           f"{package}: pip install {package} "
                           f"({error})") from None
    except AttributeError:
        raise BackendError(f"backend {name!r}: {module} has no class "
                           f"{cls}") from None


def _ibm_service(name: str) -> Any:
    token = next((os.environ[v] for v in IBM_TOKEN_VARIABLES
                  if os.environ.get(v)), None)
    if token is None:
        raise BackendError(
            f"backend {name!r} needs IBM Quantum credentials: set "
            f"{IBM_TOKEN_VARIABLES[0]} to your API token (and "
            f"{IBM_INSTANCE_VARIABLE} to your instance CRN)")
    try:
        from qiskit_ibm_runtime import QiskitRuntimeService
        return QiskitRuntimeService(
            channel='ibm_quantum_platform', token=token,
            instance=os.environ.get(IBM_INSTANCE_VARIABLE) or None)
    except ImportError:
        raise BackendError("IBM backends need qiskit-ibm-runtime: pip "
                           "install pytket-qiskit") from None
    except Exception as error:   # network or account errors
        raise BackendError(f"backend {name!r}: cannot reach IBM Quantum "
                           f"({error})") from None


def get_backend(name: str, options: Mapping[str, Any] | None = None,
                noise: NoiseSpec | None = None,
                n_qubits: int = NOISE_QUBITS) -> Any:
    """The pytket backend called ``name`` (see the module docstring).

    ``options`` go to the backend's constructor; ``noise`` (``aer``
    only) adds its model on native gates,
    :meth:`~qnlp.noise.NoiseSpec.to_aer_native`, on ``n_qubits`` qubits
    (more if a circuit is wider), and rebases the compiled circuits to
    those gates (:class:`~qnlp.noise.devices.NativeGates`) so that every
    error applies.

    >>> from qnlp.noise import parse_noise
    >>> noisy = get_backend('aer', noise=parse_noise('0.01'), n_qubits=2)
    >>> type(noisy).__name__, noisy.noise_model.noise_qubits
    ('NativeGates', [0, 1])
    """
    options = dict(options or {})
    kind, _, device = name.partition(':')
    if noise is not None and kind != 'aer':
        raise BackendError("noise is an option of the aer backend only")
    if '.' in kind:   # MODULE:CLASS
        if not device:
            raise BackendError(f"backend {name!r}: give MODULE:CLASS")
        parts = kind.split('.')
        extension = parts[:2] == ['pytket', 'extensions'] and len(parts) > 2
        package = f'pytket-{parts[2]}' if extension else parts[0]
        cls = _import(kind, device, package, name)
        return _construct(cls, name, options)
    known = KNOWN.get(kind)
    if known is None:
        raise BackendError(f"unknown backend {name!r}; known: "
                           f"{_known_names()}")
    if known.device and not device:
        raise BackendError(f"backend {kind!r} needs a device: "
                           f"--backend {kind}:DEVICE")
    if device and not known.device:
        raise BackendError(f"backend {kind!r} takes no device "
                           f"(got {device!r})")
    cls = _import(known.module, known.cls, known.package, name)
    if device:
        options[known.device] = device
    if noise:
        from qnlp.noise.devices import NativeGates

        def native(n: int) -> tuple[Any, Any]:
            model = noise.to_aer_native(n)
            return _construct(cls, name, {**options, 'noise_model': model}), \
                model
        return NativeGates(*native(n_qubits), widen=native)
    if kind in ('ibm', 'ibm-emulator') and 'service' not in options:
        options['service'] = _ibm_service(name)
    return _construct(cls, name, options)


def _construct(cls: Any, name: str, options: dict[str, Any]) -> Any:
    try:
        return cls(**options)
    except TypeError as error:
        raise BackendError(f"backend {name!r}: bad options "
                           f"{sorted(options)} ({error})") from None
    except BackendError:
        raise
    except Exception as error:   # the extension's own errors
        raise BackendError(f"backend {name!r} could not be created "
                           f"({type(error).__name__}: {error})") from None
