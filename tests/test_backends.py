"""Quantum backends: names, the resumable job store, cost confirmation,
and a trained run on qiskit-aer beside the exact engine. Offline."""
from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from pytket import Circuit
from pytket.extensions.qiskit import AerBackend

from qnlp.cli.main import main
from qnlp.compiler import CompiledCircuit
from qnlp.engine.backends import backend_label, get_backend, is_remote
from qnlp.engine.jobs import JobStore, circuit_key, run_jobs
from qnlp.engine.shots import counts_to_distribution
from qnlp.errors import BackendError, CheckpointError
from qnlp.noise import parse_noise

from .conftest import ROOT

TEST_FILE = ROOT / 'corpora' / 'meaning' / 'test.txt'


class Interrupted(Exception):
    """Stands for a kill in the middle of a run."""


class CountingAer(AerBackend):
    """Aer that counts the circuits it is given and can fail on demand."""
    submitted: list[int] = []
    fail_submission_at: int | None = None

    def process_circuits(self, circuits, n_shots=None, valid_check=True,
                         **kwargs):
        circuits = list(circuits)
        if CountingAer.fail_submission_at == len(CountingAer.submitted):
            raise RuntimeError('connection lost')
        CountingAer.submitted.append(len(circuits))
        return super().process_circuits(circuits, n_shots, valid_check,
                                        **kwargs)


class FakeRemote(CountingAer):
    """A 'cloud' backend: results live in a service shared by every
    instance (persistent handles), as with IBM's job ids."""
    _persistent_handles = True
    service: dict[str, object] = {}
    fail_retrieval = False

    def process_circuits(self, circuits, n_shots=None, valid_check=True,
                         **kwargs):
        handles = super().process_circuits(circuits, n_shots, valid_check,
                                           **kwargs)
        for handle in handles:
            FakeRemote.service[str(handle)] = super().get_result(handle)
        return handles

    def get_result(self, handle, **kwargs):
        if FakeRemote.fail_retrieval:
            raise Interrupted('killed while waiting')
        try:
            return FakeRemote.service[str(handle)]
        except KeyError:
            raise RuntimeError(f'unknown job {handle}') from None


@pytest.fixture(autouse=True)
def _reset():
    CountingAer.submitted, CountingAer.fail_submission_at = [], None
    FakeRemote.service, FakeRemote.fail_retrieval = {}, False


def _circuits(n: int = 6) -> list[Circuit]:
    """Distinct two-qubit circuits, qubit 0 post-selected on 0."""
    result = []
    for i in range(n):
        c = Circuit(2, 2).Ry(0.1 + 0.3 * i, 0).CX(0, 1).Rx(0.2 * i, 0)
        result.append(c.measure_all())
    return result


def _exact(circuit: Circuit) -> np.ndarray:
    """Post-selected distribution of bit 1 given bit 0 = 0 (statevector)."""
    gates = Circuit(2)
    for command in circuit.get_commands():
        if command.op.get_name() != 'Measure':
            gates.add_gate(command.op, command.qubits)
    state = gates.get_statevector().reshape(2, 2)   # qubit 0 first
    probs = np.abs(state[0]) ** 2
    return probs / probs.sum()


# -- backends by name ----------------------------------------------------
def test_aer_by_name_and_labels():
    backend = get_backend('aer')
    assert isinstance(backend, AerBackend) and not is_remote(backend)
    noisy = get_backend('aer', noise=parse_noise('0.05'), n_qubits=2)
    assert noisy.backend_info.architecture.nodes
    assert backend_label('ibm:ibm_kyiv') == 'ibm-ibm_kyiv'
    # not 'aer-noise0.05': jobs of the older model (one-qubit rate P)
    # are not reused
    assert backend_label('aer', parse_noise('0.05')) \
        == 'aer-noisep1=0.005,p2=0.05-native'
    assert backend_label('aer', parse_noise('p2=0')) == 'aer'
    # the folding's per-scale folders keep the label as it is
    scale = backend_label('aer', parse_noise('0.05')) + '-zne-gates-x3'
    assert backend_label(scale) == scale
    generic = get_backend('pytket.extensions.qiskit:AerBackend',
                          {'n_qubits': 5})
    assert isinstance(generic, AerBackend)


