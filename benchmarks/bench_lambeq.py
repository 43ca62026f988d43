"""lambeq's MC and RP tutorial loops: lambeq's models against qnlp.lambeq's.

Each loop is lambeq's tutorial pipeline (reader, ``RemoveCupsRewriter``,
``IQPAnsatz`` with one qubit per noun and sentence wire, one layer, three
single-qubit parameters), trained twice per repetition with lambeq's own
trainer: once with lambeq's model class and once with the class of the
same name from :mod:`qnlp.lambeq`, from the same initial weights and
seeds, in alternating order. Two trainers:

* ``PytorchTrainer`` with ``PytorchQuantumModel``, Adam (lr 0.1);
* ``QuantumTrainer`` with ``NumpyModel`` and ``SPSAOptimizer`` (the
  tutorial's hyperparameters; lambeq's NumpyModel without JAX jit, whose
  per-diagram compilation alone takes minutes).

The outputs of both models on the training set are compared before any
timing (the run stops if they differ by more than the weights'
precision allows: 1e-5 for float32, 1e-10 for float64). Prints seconds
per loop, the lambeq/qnlp ratio and both test accuracies; ends with one
JSON line.

    python benchmarks/bench_lambeq.py [--pytorch-epochs 30]
        [--spsa-epochs 100] [--repeats 2] [--loops pytorch spsa]
        [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import lambeq
import numpy as np
import torch
from lambeq import (AtomicType, BinaryCrossEntropyLoss, Dataset, IQPAnsatz,
                    PytorchTrainer, QuantumTrainer, RemoveCupsRewriter,
                    SPSAOptimizer)

import qnlp.lambeq as ql

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('QNLP_DATA_DIR', ROOT.parent / 'shared' / 'data'))


def read_data(filename: Path) -> tuple[list[list[float]], list[str]]:
    """lambeq's tutorial reader: a 0/1 label, then the sentence."""
    labels, sentences = [], []
    for line in filename.read_text().splitlines():
        t = float(line[0])
        labels.append([t, 1 - t])
        sentences.append(line[1:].strip())
    return labels, sentences


def tutorial_circuits(files: dict[str, Path]) -> dict[str, tuple]:
    """Circuits and labels per split, as lambeq's tutorials make them."""
    reader, remove_cups = ql.PregroupParser(), RemoveCupsRewriter()
    ansatz = IQPAnsatz({AtomicType.NOUN: 1, AtomicType.SENTENCE: 1},
                       n_layers=1, n_single_qubit_params=3)
    splits = {}
    for split, path in files.items():
        labels, sentences = read_data(path)
        circuits = [ansatz(remove_cups(d))
                    for d in reader.sentences2diagrams(sentences)]
        splits[split] = (circuits, labels)
    return splits


