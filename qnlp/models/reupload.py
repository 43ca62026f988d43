"""Data re-uploading image classifiers on ``n`` qubits, and a QCNN of the
same qubits.

* ``hamiltonian`` (Wang et al., "Quantum Hamiltonian Embedding of Images
  for Data Reuploading Classifiers"): a grey image of side ``2**n`` is
  the Hamiltonian ``H(x) = (X + X^T) / (2 * 2**n)`` on ``n`` qubits; the
  data unitary ``exp(-i t_l H(x))`` (a trainable time ``t_l`` per layer)
  is re-uploaded before each of ``L`` trainable layers (RZ-RY-RZ on every
  qubit, then a CNOT ring).
* ``angle-reupload``: the same circuit with plain angle encoding: the
  image average-pooled to ``n x 3`` values, the RZ-RY-RZ angles of each
  qubit, re-uploaded before every layer (Perez-Salinas et al. 2020).
* ``qcnn``: a quantum convolutional network (Cong et al. 2019; the
  convolution and pooling circuits of Hur et al. 2022) on the same ``n``
  qubits: the image average-pooled to ``2**n`` pixels and amplitude
  encoded, convolutions (RY pairs around CNOTs) on neighbouring kept
  qubits, pooling (rotations of the kept qubit controlled by the one
  dropped) halving the qubits down to two.

All read the probabilities of the qubits they keep (``2**n`` outcomes;
the QCNN's 4) and map them linearly to the classes. The circuits are
simulated exactly in torch (state vectors of ``2**n`` amplitudes), so
gradients, also towards the pixels for attacks, are exact.

>>> import torch
>>> model = make_reupload_model('hamiltonian', image_size=16, n_classes=10)
>>> tuple(model(torch.rand(3, 1, 16, 16)).shape), model.n_qubits
((3, 10), 4)
>>> [sum(p.numel() for p in make_reupload_model(name, 1, 16).parameters())
...  for name in REUPLOAD_MODELS]
[222, 218, 74]
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from qnlp.engine.circuit_ops import entangler_permutation
from qnlp.engine.gates import cx_permutation, kron, rotation, ry
from qnlp.errors import ConfigError

REUPLOAD_MODELS = ('hamiltonian', 'angle-reupload', 'qcnn')
#: Trainable layers of the re-uploading circuits unless told.
DEFAULT_LAYERS = 4


def _qubits_of(image_size: int) -> int:
    n = round(math.log2(image_size)) if image_size > 0 else 0
    if image_size != 2 ** n or n < 2 or n > 8:
        raise ConfigError(f"the re-uploading models take square images of "
                          f"side 2**n (4 to 256 pixels), got {image_size}; "
                          "give --image-size 16 for 4 qubits")
    return n


def _grey(images: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)``, the mean over channels."""
    return images.mean(1)


def _trainable_layers(weights: torch.Tensor, perm: torch.Tensor
                      ) -> torch.Tensor:
    """``(L, n, 3)`` RZ-RY-RZ angles -> ``(L, 2**n, 2**n)``: the
    rotations of each layer, then its CNOT ring."""
    return kron(rotation(weights, 'zyz'))[..., perm, :]


def circuit_parameters(model: nn.Module) -> int:
    """Trainable parameters of the circuit (all but the linear map to
    the classes).

    >>> circuit_parameters(make_reupload_model('qcnn', 1, 16))
    24
    """
    return sum(p.numel() for name, p in model.named_parameters()
               if p.requires_grad and not name.startswith('classify.'))


def _readout(probabilities: torch.Tensor) -> torch.Tensor:
    """Outcome probabilities times their number (mean 1), the inputs of
    the linear map to the classes (raw probabilities of many outcomes are
    tiny, and the map would need many more steps to grow)."""
    return probabilities * probabilities.shape[-1]


