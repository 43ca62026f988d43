"""Hybrid quantum image classifiers and their classical counterparts.

* ``hqnn-parallel`` (Senokosov et al. 2024): conv(C->16, 5x5) + BN + ReLU
  + maxpool, conv(16->32, 5x5) + BN + ReLU + maxpool, linear -> 20, four
  5-qubit circuits (angle encoding, 3 layers of RZ-RY-RZ and a CNOT ring,
  <Z> of every qubit), linear -> classes.
* ``cnn``: the same network with the quantum layer replaced by a linear
  map 20 -> 20 + tanh (420 parameters against the circuits' 180).
* ``cnn-large``: the same front end with a wide classical head
  (512 -> 128 -> classes).
* ``hqnn-quanv``: a trainable 2x2 stride-2 quanvolution (4 qubits per
  channel) + linear to the classes; ``cnn-quanv`` replaces it with a
  2x2 stride-2 convolution of the same output size (equal parameter
  count up to the bias), ``cnn-quanv-large`` with a 16-channel one.

``front='cifar'`` swaps the two-convolution front end for a deeper one
(four 3x3 conv + BN + ReLU blocks, 32-64-128-256 channels, max pooling,
global max pool) sized for 3x32x32 images; the head is unchanged.

>>> import torch
>>> model = make_image_model('hqnn-parallel', in_channels=1, image_size=28)
>>> tuple(model(torch.rand(2, 1, 28, 28)).shape), count_parameters(model)
((2, 10), 23994)
>>> count_parameters(make_image_model('cnn', 1, 28))
24234
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qnlp.choices import IMAGE_FRONTS, IMAGE_MODELS
from qnlp.errors import ConfigError
from qnlp.models.fingerprint import Fingerprinted
from qnlp.models.quantum_layers import ParallelQuantumLayer, Quanvolution

MODELS, FRONTS = IMAGE_MODELS, IMAGE_FRONTS


def count_parameters(model: nn.Module, trainable: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable)


def quantum_parameters(model: nn.Module) -> int:
    """Trainable parameters inside quantum layers: a network that counts
    its own (a ``quantum_parameters()`` method: re-uploading, QCNN,
    creep and transfer networks) says; otherwise those of its
    :class:`ParallelQuantumLayer` s. ``model`` may be the network or an
    :class:`ImageClassifier` holding it."""
    network = getattr(model, 'network', model)
    own = getattr(network, 'quantum_parameters', None)
    if callable(own):
        return own()
    return sum(count_parameters(m) for m in model.modules()
               if isinstance(m, ParallelQuantumLayer))


class ImageClassifier(Fingerprinted, nn.Module):
    """uint8 images -> logits, the model of an image run.

    ``prepare`` scales pixels to [0, 1] on the model's device and dtype
    (augmentation then shifts in black borders); ``forward`` normalises
    them per channel with ``mean`` and ``std`` (buffers, so they are
    saved with the weights) and runs ``network``.

    >>> model = ImageClassifier(nn.Flatten(), channels=1)
    >>> model.normalise_with(torch.tensor([[[[0, 255]]]], dtype=torch.uint8))
    >>> model(model.prepare(torch.tensor([[[[255, 0]]]], dtype=torch.uint8)))
    tensor([[ 0.7071, -0.7071]])
    """

    def __init__(self, network: nn.Module, channels: int) -> None:
        super().__init__()
        self.network = network
        self.register_buffer('mean', torch.zeros(1, channels, 1, 1))
        self.register_buffer('std', torch.ones(1, channels, 1, 1))

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must match (:mod:`qnlp.models.fingerprint`):
        every layer of the network, with its settings (qubits, wires,
        classes of the last linear layer...)."""
        return {f'layer {name}': f'{type(module).__name__}('
                f'{module.extra_repr()})'
                for name, module in self.network.named_modules(prefix='network')}

    def normalise_with(self, images: torch.Tensor) -> None:
        """Use the per-channel mean and standard deviation of the uint8
        ``images`` (raw [0, 1] pixels until this is called)."""
        pixels = images.float() / 255
        self.mean.copy_(pixels.mean(dim=(0, 2, 3)).view(self.mean.shape))
        self.std.copy_(pixels.std(dim=(0, 2, 3)).view(self.std.shape))

    def prepare(self, images: Any) -> torch.Tensor:
        """uint8 images ``(B, C, H, W)`` -> pixels in [0, 1]."""
        return (torch.as_tensor(images).float() / 255).to(
            self.mean.device, self.mean.dtype)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels in [0, 1] -> logits."""
        return self.network((pixels - self.mean) / self.std)


def small_front(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """The two-convolution front end of HQNN-Parallel and its width."""
    side = ((image_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ConfigError(f"images of side {image_size} are too small for "
                          "two 5x5 convolutions with pooling")
    front = nn.Sequential(
        nn.Conv2d(in_channels, 16, 5), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten())
    return front, 32 * side * side


def cifar_front(in_channels: int, widths: tuple[int, ...] = (32, 64, 128),
                last: int = 256) -> tuple[nn.Module, int]:
    """A deeper 3x3 front end for 32x32 colour images and its width.

    One conv + BN + ReLU + maxpool block per entry of ``widths`` (32 -> 16
    -> 8 -> 4 pixels), a last conv to ``last`` channels, global max pool.
    """
    layers: list[nn.Module] = []
    previous = in_channels
    for width in widths:
        layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False),
                   nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
        previous = width
    layers += [nn.Conv2d(previous, last, 3, padding=1, bias=False),
               nn.BatchNorm2d(last), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
               nn.Flatten()]
    return nn.Sequential(*layers), last


class HybridClassifier(nn.Module):
    """Front end -> linear to ``K*n`` -> head -> linear to the classes."""

    def __init__(self, front: nn.Module, width: int, middle: nn.Module,
                 middle_in: int, middle_out: int, n_classes: int) -> None:
        super().__init__()
        self.front = front
        self.reduce = nn.Linear(width, middle_in)
        self.middle = middle
        self.classify = nn.Linear(middle_out, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` -> logits ``(B, classes)``."""
        return self.classify(self.middle(self.reduce(self.front(images))))


