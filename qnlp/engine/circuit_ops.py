"""Batched statevector operations for fixed-shape layered circuits (the
image layers): functions on ``(..., 2**n)`` tensors, where
:class:`qnlp.engine.statevector.Statevector` is the object API used by the
VQC and kernels.


States are complex tensors ``(..., 2**n)`` whose leading dimensions are
any batch (samples, circuits); wire 0 is the most significant bit (the
PennyLane and textbook order). Gates are ``(..., 2, 2)`` tensors that
broadcast against the state's leading dimensions, so one call applies a
gate to every sample and every circuit at once; everything is plain torch,
so gradients are exact.

>>> import math, torch
>>> state = product_state(angle_states(torch.tensor([[math.pi, 0.0]]), 'ry'))
>>> [round(v, 6) for v in expval_z(state, 2)[0].tolist()]
[-1.0, 1.0]
>>> state = apply_permutation(state, cnot_permutation(0, 1, 2))
>>> [round(v, 6) for v in expval_z(state, 2)[0].tolist()]
[-1.0, -1.0]
"""
from __future__ import annotations

import functools

import torch

from qnlp.errors import ConfigError

#: Angle encodings: the rotation that writes each input on its qubit
#: (``hrz``: a Hadamard, then RZ; re-uploads repeat only the RZ).
ENCODINGS = ('rx', 'ry', 'hrz')


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype in (torch.float64, torch.complex128) \
        else torch.complex64


def rx(theta: torch.Tensor) -> torch.Tensor:
    """RX(theta) = exp(-i theta X / 2), shape ``theta.shape + (2, 2)``."""
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    zero = torch.zeros_like(c)
    real = torch.stack([torch.stack([c, zero], -1),
                        torch.stack([zero, c], -1)], -2)
    imag = torch.stack([torch.stack([zero, -s], -1),
                        torch.stack([-s, zero], -1)], -2)
    return torch.complex(real, imag)


def ry(theta: torch.Tensor) -> torch.Tensor:
    """RY(theta) = exp(-i theta Y / 2), shape ``theta.shape + (2, 2)``."""
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    real = torch.stack([torch.stack([c, -s], -1),
                        torch.stack([s, c], -1)], -2)
    return torch.complex(real, torch.zeros_like(real))


def rz(theta: torch.Tensor) -> torch.Tensor:
    """RZ(theta) = diag(exp(-i theta/2), exp(i theta/2))."""
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    zero = torch.zeros_like(c)
    real = torch.stack([torch.stack([c, zero], -1),
                        torch.stack([zero, c], -1)], -2)
    imag = torch.stack([torch.stack([-s, zero], -1),
                        torch.stack([zero, s], -1)], -2)
    return torch.complex(real, imag)


GATES = {'rx': rx, 'ry': ry, 'rz': rz}


def rotation(angles: torch.Tensor, axes: str) -> torch.Tensor:
    """Product of rotations about ``axes`` (first axis applied first).

    ``angles`` has a last dimension of ``len(axes)``; ``axes='zyz'`` is
    PennyLane's ``Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)``.

    >>> import torch
    >>> u = rotation(torch.tensor([0.3, 0.5, 0.7]), 'zyz')
    >>> bool(torch.allclose(u @ u.conj().T, torch.eye(2, dtype=u.dtype),
    ...                     atol=1e-6))
    True
    """
    if angles.shape[-1] != len(axes):
        raise ConfigError(f"rotation {axes!r} takes {len(axes)} angles, "
                          f"got {angles.shape[-1]}")
    if axes == 'zyz':
        return rot(angles[..., 0], angles[..., 1], angles[..., 2])
    matrix = GATES['r' + axes[0]](angles[..., 0])
    for i, axis in enumerate(axes[1:], start=1):
        matrix = GATES['r' + axis](angles[..., i]) @ matrix
    return matrix


def rot(phi: torch.Tensor, theta: torch.Tensor,
        omega: torch.Tensor) -> torch.Tensor:
    """``RZ(omega) RY(theta) RZ(phi)`` in closed form (fewer operations).

    >>> import torch
    >>> a = torch.tensor([0.3, 0.5, 0.7])
    >>> direct = rz(a[2]) @ ry(a[1]) @ rz(a[0])
    >>> bool(torch.allclose(rot(a[0], a[1], a[2]), direct, atol=1e-6))
    True
    """
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    plus, minus = (phi + omega) / 2, (phi - omega) / 2
    cp, sp = torch.cos(plus), torch.sin(plus)
    cm, sm = torch.cos(minus), torch.sin(minus)
    real = torch.stack([c * cp, -s * cm, s * cm, c * cp], -1)
    imag = torch.stack([-c * sp, -s * sm, -s * sm, c * sp], -1)
    return torch.complex(real, imag).unflatten(-1, (2, 2))


