"""Noise models: which Kraus channels follow which gates.

A :class:`NoiseSpec` names the channels the exact noisy engine
(:mod:`qnlp.noise.density`) applies, and builds the same model for
qiskit-aer (:meth:`NoiseSpec.to_aer`) so the two can be compared:

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
times better on today's devices).

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

from qnlp.errors import ConfigError

#: Gate names (qiskit's) the engine simulates: ``rz`` is noiseless.
ONE_QUBIT_NOISY = ('rx', 'ry')
TWO_QUBIT = ('cx',)


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

    def to_aer(self) -> Any:
        """The same model as a qiskit-aer ``NoiseModel`` on the gates
        ``rx``, ``ry``, ``rz`` and ``cx`` (run without transpiling).

        >>> sorted(NoiseSpec(p2=0.01).to_aer().noise_instructions)
        ['cx']
        """
        from qiskit_aer.noise import (NoiseModel, ReadoutError,
                                      amplitude_damping_error,
                                      depolarizing_error,
                                      phase_damping_error)
        model = NoiseModel(basis_gates=['rx', 'ry', 'rz', 'cx'])

        def local() -> Any:
            error = None
            for strength, make in ((self.amplitude, amplitude_damping_error),
                                   (self.phase, phase_damping_error)):
                if strength:
                    part = make(strength)
                    error = part if error is None else error.compose(part)
            return error

        for qubits, strength, names in ((1, self.p1, ONE_QUBIT_NOISY),
                                        (2, self.p2, TWO_QUBIT)):
            error = depolarizing_error(strength, qubits) if strength \
                else None
            each = local()
            if each is not None:
                both = each if qubits == 1 else each.tensor(each)
                error = both if error is None else error.compose(both)
            if error is not None:
                model.add_all_qubit_quantum_error(error, list(names))
        if self.readout:
            r = self.readout
            model.add_all_qubit_readout_error(
                ReadoutError([[1 - r, r], [r, 1 - r]]))
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