class QuanvClassifier(nn.Module):
    """Patch layer (quanvolution or convolution) -> flatten -> linear."""

    def __init__(self, patches: nn.Module, out_channels: int,
                 image_size: int, n_classes: int) -> None:
        super().__init__()
        self.patches = patches
        side = (image_size - 2) // 2 + 1
        self.classify = nn.Linear(out_channels * side * side, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` (pixels in [0, 1]) -> logits."""
        return self.classify(self.patches(images).flatten(1))


def make_image_model(name: str, in_channels: int = 1, image_size: int = 28,
                     n_classes: int = 10, front: str = 'small',
                     seed: int = 0, **quantum: Any) -> nn.Module:
    """Build one of :data:`MODELS`; ``quantum`` goes to the quantum layer.

    The classical layers are initialised from ``torch.manual_seed(seed)``.
    """
    if name not in MODELS:
        raise ConfigError(f"unknown image model {name!r}; choose one of "
                          f"{', '.join(MODELS)}")
    if front not in FRONTS:
        raise ConfigError(f"unknown front end {front!r}; choose small or "
                          "cifar")
    torch.manual_seed(seed)
    if name in ('hqnn-quanv', 'cnn-quanv', 'cnn-quanv-large'):
        if name == 'hqnn-quanv':
            patches: nn.Module = Quanvolution(in_channels, seed=seed,
                                              **quantum)
            channels = patches.out_channels
        else:
            channels = 4 * in_channels * (4 if name.endswith('large') else 1)
            patches = nn.Sequential(nn.Conv2d(in_channels, channels, 2,
                                              stride=2), nn.Tanh())
        return QuanvClassifier(patches, channels, image_size, n_classes)
    body, width = (small_front(in_channels, image_size) if front == 'small'
                   else cifar_front(in_channels))
    if name == 'hqnn-parallel':
        settings = {'n_circuits': 4, 'n_qubits': 5, 'n_layers': 3,
                    **quantum}
        layer = ParallelQuantumLayer(seed=seed, **settings)
        return HybridClassifier(body, width, layer, layer.in_features,
                                layer.out_features, n_classes)
    if name == 'cnn':
        return HybridClassifier(body, width,
                                nn.Sequential(nn.Linear(20, 20), nn.Tanh()),
                                20, 20, n_classes)
    return HybridClassifier(body, width, nn.ReLU(), 128, 128, n_classes)


def parameter_table(in_channels: int = 1, image_size: int = 28,
                    n_classes: int = 10, front: str = 'small') -> str:
    """Exact trainable parameter counts of every model, as a text table.

    >>> print(parameter_table().splitlines()[1])
    hqnn-parallel          23994        180
    """
    from qnlp.models.quantum_layers import ParallelQuantumLayer as _Layer
    lines = [f"{'model':<16}{'parameters':>12}{'quantum':>11}"]
    for name in MODELS:
        model = make_image_model(name, in_channels, image_size, n_classes,
                                 front=front)
        quantum = sum(count_parameters(m) for m in model.modules()
                      if isinstance(m, _Layer))
        lines.append(f"{name:<16}{count_parameters(model):>12}"
                     f"{quantum:>11}")
    return '\n'.join(lines)
