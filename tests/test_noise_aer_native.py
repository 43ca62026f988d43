"""``qnlp evaluate RUN DATA --backend aer --noise P``: the same noise
model on the same native gates with and without ``--mitigate zne``, so
Aer applies the one-qubit errors too and both agree shot for shot.

(End to end on a trained run, ~30 s, too slow for the suite:
``/work/notes/s13/runs/noise2/e2e_aer_native_check.py`` checks that the
plain run's shot probabilities equal ``--mitigate zne``'s ``noisy``
column at the same seed.)"""
from functools import partial

import pytest
from pytket import Circuit

import qnlp.engine.backends
from qnlp.cli import main
from qnlp.engine.jobs import run_jobs
from qnlp.noise.devices import NativeGates
from qnlp.noise.folding import FoldingBackend


@pytest.fixture
def recorded(monkeypatch):
    """The CLI's backend objects and folders, with a 2-qubit noise model
    (building the 16-qubit one takes a second) and nothing run."""
    import qnlp.noise.folding
    import qnlp.tasks.backend
    seen = []
    monkeypatch.setattr(qnlp.engine.backends, 'depolarizing_noise', partial(
        qnlp.engine.backends.depolarizing_noise, n_qubits=2))
    monkeypatch.setattr(qnlp.tasks.backend, 'evaluate_on_backend',
                        lambda run, data, **kw: seen.append(kw) or {})
    monkeypatch.setattr(qnlp.tasks.backend, 'format_backend_report',
                        lambda result: '')
    monkeypatch.setattr(qnlp.noise.folding, 'evaluate_zne_on_backend',
                        lambda run, data, backend, label, *a, **kw:
                        seen.append({'backend_object': backend,
                                     'backend': label}) or {})
    monkeypatch.setattr('qnlp.noise.evaluate.format_noise_report',
                        lambda result: '')
    return seen


def test_plain_and_mitigated_runs_get_the_same_native_noisy_aer(recorded):
    for more in ([], ['--mitigate', 'zne']):
        assert main(['evaluate', 'RUN', 'DATA', '--backend', 'aer',
                     '--noise', '0.3', '--quiet', *more]) == 0
    plain, zne = recorded
    assert plain['backend'] == zne['backend'] == 'aer-noise0.3-native'
    assert plain['noise'] == 0.3        # recorded in the report
    for found in (plain, zne):
        assert isinstance(found['backend_object'], NativeGates)
    assert plain['backend_object'].gates == zne['backend_object'].gates


def test_native_gates_carry_the_one_qubit_errors(tmp_path):
    """An X alone: 30 % depolarizing flips it back 15 % of the time on
    the native gates, never on pytket's TK1 (which has no error); at
    scale 1 the folding backend runs exactly the same shots."""
    model = qnlp.engine.backends.depolarizing_noise(0.3, n_qubits=1)
    aer = qnlp.engine.backends.get_backend('aer', {'noise_model': model})
    native = NativeGates(aer, model)
    circuit = Circuit(1, 1).X(0).Measure(0, 0)

    def zeros(backend, name):
        [counts] = run_jobs(backend, [circuit], 2000, tmp_path / name,
                            seed=5).counts
        return counts, sum(n for bits, n in counts.items()
                           if not any(bits))
    (plain, flips), (folded, _) = zeros(native, 'n'), \
        zeros(FoldingBackend(native, 1), 'f')
    assert plain == folded and 200 < flips < 400    # expected 300
    assert zeros(aer, 'tk1')[1] == 0
