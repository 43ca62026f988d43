"""Padded batches across shapes (qnlp.engine.padded) against the
per-shape path: values and weight gradients to 1e-10 in float64, for
whole prepared batches and minibatches selected from them, in one bucket
and in several."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from lambeq.backend import quantum as q
from tests.test_engine import SYMBOLS, random_circuits

import qnlp.engine.padded as padded
from qnlp.compiler import make_ansatz, to_circuit
from qnlp.engine import Engine
from qnlp.parsing import parse


def values_and_gradients(engine: Engine, batch, seed: int,
                         classes: int | None = None):
    """Values of ``batch`` (with ``classes``: class probabilities) and
    the gradient of a random weighted sum of them with respect to the
    weights."""
    weights = torch.rand(engine.n_weights, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(seed)
                         ).requires_grad_()
    values = engine(weights, batch, classes=classes)
    mix = torch.rand(values.shape, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(seed + 1))
    (values * mix).sum().backward()
    return values.detach(), weights.grad


def assert_padded_agrees(engine: Engine, diagrams, index, seed: int = 0,
                         classes: int | None = None) -> None:
    reference = engine.prepare(diagrams, merge=False)
    batch = engine.prepare(diagrams)
    assert batch.padded is not None
    for mine, theirs in ((batch, reference),
                         (batch.select(index), reference.select(index))):
        (values, grads), (expected, expected_grads) = (
            values_and_gradients(engine, b, seed, classes)
            for b in (mine, theirs))
        torch.testing.assert_close(values, expected, atol=1e-10, rtol=0)
        torch.testing.assert_close(grads, expected_grads, atol=1e-10,
                                   rtol=0)


def one_kind(circuits):
    """The circuits whose outputs are of the first one's kind (each with
    a parameter)."""
    kept = []
    for circuit in circuits:
        if not circuit.free_symbols:
            circuit = circuit @ (q.Ket(0) >> q.Rx(SYMBOLS[0]) >> q.Bra(0))
        if (len(circuit.cod), circuit.is_mixed) == (
                len(circuits[0].cod), circuits[0].is_mixed):
            kept.append(circuit)
    return kept


@settings(max_examples=12, deadline=None)
@given(st.lists(random_circuits(), min_size=1, max_size=6),
       st.lists(st.integers(0, 5), min_size=1, max_size=8),
       st.sampled_from([padded.WASTE, 1.0]), st.integers(0, 1000),
       st.integers(0, 3))
def test_random_batches_and_minibatches(circuits, picks, waste, seed,
                                        classes):
    # waste 1.0 cuts the batch into a bucket per size: several buckets;
    # classes (0: none) read as class probabilities, for pure circuits
    # inside the padded node, against class_probabilities per shape
    circuits = one_kind(circuits)
    index = [p % len(circuits) for p in picks]
    engine = Engine(SYMBOLS)
    first = engine(torch.zeros(engine.n_weights, dtype=torch.float64),
                   circuits[:1]).reshape(1, -1)
    outcomes = 0 if first.is_complex() else first.shape[1]  # no classes
    if circuits[0].is_mixed:   # a density matrix: the diagonal's outcomes
        outcomes = math.isqrt(outcomes)
    original, padded.WASTE = padded.WASTE, waste
    try:
        assert_padded_agrees(engine, circuits, index, seed,
                             min(classes, outcomes) or None)
    finally:
        padded.WASTE = original


@pytest.mark.parametrize('name', ['iqp', 'sim15', 'tensor'])
def test_parsed_sentences(bundled_sentences, name):
    ansatz = make_ansatz(name, layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:10]]
    engine = Engine.from_diagrams(circuits)
    assert_padded_agrees(engine, circuits, [7, 2, 2, 9, 0])
    assert engine.n_plans > 2


def test_several_buckets_keep_the_order(bundled_sentences, monkeypatch):
    monkeypatch.setattr(padded, 'WASTE', 1.0)
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:8]]
    engine = Engine.from_diagrams(circuits)
    assert len(engine.prepare(circuits).padded[0].buckets) > 1
    assert_padded_agrees(engine, circuits, [5, 1, 6, 1])


def test_follows_the_model_to_single_precision(bundled_sentences):
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:6]]
    engine = Engine.from_diagrams(circuits)
    weights = torch.rand(engine.n_weights, dtype=torch.float64)
    batch = engine.prepare(circuits)
    expected = engine(weights, batch)
    engine.to(dtype=torch.float32)
    single = engine(weights.float(), batch)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), expected, atol=1e-5,
                               rtol=0)


def test_too_large_a_layout_runs_merged(bundled_sentences, monkeypatch):
    monkeypatch.setattr(padded, 'LIMIT', 100)
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:4]]
    engine = Engine.from_diagrams(circuits)
    batch = engine.prepare(circuits)
    assert batch.padded is None and batch.merged is not None
    weights = torch.rand(engine.n_weights, dtype=torch.float64)
    torch.testing.assert_close(engine(weights, batch), engine(
        weights, engine.prepare(circuits, merge=False)), atol=1e-10, rtol=0)


def test_products_are_padded_in_one_orientation(bundled_sentences,
                                                monkeypatch):
    # IQP words give 1 x 8 and 8 x 1 products in one round: computed as
    # they come they would pad each other to 8 x 8; oriented (B^T A^T
    # where I > J) the round pads to 1 x 8.
    monkeypatch.setattr(padded, 'WASTE', 1e9)   # one bucket
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:8]]
    engine = Engine.from_diagrams(circuits)
    batch = engine.prepare(circuits)
    bucket, = batch.padded[0].buckets
    steps = [step for plan, _, _ in batch.groups
             for step in padded.build_program(plan).steps]
    as_they_come = [
        max((s.shape[0] for s in steps if s.round == r), default=1)
        * max((s.shape[2] for s in steps if s.round == r), default=1)
        for r in range(len(bucket.shapes))]
    oriented = [i * j for i, _, j in bucket.shapes]
    assert all(i <= j for i, _, j in bucket.shapes)
    assert sum(oriented) < sum(as_they_come)
    assert_padded_agrees(engine, circuits, [3, 0, 3])


def test_closed_diagrams_are_not_normalised():
    # a scalar read-out is |amplitude|^2 as it is (main's padded path
    # normalised it to 1)
    circuits = [q.Ket(0, 0) >> q.Rx(SYMBOLS[0]) @ q.Rx(SYMBOLS[1])
                >> q.CX >> q.Bra(0, 0)]
    engine = Engine(SYMBOLS)
    weights = torch.full((engine.n_weights,), 0.3, dtype=torch.float64)
    torch.testing.assert_close(
        engine(weights, engine.prepare(circuits)),
        engine(weights, engine.prepare(circuits, merge=False)))
    assert float(engine(weights, circuits)) < 0.9


def test_buffers_kept_between_steps_do_not_leak(bundled_sentences):
    # the flat buffers are kept per minibatch size: a second minibatch of
    # the same size evaluated before the first one's backward (say, a
    # check under no_grad) must leave the first one's gradient alone
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:8]]
    engine = Engine.from_diagrams(circuits)
    batch = engine.prepare(circuits)
    reference = engine.prepare(circuits, merge=False)
    expected = values_and_gradients(engine, reference.select([1, 4, 6]), 3)
    weights = torch.rand(engine.n_weights, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(3)
                         ).requires_grad_()
    values = engine(weights, batch.select([1, 4, 6]))
    with torch.no_grad():
        engine(weights * 2, batch.select([0, 2, 7]))
    mix = torch.rand(values.shape, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(4))
    (values * mix).sum().backward()
    torch.testing.assert_close(values.detach(), expected[0], atol=1e-10,
                               rtol=0)
    torch.testing.assert_close(weights.grad, expected[1], atol=1e-10, rtol=0)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 6), st.integers(2, 4), st.integers(0, 1000),
       st.sampled_from([torch.float64, torch.float32]))
def test_nll_is_the_composition_bit_for_bit(rows, classes, seed, dtype):
    """The loss the padded node feeds (``qnlp.train.nll``, one node with
    what its backward needs saved) equals the six-node composition, its
    gradient and its double backward, bit for bit, the clamp included."""
    from qnlp.train import nll
    generator = torch.Generator().manual_seed(seed)
    probabilities = torch.rand(rows, classes, dtype=dtype,
                               generator=generator)
    probabilities[0, 0] = 1e-14   # below the clamp
    probabilities = probabilities.requires_grad_()
    labels = torch.randint(0, classes, (rows,), generator=generator)
    labels[0] = 0
    found = []
    for loss in (nll, lambda p, y: -torch.log(p.gather(
            1, y.view(-1, 1)).clamp_min(1e-12)).mean()):
        value = loss(probabilities, labels)
        grad, = torch.autograd.grad(value, probabilities, create_graph=True)
        second, = torch.autograd.grad(grad.square().sum(), probabilities)
        found.append((value, grad, second))
    for mine, theirs in zip(*found):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize('name', ['iqp', 'tensor'])
def test_kept_buffers_are_written_before_they_are_read(bundled_sentences,
                                                       monkeypatch, name):
    # a step must not read what an earlier step left in the kept buffers
    # (forward and backward, pool included: the weights a tensor ansatz
    # reads directly, the gates of a circuit): poisoned with NaN between
    # two steps, the values and gradients stay those of the per-shape path
    monkeypatch.setattr(padded, 'WASTE', 1.0)   # several buckets
    ansatz = make_ansatz(name, layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:8]]
    engine = Engine.from_diagrams(circuits)
    batch = engine.prepare(circuits)
    for index in ([5, 1, 6, 1], [2, 0, 7], None):
        part = batch if index is None else batch.select(index)
        values_and_gradients(engine, part, 0)
        for bucket in batch.padded[0].buckets:
            for buffers in bucket._buffers.values():
                table = batch.padded[0].table.shape[0]
                buffers.flat[table:] = float('nan')
                buffers.gradient[:] = float('nan')
        reference = engine.prepare(circuits, merge=False)
        expected = values_and_gradients(
            engine, reference if index is None else reference.select(index),
            0)
        for mine, theirs in zip(values_and_gradients(engine, part, 0),
                                expected):
            torch.testing.assert_close(mine, theirs, atol=1e-10, rtol=0)


@pytest.fixture(scope='module')
def eight_sentences(bundled_sentences):
    """An engine and the padded batch of 8 bundled sentences (IQP)."""
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz)
                for s in bundled_sentences[:8]]
    engine = Engine.from_diagrams(circuits)
    return engine, engine.prepare(circuits)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=1, max_size=6),
       st.integers(0, 1000), st.booleans())
def test_nll_joins_the_padded_node_bit_for_bit(eight_sentences, picks, seed,
                                               more):
    """``nll`` of the padded node's probabilities runs inside that node
    (one autograd node a step less): loss and weight gradient equal, bit
    for bit, to ``nll``'s own node after the padded one; with ``more``
    (another term made of the probabilities) the gradient to 1e-12 (the
    two terms' gradients are added at the weights, not at the
    probabilities)."""
    from qnlp.train import nll
    engine, prepared = eight_sentences
    batch = prepared.select(picks)
    labels = torch.randint(0, 2, (len(picks),),
                           generator=torch.Generator().manual_seed(seed))
    found = []
    for joined in (True, False):
        weights = torch.rand(engine.n_weights, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(seed)
                             ).requires_grad_()
        probabilities = engine(weights, batch, classes=2)
        # a view is not the node's output: nll then has its own node
        loss = nll(probabilities if joined else probabilities[:], labels)
        assert (type(loss.grad_fn).__name__ == '_ThenBackward') == joined
        (loss + probabilities[:, 1].sum() if more else loss).backward()
        found.append((loss.detach(), weights.grad))
    assert torch.equal(found[0][0], found[1][0])
    if more:
        torch.testing.assert_close(found[0][1], found[1][1], atol=1e-12,
                                   rtol=0)
    else:
        assert torch.equal(found[0][1], found[1][1])


def test_nll_after_a_change_in_place_is_its_own_node(bundled_sentences):
    from qnlp.train import nll
    ansatz = make_ansatz('iqp', layers=1)
    circuits = [to_circuit(parse(s), ansatz) for s in bundled_sentences[:4]]
    engine = Engine.from_diagrams(circuits)
    weights = torch.rand(engine.n_weights, dtype=torch.float64,
                         requires_grad=True)
    probabilities = engine(weights, engine.prepare(circuits), classes=2)
    probabilities.mul_(0.5)   # no longer what the node computed
    loss = nll(probabilities, torch.tensor([0, 1, 1, 0]))
    assert type(loss.grad_fn).__name__ == '_NLLBackward'
    expected = -torch.log(0.5 * engine(weights, circuits, classes=2)
                          .gather(1, torch.tensor([[0], [1], [1], [0]]))
                          ).mean()
    torch.testing.assert_close(loss, expected, atol=1e-12, rtol=0)


def test_a_change_in_place_after_the_joined_loss_is_an_error(
        eight_sentences):
    """Probabilities changed in place after ``nll`` joined their node:
    backward refuses, as autograd does for any saved tensor (it gave a
    silently wrong gradient)."""
    from qnlp.train import nll
    engine, prepared = eight_sentences
    weights = torch.rand(engine.n_weights, dtype=torch.float64,
                         requires_grad=True)
    probabilities = engine(weights, prepared, classes=2)
    loss = nll(probabilities, torch.randint(0, 2, (8,)))
    with torch.no_grad():
        probabilities.mul_(0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace"):
        loss.backward()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 12), st.integers(0, 2 ** 31))
def test_flat_addresses_are_the_integer_bmm(n, width, seed):
    """The read addresses off the CPU (CUDA has no integer ``bmm``) are
    those of the CPU's ``bmm``."""
    addresses = torch.randint(0, 10 ** 6, (n, 3, width),
                              generator=torch.Generator().manual_seed(seed))
    slots = torch.ones((n, 1, 3), dtype=torch.long)
    slots[:, 0, 1] = n
    slots[:, 0, 2] = torch.arange(n)
    assert torch.equal(padded.flat_addresses(addresses),
                       torch.bmm(slots, addresses).view(n, -1))
