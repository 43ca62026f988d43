"""Attacks, adversarial training and the Hamiltonian-embedding models."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qnlp.cli.main import main
from qnlp.models.quantum_layers import ParallelQuantumLayer
from qnlp.robust.attacks import perturb
from tests.conftest import assert_resumes_bit_identical
from tests.test_images import toy_folder


def tiny_hybrid() -> torch.nn.Module:
    """pixels (1x4x4) -> linear -> 5-qubit circuit -> 3 logits."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(16, 5),
        ParallelQuantumLayer(n_circuits=1, n_qubits=5, n_layers=2, seed=0),
        torch.nn.Linear(5, 3)).double()


@pytest.mark.parametrize('attack,eps', [('fgsm', 0.1), ('pgd', 0.1),
                                        ('pgd-l2', 0.5)])
def test_torch_attacks_agree_with_art(attack, eps):
    """Without a random start our PGD/FGSM take ART's steps exactly."""
    from qnlp.robust.attacks import art_attack, art_classifier
    model = tiny_hybrid()
    pixels = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    ours = perturb(model, pixels, labels, attack, eps, random_start=False)
    art = art_attack(art_classifier(model, (1, 4, 4), 3), attack, eps)
    if attack != 'fgsm':
        art.set_params(num_random_init=0)
    theirs = art.generate(pixels.float().numpy(), y=labels.numpy())
    assert np.abs(ours.numpy() - theirs).max() < 1e-5
    clean = torch.nn.functional.cross_entropy(model(pixels), labels)
    moved = torch.nn.functional.cross_entropy(model(ours), labels)
    assert moved > clean


@settings(max_examples=8, deadline=None)
@given(attack=st.sampled_from(['pgd', 'pgd-l2']),
       eps=st.floats(0.01, 2.0), seed=st.integers(0, 1000))
def test_attacks_stay_in_the_ball_and_the_pixel_range(attack, eps, seed):
    model = tiny_hybrid()
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.rand(4, 1, 4, 4, generator=generator, dtype=torch.float64)
    moved = perturb(model, pixels, torch.tensor([0, 1, 2, 0]), attack, eps,
                    steps=3, generator=generator)
    delta = (moved - pixels).flatten(1)
    size = delta.abs().max(1).values if attack == 'pgd' else delta.norm(dim=1)
    assert (size <= eps + 1e-9).all()
    assert moved.min() >= 0 and moved.max() <= 1
    assert model.training   # restored after the eval-mode attack


def test_adversarial_training_and_attacks_through_the_task(tmp_path):
    data = toy_folder(tmp_path / 'data', n_train=8, n_test=4)
    out = tmp_path / 'run'
    assert main(['train', '--task', 'images', str(data), '--out', str(out),
                 '--model', 'hqnn-parallel', '--epochs', '1',
                 '--batch-size', '8', '--adversarial', 'pgd:0.1',
                 '--attack', 'fgsm:0.1', '--attack', 'square:0.1',
                 '--attack-images', '2', '--quiet']) == 0
    found = json.loads((out / 'metrics.json').read_text())['task_metrics']
    assert set(found['robust_accuracy']) == {'clean', 'fgsm:0.1',
                                             'square:0.1'}
    assert found['attack_images'] == 2
    assert all(0 <= v <= 1 for v in found['robust_accuracy'].values())


def test_interrupted_adversarial_run_resumes_bit_identical(tmp_path,
                                                          monkeypatch):
    """PGD's random starts come from the run's generator, so a run
    stopped after epoch 1 and resumed ends with the weights of an
    uninterrupted one."""
    data = toy_folder(tmp_path / 'data', n_train=8, n_test=4)
    assert_resumes_bit_identical(
        ['train', '--task', 'images', str(data), '--model', 'cnn',
         '--epochs', '2', '--batch-size', '4', '--adversarial', 'pgd:0.1',
         '--quiet'], tmp_path, monkeypatch)


def test_adversarial_batches_replace_the_clean_ones():
    """The hook sees the augmented batch and the trainer uses its
    output: a model trained on PGD images differs from a clean one."""
    from qnlp.train import Hooks, Split, TrainConfig, cross_entropy, fit
    from qnlp.robust.attacks import Adversary
    pixels = torch.rand(8, 1, 4, 4, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(0))

    class Pixels(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = tiny_hybrid()

        def prepare(self, items):
            return items

        def forward(self, x):
            return self.net(x)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    trained = []
    for adversary in (None, Adversary('pgd', 0.2, steps=2)):
        model = Pixels()
        fit(model, Split(pixels, labels), None,
            TrainConfig(epochs=2, batch_size=4, lr=0.05), progress=False,
            hooks=Hooks(loss=cross_entropy, select='last',
                        adversary=adversary))
        trained.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert not torch.allclose(trained[0], trained[1])


@pytest.mark.parametrize('option,message', [
    (['--adversarial', 'square:0.1'], "training takes fgsm, pgd, pgd-l2"),
    (['--attack', 'cw:1'], "give NAME:EPS"),
    (['--class', 'x'], "class 'x' is not one of"),
])
def test_bad_robust_options_exit_2(tmp_path, capsys, option, message):
    data = toy_folder(tmp_path / 'data', n_train=4, n_test=2)
    assert main(['train', '--task', 'images', str(data), '--out',
                 str(tmp_path / 'run'), '--epochs', '1', '--quiet',
                 *option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


@pytest.fixture
def one_thread():
    """Tiny torch work: one thread is much faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_compare_reports_robust_accuracy_for_every_model(tmp_path,
                                                         monkeypatch,
                                                         one_thread):
    """``qnlp compare --attack``: the quantum model and the baseline are
    attacked alike; a column per attack, and accuracy against epsilon
    plotted beside comparison.png (mean ± sd over seeds: summarise's
    doctest; the drawing: plot_robustness's)."""
    monkeypatch.setattr('qnlp.train.plots.plot_history',   # not checked
                        lambda history, path: None)
    monkeypatch.setattr('qnlp.tasks.compare.plot_comparison',
                        lambda *args: None)
    plotted = []
    monkeypatch.setattr('qnlp.tasks.compare.plot_robustness',
                        lambda curves, path: plotted.append((curves, path)))
    data = toy_folder(tmp_path / 'data', n_train=8, n_test=4)
    out = tmp_path / 'compare'
    assert main(['compare', '--task', 'images', str(data), '--out',
                 str(out), '--model', 'hqnn-parallel', '--baselines', 'cnn',
                 '--seeds', '1', '--epochs', '1', '--batch-size', '8',
                 '--attack', 'pgd:0.05', '--attack', 'pgd:1',
                 '--attack-images', '2', '--quiet']) == 0
    found = json.loads((out / 'comparison.json').read_text())
    for name in ('hqnn-parallel', 'cnn'):
        robust = found['models'][name]['robust_accuracy']
        assert list(robust) == ['clean', 'pgd:0.05', 'pgd:1']
        runs = [run['robust_accuracy'] for run in found['runs'][name]]
        assert len(runs) == 1 and robust['pgd:1']['std'] == 0
        assert all(0 <= run[key] <= 1 for run in runs for key in run)
        assert all(run['pgd:1'] <= run['clean'] for run in runs)
    header = (out / 'comparison.md').read_text().splitlines()[2]
    assert '| attacked inputs clean | pgd:0.05 | pgd:1 |' in header
    (curves, path), = plotted
    assert path == out / 'robustness.png'
    assert curves == {name: found['models'][name]['robust_accuracy']
                      for name in ('hqnn-parallel', 'cnn')}
