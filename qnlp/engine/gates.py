"""The gate library: every quantum gate of the package, defined once.

In the spirit of quimb's single gate registry, each simulator (the
statevector of :mod:`qnlp.engine.statevector`, the functions of
:mod:`qnlp.engine.circuit_ops`, the density matrices of
:mod:`qnlp.engine.density`) takes its gates from here.

Qubit order, the one convention of the package: wire 0 is the **most
significant** bit of a basis-state index (big-endian: the textbook,
PennyLane and lambeq order), in gate matrices and in states alike. ``CX``
with control wire 0 takes ``|10>`` (index 2) to ``|11>`` (index 3):

>>> gate('CX').real.int().tolist()
[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]
>>> wire_bits(2, 0).tolist()            # wire 0 of |00>, |01>, |10>, |11>
[0, 0, 1, 1]

qiskit numbers qubits the other way round (qubit ``q`` is bit ``q``,
little-endian); :func:`reverse_wires` writes a matrix in that order:

>>> reverse_wires(gate('CX')).real.int().tolist()    # qiskit's CXGate
[[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]]

Parametrised gates take angles in radians, a real tensor of any batch
shape, and give ``angles.shape + (2, 2)`` (one qubit) or ``(4, 4)`` (two
qubits) matrices, complex64 from float32 and complex128 from float64 (any
other input is read as float64), on the angles' device, differentiable:

>>> import math
>>> theta = torch.tensor([[0.0, math.pi]], dtype=torch.float32)
>>> rx(theta).shape, rx(theta).dtype
(torch.Size([1, 2, 2, 2]), torch.complex64)
>>> torch.allclose(rx(theta)[0, 1], -1j * gate('X', dtype=torch.complex64),
...                atol=1e-7)
True
"""
from __future__ import annotations

import functools
import math
from itertools import combinations
from typing import Callable, Sequence

import torch

from qnlp.engine.device import Device, complex_dtype
from qnlp.errors import ConfigError

#: 1/sqrt(2) as ``1 / math.sqrt(2)`` rounds it (one ulp below the nearest
#: double): the value the protein models were trained with.
_R = 1 / math.sqrt(2)

#: Fixed gates by name: their matrices (first wire most significant).
FIXED: dict[str, list[list[complex]]] = {
    'I': [[1, 0], [0, 1]],
    'X': [[0, 1], [1, 0]],
    'Y': [[0, -1j], [1j, 0]],
    'Z': [[1, 0], [0, -1]],
    'H': [[_R, _R], [_R, -_R]],
    'S': [[1, 0], [0, 1j]],
    'SDG': [[1, 0], [0, -1j]],
    'T': [[1, 0], [0, complex(_R, _R)]],
    'CX': [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]],
    'CZ': [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, -1]],
    'SWAP': [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
}


@functools.lru_cache(maxsize=None)
def fixed(name: str, dtype: torch.dtype = torch.complex128,
          device: torch.device = torch.device('cpu')) -> torch.Tensor:
    """The matrix of fixed gate ``name`` (a key of :data:`FIXED`), complex
    of ``dtype``'s precision, on ``device``; made once per type and device
    (shared: never modify it).

    >>> fixed('S').tolist()
    [[(1+0j), 0j], [0j, 1j]]
    """
    return torch.tensor(FIXED[name], dtype=complex_dtype(dtype),
                        device=device)


def _angles(theta: torch.Tensor | float) -> torch.Tensor:
    """``theta`` as a real floating tensor (float64 unless it is one)."""
    if torch.is_tensor(theta) and theta.is_floating_point():
        return theta
    return torch.as_tensor(theta, dtype=torch.float64)


def _matrix(real: list[torch.Tensor], imag: list[torch.Tensor]
            ) -> torch.Tensor:
    """A batch of 2 x 2 matrices from their entries (row by row), each a
    real tensor of the batch's shape."""
    return torch.complex(torch.stack(real, -1),
                         torch.stack(imag, -1)).unflatten(-1, (2, 2))


def rx(theta: torch.Tensor | float) -> torch.Tensor:
    """``RX(theta) = exp(-i theta X / 2)``.

    >>> (rx(math.pi).numpy().round(6) + 0).tolist()
    [[0j, -1j], [-1j, 0j]]
    """
    theta = _angles(theta)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    zero = torch.zeros_like(c)
    return _matrix([c, zero, zero, c], [zero, -s, -s, zero])


def ry(theta: torch.Tensor | float) -> torch.Tensor:
    """``RY(theta) = exp(-i theta Y / 2)`` (real).

    >>> (ry(math.pi).real.round() + 0).tolist()
    [[0.0, -1.0], [1.0, 0.0]]
    """
    theta = _angles(theta)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    zero = torch.zeros_like(c)
    return _matrix([c, -s, s, c], [zero, zero, zero, zero])


