"""``qnlp evaluate RUN DATA --backend aer --noise SPEC``: the exact
engine's noise model (:func:`qnlp.noise.parse_noise`, so ``P`` is
``p2=P, p1=P/10``) on native gates, the same with and without
``--mitigate zne``, so Aer applies the one-qubit errors too and both
agree shot for shot.

(End to end on a trained run, ~30 s, too slow for the suite: a one-off
check in session 13 found the plain run's shot probabilities equal to
``--mitigate zne``'s ``noisy`` column at the same seed.)"""
import math
from functools import partial

import pytest
import torch
from hypothesis import given, settings, strategies as st
from pytket import Circuit

import qnlp.engine.backends
from qnlp.cli import main
from qnlp.engine.jobs import run_jobs
from qnlp.noise import NoiseSpec, NoisyBatch, NoisyCircuit, parse_noise
from qnlp.noise.devices import NativeGates
from qnlp.noise.folding import FoldingBackend


@pytest.fixture
def recorded(monkeypatch):
    """The CLI's backend objects and folders, with a 2-qubit noise model
    by default (building the 16-qubit one takes a second) and nothing
    run."""
    import qnlp.noise.folding
    import qnlp.tasks.backend
    seen = []
    monkeypatch.setattr(qnlp.engine.backends, 'get_backend', partial(
        qnlp.engine.backends.get_backend, n_qubits=2))
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


def _native(spec: NoiseSpec, n_qubits: int = 1) -> NativeGates:
    model = spec.to_aer_native(n_qubits)
    aer = qnlp.engine.backends.get_backend('aer', {'noise_model': model})
    return NativeGates(aer, model)


def _zeros(backend, circuit, path, shots=2000):
    [counts] = run_jobs(backend, [circuit], shots, path, seed=5).counts
    return counts, sum(n for bits, n in counts.items() if not any(bits))


def test_plain_and_mitigated_runs_get_the_same_native_noisy_aer(recorded):
    for more in ([], ['--mitigate', 'zne']):
        assert main(['evaluate', 'RUN', 'DATA', '--backend', 'aer',
                     '--noise', '0.3', '--quiet', *more]) == 0
    plain, zne = recorded
    # a new folder: jobs of the older models (one-qubit rate P, in
    # aer-noise0.3 and aer-noise0.3-native) are not reused
    assert plain['backend'] == zne['backend'] \
        == 'aer-noisep1=0.03,p2=0.3-native'
    assert plain['noise'] == NoiseSpec(p1=0.03, p2=0.3) == parse_noise('0.3')
    for found in (plain, zne):
        assert isinstance(found['backend_object'], NativeGates)
    assert plain['backend_object'].gates == zne['backend_object'].gates
    assert len(plain['backend_object'].noise_model.noise_qubits) == 2


def test_channel_strengths_are_accepted_on_aer(recorded):
    assert main(['evaluate', 'RUN', 'DATA', '--backend', 'aer', '--noise',
                 'p2=0.01,readout=0.02', '--quiet']) == 0
    [found] = recorded
    assert found['backend'] == 'aer-noisep2=0.01,readout=0.02-native'
    assert found['noise'] == NoiseSpec(p2=0.01, readout=0.02)
    assert sorted(found['backend_object'].noise_model.noise_instructions) \
        == ['cx', 'measure']


@pytest.mark.parametrize('noise, message', [
    ('p3=1', "--noise: unknown channel 'p3'"),
    ('p2=2', '--noise: p2 must be in [0, 1]'),
    ('p1=x', '--noise: p1 needs a number'),
])
def test_a_bad_noise_spec_on_aer_is_one_line(noise, message, capsys):
    assert main(['evaluate', 'RUN', 'DATA', '--backend', 'aer', '--noise',
                 noise]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_native_gates_carry_the_one_qubit_errors(tmp_path):
    """An X alone at --noise 0.3 (p1 = 0.03): depolarizing flips it back
    1.5 % of the time on the native gates, never on pytket's TK1 (which
    has no error); at scale 1 the folding backend runs exactly the same
    shots."""
    native = _native(parse_noise('0.3'))
    circuit = Circuit(1, 1).X(0).Measure(0, 0)
    (plain, flips), (folded, _) = \
        _zeros(native, circuit, tmp_path / 'n', 8000), \
        _zeros(FoldingBackend(native, 1), circuit, tmp_path / 'f', 8000)
    assert plain == folded and 80 < flips < 160    # expected 120
    assert _zeros(native.backend, circuit, tmp_path / 'tk1')[1] == 0


def test_readout_errors_apply_per_qubit(tmp_path):
    """pytket's AerBackend refuses all-qubit readout errors; per qubit
    they apply: an X read as 0 a fifth of the time."""
    circuit = Circuit(1, 1).X(0).Measure(0, 0)
    _, zeros = _zeros(_native(parse_noise('readout=0.2')), circuit,
                      tmp_path / 'r')
    assert 330 < zeros < 470    # expected 400


# native gate -> the exact engine's gate (half-turns), up to a global phase
NATIVE_AS_ENGINE = {'sx': ('rx', 0.5), 'x': ('rx', 1.0)}


@st.composite
def native_circuits(draw):
    """Random 3-qubit circuits of sx, x, rz and cx."""
    ops = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(['sx', 'x', 'rz', 'cx']))
        if kind == 'cx':
            ops.append(('cx', tuple(draw(st.permutations(range(3)))[:2])))
        else:
            ops.append((kind, (draw(st.integers(0, 2)),),
                        draw(st.floats(-1, 1))))
    return ops


