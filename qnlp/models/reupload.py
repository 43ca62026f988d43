"""Data re-uploading image classifiers on ``n`` qubits, and a QCNN of the
same qubits.

An image of side ``s`` runs on ``n = ceil(log2(s))`` qubits: the
re-uploading models pad it (repeating its border) to side ``2**n``, so
MNIST's 28x28 digits run whole on 5 qubits as in the paper (which pads
them with 2 black pixels a side).

* ``hamiltonian`` (Wang, Myers, Hollenberg and Parampalli, "Quantum
  Hamiltonian Embedding of Images for Data Reuploading Classifiers",
  arXiv:2407.14055): the image ``X`` is a Hamiltonian on ``n`` qubits,
  its data unitary ``exp(-i t_l H(x))`` (a trainable time ``t_l`` per
  layer) re-uploaded before each of ``L`` trainable layers. ``H`` is the
  paper's ``(X + X^T) / 2`` (``embedding='symmetric'``, which cannot tell
  an image from its transpose) or the complex Hermitian ``(X + X^T) / 2
  + i (X - X^T) / 2`` (``'hermitian'``, every pixel kept), divided by
  the side. One eigendecomposition ``H = V diag(l) V^H`` per image serves
  every layer: ``exp(-i t H) = V diag(exp(-i t l)) V^H``, applied to the
  state as two matrix-vector products. Gradients towards the pixels (for
  attacks) are exact: the eigenvectors are held fixed and ``V^H H V`` is
  carried to first order with the divided differences of ``exp(-i t l)``
  (Daleckii-Krein), stable for repeated eigenvalues.
* ``angle-reupload``: the same circuit with plain angle encoding: the
  image average-pooled to ``n x 3`` values, the RZ-RY-RZ angles of each
  qubit, re-uploaded before every layer (Perez-Salinas et al. 2020).
* ``qcnn``: a quantum convolutional network (Cong et al. 2019; the
  convolution and pooling circuits of Hur et al. 2022) on the same ``n``
  qubits: the image average-pooled to ``2**n`` pixels and amplitude
  encoded, convolutions (RY pairs around CNOTs) on neighbouring kept
  qubits, pooling (rotations of the kept qubit controlled by the one
  dropped) halving the qubits down to two.

The re-uploading circuits start from ``|+>^n`` (the paper's); their
trainable layers (``ansatz``) are the paper's general unitaries
``exp(i G_l)`` of ``n`` qubits (``'su'``: ``G_l`` Hermitian, ``4**n``
real parameters) or RZ-RY-RZ on every qubit then a CNOT ring
(``'ring'``, ``3 n``). All read the probabilities of the qubits they keep
(``2**n`` outcomes; the QCNN's 4) and map them linearly to the classes.
The circuits are simulated exactly in torch (state vectors of ``2**n``
amplitudes).

>>> import torch
>>> model = make_reupload_model('hamiltonian', image_size=28, n_classes=10)
>>> tuple(model(torch.rand(3, 1, 28, 28)).shape), model.n_qubits
((3, 10), 5)
>>> [sum(p.numel() for p in make_reupload_model(name, 1, 16).parameters())
...  for name in REUPLOAD_MODELS]
[1198, 1194, 74]
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from qnlp.choices import ANSATZES, EMBEDDINGS, REUPLOAD_MODELS
from qnlp.engine.circuit_ops import entangler_permutation
from qnlp.engine.gates import cx_permutation, kron, rotation, ry
from qnlp.errors import ConfigError

#: Trainable layers of the re-uploading circuits unless told.
DEFAULT_LAYERS = 4


def _qubits_of(image_size: int) -> int:
    n = math.ceil(math.log2(image_size)) if image_size > 0 else 0
    if n < 2 or n > 8:
        raise ConfigError(f"the re-uploading models take square images of "
                          f"side 3 to 256 pixels (padded to 2**n for n "
                          f"qubits), got {image_size}")
    return n


def _grey(images: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)``, the mean over channels."""
    return images.mean(1)


def padded(pixels: torch.Tensor, side: int) -> torch.Tensor:
    """``(B, H, W)`` -> ``(B, side, side)``, the border repeated (black
    for MNIST's normalised background), the image centred.

    >>> padded(torch.arange(4.).view(1, 2, 2), 4)[0].tolist()[0]
    [0.0, 0.0, 1.0, 1.0]
    """
    extra = side - pixels.shape[-1]
    if extra == 0:
        return pixels
    before = extra // 2
    return nn.functional.pad(pixels.unsqueeze(1),
                             (before, extra - before) * 2,
                             mode='replicate').squeeze(1)


