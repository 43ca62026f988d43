"""The sentiment task: train, evaluate, predict, compare, resume, replay
(offline: TF-IDF features, reviews written here)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from qnlp.cli.main import main
from qnlp.errors import CheckpointError
from qnlp.train.estimators import QuantumKernelSVC
from qnlp.tasks import load_trained
from qnlp.tasks.sentiment import SentimentSettings, fitted_kernel_model
from tests.conftest import kill_after_epoch

GOOD, BAD = ('good', 'great', 'tasty', 'lovely'), ('bad', 'awful', 'cold',
                                                   'stale')
REVIEWS = ['Review\tLiked'] + [
    f'{a} {b} food\t1' for a in GOOD for b in ('really', 'very', 'so')] + [
    f'{a} {b} food\t0' for a in BAD for b in ('really', 'very', 'so')]
TFIDF = ['--features', 'tfidf', '--quiet']


@pytest.fixture()
def reviews(tmp_path):
    path = tmp_path / 'reviews.tsv'
    path.write_text('\n'.join(REVIEWS) + '\n')
    return path


def _weights(run):
    return load_file(str(run / 'weights.safetensors'))


def _metrics(run):
    data = json.loads((run / 'metrics.json').read_text())
    return {k: v for k, v in data.items() if 'seconds' not in k}


def test_train_evaluate_predict(reviews, tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', '--task', 'sentiment', str(reviews), '--out',
                 str(run), '--components', '3', '--epochs', '40',
                 *TFIDF]) == 0
    metrics = json.loads((run / 'metrics.json').read_text())
    assert metrics['task'] == 'sentiment' and metrics['epochs_run'] == 40
    assert metrics['n_parameters'] == 18          # EfficientSU2, 3 qubits
    assert metrics['dev_accuracy'] is None        # dev_fraction 0: last
    history = [json.loads(line) for line in
               (run / 'history.jsonl').read_text().splitlines()]
    assert history[-1]['train_loss'] < history[0]['train_loss']
    new = tmp_path / 'new.tsv'       # new data, read with the run's pipeline
    new.write_text('Review\tLiked\nso good food really\t1\n'
                   'awful cold food\t0\n')
    scores = load_trained(run).evaluate(new)
    assert 0 <= scores['accuracy'] <= 1
    capsys.readouterr()
    assert main(['evaluate', str(run), str(new)]) == 0
    assert main(['predict', str(run), 'really tasty food']) == 0
    out = capsys.readouterr().out
    assert 'really tasty food' in out and '0:' in out and '1:' in out
    rows = load_trained(run).predict(['good food', 'bad food'])
    assert [set(r['probabilities']) for r in rows] == [{'0', '1'}] * 2
    # the pipeline is refitted from the training data: changed data refused
    reviews.write_text('\n'.join(REVIEWS[:-1]) + '\n')
    with pytest.raises(CheckpointError, match='training data changed'):
        load_trained(run)


def test_qsvc_run_is_the_fitted_svc(reviews, tmp_path):
    run = tmp_path / 'run'
    assert main(['train', '--task', 'sentiment', str(reviews), '--out',
                 str(run), '--model', 'qsvc', '--components', '2',
                 *TFIDF]) == 0
    metrics = json.loads((run / 'metrics.json').read_text())
    assert metrics['epochs_run'] == 0 and metrics['n_parameters'] > 0
    trained = load_trained(run)
    assert trained.predict(['so good food'])[0]['label'] in ('0', '1')
    # the model's decision is scikit-learn's
    rng = np.random.default_rng(0)
    x = rng.uniform(0, np.pi, (30, 2))
    y = (x[:, 0] > x[:, 1]).astype(int)
    settings = SentimentSettings(model='qsvc', components=2)
    model = fitted_kernel_model(settings, x, y)
    svc = QuantumKernelSVC(feature_map='angle', reps=1,
                           entanglement='linear').fit(x, y)
    found = model(model.prepare(x[:7]))
    decision = torch.logit(found[:, 1]).numpy()
    np.testing.assert_allclose(decision, svc.decision_function(x[:7]),
                               atol=1e-9)


def test_compare_one_seed_one_baseline(reviews, tmp_path, capsys):
    out = tmp_path / 'cmp'
    assert main(['compare', '--task', 'sentiment', str(reviews), '--out',
                 str(out), '--components', '2', '--epochs', '10', '--seeds',
                 '1', '--baselines', 'logistic-regression-k2', *TFIDF]) == 0
    result = json.loads((out / 'comparison.json').read_text())
    assert set(result['models']) == {'vqc', 'logistic-regression-k2'}
    assert result['models']['logistic-regression-k2']['parameters'] == 3
    assert (out / 'comparison.md').exists() and (out / 'comparison.png'
                                                 ).exists()
    assert main(['compare', '--task', 'sentiment', str(reviews), '--out',
                 str(out), '--components', '2', '--seeds', '1',
                 '--baselines', 'svm-rbf-k5', *TFIDF]) == 2
    assert 'unknown baselines' in capsys.readouterr().err


def test_bad_options_and_data(reviews, tmp_path, capsys):
    assert main(['train', '--task', 'sentiment', str(reviews), '--tagger',
                 'spacy', '--out', str(tmp_path / 'x'), *TFIDF]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and '--tagger' in err
    assert main(['train', '--task', 'sentiment', str(reviews), '--model',
                 'tree', '--out', str(tmp_path / 'x'), *TFIDF]) == 2
    assert main(['train', '--task', 'sentiment', str(reviews),
                 '--components', '21', '--out', str(tmp_path / 'x'),
                 *TFIDF]) == 2
    bad = tmp_path / 'bad.tsv'
    bad.write_text('Review\tLiked\ngood food\t1\nno label here\n')
    capsys.readouterr()
    assert main(['train', '--task', 'sentiment', str(bad), '--out',
                 str(tmp_path / 'bad'), *TFIDF]) == 2
    assert f'{bad}:3:' in capsys.readouterr().err


def test_replay_from_run_yaml(reviews, tmp_path):
    run, again = tmp_path / 'run', tmp_path / 'again'
    assert main(['train', '--task', 'sentiment', str(reviews), '--out',
                 str(run), '--components', '2', '--epochs', '8',
                 '--dev-fraction', '0.2', '--optimizer', 'aqgd',
                 *TFIDF]) == 0
    assert json.loads((run / 'metrics.json').read_text())[
        'dev_accuracy'] is not None
    assert main(['train', '--config', str(run / 'run.yaml'), '--out',
                 str(again), '--quiet']) == 0
    assert torch.equal(_weights(run)['weights'], _weights(again)['weights'])
    assert _metrics(run) == _metrics(again)


def test_kill_then_resume_is_bit_identical(tmp_path):
    rng = np.random.default_rng(0)
    words = GOOD + BAD + ('food', 'place', 'staff', 'very', 'so', 'not')
    lines = ['Review\tLiked'] + [
        ' '.join(rng.choice(words, 6)) + f'\t{i % 2}' for i in range(120)]
    data = tmp_path / 'reviews.tsv'
    data.write_text('\n'.join(lines) + '\n')
    args = ['--task', 'sentiment', str(data), '--components', '4',
            '--epochs', '12', '--batch-size', '4', '--seed', '3', *TFIDF]
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    assert main(['train', *args, '--out', str(whole)]) == 0
    interrupted_at = kill_after_epoch(['train', *args, '--out',
                                       str(killed)],
                                      killed / 'checkpoint.safetensors')
    assert not (killed / 'metrics.json').exists()
    assert 3 <= interrupted_at < 12
    assert main(['train', *args, '--resume', str(killed)]) == 0
    assert torch.equal(_weights(whole)['weights'],
                       _weights(killed)['weights'])
    assert _metrics(whole) == _metrics(killed)


@pytest.mark.parametrize('option, value', [
    ('--epochs', '7'), ('--lr', '0.5'), ('--weight-decay', '0.1'),
    ('--average-weights', '0.9'), ('--optimizer', 'sgd')])
def test_loop_options_of_a_kernel_run_are_refused_not_ignored(
        reviews, tmp_path, capsys, option, value):
    """--model qsvc has no training loop: a loop option it would ignore
    is one line and exit 2 (the run used to train as if it were not
    given), and nothing is written."""
    run = tmp_path / 'run'
    assert main(['train', '--task', 'sentiment', str(reviews), '--out',
                 str(run), '--model', 'qsvc', '--components', '2',
                 option, value, *TFIDF]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert option[2:].replace('-', '_') in error and 'qsvc' in error
    assert not run.exists()
    with pytest.raises(Exception, match='without a training loop'):
        SentimentSettings(model='qsvc', epochs=7)
    SentimentSettings(model='vqc', epochs=7)   # the VQC trains in it
