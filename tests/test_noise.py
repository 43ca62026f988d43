"""The exact noisy engine against qiskit-aer, folding and extrapolation."""
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from qnlp.errors import ConfigError
from qnlp.noise import NoiseSpec, NoisyBatch, NoisyCircuit, parse_noise
from qnlp.noise.density import aer_reference


@st.composite
def circuits(draw, symbols=()):
    """Random circuits; with ``symbols``, angles may be ``c * s + d``
    (most of a lambeq circuit's angles are fixed, the rest such)."""
    n = draw(st.integers(2, 4))
    ops = []
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            control, target = draw(st.permutations(range(n)))[:2]
            ops.append(('cx', (control, target)))
        else:
            angle = draw(st.floats(-2, 2))
            if symbols and draw(st.booleans()):
                angle = f'{draw(st.sampled_from([-2, 1, 3]))}*' \
                    f'{draw(st.sampled_from(symbols))} + {angle}'
            ops.append((draw(st.sampled_from(['rx', 'ry', 'rz'])),
                        (draw(st.integers(0, n - 1)),), angle))
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


@settings(max_examples=6, deadline=None)
@given(circuits(symbols=('a', 'b')), strengths, strengths, strengths,
       st.sampled_from([None, ('gates', 3), ('global', 3)]),
       st.lists(st.floats(-1, 1), min_size=6, max_size=6))
@example(NoisyCircuit.from_ops(2, [('rx', (1,), '3*a + 0.5')], {1: 0}, [0]),
         0.0, 0.0, 0.0, None, [0.0] * 6)   # CI draw: 1.1e-8 off at step 1e-5
def test_evaluation_path_equals_the_differentiable_one(
        circuit, p2, amplitude, readout, fold, values):
    """Weights that need no gradient run in numpy, the others in torch:
    the same values, equal to Aer; torch's gradient of the joint
    probabilities equals central differences."""
    spec = NoiseSpec(p1=p2 / 10, p2=p2, amplitude=amplitude,
                     readout=readout)
    copies = [NoisyCircuit.from_ops(
        circuit.n_qubits, [(name, qubits) if angle is None else
                           (name, qubits, angle.subs({'a': f'a{k}',
                                                      'b': f'b{k}'}))
                           for (name, qubits), angle in
                           zip(circuit.ops, circuit.angles)],
        circuit.postselect, circuit.outputs) for k in range(3)]
    index = {f'{s}{k}': 2 * k + j for k in range(3)
             for j, s in enumerate('ab')}
    batch = NoisyBatch(copies, index)
    weights = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        fast = batch.run(weights, spec, fold)
    exact = batch.run(weights, spec, fold)
    assert exact.probabilities.requires_grad or not circuit.symbols
    assert torch.allclose(fast.probabilities, exact.probabilities,
                          atol=1e-12, rtol=0)
    assert torch.allclose(fast.success, exact.success, atol=1e-12, rtol=0)
    if fold is None:
        alone = aer_reference(copies[1], {f'{s}1': values[2 + j]
                                          for j, s in enumerate('ab')}, spec)
        assert torch.allclose(fast.success[1:2], alone.success, atol=1e-8)
    if not circuit.symbols:
        return
    coefficients = torch.linspace(-1, 1, exact.probabilities.numel(),
                                  dtype=torch.float64).reshape(
                                      exact.probabilities.shape)

    def total(result):     # of the joint probabilities (smooth)
        return (result.probabilities * result.success[:, None]
                * coefficients).sum() + result.success.sum()
    (grad,) = torch.autograd.grad(total(exact), weights)
    step = 1e-5
    for k in range(6):
        bump = torch.zeros(6, dtype=torch.float64)
        bump[k] = step
        with torch.no_grad():
            numeric = (total(batch.run(weights + bump, spec, fold))
                       - total(batch.run(weights - bump, spec, fold))
                       ) / (2 * step)
        # central differences are off by about step**2 / 6 times the
        # third derivative: (3 * 2 pi)**3 for an angle 3 a in turns
        assert abs(grad[k].item() - numeric.item()) < \
            1e-7 * (1 + abs(numeric.item()))


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


def test_extrapolators_recover_known_curves():
    from qnlp.noise.zne import extrapolate
    scales = [1, 2, 3]
    quadratic = np.array([[0.7 - 0.1 * s + 0.01 * s * s for s in scales]])
    decay = np.array([[0.2 + 0.5 * np.exp(-0.3 * s) for s in scales]])
    assert extrapolate(scales, quadratic, 'richardson')[0] == \
        pytest.approx(0.7, abs=1e-9)
    assert extrapolate(scales, quadratic, 'poly')[0] == \
        pytest.approx(0.7, abs=1e-9)
    assert extrapolate(scales, decay, 'exponential')[0] == \
        pytest.approx(0.7, abs=1e-4)
    with pytest.raises(ConfigError, match='unknown extrapolator'):
        extrapolate(scales, decay, 'cubic')


def test_channel_scaling_zne_removes_most_of_the_error():
    from qnlp.noise.zne import amplified, extrapolate
    circuit = NoisyCircuit.from_ops(
        3, [('ry', (0,), 0.4), ('cx', (0, 1)), ('rx', (1,), 0.3),
            ('cx', (1, 2)), ('ry', (2,), 0.9), ('cx', (0, 2))], {2: 0},
        [0, 1])
    batch, w = NoisyBatch([circuit]), torch.zeros(0, dtype=torch.float64)
    clean = batch.run(w).probabilities * batch.run(w).success
    spec = NoiseSpec(p1=0.002, p2=0.02, amplitude=0.01)
    runs = amplified(batch, w, spec, 'channels', (1, 2, 3)).numpy()
    mitigated = extrapolate((1, 2, 3), np.moveaxis(runs, 0, -1))
    noisy_error = np.abs(runs[0] - clean.numpy()).sum()
    assert np.abs(mitigated - clean.numpy()).sum() < 0.1 * noisy_error


def test_cli_evaluates_a_run_under_noise_with_mitigation(tmp_path, capsys):
    from qnlp.cli.main import main
    from qnlp.tasks import train
    corpus = tmp_path / 'corpus'
    corpus.mkdir()
    for split, count in (('train', 6), ('test', 2)):
        lines = open(f'corpora/meaning/{split}.txt').read().splitlines()
        (corpus / f'{split}.txt').write_text('\n'.join(lines[:count]) + '\n')
    run = tmp_path / 'run'
    train('sentences', str(corpus), str(run), {'epochs': 1}, progress=False)
    assert main(['evaluate', str(run), str(corpus), '--noise', '0.02',
                 '--mitigate', 'zne']) == 0
    out = capsys.readouterr().out
    assert 'noise p1=0.002,p2=0.02: 2 examples' in out
    assert '% of the error removed' in out
    assert main(['evaluate', str(run), str(corpus), '--mitigate',
                 'zne']) == 2
    assert '--mitigate needs noise' in \
        capsys.readouterr().err
