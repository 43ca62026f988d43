"""Statevector simulator, feature maps, VQC, quantum kernels (sentiment
runs: tests/test_sentiment.py).

Every fast path is checked against qiskit's own statevectors (and, when
installed, qiskit-machine-learning's kernel).
"""
from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from qiskit import QuantumCircuit
from qiskit.quantum_info import Pauli, Statevector as QiskitStatevector
from sklearn.base import clone

from qnlp.data.adhoc import ad_hoc_data, ad_hoc_states
from qnlp.engine.gates import entangler_pairs
from qnlp.engine.statevector import Statevector
from qnlp.errors import ConfigError
from qnlp.models.circuits import (ENTANGLEMENTS, AngleEncoding, EfficientSU2,
                                  ZZFeatureMap, readout)
from qnlp.train.estimators import QuantumKernelSVC
from qnlp.models.kernel import QuantumKernel, \
    kernel_alignment
from qnlp.models.vqc import VariationalCircuit
from qnlp.tasks.compare import markdown, summarise

from qnlp.train.estimators import VQCClassifier

angles = st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False)
GATES = ('h', 'x', 'rx', 'ry', 'rz', 'p', 'cx', 'cz')


def qiskit_states(circuit: QuantumCircuit, rows: np.ndarray) -> np.ndarray:
    return np.array([QiskitStatevector(circuit.assign_parameters(row)).data
                     for row in rows])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), data=st.data())
def test_random_circuits_match_qiskit(n, data):
    batch = 3
    state = Statevector.zeros(batch, n)
    references = [QuantumCircuit(n) for _ in range(batch)]
    for _ in range(data.draw(st.integers(1, 12))):
        gate = data.draw(st.sampled_from(GATES if n > 1 else GATES[:6]))
        if gate in ('cx', 'cz'):
            a, b = data.draw(st.permutations(range(n)))[:2]
            getattr(state, gate)(a, b)
            for circuit in references:
                getattr(circuit, gate)(a, b)
            continue
        q = data.draw(st.integers(0, n - 1))
        if gate in ('h', 'x'):
            getattr(state, gate)(q)
            for circuit in references:
                getattr(circuit, gate)(q)
            continue
        if data.draw(st.booleans()):  # one angle per sample
            theta = [data.draw(angles) for _ in range(batch)]
            getattr(state, gate)(torch.tensor(theta, dtype=torch.float64), q)
        else:  # one shared angle
            theta = [data.draw(angles)] * batch
            getattr(state, gate)(theta[0], q)
        for circuit, value in zip(references, theta):
            getattr(circuit, gate)(value, q)
    expected = np.array([QiskitStatevector(c).data for c in references])
    np.testing.assert_allclose(state.amplitudes.numpy(), expected, atol=1e-10)
    z_first = Pauli('I' * (n - 1) + 'Z')  # qiskit labels: qubit 0 last
    z = np.array([QiskitStatevector(c).expectation_value(z_first).real
                  for c in references])
    np.testing.assert_allclose(state.z(0).numpy(), z, atol=1e-10)
    parity = np.array([QiskitStatevector(c).expectation_value(
        Pauli('Z' * n)).real for c in references])
    np.testing.assert_allclose(state.parity().numpy(), parity, atol=1e-10)


def test_unitary_and_bad_input():
    hadamard = torch.tensor([[1, 1], [1, -1]], dtype=torch.complex128) \
        / math.sqrt(2)
    a = Statevector.zeros(2, 3).unitary(hadamard, 1)
    b = Statevector.zeros(2, 3).h(1)
    assert torch.allclose(a.amplitudes, b.amplitudes)
    with pytest.raises(ValueError, match='qubit 3 out of range'):
        Statevector.zeros(1, 3).h(3)
    with pytest.raises(ValueError, match='bad qubit pair'):
        Statevector.zeros(1, 3).cx(1, 1)
    with pytest.raises(ValueError, match='one per sample'):
        Statevector.zeros(2, 1).ry(torch.zeros(3), 0)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 4), reps=st.integers(1, 3),
       entanglement=st.sampled_from(('linear', 'circular', 'full')),
       seed=st.integers(0, 1000))
