"""Classical baselines for protein sequences, on the same splits.

* ``composition``: amino-acid (k=1) or k-mer frequencies + logistic
  regression;
* ``hydropathy``: amino-acid composition plus the largest mean
  Kyte-Doolittle hydropathy over windows of 19 residues and the log of
  the number of windows above 1.6 (a transmembrane-helix scan, as in
  TMHMM's forerunners) + logistic regression;
* ``cnn``: a small 1D convolutional network (embedding, one convolution,
  global max pooling, linear), which can find a hydrophobic stretch
  anywhere in the sequence;
* ``esm``: mean-pooled ESM-2 embeddings (fair-esm, extra ``esm``) +
  logistic regression, where the weights are installed or downloadable
  (``esm.pretrained``, torch hub cache); any ESM-2 module can be passed in.

>>> seqs = ['AVLIVLA', 'DEKRDEK', 'LLIVAVV', 'KDERKDE']
>>> model = CompositionClassifier().fit(seqs, [1, 0, 1, 0])
>>> model.predict(['VLIAVDE']).tolist(), model.n_parameters
([1], 21)
"""
from __future__ import annotations

from itertools import product
from typing import Any, Sequence

import numpy as np
import torch

from qnlp.baselines.text import FeatureLogisticClassifier
from qnlp.baselines.base import TextClassifier
from qnlp.data.fasta import (AMINO_ACIDS, HYDROPATHY_THRESHOLD,
                             HYDROPATHY_WINDOW, KYTE_DOOLITTLE,
                             hydropathy_scan)


class CompositionClassifier(FeatureLogisticClassifier):
    """k-mer composition (frequencies) + logistic regression."""

    max_iter = 5000

    def __init__(self, k: int = 1, C: float = 10.0) -> None:
        self.k = k
        self.C = C

    def _features(self, sequences: Sequence[str]) -> np.ndarray:
        kmers = {''.join(p): i for i, p in
                 enumerate(product(AMINO_ACIDS, repeat=self.k))}
        rows = np.zeros((len(sequences), len(kmers)))
        for row, sequence in enumerate(sequences):
            total = max(1, len(sequence) - self.k + 1)
            for i in range(len(sequence) - self.k + 1):
                index = kmers.get(sequence[i:i + self.k])
                if index is not None:
                    rows[row, index] += 1 / total
        return rows


class HydropathyClassifier(CompositionClassifier):
    """Composition + a hydropathy-window scan + logistic regression.

    Features: the 20 amino-acid frequencies, the largest mean
    Kyte-Doolittle hydropathy over any ``window`` consecutive residues
    (divided by 4.5, the scale's maximum), and ``log(1 + n)`` for the
    number ``n`` of windows whose mean exceeds ``threshold`` (1.6: the
    classic transmembrane-helix cut-off for windows of 19).

    >>> model = HydropathyClassifier(window=3)
    >>> model._features(['AVLIVLA', 'DEK']).shape
    (2, 22)
    """

    def __init__(self, window: int = HYDROPATHY_WINDOW,
                 threshold: float = HYDROPATHY_THRESHOLD,
                 C: float = 10.0) -> None:
        super().__init__(k=1, C=C)
        self.window = window
        self.threshold = threshold

    def _features(self, sequences: Sequence[str]) -> np.ndarray:
        scans = hydropathy_scan(
            [[KYTE_DOOLITTLE.get(a, 0.0) for a in s] for s in sequences],
            self.window, self.threshold)
        return np.hstack([super()._features(sequences), scans])


