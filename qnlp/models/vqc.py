"""The variational quantum classifier circuit as a torch module.

A sample's angles go through a feature map (no trainable weights), then
through an ansatz whose weights every sample shares, and a Z-parity (or
single-Z, or any Pauli sum: :mod:`qnlp.models.observables`) readout
gives ``P(class 1) = (1 - <O>) / 2`` (a regressor reads ``<O>`` itself).

The ansatz is built layer by layer, each layer's one-qubit rotations as
one fused matrix product (no Kronecker chain), its CX gates as one
permutation. For batches larger than ``2**n`` it is run on the basis
states, giving ``M`` (``states @ M`` are the evolved states), and the
readout becomes one observable ``M D M^H`` (``D`` the readout's signs)
whose expectation in every encoded state is one matrix product; smaller
batches take the gates on their states directly. Both paths give the
same numbers and exact gradients. The observable path is one autograd
node with backward written by hand when the states need no gradient
(:func:`observable_expectation`: the evolved rows in numpy, the
probability's clamp and :class:`VQCModel`'s class probabilities
``[1 - P, P]`` inside; real encoded states, as the angle encoding's,
through real products of half the work, their numpy rows kept while the
states tensor lives unchanged), else two (:meth:`EfficientSU2.folded
<qnlp.models.circuits.EfficientSU2.folded>`, :func:`quadratic_form`).

>>> import torch
>>> module = VariationalCircuit(3, feature_map='angle', reps=1, seed=0)
>>> x = torch.rand(5, 3, dtype=torch.float64)
>>> p = module(module.encode(x))
>>> tuple(p.shape), bool(((p >= 0) & (p <= 1)).all())
((5,), True)
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from qnlp.engine.device import (Device, complex_dtype, resolve_device,
                                resolve_dtype)
from qnlp.engine.statevector import Statevector
from qnlp.models.circuits import (EfficientSU2, ansatz_gradient,
                                  ansatz_products, make_feature_map)
from qnlp.models.fingerprint import Fingerprinted
from qnlp.models.observables import pauli_sum
from qnlp.errors import ConfigError
from qnlp.limits import MAX_DENSE_QUBITS, MAX_LAYERS, at_most

#: Most qubits (features) of the dense simulation: see
#: :data:`qnlp.limits.MAX_DENSE_QUBITS`.
MAX_QUBITS = MAX_DENSE_QUBITS


def check_dense_size(n_qubits: int, *layers: int) -> None:
    """ConfigError unless ``n_qubits`` is 1 to :data:`MAX_QUBITS` and
    every count of ``layers`` (repetitions) at most
    :data:`~qnlp.limits.MAX_LAYERS`.

    >>> check_dense_size(30)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: dense simulation takes 1 to 12 qubits (features), got 30
    >>> check_dense_size(4, 2, 1000)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: circuit repetitions 1000 is above the limit of 64
    """
    if not 1 <= n_qubits <= MAX_QUBITS:
        raise ConfigError(f"dense simulation takes 1 to {MAX_QUBITS} "
                          f"qubits (features), got {n_qubits}")
    for count in layers:
        at_most(count, MAX_LAYERS, 'circuit repetitions')


def check_features(estimator: Any, X: Any) -> np.ndarray:
    """``X`` as a float64 array for a fitted scikit-learn ``estimator``,
    with as many columns as it was fitted with (else ``ValueError``);
    ``NotFittedError`` before ``fit``."""
    check_is_fitted(estimator)
    return validate_data(estimator, X, dtype=np.float64, reset=False)


class _QuadraticForm(torch.autograd.Function):
    """:func:`quadratic_form` with its gradient by hand: ``g_i s_i^H s_i``
    summed for ``A``, ``g_i s_i (A + A^H)`` for each state."""

    @staticmethod
    def forward(ctx: Any, states: torch.Tensor, matrix: torch.Tensor
                ) -> torch.Tensor:
        ctx.save_for_backward(states, matrix)
        return torch.linalg.vecdot(states, states @ matrix).real

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        states, matrix = ctx.saved_tensors
        weighted = grad[:, None] * states
        grad_states = weighted @ (matrix + matrix.mH) \
            if ctx.needs_input_grad[0] else None
        grad_matrix = states.mH @ weighted \
            if ctx.needs_input_grad[1] else None
        return grad_states, grad_matrix


def quadratic_form(states: torch.Tensor, matrix: torch.Tensor
                   ) -> torch.Tensor:
    """``Re(s A s^H)`` for every row ``s`` of ``states`` ``(batch, d)``
    and a ``(d, d)`` matrix ``A``: one autograd node, backward two
    matrix products (autograd's own takes about twice as many
    operations).

    >>> s = torch.tensor([[1.0, 1j]], dtype=torch.complex128)
    >>> a = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.complex128)
    >>> quadratic_form(s, a).tolist()
    [0.0]
    """
    return _QuadraticForm.apply(states, matrix)


#: What :func:`observable_expectation` returns per sample: ``<O>``,
#: ``P = clamp((1 - <O>) / 2, 0, 1)``, or the class probabilities
#: ``[1 - P, P]``.
OUTPUTS = ('value', 'probability', 'classes')


class _ObservableExpectation(torch.autograd.Function):
    """:func:`observable_expectation` with its gradient by hand, in numpy
    (complex128, on the CPU).

    With the evolved rows ``E = S M`` and ``B = O^T`` (Hermitian),
    ``<O>_i = Re sum_j (E B)_ij conj(E_ij)``; a loss with gradient ``g``
    per sample changes by ``Re tr(dM X)``, ``X = 2 (E B)^H diag(g) S``,
    which :func:`~qnlp.models.circuits.ansatz_gradient` turns into the
    weights' gradient (the states get none). For ``probability`` the
    gradient passes where ``0 <= P <= 1`` (as ``torch.clamp``'s); for
    ``classes`` ``P``'s gradient is column 1's minus column 0's (as
    autograd's through ``stack([1 - P, P], 1)``).
    """

    @staticmethod
    def forward(ctx: Any, weights: torch.Tensor, states: torch.Tensor,
                observable: torch.Tensor, ansatz: EfficientSU2,
                output: str) -> torch.Tensor:
        products = ansatz_products(ansatz, weights)
        rows = _numpy_rows(states)
        o = observable.detach().cpu().numpy()
        # real rows (angle encodings): one real product of the rows with
        # M seen as (real, imaginary) pairs, half a complex one's work
        evolved = (rows @ products[2].view(np.float64)).view(np.complex128) \
            if rows.dtype == np.float64 else rows @ products[2]
        weighted = evolved * o if o.ndim == 1 else evolved @ o
        # Re(a conj(b)) summed over a row = the real dot product of the
        # rows seen as (real, imaginary) pairs
        values = np.einsum('ij,ij->i', weighted.view(np.float64),
                           evolved.view(np.float64))
        # d<O>/dM's factor 2, and -1/2 from P where P is not clamped
        factor = 2.0
        if output != 'value':
            values = (1 - values) / 2
            factor = np.where((values >= 0) & (values <= 1), -1.0, 0.0)
            np.clip(values, 0.0, 1.0, out=values)
        if output == 'classes':
            values = np.stack([1 - values, values], 1)
        ctx.ansatz, ctx.weights, ctx.output = ansatz, weights, output
        ctx.saved = products, rows, weighted, factor
        return torch.from_numpy(values).to(device=weights.device,
                                           dtype=weights.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor
                 ) -> tuple[torch.Tensor | None, None, None, None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        products, rows, weighted, factor = ctx.saved
        g = grad.detach().cpu().double().numpy()
        if ctx.output == 'classes':
            g = g[:, 1] - g[:, 0]
        g = g * factor
        # X = 2 (E B)^H diag(g) S; for real rows the conjugate transpose
        # of one real product, (S^T diag(g)) (E B) with E B as (real,
        # imaginary) pairs
        x = (np.multiply(rows.T, g, order='C') @ weighted.view(np.float64)
             ).view(np.complex128).conj().T \
            if rows.dtype == np.float64 else \
            weighted.conj().T @ (g[:, None] * rows)
        return (ansatz_gradient(ctx.ansatz, products, x, ctx.weights),
                None, None, None, None)


def _numpy_rows(states: torch.Tensor) -> np.ndarray:
    """The rows of ``states`` in numpy on the CPU: complex128, or float64
    (contiguous) when no amplitude has an imaginary part. Kept for the
    last ``states`` seen while that tensor lives unchanged (a training
    run's cached encodings: found once, not once a step), and let go
    with it.

    >>> s = torch.tensor([[1.0, 0.0]], dtype=torch.complex128)
    >>> _numpy_rows(s).dtype, _numpy_rows(s) is _numpy_rows(s)
    (dtype('float64'), True)
    >>> _ = s.mul_(1j); _numpy_rows(s).dtype
    dtype('complex128')
    """
    source, version, rows = _LAST_ROWS[0]
    if source() is not states or version != states._version:
        rows = states.detach().cpu().numpy().astype(np.complex128,
                                                    copy=False)
        if not rows.imag.any():
            rows = np.ascontiguousarray(rows.real)
        _LAST_ROWS[0] = (weakref.ref(states, _forget_rows),
                         states._version, rows)
    return rows


def _forget_rows(source: Any) -> None:
    """Drop :func:`_numpy_rows`' entry when its states tensor dies."""
    if _LAST_ROWS[0][0] is source:
        _LAST_ROWS[0] = _NO_ROWS


#: :func:`_numpy_rows`' one entry: the states (weakly), their version,
#: their rows.
_NO_ROWS: tuple[Any, int, Any] = (lambda: None, -1, None)
_LAST_ROWS = [_NO_ROWS]


def observable_expectation(ansatz: EfficientSU2, weights: torch.Tensor,
                           states: torch.Tensor, observable: torch.Tensor,
                           output: str = 'value') -> torch.Tensor:
    """``<O>`` after the ansatz in every row of ``states`` ``(batch,
    2**n)``, for ``observable`` ``O^T`` (a ``(2**n, 2**n)`` Hermitian
    matrix, or the diagonal of a diagonal one); with ``output``
    ``probability`` ``P = clamp((1 - <O>) / 2, 0, 1)``, with ``classes``
    ``[1 - P, P]`` ``(batch, 2)`` (:data:`OUTPUTS`): one autograd node in
    the weights (the states get no gradient), gradient by hand; the same
    numbers as :func:`quadratic_form` of :meth:`EfficientSU2.folded
    <qnlp.models.circuits.EfficientSU2.folded>`.

    >>> ansatz = EfficientSU2(2, reps=1)
    >>> w = torch.rand(8, dtype=torch.float64)
    >>> s = torch.eye(4, dtype=torch.complex128)
    >>> z = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    >>> torch.allclose(observable_expectation(ansatz, w, s, z),
    ...                quadratic_form(s, ansatz.folded(w, z)))
    True
    >>> observable_expectation(ansatz, w, s, z, 'classes').sum(1).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    if weights.shape != (ansatz.n_weights,):
        raise ValueError(f"expected {ansatz.n_weights} weights, got shape "
                         f"{tuple(weights.shape)}")
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose from "
                         f"{', '.join(OUTPUTS)}")
    return _ObservableExpectation.apply(weights, states, observable, ansatz,
                                        output)


class VariationalCircuit(Fingerprinted, torch.nn.Module):
    """Feature map + EfficientSU2 ansatz + readout; weights in ``weights``.

    ``readout``: ``parity`` (``Z...Z``), ``z`` (``Z`` of qubit 0) or any
    Pauli sum :func:`~qnlp.models.observables.pauli_sum` accepts (a
    string ``'XZ'``, ``[('ZI', 0.5), ('IZ', 0.5)]``, a qiskit
    ``SparsePauliOp``); for class probabilities its eigenvalues should
    lie in ``[-1, 1]`` (``P`` is clamped to ``[0, 1]``).

    ``forward`` takes encoded states (from :meth:`encode`, which needs no
    gradient and can be computed once per data set) and returns the
    probability of class 1 per sample. ``dtype`` (real; amplitudes in the
    matching complex type) and ``device`` place the weights and states;
    initial weights are drawn on the CPU in float64 from ``seed``.
    """

    def __init__(self, n_qubits: int, feature_map: str = 'angle',
                 feature_reps: int = 1, reps: int = 2,
                 entanglement: str = 'linear',
                 feature_entanglement: str = 'linear',
                 readout: Any = 'parity', seed: int = 0,
                 dtype: torch.dtype = torch.float64,
                 device: Device = None) -> None:
        super().__init__()
        check_dense_size(n_qubits, reps, feature_reps)
        self.observable = pauli_sum(readout, n_qubits)
        self.n_qubits = n_qubits
        self.feature_map = make_feature_map(feature_map, n_qubits,
                                            feature_reps,
                                            feature_entanglement)
        self.ansatz = EfficientSU2(n_qubits, reps, entanglement)
        self.readout = readout
        generator = torch.Generator().manual_seed(seed)
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        self.weights = torch.nn.Parameter(
            ((2 * torch.rand(self.ansatz.n_weights, generator=generator,
                             dtype=torch.float64) - 1) * math.pi).to(
                device=device, dtype=dtype))

    def state_of(self, x: torch.Tensor) -> torch.Tensor:
        """Encoded states ``(batch, 2**n)`` of angles ``x`` ``(batch, n)``,
        on the weights' device in their (complex) precision,
        differentiable in ``x`` (attacks move the angles)."""
        return self.feature_map.state(
            x, complex_dtype(self.weights.dtype),
            self.weights.device).amplitudes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`state_of` without a gradient (the states a training
        run caches)."""
        with torch.no_grad():
            return self.state_of(x)

    def unitary(self) -> torch.Tensor:
        """The ansatz as ``M``: ``states @ M`` are the evolved states."""
        return self.ansatz.matrix(self.weights)

    def expectation(self, states: torch.Tensor) -> torch.Tensor:
        """``<O>`` per sample after the ansatz."""
        return self._readout(states, 'value')

    def _readout(self, states: torch.Tensor, output: str) -> torch.Tensor:
        """``<O>``, ``P(class 1)`` or ``[1 - P, P]`` per sample
        (``output``, one of :data:`OUTPUTS`)."""
        if len(states) > 2 ** self.n_qubits and not states.requires_grad:
            # the evolved rows in numpy, one autograd node for the weights
            return observable_expectation(self.ansatz, self.weights, states,
                                          self._readout_matrix(), output)
        if len(states) <= 2 ** self.n_qubits:
            evolved = self.ansatz.apply(Statevector(states), self.weights)
            value = self.observable.expectation(evolved.amplitudes)
        else:
            # <O> = e O^T e^H for the evolved rows e = s M: one 2**n x 2**n
            # observable M O^T M^H for the batch (M D M^H for a diagonal O)
            value = quadratic_form(states, self.ansatz.folded(
                self.weights, self._readout_matrix()))
        if output == 'value':
            return value
        p = ((1 - value) / 2).clamp(0.0, 1.0)
        return torch.stack([1 - p, p], dim=1) if output == 'classes' else p

    def _readout_matrix(self) -> torch.Tensor:
        """``O^T`` in the weights' precision and place (its diagonal, the
        readout's signs, for an observable of ``I`` and ``Z``), made once
        per precision and device."""
        key = (self.weights.dtype, self.weights.device)
        cache = self.__dict__.setdefault('_readout_cache', {})
        if key not in cache:
            dtype, device = complex_dtype(self.weights.dtype), key[1]
            cache[key] = (self.observable.signs(key[0], device)
                          if self.observable.diagonal else
                          self.observable.matrix(dtype, device).T)
        return cache[key]

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint of this circuit must match (see
        :class:`~qnlp.models.fingerprint.Fingerprinted`)."""
        return {'qubits': self.n_qubits,
                'feature map': repr(self.feature_map),
                'ansatz': repr(self.ansatz),
                'readout': list(zip(self.observable.labels,
                                    self.observable.coefficients))}

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """``P(class 1)`` per sample."""
        return self._readout(states, 'probability')


class VQCModel(VariationalCircuit):
    """The circuit as a model of :func:`qnlp.train.fit`: ``prepare``
    encodes angle features ``(samples, qubits)`` (a tensor or an array)
    once, ``forward`` gives the class probabilities ``[1 - p, p]``.

    >>> model = VQCModel(2, reps=1, seed=0)
    >>> probabilities = model(model.prepare(torch.rand(4, 2)))
    >>> tuple(probabilities.shape), bool(torch.allclose(
    ...     probabilities.sum(1), torch.ones(4, dtype=torch.float64)))
    ((4, 2), True)
    """

    def prepare(self, features: Any) -> torch.Tensor:
        if not isinstance(features, torch.Tensor):
            features = torch.from_numpy(np.asarray(features,
                                                   dtype=np.float64))
        return self.encode(features.to(torch.float64))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self._readout(states, 'classes')


class VQCRegressionModel(VQCModel):
    """The circuit as a regression model of :func:`qnlp.train.fit`:
    ``forward`` gives the read-out's expectation ``<O>`` per sample.

    >>> model = VQCRegressionModel(2, reps=1, readout=[('ZI', 0.5), ('IZ', 0.5)])
    >>> values = model(model.prepare(torch.rand(3, 2)))
    >>> tuple(values.shape), bool((values.abs() <= 1).all())
    ((3,), True)
    """

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.expectation(states)
