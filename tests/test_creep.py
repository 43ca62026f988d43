"""Quantum creep-in: the three-layer network and its quantum layers."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qnlp.cli.main import main
from qnlp.models import creep
from qnlp.models.creep import (CREEP_MODELS, CreepNetwork, QuantumDense,
                               make_creep_model)
from tests.conftest import assert_resumes_bit_identical
from tests.test_images import np_cnot, np_gate, on_wire, toy_folder


def reference_dense(layer: QuantumDense, x: np.ndarray) -> np.ndarray:
    """One sample, gate by gate with full matrices: scaled inputs as RY
    angles, ``n`` at a time, each upload followed by RZ-RY-RZ and a CNOT
    ring per trainable layer; <Z_q> then <Z_i Z_i+1> (ring), times the
    gain."""
    n, w = layer.n_qubits, layer.weights.detach().double().numpy()
    angles = np.zeros(layer.uploads * n)
    angles[:len(x)] = x * layer.scale.detach().double().numpy()
    ring = [(q, q + 1) for q in range(n - 1)] + ([(n - 1, 0)] if n > 2
                                                 else [])
    state = np.zeros(2 ** n, dtype=complex)
    state[0] = 1
    for upload in range(layer.uploads):
        for q in range(n):
            state = on_wire(np_gate('y', angles[upload * n + q]), q, n) @ state
        for trainable in w[upload]:
            for q in range(n):
                for axis, theta in zip('zyz', trainable[q]):
                    state = on_wire(np_gate(axis, theta), q, n) @ state
            for control, target in ring:
                state = np_cnot(control, target, n) @ state
    probs = np.abs(state) ** 2
    z = [on_wire(np.diag([1.0, -1.0]), q, n).diagonal() for q in range(n)]
    observables = z + [z[i] * z[j] for i, j in ring]
    gain = layer.gain.item()
    return np.array([gain * obs @ probs
                     for obs in observables[:layer.out_features]])


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000), n_in=st.integers(1, 8),
       n_out=st.integers(1, 6), n_layers=st.integers(1, 2))
def test_quantum_layer_equals_a_statevector_reference(seed, n_in, n_out,
                                                      n_layers):
    """Several uploads (at most 3 qubits here), padding, both readouts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(creep, 'MAX_INPUT_QUBITS', 3)
        layer = QuantumDense(n_in, n_out, n_layers=n_layers,
                             seed=seed).double()
    with torch.no_grad():
        layer.scale.uniform_(0.2, 2.0)
        layer.gain.fill_(1.7)
        layer.weights.uniform_(0, 2 * np.pi)
    x = torch.randn(3, n_in, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed))
    ours = layer(x).detach().numpy()
    expected = np.stack([reference_dense(layer, row) for row in x.numpy()])
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)


def test_models_swap_exactly_the_named_layers(monkeypatch):
    """Widths and kinds of every mix; a swapped layer is the quantum
    layer (it equals the reference) and nothing classical is left in it."""
    monkeypatch.setattr(creep, 'MAX_INPUT_QUBITS', 4)
    pixels = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    for name in CREEP_MODELS:
        model = make_creep_model(name, 16, 3, width=5).double()
        assert tuple(model(pixels).shape) == (2, 3)
        layers = list(model.layers)[1:]
        for kind, layer, (a, b) in zip(name[-3:], layers,
                                       ((16, 5), (5, 5), (5, 3))):
            if kind == 'q':
                assert isinstance(layer, QuantumDense)
                assert (layer.in_features, layer.out_features) == (a, b)
            else:
                assert isinstance(layer, torch.nn.Linear)
                assert (layer.in_features, layer.out_features) == (a, b)
    model = make_creep_model('creep-qcc', 16, 3, width=5).double()
    first = model.layers[1]
    np.testing.assert_allclose(
        first(pixels.flatten(1)).detach().numpy(),
        np.stack([reference_dense(first, row)
                  for row in pixels.flatten(1).numpy()]), atol=1e-10)
    quantum = model.quantum_parameters()
    assert quantum == first.weights.numel() + 16 + 1   # scales and gain


def test_gradients_reach_the_circuits_and_the_pixels():
    model = make_creep_model('creep-qqq', 16, 3, width=4).double()
    pixels = torch.rand(3, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    model(pixels).sum().backward()
    for layer in list(model.layers)[1:]:
        assert layer.weights.grad.abs().sum() > 0
    assert pixels.grad.abs().sum() > 0


def assert_one_line_error(tmp_path, capsys, option: list[str],
                          message: str) -> None:
    """An image run with ``option`` exits 2 with one line naming it."""
    data = toy_folder(tmp_path / 'data', n_train=4, n_test=2)
    assert main(['train', '--task', 'images', str(data), '--out',
                 str(tmp_path / 'run'), '--epochs', '1', '--quiet',
                 *option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_creep_run_trains_and_resumes_bit_identical(tmp_path, monkeypatch):
    data = toy_folder(tmp_path / 'data', n_train=12, n_test=6, side=8)
    metrics = assert_resumes_bit_identical(
        ['train', '--task', 'images', str(data), '--model', 'creep-cqc',
         '--image-size', '4', '--creep-width', '4', '--epochs', '2',
         '--batch-size', '6', '--quiet'], tmp_path, monkeypatch)
    # layer 2 of width 4 -> 4: 4 qubits, one upload, 12 angles + 4 + 1
    assert metrics['task_metrics']['n_quantum_parameters'] == 17


@pytest.mark.parametrize('option,message', [
    (['--model', 'creep-qxc'], "creep-qxc"),
    (['--model', 'creep-ccc', '--creep-width', '0'],
     "creep_width must be at least 1"),
])
def test_bad_creep_options_exit_2(tmp_path, capsys, option, message):
    assert_one_line_error(tmp_path, capsys, option, message)


def test_network_refuses_wrong_widths():
    with pytest.raises(Exception, match='expected 16 inputs'):
        CreepNetwork('qcc', 16, 3)(torch.rand(2, 1, 3, 3))


def test_compare_puts_creep_variants_side_by_side(tmp_path, capsys):
    data = toy_folder(tmp_path / 'data', n_train=8, n_test=4, side=4)
    assert main(['compare', '--task', 'images', str(data), '--out',
                 str(tmp_path / 'cmp'), '--model', 'creep-ccq',
                 '--baselines', 'creep-ccc', '--seeds', '1',
                 '--creep-width', '3', '--epochs', '1', '--quiet']) == 0
    rows = json.loads((tmp_path / 'cmp' / 'comparison.json').read_text())
    assert {'creep-ccq', 'creep-ccc'} <= set(json.dumps(rows).split('"'))
    assert main(['compare', '--task', 'images', str(data), '--out',
                 str(tmp_path / 'bad'), '--model', 'creep-ccq',
                 '--baselines', 'cnn', '--seeds', '1', '--quiet']) == 2
    assert "unknown baselines ['cnn']" in capsys.readouterr().err


def test_a_cut_of_a_split_stored_class_by_class_holds_every_class():
    """CIFAR-10's JPEG tree is read class by class: its first N images
    (--train-images) are taken from every class in turn."""
    from qnlp.data.images import ImageData
    from qnlp.tasks.images import select_images
    images = np.zeros((9, 1, 2, 2), dtype=np.uint8)
    data = ImageData('cifar10', list('abc'), images, np.repeat([0, 1, 2], 3),
                     images, np.array([2, 0, 1, 0, 1, 2, 0, 1, 2]))
    cut = select_images(data, train=6, test=3)
    assert cut.train_labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert cut.test_labels.tolist() == [2, 0, 1]       # stored mixed: kept
