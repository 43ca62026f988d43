"""The breadth of the QML estimators, each checked against qiskit (and
qiskit-machine-learning, where installed) on small cases: Pauli-sum
read-outs, feature maps given as qiskit circuits, trainable kernels and
their alignment training, the projected kernel, the kernel regressors.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit.library import zz_feature_map
from qiskit.quantum_info import (DensityMatrix, SparsePauliOp, Statevector,
                                 partial_trace)

from qnlp.errors import ConfigError
from qnlp.models.kernel import (ProjectedQuantumKernel, QuantumKernel,
                                TrainableFeatureMap, alignment_target,
                                train_alignment)
from qnlp.models.observables import pauli_sum
from qnlp.models.qiskit_maps import QiskitFeatureMap
from qnlp.models.vqc import VQCRegressionModel
from qnlp.train.estimators import (QuantumKernelRidge, QuantumKernelSVC,
                                   QuantumKernelSVR)

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """Tiny torch operations: one thread is much faster on a busy
    machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _custom_map() -> QuantumCircuit:
    """A feature map beyond the library's: U, controlled rotations,
    nonlinear angle expressions (decomposed/transpiled on conversion)."""
    x = ParameterVector('x', 2)
    circuit = QuantumCircuit(2)
    circuit.h([0, 1])
    circuit.u(x[0], x[1] ** 2, np.sin(x[0] * x[1]), 0)
    circuit.crz(x[0] + 1, 0, 1)
    circuit.rzz(x[1], 0, 1)
    circuit.sx(1)
    return circuit


def _qiskit_states(circuit: QuantumCircuit, X: np.ndarray,
                   bound: dict | None = None) -> np.ndarray:
    """Statevectors of ``circuit`` by qiskit, features in the order of
    its unbound parameters."""
    bound = bound or {}
    features = [p for p in circuit.parameters if p not in bound]
    return np.array([Statevector(circuit.assign_parameters(
        {**bound, **dict(zip(features, row))})).data for row in X])


def _fidelities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.conj() @ b.T) ** 2


# --- Pauli-sum observables -------------------------------------------------

@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.text('IXYZ', min_size=3, max_size=3),
                          st.floats(-1, 1)), min_size=1, max_size=4),
       st.integers(0, 2 ** 31))
def test_pauli_sums_match_qiskit_expectation_values(terms, seed):
    rng = np.random.default_rng(seed)
    state = rng.normal(size=8) + 1j * rng.normal(size=8)
    state = state / np.linalg.norm(state)
    operator = SparsePauliOp([t for t, _ in terms], [c for _, c in terms])
    expected = Statevector(state).expectation_value(operator).real
    for spec in (terms, operator):
        found = pauli_sum(spec, 3).expectation(torch.tensor(state)[None])
        assert float(found) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize('batch', [3, 9], ids=['gates', 'folded'])
def test_vqc_observable_read_out_matches_qiskit(batch):
    """Both paths of the circuit (gates on the states, and the folded
    observable ``M O^T M^H`` for batches above ``2**n``)."""
    observable = SparsePauliOp(['XY', 'ZI', 'YY'], [0.5, -0.3, 0.2])
    model = VQCRegressionModel(2, feature_map='zz', reps=1,
                               readout=observable, seed=3)
    X = RNG.uniform(0, np.pi, (batch, 2))
    with torch.no_grad():
        found = model(model.prepare(X)).numpy()
    circuit = model.feature_map.to_qiskit().compose(
        model.ansatz.to_qiskit().assign_parameters(
            model.weights.detach().numpy()))
    expected = [Statevector(s).expectation_value(observable).real
                for s in _qiskit_states(circuit, X)]
    np.testing.assert_allclose(found, expected, atol=1e-12)


@pytest.mark.parametrize('spec, message', [
    ('XZ', "acts on 2 qubits; the circuit has 3"),
    ([('ZQZ', 1.0)], "unknown readout 'ZQZ'"),
    (SparsePauliOp(['XYZ'], [1j]), "complex coefficient"),
    (42, "give a Pauli string")])
def test_bad_observables_are_named(spec, message):
    with pytest.raises(ConfigError, match=message):
        pauli_sum(spec, 3)


# --- feature maps as qiskit circuits --------------------------------------

@pytest.mark.parametrize('circuit', [zz_feature_map(3, reps=2),
                                     _custom_map()], ids=['zz', 'custom'])
