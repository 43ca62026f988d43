"""DeepLoc cytoplasm vs cell membrane: chain/tree x uniform/hierarchical.

Task as in ../shared/data/README.md (both FASTA files pooled, 1215
sequences). Split: seeded stratified 80/20 (test = 20 %; of the 80 %,
10 % of all sequences is the dev set on which the quantum models select
their weights; baselines train on train+dev); whole sequences (windows
cover every residue), or cropped to the first --max-length residues. The
variant with the best dev accuracy is then cross-validated (5 folds).
Then throughput (forward+backward, sequences/s) on sequences of
--throughput-length residues, and side by side with lambeq
PytorchQuantumModel on the same circuits for 16-residue sequences.

    python benchmarks/bench_proteins.py [--data ../shared/data] [--epochs 50]
        [--qubits 2] [--max-length N]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from qnlp.baselines import (PROTEIN_BASELINES, EsmEmbeddingClassifier,
                             load_esm2)
from qnlp.errors import ConfigError
from qnlp.models import SequenceClassifier
from qnlp.tasks import train
from qnlp.tasks.proteins import (DEEPLOC_LABEL_PATTERNS, ProteinSettings,
                                 cropped, load_protein_split,
                                 make_sequence_model)

ROOT = Path(__file__).resolve().parents[1]


def throughput(model: SequenceClassifier, length: int, batch: int = 64,
               repeats: int = 3) -> float:
    """Sequences/s of forward + backward passes after one warm-up pass."""
    tokens = torch.randint(0, len(model.vocabulary), (batch, length))
    model(tokens)[:, 1].sum().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        model.zero_grad()
        model(tokens)[:, 1].sum().backward()
    return batch * repeats / (time.perf_counter() - start)


def lambeq_side_by_side(length: int = 16, count: int = 32) -> dict:
    from lambeq import PytorchQuantumModel

    from qnlp.engine import Engine
    from qnlp.parsing.protein import tree_circuit
    generator = torch.Generator().manual_seed(0)
    letters = 'ACDEFGHIKLMNPQRSTVWY'
    seqs = [''.join(letters[i] for i in torch.randint(
        0, 20, (length,), generator=generator)) for _ in range(count)]
    circuits = [tree_circuit(list(s), layers=2, sharing='hierarchical')
                for s in seqs]
    model = SequenceClassifier(list(letters), 'tree', 'hierarchical', 2,
                               max_length=length)
    tokens = model.prepare([[letters.index(c) for c in s] for s in seqs])
    lambeq_model = PytorchQuantumModel.from_diagrams(circuits)
    lambeq_model.initialise_weights()
    start = time.perf_counter()
    lambeq_model(circuits).sum().backward()
    lambeq_rate = count / (time.perf_counter() - start)
    engine = Engine.from_diagrams(circuits)
    weights = torch.rand(engine.n_weights, dtype=torch.float64,
                         requires_grad=True)
    start = time.perf_counter()
    engine(weights, circuits).sum().backward()
    engine_rate = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(5):
        model.zero_grad()
        model(tokens)[:, 1].sum().backward()
    scan_rate = 5 * count / (time.perf_counter() - start)
    return {'length': length, 'lambeq_pytorch_seq_per_s': lambeq_rate,
            'qnlp_engine_seq_per_s': engine_rate,
            'qnlp_levels_seq_per_s': scan_rate,
            'levels_vs_lambeq': scan_rate / lambeq_rate}


def _train(folder: Path, out: Path, settings: ProteinSettings) -> dict:
    metrics = train('proteins', folder, out, settings, progress=False)
    return {'test_accuracy': metrics['test_accuracy'],
            'dev_accuracy': metrics['dev_accuracy'],
            'test_f1': metrics['test_f1'],
            'parameters': metrics['n_parameters'],
            'train_seconds': metrics['train_seconds'],
            'epochs': settings.epochs}


def _baselines(folder: Path, base: ProteinSettings) -> dict:
    train_r, dev_r, test_r = load_protein_split(folder, base)
    fit_seqs = [cropped(r, base) for r in train_r + dev_r]
    fit_labels = [r.label for r in train_r + dev_r]
    test_seqs = [cropped(r, base) for r in test_r]
    test_labels = [r.label for r in test_r]
    makers = dict(PROTEIN_BASELINES)
    try:
        encoder, alphabet = load_esm2()
        makers['esm2-t6-8M'] = lambda seed: EsmEmbeddingClassifier(
            encoder, alphabet, max_length=base.max_length or 1022)
    except ConfigError as error:
        print(f"esm2 baseline skipped: {error}", flush=True)
    results = {}
    for name, make in makers.items():
        start = time.perf_counter()
        model = make(0).fit(fit_seqs, fit_labels)
        seconds = time.perf_counter() - start
        accuracy = model.score(test_seqs, test_labels)
        results[name] = {'test_accuracy': accuracy,
                         'parameters': model.n_parameters,
                         'train_seconds': seconds}
        print(f"{name}: test accuracy {accuracy:.3f}, "
              f"{model.n_parameters} parameters, {seconds:.1f} s",
              flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=Path(os.environ.get(
        'QNLP_DATA_DIR', ROOT.parent / 'shared' / 'data')))
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--max-length', type=int, default=None,
                        help='crop sequences for training (default: none)')
    parser.add_argument('--throughput-length', type=int, default=1000)
    parser.add_argument('--qubits', type=int,
                        default=ProteinSettings.qubits)
    parser.add_argument('--stride', type=int, default=0,
                        help='step between windows (default window/4)')
    parser.add_argument('--folds', type=int, default=5,
                        help='cross-validation folds for the variant with '
                             'the best dev accuracy (0: none)')
    parser.add_argument('--out', type=Path, default=Path('runs/proteins'))
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    folder = args.data / 'protein' / 'deeploc'
    base = ProteinSettings(max_length=args.max_length, epochs=args.epochs,
                           stride=args.stride, qubits=args.qubits,
                           label_patterns=DEEPLOC_LABEL_PATTERNS)
    results: dict = {'benchmark': 'bench_proteins', 'machine':
                     f'{platform.machine()} {os.cpu_count()} cores',
                     'max_length': args.max_length, 'settings': {
                         'window': base.window, 'stride': base.stride,
                         'qubits': base.qubits, 'lr': base.lr,
                         'layers': base.layers, 'epochs': args.epochs},
                     'models': {}}
    for model in ('tree', 'chain'):
        for sharing in ('uniform', 'hierarchical'):
            name = f'{model}-{sharing}'
            settings = replace(base, model=model, sharing=sharing)
            results['models'][name] = row = _train(folder, args.out / name,
                                                   settings)
            print(f"{name}: test accuracy {row['test_accuracy']:.3f} "
                  f"(dev {row['dev_accuracy']:.3f}), {row['parameters']} "
                  f"parameters, {row['train_seconds']:.0f} s", flush=True)
    results['models'].update(_baselines(folder, base))
    if args.folds:
        best = max((n for n in results['models'] if '-' in n and
                    n.split('-')[0] in ('tree', 'chain')),
                   key=lambda n: results['models'][n]['dev_accuracy'])
        model, sharing = best.split('-')
        folds = []
        for fold in range(args.folds):
            settings = replace(base, model=model, sharing=sharing,
                               folds=args.folds, fold=fold)
            folds.append(_train(folder, args.out / f'{best}-fold{fold}',
                                settings)['test_accuracy'])
            print(f"{best} fold {fold}: test accuracy {folds[-1]:.3f}",
                  flush=True)
        mean = sum(folds) / len(folds)
        results['cross_validation'] = {'model': best, 'folds': folds,
                                       'mean': mean}
        print(f"{best}: {args.folds}-fold cross-validation mean {mean:.3f}")
    vocabulary = list('ACDEFGHIKLMNPQRSTVWY')
    length = args.throughput_length
    for model in ('tree', 'chain'):
        for sharing in ('uniform', 'hierarchical'):
            rate = throughput(make_sequence_model(
                vocabulary, replace(base, model=model, sharing=sharing)),
                length)
            results[f'{model}-{sharing}_train_seq_per_s'] = rate
            print(f"{model}-{sharing}: {rate:.0f} sequences/s "
                  f"forward+backward at {length} residues")
    side = lambeq_side_by_side()
    results['side_by_side_16_residues'] = side
    print(f"16 residues, tree circuits: lambeq PytorchQuantumModel "
          f"{side['lambeq_pytorch_seq_per_s']:.1f} seq/s, qnlp engine "
          f"{side['qnlp_engine_seq_per_s']:.1f} seq/s, qnlp level-by-level "
          f"{side['qnlp_levels_seq_per_s']:.0f} seq/s "
          f"({side['levels_vs_lambeq']:.0f}x lambeq)")
    print(json.dumps(results))


if __name__ == '__main__':
    main()
