"""Image pipelines: data loaders, quantum layers, models, training, CLI."""
from __future__ import annotations

import json
import math
import pickle
import tarfile
from functools import reduce
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qnlp.cli.main import main
from qnlp.data import images as image_data
from qnlp.data.augment import ImageAugment
from qnlp.data.images import (ImageData, load_cifar10, load_idx_dataset,
                              load_image_dataset, load_medmnist, read_idx,
                              write_idx)
from qnlp.errors import CheckpointError, CorpusError
from qnlp.models.images import (FRONTS, MODELS, count_parameters, make_image_model,
                                 quantum_parameters)
from qnlp.models.quantum_layers import ParallelQuantumLayer, Quanvolution
from qnlp.tasks import load_trained, train
from qnlp.tasks.images import ImageSettings
from tests.conftest import train_interrupted

# ------------------------------------------------ numpy reference ------

I2 = np.eye(2)


def np_gate(axis: str, theta: float) -> np.ndarray:
    c, s = math.cos(theta / 2), math.sin(theta / 2)
    return {'x': np.array([[c, -1j * s], [-1j * s, c]]),
            'y': np.array([[c, -s], [s, c]], dtype=complex),
            'z': np.array([[c - 1j * s, 0], [0, c + 1j * s]])}[axis]


def on_wire(gate: np.ndarray, wire: int, n: int) -> np.ndarray:
    return reduce(np.kron, [gate if q == wire else I2 for q in range(n)])


def np_cnot(control: int, target: int, n: int) -> np.ndarray:
    p0, p1 = np.diag([1, 0]), np.diag([0, 1])
    x = np.array([[0, 1], [1, 0]])
    a = reduce(np.kron, [p0 if q == control else I2 for q in range(n)])
    b = reduce(np.kron, [p1 if q == control else x if q == target else I2
                         for q in range(n)])
    return a + b


def reference_circuit(x, w, encoding, rotations, entangler, reupload,
                      scale, readout):
    """One sample, one circuit, gate by gate with full matrices."""
    n, layers = len(x), w.shape[0]
    state = np.zeros(2 ** n, dtype=complex)
    state[0] = 1
    if entangler == 'none':
        pairs = []
    elif entangler == 'linear' or n == 2:
        pairs = [(q, q + 1) for q in range(n - 1)]
    else:
        pairs = [(q, (q + 1) % n) for q in range(n)]
    for layer in range(layers):
        if layer == 0 or reupload:
            for q in range(n):
                if layer == 0 and encoding == 'hrz':
                    state = on_wire(np.array([[1, 1], [1, -1]]) / 2 ** 0.5,
                                    q, n) @ state
                state = on_wire(np_gate(encoding[-1], scale * x[q]), q,
                                n) @ state
        for q in range(n):
            for i, axis in enumerate(rotations):
                state = on_wire(np_gate(axis, w[layer, q, i]), q, n) @ state
        for control, target in pairs:
            state = np_cnot(control, target, n) @ state
    probs = np.abs(state) ** 2
    if readout == 'probs':
        return probs
    return np.array([on_wire(np.diag([1, -1]), q, n).diagonal() @ probs
                     for q in range(n)])


def reference_layer(layer: ParallelQuantumLayer, x: np.ndarray):
    w = layer.weights.detach().double().numpy()
    k, n = layer.n_circuits, layer.n_qubits
    return np.stack([np.concatenate([
        reference_circuit(row[c * n:(c + 1) * n], w[c], layer.encoding,
                          layer.rotations, layer.entangler, layer.reupload,
                          layer.input_scale, layer.readout)
        for c in range(k)]) for row in x])


CONFIGS = [
    dict(n_circuits=4, n_qubits=5, n_layers=3),  # HQNN-Parallel
    dict(n_circuits=2, n_qubits=3, n_layers=2, encoding='rx',
         rotations='xyz', entangler='linear'),
    dict(n_circuits=3, n_qubits=2, n_layers=2, encoding='hrz',
         rotations='y', entangler='ring', readout='probs'),
    dict(n_circuits=2, n_qubits=3, n_layers=3, encoding='ry',
         rotations='zyz', entangler='ring', reupload=True, input_scale=2.0),
    dict(n_circuits=2, n_qubits=3, n_layers=2, encoding='hrz',
         rotations='xz', entangler='linear', reupload=True),
    dict(n_circuits=1, n_qubits=4, n_layers=1, entangler='none',
         input_scale=math.pi),
]