class ReuploadClassifier(nn.Module):
    """Hamiltonian or angle re-uploading on ``n`` qubits (see above)."""

    def __init__(self, embedding: str, n_qubits: int, n_layers: int,
                 n_classes: int, seed: int = 0) -> None:
        super().__init__()
        if embedding not in ('hamiltonian', 'angle'):
            raise ConfigError(f"unknown embedding {embedding!r}")
        self.embedding, self.n_qubits, self.n_layers = (embedding, n_qubits,
                                                        n_layers)
        generator = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(2 * math.pi * torch.rand(
            n_layers, n_qubits, 3, generator=generator))
        if embedding == 'hamiltonian':   # evolution time of each layer
            self.times = nn.Parameter(torch.ones(n_layers))
        self.register_buffer('perm', entangler_permutation('ring', n_qubits),
                             persistent=False)
        self.classify = nn.Linear(2 ** n_qubits, n_classes)

    def data_unitaries(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, L, 2**n, 2**n)``: each layer's data unitary."""
        pixels = _grey(images)
        complex_dtype = (torch.ones((), dtype=self.weights.dtype)
                         * 1j).dtype
        if self.embedding == 'hamiltonian':
            side = pixels.shape[-1]
            hamiltonian = (pixels + pixels.transpose(-1, -2)) / (2 * side)
            generator = -1j * (self.times.view(1, -1, 1, 1).to(complex_dtype)
                               * hamiltonian.unsqueeze(1).to(complex_dtype))
            return torch.linalg.matrix_exp(generator)
        angles = nn.functional.adaptive_avg_pool2d(
            pixels.unsqueeze(1), (self.n_qubits, 3)).squeeze(1)  # (B, n, 3)
        one = kron(rotation(math.pi * angles, 'zyz'))   # (B, 2**n, 2**n)
        return one.unsqueeze(1).expand(-1, self.n_layers, -1, -1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, 2**n, 2**n)`` -> logits ``(B, classes)``."""
        if images.shape[-1] != 2 ** self.n_qubits:
            raise ConfigError(f"expected images of side {2 ** self.n_qubits}"
                              f", got {images.shape[-1]}")
        data = self.data_unitaries(images)
        layers = _trainable_layers(self.weights, self.perm)
        state = torch.zeros(len(images), 2 ** self.n_qubits,
                            dtype=data.dtype, device=images.device)
        state[:, 0] = 1
        for layer in range(self.n_layers):
            state = torch.einsum('bij,bj->bi', data[:, layer], state)
            state = state @ layers[layer].T
        return self.classify(_readout(state.abs() ** 2))

    def extra_repr(self) -> str:
        return (f"embedding={self.embedding}, qubits={self.n_qubits}, "
                f"layers={self.n_layers}")


class QCNN(nn.Module):
    """Amplitude-encoded image -> convolution and pooling circuits down
    to two qubits -> their probabilities -> linear to the classes."""

    def __init__(self, n_qubits: int, n_classes: int, seed: int = 0
                 ) -> None:
        super().__init__()
        self.n_qubits = n_qubits
        self.plan = self._plan(n_qubits)
        n_conv = sum(len(pairs) for pairs, _ in self.plan)
        n_pool = sum(len(pools) for _, pools in self.plan)
        generator = torch.Generator().manual_seed(seed)
        self.conv = nn.Parameter(2 * math.pi * torch.rand(
            n_conv, 4, generator=generator))
        self.pool = nn.Parameter(2 * math.pi * torch.rand(
            max(n_pool, 1), 2, generator=generator))
        self.kept = self._kept(n_qubits)
        self.classify = nn.Linear(2 ** len(self.kept), n_classes)

    @staticmethod
    def _plan(n: int) -> list[tuple[list[tuple[int, int]],
                                    list[tuple[int, int]]]]:
        """Per level: convolution pairs and pooling (dropped, kept) pairs."""
        kept, plan = list(range(n)), []
        while True:
            pairs = [(kept[i], kept[(i + 1) % len(kept)])
                     for i in range(len(kept) if len(kept) > 2 else 1)]
            if len(kept) <= 2:
                plan.append((pairs, []))
                return plan
            pools = [(kept[i], kept[i + 1]) for i in range(0, len(kept) - 1,
                                                           2)]
            plan.append((pairs, pools))
            kept = [k for _, k in pools] + (kept[-1:] if len(kept) % 2
                                            else [])

    @staticmethod
    def _kept(n: int) -> list[int]:
        kept = list(range(n))
        for _, pools in QCNN._plan(n):
            if pools:
                kept = [k for _, k in pools] + (kept[-1:] if len(kept) % 2
                                                else [])
        return kept

    def _one_qubit(self, gates: dict[int, torch.Tensor]) -> torch.Tensor:
        """One-qubit gates on some wires (identity elsewhere) as a
        ``2**n x 2**n`` matrix."""
        any_gate = next(iter(gates.values()))
        eye = torch.eye(2, dtype=any_gate.dtype, device=any_gate.device)
        return kron(torch.stack([gates.get(q, eye)
                                 for q in range(self.n_qubits)]))

    def _cx(self, control: int, target: int, matrix: torch.Tensor
            ) -> torch.Tensor:
        return matrix[cx_permutation(control, target, self.n_qubits)]

    def unitary(self) -> torch.Tensor:
        """The whole circuit, ``(2**n, 2**n)`` (it does not depend on the
        data)."""
        n, total = self.n_qubits, None
        conv, pool = iter(self.conv), iter(self.pool)
        for pairs, pools in self.plan:
            for a, b in pairs:
                theta = next(conv)
                step = self._one_qubit({a: ry(theta[0]), b: ry(theta[1])})
                step = self._cx(a, b, step)
                step = self._one_qubit({a: ry(theta[2]),
                                        b: ry(theta[3])}) @ step
                step = self._cx(b, a, step)
                total = step if total is None else step @ total
            for dropped, kept in pools:
                theta = next(pool)
                zero = torch.zeros(2, 2, dtype=total.dtype,
                                   device=total.device)
                p0, p1 = zero.clone(), zero.clone()
                p0[0, 0], p1[1, 1] = 1, 1
                step = (self._one_qubit({dropped: p0, kept: ry(theta[0])})
                        + self._one_qubit({dropped: p1, kept: ry(theta[1])}))
                total = step @ total
        assert total is not None and total.shape[-1] == 2 ** n
        return total

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> logits (amplitudes: the image
        average-pooled to ``2**n`` pixels, normalised)."""
        n = self.n_qubits
        rows = 2 ** (n // 2)
        pooled = nn.functional.adaptive_avg_pool2d(
            _grey(images).unsqueeze(1), (rows, 2 ** n // rows)).flatten(1)
        amplitudes = pooled / pooled.norm(dim=1, keepdim=True).clamp_min(
            1e-12)
        unitary = self.unitary()
        state = amplitudes.to(unitary.dtype) @ unitary.T
        probabilities = (state.abs() ** 2).reshape(-1, *[2] * n)
        dropped = [q + 1 for q in range(n) if q not in self.kept]
        marginal = probabilities.sum(dim=dropped).flatten(1) if dropped \
            else probabilities.flatten(1)
        return self.classify(_readout(marginal))

    def extra_repr(self) -> str:
        return f"qubits={self.n_qubits}, kept={self.kept}"


def make_reupload_model(name: str, in_channels: int = 1,
                        image_size: int = 16, n_classes: int = 10,
                        n_layers: int | None = None, seed: int = 0,
                        **unused: Any) -> nn.Module:
    """One of :data:`REUPLOAD_MODELS` for images of side ``image_size``
    (``2**n``: ``n`` qubits); ``n_layers`` re-uploads (default
    :data:`DEFAULT_LAYERS`; the QCNN's depth follows from ``n``)."""
    n = _qubits_of(image_size)
    torch.manual_seed(seed)
    if name == 'qcnn':
        return QCNN(n, n_classes, seed)
    if name not in REUPLOAD_MODELS:
        raise ConfigError(f"unknown re-uploading model {name!r}; choose one "
                          f"of {', '.join(REUPLOAD_MODELS)}")
    return ReuploadClassifier('hamiltonian' if name == 'hamiltonian'
                              else 'angle', n, n_layers or DEFAULT_LAYERS,
                              n_classes, seed)