def rz(theta: torch.Tensor | float) -> torch.Tensor:
    """``RZ(theta) = exp(-i theta Z / 2) = diag(e^(-i theta/2),
    e^(i theta/2))``.

    >>> (rz(math.pi).numpy().round(6) + 0).tolist()
    [[-1j, 0j], [0j, 1j]]
    """
    theta = _angles(theta)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    zero = torch.zeros_like(c)
    return _matrix([c, zero, zero, c], [-s, zero, zero, s])


def phase(lam: torch.Tensor | float) -> torch.Tensor:
    """The phase gate ``P(lam) = diag(1, e^(i lam))`` (qiskit's ``p``).

    >>> (phase(math.pi / 2).numpy().round(6) + 0).tolist()
    [[(1+0j), 0j], [0j, 1j]]
    """
    lam = _angles(lam)
    zero, one = torch.zeros_like(lam), torch.ones_like(lam)
    return _matrix([one, zero, zero, torch.cos(lam)],
                   [zero, zero, zero, torch.sin(lam)])


def rot(phi: torch.Tensor | float, theta: torch.Tensor | float,
        omega: torch.Tensor | float) -> torch.Tensor:
    """``RZ(omega) RY(theta) RZ(phi)`` in closed form (PennyLane's
    ``Rot``; fewer operations than the product).

    >>> a = torch.tensor([0.3, 0.5, 0.7])
    >>> direct = rz(a[2]) @ ry(a[1]) @ rz(a[0])
    >>> torch.allclose(rot(a[0], a[1], a[2]), direct, atol=1e-6)
    True
    """
    phi, theta, omega = _angles(phi), _angles(theta), _angles(omega)
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    plus, minus = (phi + omega) / 2, (phi - omega) / 2
    cp, sp = torch.cos(plus), torch.sin(plus)
    cm, sm = torch.cos(minus), torch.sin(minus)
    return _matrix([c * cp, -s * cm, s * cm, c * cp],
                   [-c * sp, -s * sm, -s * sm, c * sp])


def _interaction(pauli: str, theta: torch.Tensor | float) -> torch.Tensor:
    """``exp(-i theta P (x) P / 2) = cos(theta/2) I - i sin(theta/2) P (x)
    P`` for the Pauli ``P`` named ``pauli`` (``P (x) P`` squares to I)."""
    theta = _angles(theta)
    generator = fixed(pauli, theta.dtype, theta.device)
    generator = torch.kron(generator, generator)
    eye = torch.eye(4, dtype=theta.dtype, device=theta.device)
    c = torch.cos(theta / 2)[..., None, None]
    s = torch.sin(theta / 2)[..., None, None]
    return torch.complex(c * eye + s * generator.imag, -s * generator.real)


def rxx(theta: torch.Tensor | float) -> torch.Tensor:
    """``RXX(theta) = exp(-i theta X (x) X / 2)``.

    >>> (rxx(math.pi)[0].numpy().round(6) + 0).tolist()
    [0j, 0j, 0j, -1j]
    """
    return _interaction('X', theta)


def ryy(theta: torch.Tensor | float) -> torch.Tensor:
    """``RYY(theta) = exp(-i theta Y (x) Y / 2)``.

    >>> (ryy(math.pi)[0].numpy().round(6) + 0).tolist()
    [0j, 0j, 0j, 1j]
    """
    return _interaction('Y', theta)


def rzz(theta: torch.Tensor | float) -> torch.Tensor:
    """``RZZ(theta) = exp(-i theta Z (x) Z / 2)`` (diagonal).

    >>> (rzz(math.pi).diagonal().numpy().round(6) + 0).tolist()
    [-1j, 1j, 1j, -1j]
    """
    return _interaction('Z', theta)


#: Parametrised gates by name: functions of their angles (radians).
PARAMETRISED: dict[str, Callable[..., torch.Tensor]] = {
    'RX': rx, 'RY': ry, 'RZ': rz, 'P': phase, 'ROT': rot,
    'RXX': rxx, 'RYY': ryy, 'RZZ': rzz,
}


