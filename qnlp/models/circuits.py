"""Feature maps, ansätze and readouts for fixed-shape data circuits.

Feature maps put one sample's features ``x`` (angles, shape ``(batch,
n)``) into a batch of states; ansätze apply trainable rotations shared by
every sample. All act on :class:`~qnlp.engine.statevector.Statevector`
and match qiskit's circuits gate for gate (:meth:`to_qiskit` builds the
same circuit), with qiskit's qubit and parameter order:

* :class:`AngleEncoding`: ``RY(x_i)`` (or ``RX``) on qubit ``i``;
* :class:`ZZFeatureMap`: Havlicek et al.'s map, as qiskit's
  ``zz_feature_map``: per repetition, Hadamards, ``P(alpha x_i)`` and
  ``CX-P(alpha (pi - x_i)(pi - x_j))-CX`` on entangled pairs. The whole
  entangling block is diagonal, so it is applied as one elementwise phase;
* :class:`EfficientSU2`: ``RY``/``RZ`` layers with ``CX`` entanglers
  (``linear``, ``reverse_linear``, ``circular``, ``full``), as qiskit's
  ``efficient_su2(n, ['ry', 'rz'])``.

>>> import torch
>>> x = torch.rand(4, 3, dtype=torch.float64)
>>> state = ZZFeatureMap(3, reps=2).state(x)
>>> ansatz = EfficientSU2(3, reps=1, entanglement='circular')
>>> ansatz.n_weights
12
>>> out = readout(ansatz.apply(state, torch.zeros(12)), 'parity')
>>> tuple(out.shape)
(4,)
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qnlp.engine import gates
from qnlp.engine.device import complex_dtype
from qnlp.engine.gates import entangler_pairs, kron
from qnlp.engine.statevector import Statevector, basis_bits, cx_layer, permute
from qnlp import choices
from qnlp.choices import ENTANGLEMENTS, READOUTS
from qnlp.errors import ConfigError


def _check_entanglement(entanglement: str) -> None:
    """Refuse an entanglement that qiskit's circuits do not know."""
    if entanglement not in ENTANGLEMENTS:
        raise ConfigError(f"unknown entanglement {entanglement!r}; choose "
                          f"from {', '.join(ENTANGLEMENTS)}")


def _check_features(x: torch.Tensor, n_qubits: int,
                    like: Statevector | None = None) -> torch.Tensor:
    """``x`` as a real tensor: in the precision and on the device of the
    state ``like``; else a floating tensor as it is, anything else as
    float64."""
    if like is not None:
        x = torch.as_tensor(x).to(device=like.device,
                                  dtype=like.amplitudes.real.dtype)
    elif not (torch.is_tensor(x) and x.is_floating_point()):
        x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 2 or x.shape[1] != n_qubits:
        raise ValueError(f"expected features of shape (batch, {n_qubits}), "
                         f"got {tuple(x.shape)}")
    return x


@dataclass(frozen=True)
class AngleEncoding:
    """One rotation ``R(scale * x_i)`` per qubit, ``reps`` times."""
    n_qubits: int
    rotation: str = 'ry'
    reps: int = 1
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.rotation not in ('rx', 'ry'):
            raise ConfigError(f"angle encoding rotation must be rx or ry, "
                              f"got {self.rotation!r}")

    def apply(self, state: Statevector, x: torch.Tensor) -> Statevector:
        """Encode ``x`` (``(batch, n)``) into ``state``."""
        x = _check_features(x, self.n_qubits, state)
        for _ in range(self.reps):
            for q in range(self.n_qubits):
                getattr(state, self.rotation)(self.scale * x[:, q], q)
        return state

    def state(self, x: torch.Tensor, dtype: torch.dtype = torch.complex128,
              device: torch.device | str | None = None) -> Statevector:
        """The encoded states ``|phi(x)>`` of a batch (complex ``dtype``,
        on ``device``)."""
        x = _check_features(x, self.n_qubits)
        return self.apply(Statevector.zeros(len(x), self.n_qubits, dtype,
                                            device), x)

    def to_qiskit(self) -> Any:
        """The same circuit in qiskit, parameters ``x[0..n-1]``."""
        from qiskit.circuit import ParameterVector, QuantumCircuit
        x = ParameterVector('x', self.n_qubits)
        circuit = QuantumCircuit(self.n_qubits)
        for _ in range(self.reps):
            for q in range(self.n_qubits):
                getattr(circuit, self.rotation)(self.scale * x[q], q)
        return circuit


