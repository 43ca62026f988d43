"""Diagrams of many shapes run together (qnlp.engine.merge) against the
per-shape path: values and gradients, to 1e-10 in float64."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from lambeq.backend import quantum as q
from tests.test_engine import SYMBOLS, random_circuits

from qnlp.compiler import make_ansatz, to_circuit
from qnlp.engine import Engine
from qnlp.parsing import parse


def both_paths(engine: Engine, diagrams, seed: int = 0):
    """Values and weight gradients of a random weighted sum of the
    outputs, per shape and merged."""
    generator = torch.Generator().manual_seed(seed)
    weights = torch.rand(engine.n_weights, generator=generator,
                         dtype=torch.float64)
    results = []
    for merge in (False, True):
        batch = engine.prepare(diagrams, merge=merge)
        assert (batch.merged is not None) == merge
        leaf = weights.clone().requires_grad_()
        values = engine(leaf, batch)
        mix = torch.rand(values.shape, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(seed))
        (values * mix).sum().backward()
        results.append((values.detach(), leaf.grad))
    return results


def assert_paths_agree(engine: Engine, diagrams, seed: int = 0) -> None:
    (values, grads), (merged_values, merged_grads) = both_paths(
        engine, diagrams, seed)
    torch.testing.assert_close(merged_values, values, atol=1e-10, rtol=0)
    torch.testing.assert_close(merged_grads, grads, atol=1e-10, rtol=0)


@settings(max_examples=15, deadline=None)
@given(st.lists(random_circuits(), min_size=2, max_size=6),
       st.integers(0, 1000))
def test_random_mixed_shape_batches(circuits, seed):
    # One batch per kind of output (open wires, mixed or pure): only
    # diagrams with outputs of one kind are merged.
    kinds: dict[tuple, list] = {}
    for circuit in circuits:
        if not circuit.free_symbols:  # a network needs one parameter
            circuit = circuit @ (q.Ket(0) >> q.Rx(SYMBOLS[0]) >> q.Bra(0))
        kinds.setdefault((len(circuit.cod), circuit.is_mixed),
                         []).append(circuit)
    for batch in kinds.values():
        engine = Engine(SYMBOLS)
        assert_paths_agree(engine, batch, seed)


@pytest.mark.parametrize('name', ['iqp', 'sim15', 'tensor'])
def test_parsed_sentences(bundled_sentences, name):
    ansatz = make_ansatz(name, layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:12]]
    engine = Engine.from_diagrams(circuits)
    assert engine.prepare(circuits).merged is not None  # several shapes
    assert_paths_agree(engine, circuits)
    assert engine.n_plans > 2


def test_one_shape_stays_per_shape():
    circuits = [q.Ket(0) >> q.Rx(symbol) for symbol in SYMBOLS]
    engine = Engine(SYMBOLS)
    assert engine.prepare(circuits).merged is None
    assert engine.prepare(circuits, merge=True).merged is not None


def test_batches_prepared_earlier_survive_new_constants():
    # Later batches add their constant tensors to the engine's table; a
    # batch laid out before reads only the part of it that it knew.
    a, b = SYMBOLS[:2]
    first = [q.Ket(0) >> q.Rx(a), q.Ket(0, 0) >> q.Rx(a) @ q.Ry(b) >> q.CX
             >> q.Bra(0) @ q.Id(1)]
    later = [q.Ket(1) >> q.H >> q.Rz(b) >> q.X, q.Ket(0) >> q.Ry(a) >> q.Y]
    engine = Engine(SYMBOLS)
    weights = torch.linspace(0.1, 0.9, engine.n_weights, dtype=torch.float64)
    batch = engine.prepare(first, merge=True)
    before = engine(weights, batch)
    engine.prepare(later, merge=True)
    torch.testing.assert_close(engine(weights, batch), before, atol=0, rtol=0)
    torch.testing.assert_close(before, engine(weights, engine.prepare(
        first, merge=False)), atol=1e-12, rtol=0)


@settings(max_examples=10, deadline=None)
@given(st.lists(random_circuits(), min_size=1, max_size=6),
       st.lists(st.integers(0, 5), min_size=1, max_size=8), st.booleans())
def test_select_equals_preparing_the_subset(circuits, picks, merge):
    # Minibatches taken from a prepared batch (as the trainer does) are
    # grouped as if prepared anew, and evaluate to the same values (to
    # rounding: a padded minibatch keeps the layout of its batch).
    circuits = [c for c in circuits if len(c.cod) == len(circuits[0].cod)
                and c.is_mixed == circuits[0].is_mixed]
    index = [p % len(circuits) for p in picks]
    engine = Engine(SYMBOLS)
    weights = torch.rand(engine.n_weights, dtype=torch.float64)
    picked = engine.prepare(circuits, merge=merge or None).select(index)
    fresh = engine.prepare([circuits[i] for i in index], merge=merge or None)
    assert [(p, pos.tolist(), ix.tolist()) for p, pos, ix in picked.groups] \
        == [(p, pos.tolist(), ix.tolist()) for p, pos, ix in fresh.groups]
    assert (picked.merged is None) == (fresh.merged is None)
    torch.testing.assert_close(engine(weights, picked),
                               engine(weights, fresh), atol=1e-12, rtol=0)