def test_qiskit_circuit_kernel_matches_qiskit(circuit):
    X = RNG.uniform(0, np.pi, (5, circuit.num_parameters))
    Z = RNG.uniform(0, np.pi, (3, circuit.num_parameters))
    kernel = QuantumKernel(circuit)
    states = kernel.states(X).numpy()
    np.testing.assert_allclose(states, _qiskit_states(circuit, X),
                               atol=1e-10)
    expected = _fidelities(_qiskit_states(circuit, X),
                           _qiskit_states(circuit, Z))
    np.testing.assert_allclose(kernel.evaluate(X, Z), expected, atol=1e-8)
    qml = pytest.importorskip('qiskit_machine_learning.kernels')
    reference = qml.FidelityStatevectorKernel(feature_map=circuit)
    np.testing.assert_allclose(kernel.evaluate(X, Z),
                               reference.evaluate(X, Z), atol=1e-8)
    np.testing.assert_allclose(kernel.evaluate(X), reference.evaluate(X),
                               atol=1e-8)


def test_circuits_the_engine_cannot_run_are_refused():
    circuit = QuantumCircuit(1, 1)
    circuit.ry(ParameterVector('x', 1)[0], 0)
    circuit.measure(0, 0)
    with pytest.raises(ConfigError, match="'measure'"):
        QiskitFeatureMap(circuit)
    with pytest.raises(ValueError, match='takes 2 features; X has 3'):
        QuantumKernelSVC(feature_map=zz_feature_map(2)).fit(
            RNG.uniform(size=(4, 3)), [0, 1, 0, 1])


# --- trainable kernels ------------------------------------------------------

def _trainable_cases():
    """(kernel, its qiskit circuit, the training parameters)."""
    builtin = TrainableFeatureMap('zz', 2, reps=2)
    circuit, theta = builtin.to_qiskit()
    custom = _custom_map()
    w = ParameterVector('w', 2)
    custom.ry(w[0], 0)
    custom.cx(0, 1)
    custom.rz(w[1] * custom.parameters[0], 1)    # weight times a feature
    return [(QuantumKernel('zz', 2, reps=2, trainable=True), circuit,
             theta),
            (QuantumKernel(custom, training_parameters=w), custom, w)]


@pytest.mark.parametrize('case', [0, 1], ids=['zz-ry-layer', 'circuit'])
def test_trainable_kernel_matches_qiskit_for_the_same_weights(case):
    kernel, circuit, theta = _trainable_cases()[case]
    values = RNG.uniform(-np.pi, np.pi, len(theta))
    kernel.weights = torch.tensor(values)
    X = RNG.uniform(0, np.pi, (4, kernel.n_features))
    Z = RNG.uniform(0, np.pi, (3, kernel.n_features))
    bound = dict(zip(theta, values))
    expected = _fidelities(_qiskit_states(circuit, X, bound),
                           _qiskit_states(circuit, Z, bound))
    np.testing.assert_allclose(kernel.evaluate(X, Z), expected, atol=1e-8)
    qml = pytest.importorskip('qiskit_machine_learning.kernels')
    reference = qml.TrainableFidelityStatevectorKernel(
        feature_map=circuit, training_parameters=theta, enforce_psd=False)
    reference.assign_training_parameters(values)
    np.testing.assert_allclose(kernel.evaluate(X, Z),
                               reference.evaluate(X, Z), atol=1e-8)


def test_alignment_training_raises_the_alignment_with_exact_gradients():
    X = RNG.uniform(0, np.pi, (12, 2))
    y = (np.sin(X[:, 0]) > np.cos(X[:, 1])).astype(int)
    target = alignment_target(y)
    kernel = QuantumKernel('zz', 2, reps=1, trainable=True)
    # the gradient autograd follows is the finite difference's
    weights = torch.tensor([0.3, -0.4], dtype=torch.float64,
                           requires_grad=True)
    kernel.weights = weights
    from qnlp.models.kernel import alignment
    value = alignment(kernel.gram(X), torch.tensor(target))
    value.backward()
    step = 1e-6
    for i in range(2):
        shifted = [weights.detach().clone() for _ in range(2)]
        shifted[0][i] += step
        shifted[1][i] -= step
        ends = []
        for w in shifted:
            kernel.weights = w
            ends.append(float(alignment(kernel.gram(X),
                                        torch.tensor(target))))
        assert float(weights.grad[i]) == pytest.approx(
            (ends[0] - ends[1]) / (2 * step), abs=1e-7)
    kernel.weights = torch.zeros(2, dtype=torch.float64)
    curve = train_alignment(kernel, X, target, steps=15, lr=0.1)
    assert curve[-1] > curve[0] + 0.01
    model = QuantumKernelSVC(reps=1, alignment_steps=15).fit(X, y)
    assert model.alignment_curve_ == pytest.approx(curve, abs=1e-12)


