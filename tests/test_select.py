"""``--select``: which epoch's weights a run keeps (best dev accuracy,
lowest dev loss, or the last), the same option on every task; a kernel
model fitted without a loop refuses it."""
from __future__ import annotations

import json

import pytest
import torch

from qnlp.cli import main
from qnlp.errors import ConfigError
from qnlp.train import Split, TrainConfig, fit
from qnlp.train.trainer import Hooks
from tests.conftest import assert_refused_in_one_line
from tests.test_weight_average import _task_data


class Drift(torch.nn.Module):
    """``P(class 0 | x) = sigmoid(w x)``. Training on ``x = 1``, label 1
    moves ``w`` down about ``lr`` an epoch (Adam, constant gradient
    sign), from 3 to below -1. The dev set (``x = 1, -1, 5``, labels 0, 1,
    1) has its best accuracy (2/3) while ``w > 0``, but its lowest loss
    near ``w = -0.25`` (the confidently wrong third example stops
    costing), where the accuracy is 1/3: the rules pick different
    epochs."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(3.0, dtype=torch.float64))

    def prepare(self, items):
        return torch.as_tensor(items, dtype=torch.float64)

    def forward(self, batch):
        return torch.stack([self.w * batch, torch.zeros_like(batch)],
                           1).softmax(1)


DEV_X, DEV_LABELS = [1.0, -1.0, 5.0], [0, 1, 1]


def _kept_weight(select: str) -> tuple[float, list[dict]]:
    model = Drift()
    train = Split([1.0] * 3, torch.tensor([1, 1, 1]))
    dev = Split(DEV_X, torch.tensor(DEV_LABELS))
    history = fit(model, train, dev, TrainConfig(epochs=16, lr=0.3),
                  hooks=Hooks(select=select), progress=False)
    return model.w.item(), history


@pytest.mark.parametrize('select', ['dev-accuracy', 'dev-loss', 'last'])
def test_each_rule_keeps_its_epoch(select):
    """The kept weights' dev loss is that of the epoch the rule picks
    from the history: best dev accuracy (ties: lower dev loss), lowest
    dev loss (an epoch in the middle), the last."""
    weight, history = _kept_weight(select)
    losses = [row['dev_loss'] for row in history]
    if select == 'dev-loss':
        best = min(range(len(losses)), key=losses.__getitem__)
        assert 0 < best < len(losses) - 1       # neither first nor last
    elif select == 'dev-accuracy':
        accuracy = [row['dev_accuracy'] for row in history]
        top = [i for i, a in enumerate(accuracy) if a == max(accuracy)]
        best = min(top, key=losses.__getitem__)
    else:
        best = len(history) - 1
    model = Drift()
    with torch.no_grad():
        model.w.fill_(weight)
        probabilities = model(model.prepare(DEV_X))
    kept_loss = -probabilities[torch.arange(3),
                               torch.tensor(DEV_LABELS)].log().mean()
    assert kept_loss.item() == pytest.approx(losses[best], rel=1e-9)


def test_the_rules_keep_different_epochs():
    """The toy above tells the three rules apart (else the test above
    could pass with one rule for all)."""
    weights = {select: _kept_weight(select)[0]
               for select in ('dev-accuracy', 'dev-loss', 'last')}
    assert len(set(weights.values())) == 3


def test_a_dev_rule_without_dev_data_and_unknown_rules_are_refused():
    train = Split([0.0], torch.tensor([0]))
    with pytest.raises(ConfigError, match='dev-loss needs a dev split'):
        fit(Drift(), train, None, TrainConfig(epochs=1),
            hooks=Hooks(select='dev-loss'), progress=False)
    with pytest.raises(ConfigError, match="select must be one of"):
        Hooks(select='dev')


def _add_validation_files(folder) -> None:
    import numpy as np

    from tests.test_images import write_idx
    labels = np.arange(12) % 2
    images = np.random.default_rng(1).integers(0, 50, (12, 16, 16))
    images[labels == 1, 2:5, 2:10] = 255
    write_idx(folder / 'val-images-idx3-ubyte', images)
    write_idx(folder / 'val-labels-idx1-ubyte', labels)


@pytest.mark.parametrize('task', ['sentences', 'proteins', 'sentiment',
                                  'images'])
def test_every_task_keeps_the_epoch_its_rule_picks(task, tmp_path, capsys,
                                                  monkeypatch):
    """``--select dev-loss``: the training loop scores epochs by that
    rule, the kept model's dev loss is the lowest of the history;
    ``--select last``: the last epoch's; recorded in the run's settings;
    a value that is not a rule is one line, exit 2, nothing written."""
    from qnlp.train import trainer
    rules = []

    def recording(row, select, step):
        rules.append(select)
        return selection_score(row, select, step)
    selection_score = trainer.selection_score
    monkeypatch.setattr(trainer, 'selection_score', recording)
    data = _task_data(task, tmp_path / 'data')
    if task == 'sentiment':       # no dev split by default
        data += ['--dev-fraction', '0.25']
    if task == 'images':          # a dev split: validation files
        _add_validation_files(tmp_path / 'data' / 'mnist')
    for select, pick in (('dev-loss', min), ('last', lambda v: v[-1])):
        run = tmp_path / select
        rules.clear()
        assert main(['train', '--task', task, *data, '--epochs', '4',
                     '--select', select, '--quiet', '--out', str(run)]) == 0
        assert set(rules) == {select}
        history = [json.loads(line) for line in
                   (run / 'history.jsonl').read_text().splitlines()]
        metrics = json.loads((run / 'metrics.json').read_text())
        assert metrics['dev_loss'] == pytest.approx(
            pick([row['dev_loss'] for row in history]), rel=1e-6)
        config = json.loads((run / 'config.json').read_text())
        assert config['settings']['select'] == select
    assert_refused_in_one_line(['train', '--task', task, *data, '--select',
                                'best', '--quiet'], tmp_path / 'bad',
                               capsys, 'select')


def test_a_kernel_model_refuses_select(tmp_path, capsys):
    data = _task_data('sentiment', tmp_path / 'data')
    error = assert_refused_in_one_line(
        ['train', '--task', 'sentiment', *data, '--model', 'qsvc',
         '--select', 'dev-loss'], tmp_path / 'k', capsys, 'select')
    assert 'without a training loop' in error


def test_patience_with_select_last_is_refused(tmp_path, capsys):
    """Early stopping waits for a better dev score; ``--select last``
    scores none, so ``--patience`` would be silently ignored."""
    assert_refused_in_one_line(
        ['train', *_task_data('sentences', tmp_path / 'data'), '--select',
         'last', '--patience', '3'], tmp_path / 'run', capsys, 'patience')


@pytest.mark.parametrize('task, no_dev', [('sentiment', []),
                                          ('proteins', ['--dev-fraction',
                                                        '0'])])
def test_patience_without_a_dev_part_is_refused(task, no_dev, tmp_path,
                                                capsys):
    """Without a dev part the last epoch is kept and no epoch is ever
    'without a better dev score': ``--patience`` would never stop, so it
    is refused before anything is written; with a dev part it trains."""
    data = _task_data(task, tmp_path / 'data')
    error = assert_refused_in_one_line(
        ['train', '--task', task, *data, *no_dev, '--patience', '2',
         '--quiet'], tmp_path / 'run', capsys, '--patience')
    assert 'no dev part' in error
    assert main(['train', '--task', task, *data, '--dev-fraction', '0.3',
                 '--patience', '1', '--epochs', '2', '--quiet', '--out',
                 str(tmp_path / 'ok')]) == 0
