"""Zero-noise extrapolation on shots: mitiq's folding of the circuits a
backend runs, native gates of a noise model, and the extrapolated report."""
import json

import numpy as np
import pytest
from pytket import Circuit, OpType, Qubit

from qnlp.errors import ConfigError
from qnlp.noise.folding import FoldingBackend, evaluate_zne_on_backend, fold


def _placed(measured: bool) -> Circuit:
    """A circuit on device-like qubits with gaps (node[0], node[4],
    node[9]), as a backend's compilation leaves it."""
    circuit = Circuit(3, 3) if measured else Circuit(3)
    circuit.Rx(0.3, 0).Ry(0.7, 1).CX(0, 1).Rz(0.2, 2).CX(1, 2).H(0)
    if measured:
        for q in range(3):
            circuit.Measure(q, q)
    circuit.rename_units({Qubit(i): Qubit('node', n)
                          for i, n in enumerate((0, 4, 9))})
    return circuit


@pytest.mark.parametrize('method', ['gates', 'global'])
def test_fold_keeps_names_and_the_unitary(method):
    circuit = _placed(measured=False)
    folded = fold(circuit, 3, method)
    assert folded.qubits == circuit.qubits
    assert folded.n_2qb_gates() == 3 * circuit.n_2qb_gates()
    a, b = circuit.get_unitary(), folded.get_unitary()
    phase = np.vdot(a.ravel(), b.ravel()) / np.vdot(a.ravel(), a.ravel())
    assert np.allclose(b, phase * a, atol=1e-9) and abs(abs(phase) - 1) < 1e-9
    measured = fold(_placed(measured=True), 5, method)
    assert measured.bits == _placed(measured=True).bits
    with pytest.raises(ConfigError, match='unknown folding'):
        fold(circuit, 3, 'channels')


def test_folds_survive_compilation_to_the_noise_models_gates():
    from qnlp.engine.backends import get_backend
    from qnlp.noise import parse_noise
    from qnlp.noise.devices import NativeGates
    model = parse_noise('0.01').to_aer_native(n_qubits=3)
    native = NativeGates(get_backend('aer', {'noise_model': model}), model)
    circuit = Circuit(3, 3).Rx(0.3, 0).CX(0, 1).Ry(0.4, 2).CX(1, 2)
    for q in range(3):
        circuit.Measure(q, q)
    [plain] = FoldingBackend(native, 1).get_compiled_circuits([circuit])
    [folded] = FoldingBackend(native, 3).get_compiled_circuits([circuit])
    assert {g.op.type for g in folded} <= {OpType.CX, OpType.Rz, OpType.SX,
                                           OpType.X, OpType.Measure}
    assert folded.n_2qb_gates() == 3 * plain.n_2qb_gates() == 6
    assert native.valid_circuit(folded)


class _Trained:
    labels = ['no', 'yes']


def _canned(monkeypatch, tmp_path, joint_of_scale):
    """``evaluate_on_backend`` replaced by rows whose joint probabilities
    are ``joint_of_scale(scale)`` (two sentences, two classes)."""
    import qnlp.tasks.backend
    import qnlp.tasks.runner
    calls = []

    def fake(run_dir, data, backend, shots, seed, backend_object, **kw):
        calls.append((backend, backend_object.scale))
        joint = joint_of_scale(backend_object.scale)
        kept = joint.sum(1) * shots
        rows = [{'text': f's{k}', 'label': ['no', 'yes'][k],
                 'exact': [0.8, 0.2] if k == 0 else [0.3, 0.7],
                 'shots': (joint[k] / joint[k].sum()).tolist(),
                 'kept': kept[k]} for k in range(2)]
        return {'sentences': rows, 'jobs_file': f'{backend}/jobs.json',
                'summary': {'kept_fraction': float(joint.sum(1).mean())}}
    monkeypatch.setattr(qnlp.tasks.backend, 'evaluate_on_backend', fake)
    monkeypatch.setattr(qnlp.tasks.runner, 'load_trained',
                        lambda run: _Trained())
    return calls


def test_joint_probabilities_are_extrapolated_and_renormalised(
        monkeypatch, tmp_path):
    clean = np.array([[0.4, 0.1], [0.15, 0.35]])     # classes 0.8/0.2 ...

    def joint(scale):   # each joint decays linearly towards 0.25 / 2
        return clean + 0.02 * scale * (0.125 - clean)
    calls = _canned(monkeypatch, tmp_path, joint)
    result = evaluate_zne_on_backend(tmp_path, 'data.txt', object(),
                                     'aer-noise0.01', shots=1000)
    assert calls == [('aer-noise0.01-zne-gates-x1', 1),
                     ('aer-noise0.01-zne-gates-x3', 3),
                     ('aer-noise0.01-zne-gates-x5', 5)]
    summary = result['summary']
    assert summary['mae_mitigated'] < 1e-9 < summary['mae_noisy']
    assert summary['accuracy_mitigated'] == 1.0
    assert summary['total_shots'] == 1000 * 2 * 3
    written = json.loads((tmp_path / 'backend' / 'aer-noise0.01-zne-gates'
                          / 'results.json').read_text())
    assert written['examples'][1]['mitigated'] == pytest.approx([0.3, 0.7])


def test_classes_must_fill_the_sentence_qubits(monkeypatch, tmp_path):
    _canned(monkeypatch, tmp_path, lambda s: None)
    _Trained.labels = ['a', 'b', 'c']
    try:
        with pytest.raises(ConfigError, match=r'power of 2\), got 3 classes'):
            evaluate_zne_on_backend(tmp_path, 'd', object(), 'aer', 100)
    finally:
        _Trained.labels = ['no', 'yes']


@pytest.mark.parametrize('flags, message', [
    (['--mitigate', 'zne-nn'], '--mitigate zne-nn runs on the exact'),
    (['--mitigate', 'zne', '--amplify', 'channels'],
     '--amplify channels scales'),
])
def test_cli_refuses_what_shots_cannot_do(flags, message, capsys):
    from qnlp.cli.main import main
    assert main(['evaluate', 'RUN', 'DATA', '--backend', 'aer', '--noise',
                 '0.01', *flags]) == 2
    assert message in capsys.readouterr().err
