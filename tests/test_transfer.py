"""Transfer learning: frozen autoencoder features and quantum heads."""
from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qnlp.cli.main import main
from qnlp.models.transfer import (TRANSFER_MODELS, PaperCircuit,
                                  make_transfer_model, pretrain_encoder)
from tests.test_creep import (assert_one_line_error,
                               assert_resumes_bit_identical)
from tests.test_images import np_cnot, np_gate, on_wire, toy_folder


def reference_paper_circuit(features: np.ndarray, n: int = 5) -> np.ndarray:
    """RY(pi x_i) on qubit i mod n, one gate per feature, then H on every
    qubit and CNOTs 0->1->...->n-1; the outcome probabilities."""
    state = np.zeros(2 ** n, dtype=complex)
    state[0] = 1
    for i, x in enumerate(features):
        state = on_wire(np_gate('y', math.pi * x), i % n, n) @ state
    hadamard = np.array([[1, 1], [1, -1]]) / 2 ** 0.5
    state = reduce(np.kron, [hadamard] * n) @ state
    for q in range(n - 1):
        state = np_cnot(q, q + 1, n) @ state
    return np.abs(state) ** 2


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 1000), width=st.integers(1, 23))
def test_paper_circuit_equals_a_statevector_reference(seed, width):
    features = torch.rand(2, width, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(seed))
    ours = PaperCircuit()(features).numpy()
    expected = np.stack([reference_paper_circuit(row)
                         for row in features.numpy()])
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)


def test_frozen_encoder_gets_no_gradient_and_heads_do():
    """Every head of one seed gets the same pretrained encoder, which
    stays still while the head learns."""
    pixels = torch.rand(8, 1, 4, 4)
    encoders = []
    for name in TRANSFER_MODELS:
        model = make_transfer_model(name, 16, 3, n_layers=2)
        pretrain_encoder(model, pixels, epochs=1)
        encoders.append(torch.cat([p.flatten()
                                   for p in model.encoder.parameters()]))
        assert torch.equal(encoders[0], encoders[-1])
        before = [p.clone() for p in model.encoder.parameters()]
        model.train()
        assert not model.encoder.training
        torch.nn.functional.cross_entropy(
            model(pixels), torch.arange(8) % 3).backward()
        assert all(p.grad is None and not p.requires_grad
                   for p in model.encoder.parameters())
        assert all(p.grad is not None for p in model.head.parameters())
        assert all(torch.equal(a, b) for a, b in
                   zip(before, model.encoder.parameters()))


def test_transfer_run_resumes_bit_identical_with_the_pretrained_encoder(
        tmp_path, monkeypatch):
    """The encoder is pretrained once per run, saved with the weights;
    a run killed after epoch 1 resumes to the uninterrupted weights."""
    data = toy_folder(tmp_path / 'data', n_train=12, n_test=6, side=8)
    def args(epochs: int) -> list[str]:
        return ['train', '--task', 'images', str(data), '--model',
                'transfer-dressed', '--image-size', '4', '--layers', '1',
                '--encoder-epochs', '2', '--epochs', str(epochs),
                '--batch-size', '6', '--quiet']
    metrics = assert_resumes_bit_identical(args(2), tmp_path, monkeypatch)
    assert metrics['task_metrics']['n_quantum_parameters'] == 15
    # the encoder is the same after one epoch as after two; the head moves
    from qnlp.train.run import RunDirectory
    assert main([*args(1), '--out', str(tmp_path / 'one')]) == 0
    one, two = (RunDirectory(tmp_path / name).read_weights()
                for name in ('one', 'whole'))
    assert all(torch.equal(one[k], two[k]) == ('.encoder.' in k)
               for k in one if k.startswith('network.'))
    assert metrics['task_metrics']['autoencoder_mse'] > 0


@pytest.mark.parametrize('option,message', [
    (['--model', 'transfer-x'], "transfer-x"),
    (['--model', 'transfer-hybrid', '--encoder-epochs', '0'],
     "encoder_epochs must be at least 1"),
])
def test_bad_transfer_options_exit_2(tmp_path, capsys, option, message):
    assert_one_line_error(tmp_path, capsys, option, message)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 1000), n_qubits=st.integers(1, 6))
def test_linear_head_feeds_the_paper_circuit_one_feature_a_qubit(
        seed, n_qubits):
    """transfer-linear: a trained map 64 -> n, sigmoid, each of the n
    angles on its own qubit of the paper's circuit."""
    model = make_transfer_model('transfer-linear', 16, 3, seed=seed,
                                n_qubits=n_qubits).double()
    latent = torch.rand(2, 64, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed))
    linear, _, circuit, _ = model.head
    angles = torch.sigmoid(linear(latent)).detach()
    expected = np.stack([reference_paper_circuit(row, n_qubits)
                         for row in angles.numpy()])
    np.testing.assert_allclose(circuit(angles).numpy(), expected,
                               rtol=0, atol=1e-10)
    assert linear.out_features == n_qubits
    assert tuple(model(torch.rand(2, 1, 4, 4, dtype=torch.float64)).shape) \
        == (2, 3)


