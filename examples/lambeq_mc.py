"""lambeq's MC tutorial (quantum training) with qnlp's engine underneath.

    python examples/lambeq_mc.py [--epochs 120]

This is lambeq's "Training: quantum case" notebook with three lines
changed, marked ``# qnlp``: the model comes from :mod:`qnlp.lambeq`,
``BobcatParser`` (whose model can no longer be downloaded) becomes
qnlp's offline :class:`~qnlp.lambeq.PregroupParser`, and the loss runs
on numpy (the notebook's ``use_jax=True`` served lambeq's JAX-compiled
model; here it would only add seconds of compilation). Everything else --
``RemoveCupsRewriter``, ``IQPAnsatz``, ``Dataset``, ``QuantumTrainer``,
``SPSAOptimizer``, ``BinaryCrossEntropyLoss`` -- is lambeq's own.

It reads the MC corpus from ``$QNLP_DATA_DIR/text/mc`` (default
``../shared/data/text/mc``) when present, else the bundled *meaning*
corpus in ``corpora/meaning``, and prints the test accuracy.
"""
import argparse
import os
from pathlib import Path

import numpy as np
from lambeq import (AtomicType, BinaryCrossEntropyLoss, Dataset, IQPAnsatz,
                    QuantumTrainer, RemoveCupsRewriter, SPSAOptimizer)

from qnlp.lambeq import NumpyModel  # qnlp: was `from lambeq import ...`
from qnlp.lambeq import PregroupParser  # qnlp: stands in for BobcatParser

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get('QNLP_DATA_DIR',
                             ROOT.parent / 'shared' / 'data')) / 'text' / 'mc'


def corpus_files() -> list[Path]:
    """MC's train, dev and test files, or the bundled corpus's."""
    if SHARED.is_dir():
        return [SHARED / f'mc_{split}_data.txt'
                for split in ('train', 'dev', 'test')]
    return [ROOT / 'corpora' / 'meaning' / f'{split}.txt'
            for split in ('train', 'dev', 'test')]


def read_data(filename):
    labels, sentences = [], []
    with open(filename) as f:
        for line in f:
            t = float(line[0])
            labels.append([t, 1-t])
            sentences.append(line[1:].strip())
    return labels, sentences


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    options.add_argument('--epochs', type=int, default=120)
    EPOCHS = options.parse_args().epochs
    BATCH_SIZE = 30
    SEED = 2

    train_file, dev_file, test_file = corpus_files()
    train_labels, train_data = read_data(train_file)
    dev_labels, dev_data = read_data(dev_file)
    test_labels, test_data = read_data(test_file)

    parser = PregroupParser()  # qnlp: was BobcatParser(verbose='text')
    raw_train_diagrams = parser.sentences2diagrams(train_data)
    raw_dev_diagrams = parser.sentences2diagrams(dev_data)
    raw_test_diagrams = parser.sentences2diagrams(test_data)

    remove_cups = RemoveCupsRewriter()
    train_diagrams = [remove_cups(diagram) for diagram in raw_train_diagrams]
    dev_diagrams = [remove_cups(diagram) for diagram in raw_dev_diagrams]
    test_diagrams = [remove_cups(diagram) for diagram in raw_test_diagrams]

    ansatz = IQPAnsatz({AtomicType.NOUN: 1, AtomicType.SENTENCE: 1},
                       n_layers=1, n_single_qubit_params=3)
    train_circuits = [ansatz(diagram) for diagram in train_diagrams]
    dev_circuits = [ansatz(diagram) for diagram in dev_diagrams]
    test_circuits = [ansatz(diagram) for diagram in test_diagrams]

    all_circuits = train_circuits + dev_circuits + test_circuits
    model = NumpyModel.from_diagrams(all_circuits, use_jit=True)

    bce = BinaryCrossEntropyLoss()  # qnlp: was use_jax=True

    def acc(y_hat, y):
        return np.sum(np.round(y_hat) == y) / len(y) / 2

    trainer = QuantumTrainer(
        model,
        loss_function=bce,
        epochs=EPOCHS,
        optimizer=SPSAOptimizer,
        optim_hyperparams={'a': 0.05, 'c': 0.06, 'A': 0.001 * EPOCHS},
        evaluate_functions={'acc': acc},
        evaluate_on_train=True,
        verbose='text',
        seed=SEED
    )
    train_dataset = Dataset(train_circuits, train_labels,
                            batch_size=BATCH_SIZE)
    val_dataset = Dataset(dev_circuits, dev_labels, shuffle=False)
    trainer.fit(train_dataset, val_dataset, log_interval=12)

    test_acc = acc(model(test_circuits), np.array(test_labels))
    print(f'{len(train_circuits)} training circuits, {EPOCHS} epochs: '
          f'final train loss {trainer.train_epoch_costs[-1]:.4f}, '
          f'test accuracy {test_acc:.3f}')


if __name__ == '__main__':
    main()
