"""The fast protein chain (closed-form merge blocks, grouped scan) against
plain references computed independently: gate-by-gate unitaries, a
row-by-row loop, and a density-matrix simulation of every window."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnlp.engine.density import circuit_unitary
from qnlp.models import SequenceClassifier
from qnlp.models.sequence import TURN, grouped_scan, merge_unitary
from qnlp.parsing.protein import merge_gates, n_merge_angles


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([1, 2]), st.integers(1, 2), st.integers(0, 99))
def test_merge_unitary_is_the_gate_by_gate_product(qubits, layers, seed):
    angles = torch.rand(3, n_merge_angles(qubits, layers), dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed)) * 4 - 2
    fast = merge_unitary(angles, qubits)
    for block in range(3):
        reference = circuit_unitary(merge_gates(qubits, layers),
                                    TURN * angles[block], 2 * qubits)
        torch.testing.assert_close(fast[block], reference, rtol=0,
                                   atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 5),
       st.booleans(), st.integers(0, 99))
def test_grouped_scan_matches_a_row_by_row_loop(rows, steps, groups, skewed,
                                                seed):
    """Values and gradients; ``skewed`` puts most rows in one group (one
    group's chunks fill up, the others stay nearly empty)."""
    generator = torch.Generator().manual_seed(seed)
    tables = torch.randn(2, groups, 3, 3, dtype=torch.float64,
                         generator=generator, requires_grad=True)
    keys = torch.randint(0, groups, (rows, steps), generator=generator)
    if skewed:
        keys[torch.rand(rows, steps, generator=generator) < 0.8] = 0
    blocks = torch.randint(0, 2, (steps,), generator=generator)
    start = torch.randn(3, dtype=torch.float64, generator=generator)
    weights = torch.randn(rows, 3, dtype=torch.float64, generator=generator)

    fast = grouped_scan(tables, blocks, keys, start)
    (fast_grad,) = torch.autograd.grad((fast * weights).sum(), tables)
    expected = []
    for row in range(rows):
        state = start
        for step in range(steps):
            state = tables[blocks[step], keys[row, step]] @ state
        expected.append(state)
    expected = torch.stack(expected)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), tables)
    torch.testing.assert_close(fast, expected, rtol=0, atol=1e-12)
    # the gradient sums the rows in another order: relative 1e-15 apart
    # (found by CI: 2.0e-12 on an entry of about 2,000)
    torch.testing.assert_close(fast_grad, expected_grad, rtol=1e-13,
                               atol=1e-12)