def test_zz_feature_map_matches_qiskit(n, reps, entanglement, seed):
    x = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=(3, n))
    feature_map = ZZFeatureMap(n, reps=reps, entanglement=entanglement)
    expected = qiskit_states(feature_map.to_qiskit(), x)
    ours = feature_map.state(torch.tensor(x)).amplitudes.numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-10)
    general = feature_map.apply(Statevector.zeros(3, n), torch.tensor(x))
    np.testing.assert_allclose(general.amplitudes.numpy(), expected,
                               atol=1e-10)


@pytest.mark.parametrize('entanglement', ENTANGLEMENTS)
def test_efficient_su2_matches_qiskit(entanglement):
    rng = np.random.default_rng(1)
    ansatz = EfficientSU2(4, reps=2, entanglement=entanglement)
    weights = torch.tensor(rng.uniform(-np.pi, np.pi, ansatz.n_weights))
    x = rng.uniform(0, np.pi, size=(3, 4))
    encoding = AngleEncoding(4, rotation='rx', reps=2)
    circuit = encoding.to_qiskit().compose(
        ansatz.to_qiskit().assign_parameters(weights.numpy()))
    expected = qiskit_states(circuit, x)
    states = encoding.state(torch.tensor(x))
    direct = ansatz.apply(Statevector(states.amplitudes), weights)
    np.testing.assert_allclose(direct.amplitudes.numpy(), expected,
                               atol=1e-10)
    via_matrix = states.amplitudes @ ansatz.matrix(weights)
    np.testing.assert_allclose(via_matrix.numpy(), expected, atol=1e-10)


def test_entanglers_and_readout_names():
    assert entangler_pairs('full', 3) == [(0, 1), (0, 2), (1, 2)]
    assert entangler_pairs('circular', 2) == [(0, 1)]
    with pytest.raises(ConfigError, match='unknown entanglement'):
        EfficientSU2(3, entanglement='star')
    with pytest.raises(ConfigError, match='unknown readout'):
        readout(Statevector.zeros(1, 2), 'x')
    with pytest.raises(ConfigError, match='1 to 12 qubits'):
        VariationalCircuit(13)


def test_vqc_gradients_are_exact():
    module = VariationalCircuit(3, feature_map='zz', reps=1,
                                entanglement='circular', seed=3)
    x = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator()
                   .manual_seed(0))
    states = module.encode(x)
    module.expectation(states).sum().backward()
    gradient = module.weights.grad.clone()
    shifted = []
    with torch.no_grad():  # parameter shift rule: exact for rotation gates
        for i in range(module.weights.numel()):
            values = []
            for sign in (1, -1):
                module.weights[i] += sign * math.pi / 2
                values.append(module.expectation(states).sum())
                module.weights[i] -= sign * math.pi / 2
            shifted.append((values[0] - values[1]) / 2)
    torch.testing.assert_close(gradient, torch.stack(shifted))
    # both evaluation paths (direct gates, one matrix) agree
    many = module.encode(torch.rand(20, 3, dtype=torch.float64))
    direct = readout(module.ansatz.apply(Statevector(many), module.weights))
    torch.testing.assert_close(module.expectation(many), direct)


def toy_data(seed=0, size=60):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, np.pi, size=(size, 3))
    return X, np.where(X[:, 0] + 0.3 * X[:, 1] > 2.0, 'pos', 'neg')


@pytest.mark.parametrize('optimizer,steps,batch', [
    ('adam', 60, 0), ('adam', 80, 16), ('aqgd', 60, 0), ('spsa', 150, 0),
    ('cobyla', 150, 0)])
def test_vqc_classifier_learns_with_each_optimiser(optimizer, steps, batch):
    X, y = toy_data()
    model = VQCClassifier(reps=1, optimizer=optimizer, max_iter=steps,
                          batch_size=batch, seed=1).fit(X, y)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.score(X, y) > 0.8
    assert set(model.predict(X)) <= {'neg', 'pos'}
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1)


def test_vqc_classifier_contract():
    X, y = toy_data()
    model = VQCClassifier(reps=1, max_iter=5, seed=4)
    assert not hasattr(model, 'circuit_')  # no work in __init__
    first = model.fit(X, y).weights_
    again = clone(model).fit(X, y).weights_
    np.testing.assert_array_equal(first, again)          # seeded
    other = clone(model).set_params(seed=5).fit(X, y).weights_
    assert not np.allclose(first, other)
    assert model.get_params()['reps'] == 1
    with pytest.raises(ValueError, match='at least 2 classes'):
        VQCClassifier().fit(X[:3], ['a', 'a', 'a'])
    with pytest.raises(ValueError, match='2 features'):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match='NaN'):
        VQCClassifier().fit(np.full((4, 2), np.nan), [0, 1, 0, 1])
    with pytest.raises(ConfigError, match='unknown optimiser'):
        VQCClassifier(optimizer='lbfgs').fit(X, y)