def image_hamiltonian(pixels: torch.Tensor, embedding: str) -> torch.Tensor:
    """``(B, s, s)`` real pixels -> ``(B, s, s)`` complex Hermitian
    ``H``, divided by ``s`` (see the module's text).

    >>> x = torch.tensor([[[0., 2.], [0., 0.]]], dtype=torch.float64)
    >>> image_hamiltonian(x, 'hermitian')[0].tolist()
    [[0j, (0.5+0.5j)], [(0.5-0.5j), 0j]]
    >>> image_hamiltonian(x, 'symmetric')[0].tolist()
    [[0j, (0.5+0j)], [(0.5+0j), 0j]]
    """
    side = pixels.shape[-1]
    transpose = pixels.transpose(-1, -2)
    symmetric = (pixels + transpose) / (2 * side)
    if embedding == 'symmetric':
        return torch.complex(symmetric, torch.zeros_like(symmetric))
    if embedding != 'hermitian':
        raise ConfigError(f"unknown embedding {embedding!r}; choose one of "
                          f"{', '.join(EMBEDDINGS)}")
    return torch.complex(symmetric, (pixels - transpose) / (2 * side))


class Evolution:
    """``exp(-i t H)`` of a batch of Hermitian ``H`` for any times ``t``,
    from one eigendecomposition, applied to states.

    >>> h = image_hamiltonian(torch.rand(2, 4, 4, dtype=torch.float64),
    ...                       'hermitian')
    >>> state = torch.randn(2, 4, dtype=torch.complex128)
    >>> t = torch.tensor(0.8, dtype=torch.float64)
    >>> want = (torch.linalg.matrix_exp(-1j * t * h) @ state[..., None])
    >>> bool(torch.allclose(Evolution(h).apply(t, state), want[..., 0]))
    True
    """

    def __init__(self, hamiltonian: torch.Tensor) -> None:
        with torch.no_grad():
            self.values, self.vectors = torch.linalg.eigh(hamiltonian)
        self.rotated = None
        if hamiltonian.requires_grad:
            # V^H H V: the diagonal l at this point, its first-order change
            # when H changes (V held fixed): exact first derivatives.
            rotated = self.vectors.mH @ hamiltonian @ self.vectors
            self.rotated = rotated - torch.diag_embed(
                self.values.to(rotated.dtype))

    def apply(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``exp(-i t H) state`` for states ``(B, d)``."""
        values = self.values.to(t.dtype)
        inner = (self.vectors.mH @ state.unsqueeze(-1)).squeeze(-1)
        phases = torch.exp(-1j * t * values)
        out = phases * inner
        if self.rotated is not None:
            # divided differences of exp(-i t l) (f'(l) on the diagonal)
            mean = (values.unsqueeze(-1) + values.unsqueeze(-2)) / 2
            gap = values.unsqueeze(-1) - values.unsqueeze(-2)
            slopes = (-1j * t) * torch.exp(-1j * t * mean) * torch.sinc(
                t * gap / (2 * math.pi))
            out = out + ((slopes * self.rotated) @ inner.unsqueeze(-1)
                         ).squeeze(-1)
        return (self.vectors @ out.unsqueeze(-1)).squeeze(-1)


def _ring_layers(weights: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``(L, n, 3)`` RZ-RY-RZ angles -> ``(L, 2**n, 2**n)``: the
    rotations of each layer, then its CNOT ring."""
    return kron(rotation(weights, 'zyz'))[..., perm, :]


def _su_layers(weights: torch.Tensor) -> torch.Tensor:
    """``(L, d, d)`` reals -> ``(L, d, d)`` unitaries ``exp(i G)``, ``G``
    Hermitian: the symmetric part of the weights real, the antisymmetric
    part imaginary (every Hermitian ``G`` once)."""
    transpose = weights.transpose(-1, -2)
    generator = torch.complex((weights + transpose) / 2,
                              (weights - transpose) / 2)
    return torch.linalg.matrix_exp(1j * generator)


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
                 n_classes: int, seed: int = 0, ansatz: str = 'su') -> None:
        super().__init__()
        if embedding not in EMBEDDINGS + ('angle',):
            raise ConfigError(f"unknown embedding {embedding!r}")
        if ansatz not in ANSATZES:
            raise ConfigError(f"unknown ansatz {ansatz!r}; choose one of "
                              f"{', '.join(ANSATZES)}")
        self.embedding, self.ansatz = embedding, ansatz
        self.n_qubits, self.n_layers = n_qubits, n_layers
        dim = 2 ** n_qubits
        generator = torch.Generator().manual_seed(seed)
        if ansatz == 'su':   # generators of norm ~2: mixing, not Haar-deep
            self.weights = nn.Parameter(torch.randn(
                n_layers, dim, dim, generator=generator) / math.sqrt(dim))
        else:
            self.weights = nn.Parameter(2 * math.pi * torch.rand(
                n_layers, n_qubits, 3, generator=generator))
        if embedding != 'angle':   # evolution time of each layer
            self.times = nn.Parameter(torch.ones(n_layers))
        self.register_buffer('perm', entangler_permutation('ring', n_qubits),
                             persistent=False)
        self.classify = nn.Linear(dim, n_classes)

    def trainable_layers(self) -> torch.Tensor:
        """``(L, 2**n, 2**n)``: the unitaries of the trainable layers."""
        if self.ansatz == 'su':
            return _su_layers(self.weights)
        return _ring_layers(self.weights, self.perm)

    def _angle_unitary(self, pixels: torch.Tensor) -> torch.Tensor:
        angles = nn.functional.adaptive_avg_pool2d(
            pixels.unsqueeze(1), (self.n_qubits, 3)).squeeze(1)  # (B, n, 3)
        return kron(rotation(math.pi * angles, 'zyz'))   # (B, 2**n, 2**n)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, s, s)`` -> logits ``(B, classes)``."""
        dim = 2 ** self.n_qubits
        if not dim // 2 < images.shape[-1] <= dim:
            raise ConfigError(f"expected images of side {dim // 2 + 1} to "
                              f"{dim}, got {images.shape[-1]}")
        pixels = _grey(images)
        layers = self.trainable_layers()
        if self.embedding == 'angle':
            data = self._angle_unitary(pixels)
        else:
            evolution = Evolution(image_hamiltonian(padded(pixels, dim),
                                                    self.embedding))
        state = torch.full((len(images), dim), dim ** -0.5,
                           dtype=layers.dtype, device=images.device)
        for layer in range(self.n_layers):
            if self.embedding == 'angle':
                state = (data @ state.unsqueeze(-1)).squeeze(-1)
            else:
                state = evolution.apply(self.times[layer], state)
            state = state @ layers[layer].T
        return self.classify(_readout(state.abs() ** 2))

    def reference_forward(self, images: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` of a Hamiltonian embedding the slow way, one
        ``torch.linalg.matrix_exp`` per image and layer: the reference
        the tests and ``benchmarks/bench_hamiltonian.py`` check the
        eigendecomposition path against."""
        if self.embedding == 'angle':
            raise ConfigError("reference_forward is for the Hamiltonian "
                              "embeddings")
        dim = 2 ** self.n_qubits
        hamiltonian = image_hamiltonian(padded(_grey(images), dim),
                                        self.embedding)
        layers = self.trainable_layers()
        state = torch.full((len(images), dim), dim ** -0.5,
                           dtype=layers.dtype, device=images.device)
        for layer in range(self.n_layers):
            unitary = torch.linalg.matrix_exp(-1j * self.times[layer]
                                              * hamiltonian)
            state = (unitary @ state.unsqueeze(-1)).squeeze(-1)
            state = state @ layers[layer].T
        return self.classify(_readout(state.abs() ** 2))

    def quantum_parameters(self) -> int:
        """Trainable parameters of the circuit (:func:`circuit_parameters`)."""
        return circuit_parameters(self)

    def extra_repr(self) -> str:
        return (f"embedding={self.embedding}, ansatz={self.ansatz}, "
                f"qubits={self.n_qubits}, layers={self.n_layers}")


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

    def quantum_parameters(self) -> int:
        """Trainable parameters of the circuit (:func:`circuit_parameters`)."""
        return circuit_parameters(self)

    def extra_repr(self) -> str:
        return f"qubits={self.n_qubits}, kept={self.kept}"


def make_reupload_model(name: str, in_channels: int = 1,
                        image_size: int = 16, n_classes: int = 10,
                        n_layers: int | None = None, seed: int = 0,
                        embedding: str = 'hermitian', ansatz: str = 'su',
                        **unused: Any) -> nn.Module:
    """One of :data:`REUPLOAD_MODELS` for images of side ``image_size``
    (``n = ceil(log2(side))`` qubits); ``n_layers`` re-uploads (default
    :data:`DEFAULT_LAYERS`; the QCNN's depth follows from ``n``), the
    Hamiltonian ``embedding`` and the trainable layers' ``ansatz``."""
    n = _qubits_of(image_size)
    torch.manual_seed(seed)
    if name == 'qcnn':
        return QCNN(n, n_classes, seed)
    if name not in REUPLOAD_MODELS:
        raise ConfigError(f"unknown re-uploading model {name!r}; choose one "
                          f"of {', '.join(REUPLOAD_MODELS)}")
    return ReuploadClassifier(embedding if name == 'hamiltonian'
                              else 'angle', n, n_layers or DEFAULT_LAYERS,
                              n_classes, seed, ansatz)
