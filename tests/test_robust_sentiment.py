"""Attacks on the sentiment task's VQC, QSVC and baselines through the
feature pipeline (:mod:`qnlp.robust.features`)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from qnlp.cli.main import main
from qnlp.models.vqc import VQCModel
from qnlp.robust.attacks import perturb, robust_accuracy
from qnlp.robust.features import FeatureLogits
from qnlp.tasks.sentiment import SentimentSettings, fitted_kernel_model

FEATURES = np.random.default_rng(0).normal(0, 2, (12, 3))
LABELS = np.array([0, 1] * 6)


def scaler() -> MinMaxScaler:
    return MinMaxScaler((0, np.pi), clip=True).fit(FEATURES)


def qsvc() -> torch.nn.Module:
    return fitted_kernel_model(SentimentSettings(components=3),
                               scaler().transform(FEATURES), LABELS)


def heads() -> dict[str, object]:
    angles = scaler().transform(FEATURES)
    return {'vqc': VQCModel(3, reps=1, seed=0), 'qsvc': qsvc(),
            'logistic': LogisticRegression().fit(angles, LABELS),
            'svm-rbf': SVC(kernel='rbf').fit(angles, LABELS)}


HEADS = heads()


@settings(max_examples=6, deadline=None)
@given(name=st.sampled_from(['vqc', 'qsvc']),
       where=st.lists(st.floats(0.05, 0.95), min_size=3, max_size=3),
       column=st.integers(0, 2))
def test_attack_gradient_equals_finite_differences(name, where, column):
    """The gradient the attacks follow (exact, through the engine's
    states) is the central difference of the logits in the features
    (inside the scaler's box, where the angles are not clipped)."""
    module = FeatureLogits(scaler(), HEADS[name])
    x = (module.lower + torch.tensor([where], dtype=torch.float64)
         * (module.upper - module.lower)).requires_grad_(True)
    grad, = torch.autograd.grad(module(x)[0, 1], x)
    h = 1e-6
    step = torch.zeros_like(x)
    step[0, column] = h
    with torch.no_grad():
        numeric = (module(x + step)[0, 1] - module(x - step)[0, 1]) / (2 * h)
    assert abs(grad[0, column].item() - numeric.item()) < 1e-5


def test_attacked_trainable_kernel_uses_its_weights():
    """A QSVC whose kernel has trained weights (the API's trainable
    feature map): the attacked map encodes with those weights, so its
    probabilities are the model's own; with the weights left out they
    would differ."""
    from qnlp.models.kernel import QuantumKernel
    head = qsvc()
    head.kernel = QuantumKernel('zz', 3, 1, 'linear', trainable=True)
    head.kernel.weights = torch.linspace(-1.0, 1.0, len(
        head.kernel.weights), dtype=torch.float64)
    angles = scaler().transform(FEATURES)
    expected = head(head.prepare(angles)).detach().numpy()
    found = FeatureLogits(scaler(), head)(torch.from_numpy(FEATURES)).exp()
    assert np.allclose(found.detach().numpy(), expected, atol=1e-9)
    head.kernel.weights = torch.zeros_like(head.kernel.weights)
    assert not np.allclose(head(head.prepare(angles)).detach().numpy(),
                           expected, atol=1e-6)


@pytest.mark.parametrize('name', list(HEADS))
def test_feature_logits_are_the_models_own_probabilities(name):
    """Scaler + head in torch gives what the fitted model gives."""
    head = HEADS[name]
    angles = scaler().transform(FEATURES)
    if name in ('vqc', 'qsvc'):
        expected = head(head.prepare(angles)).detach().numpy()
    elif name == 'svm-rbf':
        d = head.decision_function(angles)
        expected = np.stack([1 / (1 + np.exp(d)), 1 / (1 + np.exp(-d))], 1)
    else:
        expected = head.predict_proba(angles)
    found = FeatureLogits(scaler(), head)(torch.from_numpy(FEATURES)).exp()
    assert np.allclose(found.detach().numpy(), expected, atol=1e-9)


@pytest.mark.parametrize('name', ['vqc', 'qsvc', 'logistic'])
def test_robust_accuracy_is_at_most_clean_and_tiny_eps_is_clean(name):
    module = FeatureLogits(scaler(), HEADS[name])
    x, y = torch.from_numpy(FEATURES), torch.from_numpy(LABELS)
    found = robust_accuracy(module, x, y, [('pgd', 1e-9), ('pgd', 0.5),
                                           ('pgd', 3.0), ('fgsm', 3.0)],
                            bounds=(module.lower, module.upper))
    assert found['pgd:1e-09'] == found['clean']
    assert found['pgd:3'] <= found['pgd:0.5'] <= found['clean']
    assert found['fgsm:3'] <= found['clean']
    moved = perturb(module, x, y, 'pgd', 0.0, random_start=False,
                    bounds=(module.lower, module.upper))
    assert torch.equal(moved, x)


def test_black_box_attack_breaks_only_within_eps():
    """HopSkipJump: its accuracy falls as epsilon grows, never above
    clean (one search for every epsilon)."""
    module = FeatureLogits(scaler(), HEADS['logistic'])
    found = robust_accuracy(module, torch.from_numpy(FEATURES[:4]),
                            torch.from_numpy(LABELS[:4]),
                            [('hsj', 0.01), ('hsj', 100.0)],
                            bounds=(module.lower, module.upper))
    assert found['hsj:100'] <= found['hsj:0.01'] <= found['clean']
    assert found['hsj:100'] == 0


def reviews(tmp_path):
    words = ('good', 'great', 'tasty', 'lovely', 'nice', 'fine', 'fresh')
    rows = ['Review\tLiked'] + [f'{w} food\t1' for w in words] + \
        [f'{w} food\t0' for w in ('bad', 'awful', 'cold', 'stale', 'gross',
                                  'sad', 'dry')]
    path = tmp_path / 'reviews.tsv'
    path.write_text('\n'.join(rows) + '\n')
    return path


def test_compare_attacks_the_vqc_and_the_baseline_alike(tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr('qnlp.train.plots.plot_history',
                        lambda history, path: None)
    monkeypatch.setattr('qnlp.tasks.compare.plot_comparison',
                        lambda *args: None)
    plotted = []
    monkeypatch.setattr('qnlp.tasks.compare.plot_robustness',
                        lambda curves, path: plotted.append(curves))
    out = tmp_path / 'compare'
    assert main(['compare', '--task', 'sentiment', str(reviews(tmp_path)),
                 '--features', 'tfidf', '--components', '2', '--epochs', '3',
                 '--out', str(out), '--seeds', '1', '--baselines',
                 'logistic-regression-k2', '--attack', 'pgd:0.5',
                 '--attack', 'pgd-l2:1', '--quiet']) == 0
    found = json.loads((out / 'comparison.json').read_text())
    for name in ('vqc', 'logistic-regression-k2'):
        robust, = [run['robust_accuracy'] for run in found['runs'][name]]
        assert set(robust) == {'clean', 'pgd:0.5', 'pgd-l2:1'}
        assert max(robust.values()) == robust['clean']
    metrics = json.loads((out / 'runs' / 'vqc-seed0' / 'metrics.json')
                         .read_text())
    assert metrics['test_accuracy'] == metrics['task_metrics'][
        'robust_accuracy']['clean']
    assert set(plotted[0]) == {'vqc', 'logistic-regression-k2'}


@pytest.mark.parametrize('option,message', [
    (['--attack', 'square:0.1'], "the black-box attack on review features "
                                 "is hsj"),
    (['--attack', 'pgd:0.1', '--train-shots', '10'], "--attack and "
                                                     "--adversarial take"),
    (['--adversarial', 'hsj:0.1'], "training takes fgsm, pgd, pgd-l2"),
    (['--adversarial', 'pgd:0.1', '--model', 'qsvc'], "--model vqc"),
])
def test_bad_sentiment_attacks_exit_2(tmp_path, capsys, option, message):
    assert main(['train', '--task', 'sentiment', str(reviews(tmp_path)),
                 '--features', 'tfidf', '--components', '2', '--out',
                 str(tmp_path / 'run'), '--epochs', '1', '--quiet',
                 *option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_adversarial_vqc_resumes_bit_identical_and_trains_on_moved_angles(
        tmp_path, monkeypatch):
    """``--adversarial pgd:EPS``: every minibatch's reduced features are
    attacked (random starts from the run's generator, so a stopped and
    resumed run ends with the same weights), and the weights differ from
    a normally trained VQC's."""
    from qnlp.train.run import RunDirectory
    from tests.conftest import assert_resumes_bit_identical
    args = ['train', '--task', 'sentiment', str(reviews(tmp_path)),
            '--features', 'tfidf', '--components', '2', '--epochs', '2',
            '--batch-size', '4', '--quiet']
    metrics = assert_resumes_bit_identical(
        [*args, '--adversarial', 'pgd:0.5', '--attack', 'pgd:0.5'],
        tmp_path, monkeypatch)
    assert 'pgd:0.5' in metrics['task_metrics']['robust_accuracy']
    assert main([*args, '--out', str(tmp_path / 'plain')]) == 0
    plain, moved = (RunDirectory(tmp_path / name).read_weights()['weights']
                    for name in ('plain', 'whole'))
    assert not torch.equal(plain, moved)


def test_feature_adversary_stays_in_the_angle_range():
    from qnlp.robust.features import AngleInputVQC, FeatureAdversary
    fitted = scaler()
    angles = torch.from_numpy(fitted.transform(FEATURES))
    moved = FeatureAdversary('pgd', 1.0, fitted)(
        AngleInputVQC(3, reps=1), angles, torch.from_numpy(LABELS),
        torch.Generator().manual_seed(0))
    assert moved.min() >= 0 and moved.max() <= np.pi
    step = (moved - angles) / torch.from_numpy(fitted.scale_)
    assert step.abs().max() <= 1.0 + 1e-9 and not torch.equal(moved, angles)