@dataclass(frozen=True)
class ZZFeatureMap:
    """Havlicek et al.'s second-order Pauli-Z feature map (qiskit's)."""
    n_qubits: int
    reps: int = 2
    entanglement: str = 'full'
    alpha: float = 2.0

    def __post_init__(self) -> None:
        _check_entanglement(self.entanglement)

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        """The diagonal block's phase on every basis state, ``(batch, 2**n)``.

        ``P(a x_i)`` adds ``a x_i b_i`` and ``CX-P(a f_ij)-CX`` adds
        ``a f_ij (b_i xor b_j)`` for basis bits ``b``.
        """
        x = _check_features(x, self.n_qubits)
        bits = basis_bits(self.n_qubits, x.dtype, x.device)  # (2**n, n)
        phases = self.alpha * x @ bits.T
        pairs = sorted({tuple(sorted(p)) for p in
                        entangler_pairs(self.entanglement, self.n_qubits)})
        if pairs:
            i, j = (torch.tensor(v, device=x.device) for v in zip(*pairs))
            coupling = (math.pi - x[:, i]) * (math.pi - x[:, j])  # (b, pairs)
            differ = (bits[:, i] - bits[:, j]).abs()           # (2**n, pairs)
            phases = phases + self.alpha * coupling @ differ.T
        return phases

    def apply(self, state: Statevector, x: torch.Tensor) -> Statevector:
        """Encode ``x`` into ``state`` (Hadamards, then the phases)."""
        phases = self.phases(_check_features(x, self.n_qubits, state))
        for _ in range(self.reps):
            for q in range(self.n_qubits):
                state.h(q)
            state.diagonal_phase(phases)
        return state

    def state(self, x: torch.Tensor, dtype: torch.dtype = torch.complex128,
              device: torch.device | str | None = None) -> Statevector:
        """The encoded states ``|phi(x)>`` of a batch (complex ``dtype``,
        on ``device``)."""
        x = _check_features(x, self.n_qubits)
        state = Statevector.uniform(len(x), self.n_qubits, dtype, device)
        phases = self.phases(_check_features(x, self.n_qubits, state))
        state.diagonal_phase(phases)
        for _ in range(self.reps - 1):
            for q in range(self.n_qubits):
                state.h(q)
            state.diagonal_phase(phases)
        return state

    def to_qiskit(self) -> Any:
        """qiskit's ``zz_feature_map`` with the same settings."""
        from qiskit.circuit.library import zz_feature_map
        return zz_feature_map(self.n_qubits, reps=self.reps,
                              entanglement=self.entanglement,
                              alpha=self.alpha)


#: Each of :data:`qnlp.choices.FEATURE_MAPS` by name.
FEATURE_MAPS = dict(zip(choices.FEATURE_MAPS, (AngleEncoding, ZZFeatureMap),
                        strict=True))


def make_feature_map(name: str, n_qubits: int, reps: int = 1,
                     entanglement: str = 'full'
                     ) -> AngleEncoding | ZZFeatureMap:
    """``angle`` or ``zz`` by name."""
    if name == 'angle':
        return AngleEncoding(n_qubits, reps=reps)
    if name == 'zz':
        return ZZFeatureMap(n_qubits, reps=reps, entanglement=entanglement)
    raise ConfigError(f"unknown feature map {name!r}; choose from "
                      f"{', '.join(FEATURE_MAPS)}")


