"""The task contract end to end: every task trains, evaluates new data,
predicts, compares, resumes after kill -9 bit-identically, replays its
run.yaml and refuses options it does not take; and no bad input loses a
run or prints a traceback (issue 16's table of cases)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from qnlp.cli import main
from qnlp.tasks import Settings, get_task, load_trained, task_names
from qnlp.train.run import RunDirectory
from tests.conftest import BUNDLED, ROOT, kill_after_epoch

PROTEINS = ROOT / 'corpora' / 'proteins'

#: task -> (data, small training options, inputs for predict, option of
#: another task).
MATRIX = {
    'sentences': (BUNDLED, ['--epochs', '6', '--batch-size', '16'],
                  ['chef cooks tasty soup'], ['--window', '8']),
    'proteins': (PROTEINS, ['--epochs', '3', '--max-length', '48',
                            '--batch-size', '32', '--qubits', '1'],
                 ['MKLVLLAGGGLLLAVV'], ['--tagger', 'spacy']),
}


def _run(task: str, out: Path, *extra: str) -> int:
    data, options, _, _ = MATRIX[task]
    return main(['train', str(data), '--task', task, '--out', str(out),
                 '--quiet', *options, *extra])


def _metrics(run: Path) -> dict:
    data = json.loads((run / 'metrics.json').read_text())
    return {k: v for k, v in data.items() if 'seconds' not in k}


def _history(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in
            (run / 'history.jsonl').read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != 'seconds'} for r in rows]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines()
             if not line.startswith('qnlp: warning:')]
    assert len(lines) == 1 and lines[0].startswith('qnlp: error:'), err
    assert 'Traceback' not in err
    return lines[0]


@pytest.fixture(scope='module', params=sorted(MATRIX))
def trained(request, tmp_path_factory):
    task = request.param
    out = tmp_path_factory.mktemp(task) / 'run'
    assert _run(task, out) == 0
    return task, out


def test_core_metrics_and_config_are_the_same_for_every_task(trained):
    task, out = trained
    metrics = json.loads((out / 'metrics.json').read_text())
    for split in ('train', 'dev', 'test'):
        for key in ('accuracy', 'f1', 'loss', 'skipped', 'examples'):
            assert f'{split}_{key}' in metrics
    assert {'n_parameters', 'train_seconds', 'epochs', 'epochs_run',
            'task_metrics'} <= set(metrics) and metrics['task'] == task
    config = json.loads((out / 'config.json').read_text())
    assert {'task', 'data', 'data_sha256', 'labels', 'settings'} <= \
        set(config)
    assert len(config['data_sha256']) == 64
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ['checkpoint.safetensors', 'config.json', 'curve.png',
         'history.jsonl', 'metrics.json', 'run.yaml', 'weights.safetensors'])


def test_evaluate_and_predict_any_task(trained, capsys):
    task, out = trained
    data, _, inputs, _ = MATRIX[task]
    capsys.readouterr()
    assert main(['evaluate', str(out), str(data), '--json']) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0 <= report['accuracy'] <= 1 and 'confusion_matrix' in report
    assert main(['predict', str(out), *inputs, '--json']) == 0
    rows = json.loads(capsys.readouterr().out)
    labels = json.loads((out / 'config.json').read_text())['labels']
    assert rows[0]['label'] in labels
    assert abs(sum(rows[0]['probabilities'].values()) - 1) < 1e-6
    # the Python API gives the same probabilities
    again = load_trained(out).predict(inputs)
    assert again[0]['probabilities'] == rows[0]['probabilities']


def test_replay_from_run_yaml(trained, tmp_path):
    task, out = trained
    replay = tmp_path / 'replay'
    assert main(['train', '--config', str(out / 'run.yaml'), '--out',
                 str(replay), '--quiet']) == 0
    assert _metrics(replay) == _metrics(out)
    assert json.loads((replay / 'config.json').read_text())['task'] == task


def test_option_of_another_task_is_refused(trained, tmp_path, capsys):
    task, _ = trained
    data, options, _, foreign = MATRIX[task]
    out = tmp_path / 'r'
    assert main(['train', str(data), '--task', task, '--out', str(out),
                 *foreign]) == 2
    assert 'is not an option of --task' in _one_error_line(capsys)
    assert not out.exists()


def test_compare_any_task(trained, tmp_path, capsys):
    task, _ = trained
    data, options, _, _ = MATRIX[task]
    kind = get_task(task)
    baseline = kind.default_baselines[0]
    assert main(['compare', str(data), '--task', task, '--out',
                 str(tmp_path), '--seeds', '1', '--baselines', baseline,
                 '--quiet', *options]) == 0
    table = json.loads((tmp_path / 'comparison.json').read_text())
    assert set(table['models']) == {kind.model_name(
        kind.Settings.from_dict({})), baseline}
    assert (tmp_path / 'comparison.png').stat().st_size > 1000


def _kill_data(task: str, folder: Path) -> tuple[Path, list[str]]:
    """Data and options of a short run of ``task`` (images: a toy MNIST
    folder written here; sentiment is covered in test_sentiment.py)."""
    if task == 'images':
        from tests.test_images import toy_folder
        return toy_folder(folder), ['--batch-size', '8', '--lr', '0.01']
    data, options, _, _ = MATRIX[task]
    return data, options


@pytest.mark.parametrize('task', sorted(MATRIX) + ['images'])
def test_kill_then_resume_is_bit_identical_and_leaves_no_temporaries(
        task, tmp_path):
    data, options = _kill_data(task, tmp_path / 'data')
    args = [str(data), '--task', task, '--quiet', *options, '--epochs',
            '8']
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    assert main(['train', *args, '--out', str(whole)]) == 0
    kill_after_epoch(['train', *args, '--out', str(killed)],
                     killed / 'checkpoint.safetensors', 2, timeout=180)
    (killed / '.metrics.json.abcd1234.tmp').write_text('half')  # as a kill
    assert not (killed / 'metrics.json').exists()
    assert main(['train', '--resume', str(killed), '--quiet']) == 0
    first = load_file(str(whole / 'weights.safetensors'))
    second = load_file(str(killed / 'weights.safetensors'))
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)
    assert _metrics(whole) == _metrics(killed)
    assert _history(whole) == _history(killed)
    assert not [p for p in killed.iterdir() if p.name.startswith('.')]


# --- the table of cases: no traceback, no run lost -----------------------

def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp('finished') / 'run'
    assert _run('sentences', out) == 0
    return out


@pytest.mark.parametrize('args,message', [
    (['--resume', '{run}', '--layers', '2'], 'other settings'),
    (['--out', '{run}'], 'holds a finished run'),
    (['--out', '{run}', '--resume', '{run}', '--overwrite'], 'give one'),
    (['--resume', '{run}', '--task', 'proteins'], 'sentences run'),
])
def test_a_finished_run_is_never_touched(finished, capsys, args, message):
    before = _snapshot(finished)
    command = ['train', str(BUNDLED), '--quiet'] + [
        a.format(run=finished) for a in args]
    assert main(command) == 2
    assert message in _one_error_line(capsys)
    assert _snapshot(finished) == before
    assert main(['evaluate', str(finished), str(BUNDLED)]) == 0


def test_a_second_writer_is_refused(finished, tmp_path, capsys):
    out = tmp_path / 'busy'
    with RunDirectory(out).claim():
        assert _run('sentences', out) == 2
    assert 'is being written by process' in _one_error_line(capsys)


@pytest.mark.parametrize('args,message', [
    (['--resume', '{tmp}/missing'], 'nothing to resume'),
    (['--batch-size', '-5'], 'batch_size must be at least 0'),
    (['--patience', '-3'], 'patience must be at least 0'),
    (['--lr', 'nan'], 'lr must be a finite number'),
    (['--lr', 'inf'], 'lr must be a finite number'),
    (['--lr', '-1'], 'lr must be at least'),
    (['--layers', 'two'], 'layers must be an integer'),
    (['--layers', '100000'], 'layers must be at most'),
    (['--epochs', '0'], 'epochs must be at least 1'),
    (['--split', '0.5,0.5,0.5'], 'split'),
    (['--out', '{tmp}/file'], 'is not a directory'),
    (['--out', '/proc/qnlp-run'], '/proc/qnlp-run'),
    (['--config', '{tmp}/bad.yaml'], 'layers must be an integer'),
    (['--config', '{tmp}/bad.toml'], 'layers must be an integer'),
    (['--config', '{tmp}/missing.yaml'], 'cannot read'),
    (['--task', 'proteins', '--tagger', 'spacy'], 'not an option'),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args,
                                                  message):
    (tmp_path / 'file').write_text('not a directory')
    (tmp_path / 'bad.yaml').write_text('layers: "two"\n')
    (tmp_path / 'bad.toml').write_text('layers = 1.5\n')
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(tmp=tmp_path) for a in args]
    if '--out' not in args and '--resume' not in args:
        args += ['--out', str(tmp_path / 'run')]
    assert main(['train', str(BUNDLED), '--quiet', *args]) == 2
    assert message in _one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_split_of_a_directory_is_refused(tmp_path, capsys):
    assert main(['train', str(BUNDLED), '--split', '0.6,0.2,0.2', '--out',
                 str(tmp_path / 'r'), '--quiet']) == 2
    assert '--split splits a single corpus file' in _one_error_line(capsys)
    assert not (tmp_path / 'r').exists()


def test_nan_weights_are_refused_at_predict(finished, tmp_path, capsys):
    import shutil

    import torch
    from safetensors.torch import save_file
    run = tmp_path / 'nan'
    shutil.copytree(finished, run)
    weights = load_file(str(run / 'weights.safetensors'))
    weights = {k: torch.full_like(v, float('nan')) if v.is_floating_point()
               else v for k, v in weights.items()}   # not the symbol names
    save_file(weights, str(run / 'weights.safetensors'))
    assert main(['predict', str(run), 'woman cooks meal']) == 2
    assert 'NaN' in _one_error_line(capsys)


def test_diverging_training_stops_with_a_clear_error(tmp_path):
    import torch

    from qnlp.errors import TrainingError
    from qnlp.train import Split, TrainConfig, fit

    class Exploding(torch.nn.Module):
        """Probabilities that are NaN (as after a step too far)."""
        def __init__(self):
            super().__init__()
            self.weights = torch.nn.Parameter(torch.zeros(1))

        def prepare(self, items):
            return torch.as_tensor(items, dtype=torch.float32)

        def forward(self, x):
            p = torch.sigmoid(x * self.weights) + 0 * torch.log(
                self.weights - 1)   # log of a negative number: NaN
            return torch.stack([p, 1 - p], 1)

    data = Split(torch.ones(4), torch.tensor([1, 1, 1, 1]))
    with pytest.raises(TrainingError, match='diverged.*--lr'):
        fit(Exploding(), data, data, TrainConfig(epochs=5, lr=5.0,
                                                 optimizer='sgd'),
            progress=False, checkpoint=tmp_path / 'c.safetensors')
    assert not (tmp_path / 'c.safetensors').exists()  # no NaN checkpoint


def test_tensor_ansatz_trains_through_the_cli(tmp_path):
    """Symbols keep their sizes on their way from the data to the model
    (a bug found while building the task contract)."""
    assert main(['train', str(BUNDLED), '--out', str(tmp_path / 'r'),
                 '--quiet', '--epochs', '2', '--ansatz', 'tensor']) == 0


def test_evaluate_warns_on_another_corpus(finished, tmp_path, capsys):
    other = tmp_path / 'other.txt'
    other.write_text('1 zorblax quuxes the florb\n0 plim wibbles a snark\n')
    assert main(['evaluate', str(finished), str(other)]) == 0
    assert 'were seen in training' in capsys.readouterr().err


def test_every_task_settings_validate_their_own_fields():
    for name in task_names():
        settings_cls = get_task(name).Settings
        assert issubclass(settings_cls, Settings)
        defaults = settings_cls()
        assert settings_cls.from_dict(defaults.to_dict()) == defaults
        with pytest.raises(Exception, match='unknown setting'):
            settings_cls.from_dict({'warp_speed': 9})


def test_parsing_shows_progress_unless_quiet(tmp_path, capsys):
    assert main(['train', str(BUNDLED), '--out', str(tmp_path / 'a'),
                 '--epochs', '1']) == 0
    assert 'parse train' in capsys.readouterr().err
    assert main(['train', str(BUNDLED), '--out', str(tmp_path / 'b'),
                 '--epochs', '1', '--quiet']) == 0
    assert 'parse' not in capsys.readouterr().err


@pytest.mark.parametrize('task', ['sentences', 'sentiment'])
def test_split_seed_holds_the_split_while_seed_moves_the_model(task,
                                                               tmp_path):
    from qnlp.tasks.sentences import SentenceSettings, read_corpus
    from qnlp.tasks.sentiment import SentimentSettings, split_reviews
    corpus = tmp_path / 'reviews.txt'
    corpus.write_text(''.join(f"review {i} was {('bad', 'good')[i % 2]}"
                              f"\t{i % 2}\n" for i in range(40)))

    def test_part(**seeds) -> list[str]:
        if task == 'sentences':
            settings = SentenceSettings(split=(0.6, 0.2, 0.2), **seeds)
            return [e.text for e in read_corpus(corpus, settings).test]
        settings = SentimentSettings(test_fraction=0.25, **seeds)
        return [e.text for e in split_reviews(corpus, settings)[2]]

    held = [test_part(seed=seed, split_seed=5) for seed in (0, 1)]
    assert held[0] == held[1] == test_part(seed=5)
    assert test_part(seed=0) != test_part(seed=1)
