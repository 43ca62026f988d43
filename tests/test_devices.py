"""Devices and dtypes: every model in float32 and float64, on CPU and CUDA.

Without a GPU the CUDA cases are skipped (with the reason "no CUDA device
on this machine"), never faked: a user with a GPU runs them for real. The
float32 cases compare against the float64 reference; the device cases
compare a model on the device with the same model on the CPU.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qnlp.cli import main
from qnlp.engine import Engine
from qnlp.engine.device import (complex_dtype, module_device,
                                resolve_device, resolve_dtype)
from qnlp.errors import DeviceError, QnlpError
from qnlp.models import (DisCoCatClassifier, ParallelQuantumLayer,
                         QuantumKernel, Quanvolution, SentencePipeline,
                         SequenceClassifier, VariationalCircuit,
                         make_image_model)
from tests.conftest import BUNDLED

HAS_CUDA = torch.cuda.is_available()
NO_CUDA = 'no CUDA device on this machine'
DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(
    not HAS_CUDA, reason=NO_CUDA))]


def _texts(count: int) -> list[str]:
    lines = (BUNDLED / 'train.txt').read_text().splitlines()[:count]
    return [line.split(None, 1)[1] for line in lines]


def _circuits(ansatz: str, count: int = 24) -> list:
    pipeline = SentencePipeline(ansatz=ansatz)
    texts = _texts(count)
    pipeline.fit_vocabulary(texts, min_count=1)
    return pipeline.circuits(texts)


_CIRCUITS: dict[str, list] = {}


def circuits(ansatz: str) -> list:
    if ansatz not in _CIRCUITS:
        _CIRCUITS[ansatz] = _circuits(ansatz)
    return _CIRCUITS[ansatz]


def _tokens() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 5, (6, 37), generator=generator)
    tokens[2, 20:] = -1     # padding
    tokens[4, 1:] = -1      # a single token
    return tokens


# Each case: name -> build(dtype, device) returning (module, run) where
# run(module) gives the output for fixed inputs made on the CPU.
def _discocat(ansatz):
    def build(dtype, device):
        found = {s.name: s for c in circuits(ansatz) for s in c.free_symbols}
        # Symbol objects (tensor boxes carry their sizes)
        model = DisCoCatClassifier([found[n] for n in sorted(found)], 2,
                                   seed=0, dtype=dtype, device=device)
        batch = model.prepare(circuits(ansatz))
        return model, lambda m: m(batch)
    return build


def _sequence(**options):
    def build(dtype, device):
        model = SequenceClassifier(list('ACDEF'), seed=0, dtype=dtype,
                                   device=device, **options)
        tokens = _tokens()
        return model, lambda m: m(tokens)
    return build


def _layer(**options):
    def build(dtype, device):
        layer = ParallelQuantumLayer(n_circuits=2, n_qubits=3, n_layers=2,
                                     seed=0, **options).to(device, dtype)
        x = torch.rand(5, 6, generator=torch.Generator().manual_seed(2),
                       dtype=torch.float64)
        return layer, lambda m: m(x.to(device, dtype))
    return build


def _quanvolution(dtype, device):
    layer = Quanvolution(seed=0).to(device, dtype)
    images = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(3),
                        dtype=torch.float64)
    return layer, lambda m: m(images.to(device, dtype))


def _hqnn(dtype, device):
    model = make_image_model('hqnn-parallel', 1, 16, 3, seed=0).to(
        device, dtype).eval()
    images = torch.rand(3, 1, 16, 16, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(4))
    return model, lambda m: m(images.to(device, dtype))


def _vqc(feature_map, batch):
    def build(dtype, device):
        module = VariationalCircuit(3, feature_map=feature_map, reps=2,
                                    seed=0, dtype=dtype, device=device)
        x = torch.rand(batch, 3, generator=torch.Generator().manual_seed(5),
                       dtype=torch.float64) * math.pi
        return module, lambda m: m(m.encode(x))
    return build


CASES = {
    'discocat-iqp': _discocat('iqp'),
    'discocat-sim14': _discocat('sim14'),
    'discocat-tensor': _discocat('tensor'),
    'chain': _sequence(mode='chain', block=8, sharing='hierarchical',
                       max_length=64),
    'chain-2-qubits': _sequence(mode='chain', qubits=2, layers=1),
    'tree': _sequence(mode='tree', sharing='hierarchical', max_length=64),
    'tree-windows': _sequence(mode='tree', window=8, stride=4),
    'parallel-layer': _layer(),
    'parallel-layer-reupload': _layer(reupload=True, readout='probs'),
    'quanvolution': _quanvolution,
    'hqnn-parallel': _hqnn,
    'vqc-angle': _vqc('angle', 4),       # gates on the states
    'vqc-zz': _vqc('zz', 12),            # the ansatz as one matrix
}


def output_and_gradients(build, dtype, device):
    """Output and the gradient of a fixed weighted sum of it, float64 CPU."""
    module, run = build(dtype, device)
    out = run(module)
    weights = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).to(
        out.device, out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    grads = [p.grad.detach().cpu().double() for p in module.parameters()
             if p.grad is not None]
    assert grads, "the case must have trainable parameters"
    return module, out.detach().cpu().double(), grads


@pytest.mark.parametrize('name', list(CASES))
def test_float32_matches_float64(name):
    build = CASES[name]
    ref_model, ref, ref_grads = output_and_gradients(build, torch.float64,
                                                     'cpu')
    model, out, grads = output_and_gradients(build, torch.float32, 'cpu')
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.dtype == torch.float64 for p in ref_model.parameters())
    np.testing.assert_allclose(out, ref, atol=1e-4)
    for grad, expected in zip(grads, ref_grads):
        scale = max(1.0, float(expected.abs().max()))
        np.testing.assert_allclose(grad, expected, atol=1e-4 * scale)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', list(CASES))
def test_device_matches_cpu(name, device):
    build = CASES[name]
    _, ref, ref_grads = output_and_gradients(build, torch.float64, 'cpu')
    model, out, grads = output_and_gradients(build, torch.float64, device)
    assert module_device(model).type == device
    np.testing.assert_allclose(out, ref, atol=1e-9)
    for grad, expected in zip(grads, ref_grads):
        np.testing.assert_allclose(grad, expected, atol=1e-8)


@pytest.mark.parametrize('device', DEVICES)
def test_quantum_kernel_on_device(device):
    x = np.random.default_rng(0).uniform(0, math.pi, (7, 3))
    reference = QuantumKernel('zz', 3, reps=2).evaluate(x)
    on_device = QuantumKernel('zz', 3, reps=2, device=device).evaluate(x)
    single = QuantumKernel('zz', 3, reps=2, dtype=torch.float32,
                           device=device).evaluate(x)
    np.testing.assert_allclose(on_device, reference, atol=1e-10)
    np.testing.assert_allclose(single, reference, atol=1e-4)
    assert single.dtype == np.float64


def test_discocat_to_moves_plans_and_keeps_exact_constants():
    circuits_ = circuits('iqp')
    model = DisCoCatClassifier.from_circuits(circuits_, 2, seed=0)
    batch = model.prepare(circuits_)
    reference = model(batch).detach()
    start = model.weights.detach().clone()
    model.to(torch.float32)
    assert model.engine.dtype == torch.float32
    plans = list(model.engine._plans.values())
    assert plans and all(p.dtype == torch.complex64 for p in plans)
    single = model(batch).detach()
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.double(), reference, atol=1e-4)
    # Back to float64 with the original weights: bit for bit the same,
    # because plans are rebuilt from their exact sources, not upcast.
    model.double()
    with torch.no_grad():
        model.weights.copy_(start)
    assert all(p.dtype == torch.complex128 for p in plans)
    assert torch.equal(model(batch).detach(), reference)


def test_prepared_batch_follows_the_weights():
    circuits_ = circuits('iqp')
    model = DisCoCatClassifier.from_circuits(circuits_, 2, seed=0)
    batch = model.prepare(circuits_)
    assert batch.order.device == model.weights.device
    assert batch.to('cpu') is batch
    moved = model.to('cpu')
    assert moved is model and torch.equal(model(batch), model(circuits_))


def test_new_symbols_and_plans_follow_dtype():
    circuits_ = circuits('iqp')
    model = DisCoCatClassifier.from_circuits(circuits_[:4], 2, seed=0,
                                             dtype=torch.float32)
    model.extend_symbols(circuits_, fill=0.0)
    assert model.weights.dtype == torch.float32
    out = model(circuits_)    # compiles new shapes in float32
    assert out.dtype == torch.float32
    assert all(p.real_dtype == torch.float32
               for p in model.engine._plans.values())


def test_same_seed_same_initial_weights_in_every_dtype():
    a = SequenceClassifier(list('AC'), seed=3, dtype=torch.float32)
    b = SequenceClassifier(list('AC'), seed=3)
    assert torch.equal(a.token_angles.double(),
                       b.token_angles.float().double())
    c = DisCoCatClassifier(['x', 'y'], seed=3, dtype=torch.float32)
    d = DisCoCatClassifier(['x', 'y'], seed=3)
    assert torch.equal(c.weights, d.weights.float())


def test_engine_takes_device_and_dtype():
    from lambeq.backend.quantum import Ket, Rx
    from lambeq.backend.symbol import Symbol
    diagrams = [Ket(0) >> Rx(Symbol(n)) for n in 'ab']
    engine = Engine.from_diagrams(diagrams, dtype=torch.float32,
                                  device='cpu')
    out = engine(torch.tensor([0.0, 0.5]), diagrams)
    assert out.dtype == torch.float32 and out.device.type == 'cpu'
    np.testing.assert_allclose(out, [[1, 0], [0, 1]], atol=1e-6)


def test_resolve_names():
    assert resolve_device(None) == torch.device('cpu')
    assert resolve_dtype('float32') == torch.float32
    assert complex_dtype(torch.float32) == torch.complex64
    for bad in ('gpu', 'float16'):
        with pytest.raises(DeviceError):
            (resolve_device if bad == 'gpu' else resolve_dtype)(bad)
    assert issubclass(DeviceError, QnlpError)


@pytest.mark.skipif(HAS_CUDA, reason='a CUDA device is present')
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(DeviceError, match='no CUDA device'):
        resolve_device('cuda')
    with pytest.raises(DeviceError, match='no CUDA device'):
        SequenceClassifier(list('AC'), device='cuda')
    code = main(['train', str(BUNDLED), '--out', str(tmp_path / 'run'),
                 '--epochs', '1', '--device', 'cuda', '--quiet'])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count('\n') == 1 and 'no CUDA device' in err
    assert not (tmp_path / 'run' / 'checkpoint.safetensors').exists()


@pytest.mark.parametrize('device', DEVICES)
def test_text_run_is_device_independent(tmp_path, device):
    """Train on ``device`` in float32; the files hold CPU tensors; the run
    loads on the CPU and gives the device's predictions."""
    from safetensors.torch import load_file

    from qnlp.tasks import train
    from qnlp.tasks.sentences import SentenceSettings, load_sentence_run
    out = tmp_path / 'run'
    train('sentences', BUNDLED, out, SentenceSettings(epochs=2,
                                                     dtype='float32'),
          progress=False, device=device)
    weights = load_file(str(out / 'weights.safetensors'))['weights']
    assert weights.dtype == torch.float32 and weights.device.type == 'cpu'
    texts = _texts(5)
    on_device = load_sentence_run(out, device).predict_proba(texts)
    on_cpu = load_sentence_run(out).predict_proba(texts)
    assert on_device.device.type == device
    assert on_cpu.dtype == torch.float32
    np.testing.assert_allclose(on_device.cpu(), on_cpu, atol=1e-6)


