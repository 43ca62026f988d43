"""Bad input gives one line ``qnlp: error: ...`` and exit status 2, never a
traceback or a hang; writes are atomic and leave nothing behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnlp.cli.main import main
from qnlp.errors import CompileError, ConfigError, ParseError
from qnlp.files import (TEMPORARY_NAME, atomic_path, atomic_write_bytes,
                        remove_stale_temporaries)
from qnlp.limits import (MAX_DENSE_QUBITS, MAX_LAYERS, MAX_SEQUENCE_QUBITS,
                         MAX_STATEVECTOR_QUBITS, MAX_TOKENS, MAX_WIRE_QUBITS)

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = 'woman cooks tasty meal'


def _fails(capsys: pytest.CaptureFixture, argv: list[str],
           *expected: str) -> str:
    """Run the CLI; assert exit 2 and one error line holding ``expected``."""
    status = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith('qnlp: error: '), err
    assert 'Traceback' not in err
    for text in expected:
        assert text in lines[0]
    return lines[0]


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- qnlp compile -----------------------------------------------------------

def test_compile_json_out_is_written_atomically(tmp_path, capsys):
    out = tmp_path / 'x.json'
    assert main(['compile', SENTENCE, '--format', 'json',
                 '--out', str(out)]) == 0
    assert out.read_text().startswith('{')
    assert _listing(tmp_path) == ['x.json']


@pytest.mark.parametrize('make_out,expected', [
    (lambda tmp: tmp, 'is a directory'),
    (lambda tmp: tmp / 'missing' / 'x.json', 'does not exist'),
    (lambda tmp: tmp / 'file.txt' / 'x.json', 'does not exist'),
])
def test_compile_sentence_bad_out(tmp_path, capsys, make_out, expected):
    (tmp_path / 'file.txt').write_text('kept')
    out = make_out(tmp_path)
    _fails(capsys, ['compile', SENTENCE, '--format', 'json', '--out',
                    str(out)], '--out', str(out), expected)
    assert _listing(tmp_path) == ['file.txt']


def test_compile_unwritable_out(tmp_path, capsys, monkeypatch):
    # Root may write anywhere: make the folder refuse new files instead.
    def refuse(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(tempfile, 'mkstemp', refuse)
    _fails(capsys, ['compile', SENTENCE, '--out', str(tmp_path / 'x.qasm'),
                    '--format', 'qasm'], 'cannot write', 'Permission denied')


def test_compile_corpus_out_is_a_file(tmp_path, capsys):
    corpus = tmp_path / 'corpus.txt'
    corpus.write_text('1 woman cooks meal\n')
    _fails(capsys, ['compile', str(corpus), '--out', str(corpus)],
           'is a file, not a folder')
    assert corpus.read_text() == '1 woman cooks meal\n'


@pytest.mark.parametrize('argv,expected', [
    (['--ansatz', 'tensor'], "ansatz 'tensor' makes tensor networks"),
    (['--ansatz', 'spider', '--seed', '1'], 'not circuits'),
    (['--format', 'qiskit'], 'needs bound parameters'),
    (['--layers', '100000'], f'100000 is above the limit of {MAX_LAYERS}'),
    (['--noun-qubits', '100'], f'above the limit of {MAX_WIRE_QUBITS}'),
])
def test_compile_bad_options(capsys, argv, expected):
    _fails(capsys, ['compile', SENTENCE, *argv], expected)


def test_compile_empty_sentence_is_not_the_current_folder(capsys):
    _fails(capsys, ['compile', ''], 'no words to parse')


def test_compile_stats_skip_exact_simulation_of_wide_circuits(capsys):
    import json
    assert main(['compile', SENTENCE, '--noun-qubits', '4',
                 '--seed', '1']) == 0
    info = json.loads(capsys.readouterr().out)
    assert info['qubits'] > MAX_STATEVECTOR_QUBITS
    assert info['exact_simulation'].startswith('skipped')


# -- qnlp draw and parse ----------------------------------------------------

@pytest.mark.parametrize('name,expected', [
    ('x.xyz', "unsupported image format 'xyz'"),
    ('x', 'no file extension'),
    ('missing/x.png', 'does not exist'),
])
def test_draw_bad_output(tmp_path, capsys, name, expected):
    out = tmp_path / name
    _fails(capsys, ['draw', SENTENCE, '-o', str(out)], '-o', expected)
    assert _listing(tmp_path) == []


def test_draw_unwritable_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tempfile, 'mkstemp', lambda *a, **k: (_ for _ in ())
                        .throw(PermissionError(13, 'Permission denied')))
    _fails(capsys, ['draw', SENTENCE, '-o', str(tmp_path / 'x.png')],
           'cannot write')


def test_draw_replaces_an_image_atomically(tmp_path, capsys):
    out = tmp_path / 'x.svg'
    out.write_text('old')
    assert main(['draw', SENTENCE, '-o', str(out)]) == 0
    assert '<svg' in out.read_text()
    assert _listing(tmp_path) == ['x.svg']


def test_very_long_sentence_is_refused_at_once(capsys):
    start = time.perf_counter()
    line = _fails(capsys, ['parse', 'meal ' * 10_000],
                  f'10000 tokens is above the limit of {MAX_TOKENS}')
    assert time.perf_counter() - start < 5
    assert len(line) < 300   # the sentence is not echoed whole


# -- the caps, as library calls ---------------------------------------------

def test_token_cap_sits_just_above_the_limit():
    from qnlp.parsing import Parser
    with pytest.raises(ParseError, match=f'of {MAX_TOKENS + 1} tokens'):
        Parser().analyse('meal ' * (MAX_TOKENS + 1))
    long = ' '.join(['the skillful woman cooks tasty meal and the man '
                     'prepares sauce ,'] * 20).split()[:200] + ['that']
    start = time.perf_counter()
    Parser().parse(' '.join(long))   # 201 words still parse, in seconds
    assert time.perf_counter() - start < 30


@given(layers=st.integers(MAX_LAYERS + 1, 10 ** 9))
@settings(max_examples=10, deadline=None)
def test_layer_caps(layers):
    from qnlp.compiler import make_ansatz
    from qnlp.models.quantum_layers import ParallelQuantumLayer
    from qnlp.models.sequence import SequenceClassifier
    from qnlp.models.vqc import VariationalCircuit
    from qnlp.models.kernel import QuantumKernel
    for build in (lambda: make_ansatz('sim4', layers=layers),
                  lambda: SequenceClassifier(['A'], layers=layers),
                  lambda: VariationalCircuit(2, reps=layers),
                  lambda: VariationalCircuit(2, feature_reps=layers),
                  lambda: QuantumKernel(n_qubits=2, reps=layers),
                  lambda: ParallelQuantumLayer(n_layers=layers)):
        with pytest.raises(ConfigError, match=f'{layers} is above the '
                                              f'limit of {MAX_LAYERS}'):
            build()


def test_qubit_caps():
    from qnlp.models.kernel import QuantumKernel
    from qnlp.models.quantum_layers import ParallelQuantumLayer
    from qnlp.models.sequence import SequenceClassifier
    from qnlp.models.vqc import VariationalCircuit
    with pytest.raises(ConfigError, match=f'{MAX_SEQUENCE_QUBITS + 1} is '
                                          'above the limit'):
        SequenceClassifier(['A'], qubits=MAX_SEQUENCE_QUBITS + 1)
    SequenceClassifier(['A'], qubits=MAX_SEQUENCE_QUBITS, layers=1)
    for build in (VariationalCircuit, lambda n: QuantumKernel(n_qubits=n),
                  lambda n: ParallelQuantumLayer(n_qubits=n)):
        with pytest.raises(ConfigError, match=f'{MAX_DENSE_QUBITS}'):
            build(MAX_DENSE_QUBITS + 1)


def test_exact_simulation_cap():
    from lambeq.backend.quantum import Ket
    from qnlp.compiler import CompiledCircuit
    wide = CompiledCircuit.from_lambeq(
        Ket(*[0] * (MAX_STATEVECTOR_QUBITS + 1)))
    assert not wide.simulable
    with pytest.raises(CompileError, match='above the limit of '
                                           f'{MAX_STATEVECTOR_QUBITS}'):
        wide.probabilities()


# -- the atomic writer -------------------------------------------------------

@given(old=st.binary(max_size=64), new=st.binary(max_size=64),
       fail=st.booleans())
@settings(max_examples=30, deadline=None)
def test_atomic_path_gives_old_or_new_and_no_temporary(old, new, fail):
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / 'data.bin'
        target.write_bytes(old)
        try:
            with atomic_path(target) as temporary:
                temporary.write_bytes(new[:len(new) // 2])
                if fail:
                    raise RuntimeError('failure mid-write')
                temporary.write_bytes(new)
        except RuntimeError:
            pass
        assert target.read_bytes() == (old if fail else new)
        assert _listing(Path(folder)) == ['data.bin']


def test_save_state_failure_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    from qnlp.train import state
    path = tmp_path / 'checkpoint.safetensors'
    state.save_state(path, {'epoch': 1, 'w': torch.ones(2)})

    def half_then_crash(tensors, filename, metadata=None):
        Path(filename).write_bytes(b'half')
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(state, 'save_file', half_then_crash)
    with pytest.raises(OSError):
        state.save_state(path, {'epoch': 2, 'w': torch.zeros(2)})
    assert state.load_state(path)['epoch'] == 1
    assert _listing(tmp_path) == ['checkpoint.safetensors']


def test_kill_mid_write_then_remove_stale_temporaries(tmp_path):
    target = tmp_path / 'weights.safetensors'
    target.write_bytes(b'old')
    code = ("import sys, time\n"
            "from qnlp.files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as temporary:\n"
            "    temporary.write_bytes(b'half')\n"
            "    print('writing', flush=True)\n"
            "    time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, '-c', code, str(target)],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, 'PYTHONPATH': str(ROOT)})
    try:
        assert child.stdout.readline() == 'writing\n'
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    stale = [p for p in tmp_path.iterdir() if p != target]
    assert len(stale) == 1 and TEMPORARY_NAME.fullmatch(stale[0].name)
    assert target.read_bytes() == b'old'
    assert remove_stale_temporaries(tmp_path) == stale
    assert _listing(tmp_path) == ['weights.safetensors']


@given(names=st.lists(st.from_regex(r'[.a-z_]{1,12}(\.[a-z0-9_]{8}\.tmp)?',
                                    fullmatch=True), unique=True,
                      max_size=8))
@settings(max_examples=30, deadline=None)
def test_remove_stale_temporaries_removes_only_its_own(names):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        names = [n for n in names if n not in ('.', '..')]
        for name in names:
            (folder / name).write_bytes(b'')
        atomic_write_bytes(folder / 'kept.bin', b'x')
        removed = {p.name for p in remove_stale_temporaries(folder)}
        assert removed == {n for n in names if TEMPORARY_NAME.fullmatch(n)}
        assert set(_listing(folder)) == \
            (set(names) - removed) | {'kept.bin'}
