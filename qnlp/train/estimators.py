"""Every scikit-learn estimator of qnlp, in one place.

* :class:`DisCoCatEstimator`: texts in, labels out (parser, circuits,
  engine);
* :class:`VQCClassifier`: the variational quantum classifier on angle
  features, trained by :func:`qnlp.train.fit`;
* :class:`VQCRegressor`: the same circuit read out as ``<O>``, trained
  on the mean squared error;
* :class:`QuantumKernelSVC`, :class:`QuantumKernelRidge`,
  :class:`QuantumKernelSVR`: scikit-learn's SVC, KernelRidge and SVR on
  a quantum kernel (:mod:`qnlp.models.kernel`: fidelity or projected, of
  a built-in feature map or a qiskit circuit, optionally trained by
  kernel-target alignment; base class :class:`QuantumKernelEstimator`).

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
from ``seed``. More than two classes: one circuit per class, trained
the same way on "this class or not" (one-vs-rest).

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
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from qnlp.engine.device import complex_dtype, resolve_dtype
from qnlp.errors import ConfigError
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.models.kernel import (ProjectedQuantumKernel, QuantumKernel,
                                alignment_target, train_alignment)
from qnlp.models.vqc import (VariationalCircuit, VQCModel,
                             VQCRegressionModel, check_features)
from qnlp.parsing import make_parser
from qnlp.spacy_pipeline import DEFAULT_PIPELINE
from qnlp.train.optim import AQGD_MOMENTUM
from qnlp.baselines.base import (TextClassifier,
                                        check_two_classes_or_more)
from qnlp.train.trainer import Hooks, Split, TrainConfig, fit


class DisCoCatEstimator(TextClassifier):
    """Texts in, labels out: parser -> circuits -> engine -> classes.

    Parameters are those of :class:`~qnlp.tasks.sentences.SentenceSettings`;
    model selection uses the training data itself (there is no dev split
    inside ``fit``: use cross-validation around it).

    ``spacy_pipeline`` is the spaCy pipeline of ``tagger='spacy'`` (an
    installed package or a trained pipeline directory, as the CLI's
    ``--spacy-pipeline``); with another tagger ``fit`` refuses any but
    the default.

    ``C`` classes are read from ``ceil(log2 C)`` qubits of the output
    wire: the sentence wire, or with ``target='n'`` (noun phrases) the
    noun wire, so every noun then has that many qubits.

    >>> phrases = ['tasty meal', 'useful program', 'green tree'] * 2
    >>> model = DisCoCatEstimator(target='n', epochs=40).fit(
    ...     phrases, ['food', 'it', 'nature'] * 2)
    >>> model.predict(['green tree', 'tasty meal']).tolist()
    ['nature', 'food']
    """

    def __init__(self, ansatz: str = 'iqp', layers: int = 1,
                 epochs: int = 120, lr: float = 0.1, batch_size: int = 0,
                 optimizer: str = 'adam', tagger: str = 'lexicon',
                 spacy_pipeline: str = DEFAULT_PIPELINE,
                 frobenius: bool = False, target: str | None = None,
                 seed: int = 0) -> None:
        self.ansatz = ansatz
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.tagger = tagger
        self.spacy_pipeline = spacy_pipeline
        self.frobenius = frobenius
        self.target = target
        self.seed = seed

    def fit(self, X: Sequence[str], y: Sequence[Any]
            ) -> "DisCoCatEstimator":
        """Train on texts ``X`` and their class labels ``y``."""
        texts, targets = self._texts_and_targets(X, y)
        torch.manual_seed(self.seed)
        qubits = max(1, (len(self.classes_) - 1).bit_length())
        self.pipeline_ = SentencePipeline(
            make_parser(self.tagger, self.spacy_pipeline),
            ansatz=self.ansatz,
            layers=self.layers, sentence_qubits=qubits,
            noun_qubits=qubits if self.target == 'n' else 1,
            target=self.target, frobenius=self.frobenius)
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

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """``(texts, classes)`` probabilities, columns as ``classes_``."""
        texts = self._texts_to_predict(X)
        circuits = self.pipeline_.circuits(texts)
        self.model_.extend_symbols(circuits, fill=0.0)
        with torch.no_grad():
            return self.model_(circuits).cpu().numpy()


VQC_OPTIMISERS = ('adam', 'aqgd', 'spsa', 'cobyla')
#: Learning rate (cobyla: initial step) when ``lr`` is not given.
DEFAULT_LR = {'adam': 0.1, 'aqgd': 1.0, 'spsa': 0.5, 'cobyla': 1.0}


def binary_cross_entropy(probabilities: torch.Tensor, labels: torch.Tensor
                         ) -> torch.Tensor:
    """Mean cross-entropy of ``P(class 1)`` (column 1 of
    ``probabilities``), clamped to ``[1e-9, 1 - 1e-9]``: the NLL of
    ``[1 - p, p]``. One autograd node (:class:`_BinaryCrossEntropy`):
    the plain expression ``-(t log p + (1 - t) log(1 - p)).mean()`` of
    the clamped ``p`` (on the CPU to the last bit or so, elsewhere bit
    for bit) and its gradient through autograd (bit for bit), without a
    dozen nodes.

    >>> p = torch.tensor([[0.9, 0.1], [0.2, 0.8]], requires_grad=True)
    >>> loss = binary_cross_entropy(p, torch.tensor([0, 1]))
    >>> loss.backward()
    >>> round(loss.item(), 4), p.grad
    (0.1643, tensor([[ 0.0000,  0.5556],
            [ 0.0000, -0.6250]]))
    """
    return _BinaryCrossEntropy.apply(probabilities, labels)


#: :func:`binary_cross_entropy` clamps ``P(class 1)`` to these bounds.
_LOW, _HIGH = 1e-9, 1 - 1e-9


class _BinaryCrossEntropy(torch.autograd.Function):
    """:func:`binary_cross_entropy` with its backward by hand: the
    operations autograd runs through ``neg``, ``mean``, ``add``, ``mul``,
    ``log``, ``rsub``, ``clamp`` and the column's ``select``, in that
    order (so bit for bit), on the forward's pieces. On the CPU in numpy
    (a dozen operations on a few hundred numbers cost numpy a third of
    torch's overhead); the backward's arithmetic is the same there, bit
    for bit, and the forward's logarithm and mean may differ from
    torch's in the last bit. Itself differentiable: under double
    backward the gradient is recomputed from the input in torch."""

    @staticmethod
    def forward(ctx: Any, probabilities: torch.Tensor, labels: torch.Tensor
                ) -> torch.Tensor:
        ctx.save_for_backward(probabilities, labels)
        library = np if _in_numpy(probabilities) else torch
        pieces = _bce_pieces(probabilities.detach().numpy(), labels.numpy()) \
            if library is np else _bce_pieces(probabilities, labels)
        _, clamped, targets, complements = pieces
        ctx.pieces = pieces if library is np else None
        with _quiet():        # as quiet as torch where float32's 1 - p is 0
            loss = -(targets * library.log(clamped)
                     + complements[0] * library.log(complements[1])).mean()
        return torch.as_tensor(loss, dtype=probabilities.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        probabilities, labels = ctx.saved_tensors
        if ctx.pieces is None or torch.is_grad_enabled():
            # in torch: off the CPU, or differentiable (double backward)
            pieces, library = _bce_pieces(probabilities, labels), torch
        else:
            pieces, library, grad = ctx.pieces, np, grad.numpy()
        p, clamped, targets, complements = pieces
        scale = grad / -len(targets)                # neg, then mean
        with _quiet():
            through = (scale * targets / clamped
                       - scale * complements[0] / complements[1])
        result = torch.zeros_like(probabilities)
        # clamp passes the gradient where low <= p <= high: where the
        # clamp left p as it was
        result[:, 1] = torch.as_tensor(library.where(clamped == p, through,
                                                     0.0))
        return result, None


def _quiet() -> Any:
    """numpy's warnings off for :class:`_BinaryCrossEntropy` (torch gives
    the same infinities and NaNs silently)."""
    return np.errstate(divide='ignore', invalid='ignore')


def _in_numpy(probabilities: torch.Tensor) -> bool:
    """Whether :class:`_BinaryCrossEntropy` works in numpy (on the CPU)."""
    return probabilities.device.type == 'cpu'


def _bce_pieces(probabilities: Any, labels: Any) -> tuple:
    """``p`` (column 1), ``p`` clamped, the targets in ``p``'s type, and
    ``1 - targets``, ``1 - clamped`` for :class:`_BinaryCrossEntropy`
    (torch tensors or numpy arrays)."""
    p = probabilities[:, 1]
    clamped = p.clip(_LOW, _HIGH)
    targets = labels.astype(p.dtype) if isinstance(labels, np.ndarray) \
        else labels.to(p.dtype)
    return p, clamped, targets, (1 - targets, 1 - clamped)


class VariationalEstimator(BaseEstimator):
    """What the VQC estimators share: their parameters, the circuit, and
    one circuit's training by :func:`qnlp.train.fit` on a loss."""

    def __init__(self, feature_map: str = 'angle', feature_reps: int = 1,
                 reps: int = 2, entanglement: str = 'linear',
                 readout: Any = 'parity', optimizer: str = 'adam',
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

    #: The torch model one circuit is.
    model_class: type[VariationalCircuit] = VQCModel

    def _circuit(self, n_qubits: int) -> VariationalCircuit:
        return self.model_class(
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

    def _train(self, X: np.ndarray, targets: np.ndarray,
               loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
               ) -> tuple[VariationalCircuit, list[float]]:
        """One circuit trained on ``targets`` by ``loss``, and its loss
        curve."""
        circuit = self._circuit(X.shape[1])
        lr = self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]
        evaluations: list[float] = []
        if self.optimizer == 'cobyla':
            # one epoch of max_iter evaluations: scipy's single COBYLA run
            config = TrainConfig(epochs=1, lr=lr, seed=self.seed,
                                 optimizer='cobyla',
                                 evaluations=self.max_iter)
            plain = loss

            def loss(outputs: torch.Tensor, labels: torch.Tensor
                     ) -> torch.Tensor:
                value = plain(outputs, labels)
                evaluations.append(float(value))
                return value
        else:
            config = TrainConfig(epochs=self.max_iter,
                                 batch_size=self.batch_size, lr=lr,
                                 seed=self.seed, optimizer=self.optimizer)
        train = Split(torch.from_numpy(X), torch.from_numpy(targets))
        history = fit(circuit, train, None, config, progress=False,
                      hooks=Hooks(loss=loss, select='last'))
        # cobyla: every evaluation but the trainer's final one at the end
        curve = evaluations[:-1] if evaluations else \
            [row['train_loss'] for row in history]
        return circuit, curve

    def _outputs(self, circuit: VariationalCircuit, X: np.ndarray
                 ) -> np.ndarray:
        """The trained ``circuit``'s outputs on ``X`` as float64 numpy."""
        circuit.eval()
        with torch.no_grad():
            return circuit(circuit.prepare(X)).cpu().double().numpy()


class VQCClassifier(ClassifierMixin, VariationalEstimator):
    """Variational quantum classifier on angle features.

    Parameters: the circuit (``feature_map`` ``angle`` or ``zz``,
    ``feature_reps``, ansatz ``reps`` and ``entanglement``, ``readout``
    ``parity``, ``z`` or a Pauli sum (:func:`~qnlp.models.observables.
    pauli_sum`: ``'XZ'``, ``[('ZI', 0.5), ('IZ', 0.5)]``, a qiskit
    ``SparsePauliOp``) and the training (``optimizer``, ``max_iter``
    epochs, ``lr``, ``momentum`` of ``aqgd`` (fixed at 0.25, the
    trainer's), ``batch_size`` 0 = full batch, ``seed``), and where it
    runs (``device`` ``cpu``/``cuda``, ``dtype`` ``float64``/``float32``).
    After ``fit``: ``circuits_`` (the trained
    :class:`~qnlp.models.vqc.VQCModel`: one for two classes, one per
    class for more, one-vs-rest), ``weights_`` (theirs: ``(weights,)``
    for two classes, ``(classes, weights)`` for more), ``loss_curve_``
    (the training loss of every epoch; for ``cobyla`` of every loss
    evaluation; one curve per class for more than two), ``fit_seconds_``,
    ``n_iter_`` (the curve's length; per class for more than two).
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # a few-qubit circuit trained for max_iter steps has no accuracy
        # guarantee on arbitrary data (scikit-learn's checks ask for 83%)
        tags.classifier_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> "VQCClassifier":
        """Train on angles ``X`` ``(samples, qubits)`` and labels ``y``:
        one circuit for two classes, one per class (one-vs-rest) for
        more."""
        self._check()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, targets = np.unique(y, return_inverse=True)
        check_two_classes_or_more(self, self.classes_)
        problems = [targets] if len(self.classes_) == 2 else \
            [(targets == k).astype(targets.dtype)
             for k in range(len(self.classes_))]
        start = time.perf_counter()
        fitted = [self._fit_binary(X, problem) for problem in problems]
        self.fit_seconds_ = time.perf_counter() - start
        self.circuits_ = [circuit for circuit, _ in fitted]
        weights = np.stack([c.weights.detach().cpu().double().numpy()
                            for c in self.circuits_])
        curves = [curve for _, curve in fitted]
        if len(problems) == 1:
            self.weights_, self.loss_curve_ = weights[0], curves[0]
            self.n_iter_ = len(curves[0])
        else:
            self.weights_, self.loss_curve_ = weights, curves
            self.n_iter_ = np.array([len(curve) for curve in curves])
        return self

    def _fit_binary(self, X: np.ndarray, targets: np.ndarray
                    ) -> tuple[VariationalCircuit, list[float]]:
        """One circuit trained on 0/1 ``targets``, and its loss curve."""
        return self._train(X, targets, binary_cross_entropy)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(samples, classes)`` class probabilities, columns as
        ``classes_`` (more than two classes: each circuit's ``P(its
        class)``, normalised over the classes, as one-vs-rest does)."""
        X = check_features(self, X)
        found = [self._outputs(circuit, X) for circuit in self.circuits_]
        if len(found) == 1:
            return found[0]
        scores = np.stack([p[:, 1] for p in found], axis=1)
        total = scores.sum(axis=1, keepdims=True)
        return np.where(total > 0, scores / np.where(total > 0, total, 1),
                        1 / len(found))

    def predict(self, X: Any) -> np.ndarray:
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]