def test_ibm_without_token_is_a_clear_error(monkeypatch):
    import qiskit_ibm_runtime

    def no_network(*args, **kwargs):
        raise AssertionError('tried to reach IBM Quantum')
    monkeypatch.setattr(qiskit_ibm_runtime, 'QiskitRuntimeService',
                        no_network)
    for variable in ('QISKIT_IBM_TOKEN', 'IBM_QUANTUM_TOKEN'):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(BackendError, match='QISKIT_IBM_TOKEN'):
        get_backend('ibm:ibm_brisbane')
    with pytest.raises(BackendError, match='needs a device'):
        get_backend('ibm')


def test_unknown_and_missing_backends():
    with pytest.raises(BackendError, match='unknown backend'):
        get_backend('warp-drive')
    with pytest.raises(BackendError, match='no device'):
        get_backend('aer:fast')
    with pytest.raises(BackendError, match='aer backend only'):
        get_backend('qulacs', noise=parse_noise('0.1'))
    with pytest.raises(BackendError, match='pip install pytket-nowhere'):
        get_backend('pytket.extensions.nowhere:NowhereBackend')
    with pytest.raises(BackendError, match='bad options'):
        get_backend('aer', {'colour': 'blue'})


# -- job store -----------------------------------------------------------
def test_counts_match_the_exact_distribution(tmp_path):
    circuits = _circuits()
    outcome = run_jobs(CountingAer(), circuits, 4000,
                       JobStore(tmp_path / 'jobs.json'), batch_size=4)
    assert CountingAer.submitted == [4, 2]
    for circuit, counts in zip(circuits, outcome.counts):
        assert sum(counts.values()) == 4000
        probs, kept = counts_to_distribution(counts, {0: 0}, [1])
        exact = _exact(circuit)
        bound = 5 * np.sqrt(exact * (1 - exact) / kept) + 1e-9
        assert np.all(np.abs(probs - exact) <= bound + 0.01)


def test_killed_after_first_batch_resumes_without_rerunning_it(tmp_path):
    circuits = _circuits()
    reference = run_jobs(CountingAer(), circuits, 500,
                         JobStore(tmp_path / 'whole.json'), batch_size=2,
                         seed=3).counts
    CountingAer.submitted = []
    path = tmp_path / 'jobs.json'

    def kill(batch):
        raise Interrupted(f"killed after batch {batch['id']}")
    with pytest.raises(Interrupted):   # all three batches in flight
        run_jobs(CountingAer(), circuits, 500, JobStore(path),
                 batch_size=2, seed=3, on_batch=kill, in_flight=3)
    stored = json.loads(path.read_text())
    assert [b['status'] for b in stored['batches']] == \
        ['finished', 'submitted', 'submitted']
    CountingAer.submitted = []
    resumed = run_jobs(CountingAer(), circuits, 500, JobStore(path),
                       batch_size=2, seed=3)
    # local simulator: the two unretrieved batches died with the process
    assert resumed.report.batches == {'reused': 1, 'recovered': 0,
                                      'resubmitted': 2, 'submitted': 0}
    assert resumed.report.circuits['reused'] == 2
    assert CountingAer.submitted == [2, 2]     # never the finished batch
    assert resumed.counts == reference         # same seeds, same counts
    again = run_jobs(CountingAer(), circuits, 500, JobStore(path))
    assert again.report.circuits['reused'] == 6
    assert CountingAer.submitted == [2, 2]


