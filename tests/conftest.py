"""Shared fixtures: the bundled corpus, and real corpora when present."""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Parses and vectors cached by the tests stay out of the user's cache.
os.environ['QNLP_CACHE_DIR'] = tempfile.mkdtemp(prefix='qnlp-test-cache-')
BUNDLED = ROOT / 'corpora' / 'meaning'


@pytest.fixture(autouse=True)
def torch_threads_kept():
    """A test must leave torch's CPU thread count as it found it.

    Tests compare a run in this process with one in a subprocess (kill
    and resume); a conv net's sums round differently on another number
    of threads, so a thread count leaked by an earlier test made the
    images kill/resume test fail in CI alone (benchmarks/protein_cv.py's
    main() set one thread for the rest of the process). The leak is an
    error of the test that leaks, with the count restored.
    """
    torch = sys.modules.get('torch')
    before = torch.get_num_threads() if torch is not None else None
    yield
    if before is not None and torch.get_num_threads() != before:
        after = torch.get_num_threads()
        torch.set_num_threads(before)
        pytest.fail(f'the test changed torch.get_num_threads() from '
                    f'{before} to {after} and left it so', pytrace=False)


def benchmark_module(name: str):
    """The module ``benchmarks/NAME.py`` (benchmarks is no package),
    loaded once."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / 'benchmarks' / f'{name}.py')
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def shared_data() -> Path | None:
    """``$QNLP_DATA_DIR`` or ``../shared/data`` if it exists, else None."""
    candidates = [os.environ.get('QNLP_DATA_DIR'),
                  str(ROOT.parent / 'shared' / 'data')]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def corpus_sentences(folder: Path) -> list[str]:
    return [line.split(None, 1)[1].strip()
            for file in sorted(folder.glob('*.txt'))
            for line in file.read_text().splitlines() if line.strip()]


@pytest.fixture(scope='session')
def bundled_sentences() -> list[str]:
    return corpus_sentences(BUNDLED)


@pytest.fixture(scope='session')
def mc_sentences() -> list[str]:
    data = shared_data()
    if data is None or not (data / 'text' / 'mc').is_dir():
        pytest.skip('MC corpus not available (set QNLP_DATA_DIR)')
    return corpus_sentences(data / 'text' / 'mc')


def train_interrupted(args: list[str], monkeypatch: pytest.MonkeyPatch,
                      writes: int = 2) -> int:
    """``qnlp ARGS`` in this process, interrupted (Ctrl-C) right after
    the run's ``writes``-th file write (2: epoch 2's checkpoint and
    history); returns the exit status."""
    from qnlp.cli import main
    from qnlp.train import trainer
    real_write = trainer.atomic_write_text
    calls = []

    def interrupted(path, text):
        calls.append(path)
        real_write(path, text)
        if len(calls) == writes:
            raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(trainer, 'atomic_write_text', interrupted)
        return main(args)


def kill_after_epoch(args: list[str], checkpoint: Path, epoch: int = 3,
                     timeout: float = 120) -> int:
    """Run ``python -m qnlp ARGS`` and kill -9 it once ``checkpoint``
    holds epoch ``epoch`` or later; returns the checkpoint's epoch (the
    test fails when training ends first)."""
    import signal
    import subprocess
    import sys
    import time

    from qnlp.train.state import load_state
    process = subprocess.Popen(
        [sys.executable, '-m', 'qnlp', *args],
        env={**os.environ, 'PYTHONPATH': str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if checkpoint.exists():
            try:
                if load_state(checkpoint)['epoch'] >= epoch:
                    break
            except Exception:  # being replaced right now: try again
                pass
        time.sleep(0.01)
    if process.poll() is not None:
        pytest.fail('training ended before it could be killed')
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return load_state(checkpoint)['epoch']


def assert_resumes_bit_identical(args: list[str], tmp_path, monkeypatch
                                 ) -> dict:
    """``qnlp ARGS`` whole, and stopped after its first write then
    resumed, end with the same weights; the whole run's metrics."""
    import json

    import torch

    from qnlp.cli.main import main
    from qnlp.train.run import RunDirectory
    monkeypatch.setattr('qnlp.train.plots.plot_history',   # not checked
                        lambda history, path: None)
    assert main([*args, '--out', str(tmp_path / 'whole')]) == 0
    assert train_interrupted([*args, '--out', str(tmp_path / 'cut')],
                             monkeypatch, writes=1) == 130
    assert main(['train', '--resume', str(tmp_path / 'cut'), '--quiet']) == 0
    whole, cut = (RunDirectory(tmp_path / name).read_weights()
                  for name in ('whole', 'cut'))
    assert whole.keys() == cut.keys()
    assert all(torch.equal(whole[k], cut[k]) for k in whole)
    return json.loads((tmp_path / 'whole' / 'metrics.json').read_text())


def assert_refused_in_one_line(args: list[str], out: Path, capsys,
                               name: str) -> str:
    """``qnlp ARGS --out OUT`` exits with status 2, one line on stderr
    that names ``name``, and writes nothing; that line."""
    from qnlp.cli.main import main
    capsys.readouterr()
    assert main([*args, '--out', str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and name in error
    assert not out.exists()
    return error