@dataclass(frozen=True)
class EfficientSU2:
    """``reps`` blocks of RY, RZ layers and CX entanglers, then RY, RZ.

    Weights are ordered as qiskit's ``θ``: layer by layer, all RY angles
    (qubit 0 first), then all RZ angles.
    """
    n_qubits: int
    reps: int = 2
    entanglement: str = 'linear'

    def __post_init__(self) -> None:
        _check_entanglement(self.entanglement)

    @property
    def n_weights(self) -> int:
        return 2 * self.n_qubits * (self.reps + 1)

    def apply(self, state: Statevector, weights: torch.Tensor
              ) -> Statevector:
        """Apply the ansatz with ``weights`` (``(n_weights,)``)."""
        if weights.shape != (self.n_weights,):
            raise ValueError(f"expected {self.n_weights} weights, got shape "
                             f"{tuple(weights.shape)}")
        pairs = entangler_pairs(self.entanglement, self.n_qubits)
        for layer, local in enumerate(self._local(weights)):
            state.local(local)
            if layer < self.reps:
                state.cx_layer(pairs)
        return state

    def _local(self, weights: torch.Tensor) -> torch.Tensor:
        """``RZ RY`` of every layer and qubit, ``(reps + 1, n, 2, 2)``."""
        if weights.shape != (self.n_weights,):
            raise ValueError(f"expected {self.n_weights} weights, got shape "
                             f"{tuple(weights.shape)}")
        blocks = weights.reshape(self.reps + 1, 2, self.n_qubits)
        return gates.rz(blocks[:, 1]) @ gates.ry(blocks[:, 0])

    def _layers(self, weights: torch.Tensor) -> torch.Tensor:
        """Every layer's rotations as ``L_k``, ``(reps + 1, 2**n, 2**n)``,
        acting on row states (``states @ L_k``): one Kronecker product of
        its ``RZ RY`` matrices (batched over the layers, broadcast, not a
        ``torch.kron`` chain); qubit ``q`` is bit ``q`` of the index."""
        return kron(self._local(weights).flip(1)).mT   # qubit n-1 first

    def _permutation(self, device: torch.device) -> torch.Tensor:
        """The CX layer as a column permutation (:func:`permute`)."""
        return cx_layer(entangler_pairs(self.entanglement, self.n_qubits),
                        self.n_qubits, device)

    def matrix(self, weights: torch.Tensor) -> torch.Tensor:
        """``M`` with ``states @ M`` = the states after the ansatz (the
        transpose of the circuit's unitary), built by index: the layers of
        :meth:`_layers`, the CX layers as column permutations.
        """
        layers = self._layers(weights)
        permutation = self._permutation(weights.device)
        result = layers[0]
        for layer in range(1, self.reps + 1):
            result = permute(result, permutation) @ layers[layer]
        return result

    def folded(self, weights: torch.Tensor, observable: torch.Tensor
               ) -> torch.Tensor:
        """``M O M^H`` for :meth:`matrix` ``M`` and a Hermitian
        ``observable`` ``O`` (a ``(2**n, 2**n)`` matrix, or its diagonal
        ``(2**n,)``, real): the observable whose expectation in an
        encoded row state ``s`` is ``<O>`` after the ansatz,
        ``s M O M^H s^H``.

        One autograd node (:class:`_Folded`) whose backward is written
        by hand: the derivative of a layer's ``RY`` (``RZ``) angle on
        qubit ``q`` inserts ``Y`` (``Z``) on ``q`` beside the layer, so
        every angle's gradient is a signed sum over one (anti)diagonal of
        a ``2**n x 2**n`` product; the weights need no gradient
        through the small gate-building operations.

        >>> ansatz = EfficientSU2(2, reps=1)
        >>> w = torch.rand(8, dtype=torch.float64, requires_grad=True)
        >>> z = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
        >>> m = ansatz.matrix(w)
        >>> torch.allclose(ansatz.folded(w, z), (m * z) @ m.mH)
        True
        """
        if weights.shape != (self.n_weights,):
            raise ValueError(f"expected {self.n_weights} weights, got shape "
                             f"{tuple(weights.shape)}")
        return _Folded.apply(weights, observable, self)

    def to_qiskit(self) -> Any:
        """qiskit's ``efficient_su2(n, ['ry', 'rz'])`` with these settings."""
        from qiskit.circuit.library import efficient_su2
        return efficient_su2(self.n_qubits, ['ry', 'rz'],
                             entanglement=self.entanglement, reps=self.reps)


