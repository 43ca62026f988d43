"""The QML estimators' breadth against qiskit: how far each new piece is
from qiskit's (and qiskit-machine-learning's) numbers on small cases,
what alignment training does on a toy set, and one side-by-side timing.

    python benchmarks/qml_agreement.py [--repeats 5]

Prints one line per figure, then one JSON line with all of them. Needs
qiskit-machine-learning (``pip install 'qnlp[bench]'``).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit.library import pauli_feature_map, zz_feature_map
from qiskit.quantum_info import (DensityMatrix, SparsePauliOp, Statevector,
                                 partial_trace, random_statevector)
from qiskit_machine_learning.kernels import (
    FidelityStatevectorKernel, TrainableFidelityStatevectorKernel)
from sklearn.datasets import make_moons

from qnlp.models.kernel import (ProjectedQuantumKernel, QuantumKernel,
                                TrainableFeatureMap)
from qnlp.models.observables import pauli_sum
from qnlp.models.vqc import VQCRegressionModel
from qnlp.train.estimators import QuantumKernelSVC

RNG = np.random.default_rng(0)


def custom_map() -> QuantumCircuit:
    """U gates, controlled rotations, nonlinear angles."""
    x = ParameterVector('x', 3)
    circuit = QuantumCircuit(3)
    circuit.h(range(3))
    circuit.u(x[0], x[1] ** 2, np.sin(x[0] * x[2]), 0)
    circuit.crz(x[1] + 1, 0, 1)
    circuit.rzz(x[2], 1, 2)
    circuit.sx(2)
    return circuit


def observables() -> float:
    """Random 3-qubit Pauli sums on random states."""
    worst = 0.0
    for seed in range(50):
        labels = [''.join(RNG.choice(list('IXYZ'), 3)) for _ in range(4)]
        operator = SparsePauliOp(labels, RNG.uniform(-1, 1, 4))
        state = random_statevector(8, seed=seed)
        found = pauli_sum(operator, 3).expectation(
            torch.tensor(state.data)[None])
        worst = max(worst, abs(float(found)
                               - state.expectation_value(operator).real))
    return worst


def vqc_readout() -> float:
    """The VQC with a Pauli-sum read-out against the same qiskit circuit,
    both paths (batch 5 and 20 > 2**3)."""
    operator = SparsePauliOp(['XYZ', 'ZIZ', 'IYX'], [0.5, -0.3, 0.2])
    model = VQCRegressionModel(3, feature_map='zz', reps=2,
                               readout=operator, seed=1)
    circuit = model.feature_map.to_qiskit().compose(
        model.ansatz.to_qiskit().assign_parameters(
            model.weights.detach().numpy()))
    worst = 0.0
    for batch in (5, 20):
        X = RNG.uniform(0, np.pi, (batch, 3))
        with torch.no_grad():
            found = model(model.prepare(X)).numpy()
        expected = [Statevector(circuit.assign_parameters(row))
                    .expectation_value(operator).real for row in X]
        worst = max(worst, float(np.abs(found - expected).max()))
    return worst


def circuit_kernels() -> dict[str, float]:
    """Feature maps given as qiskit circuits against
    FidelityStatevectorKernel (training and test Gram matrices)."""
    found = {}
    for name, circuit in [('zz', zz_feature_map(3, reps=2)),
                          ('pauli', pauli_feature_map(3, paulis=['Z', 'XX'])),
                          ('custom', custom_map())]:
        X = RNG.uniform(0, np.pi, (20, 3))
        Z = RNG.uniform(0, np.pi, (10, 3))
        ours, theirs = QuantumKernel(circuit), FidelityStatevectorKernel(
            feature_map=circuit)
        found[name] = float(max(
            np.abs(ours.evaluate(X) - theirs.evaluate(X)).max(),
            np.abs(ours.evaluate(Z, X) - theirs.evaluate(Z, X)).max()))
    return found


def trainable_kernels() -> dict[str, float]:
    """Trainable kernels at random weights against
    TrainableFidelityStatevectorKernel."""
    circuit, theta = TrainableFeatureMap('zz', 3, reps=2).to_qiskit()
    custom = custom_map()
    w = ParameterVector('w', 2)
    custom.ry(w[0], 0)
    custom.rz(w[1] * custom.parameters[0], 2)
    cases = {'zz-ry-layer': (QuantumKernel('zz', 3, 2, trainable=True),
                             circuit, theta),
             'circuit': (QuantumKernel(custom, training_parameters=w),
                         custom, w)}
    found = {}
    for name, (ours, circuit, theta) in cases.items():
        values = RNG.uniform(-np.pi, np.pi, len(theta))
        ours.weights = torch.tensor(values)
        theirs = TrainableFidelityStatevectorKernel(
            feature_map=circuit, training_parameters=theta,
            enforce_psd=False)
        theirs.assign_training_parameters(values)
        X = RNG.uniform(0, np.pi, (15, 3))
        found[name] = float(np.abs(ours.evaluate(X)
                                   - theirs.evaluate(X)).max())
    return found


def projected_kernel() -> float:
    """Against qiskit's partial traces, Frobenius distances, Gaussian."""
    gamma, circuit = 0.7, zz_feature_map(3, reps=2)
    X = RNG.uniform(0, np.pi, (10, 3))
    rho = [[DensityMatrix(partial_trace(Statevector(
        circuit.assign_parameters(row)), [o for o in range(3) if o != q]))
        .data for q in range(3)] for row in X]
    expected = np.array([[np.exp(-gamma * sum(
        np.linalg.norm(a[q] - b[q]) ** 2 for q in range(3)))
        for b in rho] for a in rho])
    found = ProjectedQuantumKernel('zz', 3, 2, gamma=gamma).evaluate(X)
    return float(np.abs(found - expected).max())


