"""Noise-aware and shot-based training beyond sentences: the restaurant
VQC in the exact noisy engine (against qiskit-aer's density matrices),
shot sampling, runs with shots resuming bit-identically, and the tasks
where the options do not apply refusing them."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from qnlp.cli import main
from qnlp.models.vqc import VQCModel
from qnlp.noise import NoiseSpec
from qnlp.noise.density import Result, aer_reference
from qnlp.noise.training import NoisyVQC, sample_shots
from tests.conftest import assert_resumes_bit_identical

SPEC = NoiseSpec(p1=0.003, p2=0.03, amplitude=0.01, phase=0.006,
                 readout=0.02)


@pytest.mark.parametrize('readout', ['parity', 'z'])
def test_noisy_vqc_matches_aer_density_matrices(readout):
    pytest.importorskip('qiskit_aer')
    model = NoisyVQC(5, reps=2, feature_reps=2, entanglement='circular',
                     readout=readout, seed=1, noise=SPEC)
    x = torch.rand(3, 5, dtype=torch.float64, generator=torch.Generator(
    ).manual_seed(0)) * 3
    with torch.no_grad():
        ours = model.distributions(model.prepare(x)).probabilities
        classes = model(model.prepare(x))
    signs = model.observable.signs()
    for k in range(len(x)):
        values = {f'x{q}': float(x[k, q]) for q in range(5)}
        values.update({f'w{i}': float(w) for i, w in
                       enumerate(model.weights.detach())})
        theirs = aer_reference(model.circuit, values, SPEC).probabilities[0]
        assert (ours[k] - theirs).abs().max() < 1e-8
        p = (1 - theirs @ signs) / 2
        assert abs(classes[k, 1] - p) < 1e-8


def test_noiseless_noisy_vqc_equals_the_vqc_with_its_gradient():
    plain = VQCModel(4, reps=1, readout='z', seed=2)
    noisy = NoisyVQC(4, reps=1, readout='z', seed=2)
    x = torch.rand(6, 4, dtype=torch.float64)
    clean, ours = plain(plain.prepare(x)), noisy(noisy.prepare(x))
    assert torch.allclose(ours, clean, atol=1e-12)
    ours[:, 1].sum().backward()
    clean[:, 1].sum().backward()
    assert torch.allclose(noisy.weights.grad, plain.weights.grad, atol=1e-12)
    noisy.noise = NoiseSpec(p2=0.05)
    with torch.no_grad():
        moved = noisy(noisy.prepare(x).select([4, 1]))
    assert (moved - clean.detach()[[4, 1]]).abs().max() > 1e-3


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5),
       st.floats(0.0, 1.0), st.integers(1, 64), st.integers(0, 9))
def test_sampled_shots_are_frequencies_of_kept_shots(weights, success,
                                                     shots, seed):
    p = torch.tensor(weights, dtype=torch.float64) + 1e-3
    result = Result((p / p.sum())[None], torch.tensor([success],
                                                      dtype=torch.float64))
    found = sample_shots(result, shots, torch.Generator().manual_seed(seed))
    assert abs(found.sum().item() - 1) < 1e-12
    kept = found * shots          # counts over the shots that passed
    if success == 1.0:
        assert torch.allclose(kept, kept.round())
    if success == 0.0:
        assert torch.allclose(found, torch.full_like(found, 1 / len(p)))


def test_shots_are_drawn_in_training_only_and_advance_the_generator():
    model = NoisyVQC(3, reps=1, seed=0, shots=32)
    x = model.prepare(torch.rand(5, 3, dtype=torch.float64))
    state = model.shot_generator.clone()
    first = model(x)
    assert not (model.shot_generator == state).all()
    assert torch.allclose(first * 32, (first * 32).round())
    assert not torch.equal(first, model(x))       # new shots each pass
    model.eval()
    assert torch.allclose(model(x), NoisyVQC(3, reps=1, seed=0)(x))


def _reviews(tmp_path):
    rows = ['Review\tLiked'] + [f'{w} food {k}\t1' for k in range(3) for w in
                                ('good', 'great', 'tasty', 'nice')] + \
        [f'{w} food {k}\t0' for k in range(3) for w in
         ('bad', 'awful', 'cold', 'stale')]
    path = tmp_path / 'reviews.tsv'
    path.write_text('\n'.join(rows) + '\n')
    return path


def test_interrupted_shot_trained_vqc_resumes_bit_identical(tmp_path,
                                                            monkeypatch):
    args = ['train', str(_reviews(tmp_path)), '--task', 'sentiment',
            '--features', 'tfidf', '--components', '2', '--layers', '1',
            '--train-noise', '0.02', '--train-shots', '64', '--optimizer',
            'spsa', '--epochs', '3', '--batch-size', '8', '--quiet']
    assert_resumes_bit_identical(args, tmp_path, monkeypatch)
    weights = load_file(str(tmp_path / 'whole' / 'weights.safetensors'))
    assert 'shot_generator' in weights     # the sampler's state is saved


@pytest.mark.parametrize('options, expected', [
    (['--task', 'sentiment', '--model', 'qsvc', '--train-noise', '0.01'],
     '--train-noise needs a circuit model: --model qsvc'),
    (['--task', 'sentiment', '--train-shots', '100'],
     '--train-shots trains on sampled estimates, which have no gradient'),
    (['--task', 'proteins', '--train-noise', '0.01'],
     '--train-noise is not an option of --task proteins'),
    (['--task', 'images', '--train-shots', '10'],
     '--train-shots is not an option of --task images')])
def test_circuit_training_refused_in_one_line(tmp_path, capsys, options,
                                              expected):
    assert main(['train', str(_reviews(tmp_path)), *options, '--out',
                 str(tmp_path / 'r'), '--quiet']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('qnlp: error:') and expected in err
    assert len(err.splitlines()) == 1
