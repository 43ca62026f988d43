"""Noise-aware training (--train-noise): the noisy classifier, its runs
resuming bit-identically, and bad input."""
import pytest
import torch
from lambeq.backend.quantum import CX, Bra, Id, Ket, Rx, Ry, qubit
from lambeq.backend.symbol import Symbol
from safetensors.torch import load_file

from qnlp.cli import main
from qnlp.models import DisCoCatClassifier
from qnlp.noise import NoiseSpec
from qnlp.noise.training import SHOT_SEED, NoisyClassifier, sample_shots
from tests.conftest import BUNDLED, train_interrupted


def _circuits():
    a, b, c = Symbol('a'), Symbol('b'), Symbol('c')
    return [Ket(0, 0) >> Rx(x) @ Ry(y) >> CX >> Id(qubit) @ Bra(0)
            for x, y in ((a, b), (b, c), (c, a))]


def test_noiseless_noisy_classifier_equals_the_engine_and_noise_moves_it():
    circuits = _circuits()
    plain = DisCoCatClassifier.from_circuits(circuits, seed=3)
    noisy = NoisyClassifier.from_circuits(circuits, seed=3)
    clean = plain(plain.prepare(circuits))
    ours = noisy(noisy.prepare(circuits))
    assert torch.allclose(ours, clean, atol=1e-10)
    ours[:, 0].sum().backward()
    clean[:, 0].sum().backward()
    assert torch.allclose(noisy.weights.grad, plain.weights.grad, atol=1e-10)
    noisy.noise = NoiseSpec(p2=0.2)
    damped = noisy(noisy.prepare(circuits).select([2, 0]))
    assert (damped - clean.detach()[[2, 0]]).abs().max() > 1e-3


def test_zero_probability_reads_as_uniform_classes_as_in_the_engine():
    """A post-selection of probability zero gave the noisy classifier
    class probabilities [0, 0] (a confident class 0) where the exact
    engine gives the uniform distribution with a warning."""
    a = Symbol('a')
    circuits = [Ket(0, 0) >> Rx(a) @ Id(qubit) >> Id(qubit) @ Bra(1)]
    plain = DisCoCatClassifier.from_circuits(circuits, seed=3)
    noisy = NoisyClassifier.from_circuits(circuits, seed=3)
    for model in (plain, noisy):
        with pytest.warns(RuntimeWarning, match='probability zero'):
            found = model(model.prepare(circuits))
        assert found.tolist() == [[0.5, 0.5]]


def test_interrupted_noise_aware_run_resumes_bit_identical(tmp_path,
                                                           monkeypatch):
    data = tmp_path / 'data'     # a few sentences: each takes ~0.1 s to
    data.mkdir()                 # convert through pytket
    for name, count in (('train', 8), ('dev', 3), ('test', 3)):
        lines = (BUNDLED / f'{name}.txt').read_text().splitlines()
        (data / f'{name}.txt').write_text('\n'.join(lines[:count]) + '\n')
    args = ['train', str(data), '--train-noise', 'p2=0.02,readout=0.01',
            '--epochs', '3', '--batch-size', '4', '--quiet']
    assert main([*args, '--out', str(tmp_path / 'whole')]) == 0
    assert train_interrupted([*args, '--out', str(tmp_path / 'cut')],
                             monkeypatch) == 130
    assert main(['train', '--resume', str(tmp_path / 'cut'), '--quiet']) == 0
    first, second = (load_file(str(tmp_path / name / 'weights.safetensors'))
                     for name in ('whole', 'cut'))
    assert all((first[k] == second[k]).all() for k in first)


def test_bad_train_noise_is_one_line(tmp_path, capsys):
    assert main(['train', str(BUNDLED), '--train-noise', 'p3=1', '--out',
                 str(tmp_path / 'r'), '--quiet']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('qnlp: error:') and '--train-noise' in err
    assert "unknown channel 'p3'" in err and len(err.splitlines()) == 1


def test_shot_trained_classifier_sees_kept_shot_frequencies_in_training():
    circuits = _circuits()
    model = NoisyClassifier.from_circuits(circuits, seed=3, shots=40,
                                          shot_seed=1)
    prepared = model.prepare(circuits)
    sampled = model(prepared)
    exact = prepared.batch.run(model.flat_weights().detach())
    drawn = sample_shots(exact, 40, torch.Generator().manual_seed(
        1 ^ SHOT_SEED))
    assert torch.equal(sampled, drawn) and not torch.allclose(
        sampled, exact.probabilities)
    assert torch.allclose(sampled.sum(1), torch.ones(3, dtype=sampled.dtype))
    model.eval()
    assert torch.allclose(model(prepared), exact.probabilities)
