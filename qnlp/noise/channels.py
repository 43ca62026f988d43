"""Noise models: which Kraus channels follow which gates.

A :class:`NoiseSpec` names the channels the exact noisy engine
(:mod:`qnlp.noise.density`) applies, and builds the same model for
qiskit-aer (:meth:`NoiseSpec.to_aer`) so the two can be compared, and
on hardware's native gates for shots on Aer (:meth:`NoiseSpec.to_aer_native`,
``--backend aer --noise``; ``sx`` and ``x`` there are the one-qubit gates):

* after every one-qubit gate except ``rz`` (a virtual, noiseless frame
  change on hardware): a depolarizing channel of parameter ``p1``;
* after every two-qubit gate (``cx``): a two-qubit depolarizing channel
  of parameter ``p2``;
* after every noisy gate, on each of its qubits: amplitude damping
  ``amplitude`` then phase damping ``phase``;
* at measurement: each bit flips with probability ``readout``.

Depolarizing of parameter ``p`` on ``k`` qubits is qiskit's
``depolarizing_error(p, k)``: ``rho -> (1 - p) rho + p Tr_k[rho] (x)
I / 2^k``. :func:`parse_noise` reads the command line's ``--noise``: a
bare number ``P`` is ``p2=P, p1=P/10`` (one-qubit gates are about ten
times better on today's devices), on the exact engine and on Aer alike.

>>> spec = parse_noise('0.01')
>>> spec.p2, spec.p1
(0.01, 0.001)
>>> parse_noise('p2=0.02,amplitude=0.001,readout=0.01').scaled(2).p2
0.04
>>> parse_noise('p3=1')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: --noise: unknown channel 'p3'; known: p1, p2, amplitude, phase, readout (e.g. --noise p2=0.01,readout=0.02)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from qnlp.engine.backends import NOISE_QUBITS
from qnlp.errors import ConfigError

#: Gate names (qiskit's) the engine simulates: ``rz`` is noiseless.
ONE_QUBIT_NOISY = ('rx', 'ry')
TWO_QUBIT = ('cx',)
#: The same on hardware's native gates (``sx``, ``x``, ``rz``, ``cx``).
NATIVE_ONE_QUBIT_NOISY = ('sx', 'x')


@dataclass(frozen=True)
class NoiseSpec:
    """Channel strengths; all zero is the noiseless circuit."""
    p1: float = 0.0
    p2: float = 0.0
    amplitude: float = 0.0
    phase: float = 0.0
    readout: float = 0.0

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not 0 <= value <= 1:
                raise ConfigError(f"--noise: {name} must be in [0, 1], got "
                                  f"{value}")

    @property
    def noiseless(self) -> bool:
        """Whether every channel is the identity."""
        return not any(dataclasses.asdict(self).values())

    def __bool__(self) -> bool:
        """True when some channel is not the identity, so ``if noise:``
        means "there is noise" for ``None`` and a noiseless spec alike.

        >>> bool(NoiseSpec()), bool(NoiseSpec(readout=0.01))
        (False, True)
        """
        return not self.noiseless

    def scaled(self, factor: float) -> "NoiseSpec":
        """Every strength times ``factor`` (capped at 1): the noise
        amplification of zero-noise extrapolation in the exact engine."""
        return NoiseSpec(**{name: min(1.0, value * factor) for name, value
                            in dataclasses.asdict(self).items()})

    def label(self) -> str:
        """Folder-safe text of the non-zero strengths.

        >>> NoiseSpec(p2=0.01, readout=0.02).label()
        'p2=0.01,readout=0.02'
        """
        return ','.join(f"{k}={v:g}" for k, v in
                        dataclasses.asdict(self).items() if v) or 'noiseless'

    def _aer_errors(self) -> tuple[Any, Any, Any]:
        """qiskit-aer's ``(one-qubit, two-qubit, readout)`` errors of these
        strengths (``None`` where noiseless): the one home of the channels
        both :meth:`to_aer` and :meth:`to_aer_native` place."""
        from qiskit_aer.noise import (ReadoutError, amplitude_damping_error,
                                      depolarizing_error,
                                      phase_damping_error)
        local = None
        for strength, make in ((self.amplitude, amplitude_damping_error),
                               (self.phase, phase_damping_error)):
            if strength:
                part = make(strength)
                local = part if local is None else local.compose(part)
        errors = []
        for qubits, strength in ((1, self.p1), (2, self.p2)):
            error = depolarizing_error(strength, qubits) if strength \
                else None
            if local is not None:
                both = local if qubits == 1 else local.tensor(local)
                error = both if error is None else error.compose(both)
            errors.append(error)
        r = self.readout
        readout = ReadoutError([[1 - r, r], [r, 1 - r]]) if r else None
        return errors[0], errors[1], readout

    def to_aer(self) -> Any:
        """The same model as a qiskit-aer ``NoiseModel`` on the gates
        ``rx``, ``ry``, ``rz`` and ``cx`` (run without transpiling).

        >>> sorted(NoiseSpec(p2=0.01).to_aer().noise_instructions)
        ['cx']
        """
        from qiskit_aer.noise import NoiseModel
        model = NoiseModel(basis_gates=['rx', 'ry', 'rz', 'cx'])
        one, two, readout = self._aer_errors()
        for error, names in ((one, ONE_QUBIT_NOISY), (two, TWO_QUBIT)):
            if error is not None:
                model.add_all_qubit_quantum_error(error, list(names))
        if readout is not None:
            model.add_all_qubit_readout_error(readout)
        return model

    def to_aer_native(self, n_qubits: int = NOISE_QUBITS) -> Any:
        """The same channels on hardware's native gates, per qubit of
        ``n_qubits`` all-to-all connected ones (pytket's ``AerBackend``
        refuses all-qubit errors and reads its architecture from these):
        ``p1`` after ``sx`` and ``x``, ``p2`` after ``cx``, ``rz``
        noiseless, as in the exact engine. ``--backend aer --noise`` runs
        on it (through :class:`~qnlp.noise.devices.NativeGates`).

        >>> model = parse_noise('p2=0.01,readout=0.02').to_aer_native(3)
        >>> model.noise_qubits, sorted(model.noise_instructions)
        ([0, 1, 2], ['cx', 'measure'])
        """
        from qiskit_aer.noise import NoiseModel
        model = NoiseModel(basis_gates=['cx', 'id', 'rz', 'sx', 'x'])
        one, two, readout = self._aer_errors()
        for qubit in range(n_qubits):
            if one is not None:
                model.add_quantum_error(one, list(NATIVE_ONE_QUBIT_NOISY),
                                        [qubit])
            if readout is not None:
                model.add_readout_error(readout, [qubit])
            if two is not None:
                for other in range(n_qubits):
                    if other != qubit:
                        model.add_quantum_error(two, list(TWO_QUBIT),
                                                [qubit, other])
        return model


CHANNELS = tuple(f.name for f in dataclasses.fields(NoiseSpec))


def parse_noise(text: str) -> NoiseSpec:
    """``--noise`` text to a :class:`NoiseSpec`: ``P`` (two-qubit
    depolarizing ``P``, one-qubit ``P/10``) or ``NAME=VALUE,...`` with
    names from :data:`CHANNELS`."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return NoiseSpec(p1=value / 10, p2=value)
    strengths: dict[str, float] = {}
    for part in text.split(','):
        name, sep, value_text = part.partition('=')
        name = name.strip()
        if name not in CHANNELS:
            raise ConfigError(f"--noise: unknown channel {name!r}; known: "
                              f"{', '.join(CHANNELS)} (e.g. --noise "
                              "p2=0.01,readout=0.02)")
        try:
            strengths[name] = float(value_text)
        except ValueError:
            raise ConfigError(f"--noise: {name} needs a number, got "
                              f"{value_text!r}") from None
    return NoiseSpec(**strengths)


def damping_kraus(amplitude: float, phase: float, dtype: torch.dtype
                  ) -> list[torch.Tensor]:
    """Kraus operators of amplitude damping ``amplitude`` followed by
    phase damping ``phase`` on one qubit (qiskit's definitions).

    >>> ops = damping_kraus(0.1, 0.2, torch.complex128)
    >>> total = sum(k.conj().T @ k for k in ops)
    >>> torch.allclose(total, torch.eye(2, dtype=torch.complex128))
    True
    """
    def pair(a: float, kind: str) -> list[torch.Tensor]:
        k0 = torch.tensor([[1, 0], [0, (1 - a) ** 0.5]], dtype=dtype)
        k1 = torch.tensor([[0, a ** 0.5], [0, 0]] if kind == 'amplitude'
                          else [[0, 0], [0, a ** 0.5]], dtype=dtype)
        return [k0, k1]
    ops = [torch.eye(2, dtype=dtype)]
    for strength, kind in ((amplitude, 'amplitude'), (phase, 'phase')):
        if strength:
            ops = [k @ o for o in ops for k in pair(strength, kind)]
    return ops