strengths = st.floats(0, 0.3)


@settings(max_examples=8, deadline=None)
@given(native_circuits(), strengths, strengths, strengths, strengths)
def test_the_native_model_is_the_exact_engines_channels(ops, p1, p2,
                                                        amplitude, phase):
    """Aer's density matrix under ``to_aer_native`` equals the exact
    engine's under the same :class:`NoiseSpec` (sx, x as rx of a quarter
    and half turn; rz noiseless in both)."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import DensityMatrix
    from qiskit_aer import AerSimulator
    spec = NoiseSpec(p1=p1, p2=p2, amplitude=amplitude, phase=phase)
    qc, engine = QuantumCircuit(3), []
    for name, qubits, *angle in ops:
        if name == 'rz':
            qc.rz(math.pi * angle[0], qubits[0])
            engine.append(('rz', qubits, angle[0]))
        elif name == 'cx':
            qc.cx(*qubits)
            engine.append(('cx', qubits))
        else:
            getattr(qc, name)(qubits[0])
            gate, turns = NATIVE_AS_ENGINE[name]
            engine.append((gate, qubits, turns))
    qc.save_density_matrix()
    simulator = AerSimulator(method='density_matrix',
                             noise_model=spec.to_aer_native(3))
    rho = DensityMatrix(simulator.run(qc).result().data()['density_matrix'])
    theirs = torch.as_tensor(rho.reverse_qargs().probabilities())
    circuit = NoisyCircuit.from_ops(3, engine, {}, [0, 1, 2])
    ours = NoisyBatch([circuit]).run(torch.zeros(0, dtype=torch.float64),
                                     spec).probabilities[0]
    assert torch.allclose(ours, theirs, atol=1e-8)


def test_depolarizing_runs_widen_to_the_circuits(recorded):
    """``--noise P`` is defined on any number of qubits: a circuit wider
    than the model's qubits (16, here 2) gets a model of its width
    (qiskit refused it: 'More virtual qubits (17) exist than physical
    (16)'), and runs there with the one-qubit errors."""
    assert main(['evaluate', 'RUN', 'DATA', '--backend', 'aer',
                 '--noise', 'p1=0.3', '--quiet']) == 0
    native = recorded[0]['backend_object']
    wide = Circuit(17, 1).X(16).Measure(16, 0)
    [compiled] = native.get_compiled_circuits([wide])
    assert len(native.noise_model.noise_qubits) == 17
    counts = native.run_circuit(compiled, n_shots=400, seed=5).get_counts()
    flipped_back = sum(n for bits, n in counts.items() if not any(bits))
    assert 20 < flipped_back < 110    # 15 % of 400 expected


def test_widening_keeps_the_results_of_circuits_already_submitted():
    """With jobs in flight, a wider circuit replaces the backend; a
    handle submitted before is still collected from the backend that ran
    it (it failed: 'has not been run by this backend instance')."""
    native = qnlp.engine.backends.get_backend(
        'aer', noise=parse_noise('0.01'), n_qubits=2)
    narrow = native.get_compiled_circuits(
        [Circuit(2, 2).X(0).measure_all()])
    [handle] = native.process_circuits(narrow, n_shots=50, seed=1)
    native.get_compiled_circuits([Circuit(3).CX(0, 1).CX(1, 2)])
    assert len(native.noise_model.noise_qubits) == 3       # widened
    assert sum(native.get_result(handle).get_counts().values()) == 50