def gate(name: str, *angles: torch.Tensor | float,
         dtype: torch.dtype = torch.complex128,
         device: Device = None) -> torch.Tensor:
    """Any gate by name (case-insensitive): a fixed gate of :data:`FIXED`
    (complex ``dtype``, on ``device``) or a parametrised one of
    :data:`PARAMETRISED` on ``angles`` (which set type and device).

    >>> gate('rz', torch.tensor([0.0, 1.0])).shape
    torch.Size([2, 2, 2])
    >>> gate('swap')[1].real.tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    key = name.upper()
    if key in FIXED and not angles:
        return fixed(key, dtype, torch.device('cpu' if device is None
                                              else device))
    if key in PARAMETRISED and angles:
        return PARAMETRISED[key](*angles)
    raise ConfigError(f"unknown gate {name!r} with {len(angles)} angles; "
                      f"known: {', '.join([*FIXED, *PARAMETRISED])}")


def rotation(angles: torch.Tensor, axes: str) -> torch.Tensor:
    """Product of rotations about ``axes`` (first axis applied first).

    ``angles`` has a last dimension of ``len(axes)``; ``axes='zyz'`` is
    :func:`rot`, PennyLane's ``Rot(phi, theta, omega)``.

    >>> u = rotation(torch.tensor([0.3, 0.5, 0.7]), 'zyz')
    >>> torch.allclose(u @ u.conj().T, torch.eye(2, dtype=u.dtype), atol=1e-6)
    True
    >>> torch.equal(rotation(torch.tensor([0.3, 0.5]), 'xy'),
    ...             ry(torch.tensor(0.5)) @ rx(torch.tensor(0.3)))
    True
    """
    if angles.shape[-1] != len(axes):
        raise ConfigError(f"rotation {axes!r} takes {len(axes)} angles, "
                          f"got {angles.shape[-1]}")
    if axes == 'zyz':
        return rot(angles[..., 0], angles[..., 1], angles[..., 2])
    matrix = gate('R' + axes[0], angles[..., 0])
    for i, axis in enumerate(axes[1:], start=1):
        matrix = gate('R' + axis, angles[..., i]) @ matrix
    return matrix


#: ``gate |ket>`` in closed form, by (gate, ket): ``c, s, zero =
#: cos(theta/2), sin(theta/2), 0`` to the real and imaginary parts of the
#: two amplitudes.
_KETS: dict[tuple[str, str], Callable[..., tuple[list[torch.Tensor],
                                                 list[torch.Tensor]]]] = {
    ('RY', '0'): lambda c, s, zero: ([c, s], [zero, zero]),
    ('RX', '0'): lambda c, s, zero: ([c, zero], [zero, -s]),
    ('RZ', '+'): lambda c, s, zero: ([c * _R, c * _R], [-s * _R, s * _R]),
}


def rotated_ket(name: str, theta: torch.Tensor | float,
                ket: str = '0') -> torch.Tensor:
    """``gate(name, theta) |ket>`` (``ket`` ``0`` or ``+``), shape
    ``theta.shape + (2,)``: the one-qubit states of angle encodings, in
    closed form for ``RY|0>``, ``RX|0>`` and ``RZ|+>`` (no matrices).

    >>> (rotated_ket('RY', math.pi).real.round() + 0).tolist()
    [0.0, 1.0]
    >>> torch.allclose(rotated_ket('RZ', 0.3, '+'),
    ...                gate('RZ', 0.3) @ gate('H')[:, 0])
    True
    """
    theta = _angles(theta)
    closed_form = _KETS.get((name.upper(), ket))
    if closed_form is None:
        start = gate('H' if ket == '+' else 'I', dtype=theta.dtype,
                     device=theta.device)[:, 0]
        return gate(name, theta) @ start
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    real, imag = closed_form(c, s, torch.zeros_like(c))
    return torch.complex(torch.stack(real, -1), torch.stack(imag, -1))


# wires and bits ------------------------------------------------------------
def reverse_wires(matrix: torch.Tensor) -> torch.Tensor:
    """A gate matrix ``(..., 2**k, 2**k)`` written with its wires in the
    opposite order: between this module's convention and qiskit's.

    >>> torch.equal(reverse_wires(reverse_wires(gate('CX'))), gate('CX'))
    True
    """
    k = matrix.shape[-1].bit_length() - 1
    lead = matrix.shape[:-2]
    wires = list(range(len(lead), len(lead) + 2 * k))
    order = [*range(len(lead)), *wires[k - 1::-1], *wires[:k - 1:-1]]
    return matrix.reshape(*lead, *[2] * (2 * k)).permute(order).reshape(
        matrix.shape)


@functools.lru_cache(maxsize=None)
def wire_bits(n_qubits: int, wire: int,
              device: torch.device = torch.device('cpu')) -> torch.Tensor:
    """Bit of ``wire`` (0 = most significant) in every basis-state index,
    ``(2**n,)`` 0/1 integers (cached: never modify them).

    >>> wire_bits(3, 2).tolist()
    [0, 1, 0, 1, 0, 1, 0, 1]
    """
    return (torch.arange(2 ** n_qubits, device=device)
            >> (n_qubits - 1 - wire)) & 1


@functools.lru_cache(maxsize=None)
def cx_permutation(control: int, target: int, n_qubits: int,
                   device: torch.device = torch.device('cpu')
                   ) -> torch.Tensor:
    """``CX`` on wires ``control``, ``target`` of ``n_qubits`` as an index
    map: ``new_state = state[..., perm]`` (cached: never modify it).

    >>> cx_permutation(0, 1, 2).tolist()
    [0, 1, 3, 2]
    """
    if control == target:
        raise ConfigError("CNOT control and target must differ")
    index = torch.arange(2 ** n_qubits, device=device)
    return index ^ (wire_bits(n_qubits, control, device)
                    << (n_qubits - 1 - target))


def cx_layer_permutation(pairs: Sequence[tuple[int, int]], n_qubits: int,
                         device: torch.device = torch.device('cpu')
                         ) -> torch.Tensor:
    """CX gates on wire ``pairs`` (control, target), applied in order, as
    one index map (CX gates permute amplitudes).

    >>> cx_layer_permutation([(0, 1), (1, 0)], 2).tolist()
    [0, 2, 3, 1]
    """
    perm = torch.arange(2 ** n_qubits, device=device)
    for control, target in pairs:
        perm = perm[cx_permutation(control, target, n_qubits, device)]
    return perm


def kron(matrices: torch.Tensor) -> torch.Tensor:
    """Tensor product of one-qubit gates ``(..., n, 2, 2)`` on wires
    ``0..n-1`` -> ``(..., 2**n, 2**n)`` (wire 0 most significant).

    >>> torch.equal(kron(torch.stack([gate('X'), gate('I')])),
    ...             torch.kron(gate('X'), gate('I')))
    True
    """
    if matrices.dim() == 3 and not (torch.is_grad_enabled()
                                    and matrices.requires_grad):
        # one product without autograd: torch's own kernel is faster
        result = matrices[0]
        for right in matrices[1:]:
            result = torch.kron(result, right)
        return result
    result = matrices[..., 0, :, :]
    for q in range(1, matrices.shape[-3]):
        right = matrices[..., q, :, :]
        shape = result.shape[:-2] + (result.shape[-2] * 2,
                                     result.shape[-1] * 2)
        result = (result[..., :, None, :, None]
                  * right[..., None, :, None, :]).reshape(shape)
    return result


def embed(matrix: torch.Tensor, first: int, n_qubits: int) -> torch.Tensor:
    """``I (x) matrix (x) I``: a ``(2**k, 2**k)`` gate on wires ``first,
    ..., first + k - 1`` of ``n_qubits``.

    >>> torch.equal(embed(gate('CX'), 1, 3),
    ...             torch.kron(gate('I'), gate('CX')))
    True
    """
    span = matrix.shape[0].bit_length() - 1
    before = torch.eye(2 ** first, dtype=matrix.dtype, device=matrix.device)
    after = torch.eye(2 ** (n_qubits - first - span), dtype=matrix.dtype,
                      device=matrix.device)
    return torch.kron(torch.kron(before, matrix), after)


# entangling layers ---------------------------------------------------------
#: Entangler kinds: ``ring`` closes the line last (PennyLane's
#: ``StronglyEntanglingLayers``), ``circular`` first (qiskit's).
ENTANGLERS = ('none', 'linear', 'reverse_linear', 'ring', 'circular',
              'full')


def entangler_pairs(kind: str, n_qubits: int) -> list[tuple[int, int]]:
    """``(control, target)`` wire pairs of an entangling layer, in order.

    ``linear``: ``i -> i+1``; ``reverse_linear``: the same backwards;
    ``ring``: linear, then ``n-1 -> 0``; ``circular``: ``n-1 -> 0``, then
    linear (the closing pair only from three qubits on); ``full``: every
    pair ``i < j``; ``none``: no gates.

    >>> entangler_pairs('ring', 3), entangler_pairs('circular', 3)
    ([(0, 1), (1, 2), (2, 0)], [(2, 0), (0, 1), (1, 2)])
    >>> entangler_pairs('full', 3), entangler_pairs('ring', 2)
    ([(0, 1), (0, 2), (1, 2)], [(0, 1)])
    """
    linear = [(i, i + 1) for i in range(n_qubits - 1)]
    closing = [(n_qubits - 1, 0)] if n_qubits > 2 else []
    pairs = {'none': [], 'linear': linear, 'reverse_linear': linear[::-1],
             'ring': linear + closing, 'circular': closing + linear}
    if kind == 'full':
        return list(combinations(range(n_qubits), 2))
    if kind not in pairs:
        raise ConfigError(f"unknown entangler {kind!r}; choose one of "
                          f"{', '.join(ENTANGLERS)}")
    return pairs[kind]
