"""Symbolic ZX rewriting: same outputs as the unrewritten circuit.

Random small circuits (kets, H, Rx, Rz, CRz, CX with symbols, bras) and
real sentences are rewritten with their symbols kept and evaluated on the
engine at random parameter values: the post-selected probabilities agree
to 1e-10 (normalised over the outputs, as the engine gives them; circuits
without outputs are scalars, compared unnormalised).
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings, strategies as st
from lambeq.backend import quantum as q
from lambeq.backend.symbol import Symbol

from qnlp.compiler.zx_symbolic import rewrite
from qnlp.engine import Engine


def probabilities(circuits, values):
    engine = Engine.from_diagrams(circuits)
    weights = torch.tensor([values[name] for name in engine.symbols],
                           dtype=torch.float64)
    with torch.no_grad():
        return engine(weights, circuits).reshape(len(circuits), -1).numpy()


def assert_same(circuit, seeds=(0, 1)):
    rewritten = rewrite(circuit)
    symbols = {s.name: s for s in circuit.free_symbols}
    new = rewritten.to_lambeq(symbols)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        values = {name: float(rng.random()) for name in sorted(symbols)}
        expected, got = probabilities([circuit, new], values)
        np.testing.assert_allclose(got, expected, atol=1e-10)
    return rewritten


def _at(box, first, width, n):
    return q.Id(first) @ box @ q.Id(n - first - width)


@st.composite
def small_circuits(draw):
    n = draw(st.integers(2, 4))
    circuit = q.Ket(*[0] * n)
    for i in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(['H', 'H', 'Rx', 'Rz', 'CRz', 'CRz',
                                     'CX']))
        a = draw(st.integers(0, n - 1))
        if kind == 'H':
            circuit >>= _at(q.H, a, 1, n)
        elif kind in ('Rx', 'Rz'):
            circuit >>= _at(getattr(q, kind)(Symbol(f's{i}')), a, 1, n)
        else:
            b = draw(st.integers(0, n - 1).filter(lambda b: b != a))
            base = q.X if kind == 'CX' else q.Rz(Symbol(f's{i}'))
            circuit >>= _at(q.Controlled(base, distance=b - a), min(a, b),
                            abs(b - a) + 1, n)
    for wire in range(n - 1, draw(st.integers(0, n - 1)) - 1, -1):
        ending = draw(st.sampled_from(['H', 'none', 'none']))
        if ending == 'H':
            circuit >>= _at(q.H, wire, 1, n)
        circuit >>= _at(q.Bra(draw(st.integers(0, 1))), wire, 1, n)
        n -= 1
    return circuit


@settings(max_examples=8, deadline=None)
@given(small_circuits())
def test_random_circuits_keep_their_outputs(circuit):
    rewritten = assert_same(circuit, seeds=(0,))
    before = sum(2 if box.name.startswith('CRz') else 1
                 for box in circuit.boxes if isinstance(box, q.Controlled))
    assert rewritten.two_qubit_gates() <= before


def test_iqp_word_first_layer_costs_one_cx_per_rotation():
    a, b = Symbol('a'), Symbol('b')
    circuit = (q.Ket(0, 0, 0) >> q.H @ q.H @ q.H >> q.CRz(a) @ q.Id(1)
               >> q.Id(1) @ q.CRz(b))
    assert assert_same(circuit).two_qubit_gates() == 2          # 4 before
    # <0| on the control of the first rotation removes it altogether
    assert assert_same(circuit >> q.Bra(0) @ q.Id(2)).two_qubit_gates() \
        == 1


def test_effects_through_plus_and_zero_remove_gates():
    a = Symbol('a')
    # <+| on the parity qubit after the rotation: one CX dropped
    dying = (q.Ket(0, 0) >> q.Rx(a) @ q.Rx(a) >> q.CRz(a)
             >> q.H @ q.H >> q.Bra(0, 0))
    assert assert_same(dying).two_qubit_gates() == 1
    # a control still in |0> (only Rz on it): the gate is the identity
    idle = (q.Ket(0, 0) >> q.Rz(a) @ q.H >> q.CRz(a) >> q.CX
            >> q.Bra(0) @ q.Id(1))
    assert assert_same(idle).two_qubit_gates() == 0


def test_sentences_keep_their_outputs():
    from qnlp.compiler import make_ansatz, to_circuit
    from qnlp.parsing import Parser
    ansatz, parser = make_ansatz('iqp', layers=2), Parser()
    for text in ('woman cooks tasty meal', 'person that prepares meal'):
        circuit = to_circuit(parser.parse(text), ansatz)
        assert_same(circuit)


def test_compile_zx_pipeline_predicts_as_the_unrewritten_model():
    from qnlp.models import DisCoCatClassifier, SentencePipeline
    from tests.conftest import BUNDLED
    texts = [line.split(' ', 1)[1] for line in
             (BUNDLED / 'test.txt').read_text().splitlines()[:3]]
    plain, zx = SentencePipeline(layers=2), \
        SentencePipeline(layers=2, compile='zx')
    original = plain.circuits(texts)
    zx.remember(plain.parses)
    rewritten = zx.circuits(texts)
    assert [c.free_symbols for c in rewritten] == \
        [c.free_symbols for c in original]
    model = DisCoCatClassifier.from_circuits(original, seed=0)
    with torch.no_grad():
        np.testing.assert_allclose(model(rewritten).numpy(),
                                   model(original).numpy(), atol=1e-10)


def test_compile_zx_refuses_tensor_networks(tmp_path, capsys):
    from qnlp.cli import main
    from tests.conftest import BUNDLED
    assert main(['train', str(BUNDLED), '--out', str(tmp_path / 'r'),
                 '--ansatz', 'tensor', '--compile', 'zx']) == 2
    assert '--compile zx' in capsys.readouterr().err


def test_zx_report_counts_each_circuit_before_and_after():
    from qnlp.compiler import Compiler
    from qnlp.compiler.tket import gate_counts, to_tket
    from qnlp.parsing import Parser
    compiler = Compiler(layers=2, parser=Parser())
    texts = ('woman cooks tasty meal', 'man cooks meal', 'man cooks meal',
             'person that prepares meal')
    before = after = 0
    for text in texts:
        original = compiler.circuit(text)
        before += gate_counts(to_tket(original)[0])['two_qubit_gates']
        after += gate_counts(to_tket(compiler.zx_circuit(text))[0])[
            'two_qubit_gates']
    report = compiler.zx_report()
    assert report == {'circuits': 4, 'two_qubit_gates_before': before,
                      'two_qubit_gates_after': after}
    assert after < before


def test_train_compile_zx_reports_gates_saved(tmp_path, capsys):
    import json
    from qnlp.cli import main
    from tests.conftest import BUNDLED
    data = tmp_path / 'data'
    data.mkdir()
    for name in ('train', 'dev', 'test'):   # a few sentences of each
        lines = (BUNDLED / f'{name}.txt').read_text().splitlines()[:3]
        (data / f'{name}.txt').write_text('\n'.join(lines) + '\n')
    assert main(['train', str(data), '--out', str(tmp_path / 'r'),
                 '--epochs', '1', '--compile', 'zx',
                 '--quiet']) == 0
    zx = json.loads((tmp_path / 'r' / 'metrics.json').read_text())[
        'task_metrics']['compile_zx']
    assert zx['circuits'] == 9
    assert 0 < zx['two_qubit_gates_after'] < zx['two_qubit_gates_before']
    assert (f"two-qubit gates {zx['two_qubit_gates_before']} -> "
            f"{zx['two_qubit_gates_after']}") in capsys.readouterr().out
