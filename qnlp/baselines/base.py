"""The scikit-learn contract of classifiers whose samples are texts.

:class:`TextClassifier` is the base of every estimator that takes raw
texts (or amino-acid sequences) as ``X``: the DisCoCat estimator and the
classical baselines. It declares, with scikit-learn's tags, that its
input is a list of strings, not a 2D array (so the numeric checks of
``check_estimator`` do not apply to it), and gives the checks that do:
``X`` must be texts, ``y`` class labels (no regression targets, no
NaN), as many of them as texts, at least two classes; predicting before
``fit`` raises ``NotFittedError``.

>>> from sklearn.utils import get_tags
>>> class Majority(TextClassifier):
...     def fit(self, X, y):
...         X, targets = self._texts_and_targets(X, y)
...         self.counts_ = np.bincount(targets)
...         return self
...     def predict_proba(self, X):
...         X = self._texts_to_predict(X)
...         return np.tile(self.counts_ / self.counts_.sum(), (len(X), 1))
>>> get_tags(Majority()).input_tags.string
True
>>> Majority().fit(['a b', 'c', 'd'], ['x', 'y', 'x']).predict(['e']).tolist()
['x']
>>> Majority().fit(['a', 'b'], [0.5, 1.5])
Traceback (most recent call last):
...
ValueError: Unknown label type: continuous. Maybe you are trying to fit a classifier, which expects discrete classes on a regression target with continuous values.
>>> Majority().predict(['a'])
Traceback (most recent call last):
...
sklearn.exceptions.NotFittedError: This Majority instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (check_consistent_length,
                                      check_is_fitted, column_or_1d)


def as_texts(X: Any) -> list[str]:
    """``X`` as a list of texts; anything else (numbers, a 2D array) is
    a ``ValueError`` naming the first sample that is not a text.

    >>> as_texts(np.array(['good', 'bad']))
    ['good', 'bad']
    >>> as_texts([[0.5, 1.0]])
    Traceback (most recent call last):
    ...
    ValueError: expected texts (strings), but sample 0 is a list: [0.5, 1.0]
    """
    if isinstance(X, str):
        raise ValueError("expected a list of texts, got one string")
    texts = list(X)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"expected texts (strings), but sample {index} "
                             f"is a {type(text).__name__}: {text!r:.60}")
    return [str(text) for text in texts]


def check_two_classes_or_more(estimator: Any, classes: np.ndarray) -> None:
    """``ValueError`` unless ``classes`` (of the training labels) are at
    least two.

    >>> check_two_classes_or_more(TextClassifier(), np.array(['spam']))
    Traceback (most recent call last):
    ...
    ValueError: TextClassifier needs samples of at least 2 classes; got 1 class: 'spam'
    """
    if len(classes) < 2:
        raise ValueError(f"{type(estimator).__name__} needs samples of at "
                         f"least 2 classes; got {len(classes)} class"
                         + (f": {str(classes[0])!r}" if len(classes) else ''))


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Base of the classifiers over texts: tags, checked inputs, and
    ``predict`` as the most probable class of ``predict_proba``."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _texts_and_targets(self, X: Any, y: Any
                           ) -> tuple[list[str], np.ndarray]:
        """Checked texts and integer targets; sets ``classes_``."""
        texts = as_texts(X)
        labels = column_or_1d(np.asarray(y), warn=True)
        check_consistent_length(texts, labels)
        check_classification_targets(labels)
        self.classes_, targets = np.unique(labels, return_inverse=True)
        check_two_classes_or_more(self, self.classes_)
        return texts, targets

    def _texts_to_predict(self, X: Any) -> list[str]:
        """``X`` as texts, once the classifier is fitted."""
        check_is_fitted(self)
        return as_texts(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each text."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]
