"""Data-parallel training: 2 processes on localhost equal one process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import given, strategies as st
from safetensors.torch import load_file

from qnlp.cli import main
from qnlp.errors import CorpusError, QnlpError
from qnlp.train.distributed import World, launch
from qnlp.train.state import load_state
from tests.conftest import BUNDLED, ROOT

ARGS = ['--epochs', '5', '--batch-size', '8', '--seed', '3', '--quiet']


@given(st.lists(st.integers(), max_size=30), st.integers(1, 5))
def test_shards_cover_every_item_once_and_merge_back(items, size):
    shards = [World(rank, size).shard(items) for rank in range(size)]
    assert sorted(x for shard in shards for x in shard) == sorted(items)
    assert World(0, size).merge(shards) == items
    for rank, shard in enumerate(shards):
        owned = [i for i in range(len(items))
                 if World(rank, size).owner(i) == rank]
        assert shard == [items[i] for i in owned]


def _read(run):
    metrics = json.loads((run / 'metrics.json').read_text())
    history = [json.loads(line) for line in
               (run / 'history.jsonl').read_text().splitlines()]
    weights = load_file(str(run / 'weights.safetensors'))['weights']
    return metrics, history, weights


def _kill_after_epoch(command, run, epoch, env):
    """Start ``command`` in its own session; SIGKILL it (and its worker
    processes) once the checkpoint has reached ``epoch``."""
    process = subprocess.Popen(command, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    checkpoint = run / 'checkpoint.safetensors'
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        try:
            if load_state(checkpoint)['epoch'] >= epoch:
                break
        except Exception:  # not written yet, or being replaced
            pass
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.fail('training ended before it could be killed: '
                    + process.stderr.read().decode()[-2000:])
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_two_processes_killed_and_resumed_equal_one_process(tmp_path):
    single, parallel = tmp_path / 'single', tmp_path / 'parallel'
    assert main(['train', str(BUNDLED), '--out', str(single), *ARGS]) == 0

    env = {**os.environ, 'PYTHONPATH': str(ROOT)}
    _kill_after_epoch([sys.executable, '-m', 'qnlp', 'train', str(BUNDLED),
                       '--out', str(parallel), '--nproc', '2', *ARGS],
                      parallel, 2, env)
    assert not (parallel / 'metrics.json').exists()
    assert 2 <= load_state(parallel / 'checkpoint.safetensors')['epoch'] < 5

    assert main(['train', str(BUNDLED), '--resume', str(parallel),
                 '--nproc', '2', *ARGS]) == 0
    one, one_history, one_weights = _read(single)
    two, two_history, two_weights = _read(parallel)
    assert two['processes'] == 2 and one['processes'] == 1
    assert torch.allclose(one_weights, two_weights, atol=1e-6, rtol=0)
    for key in ('train', 'dev', 'test'):
        assert two[f'{key}_accuracy'] == one[f'{key}_accuracy']
        assert two[f'{key}_loss'] == pytest.approx(one[f'{key}_loss'],
                                                   abs=1e-6)
    assert two['test_f1'] == one['test_f1']
    assert len(two_history) == len(one_history) == 5
    for a, b in zip(one_history, two_history):
        assert b['train_loss'] == pytest.approx(a['train_loss'], abs=1e-6)
        assert b['dev_accuracy'] == a['dev_accuracy']


def _fail_on_rank_one() -> None:
    if int(os.environ['RANK']) == 1:
        raise CorpusError("malformed line", 'corpus.txt', 7)


def test_a_worker_error_reaches_the_caller_as_one_line():
    with pytest.raises(QnlpError, match=r'corpus.txt.*7.*malformed line'):
        launch(_fail_on_rank_one, 2)


def test_nproc_is_refused_where_it_does_not_apply(tmp_path, capsys):
    assert main(['train', str(BUNDLED), '--out', str(tmp_path / 'r'),
                 '--task', 'proteins', '--nproc', '2']) == 2
    assert '--nproc' in capsys.readouterr().err
    with pytest.raises(QnlpError, match='positive'):
        launch(_fail_on_rank_one, 0)


def test_unparsable_sentences_name_their_line_or_are_skipped(tmp_path,
                                                             capsys):
    corpus = tmp_path / 'corpus'
    corpus.mkdir()
    good = ['1 woman cooks tasty meal .', '0 man debugs useful program .',
            '1 woman prepares meal .', '0 man writes program .'] * 2
    (corpus / 'train.txt').write_text('\n'.join(good + ['1 of of the'])
                                      + '\n')
    (corpus / 'dev.txt').write_text('\n'.join(good[:2]) + '\n')
    (corpus / 'test.txt').write_text('\n'.join(good[2:4]) + '\n')
    out = tmp_path / 'run'
    assert main(['train', str(corpus), '--out', str(out), '--epochs', '2',
                 '--quiet']) == 2
    error = capsys.readouterr().err
    assert 'train.txt:9' in error and '--unparsable skip' in error
    assert main(['train', str(corpus), '--out', str(out), '--epochs', '2',
                 '--quiet', '--unparsable', 'skip']) == 0
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['train_skipped'] == 1 and metrics['test_skipped'] == 0