def angle_states(angles: torch.Tensor, encoding: str = 'ry') -> torch.Tensor:
    """One-qubit states ``R(angle)|0>``: ``angles (..., n)`` -> ``(..., n, 2)``.

    Computed in closed form (no matrices), complex of ``angles``' precision;
    ``hrz`` gives ``RZ(angle) H|0>``.
    """
    if encoding not in ENCODINGS:
        raise ConfigError(f"unknown encoding {encoding!r}; choose one of "
                          f"{', '.join(ENCODINGS)}")
    c, s = torch.cos(angles / 2), torch.sin(angles / 2)
    zero = torch.zeros_like(c)
    if encoding == 'ry':
        return torch.complex(torch.stack([c, s], -1),
                             torch.stack([zero, zero], -1))
    if encoding == 'rx':
        return torch.complex(torch.stack([c, zero], -1),
                             torch.stack([zero, -s], -1))
    r = 2 ** -0.5
    return torch.complex(torch.stack([c * r, c * r], -1),
                         torch.stack([-s * r, s * r], -1))


def product_state(qubits: torch.Tensor) -> torch.Tensor:
    """Tensor product of one-qubit states ``(..., n, 2)`` -> ``(..., 2**n)``."""
    state = qubits[..., 0, :]
    for q in range(1, qubits.shape[-2]):
        state = (state.unsqueeze(-1) * qubits[..., q, None, :]).flatten(-2)
    return state


def kron(matrices: torch.Tensor) -> torch.Tensor:
    """Kronecker product of ``(..., n, 2, 2)`` -> ``(..., 2**n, 2**n)``."""
    result = matrices[..., 0, :, :]
    for q in range(1, matrices.shape[-3]):
        right = matrices[..., q, :, :]
        shape = result.shape[:-2] + (result.shape[-2] * 2,
                                     result.shape[-1] * 2)
        result = (result[..., :, None, :, None]
                  * right[..., None, :, None, :]).reshape(shape)
    return result


def apply_gate(state: torch.Tensor, gate: torch.Tensor, wire: int,
               n_qubits: int) -> torch.Tensor:
    """Apply a one-qubit ``gate (..., 2, 2)`` on ``wire`` of ``state``."""
    lead = state.shape[:-1]
    view = state.reshape(*lead, 2 ** wire, 2, 2 ** (n_qubits - wire - 1))
    out = torch.einsum('...ab,...xbz->...xaz', gate, view)
    return out.reshape(*out.shape[:-3], 2 ** n_qubits)


@functools.lru_cache(maxsize=None)
def cnot_permutation(control: int, target: int, n_qubits: int
                     ) -> torch.Tensor:
    """Index map of CNOT: ``new_state = state[..., perm]``."""
    if control == target:
        raise ConfigError("CNOT control and target must differ")
    index = torch.arange(2 ** n_qubits)
    cbit = (index >> (n_qubits - 1 - control)) & 1
    return index ^ (cbit << (n_qubits - 1 - target))


def entangler_pairs(kind: str, n_qubits: int) -> list[tuple[int, int]]:
    """CNOT (control, target) pairs of an entangling layer.

    ``ring``: i -> i+1 and n-1 -> 0 (as ``StronglyEntanglingLayers``);
    ``linear``: i -> i+1; ``none``: no gates.

    >>> entangler_pairs('ring', 3), entangler_pairs('linear', 3)
    ([(0, 1), (1, 2), (2, 0)], [(0, 1), (1, 2)])
    """
    if kind == 'none' or n_qubits < 2:
        return []
    if kind == 'linear' or (kind == 'ring' and n_qubits == 2):
        return [(i, i + 1) for i in range(n_qubits - 1)]
    if kind == 'ring':
        return [(i, (i + 1) % n_qubits) for i in range(n_qubits)]
    raise ConfigError(f"unknown entangler {kind!r}; choose ring, linear "
                      "or none")


def entangler_permutation(kind: str, n_qubits: int) -> torch.Tensor:
    """The whole CNOT layer as one index map (CNOTs permute amplitudes)."""
    perm = torch.arange(2 ** n_qubits)
    for control, target in entangler_pairs(kind, n_qubits):
        perm = perm[cnot_permutation(control, target, n_qubits)]
    return perm


def apply_permutation(state: torch.Tensor, perm: torch.Tensor
                      ) -> torch.Tensor:
    """Permute amplitudes: ``state[..., perm]``."""
    return state.index_select(-1, perm.to(state.device))


@functools.lru_cache(maxsize=None)
def z_signs(n_qubits: int, dtype: torch.dtype = torch.float64,
            device: torch.device = torch.device('cpu')) -> torch.Tensor:
    """``(2**n, n)`` matrix of the eigenvalue of Z_q on each basis state
    (made once per size, type and device: never modify it)."""
    index = torch.arange(2 ** n_qubits, device=device)
    bits = torch.stack([(index >> (n_qubits - 1 - q)) & 1
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