def _window_readouts_by_density_matrices(model, sequence, width):
    """``[windows, A]``: <Z> (then <X>, <Y> with ``model.axes == 'xyz'``)
    of the first qubit after the chain on each window (windows of a
    batch ``width`` tokens wide that start inside ``sequence``): a plain
    density-matrix simulation with the gate-by-gate merge unitaries (with
    re-uploaded features: the block's angles plus ``W @ features[token]``)."""
    rhos = model.token_states().detach()
    d = rhos.shape[-1]
    paulis = {'z': [[1, 0], [0, -1]], 'x': [[0, 1], [1, 0]],
              'y': [[0, -1j], [1j, 0]]}
    observables = [torch.kron(torch.tensor(paulis[axis], dtype=rhos.dtype),
                              torch.eye(d // 2, dtype=rhos.dtype))
                   for axis in sorted(model.axes, key=lambda a: a != 'z')]
    windows = 1 + max(0, -(-(width - model.window) // model.stride))
    readouts = []
    for begin in range(0, min(len(sequence), windows * model.stride),
                       model.stride):
        rho = _chain_by_density_matrices(
            model, sequence[begin:begin + model.window], model.merge_angles)
        readouts.append(torch.stack([torch.trace(o @ rho).real
                                     for o in observables]))
    return torch.stack(readouts)


def _chain_by_density_matrices(model, tokens, merge_angles):
    """The density matrix after the chain of ``merge_angles``' blocks
    (``model.block`` tokens each, the last for the rest) merges
    ``tokens`` into ``|0><0|`` one by one, gate by gate (with re-uploaded
    features: the block's angles plus ``W @ features[token]``)."""
    q, d = model.qubits, 2 ** model.qubits
    rhos = model.token_states().detach()
    rho = torch.zeros(d, d, dtype=rhos.dtype)
    rho[0, 0] = 1
    for position, token in enumerate(tokens):
        angles = merge_angles[min(position // model.block,
                                  len(merge_angles) - 1)].detach()
        if model.feature_weights is not None:
            angles = angles + (model.feature_weights
                               @ model.features[token]).detach()
        u = circuit_unitary(merge_gates(q, model.layers), TURN * angles,
                            2 * q)
        joint = u @ torch.kron(rho, rhos[token]) @ u.conj().T
        rho = joint.reshape(d, d, d, d).diagonal(dim1=1, dim2=3).sum(-1)
    return rho


def _assert_windows_match_simulation(model, sequences):
    with torch.no_grad():
        z, valid = model.window_readouts(model.prepare(sequences))
    for row, sequence in enumerate(sequences):
        # a sequence's own windows, whatever its batch-mates' lengths
        expected = _window_readouts_by_density_matrices(
            model, sequence, len(sequence))
        assert valid[row].sum() == len(expected)
        torch.testing.assert_close(z[row, :len(expected)], expected,
                                   rtol=0, atol=1e-10)


@settings(max_examples=6, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=14),
                min_size=1, max_size=3),
       st.sampled_from([1, 2]), st.sampled_from([(4, 2), (6, 2), (8, 4)]),
       st.sampled_from([1, 2, 3]), st.integers(0, 99),
       st.sampled_from(['z', 'xyz']))
def test_chain_windows_match_a_density_matrix_simulation(
        sequences, qubits, window_stride, block, seed, axes):
    """The default kind of model (chain, hierarchical, windows): every
    window's read-outs (<Z>, or <Z>, <X>, <Y>) are those of simulating its
    circuit with density matrices, to 1e-10 in float64."""
    window, stride = window_stride
    model = SequenceClassifier(list('ACDK'), 'chain', 'hierarchical',
                               layers=3 - qubits, block=block, max_length=16,
                               seed=seed, qubits=qubits, init_scale=1.0,
                               window=window, stride=stride, axes=axes)
    _assert_windows_match_simulation(model, sequences)


@settings(max_examples=4, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=10),
                min_size=1, max_size=3),
       st.sampled_from([1, 2]), st.integers(0, 99))
def test_reuploaded_features_match_a_density_matrix_simulation(
        sequences, qubits, seed):
    """Residue features re-uploaded into the merges: every window's
    read-out is that of simulating its circuit, to 1e-10."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    model = SequenceClassifier(list('ACDK'), 'chain', 'hierarchical',
                               layers=1, block=3, max_length=16, seed=seed,
                               qubits=qubits, init_scale=1.0, window=6,
                               stride=2, features=features.tolist())
    with torch.no_grad():
        model.feature_weights.copy_(torch.randn(
            model.feature_weights.shape, generator=generator,
            dtype=torch.float64))
    _assert_windows_match_simulation(model, sequences)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=12),
                min_size=1, max_size=3),
       st.sampled_from([1, 2]), st.integers(1, 9),
       st.sampled_from(['chain', 'chain+features', 'tree']),
       st.integers(0, 99))
def test_n_terminus_matches_a_density_matrix_simulation(
        sequences, qubits, n_terminus, kind, seed):
    """``n_terminus=K``: ``<Z>`` after a chain of the terminus' own merge
    block over a sequence's first ``K`` tokens, from the ``K``-th down to
    the first (re-uploaded features and token states shared with the
    windows), simulated with density matrices, to 1e-10, whatever the
    batch-mates; the tree model's terminus is such a chain too."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    model = SequenceClassifier(
        list('ACDK'), kind.split('+')[0], 'hierarchical', layers=1,
        block=3, max_length=16, seed=seed, qubits=qubits, init_scale=1.0,
        window=4, stride=2, n_terminus=n_terminus,
        features=features.tolist() if 'features' in kind else None)
    if model.feature_weights is not None:
        with torch.no_grad():
            model.feature_weights.copy_(torch.randn(
                model.feature_weights.shape, generator=generator,
                dtype=torch.float64))
    with torch.no_grad():
        z = model.terminus_readout(model.prepare(sequences))
    z_operator = torch.kron(torch.tensor([[1.0, 0], [0, -1]],
                                         dtype=torch.complex128),
                            torch.eye(2 ** (qubits - 1),
                                      dtype=torch.complex128))
    for row, sequence in enumerate(sequences):
        rho = _chain_by_density_matrices(
            model, sequence[:n_terminus][::-1], model.terminus_angles)
        assert z[row].item() == pytest.approx(
            torch.trace(z_operator @ rho).real.item(), abs=1e-10)