def test_kernel_matches_qiskit_overlaps():
    rng = np.random.default_rng(2)
    x, z = rng.uniform(0, 2 * np.pi, (4, 3)), rng.uniform(0, 2 * np.pi, (5, 3))
    kernel = QuantumKernel('zz', 3, reps=2, entanglement='linear')
    circuit = ZZFeatureMap(3, 2, 'linear').to_qiskit()
    psi_x, psi_z = qiskit_states(circuit, x), qiskit_states(circuit, z)
    expected = np.abs(psi_x.conj() @ psi_z.T) ** 2
    np.testing.assert_allclose(kernel.evaluate(x, z), expected, atol=1e-12)
    train = kernel.evaluate(x)
    np.testing.assert_allclose(train, train.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(train), 1, atol=1e-12)
    assert kernel_alignment(np.ones((2, 2)), [0, 1]) == pytest.approx(0)


def test_kernel_matches_qiskit_machine_learning():
    pytest.importorskip('qiskit_machine_learning')
    from qiskit_machine_learning.kernels import FidelityStatevectorKernel
    rng = np.random.default_rng(3)
    x, z = rng.uniform(0, 2 * np.pi, (6, 3)), rng.uniform(0, 2 * np.pi, (4, 3))
    reference = FidelityStatevectorKernel(
        feature_map=ZZFeatureMap(3, 2).to_qiskit())
    ours = QuantumKernel('zz', 3, reps=2)
    np.testing.assert_allclose(ours.evaluate(x, z),
                               reference.evaluate(x, z), atol=1e-10)


def test_ad_hoc_data_is_separated_by_the_quantum_kernel():
    x_train, y_train, x_test, y_test = ad_hoc_data(25, 10, n=2, gap=0.3,
                                                   seed=7)
    assert x_train.shape == (50, 2) and x_test.shape == (20, 2)
    assert ((x_train >= 0) & (x_train < 2 * np.pi)).all()
    again = ad_hoc_data(25, 10, n=2, gap=0.3, seed=7)
    np.testing.assert_array_equal(x_train, again[0])
    model = QuantumKernelSVC(feature_map='zz', reps=2).fit(x_train, y_train)
    assert model.score(x_test, y_test) == 1.0
    # the generator's own map has the same kernel as the ZZ feature map
    psi = ad_hoc_states(x_test)
    np.testing.assert_allclose(np.abs(psi.conj() @ psi.T) ** 2,
                               QuantumKernel('zz', 2, 2).evaluate(x_test),
                               atol=1e-12)


def test_comparison_table_with_precision_and_recall():
    rows = {'vqc': [{'accuracy': 0.8, 'f1': 0.7, 'precision': 0.6,
                     'recall': 0.5, 'parameters': 30, 'seconds': 1.0}] * 2}
    table = summarise(rows)
    text = markdown(table, 'reviews.tsv', 2)
    assert 'test precision (macro)' in text and '0.600 ± 0.000' in text
    plain = markdown(summarise({'m': [{'accuracy': 1, 'f1': 1,
                                       'parameters': 1, 'seconds': 1}]}),
                     'c', 1)
    assert 'precision' not in plain


def test_vqc_circuit_matches_qiskit_machine_learning():
    pytest.importorskip('qiskit_machine_learning')
    from qiskit_machine_learning.algorithms import VQC
    x = np.random.default_rng(4).uniform(0, np.pi, (5, 3))
    for readout_kind, interpret in (
            ('z', None),  # qiskit-ML 0.9's default: class = bits % 2
            ('parity', lambda bits: bin(bits).count('1') % 2)):
        ours = VariationalCircuit(3, reps=1, entanglement='circular',
                                  readout=readout_kind, seed=2)
        weights = ours.weights.detach().numpy()
        theirs = VQC(feature_map=AngleEncoding(3).to_qiskit(),
                     ansatz=EfficientSU2(3, 1, 'circular').to_qiskit(),
                     interpret=interpret,
                     output_shape=2 if interpret else None)
        reference = theirs.neural_network.forward(x, weights)[:, 1]
        with torch.no_grad():
            probability = ours(ours.encode(torch.tensor(x))).numpy()
        np.testing.assert_allclose(probability, reference, atol=1e-9)