@pytest.mark.parametrize('device', DEVICES)
def test_protein_and_image_runs_take_device_and_dtype(tmp_path, device):
    from qnlp.data.images import write_idx
    from qnlp.tasks import load_trained, train
    from qnlp.tasks.images import ImageSettings
    from qnlp.tasks.proteins import ProteinSettings
    metrics = train(
        'proteins', 'corpora/proteins', tmp_path / 'p', ProteinSettings(
            epochs=1, max_length=48, dtype='float32', model='chain'),
        progress=False, device=device)
    assert 0 <= metrics['test_accuracy'] <= 1
    rng = np.random.default_rng(0)
    folder = tmp_path / 'mnist'
    folder.mkdir()
    for prefix, n in (('train', 16), ('t10k', 4)):
        write_idx(folder / f'{prefix}-images-idx3-ubyte',
                  rng.integers(0, 256, (n, 12, 12), dtype=np.uint8))
        write_idx(folder / f'{prefix}-labels-idx1-ubyte', np.arange(n) % 2)
    metrics = train(
        'images', folder, tmp_path / 'i', ImageSettings(
            model='hqnn-quanv', epochs=1, batch_size=8, dtype='float64'),
        progress=False, device=device)
    assert 0 <= metrics['test_accuracy'] <= 1
    on_device = load_trained(tmp_path / 'i', device)
    assert on_device.model.mean.dtype == torch.float64
    on_cpu = load_trained(tmp_path / 'i').evaluate(folder)
    assert on_device.evaluate(folder)['accuracy'] == on_cpu['accuracy']


