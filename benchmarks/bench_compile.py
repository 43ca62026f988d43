"""Compilation: qnlp.compile vs lambeq to_tk() + pytket FullPeepholeOptimise.

Over every MC and RP sentence (qnlp parser, cup removal, IQP ansatz with
2 layers, one qubit per noun and sentence wire):

1. two-qubit gates (CX + TK1 basis) of the baseline -- lambeq's
   ``to_tk()`` then pytket's ``FullPeepholeOptimise`` -- on the symbolic
   circuits and on the circuits with random parameter values bound, against
   qnlp's compiler on the same bound circuits (and its symbolic output);
2. compile time per sentence (qnlp's shape cache starts empty);
3. shot-based accuracy on the MC test set: a DisCoCat model is trained
   with qnlp (exact engine), its test circuits are compiled with the
   trained values bound and run on qiskit-aer (pytket-qiskit's
   AerBackend) with 8,192 shots each and post-selection; predictions from
   the normalised post-selected counts are compared with the exact ones.

4. ``--symbolic`` (issue 24; only this): symbols kept. The symbolic ZX
   rewrite (:mod:`qnlp.compiler.zx_symbolic`, what ``--compile zx``
   trains on) against the baseline on the symbolic circuits, circuit by
   circuit; outputs of the rewritten lambeq circuits against the
   unrewritten ones on the engine at 10 random parameter points (all
   circuits in one batch per point, post-selected probabilities as the
   engine gives them, normalised over the outputs); compile time per sentence with the shape cache empty at
   the start (``Compiler.zx_circuit``: rewrite per shape, substitution
   and the lambeq circuit per sentence). The baseline runs
   ``FullPeepholeOptimise`` once per circuit shape (symbols renamed),
   or on every circuit with ``--per-circuit-baseline`` (slow: about 0.4 s
   each on a quiet machine). Once per shape is the stricter baseline: 3,400
   CX over all 235 against 3,483 per circuit (2026-11-24 run above).

    python benchmarks/bench_compile.py [--data ../shared/data/text]
   ``--train-seeds N`` adds training: ``qnlp train`` on MC and RP
   (layers 2, defaults otherwise: Adam lr 0.1, 120 epochs, full batch),
   seeds 0..N-1, with and without ``--compile zx``, runs interleaved in
   one process; test accuracy and training seconds per epoch.

    python benchmarks/bench_compile.py --symbolic [--train-seeds 5]

Prints figures and ratios and ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from pytket.passes import FullPeepholeOptimise

from qnlp.compiler import Compiler, make_ansatz, to_circuit
from qnlp.compiler.tket import bind, gate_counts, to_tket
from qnlp.data import load_corpus
from qnlp.engine import Engine, run_shots
from qnlp.models import DisCoCatClassifier
from qnlp.parsing import Parser
from qnlp.train import Split, TrainConfig, fit

ROOT = Path(__file__).resolve().parents[1]


def baseline(circuit, values=None):
    """lambeq to_tk() (+ values) then FullPeepholeOptimise; counts, s."""
    start = time.perf_counter()
    gates, _, _ = to_tket(circuit)
    if values is not None:
        gates = bind(gates, values)
    FullPeepholeOptimise().apply(gates)
    seconds = time.perf_counter() - start
    return gate_counts(gates), seconds


def compare_gates(circuits, sentences, values, ansatz):
    """Two-qubit gates and compile time: qnlp vs the baseline."""
    # --- qnlp (cache empty at start) ---------------------------------
    compiler = Compiler(ansatz)
    start, cpu = time.perf_counter(), time.process_time()
    ours = [compiler.compile(c, values) for c in circuits]
    qnlp_bound_seconds = time.perf_counter() - start
    qnlp_bound_cpu = time.process_time() - cpu
    symbolic_compiler = Compiler(ansatz)
    start, cpu = time.perf_counter(), time.process_time()
    ours_symbolic = [symbolic_compiler.compile(c) for c in circuits]
    qnlp_symbolic_seconds = time.perf_counter() - start
    qnlp_symbolic_cpu = time.process_time() - cpu
    n = len(circuits)
    print(f"qnlp: {qnlp_bound_seconds / n * 1e3:.1f} ms per sentence bound "
          f"(CPU {qnlp_bound_cpu / n * 1e3:.1f} ms), "
          f"{qnlp_symbolic_seconds / n * 1e3:.1f} ms symbolic (CPU "
          f"{qnlp_symbolic_cpu / n * 1e3:.1f} ms); {compiler.n_shapes} "
          f"shapes, cache empty at start", flush=True)

    # --- baselines ------------------------------------------------------
    base_sym, base_bound = [], []
    sym_seconds = bound_seconds = 0.0
    for c in circuits:
        counts, seconds = baseline(c)
        base_sym.append(counts)
        sym_seconds += seconds
        counts, seconds = baseline(c, values)
        base_bound.append(counts)
        bound_seconds += seconds
    sym_ms = sym_seconds / len(circuits) * 1e3
    bound_ms = bound_seconds / len(circuits) * 1e3
    print(f"baseline FullPeepholeOptimise: {sym_ms:.1f} ms per sentence "
          f"symbolic, {bound_ms:.1f} ms bound", flush=True)

    def total(rows, key='two_qubit_gates'):
        return int(sum(r[key] for r in rows))

    ours_cx = [c.stats['two_qubit_gates'] for c in ours]
    rows = {}
    for label, base in (('symbolic', base_sym), ('bound', base_bound)):
        for corpus_name in ('mc', 'rp', 'all'):
            pick = [i for i, (n, _) in enumerate(sentences)
                    if corpus_name in ('all', n)]
            b = sum(base[i]['two_qubit_gates'] for i in pick)
            o = sum(ours_cx[i] for i in pick)
            worse = sum(ours_cx[i] > base[i]['two_qubit_gates'] for i in pick)
            rows[f'{label}_{corpus_name}'] = {
                'baseline_two_qubit': b, 'qnlp_two_qubit': o,
                'reduction': 1 - o / b, 'circuits_worse': worse}
            print(f"{corpus_name:>3} vs {label:<8} baseline: {b:5d} CX -> "
                  f"qnlp {o:5d} CX ({(1 - o / b) * 100:.1f}% fewer, "
                  f"ratio {b / o:.2f}x); circuits with more CX than the "
                  f"baseline: {worse}")
    sym_total = sum(c.stats['two_qubit_gates'] for c in ours_symbolic)
    print(f"qnlp symbolic output (pytket passes only): {sym_total} CX "
          f"(baseline symbolic {total(base_sym)})")
    wins: dict[str, int] = {}
    for c in ours:
        wins[c.stats['candidate']] = wins.get(c.stats['candidate'], 0) + 1
    print(f"winning candidates: {wins}")
    # equivalence on every sentence: compiled (statevector, post-selected)
    # against the engine's exact result for the uncompiled circuit
    engine = Engine.from_diagrams(circuits)
    weights = torch.tensor([values[name] for name in engine.symbols],
                           dtype=torch.float64)
    with torch.no_grad():
        exact = engine(weights, circuits).reshape(len(circuits), -1).numpy()
    exact = exact / exact.sum(1, keepdims=True)
    equivalence = float(max(np.abs(c.probabilities() - e).max()
                            for c, e in zip(ours, exact)))
    print(f"max |compiled - engine| over all {len(circuits)} sentences: "
          f"{equivalence:.1e}")
    depth_base = total(base_bound, 'depth')
    depth_ours = sum(c.stats['depth'] for c in ours)
    print(f"total depth: baseline bound {depth_base}, qnlp {depth_ours}")
    return {
        'shapes': compiler.n_shapes,
        'two_qubit': rows, 'winning_candidates': wins,
        'qnlp_symbolic_two_qubit': sym_total,
        'baseline_symbolic_two_qubit': total(base_sym),
        'baseline_depth_bound': depth_base, 'qnlp_depth': depth_ours,
        'max_error_compiled_vs_engine_all': equivalence,
        'qnlp_ms_per_sentence_bound': qnlp_bound_seconds / len(circuits)
        * 1e3,
        'qnlp_ms_per_sentence_symbolic': qnlp_symbolic_seconds
        / len(circuits) * 1e3,
        'qnlp_cpu_ms_per_sentence_bound': qnlp_bound_cpu / n * 1e3,
        'qnlp_cpu_ms_per_sentence_symbolic': qnlp_symbolic_cpu / n * 1e3,
        'baseline_ms_per_sentence_symbolic': sym_ms,
        'baseline_ms_per_sentence_bound': bound_ms}


def compare_symbolic(circuits, sentences, ansatz, points=10, seed=0,
                     per_circuit=False):
    """Symbolic ZX rewrite vs the symbolic baseline; equal outputs."""
    compiler = Compiler(ansatz, symbolic=('zx',))
    start, cpu = time.perf_counter(), time.process_time()
    rewritten = [compiler.zx_circuit(c) for c in circuits]
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    n = len(circuits)
    ours = [gate_counts(to_tket(c)[0])['two_qubit_gates'] for c in rewritten]
    if per_circuit:
        base = [baseline(c)[0]['two_qubit_gates'] for c in circuits]
    else:   # FullPeepholeOptimise once per shape (the Compiler's cache)
        tket = Compiler(ansatz, symbolic=('tket',))
        base = [tket.compile(c).stats['two_qubit_gates'] for c in circuits]
    rows = {}
    for corpus_name in ('mc', 'rp', 'all'):
        pick = [i for i, (name, _) in enumerate(sentences)
                if corpus_name in ('all', name)]
        b, o = sum(base[i] for i in pick), sum(ours[i] for i in pick)
        worse = sum(ours[i] > base[i] for i in pick)
        rows[corpus_name] = {'baseline_two_qubit': b, 'zx_two_qubit': o,
                             'reduction': 1 - o / b, 'circuits_worse': worse}
        print(f"{corpus_name:>3} symbolic: baseline {b:5d} CX -> ZX "
              f"rewrite {o:5d} CX ({(1 - o / b) * 100:.1f}% fewer); "
              f"circuits worse: {worse}")
    engine = Engine.from_diagrams(circuits + rewritten)
    rng = np.random.default_rng(seed)
    error = 0.0
    for _ in range(points):
        weights = torch.tensor(rng.random(len(engine.symbols)),
                               dtype=torch.float64)
        with torch.no_grad():
            before = engine(weights, circuits).reshape(n, -1)
            after = engine(weights, rewritten).reshape(n, -1)
        error = max(error, float((before - after).abs().max()))
    print(f"max |rewritten - original| over {n} circuits x {points} points "
          f"(engine, post-selected, normalised): {error:.1e}")
    print(f"ZX rewrite: {seconds / n * 1e3:.1f} ms per sentence wall "
          f"(CPU {cpu / n * 1e3:.1f} ms), {compiler.n_shapes} shapes, "
          f"cache empty at start")
    return {'symbolic_two_qubit': rows, 'points': points,
            'max_error_rewritten_vs_original': error,
            'zx_ms_per_sentence': seconds / n * 1e3,
            'zx_cpu_ms_per_sentence': cpu / n * 1e3,
            'shapes': compiler.n_shapes}


def compare_training(data, seeds, layers):
    """``qnlp train`` with and without ``--compile zx``, interleaved."""
    import tempfile

    from qnlp.cli import main as qnlp_main
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for corpus_name in ('mc', 'rp'):
            for seed in range(seeds):
                for mode in ('none', 'zx'):
                    out = Path(tmp) / f'{corpus_name}-{mode}-{seed}'
                    code = qnlp_main(['train', str(data / corpus_name),
                                      '--out', str(out), '--layers',
                                      str(layers), '--seed', str(seed),
                                      '--compile', mode, '--quiet'])
                    assert code == 0, (corpus_name, mode, seed)
                    metrics = json.loads((out / 'metrics.json').read_text())
                    row = rows.setdefault(f'{corpus_name}_{mode}', {
                        'test_accuracy': [], 'epoch_seconds': []})
                    row['test_accuracy'].append(metrics['test_accuracy'])
                    row['epoch_seconds'].append(
                        metrics['train_seconds'] / metrics['epochs_run'])
    for key, row in rows.items():
        acc, sec = np.array(row['test_accuracy']), \
            np.array(row['epoch_seconds'])
        row.update(mean_accuracy=float(acc.mean()),
                   std_accuracy=float(acc.std()),
                   mean_epoch_seconds=float(sec.mean()))
        print(f"{key:>8}: test accuracy {acc.mean():.3f} +- {acc.std():.3f}"
              f" ({', '.join(f'{a:.3f}' for a in acc)}); "
              f"{sec.mean() * 1e3:.1f} ms per epoch")
    for corpus_name in ('mc', 'rp'):
        ratio = rows[f'{corpus_name}_none']['mean_epoch_seconds'] / \
            rows[f'{corpus_name}_zx']['mean_epoch_seconds']
        rows[f'{corpus_name}_epoch_ratio_none_over_zx'] = ratio
        print(f"{corpus_name}: epoch time unrewritten / ZX {ratio:.2f}x")
    return {'training': rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    default = Path(os.environ.get('QNLP_DATA_DIR', ROOT.parent / 'shared' /
                                  'data')) / 'text'
    parser.add_argument('--data', type=Path, default=default)
    parser.add_argument('--layers', type=int, default=2)
    parser.add_argument('--shots', type=int, default=8192)
    parser.add_argument('--epochs', type=int, default=120)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--symbolic', action='store_true',
                        help='only the symbolic ZX rewrite vs the symbolic '
                             'baseline (issue 24)')
    parser.add_argument('--per-circuit-baseline', action='store_true',
                        help='with --symbolic: FullPeepholeOptimise on '
                             'every circuit, not once per shape')
    parser.add_argument('--train-only', action='store_true',
                        help='with --train-seeds: skip the gate counts')
    parser.add_argument('--train-seeds', type=int, default=0,
                        help='with --symbolic: also train MC and RP with '
                             'and without --compile zx for these seeds')
    parser.add_argument('--shots-only', action='store_true',
                        help='skip the gate-count comparison')
    parser.add_argument('--limit', type=int, default=0,
                        help='only the first N sentences per corpus '
                             '(quick check; 0 = all)')
    args = parser.parse_args()

    text_parser = Parser()
    ansatz = make_ansatz('iqp', layers=args.layers)
    corpora = {name: load_corpus(args.data / name) for name in ('mc', 'rp')}
    sentences = []
    for name, corpus in corpora.items():
        examples = corpus.train + corpus.dev + corpus.test
        if args.limit:
            examples = examples[:args.limit]
        sentences += [(name, e.text) for e in examples]
    circuits = [to_circuit(text_parser.parse(text), ansatz)
                for _, text in sentences]
    rng = np.random.default_rng(args.seed)
    all_symbols = sorted({s.name for c in circuits for s in c.free_symbols})
    values = dict(zip(all_symbols, rng.random(len(all_symbols)).tolist()))
    print(f"{len(circuits)} sentences ({sum(n == 'mc' for n, _ in sentences)}"
          f" MC, {sum(n == 'rp' for n, _ in sentences)} RP), "
          f"{len(all_symbols)} symbols", flush=True)

    if args.symbolic:
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        figures = {} if args.train_only else compare_symbolic(
            circuits, sentences, ansatz, seed=args.seed,
            per_circuit=args.per_circuit_baseline)
        if args.train_seeds:
            figures.update(compare_training(args.data, args.train_seeds,
                                            args.layers))
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        print(json.dumps({'benchmark': 'bench_compile --symbolic',
                          'machine': f'{platform.machine()} '
                          f'{os.cpu_count()} cores',
                          'sentences': len(circuits), 'layers': args.layers,
                          **figures}))
        return
    figures = {} if args.shots_only else compare_gates(
        circuits, sentences, values, ansatz)

    # --- shots on the MC test set -----------------------------------
    mc = corpora['mc']

    def circuits_of(examples):
        return [to_circuit(text_parser.parse(e.text), ansatz)
                for e in examples]

    def labels_of(examples):
        return torch.tensor([mc.label_index(e.label) for e in examples])

    train_c, dev_c, test_c = (circuits_of(mc.train), circuits_of(mc.dev),
                              circuits_of(mc.test))
    model = DisCoCatClassifier.from_circuits(train_c + dev_c + test_c,
                                             seed=args.seed)
    start = time.perf_counter()
    fit(model, Split(train_c, labels_of(mc.train)),
        Split(dev_c, labels_of(mc.dev)),
        TrainConfig(epochs=args.epochs, lr=0.1, seed=args.seed),
        progress=False)
    train_seconds = time.perf_counter() - start
    test_y = labels_of(mc.test).numpy()
    with torch.no_grad():
        exact = model(test_c).numpy()
    trained = model.parameter_values()
    shot_compiler = Compiler(ansatz)
    compiled = [shot_compiler.compile(c, trained) for c in test_c]
    start = time.perf_counter()
    results = run_shots([c.to_tket() for c in compiled],
                        [c.postselect for c in compiled],
                        [c.outputs for c in compiled], args.shots,
                        seed=args.seed)
    shots_seconds = time.perf_counter() - start
    shot_probs = np.stack([dist[:2] / max(dist[:2].sum(), 1e-12)
                           for dist, _ in results])
    kept = np.array([k for _, k in results])
    success = np.array([c.success_probability() for c in compiled])
    compiled_exact = np.stack([c.probabilities()[:2] for c in compiled])
    exact_accuracy = float((exact.argmax(1) == test_y).mean())
    # a circuit with no shot surviving post-selection counts as wrong
    shot_accuracy = float(((shot_probs.argmax(1) == test_y)
                           & (kept > 0)).mean())
    empty = int((kept == 0).sum())
    errors = np.abs(shot_probs - exact)[kept > 0]
    max_prob_error = float(errors.max()) if errors.size else float('nan')
    mean_prob_error = float(errors.mean()) if errors.size else float('nan')
    compiled_vs_engine = float(np.abs(compiled_exact - exact).max())
    print(f"MC test ({len(test_c)} sentences, model trained in "
          f"{train_seconds:.1f} s): exact accuracy {exact_accuracy:.3f}, "
          f"{args.shots} shots on AerBackend {shot_accuracy:.3f} "
          f"(difference {abs(shot_accuracy - exact_accuracy):.3f}); "
          f"circuits with no shot kept: {empty}; |p_shots - p_exact| "
          f"mean {mean_prob_error:.4f}, max {max_prob_error:.4f}; compiled "
          f"exact vs engine {compiled_vs_engine:.1e}")
    print("success probabilities (sorted): "
          + ' '.join(f'{p:.3g}' for p in np.sort(success)))
    print(f"post-selection: success probability mean {success.mean():.3f} "
          f"(min {success.min():.3f}), kept shots mean {kept.mean():.0f} "
          f"of {args.shots}; shots for +-0.01 (95%): median "
          f"{int(np.median([c.shots_needed(0.01) for c in compiled]))}; "
          f"AerBackend {shots_seconds:.1f} s")

    figures = {
        'benchmark': 'bench_compile', 'machine': f'{platform.machine()} '
        f'{os.cpu_count()} cores', 'sentences': len(circuits),
        'layers': args.layers, **figures,
        'shots': args.shots, 'mc_test_exact_accuracy': exact_accuracy,
        'mc_test_shot_accuracy': shot_accuracy,
        'accuracy_difference': abs(shot_accuracy - exact_accuracy),
        'max_probability_error_shots': max_prob_error,
        'mean_probability_error_shots': mean_prob_error,
        'circuits_without_kept_shots': empty,
        'compiled_exact_vs_engine': compiled_vs_engine,
        'mean_success_probability': float(success.mean()),
        'mean_kept_shots': float(kept.mean())}
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