# the fast (in place, fused) and differentiable paths of the engine ------------
def dense_gate(matrix: torch.Tensor, qubits: list[int], n: int
               ) -> torch.Tensor:
    """The full 2**n x 2**n matrix of a one- or two-qubit ``matrix`` on
    qiskit ``qubits`` (the first the most significant of the gate's
    index): the plain reference, Kronecker products with identities."""
    from qnlp.engine.gates import reverse_wires
    eye = torch.eye(2, dtype=matrix.dtype)
    if len(qubits) == 1:
        factors = [matrix if q == qubits[0] else eye
                   for q in range(n - 1, -1, -1)]
        full = factors[0]
        for factor in factors[1:]:
            full = torch.kron(full, factor)
        return full
    a, b = qubits             # a two-qubit gate by its action on basis states
    index = torch.arange(2 ** n)
    bit_a, bit_b = (index >> a) & 1, (index >> b) & 1
    full = torch.zeros(2 ** n, 2 ** n, dtype=matrix.dtype)
    for row in range(4):
        for col in range(4):
            rows = (index & ~((1 << a) | (1 << b))) | ((row >> 1) << a) \
                | ((row & 1) << b)
            mask = (2 * bit_a + bit_b) == col
            full[rows[mask], index[mask]] = matrix[row, col]
    return full


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 8), data=st.data())
def test_fast_and_differentiable_paths_match_dense_reference(n, data):
    """Random circuits on 1-8 qubits (one block, several blocks, the real
    lowest block) three ways: the in-place fused path, the autograd path,
    and dense 2**n x 2**n matrices; 1e-10 in float64, gradients too."""
    from qnlp.engine import gates
    batch = 2
    ops = []
    for _ in range(data.draw(st.integers(1, 16))):
        kind = data.draw(st.sampled_from(
            ('h', 'x', 'rx', 'ry', 'rz', 'p', 'cx', 'cz', 'local',
             'cx_layer', 'phase') if n > 1 else ('h', 'rx', 'rz', 'local')))
        if kind in ('cx', 'cz'):
            ops.append((kind, tuple(data.draw(st.permutations(range(n)))[:2])))
        elif kind == 'cx_layer':
            ops.append((kind, entangler_pairs(
                data.draw(st.sampled_from(('linear', 'ring', 'full'))), n)))
        elif kind in ('local', 'phase'):
            ops.append((kind, None))
        else:
            ops.append((kind, data.draw(st.integers(0, n - 1))))
    ops.append(('ry', n - 1))                # at least one weight in use
    weights = torch.tensor([data.draw(angles) for _ in range(len(ops))],
                           dtype=torch.float64)
    generator = torch.Generator().manual_seed(data.draw(st.integers(0, 99)))
    start = torch.randn(batch, 2 ** n, dtype=torch.complex128,
                        generator=generator)
    local = torch.rand(len(ops), n, 3, dtype=torch.float64,
                       generator=generator)
    phases = torch.rand(2 ** n, dtype=torch.float64, generator=generator)

    def run(w: torch.Tensor, state: Statevector) -> Statevector:
        for i, (kind, where) in enumerate(ops):
            if kind in ('h', 'x'):
                getattr(state, kind)(where)
            elif kind in ('rx', 'ry', 'rz', 'p'):
                getattr(state, kind)(w[i], where)
            elif kind in ('cx', 'cz'):
                getattr(state, kind)(*where)
            elif kind == 'cx_layer':
                state.cx_layer(where)
            elif kind == 'local':
                state.local(gates.rotation(local[i] * w[i], 'zyz'))
            else:
                state.diagonal_phase(phases * w[i])
        return state

    def dense(w: torch.Tensor) -> torch.Tensor:
        full = torch.eye(2 ** n, dtype=torch.complex128)
        for i, (kind, where) in enumerate(ops):
            if kind in ('h', 'x'):
                step = dense_gate(gates.gate(kind), [where], n)
            elif kind in ('rx', 'ry', 'rz', 'p'):
                step = dense_gate(gates.gate(kind, w[i]), [where], n)
            elif kind in ('cx', 'cz'):
                step = dense_gate(gates.gate(kind), list(where), n)
            elif kind == 'cx_layer':
                step = torch.eye(2 ** n, dtype=torch.complex128)
                for pair in where:
                    step = dense_gate(gates.gate('CX'), list(pair), n) @ step
            elif kind == 'local':
                rotations = gates.rotation(local[i] * w[i], 'zyz')
                step = torch.eye(2 ** n, dtype=torch.complex128)
                for q in range(n):
                    step = dense_gate(rotations[q], [q], n) @ step
            else:
                step = torch.diag(torch.polar(torch.ones_like(phases),
                                              phases * w[i]))
            full = step @ full
        return start @ full.T

    kept = start.clone()
    with torch.no_grad():
        fast = run(weights, Statevector(start)).amplitudes
    assert torch.equal(start, kept)          # a borrowed tensor is not written
    owned = Statevector.zeros(batch, n)
    owned._amplitudes.copy_(start)           # an owned one is, in place
    with torch.no_grad():
        fast_owned = run(weights, owned).amplitudes
    w = weights.clone().requires_grad_()
    slow = run(w, Statevector(start)).amplitudes
    w_dense = weights.clone().requires_grad_()
    reference = dense(w_dense)
    for ours in (fast, fast_owned, slow):
        torch.testing.assert_close(ours, reference.detach(), atol=1e-10,
                                   rtol=0)
    cost = torch.randn(batch, 2 ** n, dtype=torch.float64,
                       generator=generator)
    (cost * (slow.real ** 2 + slow.imag ** 2)).sum().backward()
    (cost * (reference.real ** 2 + reference.imag ** 2)).sum().backward()
    torch.testing.assert_close(w.grad, w_dense.grad, atol=1e-10, rtol=0)


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 6), reps=st.integers(1, 3),
       entanglement=st.sampled_from(ENTANGLEMENTS),
       readout_kind=st.sampled_from(('parity', 'z')),
       seed=st.integers(0, 100))
