"""Quantum layers for hybrid networks: parallel circuits and quanvolution.

:class:`ParallelQuantumLayer` runs K circuits of n qubits on every sample
of a batch: angle encoding of the inputs, L layers of trainable one-qubit
rotations followed by a CNOT entangler, Pauli-Z readout on every qubit.
Without re-uploading, the trainable part of each circuit does not depend
on the data, so it is folded into one ``2**n x 2**n`` unitary per circuit
(built from the gates, with autograd) and the whole batch costs one
batched matrix product, up to :data:`FOLD_MAX_QUBITS` (beyond, the gates
act on the states: fused one-qubit runs, one permutation a layer); with ``reupload=True`` the encoding is repeated
before every layer, gate by gate, still for all samples and circuits at
once. :class:`Quanvolution` applies such circuits to every image patch.

>>> import torch
>>> layer = ParallelQuantumLayer(n_circuits=4, n_qubits=5, n_layers=3, seed=0)
>>> out = layer(torch.rand(8, 20))
>>> tuple(out.shape), layer.weights.numel()
((8, 20), 180)
>>> quanv = Quanvolution(seed=0)
>>> tuple(quanv(torch.rand(2, 1, 28, 28)).shape)
(2, 4, 14, 14)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from qnlp.engine.circuit_ops import (ENCODINGS, angle_states, apply_gate,
                                     apply_local, apply_permutation,
                                     entangler_permutation, expval_z,
                                     probabilities, product_state)
from qnlp.engine.gates import gate, kron, rotation
from qnlp.errors import ConfigError
from qnlp.limits import MAX_DENSE_QUBITS, MAX_LAYERS, at_most

READOUTS = ('z', 'probs')
#: Most qubits for which the trainable layers are folded into one
#: ``2**n x 2**n`` unitary per circuit (one batched product per sample);
#: above, the gates act on the states (fused runs, permutations), which
#: costs less once ``2**n`` is large beside the batch (measured crossover
#: near 9 qubits at batch 128, benchmarks/README.md).
FOLD_MAX_QUBITS = 8
#: CNOT layers after each layer's rotations (see
#: :func:`qnlp.engine.gates.entangler_pairs`).
ENTANGLERS = ('ring', 'linear', 'none')


class ParallelQuantumLayer(nn.Module):
    """K parallel n-qubit circuits on ``(..., K*n)`` inputs.

    Parameters: ``encoding`` ``rx``/``ry``/``hrz`` (H then RZ; inputs times
    ``input_scale`` are the angles); ``rotations`` the axes of the
    trainable one-qubit rotations, applied in order (``'zyz'`` is
    PennyLane's ``Rot``; ``'y'``, ``'xyz'``... also work); ``entangler``
    ``ring``/``linear``/``none`` (CNOTs i -> i+1 after the rotations of
    each layer); ``readout`` ``z`` (<Z> of every qubit, ``K*n`` outputs)
    or ``probs`` (``K*2**n`` outputs). Weights start uniform in
    [0, 2 pi) from ``seed``; shape ``(K, L, n, len(rotations))``.
    """

    def __init__(self, n_circuits: int = 4, n_qubits: int = 5,
                 n_layers: int = 3, encoding: str = 'ry',
                 rotations: str = 'zyz', entangler: str = 'ring',
                 readout: str = 'z', reupload: bool = False,
                 input_scale: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        if encoding not in ENCODINGS:
            raise ConfigError(f"unknown encoding {encoding!r}; choose one "
                              f"of {', '.join(ENCODINGS)}")
        if not rotations or set(rotations) - set('xyz'):
            raise ConfigError(f"rotations {rotations!r}: give axes from "
                              "x, y, z, e.g. 'zyz'")
        if readout not in READOUTS:
            raise ConfigError(f"unknown readout {readout!r}; choose one of "
                              f"{', '.join(READOUTS)}")
        if min(n_circuits, n_qubits, n_layers) < 1 \
                or n_qubits > MAX_DENSE_QUBITS:
            raise ConfigError("need at least one circuit, qubit and layer, "
                              f"and at most {MAX_DENSE_QUBITS} qubits, got "
                              f"{n_qubits} qubits")
        at_most(n_layers, MAX_LAYERS, 'quantum layers')
        if entangler not in ENTANGLERS:
            raise ConfigError(f"unknown entangler {entangler!r}; choose one "
                              f"of {', '.join(ENTANGLERS)}")
        self.n_circuits, self.n_qubits, self.n_layers = (n_circuits,
                                                         n_qubits, n_layers)
        self.encoding, self.rotations = encoding, rotations
        self.entangler, self.readout = entangler, readout
        self.reupload, self.input_scale = reupload, input_scale
        generator = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(2 * math.pi * torch.rand(
            n_circuits, n_layers, n_qubits, len(rotations),
            generator=generator))
        self.register_buffer('perm', entangler_permutation(entangler,
                                                           n_qubits),
                             persistent=False)

    @property
    def in_features(self) -> int:
        """Inputs per sample: one angle per qubit of every circuit."""
        return self.n_circuits * self.n_qubits

    @property
    def out_features(self) -> int:
        """Outputs per sample (``K*n`` for ``z``, ``K*2**n`` for probs)."""
        per = self.n_qubits if self.readout == 'z' else 2 ** self.n_qubits
        return self.n_circuits * per

    def layer_unitaries(self) -> torch.Tensor:
        """``(K, L, 2**n, 2**n)``: rotations then entangler, per layer."""
        gates = rotation(self.weights, self.rotations)  # (K, L, n, 2, 2)
        return kron(gates)[..., self.perm, :]

    def unitary(self) -> torch.Tensor:
        """``(K, 2**n, 2**n)``: all layers of each circuit, in order."""
        layers = self.layer_unitaries()
        total = layers[:, 0]
        for layer in range(1, self.n_layers):
            total = layers[:, layer] @ total
        return total

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(..., K*n)`` real inputs -> ``(..., out_features)``."""
        if inputs.shape[-1] != self.in_features:
            raise ConfigError(f"expected {self.in_features} inputs per "
                              f"sample, got {inputs.shape[-1]}")
        lead = inputs.shape[:-1]
        angles = (inputs * self.input_scale).reshape(
            -1, self.n_circuits, self.n_qubits).to(self.weights.dtype)
        state = product_state(angle_states(angles, self.encoding))
        if self.n_qubits > FOLD_MAX_QUBITS:
            state = self._gates_on_states(state, angles)
        elif not self.reupload:
            state = torch.einsum('kij,bkj->bki', self.unitary(), state)
        else:
            layers = self.layer_unitaries()
            encode = gate('R' + self.encoding[-1], angles)  # (B,K,n,2,2)
            for layer in range(self.n_layers):
                if layer:
                    for q in range(self.n_qubits):
                        state = apply_gate(state, encode[:, :, q], q,
                                           self.n_qubits)
                state = torch.einsum('kij,bkj->bki', layers[:, layer],
                                     state)
        if self.readout == 'z':
            out = expval_z(state, self.n_qubits)
        else:
            out = probabilities(state)
        return out.reshape(*lead, self.out_features).to(inputs.dtype)

    def _gates_on_states(self, state: torch.Tensor, angles: torch.Tensor
                         ) -> torch.Tensor:
        """The layers applied to the states ``(B, K, 2**n)`` gate by gate
        (fused one-qubit runs, the CX layer as one permutation)."""
        rotations = rotation(self.weights, self.rotations)  # (K, L, n, 2, 2)
        encode = (gate('R' + self.encoding[-1], angles).unsqueeze(-4)
                  if self.reupload else None)             # (B, K, 1, n, ...)
        for layer in range(self.n_layers):
            if layer and encode is not None:
                state = apply_local(state, encode[:, :, 0], self.n_qubits)
            state = apply_permutation(
                apply_local(state, rotations[:, layer], self.n_qubits),
                self.perm)
        return state

    def extra_repr(self) -> str:
        return (f"circuits={self.n_circuits}, qubits={self.n_qubits}, "
                f"layers={self.n_layers}, encoding={self.encoding}, "
                f"rotations={self.rotations}, entangler={self.entangler}, "
                f"readout={self.readout}, reupload={self.reupload}")


class Quanvolution(nn.Module):
    """Trainable quanvolution: one circuit per input channel on each patch.

    Every ``kernel_size x kernel_size`` patch (stride ``stride``) of each
    channel is written on ``kernel_size**2`` qubits with RY(pi x) (pixels
    in [0, 1]), goes through ``n_layers`` trainable layers and is read out
    as <Z> of each qubit: ``C`` input channels give ``C * kernel_size**2``
    output channels. All patches of all images are one batch of the
    underlying :class:`ParallelQuantumLayer` (one circuit per channel).
    """

    def __init__(self, in_channels: int = 1, kernel_size: int = 2,
                 stride: int = 2, n_layers: int = 2,
                 rotations: str = 'zyz', entangler: str = 'ring',
                 seed: int = 0) -> None:
        super().__init__()
        self.in_channels, self.kernel_size, self.stride = (in_channels,
                                                           kernel_size,
                                                           stride)
        self.circuits = ParallelQuantumLayer(
            n_circuits=in_channels, n_qubits=kernel_size ** 2,
            n_layers=n_layers, encoding='ry', rotations=rotations,
            entangler=entangler, input_scale=math.pi, seed=seed)

    @property
    def out_channels(self) -> int:
        """``in_channels * kernel_size**2``."""
        return self.in_channels * self.kernel_size ** 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C*k*k, H', W')`` (H' = (H-k)//s + 1)."""
        b, _, h, w = images.shape
        k, s = self.kernel_size, self.stride
        patches = nn.functional.unfold(images, k, stride=s)  # (B, C*k*k, P)
        out = self.circuits(patches.transpose(1, 2))          # (B, P, C*k*k)
        return out.transpose(1, 2).reshape(b, self.out_channels,
                                           (h - k) // s + 1, (w - k) // s + 1)
