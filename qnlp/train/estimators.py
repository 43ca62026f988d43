"""Every scikit-learn estimator of qnlp, in one place.

* :class:`DisCoCatEstimator`: texts in, labels out (parser, circuits,
  engine);
* :class:`VQCClassifier`: the variational quantum classifier on angle
  features, trained by :func:`qnlp.train.fit`;
* :class:`QuantumKernelSVC`: scikit-learn's SVC on the fidelity quantum
  kernel (:class:`qnlp.models.kernel.QuantumKernel`).

They follow the estimator contract (no work in ``__init__``, parameters
through ``get_params``/``set_params``, learned state in attributes ending
in ``_``), so they work in ``Pipeline``, ``cross_val_score`` and
``GridSearchCV``. (The classical baselines are estimators too; they live
in :mod:`qnlp.baselines`, beside the quantum models they are compared
with.)

>>> texts = ['woman cooks meal', 'man debugs program'] * 3
>>> labels = ['food', 'it'] * 3
>>> model = DisCoCatEstimator(epochs=30).fit(texts, labels)
>>> model.predict(['woman cooks meal']).tolist()
['food']

VQCClassifier: features (angles, one per qubit) go through a
:class:`~qnlp.models.vqc.VQCModel` (a
:class:`~qnlp.models.vqc.VariationalCircuit` giving ``[1 - p, p]``),
trained by :func:`qnlp.train.fit`, the one training loop of every task,
on the binary cross-entropy of ``P(class 1)``
(:func:`binary_cross_entropy`), with one of:

* ``adam``: Adam on exact autograd gradients;
* ``aqgd``: gradient descent with momentum 0.25 on exact gradients (the
  analytic quantum gradient descent of qiskit, as in Joshi et al.):
  ``m = 0.25 m + 0.75 g``, ``w -= lr m``;
* ``spsa``: two loss evaluations per step (:class:`~qnlp.train.optim.SPSA`);
* ``cobyla``: scipy's COBYLA, ``max_iter`` loss evaluations (one epoch of
  the trainer's scipy path), initial step ``lr``.

``max_iter`` is the number of epochs of :func:`~qnlp.train.fit`: with
``batch_size=0`` (full batch) one optimiser step each; with a
``batch_size`` every epoch is one pass over shuffled minibatches.
Gradients are rounded to the trainer's 2^-40 grid before each step.
All randomness (initial weights, minibatch order, SPSA directions) comes
from ``seed``. Two classes only.

Threads: the estimator leaves torch's thread count alone. Its
operations are tiny (5 qubits: 32 amplitudes per review), so on a few
hundred reviews ``torch.set_num_threads(1)`` is often faster than the
default; set it yourself (or ``OMP_NUM_THREADS=1``) for such runs.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(0, np.pi, size=(40, 2)); y = (X[:, 0] > np.pi / 2).astype(int)
>>> model = VQCClassifier(reps=1, max_iter=60).fit(X, y)
>>> bool(model.score(X, y) > 0.9), model.predict_proba(X[:2]).shape
(True, (2, 2))

>>> x = np.array([[0.1, 0.2], [1.0, 2.0], [0.1, 0.2]])
>>> QuantumKernelSVC(reps=2).fit(x[:2], [0, 1]).predict(x).tolist()
[0, 1, 0]
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_X_y

from qnlp.engine.device import complex_dtype, resolve_dtype
from qnlp.errors import ConfigError
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.models.kernel import QuantumKernel
from qnlp.models.vqc import VQCModel, check_features
from qnlp.parsing import make_parser
from qnlp.train.optim import AQGD_MOMENTUM
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
            make_parser(self.tagger), ansatz=self.ansatz,
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


VQC_OPTIMISERS = ('adam', 'aqgd', 'spsa', 'cobyla')
#: Learning rate (cobyla: initial step) when ``lr`` is not given.
DEFAULT_LR = {'adam': 0.1, 'aqgd': 1.0, 'spsa': 0.5, 'cobyla': 1.0}


def binary_cross_entropy(probabilities: torch.Tensor, labels: torch.Tensor
                         ) -> torch.Tensor:
    """Mean cross-entropy of ``P(class 1)`` (column 1 of
    ``probabilities``), clamped to ``[1e-9, 1 - 1e-9]``: the NLL of
    ``[1 - p, p]``."""
    p = probabilities[:, 1].clamp(1e-9, 1 - 1e-9)
    targets = labels.to(p.dtype)
    return -(targets * torch.log(p)
             + (1 - targets) * torch.log(1 - p)).mean()


class VQCClassifier(ClassifierMixin, BaseEstimator):
    """Variational quantum classifier on angle features.

    Parameters: the circuit (``feature_map`` ``angle`` or ``zz``,
    ``feature_reps``, ansatz ``reps`` and ``entanglement``, ``readout``
    ``parity`` or ``z``) and the training (``optimizer``, ``max_iter``
    epochs, ``lr``, ``momentum`` of ``aqgd`` (fixed at 0.25, the
    trainer's), ``batch_size`` 0 = full batch, ``seed``), and where it
    runs (``device`` ``cpu``/``cuda``, ``dtype`` ``float64``/``float32``).
    After ``fit``: ``weights_``, ``loss_curve_`` (the training loss of
    every epoch; for ``cobyla`` of every loss evaluation),
    ``fit_seconds_``, ``n_iter_`` (its length).
    """

    def __init__(self, feature_map: str = 'angle', feature_reps: int = 1,
                 reps: int = 2, entanglement: str = 'linear',
                 readout: str = 'parity', optimizer: str = 'adam',
                 max_iter: int = 100, lr: float | None = None,
                 momentum: float = AQGD_MOMENTUM, batch_size: int = 0,
                 seed: int = 0, device: str | None = None,
                 dtype: str = 'float64') -> None:
        self.feature_map = feature_map
        self.feature_reps = feature_reps
        self.reps = reps
        self.entanglement = entanglement
        self.readout = readout
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.lr = lr
        self.momentum = momentum
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.dtype = dtype

    def _circuit(self, n_qubits: int) -> VQCModel:
        return VQCModel(
            n_qubits, feature_map=self.feature_map,
            feature_reps=self.feature_reps, reps=self.reps,
            entanglement=self.entanglement, readout=self.readout,
            seed=self.seed, dtype=resolve_dtype(self.dtype),
            device=self.device)

    def _check(self) -> None:
        if self.optimizer not in VQC_OPTIMISERS:
            raise ConfigError(f"unknown optimiser {self.optimizer!r}; choose "
                              f"from {', '.join(VQC_OPTIMISERS)}")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be positive, got "
                              f"{self.max_iter}")
        if self.momentum != AQGD_MOMENTUM:
            raise ConfigError(f"momentum is {AQGD_MOMENTUM} (the trainer's "
                              f"aqgd), got {self.momentum}")

    def fit(self, X: Any, y: Any) -> "VQCClassifier":
        """Train on angles ``X`` ``(samples, qubits)`` and labels ``y``."""
        from qnlp.train.trainer import Hooks, Split, TrainConfig, fit
        self._check()
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, targets = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"VQCClassifier needs exactly two classes, got "
                             f"{len(self.classes_)}")
        self.n_features_in_ = X.shape[1]
        self.circuit_ = self._circuit(X.shape[1])
        lr = self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]
        evaluations: list[float] = []
        loss = binary_cross_entropy
        if self.optimizer == 'cobyla':
            # one epoch of max_iter evaluations: scipy's single COBYLA run
            config = TrainConfig(epochs=1, lr=lr, seed=self.seed,
                                 optimizer='cobyla',
                                 evaluations=self.max_iter)

            def loss(probabilities: torch.Tensor, labels: torch.Tensor
                     ) -> torch.Tensor:
                value = binary_cross_entropy(probabilities, labels)
                evaluations.append(float(value))
                return value
        else:
            config = TrainConfig(epochs=self.max_iter,
                                 batch_size=self.batch_size, lr=lr,
                                 seed=self.seed, optimizer=self.optimizer)
        train = Split(torch.from_numpy(X), torch.from_numpy(targets))
        start = time.perf_counter()
        history = fit(self.circuit_, train, None, config, progress=False,
                      hooks=Hooks(loss=loss, select='last'))
        self.fit_seconds_ = time.perf_counter() - start
        # cobyla: every evaluation but the trainer's final one at the end
        self.loss_curve_ = evaluations[:-1] if evaluations else \
            [row['train_loss'] for row in history]
        self.n_iter_ = len(self.loss_curve_)
        self.weights_ = self.circuit_.weights.detach().cpu().double(
        ).numpy().copy()
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(samples, 2)`` class probabilities, columns as ``classes_``."""
        X = check_features(self, X)
        self.circuit_.eval()
        with torch.no_grad():
            found = self.circuit_(self.circuit_.prepare(X))
        return found.cpu().double().numpy()

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class QuantumKernelSVC(ClassifierMixin, BaseEstimator):
    """scikit-learn's SVC on the precomputed quantum kernel.

    Features are angles (e.g. from :func:`~qnlp.baselines.features.
    text_features`); the number of qubits is the number of features.
    ``device`` and ``dtype`` (``'float64'``/``'float32'``) say where and
    in which precision the kernel's states are computed.
    """

    def __init__(self, feature_map: str = 'zz', reps: int = 2,
                 entanglement: str = 'full', C: float = 1.0,
                 device: str | None = None, dtype: str = 'float64') -> None:
        self.feature_map = feature_map
        self.reps = reps
        self.entanglement = entanglement
        self.C = C
        self.device = device
        self.dtype = dtype

    def _kernel(self, n_qubits: int) -> QuantumKernel:
        return QuantumKernel(self.feature_map, n_qubits, self.reps,
                             self.entanglement,
                             complex_dtype(resolve_dtype(self.dtype)),
                             self.device)

    def fit(self, X: Any, y: Any) -> "QuantumKernelSVC":
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        self.n_features_in_ = X.shape[1]
        self.kernel_ = self._kernel(X.shape[1])
        self.X_train_ = X
        self.svc_ = SVC(kernel='precomputed', C=self.C)
        self.svc_.fit(self.kernel_.evaluate(X), y)
        self.classes_ = self.svc_.classes_
        return self

    def _test_kernel(self, X: Any) -> np.ndarray:
        X = check_features(self, X)
        return self.kernel_.evaluate(X, self.X_train_)

    def decision_function(self, X: Any) -> np.ndarray:
        return self.svc_.decision_function(self._test_kernel(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.svc_.predict(self._test_kernel(X))