def test_vqc_observable_path_matches_gates_on_states(n, reps, entanglement,
                                                     readout_kind, seed):
    """Batches larger than 2**n (one observable) against the gates on
    the states, values and gradients, to 1e-10."""
    module = VariationalCircuit(n, reps=reps, entanglement=entanglement,
                                readout=readout_kind, seed=seed)
    states = module.encode(torch.rand(2 ** n + 3, n, dtype=torch.float64,
                                      generator=torch.Generator()
                                      .manual_seed(seed)))
    values = module.expectation(states)
    values.pow(2).sum().backward()
    gradient = module.weights.grad.clone()
    module.zero_grad()
    direct = readout(module.ansatz.apply(Statevector(states), module.weights),
                     readout_kind)
    direct.pow(2).sum().backward()
    torch.testing.assert_close(values, direct, atol=1e-10, rtol=0)
    torch.testing.assert_close(gradient, module.weights.grad, atol=1e-10,
                               rtol=0)


@settings(max_examples=10, deadline=None)
@given(m=st.integers(1, 80), n=st.integers(1, 4), blocks=st.integers(1, 9))
def test_symmetric_gram_is_the_full_product(m, n, blocks):
    from qnlp.models.kernel import symmetric_gram
    states = torch.randn(m, 2 ** n, dtype=torch.complex128,
                         generator=torch.Generator().manual_seed(m))
    full = (states @ states.conj().T).abs() ** 2
    torch.testing.assert_close(symmetric_gram(states), full,
                               atol=1e-10, rtol=1e-12)      # numpy blocks
    with mock.patch('qnlp.models.kernel._BLOCK_BYTES', 1):  # 32-row blocks
        torch.testing.assert_close(symmetric_gram(states), full,
                                   atol=1e-10, rtol=1e-12)
        single = symmetric_gram(states.to(torch.complex64))
        assert single.dtype == torch.float32
        torch.testing.assert_close(single.double(), full, atol=1e-4,
                                   rtol=1e-5)
    with mock.patch.dict('qnlp.models.kernel._REAL', clear=True):
        torch.testing.assert_close(symmetric_gram(states, blocks), full,
                                   atol=1e-10, rtol=1e-12)  # torch blocks


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 5), reupload=st.booleans(),
       entangler=st.sampled_from(('ring', 'linear', 'none')),
       encoding=st.sampled_from(('rx', 'ry', 'hrz')))
