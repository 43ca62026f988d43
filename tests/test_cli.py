"""The command line end to end on the bundled corpus."""
from __future__ import annotations

import importlib.util
import json

import pytest

from qnlp.cli import main
from tests.conftest import BUNDLED


def test_train_writes_run_directory(tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', str(BUNDLED), '--out', str(out), '--epochs', '3',
                 '--seed', '1', '--quiet']) == 0
    metrics = json.loads((out / 'metrics.json').read_text())
    for key in ('dev_accuracy', 'test_accuracy', 'train_seconds'):
        assert key in metrics
    config = json.loads((out / 'config.json').read_text())
    assert config['settings']['seed'] == 1
    assert len(config['data_sha256']) == 64
    assert (out / 'weights.safetensors').stat().st_size > 0
    assert 'test accuracy' in capsys.readouterr().out


def test_same_seed_same_numbers(tmp_path):
    runs = []
    for name in ('a', 'b'):
        main(['train', str(BUNDLED), '--out', str(tmp_path / name),
              '--epochs', '4', '--seed', '3', '--quiet'])
        metrics = json.loads((tmp_path / name / 'metrics.json').read_text())
        runs.append({k: v for k, v in metrics.items() if 'seconds' not in k})
    assert runs[0] == runs[1]


def test_single_file_with_split(tmp_path):
    corpus = tmp_path / 'all.txt'
    corpus.write_text(''.join((BUNDLED / f).read_text()
                              for f in ('train.txt', 'test.txt')))
    assert main(['train', str(corpus), '--out', str(tmp_path / 'r'),
                 '--epochs', '2', '--split', '0.6,0.2,0.2', '--quiet']) == 0