class SeededDataset(Dataset):
    """lambeq's ``Dataset``, shuffled by a generator of its own.

    lambeq's ``Dataset`` shuffles with Python's global ``random``, which
    lambeq's models draw from while contracting and qnlp's do not: the two
    runs would see different batches from the second epoch on.
    """

    def __init__(self, *args, seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.generator = random.Random(seed)

    def shuffle_data(self, data: list, targets: list) -> tuple[list, list]:
        joint = list(zip(data, targets))
        self.generator.shuffle(joint)
        data, targets = zip(*joint)
        return list(data), list(targets)


def torch_bce(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy(y_hat, y.to(y_hat))


def accuracy(y_hat, y) -> float:
    """Share of rows whose larger entry agrees (numpy or torch)."""
    y_hat, y = (v.detach().cpu().numpy() if isinstance(v, torch.Tensor)
                else np.asarray(v) for v in (y_hat, y))
    return float(np.mean(np.argmax(y_hat, 1) == np.argmax(y, 1)))


def new_model(cls, circuits: list, seed: int):
    """``cls`` over ``circuits`` with lambeq's initialisation under
    ``seed`` (the same weights for lambeq's class and qnlp's)."""
    model = cls.from_diagrams(circuits)
    torch.manual_seed(seed)
    np.random.seed(seed)
    model.initialise_weights()
    return model


def fit_pytorch(cls, splits: dict, epochs: int, seed: int) -> dict:
    every = [c for circuits, _ in splits.values() for c in circuits]
    model = new_model(cls, every, seed)
    trainer = PytorchTrainer(model, torch_bce, epochs,
                             optimizer=torch.optim.Adam, learning_rate=0.1,
                             evaluate_functions={'acc': accuracy},
                             evaluate_on_train=True, verbose='suppress',
                             seed=seed, log_dir=tempfile.mkdtemp())
    return _fit(trainer, model, splits, seed)


def fit_spsa(cls, splits: dict, epochs: int, seed: int) -> dict:
    every = [c for circuits, _ in splits.values() for c in circuits]
    model = new_model(cls, every, seed)
    trainer = QuantumTrainer(
        model, BinaryCrossEntropyLoss(), epochs, optimizer=SPSAOptimizer,
        optim_hyperparams={'a': 0.05, 'c': 0.06, 'A': 0.001 * epochs},
        evaluate_functions={'acc': accuracy}, evaluate_on_train=True,
        verbose='suppress', seed=seed, log_dir=tempfile.mkdtemp())
    return _fit(trainer, model, splits, seed)


def _fit(trainer, model, splits: dict, seed: int) -> dict:
    train = SeededDataset(*splits['train'], batch_size=30, seed=seed)
    dev = Dataset(*splits['dev'], shuffle=False) if 'dev' in splits else None
    start = time.perf_counter()
    trainer.fit(train, dev)
    seconds = time.perf_counter() - start
    test_circuits, test_labels = splits['test']
    with torch.no_grad():
        predictions = model(test_circuits)
    return {'seconds': seconds, 'test_accuracy': accuracy(predictions,
                                                          test_labels),
            'final_train_loss': float(trainer.train_epoch_costs[-1])}


def check_outputs(splits: dict) -> float:
    """Largest difference between lambeq's and qnlp's outputs on the
    training circuits, for both model pairs (same weights), each against
    the tolerance of its weights' precision (lambeq's
    ``PytorchQuantumModel`` holds float32 weights: 1e-5; ``NumpyModel``
    float64: 1e-10)."""
    circuits = splits['train'][0]
    worst = 0.0
    for theirs_cls, ours_cls in ((lambeq.PytorchQuantumModel,
                                  ql.PytorchQuantumModel),
                                 (lambeq.NumpyModel, ql.NumpyModel)):
        theirs, ours = (new_model(cls, circuits, 0)
                        for cls in (theirs_cls, ours_cls))
        with torch.no_grad():
            a, b = (np.asarray(torch.as_tensor(m(circuits)).detach(),
                               dtype=float) for m in (theirs, ours))
        weights = np.asarray(torch.as_tensor(theirs.weights[0]).detach())
        tolerance = 1e-5 if weights.dtype == np.float32 else 1e-10
        difference = float(np.abs(a - b).max())
        if difference > tolerance:
            raise SystemExit(f"{theirs_cls.__name__}: outputs differ by "
                             f"{difference:.2e} (tolerance {tolerance:g}); "
                             "not timing")
        worst = max(worst, difference)
    return worst


def corpora(data: Path) -> dict[str, dict[str, Path]]:
    mc, rp = data / 'text' / 'mc', data / 'text' / 'rp'
    found = {}
    if mc.is_dir():
        found['MC'] = {split: mc / f'mc_{split}_data.txt'
                       for split in ('train', 'dev', 'test')}
    if rp.is_dir():
        found['RP'] = {split: rp / f'rp_{split}_data.txt'
                       for split in ('train', 'test')}
    if not found:
        raise SystemExit(f"no MC or RP corpus under {data / 'text'}")
    return found


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    options.add_argument('--data', type=Path, default=DATA)
    options.add_argument('--pytorch-epochs', type=int, default=30)
    options.add_argument('--spsa-epochs', type=int, default=100)
    options.add_argument('--repeats', type=int, default=2)
    options.add_argument('--loops', nargs='+', default=['pytorch', 'spsa'],
                         choices=['pytorch', 'spsa'])
    args = options.parse_args()
    loops = {'pytorch': (fit_pytorch, args.pytorch_epochs,
                         (lambeq.PytorchQuantumModel, ql.PytorchQuantumModel)),
             'spsa': (fit_spsa, args.spsa_epochs,
                      (lambeq.NumpyModel, ql.NumpyModel))}
    loops = {name: loops[name] for name in args.loops}
    results: dict[str, dict] = {}
    for corpus, files in corpora(args.data).items():
        splits = tutorial_circuits(files)
        difference = check_outputs(splits)
        print(f"{corpus}: {len(splits['train'][0])} training circuits; "
              f"lambeq and qnlp outputs differ by {difference:.1e}",
              flush=True)
        for name, (fit, epochs, classes) in loops.items():
            runs: dict[str, list[dict]] = {'lambeq': [], 'qnlp': []}
            for repeat in range(args.repeats):
                order = [0, 1] if repeat % 2 == 0 else [1, 0]
                for which in order:
                    runs[('lambeq', 'qnlp')[which]].append(
                        fit(classes[which], splits, epochs, seed=repeat))
            seconds = {k: float(np.median([r['seconds'] for r in v]))
                       for k, v in runs.items()}
            ratio = seconds['lambeq'] / seconds['qnlp']
            accuracies = {k: [r['test_accuracy'] for r in v]
                          for k, v in runs.items()}
            print(f"{corpus} {name} ({epochs} epochs): lambeq "
                  f"{seconds['lambeq']:.2f} s, qnlp {seconds['qnlp']:.2f} s,"
                  f" {ratio:.1f}x; test accuracy lambeq "
                  f"{accuracies['lambeq']}, qnlp {accuracies['qnlp']}",
                  flush=True)
            results[f"{corpus}_{name}"] = {
                'epochs': epochs, 'seconds': seconds, 'speedup': ratio,
                'test_accuracy': accuracies,
                'final_train_loss': {k: [r['final_train_loss'] for r in v]
                                     for k, v in runs.items()}}
    print(json.dumps({'benchmark': 'bench_lambeq', 'repeats': args.repeats,
                      'machine': platform.machine(),
                      'cpus': os.cpu_count(),
                      'load': os.getloadavg()[0], 'results': results}))


if __name__ == '__main__':
    main()