def test_parallel_layer_folded_and_gate_paths_agree(n, reupload, entangler,
                                                    encoding):
    """ParallelQuantumLayer's folded unitaries and its gates on states
    (the path above FOLD_MAX_QUBITS): outputs and gradients, float64."""
    from qnlp.models import quantum_layers
    layer = quantum_layers.ParallelQuantumLayer(
        2, n, 2, encoding=encoding, entangler=entangler, reupload=reupload,
        seed=n).double()
    x = torch.rand(3, 2 * n, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(n))
    results = []
    saved = quantum_layers.FOLD_MAX_QUBITS
    try:
        for limit in (12, 0):
            quantum_layers.FOLD_MAX_QUBITS = limit
            layer.zero_grad()
            out = layer(x)
            out.pow(2).sum().backward()
            results.append((out.detach(), layer.weights.grad.clone()))
    finally:
        quantum_layers.FOLD_MAX_QUBITS = saved
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def _random_ansatz_case(n: int, reps: int, entanglement: str,
                        diagonal: bool, single: bool, seed: int) -> tuple:
    """A generator, an ``EfficientSU2``, the weights' type, weights in it
    (and a float64 copy), both needing gradients, and a random diagonal
    (its diagonal) or full Hermitian observable."""
    g = torch.Generator().manual_seed(seed)
    size = 2 ** n
    ansatz = EfficientSU2(n, reps, entanglement)
    dtype = torch.float32 if single else torch.float64
    w = (torch.rand(ansatz.n_weights, generator=g, dtype=torch.float64)
         * 6 - 3).to(dtype).requires_grad_()
    w_ref = w.detach().double().requires_grad_()
    if diagonal:
        observable = torch.randn(size, generator=g, dtype=torch.float64)
    else:
        o = torch.randn(size, size, 2, generator=g, dtype=torch.float64)
        observable = torch.view_as_complex(o) + torch.view_as_complex(o).mH
    return g, ansatz, dtype, w, w_ref, observable


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 4), reps=st.integers(0, 3),
       entanglement=st.sampled_from(ENTANGLEMENTS),
       diagonal=st.booleans(), single=st.booleans(),
       seed=st.integers(0, 100))
def test_folded_observable_and_its_gradient_match_autograd(
        n, reps, entanglement, diagonal, single, seed):
    """``EfficientSU2.folded`` (numpy, gradient by hand) and
    ``quadratic_form`` against autograd through ``matrix`` and plain
    torch products: values and gradients (weights, states), for a
    diagonal or full Hermitian observable and a non-Hermitian incoming
    gradient; float32 weights keep their type."""
    from qnlp.models.vqc import quadratic_form
    g, ansatz, dtype, w, w_ref, observable = _random_ansatz_case(
        n, reps, entanglement, diagonal, single, seed)
    size = 2 ** n
    cost = torch.view_as_complex(
        torch.randn(size, size, 2, generator=g, dtype=torch.float64))
    folded = ansatz.folded(w, observable)
    assert folded.dtype == (torch.complex64 if single else torch.complex128)
    m = ansatz.matrix(w_ref)
    reference = ((m * observable) if diagonal else m @ observable) @ m.mH
    (folded.to(torch.complex128) * cost).real.sum().backward()
    (reference * cost).real.sum().backward()
    tol = 1e-5 if single else 1e-10
    torch.testing.assert_close(folded.to(torch.complex128),
                               reference.detach(), atol=tol, rtol=0)
    torch.testing.assert_close(w.grad.double(), w_ref.grad, atol=tol * 10,
                               rtol=0)
    assert w.grad.dtype == dtype
    states = torch.view_as_complex(torch.randn(5, size, 2, generator=g,
                                               dtype=torch.float64))
    states.requires_grad_()
    a = reference.detach().requires_grad_()
    weights = torch.randn(5, generator=g, dtype=torch.float64)
    ours = torch.autograd.grad((quadratic_form(states, a) * weights).sum(),
                               (states, a))
    plain = ((states @ a) * states.conj()).sum(1).real
    theirs = torch.autograd.grad((plain * weights).sum(), (states, a))
    for x, y in zip(ours, theirs):
        torch.testing.assert_close(x, y, atol=1e-10, rtol=0)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 4), reps=st.integers(0, 3),
       entanglement=st.sampled_from(ENTANGLEMENTS),
       diagonal=st.booleans(), single=st.booleans(),
       output=st.sampled_from(('value', 'probability', 'classes')),
       real=st.booleans(), seed=st.integers(0, 100))
