"""Parallel sweeps: `qnlp compare --jobs N` and `--executor ray`.

The parallel runs must give exactly the table of the sequential run
(training times aside), keep going when one task fails, and resume.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qnlp.baselines.text import BiLSTMClassifier
from qnlp.cli import main
from qnlp.data import load_corpus
from qnlp.errors import ConfigError, QnlpError, SweepError
from qnlp.tasks.compare import compare
from qnlp.train.sweep import run_tasks
from qnlp.tasks.sentences import SentenceSettings
from tests.conftest import BUNDLED

SETTINGS = SentenceSettings(epochs=5)
BASELINES = ('bow', 'tfidf')
SEEDS = 2


def _without_times(result: dict) -> dict:
    result = json.loads(json.dumps(result))
    for row in result['models'].values():
        del row['train_seconds']
    for runs in result['runs'].values():
        for run in runs:
            del run['seconds']
    return result


def _weights(out: Path) -> dict[str, bytes]:
    return {path.parent.name: path.read_bytes()
            for path in sorted((out / 'runs').glob('*/weights.safetensors'))}


@pytest.fixture(scope='module')
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp('sequential')
    lines: list[str] = []
    result = compare(BUNDLED, out, baselines=BASELINES, seeds=SEEDS,
                     settings=SETTINGS, report=lines.append)
    return out, result, lines


def test_two_jobs_give_the_sequential_table(sequential, tmp_path):
    reference_out, reference, reference_lines = sequential
    lines: list[str] = []
    result = compare(BUNDLED, tmp_path, baselines=BASELINES, seeds=SEEDS,
                     settings=SETTINGS, report=lines.append, jobs=2)
    # Not a saturated table: the two seeds differ, so rows in the wrong
    # order would show.
    f1 = [run['f1'] for run in reference['runs']['discocat']]
    assert f1[0] != f1[1]
    assert _without_times(result) == _without_times(reference)
    assert _without_times(json.loads(
        (tmp_path / 'comparison.json').read_text())) == _without_times(
        json.loads((reference_out / 'comparison.json').read_text()))
    # The trained weights are bit for bit the same (1 thread per worker
    # against the default threads in this process).
    assert _weights(tmp_path) == _weights(reference_out)
    assert len(_weights(tmp_path)) == SEEDS
    # Every task reported once, in whatever order they finished.
    assert sorted(lines) == sorted(reference_lines)
    assert len(lines) == SEEDS * (1 + len(BASELINES))


def test_a_worker_that_dies_is_one_line_not_a_traceback():
    with pytest.raises(SweepError, match='2 of 2 tasks failed: task 0: a '
                                         'worker process died'):
        run_tasks(os._exit, [(3,), (3,)], jobs=2)


def test_failed_task_keeps_the_others_and_a_rerun_resumes(tmp_path, capsys):
    broken = tmp_path / 'runs' / 'discocat-seed1'
    broken.mkdir(parents=True)
    (broken / 'checkpoint.safetensors').write_bytes(b'not a checkpoint')
    command = ['compare', str(BUNDLED), '--out', str(tmp_path), '--seeds',
               '2', '--epochs', '5', '--baselines', 'bow', '--jobs', '2',
               '--quiet']
    assert main(command) == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines()
                   if line.startswith('qnlp: error:')]
    assert len(error_lines) == 1
    assert '1 of 4 tasks failed: discocat seed 1:' in error_lines[0]
    assert 'nothing to resume' in error_lines[0]
    assert 'seed 0 discocat: accuracy' in err  # the others ran
    assert 'seed 1 bow: accuracy' in err
    finished = tmp_path / 'runs' / 'discocat-seed0' / 'metrics.json'
    before = finished.stat().st_mtime_ns
    assert not (tmp_path / 'comparison.json').exists()

    (broken / 'checkpoint.safetensors').unlink()
    # Resume in this process (what is on disk is the same for any --jobs;
    # it saves starting workers again).
    assert main(command[:-3] + ['--quiet']) == 0
    assert finished.stat().st_mtime_ns == before  # skipped, not retrained
    assert (broken / 'metrics.json').exists()
    table = json.loads((tmp_path / 'comparison.json').read_text())
    assert len(table['runs']['discocat']) == 2


@pytest.mark.parametrize('jobs', ['0', '-1', 'two'])
def test_bad_jobs_is_exit_2(tmp_path, capsys, jobs):
    with pytest.raises(SystemExit) as exit_:
        main(['compare', str(BUNDLED), '--out', str(tmp_path), '--jobs',
              jobs])
    assert exit_.value.code == 2
    assert '--jobs' in capsys.readouterr().err


def test_bad_jobs_and_executor_in_the_library(tmp_path):
    with pytest.raises(ConfigError, match='jobs must be positive'):
        compare(BUNDLED, tmp_path, jobs=0)
    with pytest.raises(ConfigError, match='unknown executor'):
        run_tasks(pow, [(2, 2)], executor='slurm')
    with pytest.raises(ConfigError, match='threads must be positive'):
        run_tasks(pow, [(2, 2)], threads=0)


def test_ray_missing_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'ray', None)  # import ray fails
    assert main(['compare', str(BUNDLED), '--out', str(tmp_path),
                 '--seeds', '1', '--epochs', '1', '--baselines', 'bow',
                 '--executor', 'ray', '--quiet']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'qnlp[ray]'" in err[0]


def _fails_on_zero(x: int) -> int:
    if x == 0:
        raise QnlpError('zero is not allowed')
    return 10 // x


def test_run_tasks_reports_every_task_then_raises():
    seen = []
    with pytest.raises(SweepError) as error:
        run_tasks(_fails_on_zero, [(5,), (0,), (2,)],
                  names=['five', 'zero', 'two'],
                  on_done=lambda i, r, e: seen.append((i, r, str(e or ''))))
    assert seen == [(0, 2, ''), (1, None, 'zero is not allowed'),
                    (2, 5, '')]
    assert str(error.value) == ('1 of 3 tasks failed: zero: zero is not '
                                'allowed')
    # Other exceptions are bugs, not bad input: raised as they are, with
    # their traceback, after the remaining tasks ran.
    seen.clear()
    with pytest.raises(ZeroDivisionError):
        run_tasks(divmod, [(1, 0), (4, 2)],
                  on_done=lambda i, r, e: seen.append(i))
    assert seen == [0, 1]


def test_bilstm_does_not_depend_on_the_thread_count():
    """Workers train with 1 thread; this process uses the default. On
    some CPUs torch's float32 LSTM sums in another order with more
    threads (seen on this project's 2-core machines in 2026-11): the
    probabilities then agree to float32 rounding, not bit for bit."""
    corpus = load_corpus(BUNDLED)
    texts = [e.text for e in corpus.train]
    labels = [e.label for e in corpus.train]
    threads = torch.get_num_threads()
    probabilities = []
    try:
        for count in (1, max(2, threads)):
            torch.set_num_threads(count)
            model = BiLSTMClassifier(epochs=3, seed=1).fit(texts, labels)
            probabilities.append(model.predict_proba(
                [e.text for e in corpus.test]))
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(probabilities[0], probabilities[1],
                               atol=1e-6)


def test_ray_executor_gives_the_sequential_table(sequential, tmp_path):
    ray = pytest.importorskip('ray')
    reference_out, reference, _ = sequential
    broken = tmp_path / 'runs' / 'discocat-seed1'
    broken.mkdir(parents=True)
    (broken / 'checkpoint.safetensors').write_bytes(b'not a checkpoint')
    # One local Ray instance for both calls (compare uses an instance
    # that is already running and leaves it running).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(SweepError,
                           match='discocat seed 1: .*nothing to resume'):
            compare(BUNDLED, tmp_path, baselines=BASELINES, seeds=SEEDS,
                    settings=SETTINGS, report=lambda line: None,
                    executor='ray', jobs=None)
        assert ray.is_initialized()
        shutil.rmtree(broken)
        result = compare(BUNDLED, tmp_path, baselines=BASELINES,
                         seeds=SEEDS, settings=SETTINGS,
                         report=lambda line: None, executor='ray', jobs=2)
    finally:
        ray.shutdown()
    assert _without_times(result) == _without_times(reference)
    assert _weights(tmp_path) == _weights(reference_out)
