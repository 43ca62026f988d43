"""Transfer learning (issue 21 item 2; after "Quantum Transfer Learning
for MNIST Classification Using a Hybrid Quantum-Classical Approach" and
Mari et al.'s dressed quantum circuit): a frozen autoencoder's 64-d
latent features feeding a small head.

The encoder (flattened image -> 256 -> ReLU -> 64 -> sigmoid) is
pretrained as an autoencoder (a mirrored decoder, mean squared error on
the normalised pixels of the training images; :func:`pretrain_encoder`)
and then frozen: its weights are saved with the model (so a resumed or
reloaded run does not pretrain again) but get no gradient. The heads:

* ``transfer-hybrid`` (the paper's): the 64 features as RY angles, the
  feature ``i`` on qubit ``i mod 5`` (scaled by pi), then a Hadamard on
  every qubit and a CNOT chain 0 -> 1 -> ... -> 4: a fixed 5-qubit
  circuit whose 32 outcome probabilities feed :func:`mlp_head`.
* ``transfer-classical``: :func:`mlp_head` on the 64 features directly
  (the classical model on the same compressed features).
* ``transfer-dressed`` (Mari et al. 2020): linear 64 -> 5, tanh times
  pi/2, a trained 5-qubit circuit (:class:`ParallelQuantumLayer`,
  ``n_layers`` layers of RZ-RY-RZ and a CNOT chain, <Z> of each qubit),
  linear 5 -> classes.
* ``transfer-linear``: the paper's circuit behind a trained linear map
  (64 -> ``n_qubits``, sigmoid, one feature a qubit, 8 qubits by
  default), its ``2**n_qubits`` outcome probabilities into
  :func:`mlp_head`: the best hybrid on the dev split
  (benchmarks/README.md, issue 21).
* ``transfer-reupload``: the creep-in quantum layer
  (:class:`qnlp.models.creep.QuantumDense`, all 64 features re-uploaded
  on 8 qubits, trained) to 16 expectation values, then :func:`mlp_head`.
* ``transfer-hamiltonian``: the latent as a Hamiltonian
  (:class:`LatentHamiltonian`): a trained linear map 64 -> 16 x 16 on
  4 qubits (the default, picked on the dev split: benchmarks/README.md;
  any ``n_qubits``: 64 -> 4**n, except on 3 qubits, where the 64
  features are reshaped to 8 x 8), embedded as :func:`qnlp.models.reupload.image_hamiltonian`
  (``'hermitian'`` by default) and re-uploaded before each of
  ``n_layers`` trained SU(2**n) layers
  (:class:`qnlp.models.reupload.ReuploadClassifier`); four such
  circuits side by side (:data:`HAMILTONIAN_CIRCUITS`, each its own map
  and layers), their ``4 * 2**n`` outcome probabilities into
  :func:`mlp_head`.

>>> import torch
>>> model = make_transfer_model('transfer-hybrid', 64, n_classes=10)
>>> tuple(model.eval()(torch.rand(3, 1, 8, 8)).shape)
(3, 10)
>>> [count_parameters(make_transfer_model(name, 64, 10), trainable=True)
...  for name in TRANSFER_MODELS]
[6762, 4714, 445, 3947, 19570, 77434]
"""
from __future__ import annotations

import math
import torch
from torch import nn

from qnlp.choices import TRANSFER_MODELS
from qnlp.engine.circuit_ops import (angle_states, apply_permutation,
                                     entangler_permutation, probabilities,
                                     product_state)
from qnlp.engine.gates import gate, kron
from qnlp.errors import ConfigError
from qnlp.models.creep import QuantumDense
from qnlp.models.quantum_layers import ParallelQuantumLayer
from qnlp.models.reupload import ReuploadClassifier

LATENT = 64
HIDDEN = 256
PAPER_QUBITS = 5
#: Qubits of the heads that take ``n_qubits``, unless told.
DEFAULT_QUBITS = {'linear': 8, 'hamiltonian': 4}
#: Hamiltonian circuits side by side in ``transfer-hamiltonian`` (picked
#: on the dev split: benchmarks/README.md).
HAMILTONIAN_CIRCUITS = 4


def count_parameters(model: nn.Module, trainable: bool = True) -> int:
    """Parameters of ``model`` (only the trained ones by default)."""
    return sum(p.numel() for p in model.parameters()
               if p.requires_grad or not trainable)


