"""Quantum creep-in (issue 21 item 3; after "Let the Quantum Creep In:
Designing Quantum Neural Network Models by Gradually Swapping Out
Classical Components"): a three-layer network with no normalisation and
no activations, whose layers are swapped one at a time for quantum
layers of the same input and output width.

* Classical layer ``c``: ``nn.Linear(in, out)``.
* Quantum layer ``q`` (:class:`QuantumDense`): ``in`` real inputs on
  ``n`` qubits: ``min(in, 8)`` (at least 2), more if needed to read
  ``out`` observables. Each input
  times its own trained scale (one number per input, starting at
  ``1 / sqrt(uploads)``, as in Perez-Salinas et al.'s re-uploading
  classifier; no weight mixes inputs) is an RY angle; the inputs
  (zero-padded to a multiple of ``n``) are uploaded ``n`` at a time,
  each upload followed by ``n_layers`` trainable layers (RZ-RY-RZ on
  every qubit, angles starting near 0, then a CNOT ring). The outputs
  are ``out`` expectation values, in order ``<Z_0> .. <Z_{n-1}>`` then
  ``<Z_i Z_{i+1}>`` on the ring pairs, times one trained gain (a single
  number: the softmax needs logits wider than [-1, 1] on the last
  layer). All mixing of the inputs happens in the circuit.

A model name is ``creep-`` and one letter per layer, first to last:
``creep-ccc`` (all classical), ``creep-qcc``, ``creep-cqc``,
``creep-ccq`` (one layer swapped), ``creep-qqq`` (all quantum), and the
other mixes. Widths: flattened image (``C*H*W``) -> ``width`` ->
``width`` -> classes.

The circuits are state vectors of ``2**n`` amplitudes built with
:mod:`qnlp.engine` (exact, differentiable, also towards the pixels).

>>> import torch
>>> model = make_creep_model('creep-qcc', in_features=64, n_classes=10)
>>> tuple(model(torch.rand(5, 1, 8, 8)).shape), model.kinds
((5, 10), 'qcc')
>>> [count_parameters(make_creep_model(name, 64, 10))
...  for name in ('creep-ccc', 'creep-qcc', 'creep-cqc', 'creep-ccq',
...               'creep-qqq')]
[1482, 699, 1275, 1377, 387]
>>> make_creep_model('creep-qxc', 64, 10)
Traceback (most recent call last):
...
qnlp.errors.ConfigError: unknown creep model 'creep-qxc'; give creep- and one letter per layer (c classical, q quantum), e.g. creep-qcc
"""
from __future__ import annotations

import math

import torch
from torch import nn

from qnlp.choices import CREEP_MODELS
from qnlp.engine.circuit_ops import (angle_states, apply_local,
                                     entangler_permutation, probabilities,
                                     product_state, z_signs)
from qnlp.engine.gates import entangler_pairs, kron, rotation, ry
from qnlp.errors import ConfigError

#: Most qubits a quantum layer uses for its inputs (wider inputs are
#: uploaded in several rounds).
MAX_INPUT_QUBITS = 8
#: Standard deviation of the trainable angles at the start: near the
#: identity, against the barren plateau of random 8-qubit circuits.
INIT_SCALE = 0.1
#: Hidden width of the network unless told.
DEFAULT_WIDTH = 16


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def readout_signs(n_qubits: int, n_outputs: int) -> torch.Tensor:
    """``(2**n, n_outputs)``: the eigenvalue of each read observable
    (``Z_q`` for every qubit, then ``Z_i Z_j`` on the ring pairs) on each
    basis state, so that probabilities times it are the expectations.

    >>> readout_signs(2, 3).tolist()
    [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]]
    """
    single = z_signs(n_qubits)
    pairs = [single[:, i] * single[:, j]
             for i, j in entangler_pairs('ring', n_qubits)]
    signs = torch.cat([single, torch.stack(pairs, 1)], 1) if pairs \
        else single
    if n_outputs > signs.shape[1]:
        raise ConfigError(f"{n_qubits} qubits read at most {signs.shape[1]} "
                          f"outputs, asked for {n_outputs}")
    return signs[:, :n_outputs].clone()