class VQCRegressor(RegressorMixin, VariationalEstimator):
    """Variational quantum regressor: the VQC's circuit read out as the
    expectation ``<O>`` of its observable (``readout``: ``parity``,
    ``z`` or a Pauli sum), trained on the mean squared error.

    Targets are mapped linearly onto ``[-1, 1]`` (their range, fitted on
    the training data: ``offset_``, ``scale_``) for training, and
    predictions mapped back: ``offset_ + scale_ * <O>``. Other parameters
    and fitted attributes as :class:`VQCClassifier` (``circuit_``,
    ``weights_``, ``loss_curve_``, ``n_iter_``, ``fit_seconds_``).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0, np.pi, size=(30, 1)); y = np.cos(X[:, 0])
    >>> model = VQCRegressor(reps=1, readout='z', max_iter=40).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    """

    model_class = VQCRegressionModel

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # few qubits and max_iter steps promise no R^2 on arbitrary data
        tags.regressor_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> "VQCRegressor":
        """Train on angles ``X`` ``(samples, qubits)`` and targets ``y``."""
        self._check()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        low, high = float(y.min()), float(y.max())
        self.offset_ = (high + low) / 2
        self.scale_ = (high - low) / 2 or 1.0
        start = time.perf_counter()
        self.circuit_, self.loss_curve_ = self._train(
            X, (y - self.offset_) / self.scale_, mean_squared_error)
        self.fit_seconds_ = time.perf_counter() - start
        self.weights_ = self.circuit_.weights.detach().cpu().double().numpy()
        self.n_iter_ = len(self.loss_curve_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        X = check_features(self, X)
        return self.offset_ + self.scale_ * self._outputs(self.circuit_, X)


def mean_squared_error(outputs: torch.Tensor, targets: torch.Tensor
                       ) -> torch.Tensor:
    """Mean of ``(outputs - targets)^2``."""
    return ((outputs - targets.to(outputs.dtype)) ** 2).mean()


KERNELS = {'fidelity': QuantumKernel, 'projected': ProjectedQuantumKernel}


class QuantumKernelEstimator(BaseEstimator):
    """What the quantum kernel estimators share: the kernel (``kernel``
    ``fidelity`` or ``projected``, the latter of width ``gamma``) of a
    feature map (``feature_map`` ``zz``/``angle`` with ``reps`` and
    ``entanglement``, or a parametrised qiskit ``QuantumCircuit`` whose
    ``training_parameters`` are weights), its training by kernel-target
    alignment (``alignment_steps`` Adam steps of rate ``alignment_lr``;
    with a built-in map, a trainable rotation layer is put in front; a
    circuit's ``training_parameters`` stay at zero without such steps),
    and the training and test Gram matrices.

    After ``fit``: ``kernel_`` (its trained ``weights``, if any),
    ``alignment_curve_`` (the alignment before every step and after the
    last; empty without training), ``X_train_``.
    """

    def __init__(self, feature_map: Any = 'zz', reps: int = 2,
                 entanglement: str = 'full', kernel: str = 'fidelity',
                 gamma: float = 1.0, training_parameters: Any = None,
                 alignment_steps: int = 0, alignment_lr: float = 0.1,
                 device: str | None = None, dtype: str = 'float64') -> None:
        self.feature_map = feature_map
        self.reps = reps
        self.entanglement = entanglement
        self.kernel = kernel
        self.gamma = gamma
        self.training_parameters = training_parameters
        self.alignment_steps = alignment_steps
        self.alignment_lr = alignment_lr
        self.device = device
        self.dtype = dtype

    def _make_kernel(self, n_features: int) -> QuantumKernel:
        if self.kernel not in KERNELS:
            raise ConfigError(f"unknown kernel {self.kernel!r}; choose from "
                              f"{', '.join(KERNELS)}")
        if self.alignment_steps < 0:
            raise ConfigError(f"alignment_steps must not be negative, got "
                              f"{self.alignment_steps}")
        options = {'gamma': self.gamma} if self.kernel == 'projected' \
            else {}
        kernel = KERNELS[self.kernel](
            self.feature_map, n_features, self.reps, self.entanglement,
            complex_dtype(resolve_dtype(self.dtype)), self.device,
            trainable=(self.alignment_steps > 0
                       and isinstance(self.feature_map, str)),
            training_parameters=self.training_parameters, **options)
        if kernel.n_features != n_features:
            raise ValueError(f"the feature map takes {kernel.n_features} "
                             f"features; X has {n_features}")
        return kernel

    def _alignment_target(self, y: np.ndarray) -> np.ndarray:
        """The ideal kernel of the targets ``y`` (classes here)."""
        return alignment_target(y)

    def _fit_kernel(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Make (and train) ``kernel_``; the training Gram matrix."""
        self.kernel_ = self._make_kernel(X.shape[1])
        self.X_train_ = X
        self.alignment_curve_: list[float] = []
        if self.alignment_steps > 0 and self.kernel_.weights is not None:
            if len(np.unique(y)) < 2:
                raise ValueError(f"alignment training needs two different "
                                 f"targets at least; got {len(y)} sample"
                                 f"{'s' if len(y) != 1 else ''} with one")
            self.alignment_curve_ = train_alignment(
                self.kernel_, X, self._alignment_target(y),
                self.alignment_steps, self.alignment_lr)
        return self.kernel_.evaluate(X)

    def _test_kernel(self, X: Any) -> np.ndarray:
        X = check_features(self, X)
        return self.kernel_.evaluate(X, self.X_train_)


class QuantumKernelSVC(ClassifierMixin, QuantumKernelEstimator):
    """scikit-learn's SVC on the precomputed quantum kernel.

    Features are angles (e.g. from :func:`~qnlp.baselines.features.
    text_features`); the number of qubits is the number of features.
    ``device`` and ``dtype`` (``'float64'``/``'float32'``) say where and
    in which precision the kernel's states are computed; the kernel's
    parameters are :class:`QuantumKernelEstimator`'s.

    ``predict`` is the largest one-vs-rest decision value (ties broken by
    it, not by the one-vs-one votes alone, so ``decision_function`` and
    ``predict`` always agree). ``predict_proba`` is a softmax (two
    classes: a sigmoid) of the decision values scaled by one number,
    ``probability_scale_``, fitted to the cross-validated decision values
    of the training data (Platt's scaling without an offset), so its most
    probable class is always the predicted one.

    >>> x = np.array([[0.1, 0.2], [1.0, 2.0], [0.2, 0.1], [2.0, 1.0]])
    >>> model = QuantumKernelSVC(reps=1).fit(x, [0, 1, 0, 1])
    >>> p = model.predict_proba(x)
    >>> bool(np.allclose(p.sum(1), 1)), p.argmax(1).tolist() == model.predict(x).tolist()
    (True, True)

    A kernel trained by alignment (a ``RY`` layer before the ZZ map,
    starting as the plain kernel) beside the plain one, on scikit-learn's
    two moons scaled to angles (30 to train, a toy test set of 10):

    >>> from sklearn.datasets import make_moons
    >>> X, y = make_moons(40, noise=0.1, random_state=0)
    >>> X = (X - X.min(0)) / (X.max(0) - X.min(0)) * np.pi
    >>> plain = QuantumKernelSVC(reps=1).fit(X[:30], y[:30])
    >>> trained = QuantumKernelSVC(reps=1, alignment_steps=10).fit(X[:30], y[:30])
    >>> [round(a, 3) for a in trained.alignment_curve_[::10]]
    [0.148, 0.177]
    >>> plain.score(X[30:], y[30:]), trained.score(X[30:], y[30:])
    (0.9, 1.0)
    """

    def __init__(self, feature_map: Any = 'zz', reps: int = 2,
                 entanglement: str = 'full', C: float = 1.0,
                 kernel: str = 'fidelity', gamma: float = 1.0,
                 training_parameters: Any = None, alignment_steps: int = 0,
                 alignment_lr: float = 0.1, device: str | None = None,
                 dtype: str = 'float64') -> None:
        super().__init__(feature_map, reps, entanglement, kernel, gamma,
                         training_parameters, alignment_steps, alignment_lr,
                         device, dtype)
        self.C = C

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # features are meant to be angles: on the standardised blobs of
        # scikit-learn's checks the ZZ map's kernel fits 51-57% of its
        # own training data, below the 83% those checks ask for
        tags.classifier_tags.poor_score = True
        return tags

    def _svc(self) -> SVC:
        return SVC(kernel='precomputed', C=self.C, break_ties=True)

    def fit(self, X: Any, y: Any) -> "QuantumKernelSVC":
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        check_two_classes_or_more(self, np.unique(y))
        gram = self._fit_kernel(X, y)
        self.svc_ = self._svc().fit(gram, y)
        self.classes_ = self.svc_.classes_
        self.probability_scale_ = fit_probability_scale(
            self._held_out_decisions(gram, y), np.searchsorted(
                self.classes_, y))
        return self

    def _held_out_decisions(self, gram: np.ndarray, y: np.ndarray
                            ) -> np.ndarray:
        """Decision values of every training sample by an SVC fitted
        without it (stratified folds; in-sample where a class has a
        single sample)."""
        from sklearn.model_selection import StratifiedKFold
        in_sample = self.svc_.decision_function(gram)
        folds = min(5, int(np.unique(y, return_counts=True)[1].min()))
        if folds < 2:
            return in_sample
        found = np.empty_like(in_sample)
        for train, test in StratifiedKFold(folds).split(gram, y):
            svc = self._svc().fit(gram[np.ix_(train, train)], y[train])
            found[test] = svc.decision_function(gram[np.ix_(test, train)])
        return found

    def decision_function(self, X: Any) -> np.ndarray:
        gram = self._test_kernel(X)
        return self.svc_.decision_function(gram)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(samples, classes)`` probabilities, columns as ``classes_``."""
        return scaled_probabilities(self.decision_function(X),
                                    self.probability_scale_)

    def predict(self, X: Any) -> np.ndarray:
        gram = self._test_kernel(X)
        return self.svc_.predict(gram)


class QuantumKernelRegressor(RegressorMixin, QuantumKernelEstimator):
    """A scikit-learn regressor (``regressor_``, made by
    :meth:`_regressor`) on the precomputed quantum kernel; alignment
    training aligns the kernel with ``y y^T`` of the centred, scaled
    targets."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # as the SVC: angles expected, not scikit-learn's standard data
        tags.regressor_tags.poor_score = True
        return tags

    def _regressor(self) -> Any:
        raise NotImplementedError

    def _alignment_target(self, y: np.ndarray) -> np.ndarray:
        centred = y - y.mean()
        centred = centred / (np.abs(centred).max() or 1.0)
        return np.outer(centred, centred)

    def fit(self, X: Any, y: Any) -> "QuantumKernelRegressor":
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self.regressor_ = self._regressor().fit(self._fit_kernel(X, y), y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        gram = self._test_kernel(X)
        return self.regressor_.predict(gram)


class QuantumKernelRidge(QuantumKernelRegressor):
    """Kernel ridge regression (scikit-learn's ``KernelRidge``, penalty
    ``alpha``) on the quantum kernel.

    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(40, 2, noise=1.0, random_state=0)
    >>> X = (X - X.min(0)) / (X.max(0) - X.min(0)) * np.pi / 2
    >>> model = QuantumKernelRidge(feature_map='angle', reps=1, alpha=1e-3)
    >>> round(model.fit(X[:30], y[:30]).score(X[30:], y[30:]), 3)
    0.997
    """

    def __init__(self, feature_map: Any = 'zz', reps: int = 2,
                 entanglement: str = 'full', alpha: float = 1.0,
                 kernel: str = 'fidelity', gamma: float = 1.0,
                 training_parameters: Any = None, alignment_steps: int = 0,
                 alignment_lr: float = 0.1, device: str | None = None,
                 dtype: str = 'float64') -> None:
        super().__init__(feature_map, reps, entanglement, kernel, gamma,
                         training_parameters, alignment_steps, alignment_lr,
                         device, dtype)
        self.alpha = alpha

    def _regressor(self) -> Any:
        from sklearn.kernel_ridge import KernelRidge
        return KernelRidge(alpha=self.alpha, kernel='precomputed')


class QuantumKernelSVR(QuantumKernelRegressor):
    """Support vector regression (scikit-learn's ``SVR``, ``C`` and
    ``epsilon``) on the quantum kernel.

    >>> X = np.linspace(0, np.pi, 20)[:, None]; y = np.sin(X[:, 0])
    >>> model = QuantumKernelSVR(kernel='projected', feature_map='angle',
    ...                          reps=1, C=10.0, epsilon=0.01).fit(X, y)
    >>> bool(model.score(X, y) > 0.95)
    True
    """

    def __init__(self, feature_map: Any = 'zz', reps: int = 2,
                 entanglement: str = 'full', C: float = 1.0,
                 epsilon: float = 0.1, kernel: str = 'fidelity',
                 gamma: float = 1.0, training_parameters: Any = None,
                 alignment_steps: int = 0, alignment_lr: float = 0.1,
                 device: str | None = None, dtype: str = 'float64') -> None:
        super().__init__(feature_map, reps, entanglement, kernel, gamma,
                         training_parameters, alignment_steps, alignment_lr,
                         device, dtype)
        self.C = C
        self.epsilon = epsilon

    def _regressor(self) -> Any:
        from sklearn.svm import SVR
        return SVR(kernel='precomputed', C=self.C, epsilon=self.epsilon)


def scaled_probabilities(decisions: np.ndarray, scale: float) -> np.ndarray:
    """Class probabilities of decision values: ``sigmoid(scale * f)`` for
    two classes (``f`` of shape ``(samples,)``, positive for the second
    class), a softmax of ``scale * f`` for more.

    >>> scaled_probabilities(np.array([0.0, 2.0]), 1.0).round(3).tolist()
    [[0.5, 0.5], [0.119, 0.881]]
    """
    if decisions.ndim == 1:
        # the softmax of [-f/2, f/2] is sigmoid(f)
        decisions = np.stack([-decisions / 2, decisions / 2], axis=1)
    z = scale * decisions
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_probability_scale(decisions: np.ndarray, targets: np.ndarray
                          ) -> float:
    """The scale ``a`` in ``[1e-3, 1e3]`` of :func:`scaled_probabilities`
    with the least log-loss of integer ``targets``.

    >>> f = np.array([-2.0, -1.0, 1.0, 2.0, 0.5])
    >>> a = fit_probability_scale(f, np.array([0, 0, 1, 1, 0]))
    >>> bool(0.5 < a < 5)
    True
    """
    from scipy.optimize import minimize_scalar

    def log_loss(log_scale: float) -> float:
        p = scaled_probabilities(decisions, float(np.exp(log_scale)))
        picked = p[np.arange(len(targets)), targets]
        return float(-np.log(np.clip(picked, 1e-12, None)).mean())
    best = minimize_scalar(log_loss, bounds=(np.log(1e-3), np.log(1e3)),
                           method='bounded')
    return float(np.exp(best.x))