def alignment_on_moons() -> dict[str, float]:
    """Alignment training on two moons (60 samples: 40 to train, 20 to
    test), against the plain kernel it starts from."""
    X, y = make_moons(60, noise=0.1, random_state=0)
    X = (X - X.min(0)) / np.ptp(X, 0) * np.pi
    plain = QuantumKernelSVC(reps=1).fit(X[:40], y[:40])
    trained = QuantumKernelSVC(reps=1, alignment_steps=30).fit(X[:40],
                                                               y[:40])
    return {'alignment_before': trained.alignment_curve_[0],
            'alignment_after': trained.alignment_curve_[-1],
            'test_accuracy_plain': plain.score(X[40:], y[40:]),
            'test_accuracy_trained': trained.score(X[40:], y[40:])}


def timing(repeats: int) -> dict[str, float]:
    """A 3-qubit qiskit circuit's 60 x 60 training kernel: qnlp's engine
    against FidelityStatevectorKernel, interleaved repetitions."""
    circuit = zz_feature_map(3, reps=2)
    X = RNG.uniform(0, np.pi, (60, 3))
    ours, theirs = QuantumKernel(circuit), FidelityStatevectorKernel(
        feature_map=circuit)
    assert np.abs(ours.evaluate(X) - theirs.evaluate(X)).max() < 1e-8
    times = {'qnlp': [], 'qiskit-ml': []}
    for _ in range(repeats):
        for name, kernel in (('qnlp', ours), ('qiskit-ml', theirs)):
            start = time.perf_counter()
            kernel.evaluate(X)
            times[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in times.items()}
    return {'qnlp_seconds': best['qnlp'],
            'qiskit_ml_seconds': best['qiskit-ml'],
            'speedup': best['qiskit-ml'] / best['qnlp']}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    figures = {'observable_max_abs_diff': observables(),
               'vqc_readout_max_abs_diff': vqc_readout(),
               'circuit_kernel_max_abs_diff': circuit_kernels(),
               'trainable_kernel_max_abs_diff': trainable_kernels(),
               'projected_kernel_max_abs_diff': projected_kernel(),
               'alignment_moons': alignment_on_moons(),
               'kernel_timing': timing(args.repeats)}
    for name, value in figures.items():
        print(name, value)
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