def test_observable_expectation_matches_autograd(
        n, reps, entanglement, diagonal, single, output, real, seed):
    """``observable_expectation`` (evolved rows in numpy, gradient by
    hand) against autograd through ``matrix`` and plain torch products:
    values and weight gradients, diagonal or full Hermitian observable
    (eigenvalues beyond +-1, so some probabilities are clamped), each
    output (``classes``: ``[1 - P, P]`` as ``torch.stack``), complex or
    real states (the real products' path), float32 weights keep their
    type."""
    from qnlp.models.vqc import observable_expectation
    g, ansatz, dtype, w, w_ref, observable = _random_ansatz_case(
        n, reps, entanglement, diagonal, single, seed)
    size = 2 ** n
    states = torch.view_as_complex(torch.randn(size + 3, size, 2, generator=g,
                                               dtype=torch.float64))
    if real:
        states = states.real.to(torch.complex128)
    ours = observable_expectation(ansatz, w, states.to(
        torch.complex64 if single else torch.complex128),
        observable.to(dtype) if diagonal else observable, output)
    assert ours.dtype == dtype
    evolved = states @ ansatz.matrix(w_ref)
    weighted = evolved * observable if diagonal else evolved @ observable
    reference = (weighted * evolved.conj()).sum(1).real
    if output != 'value':
        reference = ((1 - reference) / 2).clamp(0.0, 1.0)
    if output == 'classes':
        reference = torch.stack([1 - reference, reference], 1)
    cost = torch.randn(reference.shape, generator=g, dtype=torch.float64)
    (ours.double() * cost).sum().backward()
    (reference * cost).sum().backward()
    tol = 1e-5 if single else 1e-10
    torch.testing.assert_close(ours.double(), reference.detach(),
                               atol=tol * size, rtol=0)
    torch.testing.assert_close(w.grad.double(), w_ref.grad,
                               atol=tol * 10 * size, rtol=0)
    assert w.grad.dtype == dtype


def test_vqc_probability_paths_agree():
    """``VariationalCircuit`` on more samples than ``2**n``: the numpy
    node (states without gradient) and the folded observable (states
    with one) give the same probabilities and weight gradients."""
    module = VariationalCircuit(3, reps=2, readout=[('XZI', 0.7),
                                                    ('ZZZ', 0.6)], seed=1)
    states = module.encode(torch.rand(20, 3, dtype=torch.float64,
                                      generator=torch.Generator()
                                      .manual_seed(1)))
    results = []
    for track in (False, True):
        module.zero_grad()
        p = module(states.clone().requires_grad_(track))
        (p ** 3).sum().backward()
        results.append((p.detach(), module.weights.grad.clone()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def _plain_binary_cross_entropy(probabilities, labels):
    """The expression :func:`binary_cross_entropy` computes in one node."""
    p = probabilities[:, 1].clamp(1e-9, 1 - 1e-9)
    targets = labels.to(p.dtype)
    return -(targets * torch.log(p)
             + (1 - targets) * torch.log(1 - p)).mean()


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 40), single=st.booleans(), numpy=st.booleans(),
       seed=st.integers(0, 10 ** 6))
