"""Exploratory variants of the windowed chain on DeepLoc (issue 5).

Variants of ``SequenceClassifier`` (chain, hierarchical, windows) that
are not (yet) options of the library, trained with the library's own
``fit`` on the task's split or one cross-validation fold:

* ``--channels K``: K independent chains, their pooled logits summed;
* ``--mean``: a trained weight on the mean of the window read-outs too;
* ``--hydropathy-init``: token angles set so that each residue's <Z> is
  its Kyte-Doolittle hydropathy / 4.5;
* ``--length-neutral``: soft max and min minus ``T log(windows)``.

With none of them it is exactly ``qnlp train --task proteins ... --model
chain --sharing hierarchical`` (same initial values and steps).

Run:  python benchmarks/protein_variants.py [--fold K] [--mean] ...
The last line is one JSON object with the accuracies.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from qnlp.baselines.protein import KYTE_DOOLITTLE
from qnlp.tasks.proteins import (DEEPLOC_LABEL_PATTERNS, ProteinSettings,
                                 load_protein_data, make_sequence_model)
from qnlp.train.trainer import evaluate, fit

DEEPLOC = Path(__file__).resolve().parent.parent.parent / 'shared' / 'data' \
    / 'protein' / 'deeploc'


class Variant(torch.nn.Module):
    """``channels`` windowed chains; logits summed (see the module doc)."""

    def __init__(self, vocabulary: list[str], settings: ProteinSettings,
                 channels: int, mean: bool, length_neutral: bool) -> None:
        super().__init__()
        self.parts = torch.nn.ModuleList([make_sequence_model(
            vocabulary, settings, seed=settings.seed + 1000 * k)
            for k in range(channels)])
        self.mean_weight = (torch.nn.Parameter(torch.zeros(channels))
                            if mean else None)
        self.length_neutral = length_neutral

    def prepare(self, sequences):
        return self.parts[0].prepare(sequences)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        logit = 0
        for k, part in enumerate(self.parts):
            z, valid = part.window_readouts(tokens)
            w = part.readout
            logit = logit + part.pooled_logit(z, valid) + w[1]
            if self.length_neutral:
                shift = w[2].exp() * valid.sum(1).clamp_min(1).log()
                logit = logit - (w[0] - w[3]) * shift
            if self.mean_weight is not None:
                mean = (z * valid).sum(1) / valid.sum(1).clamp_min(1)
                logit = logit + self.mean_weight[k] * mean
        p1 = torch.sigmoid(logit)
        return torch.stack([1 - p1, p1], dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=DEEPLOC)
    parser.add_argument('--fold', type=int, default=-1,
                        help='5-fold CV test fold (default: the 80/20 split)')
    parser.add_argument('--channels', type=int, default=1)
    parser.add_argument('--mean', action='store_true')
    parser.add_argument('--hydropathy-init', action='store_true')
    parser.add_argument('--length-neutral', action='store_true')
    parser.add_argument('--window', type=int, default=32)
    parser.add_argument('--stride', type=int, default=8)
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--lr', type=float, default=0.01)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--qubits', type=int, default=ProteinSettings.qubits,
                        help='qubits a wire (the figures of 2026-11-25 in '
                             'benchmarks/README.md: 1)')
    parser.add_argument('--max-length', type=int, default=None,
                        help='crop to this many residues (default none; '
                             'the figures of 2026-11-25: 1000)')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = ProteinSettings(
        model='chain', sharing='hierarchical', window=args.window,
        stride=args.stride, epochs=args.epochs, lr=args.lr, seed=args.seed,
        qubits=args.qubits, max_length=args.max_length,
        label_patterns=DEEPLOC_LABEL_PATTERNS,
        folds=5 if args.fold >= 0 else 0, fold=max(args.fold, 0))
    torch.manual_seed(settings.seed)
    data = load_protein_data(args.data, settings)
    vocabulary, train, dev, test = (data.vocabulary, data.train, data.dev,
                                    data.test)
    model = Variant(list(vocabulary), settings, args.channels, args.mean,
                    args.length_neutral)
    if args.hydropathy_init:
        with torch.no_grad():
            for part in model.parts:
                for token, index in vocabulary.items():
                    if token in KYTE_DOOLITTLE:   # <Z> = cos(2 pi a)
                        part.token_angles[index, 0] = math.acos(
                            KYTE_DOOLITTLE[token] / 4.5) / (2 * math.pi)
    start = time.perf_counter()
    history = fit(model, train, dev, settings.train_config(),
                  progress=False)
    result = {'benchmark': 'protein_variants', **vars(args),
              'data': str(args.data),
              'parameters': sum(p.numel() for p in model.parameters()),
              'seconds': time.perf_counter() - start,
              'epochs_run': len(history)}
    for name, data in (('train', train), ('dev', dev), ('test', test)):
        result[f'{name}_accuracy'] = evaluate(
            model, model.prepare(data.circuits), data.labels)[1]
    print(json.dumps(result))


if __name__ == '__main__':
    main()
