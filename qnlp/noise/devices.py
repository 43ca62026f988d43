"""Device noise models from qiskit's offline fake backends.

``--noise fake:NAME`` names a calibration snapshot of a real IBM device
shipped with qiskit-ibm-runtime (``qiskit_ibm_runtime.fake_provider``;
no account or network): :func:`fake_noise_model` builds qiskit-aer's
``NoiseModel.from_backend`` of it, for the ``aer`` backend.

A noise model's errors sit on its basis gates (``ecr``, ``sx``, ``x`` on
Eagle devices); pytket's ``AerBackend`` compiles to CX and TK1 whatever
the model, which such a model has no errors for. :class:`NativeGates`
rebases the compiled circuits to the model's basis gates, so Aer applies
every gate error.

>>> fake_backend_name('fake:brisbane')
'FakeBrisbane'
>>> fake_noise_model('fake:atlantis')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: --noise fake:atlantis: no such fake backend in qiskit_ibm_runtime.fake_provider (e.g. fake:brisbane, fake:kyiv, fake:sherbrooke, fake:torino)
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from qnlp.errors import BackendError, ConfigError

#: Prefix of ``--noise`` values naming a fake backend.
PREFIX = 'fake:'


def is_fake(noise: str | None) -> bool:
    """Whether ``--noise`` names a fake backend."""
    return bool(noise) and str(noise).startswith(PREFIX)


def fake_backend_name(noise: str) -> str:
    """``fake:brisbane`` -> ``FakeBrisbane`` (the class name)."""
    name = noise[len(PREFIX):].strip()
    if name.lower().startswith('fake'):
        name = name[4:]
    return 'Fake' + ''.join(part.capitalize() for part in
                            name.replace('-', '_').split('_'))


def fake_noise_model(noise: str) -> Any:
    """qiskit-aer's noise model of the fake backend ``fake:NAME``."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise ConfigError("--noise fake:NAME needs qiskit-ibm-runtime: pip "
                          "install pytket-qiskit") from None
    cls = getattr(fake_provider, fake_backend_name(noise), None)
    if cls is None:
        raise ConfigError(f"--noise {noise}: no such fake backend in "
                          "qiskit_ibm_runtime.fake_provider (e.g. "
                          "fake:brisbane, fake:kyiv, fake:sherbrooke, "
                          "fake:torino)")
    from qiskit_aer.noise import NoiseModel
    return NoiseModel.from_backend(cls())


#: pytket gates of the qiskit basis-gate names a noise model may use.
NATIVE = {'cx': 'CX', 'cz': 'CZ', 'ecr': 'ECR', 'rz': 'Rz', 'sx': 'SX',
          'x': 'X', 'rx': 'Rx', 'ry': 'Ry'}


class NativeGates:
    """``backend`` (pytket's ``AerBackend`` with ``noise_model``) whose
    compiled circuits are rebased to the model's basis gates; every other
    attribute is the backend's.

    ``widen(n)``, if given, returns ``(backend, noise_model)`` for ``n``
    qubits: circuits wider than the model's qubits then get a backend of
    their width (``--noise P``'s model is defined on any number of qubits;
    a device's is not, and without ``widen`` such circuits are refused in
    one line).

    >>> from qnlp.engine.backends import get_backend
    >>> from qnlp.noise import parse_noise
    >>> model = parse_noise('0.01').to_aer_native(n_qubits=2)
    >>> native = NativeGates(get_backend('aer', {'noise_model': model}), model)
    >>> from pytket import Circuit
    >>> [c] = native.get_compiled_circuits([Circuit(2).H(0).CX(0, 1)])
    >>> sorted({str(g.op.type) for g in c})
    ['OpType.CX', 'OpType.Rz', 'OpType.SX']
    >>> [c] = native.get_compiled_circuits([Circuit(3).CX(0, 1).CX(1, 2)])
    Traceback (most recent call last):
    ...
    qnlp.errors.BackendError: a circuit has 3 qubits; the noise model covers 2
    """

    def __init__(self, backend: Any, noise_model: Any,
                 widen: Callable[[int], tuple[Any, Any]] | None = None
                 ) -> None:
        from pytket import OpType
        from pytket.passes import AutoRebase
        gates = {getattr(OpType, NATIVE[name])
                 for name in noise_model.basis_gates if name in NATIVE}
        self.backend, self.gates = backend, gates
        self.noise_model, self.widen = noise_model, widen
        self._ran_on: dict[Any, Any] = {}   # handle -> the backend that ran it
        try:
            self._rebase = AutoRebase(gates)
        except Exception as error:   # pytket cannot reach that gate set
            raise ConfigError(f"the noise model's basis gates "
                              f"{noise_model.basis_gates} cannot be "
                              f"targeted ({error})") from None

    def rebase_pass(self) -> Any:
        """The rebase to the noise model's basis gates."""
        return self._rebase

    def get_compiled_circuits(self, circuits: Sequence[Any],
                              optimisation_level: int = 2) -> list[Any]:
        """Compiled by the backend, then rebased to the basis gates."""
        width = max((c.n_qubits for c in circuits), default=0)
        covered = len(self.noise_model.noise_qubits)
        if width > covered:
            if self.widen is None:
                raise BackendError(f"a circuit has {width} qubits; the "
                                   f"noise model covers {covered}")
            self.backend, self.noise_model = self.widen(width)
        compiled = self.backend.get_compiled_circuits(
            circuits, optimisation_level=optimisation_level)
        for circuit in compiled:
            self._rebase.apply(circuit)
        return compiled

    def process_circuits(self, circuits: Sequence[Any], *args: Any,
                         **kwargs: Any) -> list[Any]:
        """Submitted to the current backend, which is remembered per
        handle: a later, wider circuit may replace the backend while
        these still run (``--in-flight``)."""
        handles = self.backend.process_circuits(circuits, *args, **kwargs)
        self._ran_on.update(dict.fromkeys(handles, self.backend))
        return handles

    def get_result(self, handle: Any, **kwargs: Any) -> Any:
        """The result, from the backend that ran ``handle``."""
        return self._ran_on.get(handle, self.backend).get_result(handle,
                                                                 **kwargs)

    def circuit_status(self, handle: Any) -> Any:
        return self._ran_on.get(handle, self.backend).circuit_status(handle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)