# --- projected kernel -------------------------------------------------------

def test_projected_kernel_matches_reduced_density_matrices():
    """Reference: qiskit's statevectors, its partial traces, the
    Frobenius distances and the Gaussian, written out here."""
    gamma = 0.7
    circuit = zz_feature_map(3, reps=2)
    X = RNG.uniform(0, np.pi, (4, 3))
    Z = RNG.uniform(0, np.pi, (2, 3))

    def reduced(states):
        return [[DensityMatrix(partial_trace(Statevector(s), [o for o in
                                                              range(3)
                                                              if o != q]))
                 .data for q in range(3)] for s in states]
    a = reduced(_qiskit_states(circuit, X))
    b = reduced(_qiskit_states(circuit, Z))
    expected = np.array([[np.exp(-gamma * sum(
        np.linalg.norm(ra[q] - rb[q]) ** 2 for q in range(3)))
        for rb in b] for ra in a])
    kernel = ProjectedQuantumKernel('zz', 3, reps=2, gamma=gamma)
    np.testing.assert_allclose(kernel.evaluate(X, Z), expected, atol=1e-10)
    assert not np.allclose(expected, QuantumKernel('zz', 3, 2).evaluate(
        X, Z))


# --- regressors -------------------------------------------------------------

@pytest.mark.parametrize('make, reference', [
    (lambda: QuantumKernelRidge(reps=1, alpha=0.1),
     lambda: __import__('sklearn.kernel_ridge', fromlist=['KernelRidge'])
     .KernelRidge(alpha=0.1, kernel='precomputed')),
    (lambda: QuantumKernelSVR(reps=1, C=3.0, epsilon=0.05),
     lambda: __import__('sklearn.svm', fromlist=['SVR']).SVR(
         kernel='precomputed', C=3.0, epsilon=0.05))], ids=['ridge', 'svr'])
def test_kernel_regressors_are_sklearns_on_qiskits_kernel(make, reference):
    X = RNG.uniform(0, np.pi, (20, 2))
    y = np.sin(X[:, 0]) * X[:, 1]
    circuit = zz_feature_map(2, reps=1)
    train = _qiskit_states(circuit, X[:15])
    test = _qiskit_states(circuit, X[15:])
    expected = reference().fit(_fidelities(train, train), y[:15]).predict(
        _fidelities(test, train))
    np.testing.assert_allclose(make().fit(X[:15], y[:15]).predict(X[15:]),
                               expected, atol=1e-6)


def test_vqc_classifier_takes_a_sparse_pauli_op_read_out():
    from sklearn.base import clone

    from qnlp.train.estimators import VQCClassifier
    X = RNG.uniform(0, np.pi, (16, 2))
    y = (X[:, 0] > X[:, 1]).astype(int)
    observable = SparsePauliOp(['XZ', 'ZI'], [0.5, 0.5])
    model = clone(VQCClassifier(reps=1, max_iter=5, readout=observable))
    probabilities = model.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(1), 1)
    circuit = model.circuits_[0]
    with torch.no_grad():
        expectation = circuit.expectation(circuit.prepare(X)).numpy()
    np.testing.assert_allclose(probabilities[:, 1], (1 - expectation) / 2)


@pytest.mark.parametrize('options, message', [
    ({'kernel': 'rbf'}, "unknown kernel 'rbf'; choose from fidelity, "
                        "projected"),
    ({'alignment_steps': -1}, 'alignment_steps must not be negative'),
    ({'kernel': 'projected', 'gamma': 0.0}, 'gamma must be positive'),
    ({'training_parameters': ParameterVector('w', 1)},
     "training_parameters name parameters of a qiskit circuit")])
def test_bad_kernel_options_are_named(options, message):
    with pytest.raises(ConfigError, match=message):
        QuantumKernelRidge(**options).fit(RNG.uniform(size=(4, 2)),
                                          [0.0, 1.0, 2.0, 3.0])
