"""Runs survive kill -9: resume ends bit-identical to an uninterrupted run."""
from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from qnlp.cli import main
from tests.conftest import BUNDLED, kill_after_epoch

ARGS = ['--epochs', '12', '--batch-size', '8', '--seed', '5', '--quiet']


def _metrics(run):
    data = json.loads((run / 'metrics.json').read_text())
    return {k: v for k, v in data.items() if 'seconds' not in k}


def _weights(run):
    return load_file(str(run / 'weights.safetensors'))['weights']


def _history(run):
    rows = [json.loads(line) for line in
            (run / 'history.jsonl').read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != 'seconds'} for r in rows]


def test_kill_during_training_then_resume_is_bit_identical(tmp_path):
    whole, killed = tmp_path / 'whole', tmp_path / 'killed'
    assert main(['train', str(BUNDLED), '--out', str(whole), *ARGS]) == 0

    interrupted_at = kill_after_epoch(
        ['train', str(BUNDLED), '--out', str(killed), *ARGS],
        killed / 'checkpoint.safetensors')
    assert not (killed / 'metrics.json').exists()
    assert 3 <= interrupted_at < 12

    assert main(['train', str(BUNDLED), '--resume', str(killed),
                 *ARGS]) == 0
    assert torch.equal(_weights(whole), _weights(killed))
    assert _metrics(whole) == _metrics(killed)
    assert _history(whole) == _history(killed)


def test_resume_with_other_settings_or_corrupt_checkpoint(tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', str(BUNDLED), '--out', str(run), '--epochs', '2',
                 '--quiet']) == 0
    assert main(['train', str(BUNDLED), '--resume', str(run), '--epochs',
                 '3', '--lr', '0.5', '--quiet']) == 2
    assert 'other settings' in capsys.readouterr().err
    (run / 'checkpoint.safetensors').write_bytes(b'not a checkpoint')
    assert main(['train', str(BUNDLED), '--resume', str(run), '--epochs',
                 '2', '--quiet']) == 2
    assert 'corrupt checkpoint' in capsys.readouterr().err
    (run / 'weights.safetensors').write_bytes(b'garbage')
    assert main(['predict', str(run), 'chef roasts soup']) == 2
    assert 'corrupt weights' in capsys.readouterr().err


def test_resume_without_checkpoint(tmp_path, capsys):
    assert main(['train', str(BUNDLED), '--resume', str(tmp_path / 'none'),
                 '--quiet']) == 2
    assert 'nothing to resume' in capsys.readouterr().err
