"""Runs survive kill -9: resume ends bit-identical to an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from qnlp.cli import main
from qnlp.train.state import load_state
from tests.conftest import BUNDLED, ROOT

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

    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, '-m', 'qnlp', 'train', str(BUNDLED), '--out',
         str(killed), *ARGS], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    checkpoint = killed / 'checkpoint.safetensors'
    deadline = time.time() + 120
    epoch = 0
    while time.time() < deadline and process.poll() is None:
        if checkpoint.exists():
            try:
                epoch = load_state(checkpoint)['epoch']
            except Exception:  # being replaced right now: try again
                epoch = 0
            if epoch >= 3:
                break
        time.sleep(0.01)
    if process.poll() is not None:
        pytest.fail('training ended before it could be killed')
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / 'metrics.json').exists()
    interrupted_at = load_state(checkpoint)['epoch']
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