def test_cli_dtype_float32_end_to_end(tmp_path, capsys):
    import json
    out = tmp_path / 'run'
    assert main(['train', str(BUNDLED), '--out', str(out), '--epochs', '2',
                 '--dtype', 'float32', '--device', 'cpu', '--quiet']) == 0
    config = json.loads((out / 'config.json').read_text())
    assert config['settings']['dtype'] == 'float32'
    assert main(['predict', str(out), 'chef roasts fresh soup',
                 '--device', 'cpu', '--json']) == 0
    rows = json.loads(capsys.readouterr().out.split('run written to')[-1]
                      .split('\n', 1)[1])
    assert abs(sum(rows[0]['probabilities'].values()) - 1) < 1e-5


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('optimizer', ['adam', 'spsa', 'cobyla'])
def test_fit_on_device_matches_cpu(device, optimizer):
    """The training loop (labels, optimisers) runs where the model is."""
    from qnlp.train.trainer import Split, TrainConfig, fit
    circuits_ = circuits('iqp')[:12]
    labels = torch.tensor([i % 2 for i in range(12)])
    config = TrainConfig(epochs=3, lr=0.1, optimizer=optimizer,
                         batch_size=4 if optimizer != 'cobyla' else 0,
                         evaluations=5)
    runs = []
    for where in ('cpu', device):
        model = DisCoCatClassifier.from_circuits(circuits_, 2, seed=0,
                                                 device=where)
        history = fit(model, Split(circuits_, labels),
                      Split(circuits_, labels), config, progress=False)
        runs.append((model.weights.detach().cpu(),
                     [row['train_loss'] for row in history]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], atol=1e-8)
    np.testing.assert_allclose(runs[1][1], runs[0][1], atol=1e-8)
