"""The exact noisy engine against qiskit-aer, folding and extrapolation."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnlp.errors import ConfigError
from qnlp.noise import NoiseSpec, NoisyBatch, NoisyCircuit, parse_noise
from qnlp.noise.density import aer_reference


@st.composite
def circuits(draw):
    n = draw(st.integers(2, 4))
    ops = []
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            control, target = draw(st.permutations(range(n)))[:2]
            ops.append(('cx', (control, target)))
        else:
            ops.append((draw(st.sampled_from(['rx', 'ry', 'rz'])),
                        (draw(st.integers(0, n - 1)),),
                        draw(st.floats(-2, 2))))
    kept = draw(st.integers(1, n - 1))
    postselect = {q: draw(st.integers(0, 1)) for q in range(kept, n)}
    return NoisyCircuit.from_ops(n, ops, postselect, list(range(kept)))


strengths = st.floats(0, 0.3)


@settings(max_examples=8, deadline=None)
@given(circuits(), strengths, strengths, strengths, strengths)
def test_engine_equals_aer_density_matrix(circuit, p1, p2, amplitude, phase):
    spec = NoiseSpec(p1=p1, p2=p2, amplitude=amplitude, phase=phase)
    ours = NoisyBatch([circuit]).run(torch.zeros(0, dtype=torch.float64),
                                     spec)
    theirs = aer_reference(circuit, {}, spec)
    assert torch.allclose(ours.success, theirs.success, atol=1e-8)
    if theirs.success.item() > 1e-6:
        assert torch.allclose(ours.probabilities, theirs.probabilities,
                              atol=1e-8)


def test_symbols_batched_and_differentiable():
    a, b = 'a__n_0', 'b__n_0'
    ops = lambda s: [('rx', (0,), f'2*{s}'), ('cx', (0, 1)),   # noqa: E731
                     ('ry', (1,), f'{s} + 0.25')]
    both = [NoisyCircuit.from_ops(2, ops(s), {1: 0}, [0]) for s in (a, b)]
    batch = NoisyBatch(both, {a: 0, b: 1})
    weights = torch.tensor([0.1, 0.3], dtype=torch.float64,
                           requires_grad=True)
    spec = NoiseSpec(p1=0.05, p2=0.1, amplitude=0.02, readout=0.03)
    assert len(batch.groups) == 1
    result = batch.run(weights, spec)
    for k, name in enumerate((a, b)):
        alone = aer_reference(both[k],
                              {name: weights[k].item()}, spec)
        assert torch.allclose(result.probabilities[k],
                              alone.probabilities[0], atol=1e-10)
    result.probabilities[:, 0].sum().backward()
    step = 1e-6
    bumped = weights.detach().clone()
    bumped[0] += step
    numeric = (batch.run(bumped, spec).probabilities[:, 0].sum()
               - result.probabilities[:, 0].sum().detach()) / step
    assert math.isclose(weights.grad[0].item(), numeric.item(),
                        rel_tol=1e-4, abs_tol=1e-6)


@pytest.mark.parametrize('method', ['gates', 'global'])
def test_folding_keeps_the_noiseless_result_and_adds_noise(method):
    circuit = NoisyCircuit.from_ops(
        2, [('ry', (0,), 0.3), ('cx', (0, 1)), ('rx', (1,), 0.7)], {}, [0, 1])
    batch, w = NoisyBatch([circuit]), torch.zeros(0, dtype=torch.float64)
    clean = batch.run(w).probabilities
    assert torch.allclose(batch.run(w, fold=(method, 3)).probabilities,
                          clean, atol=1e-12)
    spec = NoiseSpec(p2=0.05)
    once = (batch.run(w, spec).probabilities - clean).abs().sum()
    thrice = (batch.run(w, spec, (method, 3)).probabilities
              - clean).abs().sum()
    assert thrice > 2 * once
    with pytest.raises(ConfigError, match='odd factor'):
        batch.run(w, spec, (method, 2))


def test_noise_text():
    assert parse_noise('p2=0.02,phase=0.1') == NoiseSpec(p2=0.02, phase=0.1)
    with pytest.raises(ConfigError, match='p2 must be in'):
        parse_noise('p2=2')
    with pytest.raises(ConfigError, match='needs a number'):
        parse_noise('p2=x')