def mlp_head(n_inputs: int, n_classes: int, dropout: float = 0.2,
             width: int = 64) -> nn.Sequential:
    """The paper's classical classifier: dense layers with batch norm and
    dropout, ``n_inputs -> width (64) -> 32 -> classes``."""
    return nn.Sequential(
        nn.Linear(n_inputs, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(width, 32), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Dropout(dropout), nn.Linear(32, n_classes))


def encoder(n_inputs: int) -> nn.Sequential:
    """Flattened image -> 256 -> ReLU -> 64 -> sigmoid (the latent)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, HIDDEN),
                         nn.ReLU(), nn.Linear(HIDDEN, LATENT), nn.Sigmoid())


class PaperCircuit(nn.Module):
    """The paper's fixed 5-qubit circuit: features ``(B, F)`` -> the 32
    outcome probabilities ``(B, 32)`` (exact, no sampling).

    >>> out = PaperCircuit()(torch.zeros(2, 64))
    >>> tuple(out.shape), round(float(out[0].sum()), 6)
    ((2, 32), 1.0)
    """

    def __init__(self, n_qubits: int = PAPER_QUBITS) -> None:
        super().__init__()
        self.n_qubits = n_qubits
        self.register_buffer('perm', entangler_permutation('linear',
                                                           n_qubits),
                             persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n = self.n_qubits
        padded = nn.functional.pad(features, (0, -features.shape[1] % n))
        # successive RY on one qubit add up: qubit q turns by the sum of
        # features q, q + n, q + 2n, ...
        angles = math.pi * padded.view(len(features), -1, n).sum(1)
        state = product_state(angle_states(angles.double(), 'ry'))
        hadamards = kron(gate('H').expand(n, 2, 2))
        state = apply_permutation(state @ hadamards.transpose(0, 1),
                                  self.perm)
        return probabilities(state).to(features.dtype)

    def extra_repr(self) -> str:
        return f"qubits={self.n_qubits}, fixed"


class LatentHamiltonian(nn.Module):
    """Latent features ``(B, 64)`` -> ``2**n`` outcome probabilities
    (times ``2**n``, :func:`qnlp.models.reupload._readout`) of the
    Hamiltonian-embedding re-uploading circuit on ``n`` qubits: the
    features as a ``2**n x 2**n`` matrix (reshaped when ``4**n`` is 64,
    else through a trained linear map), its Hamiltonian re-uploaded
    before each trained layer (``ansatz`` ``'su'`` or ``'ring'``).

    >>> head = LatentHamiltonian(3, n_layers=2)
    >>> out = head(torch.rand(4, 64)).detach()
    >>> tuple(out.shape), round(float(out[0].sum()), 4), head.map
    ((4, 8), 8.0, Identity())
    """

    def __init__(self, n_qubits: int = 4, n_layers: int = 4, seed: int = 0,
                 embedding: str = 'hermitian', ansatz: str = 'su') -> None:
        super().__init__()
        self.side = 2 ** n_qubits
        self.map = (nn.Identity() if self.side ** 2 == LATENT
                    else nn.Linear(LATENT, self.side ** 2))
        self.circuit = ReuploadClassifier(embedding, n_qubits, n_layers,
                                          self.side, seed=seed,
                                          ansatz=ansatz)
        self.circuit.classify = nn.Identity()   # probabilities out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        matrix = self.map(features).view(-1, 1, self.side, self.side)
        return self.circuit(matrix).to(features.dtype)


class Parallel(nn.ModuleList):
    """Modules side by side on the same input, outputs concatenated.

    >>> Parallel([nn.Identity(), nn.Identity()])(torch.ones(2, 3)).shape
    torch.Size([2, 6])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([module(x) for module in self], dim=1)


class TransferNetwork(nn.Module):
    """Frozen ``encoder`` -> ``head`` (the model of one transfer run)."""

    def __init__(self, kind: str, n_inputs: int, n_classes: int,
                 n_layers: int = 4, seed: int = 0,
                 n_qubits: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.kind = kind
        n_qubits = n_qubits or DEFAULT_QUBITS.get(kind, 0)
        self.encoder = encoder(n_inputs)
        self.encoder.requires_grad_(False)
        if kind == 'classical':
            self.head: nn.Module = mlp_head(LATENT, n_classes)
        elif kind == 'hybrid':
            self.head = nn.Sequential(PaperCircuit(),
                                      mlp_head(2 ** PAPER_QUBITS, n_classes))
        elif kind == 'dressed':
            self.head = nn.Sequential(
                nn.Linear(LATENT, PAPER_QUBITS), nn.Tanh(),
                ParallelQuantumLayer(1, PAPER_QUBITS, n_layers,
                                     entangler='linear',
                                     input_scale=math.pi / 2, seed=seed),
                nn.Linear(PAPER_QUBITS, n_classes))
        elif kind == 'linear':
            self.head = nn.Sequential(
                nn.Linear(LATENT, n_qubits), nn.Sigmoid(),
                PaperCircuit(n_qubits), mlp_head(2 ** n_qubits, n_classes))
        elif kind == 'hamiltonian':
            self.head = nn.Sequential(
                Parallel([LatentHamiltonian(n_qubits, n_layers,
                                            seed=seed + k)
                          for k in range(HAMILTONIAN_CIRCUITS)]),
                mlp_head(HAMILTONIAN_CIRCUITS * 2 ** n_qubits, n_classes))
        else:
            layer = QuantumDense(LATENT, 16, seed=seed)
            self.head = nn.Sequential(layer, mlp_head(16, n_classes))

    def train(self, mode: bool = True) -> 'TransferNetwork':
        """The frozen encoder always stays in evaluation mode."""
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images ``(B, C, H, W)`` -> logits."""
        return self.head(self.encoder(images))

    def quantum_parameters(self) -> int:
        """Trained parameters inside the circuits."""
        return sum(count_parameters(m) for m in self.head.modules()
                   if isinstance(m, (ParallelQuantumLayer, QuantumDense,
                                     ReuploadClassifier)))


def make_transfer_model(name: str, n_inputs: int, n_classes: int,
                        n_layers: int = 4, seed: int = 0,
                        n_qubits: int | None = None) -> TransferNetwork:
    """One of :data:`TRANSFER_MODELS` (encoder not yet pretrained);
    ``n_layers`` is the dressed and Hamiltonian circuits', ``n_qubits``
    the linear and Hamiltonian heads' (default
    :data:`DEFAULT_QUBITS`)."""
    if name not in TRANSFER_MODELS:
        raise ConfigError(f"unknown transfer model {name!r}; choose one of "
                          f"{', '.join(TRANSFER_MODELS)}")
    return TransferNetwork(name[len('transfer-'):], n_inputs, n_classes,
                           n_layers=n_layers, seed=seed, n_qubits=n_qubits)


def pretrain_encoder(network: TransferNetwork, pixels: torch.Tensor,
                     epochs: int, lr: float = 1e-3, batch_size: int = 256,
                     seed: int = 0) -> list[float]:
    """Train ``network.encoder`` with a mirrored decoder to reconstruct
    ``pixels`` (normalised images ``(N, C, H, W)``), then freeze it;
    returns the mean squared error of each epoch. The encoder starts
    from ``torch.manual_seed(seed)`` (:class:`TransferNetwork`), so every
    head of one seed gets the same features.

    >>> net = make_transfer_model('transfer-classical', 16, 2)
    >>> losses = pretrain_encoder(net, torch.rand(32, 1, 4, 4), epochs=3)
    >>> len(losses), losses[-1] < losses[0]
    (3, True)
    >>> any(p.requires_grad for p in net.encoder.parameters())
    False
    """
    generator = torch.Generator().manual_seed(seed)
    flat = pixels.flatten(1)
    with torch.random.fork_rng():   # the same decoder whatever the head
        torch.manual_seed(seed)
        decoder = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(),
                                nn.Linear(HIDDEN, flat.shape[1])).to(flat)
    network.encoder.requires_grad_(True)
    parameters = [*network.encoder.parameters(), *decoder.parameters()]
    optimiser = torch.optim.Adam(parameters, lr=lr)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(flat), generator=generator)
        total = 0.0
        for start in range(0, len(flat), batch_size):
            batch = flat[order[start:start + batch_size]]
            loss = nn.functional.mse_loss(
                decoder(network.encoder(batch)), batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        losses.append(total / len(flat))
    optimiser.zero_grad(set_to_none=True)
    network.encoder.requires_grad_(False)
    return losses

