"""The DisCoCat sentence classifier as a scikit-learn estimator.

It follows the estimator contract (no work in ``__init__``, parameters
through ``get_params``/``set_params``, learned state in attributes ending
in ``_``), so it works in ``Pipeline``, ``cross_val_score`` and
``GridSearchCV``.

>>> texts = ['woman cooks meal', 'man debugs program'] * 3
>>> labels = ['food', 'it'] * 3
>>> model = DisCoCatEstimator(epochs=30).fit(texts, labels)
>>> model.predict(['woman cooks meal']).tolist()
['food']
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.parsing import Parser, make_tagger
from qnlp.train.trainer import Split, TrainConfig, fit


class DisCoCatEstimator(ClassifierMixin, BaseEstimator):
    """Texts in, labels out: parser -> circuits -> engine -> classes.

    Parameters are those of :class:`~qnlp.tasks.sentences.SentenceSettings`;
    model selection uses the training data itself (there is no dev split
    inside ``fit``: use cross-validation around it).
    """

    def __init__(self, ansatz: str = 'iqp', layers: int = 1,
                 epochs: int = 120, lr: float = 0.1, batch_size: int = 0,
                 optimizer: str = 'adam', tagger: str = 'lexicon',
                 frobenius: bool = False, target: str | None = None,
                 seed: int = 0) -> None:
        self.ansatz = ansatz
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.tagger = tagger
        self.frobenius = frobenius
        self.target = target
        self.seed = seed

    def fit(self, texts: Sequence[str], labels: Sequence[Any]
            ) -> "DisCoCatEstimator":
        texts = [str(t) for t in texts]
        self.classes_, targets = np.unique(np.asarray(labels),
                                           return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("need at least two classes to fit")
        torch.manual_seed(self.seed)
        qubits = max(1, (len(self.classes_) - 1).bit_length())
        self.pipeline_ = SentencePipeline(
            Parser(make_tagger(self.tagger)), ansatz=self.ansatz,
            layers=self.layers, sentence_qubits=qubits, target=self.target,
            frobenius=self.frobenius)
        self.pipeline_.fit_vocabulary(texts, min_count=1)
        circuits = self.pipeline_.circuits(texts)
        self.model_ = DisCoCatClassifier.from_circuits(
            circuits, len(self.classes_), self.seed)
        data = Split(circuits, torch.as_tensor(targets))
        fit(self.model_, data, data,
            TrainConfig(epochs=self.epochs, lr=self.lr,
                        batch_size=self.batch_size, seed=self.seed,
                        optimizer=self.optimizer), progress=False)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        circuits = self.pipeline_.circuits([str(t) for t in texts])
        self.model_.extend_symbols(circuits, fill=0.0)
        with torch.no_grad():
            return self.model_(circuits).cpu().numpy()

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]
