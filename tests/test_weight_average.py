"""Weight averaging (``--average-weights``,
``TrainConfig(average_weights=...)``): the averages follow their closed
form, dev selection and the kept model use them, a resumed run ends
bit-identical, bad values are one line, every task takes it."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnlp.cli import main
from qnlp.errors import ConfigError
from qnlp.train import Split, TrainConfig, fit
from qnlp.train.trainer import Hooks
from tests.conftest import ROOT, assert_refused_in_one_line


class Line(torch.nn.Module):
    """Outputs ``[w, w - 1]`` for every example: with the loss ``mean
    of the first column`` the gradient is 1 at every step, and the
    argmax (so the accuracy of label 0) never changes."""

    def __init__(self, start: float) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))

    def prepare(self, items):
        return torch.as_tensor(items, dtype=torch.float64)

    def forward(self, batch):
        w = self.w.expand(len(batch))
        return torch.stack([w, w - 1], 1)


def first_column(outputs, labels):
    return outputs[:, 0].mean()


DATA = Split([0.0, 0.0, 0.0], torch.tensor([0, 0, 0]))


def sgd_weights(start: float, lr: float, steps: int) -> list[float]:
    """The weight after each step of the trainer's SGD (momentum 0.9)
    at gradient 1."""
    weight, velocity, weights = start, 0.0, []
    for _ in range(steps):
        velocity = 0.9 * velocity + 1.0
        weight -= lr * velocity
        weights.append(weight)
    return weights


@settings(max_examples=25, deadline=None)
@given(start=st.floats(-3, 3), decay=st.floats(0.0, 0.99),
       lr=st.floats(0.01, 1.0), epochs=st.integers(1, 6))
def test_averages_follow_their_closed_form_and_are_what_is_kept(
        start, decay, lr, epochs):
    model = Line(start)
    history = fit(model, DATA, DATA,
                  TrainConfig(epochs=epochs, lr=lr, optimizer='sgd',
                              average_weights=decay),
                  progress=False, hooks=Hooks(loss=first_column))
    # the average starts at the initial weight and moves 1 - decay of
    # the way to the raw weight after each step (one step an epoch)
    average, expected = start, []
    for weight in sgd_weights(start, lr, epochs):
        average = decay * average + (1 - decay) * weight
        expected.append(average)
    # the dev loss of each epoch is the average's, not the raw weight's
    assert [row['dev_loss'] for row in history] == pytest.approx(expected)
    # the averages fall every step, so the last epoch has the lowest dev
    # loss (accuracy is the same throughout) and its average is kept
    assert model.w.item() == pytest.approx(expected[-1])


def test_without_averaging_the_raw_weights_are_kept():
    model = Line(1.0)
    history = fit(model, DATA, DATA, TrainConfig(epochs=3, lr=0.5,
                                                 optimizer='sgd'),
                  progress=False, hooks=Hooks(loss=first_column))
    raw = sgd_weights(1.0, 0.5, 3)
    assert [row['dev_loss'] for row in history] == pytest.approx(raw)
    assert model.w.item() == pytest.approx(raw[-1])


def test_a_resumed_run_with_averages_ends_bit_identical(tmp_path):
    from qnlp.models import DisCoCatClassifier, SentencePipeline
    texts = ['woman cooks meal', 'man debugs program', 'chef bakes bread',
             'coder writes code'] * 2
    pipeline = SentencePipeline()
    pipeline.fit_vocabulary(texts)
    train = Split(pipeline.circuits(texts),
                  torch.tensor([1, 0, 1, 0] * 2))
    dev = None   # the last epoch's averages are kept
    config = TrainConfig(epochs=5, lr=0.1, batch_size=3, average_weights=0.8)

    def model():
        return DisCoCatClassifier.from_circuits(train.circuits, seed=0)

    whole = model()
    fit(whole, train, dev, config, progress=False,
        checkpoint=tmp_path / 'whole.ckpt')
    killed = tmp_path / 'killed.ckpt'

    def keep_epoch_two(row):   # the checkpoint as a kill after epoch 2
        if row['epoch'] == 2:
            shutil.copy(tmp_path / 'run.ckpt', killed)
    fit(model(), train, dev, config, progress=False,
        checkpoint=tmp_path / 'run.ckpt', on_epoch=keep_epoch_two)
    resumed = model()
    history = fit(resumed, train, dev, config, progress=False,
                  checkpoint=killed, resume=True)
    assert len(history) == 5
    first, second = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize('average, optimizer, message', [
    (1.0, 'adam', 'average_weights must lie in [0, 1)'),
    (0.5, 'cobyla', 'average_weights needs optimizer adam, sgd or spsa'),
])
def test_bad_average_is_refused(average, optimizer, message):
    with pytest.raises(ConfigError, match=message.replace('[', r'\[')
                       .replace(')', r'\)')):
        TrainConfig(average_weights=average, optimizer=optimizer)


def test_batch_norm_statistics_are_averaged_with_the_weights():
    """Running statistics gathered under the raw weights would not fit
    the averaged ones: floating buffers are averaged too, integer ones
    (the batch count) are left alone."""
    from qnlp.train.trainer import WeightAverage
    norm = torch.nn.BatchNorm1d(2)
    average = WeightAverage(norm, decay=0.75)
    norm.train()
    norm(torch.tensor([[4.0, 8.0], [4.0, 8.0]]))   # running mean 0.4, 0.8
    average.update()
    with average.in_place():
        assert norm.running_mean.tolist() == pytest.approx([0.1, 0.2])
        assert norm.num_batches_tracked.item() == 1
    assert norm.running_mean.tolist() == pytest.approx([0.4, 0.8])


def _task_data(task: str, folder) -> list[str]:
    """Data and options of a two-epoch run of ``task``."""
    if task == 'images':
        from tests.test_images import toy_folder
        return [str(toy_folder(folder)), '--batch-size', '8', '--lr',
                '0.01']
    if task == 'sentiment':
        from tests.test_sentiment import REVIEWS
        path = folder / 'reviews.tsv'
        folder.mkdir()
        path.write_text('\n'.join(REVIEWS) + '\n')
        return [str(path), '--features', 'tfidf', '--components', '2']
    if task == 'proteins':
        return [str(ROOT / 'corpora' / 'proteins'), '--max-length', '32']
    return [str(ROOT / 'corpora' / 'meaning'), '--batch-size', '16']


@pytest.mark.parametrize('task', ['sentences', 'proteins', 'sentiment',
                                  'images'])
def test_every_task_trains_with_averages_and_refuses_bad_values(
        task, tmp_path, capsys):
    data = _task_data(task, tmp_path / 'data')
    run = tmp_path / 'run'
    assert main(['train', '--task', task, *data, '--epochs', '2',
                 '--average-weights', '0.5', '--quiet', '--out',
                 str(run)]) == 0
    config = json.loads((run / 'config.json').read_text())
    assert config['settings']['average_weights'] == 0.5
    assert_refused_in_one_line(['train', '--task', task, *data,
                                '--average-weights', '1.5', '--quiet'],
                               tmp_path / 'bad', capsys, 'average_weights')


def test_the_averages_equal_torchs_averaged_model():
    """The reference: ``torch.optim.swa_utils.AveragedModel`` with its
    EMA rule and ``use_buffers=True``. It takes the model as it is at its
    first update and averages from the second; ours starts from the
    weights it is made with, so it is made at that first update."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    from qnlp.train.trainer import WeightAverage
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4),
                                torch.nn.BatchNorm1d(4),
                                torch.nn.Linear(4, 2)).double()
    theirs = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9),
                           use_buffers=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    ours = None
    for _ in range(7):
        optimizer.zero_grad()
        model(torch.randn(5, 3, dtype=torch.float64)).pow(2).sum().backward()
        optimizer.step()
        theirs.update_parameters(model)
        if ours is None:
            ours = WeightAverage(model, decay=0.9)
        else:
            ours.update()
    reference = theirs.module.state_dict()
    with ours.in_place():
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                assert torch.allclose(value, reference[name], rtol=1e-12,
                                      atol=1e-14), name