def test_remote_jobs_are_recovered_by_handle(tmp_path):
    circuits = _circuits(5)
    path = tmp_path / 'jobs.json'
    FakeRemote.fail_retrieval = True     # killed while waiting for results
    with pytest.raises(BackendError, match='rerun to pick the jobs up'):
        run_jobs(FakeRemote(), circuits, 200, JobStore(path), batch_size=2,
                 confirm_above=None)
    assert CountingAer.submitted == [2, 2, 1]
    FakeRemote.fail_retrieval = False
    resumed = run_jobs(FakeRemote(), circuits, 200, JobStore(path),
                       batch_size=2)
    assert resumed.report.circuits == {'reused': 0, 'recovered': 5,
                                       'resubmitted': 0, 'submitted': 0}
    assert CountingAer.submitted == [2, 2, 1]  # nothing paid twice
    assert all(sum(c.values()) == 200 for c in resumed.counts)


def test_forgotten_remote_jobs_and_half_submitted_batches(tmp_path):
    circuits = _circuits(4)
    path = tmp_path / 'jobs.json'
    CountingAer.fail_submission_at = 1     # the second batch is refused
    with pytest.raises(BackendError, match='not accepted'):
        run_jobs(FakeRemote(), circuits, 100, JobStore(path), batch_size=2)
    assert [b['status'] for b in json.loads(path.read_text())['batches']] \
        == ['submitted', 'submitting']
    CountingAer.fail_submission_at = None
    FakeRemote.service = {}                # the service lost every job
    with pytest.raises(BackendError, match='--resubmit-lost'):
        run_jobs(FakeRemote(), circuits, 100, JobStore(path), batch_size=2)
    assert CountingAer.submitted == [2]    # nothing paid twice unasked
    resumed = run_jobs(FakeRemote(), circuits, 100, JobStore(path),
                       batch_size=2, resubmit_lost=True)
    assert resumed.report.batches['resubmitted'] == 2
    assert resumed.report.circuits['submitted'] == 0
    assert len(resumed.report.warnings) == 2
    assert any('being submitted' in w for w in resumed.report.warnings)


def test_corrupt_job_store_names_the_file(tmp_path):
    path = tmp_path / 'jobs.json'
    path.write_text('{"format": "qnlp-jobs", "batches": [')
    with pytest.raises(CheckpointError, match=str(path)):
        run_jobs(CountingAer(), _circuits(1), 10, path)
    path.write_text(json.dumps({'format': 'qnlp-jobs', 'version': 1,
                                'batches': [{'id': 0}], 'results': {}}))
    with pytest.raises(CheckpointError, match='not a qnlp job store'):
        JobStore(path)
    assert CountingAer.submitted == []


def test_cost_above_threshold_needs_confirmation(tmp_path):
    circuits = _circuits(3)
    path = tmp_path / 'jobs.json'
    with pytest.raises(BackendError, match=r'3 circuits x 100 shots = 300 '
                                           r'shots.*--yes'):
        run_jobs(CountingAer(), circuits, 100, JobStore(path),
                 confirm_above=299)
    seen = []
    with pytest.raises(BackendError, match='declined'):
        run_jobs(CountingAer(), circuits, 100, JobStore(path),
                 confirm_above=299, confirm=lambda e: seen.append(e) or False)
    assert seen[0].total_shots == 300 and CountingAer.submitted == []
    outcome = run_jobs(CountingAer(), circuits, 100, JobStore(path),
                       confirm_above=299, confirm=lambda e: True)
    assert outcome.estimate.circuits == 3
    # everything finished: nothing left to pay, nothing to confirm
    assert run_jobs(CountingAer(), circuits, 100, JobStore(path),
                    confirm_above=0).estimate.total_shots == 0


def test_circuit_key_is_content_and_shots():
    a, b = _circuits(2)
    assert circuit_key(a, 10) != circuit_key(b, 10)
    assert circuit_key(a, 10) != circuit_key(a, 11)


# -- a trained run on Aer --------------------------------------------------
@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
    from qnlp.tasks import train
    from qnlp.tasks.sentences import SentenceSettings
    run = tmp_path_factory.mktemp('run')
    train('sentences', ROOT / 'corpora' / 'meaning', run,
                          SentenceSettings(epochs=3), progress=False)
    corpus = tmp_path_factory.mktemp('corpus') / 'few.txt'
    corpus.write_text(''.join(TEST_FILE.read_text().splitlines(True)[:8]))
    return run, corpus