def reference_latent_hamiltonian(head, features: np.ndarray) -> np.ndarray:
    """transfer-hamiltonian's circuit the slow way: the (mapped) features
    as a side x side matrix X, H = (X + X^T)/2s + i (X - X^T)/2s, from
    |+...+> each layer exp(-i t_l H) then the trained unitary, the
    outcome probabilities times their number."""
    from scipy.linalg import expm
    side = head.side
    matrix = head.map(torch.from_numpy(features)).detach().numpy()
    layers = head.circuit.trainable_layers().detach().numpy()
    times = head.circuit.times.detach().numpy()
    out = []
    for row in matrix:
        x = row.reshape(side, side)
        h = (x + x.T) / (2 * side) + 1j * (x - x.T) / (2 * side)
        state = np.full(side, side ** -0.5, dtype=complex)
        for t, layer in zip(times, layers):
            state = layer @ (expm(-1j * t * h) @ state)
        out.append(side * np.abs(state) ** 2)
    return np.stack(out)


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 1000), n_qubits=st.sampled_from([2, 3]),
       n_layers=st.integers(1, 3))
def test_hamiltonian_head_equals_a_matrix_exponential_reference(
        seed, n_qubits, n_layers):
    """transfer-hamiltonian: on 3 qubits the 64 features are the 8 x 8
    matrix (no map); on 2 a trained map 64 -> 16 first."""
    model = make_transfer_model('transfer-hamiltonian', 16, 3, seed=seed,
                                n_layers=n_layers, n_qubits=n_qubits).double()
    circuits = model.head[0]
    with torch.no_grad():
        for head in circuits:
            head.circuit.times.uniform_(-3, 3)
            assert isinstance(head.map, torch.nn.Identity) == (n_qubits == 3)
    latent = torch.rand(3, 64, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed))
    np.testing.assert_allclose(
        circuits(latent).detach().numpy(),
        np.concatenate([reference_latent_hamiltonian(head, latent.numpy())
                        for head in circuits], axis=1), rtol=0, atol=1e-10)
    assert len(circuits) == 4
    model.eval()
    assert tuple(model(torch.rand(2, 1, 4, 4, dtype=torch.float64)).shape) \
        == (2, 3)


def test_hamiltonian_head_gradients_match_finite_differences():
    """Exact first derivatives towards the features, the map and the
    circuit: autograd (the eigendecomposition path) against central
    differences along random directions of all of them at once."""
    head = make_transfer_model('transfer-hamiltonian', 16, 3, n_layers=2,
                               n_qubits=2, seed=3).double().head[0][0]
    generator = torch.Generator().manual_seed(5)
    latent = torch.rand(2, 64, dtype=torch.float64, generator=generator)
    weights = torch.randn(2, 4, dtype=torch.float64, generator=generator)
    names = [name for name, _ in head.named_parameters()]
    point = [latent, *[p.detach() for p in head.parameters()]]

    def loss(values: list[torch.Tensor]) -> torch.Tensor:
        out = torch.func.functional_call(head, dict(zip(names, values[1:])),
                                         (values[0],))
        return (out * weights).sum()

    inputs = [v.clone().requires_grad_(True) for v in point]
    grads = torch.autograd.grad(loss(inputs), inputs)
    for _ in range(3):
        direction = [torch.randn(v.shape, dtype=v.dtype, generator=generator)
                     for v in point]
        step = 1e-5
        moved = [loss([v + sign * step * d for v, d in zip(point, direction)])
                 for sign in (1, -1)]
        numeric = float(moved[0] - moved[1]) / (2 * step)
        exact = sum(float((g * d).sum()) for g, d in zip(grads, direction))
        assert abs(numeric - exact) < 1e-6 * max(1.0, abs(exact))
    assert all(float(g.abs().max()) > 0 for g in grads)


def test_hamiltonian_transfer_run_through_the_task(tmp_path):
    data = toy_folder(tmp_path / 'data', n_train=12, n_test=6, side=8)
    assert main(['train', '--task', 'images', str(data), '--model',
                 'transfer-hamiltonian', '--image-size', '4', '--layers',
                 '1', '--transfer-qubits', '2', '--encoder-epochs', '1',
                 '--epochs', '1', '--batch-size', '6', '--quiet',
                 '--out', str(tmp_path / 'run')]) == 0
    from qnlp.train.run import RunDirectory
    metrics = RunDirectory(tmp_path / 'run').read_metrics()
    # 4 circuits of one 2-qubit SU layer (4 x 4 reals) and its time
    assert metrics['task_metrics']['n_quantum_parameters'] == 4 * 17
    assert 0 <= metrics['test_accuracy'] <= 1
