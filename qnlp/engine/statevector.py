"""A small dense statevector simulator in torch, batched over samples.

For fixed circuits whose angles come from the data (VQC encodings,
kernel feature maps, image layers): a :class:`Statevector` holds one
state per sample, shape ``(batch, 2**n)``, and gates act on all of them
at once. Angles are either one number (a trainable weight shared by every
sample) or a ``(batch,)`` tensor (one angle per sample); both broadcast,
and torch autograd gives exact gradients through every gate.

Qubits are numbered as in qiskit (little-endian: qubit ``q`` is bit ``q``
of the basis-state index), so states compare directly with
``qiskit.quantum_info.Statevector``. The gates come from
:mod:`qnlp.engine.gates`, whose wire 0 is the most significant bit: the
one conversion is :func:`wire`, qiskit's qubit ``q`` of ``n`` is the
gate library's wire ``n - 1 - q``. Dense simulation is meant for small
registers (up to about 12 qubits); larger circuits belong to the tensor
network engine.

>>> import math, torch
>>> s = Statevector.zeros(2, 2).h(0).cx(0, 1)        # two Bell states
>>> s.probabilities().numpy().round(3).tolist()[0]
[0.5, 0.0, 0.0, 0.5]
>>> s = Statevector.zeros(3, 1).ry(torch.tensor([0.0, math.pi, math.pi / 2]), 0)
>>> [round(float(v), 6) + 0.0 for v in s.z(0)]
[1.0, -1.0, 0.0]
"""
from __future__ import annotations

from typing import Sequence

import torch

from qnlp.engine import gates
from qnlp.engine.device import real_dtype

Angle = float | torch.Tensor


def wire(qubit: int, n_qubits: int) -> int:
    """The gate library's wire of qiskit's ``qubit`` (the one place where
    this module turns its little-endian order into the library's).

    >>> [wire(q, 3) for q in range(3)]
    [2, 1, 0]
    """
    return n_qubits - 1 - qubit