@pytest.fixture
def tiny_corpus(tmp_path):
    corpus = tmp_path / 'tiny.txt'
    corpus.write_text(''.join(TEST_FILE.read_text().splitlines(True)[:4]))
    return corpus


def test_trained_run_on_aer_beside_exact(trained_run, tmp_path):
    from qnlp.tasks.backend import evaluate_on_backend
    from qnlp.tasks.sentences import load_sentence_run
    run, corpus = trained_run
    result = evaluate_on_backend(run, corpus, shots=20000, batch_size=3,
                                 progress=False)
    summary = result['summary']
    assert summary['sentences'] == 8
    assert result['jobs']['batches']['submitted'] == 3
    report = load_sentence_run(run).evaluate(corpus)
    assert summary['accuracy_exact'] == pytest.approx(report['accuracy'])
    for row in result['sentences']:
        exact, shots = np.array(row['exact']), np.array(row['shots'])
        bound = 5 * np.sqrt(exact * (1 - exact) / row['kept']) + 0.01
        assert np.all(np.abs(shots - exact) <= bound)
        # shots kept ~ the exact post-selection success probability
        p = row['success_probability']
        assert abs(row['kept'] / 20000 - p) <= \
            5 * np.sqrt(p * (1 - p) / 20000) + 1e-3
    written = json.loads((run / 'backend' / 'aer' / 'results.json')
                         .read_text())
    assert written['summary']['accuracy_shots'] == summary['accuracy_shots']


def test_trained_run_killed_and_resumed(trained_run, tmp_path):
    from qnlp.tasks.backend import evaluate_on_backend
    run, corpus = trained_run
    fresh = tmp_path / 'run'
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns('backend'))
    options = dict(shots=300, batch_size=3, seed=5, progress=False,
                   candidates=('tket',))

    def kill(batch):
        if batch['id'] == 1:
            raise Interrupted('SIGKILL')
    with pytest.raises(Interrupted):
        evaluate_on_backend(fresh, corpus, on_batch=kill, **options)
    resumed = evaluate_on_backend(fresh, corpus, **options)
    # a local simulator keeps one batch in flight: nothing was lost
    assert resumed['jobs']['batches'] == {'reused': 2, 'recovered': 0,
                                          'resubmitted': 0, 'submitted': 1}
    assert resumed['jobs']['circuits']['reused'] == 6
    assert all(row['kept'] > 0 for row in resumed['sentences'])


def test_cli_refuses_costly_run_without_yes(trained_run, tiny_corpus,
                                            tmp_path, capsys, monkeypatch):
    run, _ = trained_run
    corpus = tiny_corpus
    fresh = tmp_path / 'run'
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns('backend'))
    monkeypatch.setattr('sys.stdin', io.StringIO(''))
    args = ['evaluate', str(fresh), str(corpus), '--backend', 'aer',
            '--shots', '500', '--confirm-above', '1000', '--quiet']
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith('qnlp: submitting 4 circuits x 500 shots')
    assert err.count('\n') == 2 and '--yes' in err and '2,000 shots' in err
    assert not (fresh / 'backend' / 'aer' / 'results.json').exists()

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr('sys.stdin', Terminal('n\n'))
    assert main(args) == 2
    assert 'declined' in capsys.readouterr().err
    monkeypatch.setattr('sys.stdin', io.StringIO(''))
    assert main(args + ['--yes']) == 0
    out = capsys.readouterr().out
    assert 'submitted 4' in out and 'accuracy  exact' in out
    assert main(args) == 0            # all reused: nothing to confirm
    assert 'reused 4' in capsys.readouterr().out


def test_cli_ibm_without_token(trained_run, capsys, monkeypatch):
    run, corpus = trained_run
    for variable in ('QISKIT_IBM_TOKEN', 'IBM_QUANTUM_TOKEN'):
        monkeypatch.delenv(variable, raising=False)
    assert main(['evaluate', str(run), str(corpus), '--backend',
                 'ibm:ibm_brisbane']) == 2
    assert 'QISKIT_IBM_TOKEN' in capsys.readouterr().err