class QuantumDense(nn.Module):
    """A quantum layer ``(..., in_features) -> (..., out_features)``
    (the construction is in the module's docstring).

    >>> layer = QuantumDense(20, 6, seed=1)
    >>> layer.n_qubits, layer.uploads, tuple(layer.weights.shape)
    (8, 3, (3, 1, 8, 3))
    >>> tuple(layer(torch.rand(4, 20)).shape)
    (4, 6)
    """

    def __init__(self, in_features: int, out_features: int,
                 n_layers: int = 1, seed: int = 0) -> None:
        super().__init__()
        if min(in_features, out_features, n_layers) < 1:
            raise ConfigError("a quantum layer needs at least one input, "
                              "output and trainable layer")
        self.in_features, self.out_features = in_features, out_features
        self.n_qubits = max(min(in_features, MAX_INPUT_QUBITS), 2)
        while self.n_qubits + len(entangler_pairs(
                'ring', self.n_qubits)) < out_features:
            self.n_qubits += 1
        self.uploads = math.ceil(in_features / self.n_qubits)
        self.n_layers = n_layers
        generator = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(INIT_SCALE * torch.randn(
            self.uploads, n_layers, self.n_qubits, 3, generator=generator))
        self.scale = nn.Parameter(torch.full((in_features,),
                                             self.uploads ** -0.5))
        self.gain = nn.Parameter(torch.ones(()))
        self.register_buffer('perm', entangler_permutation(
            'ring', self.n_qubits), persistent=False)
        self.register_buffer('signs', readout_signs(self.n_qubits,
                                                    out_features),
                             persistent=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Real inputs ``(..., in_features)`` -> ``(..., out_features)``."""
        if inputs.shape[-1] != self.in_features:
            raise ConfigError(f"expected {self.in_features} inputs per "
                              f"sample, got {inputs.shape[-1]}")
        n, lead = self.n_qubits, inputs.shape[:-1]
        angles = nn.functional.pad(
            (inputs.reshape(-1, self.in_features) * self.scale).to(
                self.weights.dtype),
            (0, self.uploads * n - self.in_features)).view(-1, self.uploads,
                                                           n)
        layers = kron(rotation(self.weights, 'zyz'))[..., self.perm, :]
        state = product_state(angle_states(angles[:, 0], 'ry'))
        for upload in range(self.uploads):
            if upload:
                state = apply_local(state, ry(angles[:, upload]).to(
                    state.dtype), n)
            for layer in range(self.n_layers):
                state = state @ layers[upload, layer].transpose(0, 1)
        out = (probabilities(state) @ self.signs.to(self.weights.dtype))
        return (self.gain * out).reshape(*lead, self.out_features).to(
            inputs.dtype)

    def extra_repr(self) -> str:
        return (f"in={self.in_features}, out={self.out_features}, "
                f"qubits={self.n_qubits}, uploads={self.uploads}, "
                f"layers={self.n_layers}")


class CreepNetwork(nn.Module):
    """Flatten, then three layers (``kinds``: one of ``c``/``q`` each)
    of widths ``in_features -> width -> width -> n_classes``."""

    def __init__(self, kinds: str, in_features: int, n_classes: int,
                 width: int = DEFAULT_WIDTH, n_layers: int = 1,
                 seed: int = 0) -> None:
        super().__init__()
        self.kinds = kinds
        torch.manual_seed(seed)
        sizes = (in_features, width, width, n_classes)
        self.layers = nn.Sequential(nn.Flatten(), *(
            nn.Linear(a, b) if kind == 'c'
            else QuantumDense(a, b, n_layers=n_layers, seed=seed + i)
            for i, (kind, a, b) in enumerate(zip(kinds, sizes, sizes[1:]))))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> logits ``(B, classes)``."""
        return self.layers(images)

    def quantum_parameters(self) -> int:
        """Trainable parameters inside the quantum layers."""
        return sum(count_parameters(m) for m in self.modules()
                   if isinstance(m, QuantumDense))


def make_creep_model(name: str, in_features: int, n_classes: int,
                     width: int = DEFAULT_WIDTH, n_layers: int = 1,
                     seed: int = 0) -> CreepNetwork:
    """The creep network ``name`` (one of :data:`CREEP_MODELS`)."""
    if name not in CREEP_MODELS:
        raise ConfigError(f"unknown creep model {name!r}; give creep- and "
                          "one letter per layer (c classical, q quantum), "
                          "e.g. creep-qcc")
    return CreepNetwork(name[len('creep-'):], in_features, n_classes,
                        width=width, n_layers=n_layers, seed=seed)
