"""DeepLoc cytoplasm vs cell membrane: chain/tree x uniform/hierarchical.

Task as in ../shared/data/README.md (both FASTA files pooled, 1215
sequences). Split: seeded stratified 70/10/20 (train/dev/test, seed 0);
quantum models select weights on dev, baselines train on train+dev;
sequences cropped to the first --max-length residues. Then throughput
(forward+backward, sequences/s) at --max-length, and side by side with
lambeq PytorchQuantumModel on the same circuits for 16-residue sequences.

    python benchmarks/bench_proteins.py [--data ../shared/data] [--epochs 30]
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

from qnlp.baselines import PROTEIN_BASELINES
from qnlp.data.fasta import DEEPLOC_MEMBRANE_TASK, crop
from qnlp.models import SequenceClassifier
from qnlp.train.proteins import (ProteinSettings, load_protein_split,
                                 train_protein_classifier)

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = tuple((p, label or '') for p, label in DEEPLOC_MEMBRANE_TASK)


def throughput(model: SequenceClassifier, length: int, batch: int = 64,
               repeats: int = 2) -> float:
    tokens = torch.randint(0, len(model.vocabulary), (batch, length))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=Path(os.environ.get(
        'QNLP_DATA_DIR', ROOT.parent / 'shared' / 'data')))
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--chain-epochs', type=int, default=8)
    parser.add_argument('--max-length', type=int, default=1000)
    parser.add_argument('--out', type=Path, default=Path('runs/proteins'))
    args = parser.parse_args()
    folder = args.data / 'protein' / 'deeploc'
    base = ProteinSettings(max_length=args.max_length,
                           label_patterns=PATTERNS)
    results: dict = {'benchmark': 'bench_proteins', 'machine':
                     f'{platform.machine()} {os.cpu_count()} cores',
                     'max_length': args.max_length, 'models': {}}
    for model in ('tree', 'chain'):
        for sharing in ('uniform', 'hierarchical'):
            epochs = args.epochs if model == 'tree' else args.chain_epochs
            settings = replace(base, model=model, sharing=sharing,
                               epochs=epochs)
            metrics = train_protein_classifier(
                folder, args.out / f'{model}-{sharing}', settings,
                progress=False)
            results['models'][f'{model}-{sharing}'] = {
                'test_accuracy': metrics['test_accuracy'],
                'parameters': metrics['n_parameters'],
                'train_seconds': metrics['train_seconds'],
                'epochs': epochs}
            print(f"{model}-{sharing}: test accuracy "
                  f"{metrics['test_accuracy']:.3f}, "
                  f"{metrics['n_parameters']} parameters, "
                  f"{metrics['train_seconds']:.0f} s", flush=True)
    train_r, dev_r, test_r = load_protein_split(folder, base)
    fit_seqs = [crop(r.sequence, args.max_length) for r in train_r + dev_r]
    fit_labels = [r.label for r in train_r + dev_r]
    test_seqs = [crop(r.sequence, args.max_length) for r in test_r]
    test_labels = [r.label for r in test_r]
    for name, make in PROTEIN_BASELINES.items():
        start = time.perf_counter()
        model = make(0).fit(fit_seqs, fit_labels)
        seconds = time.perf_counter() - start
        accuracy = model.score(test_seqs, test_labels)
        results['models'][name] = {'test_accuracy': accuracy,
                                   'parameters': model.n_parameters,
                                   'train_seconds': seconds}
        print(f"{name}: test accuracy {accuracy:.3f}, "
              f"{model.n_parameters} parameters, {seconds:.1f} s",
              flush=True)
    vocabulary = list('ACDEFGHIKLMNPQRSTVWY')
    for model in ('tree', 'chain'):
        rate = throughput(SequenceClassifier(vocabulary, model,
                                             'hierarchical', 2,
                                             max_length=args.max_length),
                          args.max_length)
        results[f'{model}_train_seq_per_s'] = rate
        print(f"{model}: {rate:.0f} sequences/s forward+backward at "
              f"{args.max_length} residues")
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