@pytest.mark.parametrize('config', CONFIGS)
def test_parallel_layer_matches_per_sample_reference(config):
    layer = ParallelQuantumLayer(seed=3, **config).double()
    x = np.random.default_rng(0).uniform(-3, 3, (6, layer.in_features))
    ours = layer(torch.from_numpy(x)).detach().numpy()
    assert ours.shape == (6, layer.out_features)
    np.testing.assert_allclose(ours, reference_layer(layer, x), atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), reupload=st.booleans(),
       values=st.lists(st.floats(-4, 4), min_size=6, max_size=6))
def test_parallel_layer_random_weights_and_inputs(seed, reupload, values):
    layer = ParallelQuantumLayer(2, 3, 2, reupload=reupload,
                                 seed=seed).double()
    x = np.array([values])
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(),
                               reference_layer(layer, x), atol=1e-10)


def test_parallel_layer_single_precision_and_leading_dims():
    layer = ParallelQuantumLayer(2, 3, 2, seed=1)
    x = torch.rand(2, 5, 6)
    out = layer(x)
    assert out.shape == (2, 5, 6) and out.dtype == torch.float32
    flat = reference_layer(layer, x.reshape(10, 6).double().numpy())
    np.testing.assert_allclose(out.reshape(10, 6).detach().numpy(), flat,
                               atol=2e-5)


@pytest.mark.parametrize('reupload', [False, True])
def test_parallel_layer_gradients_are_exact(reupload):
    layer = ParallelQuantumLayer(2, 3, 2, reupload=reupload, seed=2).double()
    x = torch.rand(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: torch.func.functional_call(
        layer, {'weights': w}, (x,)), (x, layer.weights.detach().clone()
                                      .requires_grad_()))


def test_parallel_layer_matches_pennylane():
    qml = pytest.importorskip('pennylane')
    n, layers = 3, 2
    ours = ParallelQuantumLayer(1, n, layers, seed=4).double()
    device = qml.device('default.qubit', wires=n)

    @qml.qnode(device, interface='torch')
    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=range(n), rotation='Y')
        qml.StronglyEntanglingLayers(weights, wires=range(n),
                                     ranges=[1] * layers)
        return [qml.expval(qml.PauliZ(q)) for q in range(n)]

    weights = ours.weights.detach()[0].clone().requires_grad_()
    x = torch.rand(n, dtype=torch.float64)
    theirs = torch.stack(list(circuit(x, weights)))
    out = ours(x)
    torch.testing.assert_close(out, theirs.to(out.dtype))
    theirs.sum().backward()
    out.sum().backward()
    torch.testing.assert_close(ours.weights.grad[0], weights.grad)


def test_parallel_layer_rejects_bad_settings():
    from qnlp.errors import ConfigError
    with pytest.raises(ConfigError, match='encoding'):
        ParallelQuantumLayer(encoding='amplitude')
    with pytest.raises(ConfigError, match='entangler'):
        ParallelQuantumLayer(entangler='star')
    with pytest.raises(ConfigError, match='20 inputs'):
        ParallelQuantumLayer()(torch.rand(2, 19))


# ---------------------------------------------------- quanvolution ------

def test_quanvolution_matches_per_patch_reference():
    quanv = Quanvolution(in_channels=2, n_layers=2, seed=5).double()
    images = torch.rand(2, 2, 6, 4, dtype=torch.float64)
    out = quanv(images).detach().numpy()
    assert out.shape == (2, 8, 3, 2)
    layer = quanv.circuits
    w = layer.weights.detach().numpy()
    for b in range(2):
        for c in range(2):
            for i in range(3):
                for j in range(2):
                    patch = images[b, c, 2 * i:2 * i + 2,
                                   2 * j:2 * j + 2].reshape(4).numpy()
                    expected = reference_circuit(
                        patch, w[c], 'ry', 'zyz', 'ring', False, math.pi,
                        'z')
                    np.testing.assert_allclose(
                        out[b, 4 * c:4 * c + 4, i, j], expected, atol=1e-10)


def test_quanvolution_weights_receive_gradient_and_move():
    torch.manual_seed(0)
    model = make_image_model('hqnn-quanv', 1, 8, n_classes=2, seed=0)
    quantum = model.patches.circuits.weights
    before = quantum.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    images = torch.rand(16, 1, 8, 8)
    labels = (images.mean((1, 2, 3)) > 0.5).long()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    assert quantum.grad is not None and quantum.grad.abs().sum() > 1e-6
    optimizer.step()
    assert (quantum.detach() - before).abs().max() > 1e-3


