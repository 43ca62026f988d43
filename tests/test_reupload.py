"""The re-uploading image classifiers (:mod:`qnlp.models.reupload`):
the Hamiltonian data unitary from one eigendecomposition against the
matrix exponential, its exact gradients (towards the pixels too, for
attacks), and runs through the image task."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qnlp.models.reupload import (Evolution, _grey, _readout,
                                  image_hamiltonian, make_reupload_model,
                                  padded)
from tests.conftest import assert_resumes_bit_identical
from tests.test_images import toy_folder


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), side=st.sampled_from([2, 4, 8]),
       embedding=st.sampled_from(['hermitian', 'symmetric']),
       t=st.floats(-6, 6))
def test_evolution_is_the_matrix_exponential(seed, side, embedding, t):
    from scipy.linalg import expm
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.rand(3, side, side, dtype=torch.float64,
                        generator=generator)
    hamiltonian = image_hamiltonian(pixels, embedding)
    assert torch.allclose(hamiltonian, hamiltonian.mH)
    state = torch.randn(3, side, dtype=torch.complex128, generator=generator)
    found = Evolution(hamiltonian).apply(torch.tensor(t, dtype=torch.float64),
                                         state).numpy()
    for b in range(3):
        want = expm(-1j * t * hamiltonian[b].numpy()) @ state[b].numpy()
        assert np.abs(found[b] - want).max() < 1e-10


def test_hermitian_embedding_tells_an_image_from_its_transpose():
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(1))
    for embedding, differ in (('hermitian', True), ('symmetric', False)):
        model = make_reupload_model('hamiltonian', 1, 8, 3, n_layers=2,
                                    embedding=embedding).double()
        pair = model(torch.cat([x, x.transpose(-1, -2)]))
        assert bool((pair[0] - pair[1]).abs().max() > 1e-6) == differ


@pytest.mark.parametrize('embedding,ansatz,side', [
    ('hermitian', 'su', 8),
    ('symmetric', 'ring', 6)])     # 6 -> 8: padding repeats eigenvalues
def test_gradients_match_autograd_through_matrix_exp(embedding, ansatz,
                                                     side):
    model = make_reupload_model('hamiltonian', 1, side, 3, n_layers=3,
                                embedding=embedding, ansatz=ansatz,
                                seed=4).double()
    with torch.no_grad():
        model.times.copy_(torch.tensor([0.7, -2.1, 3.3]))
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(2, 1, side, side, dtype=torch.float64,
                        generator=generator)
    if side == 6:
        images[:, :, :, :2] = 0.0       # repeated pixel columns
    target = torch.tensor([0, 2])
    grads = []
    for forward in (model, model.reference_forward):
        model.zero_grad()
        pixels = images.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(forward(pixels), target)
        loss.backward()
        grads.append([pixels.grad.clone(), model.times.grad.clone(),
                      model.weights.grad.clone()])
    for ours, theirs in zip(*grads):
        assert (ours - theirs).abs().max() < 1e-8
    assert grads[0][0].abs().max() > 1e-4       # the pixels do matter


def test_pixel_gradient_matches_finite_differences():
    model = make_reupload_model('hamiltonian', 1, 4, 2, n_layers=2,
                                seed=1).double()
    image = torch.rand(1, 1, 4, 4, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(3))
    pixels = image.clone().requires_grad_(True)
    model(pixels)[0, 1].backward()
    step = 1e-6
    for index in [(0, 0, 0, 1), (0, 0, 2, 3), (0, 0, 3, 3)]:
        up, down = image.clone(), image.clone()
        up[index] += step
        down[index] -= step
        with torch.no_grad():
            slope = (model(up)[0, 1] - model(down)[0, 1]) / (2 * step)
        assert abs(float(slope) - float(pixels.grad[index])) < 1e-8


def test_hamiltonian_run_resumes_bit_identical(tmp_path, monkeypatch):
    """Through the image task and its options (the other two models are
    built the same way: qnlp.models.reupload's doctest runs all
    three): stopped after its first write and resumed, a run ends with
    the weights of an uninterrupted one."""
    data = toy_folder(tmp_path / 'data', n_train=8, n_test=4, side=7)
    metrics = assert_resumes_bit_identical(
        ['train', '--task', 'images', str(data), '--model', 'hamiltonian',
         '--epochs', '2', '--batch-size', '4', '--layers', '2',
         '--embedding', 'symmetric', '--quiet'], tmp_path, monkeypatch)
    assert 0 <= metrics['test_accuracy'] <= 1
    config = json.loads((tmp_path / 'whole' / 'config.json').read_text())
    assert config['shape'] == [1, 7, 7]
    # 7x7 padded to 8x8 on 3 qubits: 2 su layers of 8 x 8 reals and 2
    # times; the 8 -> 2 map is classical
    assert metrics['task_metrics']['n_quantum_parameters'] == 2 * 64 + 2


@pytest.mark.parametrize('n', [4, 5])
def test_qcnn_is_unitary_and_reads_two_qubits(n):
    from qnlp.models.reupload import QCNN
    model = QCNN(n, n_classes=3).double()
    unitary = model.unitary()
    eye = torch.eye(2 ** n, dtype=unitary.dtype)
    assert torch.allclose(unitary @ unitary.conj().T, eye, atol=1e-12)
    assert len(model.kept) == 2 and model.classify.in_features == 4


@pytest.mark.parametrize('side', [2, 300])
def test_reupload_models_refuse_other_sides(side):
    from qnlp.errors import ConfigError
    with pytest.raises(ConfigError, match='side 3 to 256'):
        make_reupload_model('hamiltonian', 1, side)
