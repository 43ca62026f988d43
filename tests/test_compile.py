"""Compilation: equivalence with the engine, post-selection, exports, CLI.

Every compiled circuit is checked against the exact engine on the
*uncompiled* diagram: the post-selected output distribution (normalised,
as the DisCoCat model normalises) must agree to 1e-6 at random parameter
values. The compiled circuit is simulated by a plain statevector (pytket's
``get_statevector``) with the post-selection applied by indexing.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from lambeq.backend.quantum import (CRz, CX, Bra, H, Id, Ket, Rx, Rz)
from lambeq.backend.symbol import Symbol
from pytket import Circuit, OpType

import qnlp
from qnlp.compiler import CompiledCircuit, Compiler, corpus_stats
from qnlp.compiler.passes import (Artifact, BestOf, Bind, Cleanup,
                                  FullPeephole, PostSelect, PyZX, Rebase,
                                  ToTket, run)
from qnlp.compiler.postselect import resynthesise
from qnlp.engine import Engine, counts_to_distribution
from qnlp.errors import CompileError
from qnlp.parsing import Parser

MC_LIKE = ['woman cooks tasty meal', 'man prepares sauce',
           'skillful programmer runs application',
           'person bakes delicious dinner', 'man runs useful program']
RP_LIKE = ['person that prepares meal', 'device that skillful programmer runs',
           'organization that team join', 'program that man debugs']
SENTENCES = MC_LIKE + RP_LIKE


def engine_probabilities(circuit, values):
    engine = Engine.from_diagrams([circuit])
    weights = torch.tensor([values[name] for name in engine.symbols],
                           dtype=torch.float64)
    out = engine(weights, [circuit])[0].detach().numpy().reshape(-1)
    return out / out.sum()


def random_values(symbols, seed):
    rng = np.random.default_rng(seed)
    return {name: float(v) for name, v in zip(symbols, rng.random(len(symbols)))}


@pytest.fixture(scope='module')
def compiler():
    return Compiler(layers=2, parser=Parser())


@pytest.mark.parametrize('sentence', SENTENCES)
def test_compiled_matches_engine(compiler, sentence):
    circuit = compiler.circuit(sentence)
    symbolic = compiler.compile(circuit)
    values = random_values(symbolic.symbols, seed=len(sentence))
    expected = engine_probabilities(circuit, values)
    bound = compiler.compile(circuit, values)
    np.testing.assert_allclose(bound.probabilities(), expected, atol=1e-6)
    np.testing.assert_allclose(symbolic.bind(values).probabilities(),
                               expected, atol=1e-6)
    # the post-selection map is the uncompiled circuit's
    raw = CompiledCircuit.from_lambeq(circuit)
    assert bound.postselect == raw.postselect   # no wire relabelling
    assert sorted(symbolic.postselect.values()) == sorted(
        raw.postselect.values())
    assert bound.outputs == raw.outputs
    # the rewrite preserves norms, so the success probability is unchanged
    assert bound.success_probability() == pytest.approx(
        raw.bind(values).success_probability(), abs=1e-9)
    # never more two-qubit gates than the pytket baseline
    assert bound.stats['two_qubit_gates'] <= \
        bound.stats['candidates']['tket']


def test_every_candidate_is_equivalent(compiler):
    """Each candidate on its own, not just the winner."""
    for sentence in ['woman cooks tasty meal', 'person that prepares meal']:
        circuit = compiler.circuit(sentence)
        raw = CompiledCircuit.from_lambeq(circuit)
        values = random_values(raw.symbols, seed=3)
        expected = engine_probabilities(circuit, values)
        for passes in ([FullPeephole()], [PostSelect()], [PyZX()],
                       [PostSelect(), Cleanup()], [PostSelect(),
                                                   FullPeephole()]):
            artifact = run([ToTket(), Bind(values), *passes, Rebase()],
                           Artifact(circuit))
            got = CompiledCircuit.from_gates(artifact.circuit,
                                             artifact.postselect,
                                             artifact.outputs)
            np.testing.assert_allclose(got.probabilities(), expected,
                                       atol=1e-6, err_msg=str(passes))


def test_postselect_rewrite_saves_gates(compiler):
    circuit = compiler.circuit('man prepares sauce')
    raw = CompiledCircuit.from_lambeq(circuit)
    values = random_values(raw.symbols, seed=1)
    bound = compiler.compile(circuit, values)
    assert bound.stats['candidate'] == 'zx-postselect'
    # four controlled rotations of the verb: 8 CX in pytket, 4 here
    assert bound.stats['candidates']['tket'] == 8
    assert bound.stats['two_qubit_gates'] == 4


def test_two_qubit_sentence_wire_output_order():
    compiler = Compiler(layers=1, sentence_qubits=2, parser=Parser())
    circuit = compiler.circuit('woman cooks tasty meal')
    raw = CompiledCircuit.from_lambeq(circuit)
    values = random_values(raw.symbols, seed=5)
    expected = engine_probabilities(circuit, values)
    assert expected.shape == (4,)
    np.testing.assert_allclose(compiler.compile(circuit, values)
                               .probabilities(), expected, atol=1e-6)


def _random_lambeq_circuit(data, n):
    names = iter(f'x{i}' for i in range(1000))
    diagram = Ket(*([0] * n))
    for _ in range(data.draw(st.integers(4, 14))):
        kind = data.draw(st.sampled_from(['H', 'Rx', 'Rz', 'CRz', 'CX']))
        if kind in ('CRz', 'CX'):
            q = data.draw(st.integers(0, n - 2))
            gate = CRz(Symbol(next(names))) if kind == 'CRz' else CX
            if data.draw(st.booleans()):
                gate = gate.dagger() if kind == 'CRz' else gate
            diagram = diagram >> Id(q) @ gate @ Id(n - q - 2)
        else:
            q = data.draw(st.integers(0, n - 1))
            gate = H if kind == 'H' else \
                (Rx if kind == 'Rx' else Rz)(Symbol(next(names)))
            diagram = diagram >> Id(q) @ gate @ Id(n - q - 1)
    kept = data.draw(st.integers(0, n - 1))
    effects = [Id(1) if q == kept else Bra(data.draw(st.integers(0, 1)))
               for q in range(n)]
    layer = effects[0]
    for effect in effects[1:]:
        layer = layer @ effect
    return diagram >> layer


@settings(max_examples=25, deadline=None)
@given(data=st.data(), n=st.integers(2, 4), seed=st.integers(0, 1000))
def test_random_circuits(data, n, seed):
    circuit = _random_lambeq_circuit(data, n)
    raw = CompiledCircuit.from_lambeq(circuit)
    values = random_values(raw.symbols, seed)
    if raw.symbols:
        bound_raw = raw.bind(values)
    else:
        bound_raw = raw
    if bound_raw.success_probability() < 1e-6:
        return      # post-selection (almost) never succeeds
    expected = engine_probabilities(circuit, values) if raw.symbols else \
        bound_raw.probabilities()
    np.testing.assert_allclose(bound_raw.probabilities(), expected,
                               atol=1e-6)
    pipeline = [ToTket(), Bind(values), BestOf({
        'tket': [FullPeephole(), Rebase()],
        'zx-postselect': [PostSelect(), Cleanup(), Rebase()],
        'pyzx': [PyZX(), Cleanup(), Rebase()]})]
    artifact = run(pipeline, Artifact(circuit))
    for name in ('zx-postselect', 'pyzx'):
        single = run([ToTket(), Bind(values), *{
            'zx-postselect': [PostSelect()], 'pyzx': [PyZX()]}[name]],
            Artifact(circuit))
        got = CompiledCircuit.from_gates(single.circuit, single.postselect,
                                         single.outputs)
        np.testing.assert_allclose(got.probabilities(), expected, atol=1e-6)
        assert got.success_probability() == pytest.approx(
            bound_raw.success_probability(), abs=1e-8)
    best = CompiledCircuit.from_gates(artifact.circuit, artifact.postselect,
                                      artifact.outputs)
    np.testing.assert_allclose(best.probabilities(), expected, atol=1e-6)


def test_resynthesise_leaves_non_controlled_gates():
    circuit = Circuit(2).H(0).H(1).ZZPhase(0.3, 0, 1).Rx(0.2, 0)
    new = resynthesise(circuit, {0: 0})
    # ZZPhase is diagonal, hence controlled: one CZ
    assert new.n_gates_of_type(OpType.CZ) == 1
    swap = Circuit(2).H(0).SWAP(0, 1)
    assert resynthesise(swap, {0: 0}).n_gates_of_type(OpType.SWAP) == 1


def test_qnlp_compile_and_exports(tmp_path):
    compiled = qnlp.compile('man prepares sauce', layers=2)
    assert compiled.symbols and compiled.stats['candidate'] == 'tket'
    values = random_values(compiled.symbols, seed=2)
    bound = qnlp.compile('man prepares sauce', values, layers=2)
    assert bound.symbols == []
    tk = bound.to_tket()
    assert tk.n_qubits == tk.n_bits == 3
    assert tk.n_gates_of_type(OpType.Measure) == 3
    qc = bound.to_qiskit()
    assert qc.num_qubits == 3 and qc.num_clbits == 3
    path = bound.write_qasm(tmp_path / 'c.qasm')
    text = path.read_text()
    assert text.startswith('OPENQASM 2.0;') and 'post-select c[0]=0,c[2]=0' \
        in text
    assert [p.name for p in tmp_path.iterdir()] == ['c.qasm']
    from pytket.qasm import circuit_from_qasm
    back = circuit_from_qasm(str(path))
    gates = Circuit(back.n_qubits)
    for cmd in back.get_commands():
        if cmd.op.type != OpType.Measure:
            gates.add_gate(cmd.op, cmd.qubits)
    again = CompiledCircuit.from_gates(gates, bound.postselect, bound.outputs)
    np.testing.assert_allclose(again.probabilities(), bound.probabilities(),
                               atol=1e-6)
    data = bound.to_dict()
    assert data['postselect'] == {'0': 0, '2': 0}


def test_missing_values_and_text_without_parser():
    compiler = Compiler(layers=1)
    with pytest.raises(CompileError, match='parser'):
        compiler.compile('man prepares sauce')
    circuit = Compiler(layers=1, parser=Parser()).circuit('man prepares sauce')
    with pytest.raises(CompileError, match='no value'):
        compiler.compile(circuit, {'x': 0.1})
    with pytest.raises(CompileError, match='bind'):
        CompiledCircuit.from_lambeq(circuit).probabilities()


def test_shots_needed_and_success_probability():
    circuit = Ket(0, 0) >> Rx(0.25) @ Id(1) >> CX >> Bra(0) @ Id(1)
    compiled = CompiledCircuit.from_lambeq(circuit)
    assert compiled.success_probability() == pytest.approx(0.5)
    # output is deterministic: p(1-p) = 0 -> floor variance, tiny count
    assert compiled.shots_needed(0.01) <= 1
    circuit = (Ket(0, 0) >> H @ H >> Bra(0) @ Id(1))
    compiled = CompiledCircuit.from_lambeq(circuit)
    # p = 1/2, success 1/2: 1.96^2 * 0.25 / (0.01^2 * 0.5) = 19208
    assert compiled.shots_needed(0.01) == 19208


def test_counts_to_distribution():
    dist, kept = counts_to_distribution({(0, 0, 1): 2, (1, 0, 1): 5,
                                         (0, 1, 0): 3}, {0: 0}, [2, 1])
    assert kept == 5
    np.testing.assert_allclose(dist, [0, 0.6, 0.4, 0])   # "01": 3, "10": 2


def test_shots_on_aer_match_exact(compiler):
    pytest.importorskip('qiskit_aer')
    circuit = compiler.circuit('woman cooks tasty meal')
    values = random_values(CompiledCircuit.from_lambeq(circuit).symbols, 7)
    bound = compiler.compile(circuit, values)
    dist, kept = bound.run_shots(shots=4000, seed=3)
    expected = engine_probabilities(circuit, values)
    assert kept == pytest.approx(4000 * bound.success_probability(),
                                 rel=0.15)
    assert np.abs(dist - expected).max() < 5 / np.sqrt(kept)


def test_corpus_stats(compiler):
    compiled = compiler.compile_many([compiler.circuit(s) for s in MC_LIKE])
    total = corpus_stats(compiled)
    assert total['circuits'] == len(MC_LIKE)
    assert total['two_qubit_gates'] == sum(c.stats['two_qubit_gates']
                                           for c in compiled)
    assert total['candidate_wins'] == {'zx': len(MC_LIKE)}   # symbolic


@pytest.fixture(scope='module')
def small_corpus(tmp_path_factory):
    corpus = tmp_path_factory.mktemp('corpus')
    lines = {'train': ['1 woman cooks tasty meal', '0 man debugs program',
                       '1 chef bakes dinner', '0 woman runs software'],
             'dev': ['1 man cooks meal', '0 chef debugs software'],
             'test': ['1 woman bakes tasty dinner', '0 man runs program']}
    for split, rows in lines.items():
        (corpus / f'{split}.txt').write_text('\n'.join(rows) + '\n')
    return corpus


def test_cli_compile(capsys, tmp_path, small_corpus):
    from qnlp.cli.main import main
    assert main(['compile', 'man prepares sauce', '--format', 'stats',
                 '--layers', '2']) == 0
    out = capsys.readouterr().out
    assert 'two_qubit_gates' in out and 'postselected_qubits' in out
    assert main(['compile', 'man prepares sauce', '--format', 'qasm',
                 '--seed', '1', '--out', str(tmp_path / 'x.qasm')]) == 0
    assert (tmp_path / 'x.qasm').read_text().startswith('OPENQASM 2.0;')
    assert main(['compile', 'man prepares sauce', '--seed', '2', '--shots',
                 '500']) == 0
    assert '"kept"' in capsys.readouterr().out
    assert main(['compile', 'man prepares sauce', '--shots', '500']) == 2
    assert main(['compile', 'man prepares sauce', '--format', 'tket']) == 0
    assert 'Measure' in capsys.readouterr().out
    assert main(['compile', str(small_corpus), '--stats', '--seed', '0',
                 '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'circuits' in out and 'zx-postselect' in out
    assert main(['compile', 'the the the']) == 2


def test_peephole_wire_relabelling_keeps_postselection():
    gates = (Circuit(3).Rx(0.3, 0).Ry(0.2, 1).CX(0, 1).CX(1, 0).CX(0, 1)
             .Rz(0.3, 1).CX(1, 2).Rx(0.7, 2).Rx(0.4, 1))
    before = CompiledCircuit.from_gates(gates, {1: 0, 2: 1}, [0])
    artifact = FullPeephole()(Artifact(circuit=gates,
                                       postselect={1: 0, 2: 1},
                                       outputs=[0]))
    assert artifact.postselect != {1: 0, 2: 1}     # the SWAP became wires
    after = CompiledCircuit.from_gates(artifact.circuit, artifact.postselect,
                                       artifact.outputs)
    assert after.stats['two_qubit_gates'] < before.stats['two_qubit_gates']
    np.testing.assert_allclose(after.probabilities(), before.probabilities(),
                               atol=1e-9)
    assert after.success_probability() == pytest.approx(
        before.success_probability())


def test_to_lambeq_runs_on_the_engine(compiler):
    """The compiled circuit exported as a tensor network for the engine."""
    circuit = compiler.circuit('skillful programmer runs application')
    values = random_values(CompiledCircuit.from_lambeq(circuit).symbols, 11)
    bound = compiler.compile(circuit, values)
    diagram, angles = bound.to_lambeq(prefix='angle')
    got = engine_probabilities(diagram, angles)
    np.testing.assert_allclose(got, engine_probabilities(circuit, values),
                               atol=1e-6)
    np.testing.assert_allclose(got, bound.probabilities(), atol=1e-6)


def test_cli_exports_a_trained_run(tmp_path, capsys, small_corpus):
    """`qnlp compile CORPUS --run RUN --out DIR`: every circuit with its
    post-selection map, reproducing the trained model's probabilities."""
    import json
    from pytket.qasm import circuit_from_qasm
    from qnlp.cli.main import main
    from qnlp.tasks.sentences import load_sentence_run
    corpus = small_corpus
    run_dir = tmp_path / 'run'
    assert main(['train', str(corpus), '--out', str(run_dir), '--epochs',
                 '3', '--quiet']) == 0
    out = tmp_path / 'export'
    assert main(['compile', str(corpus), '--run', str(run_dir), '--out',
                 str(out), '--quiet']) == 0
    capsys.readouterr()
    manifest = json.loads((out / 'manifest.json').read_text())
    entries = manifest['circuits']
    assert len(entries) == 8 and manifest['total']['circuits'] == 8
    classifier = load_sentence_run(run_dir)
    expected = classifier.predict_proba([e['name'] for e in entries]).numpy()
    for entry, probs in zip(entries, expected):
        loaded = circuit_from_qasm(str(out / entry['file']))
        gates = Circuit(loaded.n_qubits)
        for cmd in loaded.get_commands():
            if cmd.op.type != OpType.Measure:
                gates.add_gate(cmd.op, cmd.qubits)
        compiled = CompiledCircuit.from_gates(
            gates, {int(q): v for q, v in entry['postselect'].items()},
            entry['outputs'])
        np.testing.assert_allclose(compiled.probabilities(), probs,
                                   atol=1e-6)


@pytest.mark.parametrize('ansatz', ['sim4', 'sim14', 'strongly-entangling'])
def test_other_ansatze(ansatz):
    compiler = Compiler(ansatz, layers=1, parser=Parser())
    circuit = compiler.circuit('woman cooks tasty meal')
    values = random_values(CompiledCircuit.from_lambeq(circuit).symbols, 4)
    bound = compiler.compile(circuit, values)
    np.testing.assert_allclose(bound.probabilities(),
                               engine_probabilities(circuit, values),
                               atol=1e-6)
    assert bound.stats['two_qubit_gates'] == min(
        v for v in bound.stats['candidates'].values() if v is not None)