@functools.lru_cache(maxsize=32)
def _pauli_tables(n_qubits: int) -> tuple[np.ndarray, np.ndarray]:
    """For the gradient of :class:`_Folded`: ``z[q, j]`` the sign
    ``(-1)^{bit q of j}`` ``(n, 2**n)``, and ``flip[q, j]`` the flat
    index of ``(j xor 2**q, j)`` in a ``2**n x 2**n`` matrix."""
    index = np.arange(2 ** n_qubits)
    masks = 2 ** np.arange(n_qubits)[:, None]
    z = 1.0 - 2 * ((index & masks) != 0)
    return z, (index ^ masks) * 2 ** n_qubits + index


#: ``RY(a)^T = cos(a/2 + shift)`` entrywise, and ``RZ(b)`` multiplies
#: column ``j`` of it by ``e^(i b/2 sign_j)``.
_RY_SHIFT = np.array([[0.0, -math.pi / 2], [math.pi / 2, 0.0]])
_RZ_SIGN = np.array([[-0.5, 0.5], [-0.5, 0.5]])


def _row_layers(ansatz: EfficientSU2, weights: np.ndarray) -> np.ndarray:
    """:meth:`EfficientSU2._layers` in numpy (complex128), no autograd:
    the transposed gate ``(RZ(b) RY(a))^T`` of every layer and qubit
    from one cosine and one exponential, then one broadcast Kronecker
    product per qubit."""
    n, count = ansatz.n_qubits, ansatz.reps + 1
    angles = weights.reshape(count, 2, n, 1, 1)[:, :, ::-1]  # qubit n-1 first
    gates_t = (np.cos(angles[:, 0] / 2 + _RY_SHIFT)
               * np.exp(1j * angles[:, 1] * _RZ_SIGN))   # (count, n, 2, 2)
    layers = gates_t[:, 0]
    for q in range(1, n):
        size = 2 * layers.shape[-1]
        layers = (layers[:, :, None, :, None]
                  * gates_t[:, q, None, :, None, :]).reshape(count, size,
                                                             size)
    return layers