def test_binary_cross_entropy_node_is_the_plain_expression(size, single,
                                                           numpy, seed):
    """The one-node binary cross-entropy against autograd through the
    plain expression, with probabilities at, beyond and inside the
    clamp's bounds and an arbitrary incoming gradient (float64 and
    float32): the gradient bit for bit; the loss bit for bit in torch
    (the path off the CPU), to the last bits in numpy (the CPU's: its
    logarithm and mean are not torch's)."""
    from qnlp.train.estimators import binary_cross_entropy
    g = torch.Generator().manual_seed(seed)
    dtype = torch.float32 if single else torch.float64
    q = torch.rand(size, 2, generator=g, dtype=dtype)
    edges = torch.tensor([0.0, 1.0, 1e-10, 1e-9, 1 - 1e-9, 0.5],
                         dtype=dtype)
    pick = torch.rand(size, generator=g) < 0.3
    q[pick, 1] = edges[torch.randint(0, 6, (int(pick.sum()),),
                                     generator=g)]
    labels = torch.randint(0, 2, (size,), generator=g)
    ours, theirs = q.clone().requires_grad_(), q.clone().requires_grad_()
    weight = torch.rand((), generator=g, dtype=dtype) * 3 - 1
    with mock.patch('qnlp.train.estimators._in_numpy',
                    lambda p: numpy):
        loss = binary_cross_entropy(ours, labels)
        (loss * weight).backward()
    reference = _plain_binary_cross_entropy(theirs, labels)
    (reference * weight).backward()
    exact = dict(rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(
        loss, reference, **(exact if not numpy else dict(
            rtol=1e-6 if single else 1e-12, atol=0, equal_nan=True)))
    torch.testing.assert_close(ours.grad, theirs.grad, **exact)


def test_binary_cross_entropy_gradcheck():
    """First and second derivatives of the one-node loss by finite
    differences (float64, away from the clamp's kinks; the second from
    the torch recomputation of the gradient)."""
    from qnlp.train.estimators import binary_cross_entropy
    g = torch.Generator().manual_seed(0)
    q = (torch.rand(7, 2, generator=g, dtype=torch.float64) * 0.9
         + 0.05).requires_grad_()
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0])
    assert torch.autograd.gradcheck(
        lambda p: binary_cross_entropy(p, labels), (q,))
    assert torch.autograd.gradgradcheck(
        lambda p: binary_cross_entropy(p, labels), (q,))


def test_vqc_model_classes_node_is_the_stacked_probability():
    """``VQCModel`` (``[1 - P, P]`` from one node) and the loss on it
    (plus a cost on both columns): the same values and weight gradients,
    bit for bit, and loss to 1e-12, as the probability node stacked by
    torch and the plain loss expression, on the numpy path (more samples
    than ``2**n``) and the gate path."""
    from qnlp.models.vqc import VQCModel
    from qnlp.train.estimators import binary_cross_entropy
    model = VQCModel(3, reps=2, readout=[('XZI', 0.9), ('ZZZ', 0.6)],
                     seed=3)
    g = torch.Generator().manual_seed(3)
    for samples in (5, 40):
        states = model.encode(torch.rand(samples, 3, dtype=torch.float64,
                                         generator=g) * 3)
        labels = torch.randint(0, 2, (samples,), generator=g)
        cost = torch.randn(samples, 2, generator=g, dtype=torch.float64)
        found = []
        for stacked in (False, True):
            model.zero_grad()
            if stacked:
                p = VariationalCircuit.forward(model, states)
                classes = torch.stack([1 - p, p], 1)
                loss = _plain_binary_cross_entropy(classes, labels)
            else:
                classes = model(states)
                loss = binary_cross_entropy(classes, labels)
            # both columns get a gradient (the loss reads column 1 only)
            (loss + (classes * cost).sum()).backward()
            found.append((classes.detach(), model.weights.grad.clone(),
                          loss.detach()))
        for a, b in zip(found[0][:2], found[1][:2]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(found[0][2], found[1][2], rtol=1e-12,
                                   atol=0)     # numpy's log and mean


def test_observable_expectation_sees_states_changed_in_place():
    """The node keeps the numpy rows of the last states it saw: a new
    tensor, or the same one changed in place (here from real to
    complex, so from the real products' path to the complex one), is
    read again; the rows are let go when the tensor dies."""
    from qnlp.models.vqc import observable_expectation
    ansatz = EfficientSU2(2, reps=1)
    w = torch.rand(ansatz.n_weights, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(0))
    z = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    states = torch.eye(4, dtype=torch.complex128)[[0, 1, 2, 3, 0]] \
        * (0.6 + 0j)
    states[:, 1] += 0.8

    def reference(s):
        e = s @ ansatz.matrix(w)
        return ((e * z) * e.conj()).sum(1).real
    for change in (None, lambda s: s.mul_(1j), lambda s: s[:, 0].mul_(1j),
                   lambda s: s.copy_(s.conj())):
        if change is not None:
            change(states)
        torch.testing.assert_close(
            observable_expectation(ansatz, w, states, z), reference(states),
            atol=1e-12, rtol=0)
    from qnlp.models import vqc
    assert vqc._LAST_ROWS[0][0]() is states
    del states                        # the kept rows go with the tensor
    assert vqc._LAST_ROWS[0] is vqc._NO_ROWS