class _ConvNet(torch.nn.Module):
    def __init__(self, channels: int, width: int, n_classes: int) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(len(AMINO_ACIDS) + 2, 8,
                                            padding_idx=0)
        self.conv = torch.nn.Conv1d(8, channels, width, padding=width // 2)
        self.output = torch.nn.Linear(channels, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.conv(self.embedding(tokens).transpose(1, 2)))
        hidden = hidden.masked_fill((tokens == 0).unsqueeze(1), -1e4)
        return self.output(hidden.max(dim=2).values)


class ConvClassifier(TextClassifier):
    """Embedding, one 1D convolution, global max pooling, linear."""

    def __init__(self, channels: int = 16, width: int = 15,
                 epochs: int = 20, lr: float = 0.01, max_length: int = 1000,
                 seed: int = 0) -> None:
        self.channels = channels
        self.width = width
        self.epochs = epochs
        self.lr = lr
        self.max_length = max_length
        self.seed = seed

    def _encode(self, sequences: Sequence[str]) -> torch.Tensor:
        index = {a: i + 2 for i, a in enumerate(AMINO_ACIDS)}
        rows = [[index.get(a, 1) for a in s[:self.max_length]]
                for s in sequences]
        width = max(len(r) for r in rows)
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])

    def fit(self, X: Sequence[str], y: Sequence[Any]) -> "ConvClassifier":
        sequences, targets = self._texts_and_targets(X, y)
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.network_ = _ConvNet(self.channels, self.width,
                                 len(self.classes_))
        tokens, targets = self._encode(sequences), torch.tensor(targets)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            order = torch.randperm(len(tokens), generator=generator)
            for first in range(0, len(tokens), 32):
                batch = order[first:first + 32]
                optimiser.zero_grad()
                torch.nn.functional.cross_entropy(
                    self.network_(tokens[batch]), targets[batch]).backward()
                optimiser.step()
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        sequences = self._texts_to_predict(X)
        with torch.no_grad():
            return torch.softmax(self.network_(self._encode(sequences)),
                                 dim=1).numpy()

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.network_.parameters())


def load_esm2(name: str = 'esm2_t6_8M_UR50D') -> tuple[Any, Any]:
    """``(model, alphabet)`` of a pretrained ESM-2 from fair-esm (weights
    from the torch hub cache, downloaded on first use where there is a
    network). Raises :class:`~qnlp.errors.ConfigError` with the reason if
    fair-esm or the weights are unavailable."""
    from qnlp.errors import ConfigError
    try:
        import esm
    except ImportError as error:
        raise ConfigError("the ESM-2 baseline needs fair-esm: "
                          "pip install 'qnlp[esm]'") from error
    loader = getattr(esm.pretrained, name, None)
    if loader is None:
        raise ConfigError(f"unknown ESM-2 model {name!r}")
    try:
        return loader()
    except Exception as error:  # no network, no cached weights
        raise ConfigError(f"cannot load ESM-2 weights {name!r} (not in the "
                          f"torch hub cache and no download: {error})"
                          ) from error


class EsmEmbeddingClassifier(FeatureLogisticClassifier):
    """Mean-pooled ESM-2 residue embeddings + logistic regression.

    ``model``/``alphabet`` default to :func:`load_esm2`; pass any ESM-2
    module (e.g. a small randomly initialised one in tests). Only the
    logistic regression is trained; ``n_parameters`` counts it, and
    ``encoder_parameters`` the frozen encoder.
    """

    max_iter = 5000

    def __init__(self, model: Any = None, alphabet: Any = None,
                 max_length: int = 1000, batch_size: int = 8,
                 C: float = 1.0) -> None:
        self.model = model
        self.alphabet = alphabet
        self.max_length = max_length
        self.batch_size = batch_size
        self.C = C

    def _features(self, sequences: Sequence[str]) -> np.ndarray:
        if not hasattr(self, 'encoder_'):   # init arguments stay untouched
            self.encoder_, self.alphabet_ = (
                (self.model, self.alphabet) if self.model is not None
                else load_esm2())
        self.encoder_.eval()
        converter = self.alphabet_.get_batch_converter()
        layer = self.encoder_.num_layers
        rows = []
        for first in range(0, len(sequences), self.batch_size):
            batch = [(str(i), s[:self.max_length]) for i, s in
                     enumerate(sequences[first:first + self.batch_size])]
            _, _, tokens = converter(batch)
            with torch.no_grad():
                hidden = self.encoder_(tokens, repr_layers=[layer])[
                    'representations'][layer]
            for row, (_, sequence) in enumerate(batch):
                rows.append(hidden[row, 1:len(sequence) + 1].mean(0)
                            .double().numpy())
        return np.stack(rows)

    @property
    def encoder_parameters(self) -> int:
        return sum(p.numel() for p in self.encoder_.parameters())


PROTEIN_BASELINES = {
    'composition': lambda seed: CompositionClassifier(k=1),
    'dipeptide': lambda seed: CompositionClassifier(k=2),
    'hydropathy': lambda seed: HydropathyClassifier(),
    'cnn': lambda seed: ConvClassifier(seed=seed),
    'esm': lambda seed: EsmEmbeddingClassifier(),
}
