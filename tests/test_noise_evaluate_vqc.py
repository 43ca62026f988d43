"""``qnlp evaluate VQC_RUN REVIEWS --noise P [--mitigate ...]``: the
sentiment VQC in the exact noisy evaluation, as sentence runs are."""
from functools import partial

import numpy as np
import pytest
import torch

import qnlp.noise.evaluate as noisy_evaluate
from qnlp.cli import main
from qnlp.noise import NoiseSpec, parse_noise
from qnlp.noise.evaluate import VQCCircuits, circuit_model, evaluate_noisy
from qnlp.noise.training import NoisyVQC
from qnlp.tasks.runner import load_trained
from tests.test_noise_training_vqc import _reviews


@pytest.fixture(scope='module')
def vqc_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp('vqc')
    reviews = _reviews(folder)
    assert main(['train', str(reviews), '--task', 'sentiment', '--features',
                 'tfidf', '--components', '2', '--layers', '1', '--epochs',
                 '2', '--batch-size', '8', '--out', str(folder / 'run'),
                 '--quiet']) == 0
    return folder / 'run', reviews


def test_vqc_run_under_noise_equals_its_noisy_model(vqc_run):
    run, reviews = vqc_run
    result = evaluate_noisy(run, reviews, '0.05', mitigate='zne')
    trained = load_trained(run)
    items, _ = trained.labelled(reviews)
    # the run's weights in the noisy VQC that --train-noise trains
    model = NoisyVQC(2, reps=1, seed=0, noise=parse_noise('0.05'))
    model.load_state_dict({k: v for k, v in trained.model.state_dict()
                           .items() if k != 'shot_generator'}, strict=False)
    features = trained.task.inputs(items, trained.settings, trained.config,
                                   trained.model)
    with torch.no_grad():
        expected = model(model.prepare(features)).numpy()
        clean = trained.model(trained.model.prepare(features)).numpy()
    rows = result['examples']
    assert len(rows) == len(items) == 24
    assert np.allclose([r['noisy'] for r in rows], expected, atol=1e-10)
    assert np.allclose([r['noiseless'] for r in rows], clean, atol=1e-10)
    assert not np.allclose(expected, clean, atol=1e-3)
    s = result['summary']
    assert s['mae_mitigated'] < 0.5 * s['mae_noisy']
    # the benchmark's adapter on the same features gives the same values
    bench = VQCCircuits(trained, features)
    assert np.allclose(bench.run(parse_noise('0.05')), expected, atol=1e-12)


def test_zne_nn_learns_on_the_runs_training_split(vqc_run, monkeypatch):
    run, reviews = vqc_run
    trained = load_trained(run)
    split = trained.task.load(trained.config['data'], trained.settings)
    seen = []
    learn = noisy_evaluate.neural_extrapolator
    monkeypatch.setattr(noisy_evaluate, 'neural_extrapolator',
                        lambda train, *a, **k: seen.append(train)
                        or learn(train, *a, **k))
    monkeypatch.setattr(noisy_evaluate, 'NeuralExtrapolator', partial(
        noisy_evaluate.NeuralExtrapolator, steps=100))     # fast
    result = evaluate_noisy(run, reviews, NoiseSpec(p2=0.05),
                            mitigate='zne-nn')
    [train] = seen
    assert torch.equal(train.prepared.features, split.train.circuits)
    assert len(split.train.labels) < result['summary']['examples']
    assert result['summary']['mae_mitigated'] < \
        result['summary']['mae_noisy']


def test_cli_prints_the_vqc_report(vqc_run, capsys):
    run, reviews = vqc_run
    assert main(['evaluate', str(run), str(reviews), '--noise', '0.05',
                 '--mitigate', 'zne', '--extrapolator', 'linear']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'noise p1=0.005,p2=0.05: 24 examples (exact density ' \
        'matrices)'
    assert out[3].startswith('mitigated  accuracy') and 'zne linear' in out[3]


def test_kernel_runs_are_refused_in_one_line(tmp_path, capsys):
    reviews = _reviews(tmp_path)
    assert main(['train', str(reviews), '--task', 'sentiment', '--model',
                 'qsvc', '--features', 'tfidf', '--components', '2',
                 '--out', str(tmp_path / 'k'), '--quiet']) == 0
    assert main(['evaluate', str(tmp_path / 'k'), str(reviews), '--noise',
                 '0.01']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"qnlp: error: {tmp_path / 'k'}: the sentiment "
                          "task's KernelModel model is not a circuit model")
    with pytest.raises(Exception, match='not a circuit model'):
        circuit_model(load_trained(tmp_path / 'k'))
