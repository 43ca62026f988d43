"""Noise, zero-noise extrapolation and the exact noisy engine (issue 20).

1. Check: the exact noisy engine against qiskit-aer's density-matrix
   simulator on every sentence of MC (train, dev, test) at three noise
   levels (two-qubit depolarizing P, one-qubit P/10, amplitude and phase
   damping P/5 after every noisy gate).
2. Time: the noiseless engine (the trained model, circuits prepared)
   against the exact noisy engine (P = 1 %) on the MC test sentences,
   interleaved repetitions, ratio of medians.
3. MC and RP (trained runs given): test accuracy and mean absolute error
   of the class probabilities against the noiseless engine for
   two-qubit depolarizing 0..5 % (one-qubit P/10): unmitigated, ZNE with
   channel strengths scaled 1, 2, 3 and each of Richardson, quadratic
   and exponential fits (mitiq), and the neural extrapolator trained on
   the training split at 0.5..5 %; with --mc-aware / --rp-aware, the
   test accuracy of a run trained under noise (``qnlp train
   --train-noise``) at each level. The restaurant-review VQC (--vqc, a
   ``qnlp train --task sentiment`` run; --vqc-aware, runs trained with
   --train-noise on the same split, their mean accuracy) the same way,
   on its test split, ZNE extrapolating the read-out's expectation, the
   neural extrapolator trained on its training split.
4. VQE-style: 5-qubit RY-RZ ansatz (3 layers, CX chain), Hamiltonian
   sum of Z_i Z_{i+1} plus Z_0 Z_1 Z_2 Z_3 Z_4; 150 random parameter
   sets for training the neural extrapolator (20 % of them its
   validation split: early stopping and the choice of what it corrects),
   50 others for testing; energy error of Richardson and of the network
   per noise level, with exact and with sampled (--shots) energies.

Writes PNG plots to --out and prints one JSON line last.

    OMP_NUM_THREADS=1 python benchmarks/bench_noise.py \\
        --mc RUN_MC --rp RUN_RP [--mc-aware RUN --rp-aware RUN] \\
        [--vqc RUN_VQC --vqc-aware RUN ...] [--no-vqe] --out bench_noise_out
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qnlp.noise import NoiseSpec, NoisyBatch, NoisyCircuit
from qnlp.noise.density import aer_reference
from qnlp.noise.evaluate import (CircuitModel, VQCCircuits, circuit_model,
                                 neural_extrapolator)
from qnlp.noise.training import weight_index
from qnlp.noise.zne import (AMPLIFIERS, EXTRAPOLATORS, NeuralExtrapolator,
                            extrapolate)
from qnlp.tasks.runner import load_trained

LEVELS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05)
SCALES = AMPLIFIERS['channels']


def depolarizing(p: float) -> NoiseSpec:
    return NoiseSpec(p1=p / 10, p2=p)


def check_against_aer(run: str, data: str) -> dict:
    trained = load_trained(run)
    items = []
    for split in sorted(Path(data).glob('*.txt')):
        items += trained.task.examples(str(split), trained.settings,
                                       trained.config)[0]
    model = CircuitModel(trained, items)
    circuits = [NoisyCircuit.from_lambeq(c) for c in trained.task.inputs(
        items, trained.settings, trained.config, trained.model)]
    values = trained.model.parameter_values()
    worst = 0.0
    for p in (0.01, 0.03, 0.05):
        spec = NoiseSpec(p1=p / 10, p2=p, amplitude=p / 5, phase=p / 5)
        ours = model.batch.run(model.weights, spec)
        for k, circuit in enumerate(circuits):
            theirs = aer_reference(circuit, values, spec)
            worst = max(worst,
                        (ours.probabilities[k] - theirs.probabilities[0])
                        .abs().max().item(),
                        abs(ours.success[k].item() - theirs.success.item()))
    return {'sentences': len(items), 'levels': [0.01, 0.03, 0.05],
            'max_abs_difference': worst}


def time_engines(run: str, data: str, repeats: int,
                 old: str | None = None) -> dict:
    """Evaluation of ``data`` (a file: all its sentences) by the
    noiseless engine and the exact noisy one at P = 1 %, interleaved,
    after one warm-up call each: medians of the wall time and their
    ratio, and of the thread's CPU time (``cpu``: unaffected by the other
    processes' turns on a loaded machine). ``old``: a
    copy of an earlier ``qnlp/noise/density.py`` (``git show
    main:qnlp/noise/density.py > old.py``) whose engine runs too, checked
    equal first: the speed-up of a change."""
    trained = load_trained(run)
    items, _ = trained.labelled(data)
    model = CircuitModel(trained, items)
    circuits = trained.task.inputs(items, trained.settings, trained.config,
                                   trained.model)
    prepared = trained.model.prepare(circuits)
    spec = depolarizing(0.01)
    engines = {'noiseless engine': lambda: trained.model(prepared),
               'noisy exact': lambda: model.batch.run(model.weights, spec)}
    with torch.no_grad():
        clean = trained.model(prepared).numpy()
        assert np.allclose(model.run(NoiseSpec()), clean, atol=1e-10)
        if old:
            earlier = _module_from(old).NoisyBatch(
                [NoisyCircuit.from_lambeq(c) for c in circuits],
                weight_index(trained.model.engine))
            engines['noisy exact, old'] = lambda: earlier.run(model.weights,
                                                              spec)
            assert torch.allclose(engines['noisy exact, old']().probabilities,
                                  engines['noisy exact']().probabilities,
                                  atol=1e-12, rtol=0)
        times: dict[str, list[float]] = {name: [] for name in engines}
        cpu: dict[str, list[float]] = {name: [] for name in engines}
        for call in engines.values():
            call()
        for _ in range(repeats):
            for name, call in engines.items():
                start, start_cpu = time.perf_counter(), time.thread_time()
                call()
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.thread_time() - start_cpu)
    medians = {k: statistics.median(v) for k, v in times.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
    found = {'sentences': len(items), 'repeats': repeats,
             'seconds': medians, 'load': os.getloadavg(),
             'ratio': medians['noisy exact'] / medians['noiseless engine'],
             'cpu seconds': cpu_medians,
             'cpu ratio': (cpu_medians['noisy exact']
                           / cpu_medians['noiseless engine'])}
    if old:
        found['ratio old'] = (medians['noisy exact, old']
                              / medians['noiseless engine'])
        found['speed-up'] = (medians['noisy exact, old']
                             / medians['noisy exact'])
    return found


def _module_from(path: str) -> Any:
    """The Python file ``path`` imported as a module of its own name."""
    name = Path(path).stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module     # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def task_curves(run: str, data: str, aware: str | None = None) -> dict:
    """``aware``: a run trained with ``--train-noise`` on the same data,
    whose test accuracy under each level is the ``noise-aware`` row
    (accuracy only: its probabilities are another model's)."""
    trained = load_trained(run)
    items, truth = trained.labelled(data)
    aware_models = [CircuitModel(load_trained(aware), items)] if aware \
        else []
    return curves(circuit_model(trained, items), circuit_model(trained),
                  np.array(truth), aware_models)


def curves(test, train, truth: np.ndarray, aware: list) -> dict:
    """Accuracy and MAE against the noiseless model per level of
    :data:`LEVELS`: unmitigated, each extrapolator, the neural one
    (trained on ``train``), and the accuracy of each ``aware`` model
    (their mean as the ``noise-aware`` row). ``test``, ``train`` and
    ``aware`` have ``run(spec)``, ``amplified(spec, amplifier)`` and
    ``classes(values)`` (:class:`CircuitModel`, :class:`VQCCircuits`)."""
    net = neural_extrapolator(train, depolarizing(0.01), 'channels',
                              factors=(0.5, 1, 2, 3, 4, 5))
    clean = test.run(NoiseSpec())
    curves: dict[str, dict[str, list]] = {}
    for p in LEVELS:
        spec = depolarizing(p)
        columns = {'noiseless': clean, 'noisy': test.run(spec)}
        if p:
            runs = test.amplified(spec, 'channels')
            for method in EXTRAPOLATORS:
                columns[method] = test.classes(extrapolate(SCALES, runs,
                                                           method))
            columns['nn'] = test.classes(net.predict(p, runs))
        for name, probs in columns.items():
            row = curves.setdefault(name, {'level': [], 'accuracy': [],
                                           'mae': []})
            row['level'].append(p)
            row['accuracy'].append(float((probs.argmax(1) == truth).mean()))
            row['mae'].append(float(np.abs(probs - clean).mean()))
    if aware:
        each = [[float((model.run(depolarizing(p)).argmax(1) == truth).mean())
                 for p in LEVELS] for model in aware]
        curves['noise-aware'] = {'level': list(LEVELS), 'accuracy': [
            float(np.mean(column)) for column in zip(*each)], 'each': each}
    at = LEVELS.index(0.01)
    noisy = curves['noisy']['mae'][at]
    removed = {name: 1 - curves[name]['mae'][at - 1] / noisy
               for name in (*EXTRAPOLATORS, 'nn')}
    return {'examples': len(truth), 'curves': curves,
            'error_removed_at_1pct': removed}


def vqc_curves(run: str, aware: list[str]) -> dict:
    """:func:`curves` of a sentiment VQC run on its own test split (the
    split of its recorded data and seeds), the neural extrapolator
    trained on its training split; ``aware``: runs trained with
    ``--train-noise`` on the same split."""
    trained = load_trained(run)
    loaded = trained.task.load(trained.config['data'], trained.settings)
    aware_models = []
    for path in aware:
        other = load_trained(path)
        if other.task.load(other.config['data'], other.settings
                           ).test.labels.tolist() != \
                loaded.test.labels.tolist():
            raise SystemExit(f"{path}: another test split than {run}")
        aware_models.append(VQCCircuits(other, loaded.test.circuits))
    found = curves(VQCCircuits(trained, loaded.test.circuits),
                   circuit_model(trained),
                   loaded.test.labels.numpy(), aware_models)
    return {**found, 'train_examples': len(loaded.train.labels)}


def vqe_circuit(name: str, n: int, layers: int) -> NoisyCircuit:
    """RY-RZ layers and a CX chain; angle ``k`` is symbol ``{name}_{k}``
    (half-turns), so all circuits share one shape and run as a batch."""
    ops, k = [], 0
    for layer in range(layers):
        for q in range(n):
            ops.append(('ry', (q,), f'{name}_{k}'))
            ops.append(('rz', (q,), f'{name}_{k + 1}'))
            k += 2
        for q in range(n - 1):
            ops.append(('cx', (q, q + 1)))
    return NoisyCircuit.from_ops(n, ops, {}, list(range(n)))


def vqe(n: int = 5, layers: int = 3, train: int = 150, test: int = 50,
        seed: int = 0, shots: int | None = None) -> dict:
    """Energy errors per noise level; ``shots``: the noisy energies are
    estimated from that many shots per circuit and scale (the targets
    stay exact)."""
    rng = np.random.default_rng(seed)
    count = 2 * n * layers
    params = rng.uniform(-1, 1, (train + test, count))
    index = {f'c{c}_{k}': c * count + k for c in range(train + test)
             for k in range(count)}
    batch = NoisyBatch([vqe_circuit(f'c{c}', n, layers)
                        for c in range(train + test)], index)
    bits = (np.arange(2 ** n)[:, None] >> (n - 1 - np.arange(n))) & 1
    signs = 1 - 2 * bits                  # Z eigenvalues per qubit
    diagonal = sum(signs[:, i] * signs[:, i + 1] for i in range(n - 1)) \
        + signs.prod(1)
    w = torch.as_tensor(params.reshape(-1))

    def energy(spec: NoiseSpec, sampled: int | None = None) -> np.ndarray:
        probs = batch.run(w, spec).probabilities.numpy()
        if sampled:   # estimates from that many shots
            probs = np.stack([rng.multinomial(sampled, p / p.sum())
                              for p in probs]) / sampled
        return probs @ diagonal

    clean = energy(NoiseSpec())
    levels = [l for l in LEVELS if l]
    found = {p: np.stack([energy(depolarizing(p).scaled(s), shots)
                          for s in SCALES], -1) for p in levels}
    net = NeuralExtrapolator(SCALES, seed=seed).fit(
        np.concatenate([np.full(train, p) for p in levels]),
        np.concatenate([found[p][:train] for p in levels]),
        np.concatenate([clean[:train]] * len(levels)),
        groups=np.concatenate([np.arange(train)] * len(levels)))
    rows = {'level': levels, 'noisy': [], 'richardson': [], 'nn': []}
    for p in levels:
        values, target = found[p][train:], clean[train:]
        rows['noisy'].append(float(np.abs(values[:, 0] - target).mean()))
        rows['richardson'].append(float(np.abs(
            extrapolate(SCALES, values, 'richardson') - target).mean()))
        rows['nn'].append(float(np.abs(net.predict(p, values)
                                       - target).mean()))
    choice = {k: net.choice[k] for k in ('base', 'scaled',
                                         'validation_error', 'candidates')}
    return {'qubits': n, 'layers': layers, 'train': train, 'test': test,
            'shots': shots, 'energy_error': rows, 'nn_choice': choice}


def vqe_results(shots: int) -> dict:
    """:func:`vqe` with exact and with sampled energies, printed."""
    found = {'vqe': vqe(), 'vqe_shots': vqe(shots=shots)}
    for key, what in (('vqe', 'exact'), ('vqe_shots', f'{shots} shots')):
        print(f'vqe energy error ({what}):', found[key]['energy_error'],
              'network chose', {k: found[key]['nn_choice'][k]
                                for k in ('base', 'scaled')})
    return found


def plot(results: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    written = []
    for task in ('mc', 'rp', 'vqc'):
        if task not in results:
            continue
        figure, axes = plt.subplots(1, 2, figsize=(10, 4))
        for index, (name, row) in enumerate(
                results[task]['curves'].items()):
            label = (f"{name} (mean of {len(row['each'])} runs)"
                     if 'each' in row else name)
            axes[0].plot(np.array(row['level']) * 100, row['accuracy'],
                         marker='o', label=label, color=f'C{index}')
            if 'mae' in row and name != 'noiseless':
                axes[1].plot(np.array(row['level']) * 100, row['mae'],
                             marker='o', label=label, color=f'C{index}')
        axes[0].set(xlabel='two-qubit depolarizing (%)',
                    ylabel='test accuracy', title=f'{task.upper()} accuracy')
        axes[1].set(xlabel='two-qubit depolarizing (%)', yscale='log',
                    ylabel='MAE of class probabilities vs noiseless',
                    title=f'{task.upper()} error')
        axes[0].legend()
        figure.tight_layout()
        path = out / f'noise_{task}.png'
        figure.savefig(path, dpi=100)
        written.append(str(path))
    if 'vqe' not in results:
        return written
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, key in zip(axes, ('vqe', 'vqe_shots')):
        rows = results[key]['energy_error']
        for name in ('noisy', 'richardson', 'nn'):
            axis.plot(np.array(rows['level']) * 100, rows[name],
                      marker='o', label=name)
        shots = results[key]['shots']
        axis.set(xlabel='two-qubit depolarizing (%)', yscale='log',
                 ylabel='mean |energy error|',
                 title=f"VQE-style, 5 qubits, "
                       f"{f'{shots} shots' if shots else 'exact'}")
        axis.legend()
    figure.tight_layout()
    path = out / 'noise_vqe.png'
    figure.savefig(path, dpi=100)
    written.append(str(path))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--mc', help='trained MC run (the Aer check and '
                        'the timing run on it)')
    parser.add_argument('--mc-data', default='../shared/data/text/mc')
    parser.add_argument('--rp', help='trained RP run')
    parser.add_argument('--rp-data', default='../shared/data/text/rp')
    parser.add_argument('--mc-aware', help='MC run trained with '
                        '--train-noise (the noise-aware row)')
    parser.add_argument('--rp-aware', help='RP run trained with '
                        '--train-noise')
    parser.add_argument('--vqc', help='trained restaurant-review VQC run '
                        '(qnlp train --task sentiment)')
    parser.add_argument('--vqc-aware', nargs='*', default=[],
                        help='VQC runs trained with --train-noise on the '
                        "same split (the noise-aware row: their mean)")
    parser.add_argument('--no-vqe', action='store_true',
                        help='leave out the VQE-style part')
    parser.add_argument('--repeats', type=int, default=21)
    parser.add_argument('--shots', type=int, default=8192,
                        help='shots of the sampled VQE variant')
    parser.add_argument('--out', default='bench_noise_out')
    parser.add_argument('--vqe-only', action='store_true',
                        help='only the VQE-style extrapolator comparison')
    parser.add_argument('--timing-only', metavar='DATA_FILE',
                        help='only the time of the noisy engine against '
                        'the noiseless one on --mc, on all sentences of '
                        'DATA_FILE')
    parser.add_argument('--old-density', metavar='FILE',
                        help='with --timing-only: an earlier '
                        'qnlp/noise/density.py timed alongside')
    args = parser.parse_args()
    if args.no_vqe and not (args.mc or args.rp or args.vqc):
        parser.error('nothing to run: give --mc, --rp or --vqc, or drop '
                     '--no-vqe')
    warnings.filterwarnings('ignore')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {'load': os.getloadavg(),
                     'threads': torch.get_num_threads()}
    if args.vqe_only:
        results.update(vqe_results(args.shots))
        print(json.dumps(results))
        return
    if args.timing_only:
        if not args.mc:
            parser.error('--timing-only needs --mc RUN')
        results['timing'] = time_engines(args.mc, args.timing_only,
                                         args.repeats, args.old_density)
        print(json.dumps(results))
        return
    if args.mc:
        results['aer_check'] = check_against_aer(args.mc, args.mc_data)
        print('exact noisy engine vs Aer density matrix:',
              results['aer_check'])
        results['timing'] = time_engines(args.mc, args.mc_data,
                                         args.repeats)
        print('time on MC test:', results['timing'])
    for task, run, data, aware in (
            ('mc', args.mc, args.mc_data, args.mc_aware),
            ('rp', args.rp, args.rp_data, args.rp_aware)):
        if run:
            results[task] = task_curves(run, data, aware)
            print(f'{task}:', json.dumps(results[task]['curves']))
            print(f'{task} error removed at 1 %:',
                  results[task]['error_removed_at_1pct'])
    if args.vqc:
        results['vqc'] = vqc_curves(args.vqc, args.vqc_aware)
        print('vqc:', json.dumps(results['vqc']['curves']))
        print('vqc error removed at 1 %:',
              results['vqc']['error_removed_at_1pct'])
    if not args.no_vqe:
        results.update(vqe_results(args.shots))
    results['plots'] = plot(results, out)
    results['load_after'] = os.getloadavg()
    print(json.dumps(results))


if __name__ == '__main__':
    main()
