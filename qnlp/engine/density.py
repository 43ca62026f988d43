"""Density matrices and Pauli transfer matrices of small circuits.

The sequence classifiers (:mod:`qnlp.models.sequence`) evolve one- and
two-qubit density matrices through merge blocks: a block's unitary
(:func:`circuit_unitary`, gates from :mod:`qnlp.engine.gates`, wire 0
most significant), its merge map ``(a, b) -> Tr_2[U (a (x) b) U^dag]``
(:func:`merge_map`), and that map in the real Pauli basis
(:func:`pauli_basis`), where chains of merges are products of small real
matrices (:func:`small_matmul`).

>>> import math, torch
>>> swap = circuit_unitary([('SWAP', (0, 1), None)],
...                        torch.zeros(0, dtype=torch.float64), 2)
>>> keep_right = merge_map(swap)          # the swap keeps the second wire
>>> a = torch.tensor([1, 0, 0, 0], dtype=torch.complex128)   # |0><0|
>>> b = torch.tensor([0, 0, 0, 1], dtype=torch.complex128)   # |1><1|
>>> torch.einsum('xyz,y,z->x', keep_right, a, b).real.tolist()
[0.0, 0.0, 0.0, 1.0]
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import torch

from qnlp.engine.device import Device, complex_dtype
from qnlp.engine.gates import embed, fixed, gate

#: A gate of a circuit: name (of the gate library), wires, and the index
#: of its angle in the circuit's angle vector (``None`` for fixed gates).
CircuitGate = tuple[str, tuple[int, ...], int | None]


def circuit_unitary(gates: Sequence[CircuitGate], angles: torch.Tensor,
                    n_qubits: int) -> torch.Tensor:
    """The operator of ``gates`` applied in order on ``n_qubits`` wires,
    angles (radians) taken from ``angles`` (complex of their precision,
    on their device). A gate on several wires acts on consecutive wires
    from the lowest.

    >>> u = circuit_unitary([('H', (0,), None), ('RZ', (1,), 0)],
    ...                     torch.tensor([math.pi], dtype=torch.float64), 2)
    >>> torch.allclose(u, torch.kron(gate('H'), gate('RZ', math.pi)))
    True
    """
    cdtype = complex_dtype(angles.dtype)
    unitary = torch.eye(2 ** n_qubits, dtype=cdtype, device=angles.device)
    for name, wires, angle in gates:
        matrix = (gate(name, dtype=cdtype, device=angles.device)
                  if angle is None else gate(name, angles[angle]))
        unitary = embed(matrix, min(wires), n_qubits) @ unitary
    return unitary


def merge_map(unitary: torch.Tensor) -> torch.Tensor:
    """The merge ``(a, b) -> Tr_2[U (a (x) b) U^dag]`` as a tensor
    ``[d*d, d*d, d*d]`` acting on flattened density matrices: ``out =
    einsum('xyz,y,z->x', map, a, b)``."""
    d = int(math.isqrt(unitary.shape[0]))
    u = unitary.reshape(d, d, d, d)
    return torch.einsum('ijkl,pjmn->ipkmln', u, u.conj()).reshape(
        d * d, d * d, d * d)


#: The order of one qubit's Paulis in a real Pauli vector (the first
#: qubit most significant: index ``PAULI_ORDER.index(P) * 4 ** (n - 1)``
#: for ``P (x) I ...``).
PAULI_ORDER = 'IXYZ'


def pauli_basis(qubits: int, dtype: torch.dtype = torch.complex128,
                device: Device = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, B_inv)`` with ``r = B vec(rho)`` the real Pauli vector
    ``r_k = Tr(P_k rho)`` (first qubit most significant) and
    ``vec(rho) = B_inv r``, complex ``dtype`` on ``device``. Cached per
    qubit count, type and device: the tensors are shared, never modify
    them.

    >>> to_pauli, from_pauli = pauli_basis(1)
    >>> rho = torch.tensor([[1, 0], [0, 0]], dtype=torch.complex128)
    >>> (to_pauli @ rho.flatten()).real.tolist()   # I, X, Y, Z
    [1.0, 0.0, 0.0, 1.0]
    """
    return _pauli_basis(qubits, complex_dtype(dtype),
                        torch.device('cpu' if device is None else device))


@functools.lru_cache(maxsize=None)
def _pauli_basis(qubits: int, dtype: torch.dtype, device: torch.device
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    if dtype != torch.complex128 or device.type != 'cpu':
        return tuple(t.to(device=device, dtype=dtype)    # type: ignore
                     for t in _pauli_basis(qubits, torch.complex128,
                                           torch.device('cpu')))
    paulis = [fixed(name) for name in PAULI_ORDER]
    basis = paulis
    for _ in range(qubits - 1):
        basis = [torch.kron(a, b) for a in basis for b in paulis]
    to_pauli = torch.stack([p.T.flatten() for p in basis])
    from_pauli = torch.stack([p.flatten() for p in basis], 1) / 2 ** qubits
    return to_pauli, from_pauli


def small_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched product of many tiny matrices: for 4 x 4 blocks one
    broadcast multiply and sum (much faster than ``bmm``), else ``matmul``.

    >>> a = torch.rand(3, 4, 4, dtype=torch.float64)
    >>> torch.allclose(small_matmul(a, a), a @ a)
    True
    """
    if a.shape[-1] > 4:
        return a @ b
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)