def test_tensor_ansatz_runs_are_refused(trained_run, tmp_path):
    from qnlp.errors import ConfigError
    from qnlp.tasks.backend import evaluate_on_backend
    run, corpus = trained_run
    fresh = tmp_path / 'run'
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns('backend'))
    config = json.loads((fresh / 'config.json').read_text())
    for ansatz, reason in (('spider', 'tensor network'),
                           ('diagonal', "keeps the grammar's cups")):
        config['settings']['ansatz'] = ansatz
        (fresh / 'config.json').write_text(json.dumps(config))
        with pytest.raises(ConfigError, match=reason):
            evaluate_on_backend(fresh, corpus, progress=False)


def test_compiled_circuit_helper_agrees_with_job_store(tmp_path):
    from lambeq.backend.quantum import Ket, CX, Bra, Id, Rx
    compiled = CompiledCircuit.from_lambeq(
        Ket(0, 0) >> Rx(0.2) @ Id(1) >> CX >> Bra(0) @ Id(1))
    [counts] = run_jobs(get_backend('aer'), [compiled.to_tket()], 3000,
                        tmp_path / 'jobs.json').counts
    probs, kept = counts_to_distribution(counts, compiled.postselect,
                                         compiled.outputs)
    assert kept > 0
    assert np.allclose(probs, compiled.probabilities(), atol=0.05)


def test_backend_reads_the_corpus_as_the_run_did(tmp_path):
    """A run trained on a CSV with its own column names is run on a
    backend with the same file: the run's format settings read it."""
    import csv
    from qnlp.tasks import train
    from qnlp.tasks.backend import evaluate_on_backend
    from qnlp.tasks.sentences import SentenceSettings
    rows = [line.split(None, 1) for line in
            TEST_FILE.read_text().splitlines() if line.strip()]
    data = tmp_path / 'reviews.csv'
    with data.open('w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['words', 'tag'])
        writer.writerows([text.strip(), label] for label, text in rows)
    run = tmp_path / 'run'
    train('sentences', data, run,
          SentenceSettings(epochs=1, split=(0.6, 0.2, 0.2),
                           text_column='words', label_column='tag'),
          progress=False)
    result = evaluate_on_backend(run, data, shots=64, batch_size=16,
                                 progress=False)
    assert result['summary']['sentences'] == len(rows)


def test_noise_is_refused_off_aer_also_for_a_backend_class():
    """``noise`` on a MODULE:CLASS backend was silently dropped."""
    from qnlp.errors import BackendError
    from qnlp.noise import parse_noise
    with pytest.raises(BackendError, match="aer backend only"):
        get_backend('pytket.extensions.qiskit:AerBackend',
                    noise=parse_noise('0.01'))


def test_noisy_aer_has_one_width_on_every_entry_point(trained_run, tmp_path,
                                                     monkeypatch):
    """The Python API (``evaluate_on_backend(noise=...)``) built its noise
    model on the circuits' width while the CLI built it on 16 qubits and
    widened, under one job folder: the same jobs met two simulators."""
    import argparse

    import qnlp.engine.backends as backends
    from qnlp.cli.backend import _device
    from qnlp.noise import parse_noise
    from qnlp.tasks.backend import evaluate_on_backend
    built = []

    def recording(*args, **kwargs):
        backend = real(*args, **kwargs)
        built.append(backend)
        return backend
    real = backends.get_backend
    monkeypatch.setattr(backends, 'get_backend', recording)
    run, corpus = trained_run
    fresh = tmp_path / 'run'
    shutil.copytree(run, fresh, ignore=shutil.ignore_patterns('backend'))
    evaluate_on_backend(fresh, corpus, shots=10, batch_size=8, seed=1,
                        noise=parse_noise('0.01'), progress=False)
    _, cli_backend, _ = _device(
        argparse.Namespace(backend='aer', noise='0.01'), {})
    [api_backend] = built[:1]
    assert len(api_backend.noise_model.noise_qubits) \
        == len(cli_backend.noise_model.noise_qubits) == backends.NOISE_QUBITS
