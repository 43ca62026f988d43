"""Batched statevector operations for fixed-shape layered circuits (the
image layers): functions on ``(..., 2**n)`` tensors, where
:class:`qnlp.engine.statevector.Statevector` is the object API used by the
VQC and kernels.

States are complex tensors ``(..., 2**n)`` whose leading dimensions are
any batch (samples, circuits); qubits are in the order of the gate library
:mod:`qnlp.engine.gates` (wire 0 is the most significant bit), whose
gates these functions apply. Gates are ``(..., 2, 2)`` tensors that
broadcast against the state's leading dimensions, so one call applies a
gate to every sample and every circuit at once; everything is plain torch,
so gradients are exact.

>>> import math, torch
>>> state = product_state(angle_states(torch.tensor([[math.pi, 0.0]]), 'ry'))
>>> [round(v, 6) for v in expval_z(state, 2)[0].tolist()]
[-1.0, 1.0]
>>> state = apply_permutation(state, gates.cx_permutation(0, 1, 2))
>>> [round(v, 6) for v in expval_z(state, 2)[0].tolist()]
[-1.0, -1.0]
"""
from __future__ import annotations

import functools

import torch

from qnlp.engine import gates
from qnlp.engine.gates import (cx_layer_permutation, entangler_pairs,
                               wire_bits)
from qnlp.errors import ConfigError

#: Angle encodings: the rotation that writes each input on its qubit
#: (``hrz``: a Hadamard, then RZ; re-uploads repeat only the RZ).
ENCODINGS = ('rx', 'ry', 'hrz')


def angle_states(angles: torch.Tensor, encoding: str = 'ry') -> torch.Tensor:
    """One-qubit states ``R(angle)|0>``: ``angles (..., n)`` -> ``(..., n, 2)``,
    complex of ``angles``' precision: ``RX|0>``, ``RY|0>`` or for ``hrz``
    ``RZ H|0>``, in closed form (:func:`~qnlp.engine.gates.rotated_ket`).

    >>> angle_states(torch.tensor([[0.0, 0.0]]), 'ry').real.tolist()
    [[[1.0, 0.0], [1.0, 0.0]]]
    """
    if encoding not in ENCODINGS:
        raise ConfigError(f"unknown encoding {encoding!r}; choose one of "
                          f"{', '.join(ENCODINGS)}")
    if encoding == 'hrz':
        return gates.rotated_ket('RZ', angles, '+')
    return gates.rotated_ket('R' + encoding[-1], angles)


def product_state(qubits: torch.Tensor) -> torch.Tensor:
    """Tensor product of one-qubit states ``(..., n, 2)`` -> ``(..., 2**n)``."""
    state = qubits[..., 0, :]
    for q in range(1, qubits.shape[-2]):
        state = (state.unsqueeze(-1) * qubits[..., q, None, :]).flatten(-2)
    return state


def apply_gate(state: torch.Tensor, gate: torch.Tensor, wire: int,
               n_qubits: int) -> torch.Tensor:
    """Apply a one-qubit ``gate (..., 2, 2)`` on ``wire`` of ``state``."""
    lead = state.shape[:-1]
    view = state.reshape(*lead, 2 ** wire, 2, 2 ** (n_qubits - wire - 1))
    out = torch.einsum('...ab,...xbz->...xaz', gate, view)
    return out.reshape(*out.shape[:-3], 2 ** n_qubits)


def apply_local(state: torch.Tensor, matrices: torch.Tensor, n_qubits: int,
                block: int = 4) -> torch.Tensor:
    """One-qubit gates ``(..., n, 2, 2)`` on every wire (wire ``w`` gets
    ``matrices[..., w, :, :]``), fused: the gates of each run of ``block``
    consecutive wires as one Kronecker product, one pass over the state.

    >>> state = product_state(angle_states(torch.rand(3, 5), 'ry'))
    >>> gates_ = gates.rotation(torch.rand(5, 3), 'zyz')
    >>> one_by_one = state
    >>> for w in range(5):
    ...     one_by_one = apply_gate(one_by_one, gates_[w], w, 5)
    >>> bool(torch.allclose(apply_local(state, gates_, 5, 2), one_by_one))
    True
    """
    lead = state.shape[:-1]
    for first in range(0, n_qubits, block):
        span = min(block, n_qubits - first)
        matrix = gates.kron(matrices[..., first:first + span, :, :])
        view = state.reshape(*lead, 2 ** first, 2 ** span,
                             2 ** (n_qubits - first - span))
        state = (matrix.unsqueeze(-3) @ view).reshape(*lead, 2 ** n_qubits)
    return state


def entangler_permutation(kind: str, n_qubits: int) -> torch.Tensor:
    """The CX layer :func:`~qnlp.engine.gates.entangler_pairs` ``(kind,
    n_qubits)`` as one index map (CX gates permute amplitudes)."""
    return cx_layer_permutation(entangler_pairs(kind, n_qubits), n_qubits)


def apply_permutation(state: torch.Tensor, perm: torch.Tensor
                      ) -> torch.Tensor:
    """Permute amplitudes: ``state[..., perm]``."""
    return state.index_select(-1, perm.to(state.device))


@functools.lru_cache(maxsize=None)
def z_signs(n_qubits: int, dtype: torch.dtype = torch.float64,
            device: torch.device = torch.device('cpu')) -> torch.Tensor:
    """``(2**n, n)`` matrix of the eigenvalue of Z_q on each basis state
    (made once per size, type and device: never modify it)."""
    bits = torch.stack([wire_bits(n_qubits, q, device)
                        for q in range(n_qubits)], -1)
    return (1 - 2 * bits).to(dtype)


def probabilities(state: torch.Tensor) -> torch.Tensor:
    """Born probabilities ``|amplitude|**2`` (real)."""
    return state.real ** 2 + state.imag ** 2


def expval_z(state: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """<Z_q> for every qubit: ``(..., 2**n)`` -> ``(..., n)``."""
    probs = probabilities(state)
    flat = probs.reshape(-1, probs.shape[-1])  # one matmul, no broadcasting
    return (flat @ z_signs(n_qubits, probs.dtype, probs.device)).reshape(
        *probs.shape[:-1], n_qubits)
