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
from qnlp.tasks.images import TRANSFER_MODELS as TASK_TRANSFER_MODELS
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
    assert TASK_TRANSFER_MODELS == TRANSFER_MODELS
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