# ---------------------------------------------------------- models ------

def test_model_parameter_counts_are_exact():
    front = (16 * 25 + 16) + 32 + (32 * 16 * 25 + 32) + 64  # convs + BN
    reduce_ = 32 * 4 * 4 * 20 + 20
    hqnn = make_image_model('hqnn-parallel')
    assert count_parameters(hqnn) == front + reduce_ + 4 * 3 * 5 * 3 + 210
    assert quantum_parameters(hqnn) == 180
    assert count_parameters(make_image_model('cnn')) == \
        front + reduce_ + 420 + 210
    assert count_parameters(make_image_model('hqnn-quanv')) == \
        4 * 2 * 3 + 784 * 10 + 10
    assert count_parameters(make_image_model('cnn-quanv')) == \
        4 * 4 + 4 + 784 * 10 + 10


@pytest.mark.parametrize('name', MODELS)
def test_models_forward_and_backward(name):
    model = make_image_model(name, 1, 28, 10)
    out = model(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cifar_front_end():
    model = make_image_model('hqnn-parallel', 3, 32, 10, front='cifar')
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert make_image_model('hqnn-quanv', 3, 32)(
        torch.rand(2, 3, 32, 32)).shape == (2, 10)


# ------------------------------------------------------------ data ------

def make_idx_folder(folder: Path, n_train=40, n_test=20, side=16,
                    compress=True, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (('train', n_train), ('t10k', n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, (n, side, side))
        for i, label in enumerate(labels):  # a learnable pattern
            images[i, label, :] = 255
        suffix = '.gz' if compress else ''
        write_idx(folder / f'{prefix}-images-idx3-ubyte{suffix}', images,
                  compress)
        write_idx(folder / f'{prefix}-labels-idx1-ubyte{suffix}', labels,
                  compress)
    return folder


@pytest.mark.parametrize('compress', [True, False])
def test_idx_round_trip(tmp_path, compress):
    make_idx_folder(tmp_path, compress=compress)
    data = load_idx_dataset(tmp_path, 'mnist')
    assert data.train_images.shape == (40, 1, 16, 16)
    assert data.test_labels.tolist() == [i % 10 for i in range(20)]
    assert data.train_images.dtype == np.uint8
    assert len(data.fingerprint()) == 64


def test_idx_val_files_are_the_dev_split(tmp_path):
    make_idx_folder(tmp_path)
    assert load_idx_dataset(tmp_path).val_images is None
    write_idx(tmp_path / 'val-images-idx3-ubyte', np.full((3, 16, 16), 7))
    with pytest.raises(CorpusError, match='val-labels'):
        load_idx_dataset(tmp_path)
    write_idx(tmp_path / 'val-labels-idx1-ubyte', np.array([1, 2, 3]))
    data = load_idx_dataset(tmp_path)
    assert data.val_images.shape == (3, 1, 16, 16)
    assert data.val_labels.tolist() == [1, 2, 3]
    assert data.val_labels.dtype == np.int64


def test_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / 'bad'
    bad.write_bytes(b'\x00\x00\x08\x01\x00\x00\x00\x05abc')
    with pytest.raises(CorpusError, match='bad.*5 bytes'):
        read_idx(bad)
    (tmp_path / 'junk').write_bytes(b'PK\x03\x04')
    with pytest.raises(CorpusError, match='junk.*magic'):
        read_idx(tmp_path / 'junk')
    folder = make_idx_folder(tmp_path / 'm')
    write_idx(folder / 'train-labels-idx1-ubyte.gz', np.zeros(3), True)
    with pytest.raises(CorpusError, match='40 images but 3 labels'):
        load_idx_dataset(folder)
    (folder / 't10k-images-idx3-ubyte.gz').unlink()
    with pytest.raises(CorpusError, match='t10k-images'):
        load_idx_dataset(folder)


def test_medmnist_npz(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {f'{s}_images': rng.integers(0, 256, (n, 28, 28), np.uint8)
              for s, n in (('train', 10), ('val', 4), ('test', 6))}
    arrays.update({f'{s}_labels': (np.arange(n) % 2).reshape(n, 1)
                   for s, n in (('train', 10), ('val', 4), ('test', 6))})
    np.savez(tmp_path / 'pneumoniamnist.npz', **arrays)
    data = load_medmnist(tmp_path)
    assert data.train_images.shape == (10, 1, 28, 28)
    assert data.val_labels.tolist() == [0, 1, 0, 1]
    assert data.classes == ['normal', 'pneumonia']
    del arrays['test_labels']
    np.savez(tmp_path / 'broken.npz', **arrays)
    with pytest.raises(CorpusError, match='broken.npz.*test_labels'):
        load_medmnist(tmp_path / 'broken.npz')


def write_jpeg_tree(root: Path, per_class=2, classes=('airplane', 'cat')):
    from PIL import Image
    rng = np.random.default_rng(2)
    for split in ('train', 'test'):
        for label in classes:
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (32, 32, 3), np.uint8)
                Image.fromarray(pixels).save(folder / f'{i:04d}.jpg',
                                             quality=95)


def test_cifar_jpeg_tree_folder_and_archive(tmp_path, monkeypatch):
    monkeypatch.setenv('QNLP_CACHE_DIR', str(tmp_path / 'cache'))
    write_jpeg_tree(tmp_path / 'cifar10')
    data = load_cifar10(tmp_path / 'cifar10')
    assert data.train_images.shape == (4, 3, 32, 32)
    assert data.train_labels.tolist() == [0, 0, 3, 3]  # airplane, cat
    archive = tmp_path / 'cifar10-jpg.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(tmp_path / 'cifar10', arcname='cifar10-jpg')
    packed = load_cifar10(archive)
    np.testing.assert_array_equal(packed.train_images, data.train_images)
    np.testing.assert_array_equal(packed.test_labels, data.test_labels)
    assert len(list((tmp_path / 'cache' / 'decoded').glob('*.npz'))) == 1
    again = load_cifar10(archive)  # from the decoded cache
    np.testing.assert_array_equal(again.train_images, data.train_images)
    assert again.classes == data.classes
    (tmp_path / 'cifar10' / 'train' / 'unicorn').mkdir()
    (tmp_path / 'cifar10' / 'train' / 'unicorn' / 'x.jpg').write_bytes(b'1')
    with pytest.raises(CorpusError, match='unicorn'):
        load_cifar10(tmp_path / 'cifar10')


def test_cifar_python_batches_and_refused_pickles(tmp_path):
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    rng = np.random.default_rng(3)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    for i, name in enumerate(names):
        batch = {b'data': rng.integers(0, 256, (3, 3072), np.uint8),
                 b'labels': [i % 10, 1, 2], b'batch_label': b'x'}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    data = load_cifar10(tmp_path)
    assert data.train_images.shape == (15, 3, 32, 32)
    assert data.test_labels.tolist() == [5, 1, 2]

    class Evil:
        def __reduce__(self):
            return (print, ('pwned',))
    (folder / 'test_batch').write_bytes(pickle.dumps({b'data': Evil()}))
    with pytest.raises(CorpusError, match='test_batch.*refusing'):
        load_cifar10(tmp_path)


def test_locate_by_argument_environment_and_missing(tmp_path, monkeypatch):
    make_idx_folder(tmp_path / 'mnist')
    monkeypatch.setenv('QNLP_CACHE_DIR', str(tmp_path / 'cache'))
    assert load_image_dataset('mnist', tmp_path).train_images.shape[0] == 40
    assert load_image_dataset('mnist',
                              tmp_path / 'mnist').test_images.shape[0] == 20
    monkeypatch.setenv('QNLP_DATA_DIR', str(tmp_path))
    assert load_image_dataset('mnist').train_images.shape[0] == 40
    monkeypatch.delenv('QNLP_DATA_DIR')
    with pytest.raises(CorpusError, match='fashion-mnist not found'):
        load_image_dataset('fashion-mnist', tmp_path)


def test_download_table_is_complete():
    assert set(image_data.DOWNLOADS) == set(image_data.DATASETS)
    for files in image_data.DOWNLOADS.values():
        for url, name, md5 in files:
            assert url.startswith('http') and len(md5) == 32


# -------------------------------------------------------- training ------

def toy_folder(root: Path, n_train=32, n_test=16, side=16) -> Path:
    """A two-class MNIST-style folder (``root/mnist``) with a pattern."""
    rng = np.random.default_rng(0)
    folder = root / 'mnist'
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (('train', n_train), ('t10k', n_test)):
        labels = np.arange(n) % 2
        images = rng.integers(0, 50, (n, side, side))
        images[labels == 1, 2:5, 2:10] = 255
        write_idx(folder / f'{prefix}-images-idx3-ubyte', images)
        write_idx(folder / f'{prefix}-labels-idx1-ubyte', labels)
    return folder


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(run / 'weights.safetensors')


def _same_weights(a: Path, b: Path) -> None:
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


def _without_times(rows):
    return [{k: v for k, v in row.items() if 'seconds' not in k}
            for row in rows]


def test_training_learns_evaluates_and_predicts(tmp_path, capsys):
    from PIL import Image
    data = toy_folder(tmp_path / 'data')
    run = tmp_path / 'run'
    metrics = train('images', data, run, ImageSettings(
        model='hqnn-parallel', epochs=4, batch_size=8, lr=0.01),
        progress=False)
    assert metrics['test_accuracy'] >= 0.75
    assert metrics['dev_accuracy'] is None
    assert metrics['task_metrics'] == {'dataset': 'mnist',
                                       'images': [32, 0, 16],
                                       'n_quantum_parameters': 180}
    for name in ('config.json', 'run.yaml', 'metrics.json', 'curve.png',
                 'weights.safetensors', 'checkpoint.safetensors',
                 'history.jsonl'):
        assert (run / name).is_file()
    assert len((run / 'history.jsonl').read_text().splitlines()) == 4
    # new data read the run's way: the test split of another folder
    other = toy_folder(tmp_path / 'other', n_test=10)
    report = load_trained(run).evaluate(other)
    assert sum(row['support'] for row in report['per_class'].values()) == 10
    assert 0 <= report['accuracy'] <= 1
    assert main(['evaluate', str(run), str(other), '--json']) == 0
    assert json.loads(capsys.readouterr().out)['accuracy'] == \
        report['accuracy']
    # an image file, converted to the run's single channel
    image = np.zeros((16, 16, 3), np.uint8)
    image[2:5, 2:10] = 255
    Image.fromarray(image).save(tmp_path / 'one.png')
    Image.fromarray(image[:, :, 0]).save(tmp_path / 'one.jpg', quality=100)
    assert main(['predict', str(run), str(tmp_path / 'one.png'),
                 str(tmp_path / 'one.jpg'), '--json']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row['label'] for row in rows] == ['1', '1']
    assert abs(sum(rows[0]['probabilities'].values()) - 1) < 1e-5


def test_predict_refuses_bad_image_files(tmp_path, capsys):
    from PIL import Image
    run = tmp_path / 'run'
    train('images', toy_folder(tmp_path), run, ImageSettings(
        model='cnn-quanv', epochs=1, batch_size=16), progress=False)
    Image.fromarray(np.zeros((20, 16), np.uint8)).save(tmp_path / 'big.png')
    (tmp_path / 'text.png').write_text('not an image')
    for name, message in (('big.png', '16x20 pixels; the run takes 16x16'),
                          ('text.png', 'not a readable image'),
                          ('missing.png', 'not a readable image')):
        assert main(['predict', str(run), str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and message in err, err


def test_interrupted_run_resumes_bit_identical(tmp_path, monkeypatch):
    data = toy_folder(tmp_path / 'data')
    args = ['train', '--task', 'images', str(data), '--model', 'hqnn-quanv',
            '--epochs', '3', '--batch-size', '8', '--shift', '1', '--flip',
            'true', '--quiet']
    assert main([*args, '--out', str(tmp_path / 'whole')]) == 0
    assert train_interrupted([*args, '--out', str(tmp_path / 'cut')],
                             monkeypatch) == 130
    assert not (tmp_path / 'cut' / 'metrics.json').exists()
    assert main(['train', '--resume', str(tmp_path / 'cut'), '--quiet']) == 0
    _same_weights(tmp_path / 'whole', tmp_path / 'cut')
    whole, cut = (json.loads((tmp_path / name / 'metrics.json').read_text())
                  for name in ('whole', 'cut'))
    assert _without_times([whole]) == _without_times([cut])
    history = [[json.loads(line) for line in (tmp_path / name /
                                              'history.jsonl')
                .read_text().splitlines()] for name in ('whole', 'cut')]
    assert _without_times(history[0]) == _without_times(history[1])


def test_replay_from_run_yaml_and_foreign_options(tmp_path, capsys):
    data = toy_folder(tmp_path / 'data')
    first, again = tmp_path / 'first', tmp_path / 'again'
    assert main(['train', '--task', 'images', str(data), '--out', str(first),
                 '--model', 'cnn', '--epochs', '2', '--batch-size', '8',
                 '--weight-decay', '0.01', '--quiet']) == 0
    assert main(['train', '--config', str(first / 'run.yaml'), '--out',
                 str(again), '--quiet']) == 0
    _same_weights(first, again)
    config = json.loads((again / 'config.json').read_text())
    assert config['task'] == 'images' and config['shape'] == [1, 16, 16]
    assert config['settings']['weight_decay'] == 0.01
    capsys.readouterr()
    assert main(['train', '--task', 'images', str(data), '--out',
                 str(tmp_path / 'x'), '--tagger', 'spacy']) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--tagger is not an option of --task ' \
        'images' in err


def test_validation_split_is_the_dev_split(tmp_path):
    folder = tmp_path / 'pneumoniamnist'
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (('train', 24), ('val', 8), ('test', 8)):
        arrays[f'{split}_images'] = rng.integers(0, 256, (n, 12, 12),
                                                 dtype=np.uint8)
        arrays[f'{split}_labels'] = (np.arange(n) % 2).reshape(n, 1)
    np.savez(folder / 'pneumoniamnist.npz', **arrays)
    metrics = train('images', folder, tmp_path / 'run', ImageSettings(
        model='cnn-quanv', epochs=2, batch_size=8), progress=False)
    assert 0 <= metrics['dev_accuracy'] <= 1
    assert metrics['task_metrics']['images'] == [24, 8, 8]
    history = (tmp_path / 'run' / 'history.jsonl').read_text().splitlines()
    assert all('dev_accuracy' in json.loads(row) for row in history)


def test_compare_hqnn_with_cnn(tmp_path, capsys):
    data = toy_folder(tmp_path / 'data')
    out = tmp_path / 'cmp'
    assert main(['compare', '--task', 'images', str(data), '--out', str(out),
                 '--baselines', 'cnn', '--seeds', '1', '--epochs', '1',
                 '--batch-size', '16', '--quiet']) == 0
    result = json.loads((out / 'comparison.json').read_text())
    assert set(result['models']) == {'hqnn-parallel', 'cnn'}
    assert result['models']['hqnn-parallel']['parameters'] != \
        result['models']['cnn']['parameters']
    assert (out / 'comparison.png').is_file()
    assert '| cnn |' in (out / 'comparison.md').read_text()


def test_augmentation_shifts_and_flips():
    augment = ImageAugment(shift=1, flip=True)
    image = torch.arange(16.).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = augment(image, torch.Generator().manual_seed(0))
    assert out.shape == image.shape
    # every output is a shifted/flipped copy: its non-zero values are
    # a sub-block of the original rows or their mirror
    assert not torch.equal(out[0], out[1]) or not torch.equal(out[1], out[2])
    for sample in out[:, 0]:
        rows = [r for r in sample.tolist() if any(r)]
        for row in rows:
            values = [v for v in row if v]
            assert values == sorted(values) or values == sorted(values,
                                                                reverse=True)


def test_settings_are_checked_and_the_dataset_is_inferred(tmp_path):
    from qnlp.errors import ConfigError
    with pytest.raises(ConfigError, match='layers must be at most 32'):
        ImageSettings(layers=33)
    with pytest.raises(ConfigError, match='model must be one of'):
        ImageSettings(model='resnet')
    with pytest.raises(ConfigError, match='weight_decay needs'):
        ImageSettings(weight_decay=0.1, optimizer='spsa')
    assert image_data.infer_dataset(tmp_path / 'cifar10') == 'cifar10'
    folder = make_idx_folder(tmp_path / 'digits')
    assert image_data.infer_dataset(folder) == 'mnist'
    with pytest.raises(CorpusError, match='does not hold the cifar10'):
        image_data.load_image_folder(folder, 'cifar10')


# ------------------------------------------------------------- CLI ------

def test_cli_reports_missing_data_in_one_line(tmp_path, capsys):
    code = main(['train', '--task', 'images', str(tmp_path / 'cifar10'),
                 '--out', str(tmp_path / 'run')])
    err = capsys.readouterr().err
    assert code == 2 and err.count('\n') == 1 and 'cifar10' in err
