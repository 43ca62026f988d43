"""``VQCClassifier``: the variational quantum classifier as an estimator.

Features (angles, one per qubit) go through a
:class:`~qnlp.models.vqc.VariationalCircuit`; the cross-entropy of
``P(class 1)`` is minimised over the whole training set (or minibatches)
by one of:

* ``adam``: Adam on exact autograd gradients;
* ``aqgd``: gradient descent with momentum on exact gradients (the
  analytic quantum gradient descent of qiskit, as in Joshi et al.):
  ``m = momentum m + (1 - momentum) g``, ``w -= lr m``;
* ``spsa``: two loss evaluations per step (:class:`~qnlp.train.optim.SPSA`);
* ``cobyla``: scipy's COBYLA, ``max_iter`` loss evaluations, initial
  step ``lr``.

All randomness (initial weights, minibatch order, SPSA directions) comes
from ``seed``. Two classes only.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(0, np.pi, size=(40, 2)); y = (X[:, 0] > np.pi / 2).astype(int)
>>> model = VQCClassifier(reps=1, max_iter=60).fit(X, y)
>>> bool(model.score(X, y) > 0.9), model.predict_proba(X[:2]).shape
(True, (2, 2))
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_X_y

from qnlp.engine.device import resolve_dtype
from qnlp.engine.statevector import torch_threads
from qnlp.errors import ConfigError
from qnlp.models.vqc import VariationalCircuit, check_features
from qnlp.train.optim import SPSA

VQC_OPTIMISERS = ('adam', 'aqgd', 'spsa', 'cobyla')


def _loss(probabilities: torch.Tensor, targets: torch.Tensor
          ) -> torch.Tensor:
    p = probabilities.clamp(1e-9, 1 - 1e-9)
    return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()


class VQCClassifier(ClassifierMixin, BaseEstimator):
    """Variational quantum classifier on angle features.

    Parameters: the circuit (``feature_map`` ``angle`` or ``zz``,
    ``feature_reps``, ansatz ``reps`` and ``entanglement``, ``readout``
    ``parity`` or ``z``) and the training (``optimizer``, ``max_iter``
    steps, ``lr``, ``momentum`` for ``aqgd``, ``batch_size`` 0 = full
    batch, ``seed``), and where it runs (``device`` ``cpu``/``cuda``,
    ``dtype`` ``float64``/``float32``). After ``fit``: ``weights_``,
    ``loss_curve_``, ``fit_seconds_``, ``n_iter_``.
    """

    def __init__(self, feature_map: str = 'angle', feature_reps: int = 1,
                 reps: int = 2, entanglement: str = 'linear',
                 readout: str = 'parity', optimizer: str = 'adam',
                 max_iter: int = 100, lr: float | None = None,
                 momentum: float = 0.25, batch_size: int = 0,
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

    def _circuit(self, n_qubits: int) -> VariationalCircuit:
        return VariationalCircuit(
            n_qubits, feature_map=self.feature_map,
            feature_reps=self.feature_reps, reps=self.reps,
            entanglement=self.entanglement, readout=self.readout,
            seed=self.seed, dtype=resolve_dtype(self.dtype),
            device=self.device)

    def fit(self, X: Any, y: Any) -> "VQCClassifier":
        """Train on angles ``X`` ``(samples, qubits)`` and labels ``y``."""
        if self.optimizer not in VQC_OPTIMISERS:
            raise ConfigError(f"unknown optimiser {self.optimizer!r}; choose "
                              f"from {', '.join(VQC_OPTIMISERS)}")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be positive, got "
                              f"{self.max_iter}")
        X, y = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, targets = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise ValueError(f"VQCClassifier needs exactly two classes, got "
                             f"{len(self.classes_)}")
        self.n_features_in_ = X.shape[1]
        self.circuit_ = self._circuit(X.shape[1])
        states = self.circuit_.encode(torch.from_numpy(X))
        weights = self.circuit_.weights
        targets = torch.as_tensor(targets, dtype=weights.dtype,
                                  device=weights.device)
        start = time.perf_counter()
        with torch_threads(1):  # tiny operations: one thread is faster
            self.loss_curve_ = self._train(states, targets)
        self.fit_seconds_ = time.perf_counter() - start
        self.n_iter_ = len(self.loss_curve_)
        self.weights_ = self.circuit_.weights.detach().cpu().double(
        ).numpy().copy()
        return self

    def _train(self, states: torch.Tensor, targets: torch.Tensor
               ) -> list[float]:
        circuit, weights = self.circuit_, self.circuit_.weights
        generator = torch.Generator().manual_seed(self.seed)
        size = self.batch_size if 0 < self.batch_size < len(states) \
            else len(states)

        def batches() -> Any:
            if size == len(states):
                yield states, targets
                return
            order = torch.randperm(len(states), generator=generator).to(
                states.device)
            yield states[order[:size]], targets[order[:size]]

        curve: list[float] = []
        if self.optimizer == 'cobyla':
            self._cobyla(lambda: _loss(circuit(states), targets), curve)
            return curve
        lr = self.lr if self.lr is not None else {
            'adam': 0.1, 'aqgd': 1.0, 'spsa': 0.5}[self.optimizer]
        if self.optimizer == 'spsa':
            spsa = SPSA([weights], lr=lr, seed=self.seed)
            for _ in range(self.max_iter):
                batch, target = next(batches())
                curve.append(float(spsa.step(
                    lambda: _loss(circuit(batch), target))))
            return curve
        optimiser: torch.optim.Optimizer
        if self.optimizer == 'adam':
            optimiser = torch.optim.Adam([weights], lr=lr)
        else:  # aqgd: m = mu m + (1 - mu) g; w -= lr m
            optimiser = torch.optim.SGD([weights], lr=lr * (1 - self.momentum),
                                        momentum=self.momentum)
        losses = []   # kept on the device: no host sync per step
        for _ in range(self.max_iter):
            batch, target = next(batches())
            optimiser.zero_grad()
            loss = _loss(circuit(batch), target)
            loss.backward()
            optimiser.step()
            losses.append(loss.detach())
        curve.extend(torch.stack(losses).cpu().tolist())
        return curve

    def _cobyla(self, loss: Callable[[], torch.Tensor],
                curve: list[float]) -> None:
        from scipy.optimize import minimize
        weights = self.circuit_.weights

        def objective(values: np.ndarray) -> float:
            with torch.no_grad():
                weights.copy_(torch.from_numpy(values))   # any device
                value = float(loss())
            curve.append(value)
            return value

        result = minimize(objective,
                          weights.detach().cpu().double().numpy().copy(),
                          method='COBYLA',
                          options={'maxiter': self.max_iter,
                                   'rhobeg': self.lr or 1.0})
        with torch.no_grad():
            weights.copy_(torch.from_numpy(result.x))

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(samples, 2)`` class probabilities, columns as ``classes_``."""
        X = check_features(self, X)
        with torch.no_grad():
            p1 = self.circuit_(self.circuit_.encode(torch.from_numpy(X)))
        p1 = p1.cpu().double().numpy()
        return np.stack([1 - p1, p1], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