@pytest.mark.parametrize('content,message', [
    ('1 woman cooks meal\nbroken\n', 'train.txt:2'),
    ('1 the the the\n', "token"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, content,
                                         message):
    (tmp_path / 'train.txt').write_text(content)
    (tmp_path / 'test.txt').write_text('1 woman cooks meal\n')
    code = main(['train', str(tmp_path), '--out', str(tmp_path / 'r'),
                 '--quiet'])
    err = capsys.readouterr().err
    assert code == 2 and message in err and 'Traceback' not in err
    assert len(err.strip().splitlines()) == 1


def test_help_lists_train(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['--help'])
    assert exit_info.value.code == 0
    assert 'train' in capsys.readouterr().out


def test_three_classes_end_to_end(tmp_path):
    rows = {'0': 'man debugs program', '1': 'woman cooks meal',
            '2': 'child plays game'}
    for name in ('train', 'dev', 'test'):
        (tmp_path / f'{name}.txt').write_text(
            ''.join(f'{label} {text}\n' for label, text in rows.items()) * 2)
    out = tmp_path / 'run'
    assert main(['train', str(tmp_path), '--out', str(out), '--epochs', '40',
                 '--quiet']) == 0
    config = json.loads((out / 'config.json').read_text())
    metrics = json.loads((out / 'metrics.json').read_text())
    assert config['labels'] == ['0', '1', '2']
    assert config['sentence_qubits'] == 2
    assert metrics['train_accuracy'] > 0.5


def test_parse_and_draw_commands(tmp_path, capsys):
    assert main(['parse', 'woman cooks tasty meal']) == 0
    out = capsys.readouterr().out
    assert 'cooks' in out and 'n.r @ s @ n.l' in out
    image = tmp_path / 'd.png'
    assert main(['draw', 'woman cooks tasty meal', '-o', str(image)]) == 0
    assert image.stat().st_size > 1000
    assert main(['parse', 'the the', '--target', 's']) == 2
    assert "token" in capsys.readouterr().err


def test_run_is_replayed_from_its_yaml_and_from_toml(tmp_path):
    first = tmp_path / 'first'
    assert main(['train', str(BUNDLED), '--out', str(first), '--epochs', '3',
                 '--seed', '2', '--lr', '0.2', '--quiet']) == 0
    replay = tmp_path / 'replay'
    assert main(['train', '--config', str(first / 'run.yaml'), '--out',
                 str(replay), '--quiet']) == 0
    metrics = [json.loads((run / 'metrics.json').read_text())
               for run in (first, replay)]
    for data in metrics:
        data.pop('train_seconds')
    assert metrics[0] == metrics[1]
    toml = tmp_path / 'settings.toml'
    toml.write_text(f'corpus = "{BUNDLED}"\nepochs = 2\noptimizer = "spsa"\n')
    assert main(['train', '--config', str(toml), '--out',
                 str(tmp_path / 't'), '--quiet']) == 0
    config = json.loads((tmp_path / 't' / 'config.json').read_text())
    assert config['settings']['optimizer'] == 'spsa'


def test_bad_config_file_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / 'bad.toml'
    bad.write_text('epochs = 2\nwarp_speed = 9\n')
    assert main(['train', str(BUNDLED), '--config', str(bad), '--out',
                 str(tmp_path / 'r')]) == 2
    assert 'warp_speed' in capsys.readouterr().err


def test_evaluate_and_predict(tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', str(BUNDLED), '--out', str(run), '--epochs', '30',
                 '--quiet']) == 0
    capsys.readouterr()
    assert main(['evaluate', str(run), str(BUNDLED), '--json']) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {'accuracy', 'precision', 'recall', 'f1',
                           'confusion_matrix', 'per_class'}
    assert sum(map(sum, report['confusion_matrix'])) == 30
    assert main(['predict', str(run), 'chef roasts zorblax soup',
                 '--json']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]['label'] in ('0', '1')
    assert abs(sum(rows[0]['probabilities'].values()) - 1) < 1e-9


def test_options_and_bad_settings_need_no_heavy_imports(tmp_path):
    """``qnlp train --help`` and bad input found before training (an
    option's value, settings that contradict each other, a bad
    ``--variant``, a missing data file) answer without importing torch,
    scikit-learn or lambeq (seconds each): settings, their checks and the
    parser are built from light modules."""
    import subprocess
    import sys
    bad = [['train', '--task', 'sentiment', '--feature-map', 'nope', 'x',
            '--out', 'never-written'],
           ['train', 'x', '--optimizer', 'spsa', '--weight-decay', '0.1',
            '--out', 'never-written'],
           ['compare', 'x', '--variant', 'a=--layers 0', '--out',
            'never-written'],
           ['train', '/no/such/corpus.txt', '--out', 'never-written'],
           ['train', 'x', '--tagger', 'spacy', '--spacy-pipeline',
            'no_such_pipeline', '--out', 'never-written'],
           ['compare', 'x', '--variant', 'a=--tagger spacy --spacy-pipeline '
            './no/such/dir', '--out', 'never-written'],
           ['train', 'x', '--spacy-pipeline', 'en_core_web_trf', '--out',
            'never-written']]
    script = (
        "import sys\n"
        "from qnlp.cli.main import build_parser, main\n"
        "build_parser().format_help()\n"
        f"codes = [main(argv) for argv in {bad!r}]\n"
        "heavy = sorted({'torch', 'sklearn', 'lambeq', 'spacy'} "
        "& set(sys.modules))\n"
        "print(codes, heavy)\n")
    done = subprocess.run([sys.executable, '-c', script], capture_output=True,
                          text=True, check=True, cwd=tmp_path)
    assert done.stdout.strip() == '[2, 2, 2, 2, 2, 2, 2] []', \
        done.stdout + done.stderr
    errors = done.stderr.splitlines()
    assert errors[:4] == [
        "qnlp: error: feature_map must be one of angle, zz, got 'nope'",
        "qnlp: error: weight_decay needs optimizer adam or sgd, not spsa",
        "qnlp: error: --variant a: layers must be at least 1, got 0",
        "qnlp: error: /no/such/corpus.txt: no such file or directory"]
    spacy_installed = importlib.util.find_spec('spacy') is not None
    assert errors[4].startswith(
        "qnlp: error: --spacy-pipeline no_such_pipeline: no installed spaCy "
        "pipeline package" if spacy_installed else
        "qnlp: error: the spaCy tagger needs spaCy")
    assert errors[5] == (
        "qnlp: error: --variant a: --spacy-pipeline ./no/such/dir: no such "
        "directory" if spacy_installed else
        "qnlp: error: --variant a: the spaCy tagger needs spaCy: pip "
        "install 'qnlp[spacy]'")
    assert errors[6] == ("qnlp: error: --spacy-pipeline en_core_web_trf "
                         "needs --tagger spacy")
    assert list(tmp_path.iterdir()) == []   # nothing written