class _Folded(torch.autograd.Function):
    """:meth:`EfficientSU2.folded` with its gradient by hand, in numpy
    (complex128, on the CPU): a few dozen operations on ``2**n x 2**n``
    matrices, where each torch operation would cost several times
    numpy's call overhead.

    With ``M = L_0 P L_1 P ... L_R`` (``P`` the CX permutation) and
    ``A = M O M^H``, a real loss with gradient ``G`` for ``A`` changes
    by ``Re tr(dM X)``, ``X = O M^H (G + G^H)``; for layer ``k``,
    ``dM = B_k dL_k C_k`` (``B``, ``C`` the products before and after
    it), so by ``Re tr(dL_k Y_k)`` with ``Y_k = C_k X B_k``. The row-state
    layer is the Kronecker product of ``(RZ(b) RY(a))^T`` over qubits, so
    ``dL/da_q = (i/2) Y_q L`` and ``dL/db_q = -(i/2) L Z_q``: the
    gradients are ``(1/2) Re sum_j z_q(j) (L Y)[j xor 2**q, j]`` and
    ``(1/2) Im sum_j z_q(j) (Y L)[j, j]``.
    """

    @staticmethod
    def forward(ctx: Any, weights: torch.Tensor, observable: torch.Tensor,
                ansatz: EfficientSU2) -> torch.Tensor:
        products = ansatz_products(ansatz, weights)
        m, o = products[2], observable.detach().cpu().numpy()
        folded = ((m * o) if o.ndim == 1 else (m @ o)) @ m.conj().T
        ctx.ansatz, ctx.o, ctx.weights = ansatz, o, weights
        ctx.saved = products
        return torch.from_numpy(folded).to(
            device=weights.device, dtype=complex_dtype(weights.dtype))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor
                 ) -> tuple[torch.Tensor | None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None
        m, o = ctx.saved[2], ctx.o
        g = grad.detach().cpu().numpy()
        around = m.conj().T @ (g + g.conj().T)
        x = o[:, None] * around if o.ndim == 1 else o @ around
        return ansatz_gradient(ctx.ansatz, ctx.saved, x, ctx.weights), \
            None, None


def ansatz_products(ansatz: EfficientSU2, weights: torch.Tensor
                    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray,
                               np.ndarray]:
    """The forward half of :class:`_Folded` (numpy, complex128, no
    autograd): the layers ``L_k`` (:func:`_row_layers`), the products
    ``B_k`` before layers 1 .. R, ``M`` (:meth:`EfficientSU2.matrix`)
    and the CX permutation; :func:`ansatz_gradient` takes them back."""
    layers = _row_layers(ansatz, weights.detach().cpu().double().numpy())
    permutation = ansatz._permutation(torch.device('cpu')).numpy()
    before = []                                # B_1 .. B_R
    m = layers[0]
    for layer in range(1, ansatz.reps + 1):
        before.append(m[:, permutation])
        m = before[-1] @ layers[layer]
    return layers, before, m, permutation


def ansatz_gradient(ansatz: EfficientSU2, products: tuple, x: np.ndarray,
                    weights: torch.Tensor) -> torch.Tensor:
    """The gradient of a real loss in the ansatz weights, given
    :func:`ansatz_products` and ``X`` with ``d loss = Re tr(dM X)``
    (see :class:`_Folded`), in the type and place of ``weights``."""
    layers, before, _, permutation = products
    inverse = np.argsort(permutation)
    after = [x]                                   # C_k X, last first
    for layer in range(len(before), 0, -1):
        after.append((layers[layer] @ after[-1])[inverse])
    after.reverse()
    y = np.stack([after[0], *(a @ b for a, b in zip(after[1:], before))])
    z, flip = _pauli_tables(ansatz.n_qubits)
    left = (layers @ y).reshape(len(layers), -1)[:, flip]  # (L Y)[j^q, j]
    ry = (left.real * z).sum(-1) / 2
    rz = (y * layers.transpose(0, 2, 1)).sum(-1).imag @ z.T / 2
    gradient = np.stack([ry, rz], 1).reshape(-1)
    return torch.from_numpy(gradient).to(device=weights.device,
                                         dtype=weights.dtype)


def readout_signs(n_qubits: int, kind: str = 'parity',
                  dtype: torch.dtype = torch.float64,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """The readout observable's eigenvalue (+-1) on every basis state,
    ``(2**n,)``: :func:`readout` is ``probabilities @ signs``.

    >>> readout_signs(2, 'parity').tolist(), readout_signs(2, 'z').tolist()
    ([1.0, -1.0, -1.0, 1.0], [1.0, -1.0, 1.0, -1.0])
    """
    bits = basis_bits(n_qubits, torch.float64, device)
    if kind == 'parity':
        odd = bits.sum(1) % 2
    elif kind == 'z':
        odd = bits[:, 0]
    else:
        raise ConfigError(f"unknown readout {kind!r}; choose from "
                          f"{', '.join(READOUTS)}")
    return (1 - 2 * odd).to(dtype)


def readout(state: Statevector, kind: str = 'parity') -> torch.Tensor:
    """``<Z...Z>`` over all qubits (``parity``) or ``<Z_0>`` (``z``).

    The probability of class 1 is ``(1 - readout) / 2``: odd parity of
    the measured bit string, or qubit 0 measured as 1. (qiskit-machine-
    learning 0.9's VQC interprets a bit string ``b`` as class ``b % 2``
    by default, i.e. ``z``; pass it a parity ``interpret`` for ``parity``.)
    """
    if kind == 'parity':
        return state.parity()
    if kind == 'z':
        return state.z(0)
    raise ConfigError(f"unknown readout {kind!r}; choose from "
                      f"{', '.join(READOUTS)}")
