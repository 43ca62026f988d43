"""Pauli-sum observables for circuit read-outs.

An observable is ``sum_k c_k P_k`` over Pauli strings ``P_k``, written
as qiskit writes them: the last character acts on qubit 0 (``'ZI'`` is
``Z`` on qubit 1). :func:`pauli_sum` accepts one label (``'ZZ'``), a
list of ``(label, coefficient)`` pairs, a qiskit ``SparsePauliOp``, the
read-out names ``'parity'`` (``Z...Z``) and ``'z'`` (``Z`` on qubit 0),
or a :class:`PauliSum`.

Expectations need no ``2**n x 2**n`` matrix: a Pauli string maps the
basis state ``|b>`` to ``i^{#Y} (-1)^{|b & z|} |b ^ x>`` (``x`` the
bits of its X and Y factors, ``z`` of its Z and Y factors), so
``<psi|P|psi>`` is one gather and one signed sum per term.

>>> import torch
>>> observable = pauli_sum([('ZI', 0.5), ('IZ', 0.5)], n_qubits=2)
>>> state = torch.tensor([[0, 1, 0, 0]], dtype=torch.complex128)   # |q1 q0> = |01>
>>> observable.expectation(state).tolist()
[0.0]
>>> pauli_sum('XX', 2).expectation(torch.full((1, 4), 0.5, dtype=torch.complex128)).tolist()
[1.0]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from qnlp.errors import ConfigError

#: The read-outs known by name, as Pauli strings of ``n`` qubits.
NAMED = {'parity': lambda n: 'Z' * n, 'z': lambda n: 'I' * (n - 1) + 'Z'}


@dataclass(frozen=True)
class PauliSum:
    """``sum_k coefficients[k] * labels[k]`` on ``n_qubits`` qubits
    (real coefficients: the observable is Hermitian)."""
    labels: tuple[str, ...]
    coefficients: tuple[float, ...]

    @property
    def n_qubits(self) -> int:
        return len(self.labels[0])

    @property
    def diagonal(self) -> bool:
        """Whether every term is made of ``I`` and ``Z`` only."""
        return not any(set(label) - set('IZ') for label in self.labels)

    def _masks(self, label: str) -> tuple[int, int, int]:
        """``(x, z, number of Y)`` bit masks of one string (qubit ``q``
        is bit ``q``: the label's last character)."""
        x = z = 0
        for qubit, letter in enumerate(reversed(label)):
            if letter in 'XY':
                x |= 1 << qubit
            if letter in 'ZY':
                z |= 1 << qubit
        return x, z, label.count('Y')

    def _term_signs(self, z: int, device: torch.device) -> torch.Tensor:
        """``(-1)^{|b & z|}`` for every basis state ``b``."""
        index = torch.arange(2 ** self.n_qubits, device=device)
        bits = index & z
        parity = torch.zeros_like(index)
        for qubit in range(self.n_qubits):
            parity ^= (bits >> qubit) & 1
        return 1 - 2 * parity

    def signs(self, dtype: torch.dtype = torch.float64,
              device: Any = None) -> torch.Tensor:
        """The eigenvalue on every basis state ``(2**n,)`` of a diagonal
        observable (``ValueError`` for any other).

        >>> pauli_sum('parity', 2).signs().tolist()
        [1.0, -1.0, -1.0, 1.0]
        """
        if not self.diagonal:
            raise ValueError("only an observable of I and Z is diagonal")
        device = torch.device('cpu' if device is None else device)
        total = torch.zeros(2 ** self.n_qubits, dtype=dtype, device=device)
        for label, c in zip(self.labels, self.coefficients):
            total = total + c * self._term_signs(self._masks(label)[1],
                                                 device).to(dtype)
        return total

    def matrix(self, dtype: torch.dtype = torch.complex128,
               device: Any = None) -> torch.Tensor:
        """The dense ``(2**n, 2**n)`` matrix (qiskit's order).

        >>> pauli_sum('XI', 2).matrix().real.tolist()[0]
        [0.0, 0.0, 1.0, 0.0]
        """
        size = 2 ** self.n_qubits
        eye = torch.eye(size, dtype=dtype, device=device)
        # column b of O is O|b>: the basis states are the rows of eye
        return self.apply(eye).T

    def apply(self, states: torch.Tensor) -> torch.Tensor:
        """``O |psi>`` for the rows of ``states`` ``(batch, 2**n)``."""
        out = torch.zeros_like(states)
        index = torch.arange(states.shape[-1], device=states.device)
        for label, c in zip(self.labels, self.coefficients):
            x, z, ys = self._masks(label)
            # (P psi)[b ^ x] = i^ys (-1)^{|b & z|} psi[b]
            phase = self._term_signs(z, states.device).to(states.dtype) \
                * (c * 1j ** ys)
            out = out + (states * phase)[:, index ^ x]
        return out

    def expectation(self, states: torch.Tensor) -> torch.Tensor:
        """``<psi|O|psi>`` (real) for the rows of ``states``,
        differentiable."""
        if self.diagonal:
            probabilities = states.real ** 2 + states.imag ** 2
            return probabilities @ self.signs(probabilities.dtype,
                                              states.device)
        return (states.conj() * self.apply(states)).sum(-1).real

    def to_qiskit(self) -> Any:
        """The same observable as a qiskit ``SparsePauliOp``."""
        from qiskit.quantum_info import SparsePauliOp
        return SparsePauliOp(list(self.labels), list(self.coefficients))


def pauli_sum(spec: Any, n_qubits: int) -> PauliSum:
    """The observable ``spec`` on ``n_qubits`` qubits (see the module);
    ``ConfigError`` naming what is wrong with it.

    >>> pauli_sum('z', 3).labels
    ('IIZ',)
    >>> pauli_sum([('XY', 1.0)], 3)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: observable term 'XY' acts on 2 qubits; the circuit has 3
    """
    if isinstance(spec, PauliSum):
        terms = list(zip(spec.labels, spec.coefficients))
    elif isinstance(spec, str):
        terms = [(NAMED[spec](n_qubits) if spec in NAMED else spec, 1.0)]
    elif hasattr(spec, 'to_list'):                  # qiskit SparsePauliOp
        terms = []
        for label, c in spec.to_list():
            if abs(complex(c).imag) > 1e-12:
                raise ConfigError(f"observable term {label!r} has the "
                                  f"complex coefficient {c}: not Hermitian")
            terms.append((label, complex(c).real))
    else:
        try:
            terms = [(str(label), float(c)) for label, c in spec]
        except (TypeError, ValueError):
            raise ConfigError(f"observable {spec!r}: give a Pauli string "
                              "('ZZ'), [(string, coefficient), ...], a "
                              "SparsePauliOp, 'parity' or 'z'") from None
    if not terms:
        raise ConfigError("observable has no terms")
    for label, _ in terms:
        if set(label) - set('IXYZ'):
            raise ConfigError(f"unknown readout {label!r}: give 'parity', "
                              "'z' or Pauli strings of I, X, Y, Z")
        if len(label) != n_qubits:
            raise ConfigError(f"observable term {label!r} acts on "
                              f"{len(label)} qubits; the circuit has "
                              f"{n_qubits}")
    return PauliSum(tuple(label for label, _ in terms),
                    tuple(float(c) for _, c in terms))