def _angle(value: Angle, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a real tensor: one number or one per sample."""
    value = torch.as_tensor(value, dtype=real_dtype(like.dtype),
                            device=like.device)
    if value.dim() == 0:
        return value
    if value.dim() != 1 or value.shape[0] not in (1, like.shape[0]):
        raise ValueError(f"angles must be a number or one per sample "
                         f"({like.shape[0]}), got shape {tuple(value.shape)}")
    return value


class Statevector:
    """A batch of ``n``-qubit pure states; gate methods return ``self``.

    Methods change the state in place of the Python object but build new
    tensors, so autograd sees every step.
    """

    def __init__(self, amplitudes: torch.Tensor) -> None:
        if amplitudes.dim() != 2 or amplitudes.shape[1] & (
                amplitudes.shape[1] - 1):
            raise ValueError("amplitudes must have shape (batch, 2**n)")
        self.amplitudes = amplitudes
        self.n_qubits = amplitudes.shape[1].bit_length() - 1

    @classmethod
    def zeros(cls, batch: int, n_qubits: int,
              dtype: torch.dtype = torch.complex128,
              device: torch.device | str | None = None) -> "Statevector":
        """``batch`` copies of ``|0...0>`` (complex ``dtype``, on
        ``device``)."""
        amplitudes = torch.zeros(batch, 2 ** n_qubits, dtype=dtype,
                                 device=device)
        amplitudes[:, 0] = 1
        return cls(amplitudes)

    @classmethod
    def uniform(cls, batch: int, n_qubits: int,
                dtype: torch.dtype = torch.complex128,
                device: torch.device | str | None = None) -> "Statevector":
        """``batch`` copies of ``|+...+>`` (Hadamards on ``|0...0>``)."""
        amplitudes = torch.full((batch, 2 ** n_qubits),
                                2 ** (-n_qubits / 2), dtype=dtype,
                                device=device)
        return cls(amplitudes)

    @property
    def device(self) -> torch.device:
        """Where the amplitudes live."""
        return self.amplitudes.device

    @property
    def batch(self) -> int:
        return self.amplitudes.shape[0]

    def _bits(self, qubit: int) -> torch.Tensor:
        """Bit ``qubit`` of every basis-state index, as 0/1 integers."""
        return gates.wire_bits(self.n_qubits, wire(qubit, self.n_qubits),
                               self.device)

    def _split(self, qubit: int) -> torch.Tensor:
        """The amplitudes as ``(batch, before, 2, after)`` around
        ``qubit``."""
        if not 0 <= qubit < self.n_qubits:
            raise ValueError(f"qubit {qubit} out of range for "
                             f"{self.n_qubits} qubits")
        return self.amplitudes.reshape(self.batch, -1, 2, 2 ** qubit)

    # single-qubit gates ---------------------------------------------------
    def unitary(self, matrix: torch.Tensor, qubit: int) -> "Statevector":
        """Apply a ``(2, 2)`` or per-sample ``(batch, 2, 2)`` matrix."""
        view = self._split(qubit)                 # (batch, before, 2, after)
        matrix = matrix.to(self.amplitudes.dtype)
        if matrix.dim() == 3:
            matrix = matrix[:, None]
        self.amplitudes = (matrix @ view).reshape(self.batch, -1)
        return self

    def h(self, qubit: int) -> "Statevector":
        """Hadamard."""
        return self.unitary(gates.fixed('H', self.amplitudes.dtype,
                                        self.device), qubit)

    def x(self, qubit: int) -> "Statevector":
        """Pauli X."""
        return self.unitary(gates.fixed('X', self.amplitudes.dtype,
                                        self.device), qubit)

    def ry(self, theta: Angle, qubit: int) -> "Statevector":
        """``RY(theta) = exp(-i theta Y / 2)``."""
        return self.unitary(gates.ry(_angle(theta, self.amplitudes)), qubit)

    def rx(self, theta: Angle, qubit: int) -> "Statevector":
        """``RX(theta) = exp(-i theta X / 2)``."""
        return self.unitary(gates.rx(_angle(theta, self.amplitudes)), qubit)

    def rz(self, theta: Angle, qubit: int) -> "Statevector":
        """``RZ(theta) = diag(exp(-i theta/2), exp(i theta/2))``."""
        return self.unitary(gates.rz(_angle(theta, self.amplitudes)), qubit)

    def p(self, lam: Angle, qubit: int) -> "Statevector":
        """Phase gate ``P(lam) = diag(1, exp(i lam))``."""
        return self.unitary(gates.phase(_angle(lam, self.amplitudes)), qubit)

    # two-qubit and diagonal gates -----------------------------------------
    def cx(self, control: int, target: int) -> "Statevector":
        """Controlled X (a permutation of amplitudes)."""
        self._check_pair(control, target)
        n = self.n_qubits
        self.amplitudes = self.amplitudes[:, gates.cx_permutation(
            wire(control, n), wire(target, n), n, self.device)]
        return self

    def cz(self, a: int, b: int) -> "Statevector":
        """Controlled Z (diagonal: a sign on ``|..1..1..>``)."""
        self._check_pair(a, b)
        diagonal = gates.fixed('CZ', self.amplitudes.dtype,
                               self.device).diagonal()
        self.amplitudes = self.amplitudes * diagonal[2 * self._bits(a)
                                                     + self._bits(b)]
        return self

    def diagonal_phase(self, phases: torch.Tensor) -> "Statevector":
        """Multiply amplitude ``k`` by ``exp(i phases[..., k])``.

        ``phases`` has shape ``(2**n,)`` or ``(batch, 2**n)``: any
        diagonal circuit (Z rotations, ZZ interactions, the whole
        entangling block of the ZZ feature map) in one product.
        """
        phases = phases.to(self.amplitudes.real.dtype)
        self.amplitudes = self.amplitudes * torch.polar(
            torch.ones_like(phases), phases)
        return self

    def _check_pair(self, a: int, b: int) -> None:
        if a == b or not (0 <= a < self.n_qubits and 0 <= b < self.n_qubits):
            raise ValueError(f"bad qubit pair ({a}, {b}) for "
                             f"{self.n_qubits} qubits")

    # readout ----------------------------------------------------------------
    def probabilities(self) -> torch.Tensor:
        """``|amplitude|^2``, shape ``(batch, 2**n)``."""
        return self.amplitudes.real ** 2 + self.amplitudes.imag ** 2

    def z(self, qubit: int) -> torch.Tensor:
        """``<Z_qubit>`` per sample, shape ``(batch,)``."""
        signs = 1 - 2 * self._bits(qubit).to(self.amplitudes.real.dtype)
        return self.probabilities() @ signs

    def parity(self, qubits: Sequence[int] | None = None) -> torch.Tensor:
        """``<Z x Z x ... x Z>`` over ``qubits`` (default all)."""
        qubits = range(self.n_qubits) if qubits is None else qubits
        odd = torch.zeros(2 ** self.n_qubits, dtype=torch.long,
                          device=self.device)
        for q in qubits:
            odd = odd ^ self._bits(q)
        signs = 1 - 2 * odd.to(self.amplitudes.real.dtype)
        return self.probabilities() @ signs


def basis_bits(n_qubits: int, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> torch.Tensor:
    """A ``(2**n, n)`` 0/1 table of ``dtype``: bit ``q`` of each basis
    index.

    >>> basis_bits(2).tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    """
    device = torch.device('cpu' if device is None else device)
    return torch.stack([gates.wire_bits(n_qubits, wire(q, n_qubits), device)
                        for q in range(n_qubits)], dim=1).to(dtype)
