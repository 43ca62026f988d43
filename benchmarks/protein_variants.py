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
from qnlp.data.fasta import crop
from qnlp.models.sequence import SequenceClassifier
from qnlp.parsing.protein import tokenise_protein
from qnlp.train.proteins import (ProteinSettings, _encode, load_protein_split,
                                 parse_label_patterns)
from qnlp.train.trainer import TrainConfig, evaluate, fit

DEEPLOC = Path(__file__).resolve().parent.parent.parent / 'shared' / 'data' \
    / 'protein' / 'deeploc'
TASK = [r'\sCytoplasm-Nucleus-=', r'\sCell\.membrane-=1', r'\sCytoplasm-=0']


class Variant(torch.nn.Module):
    """``channels`` windowed chains; logits summed (see the module doc)."""

    def __init__(self, vocabulary: list[str], settings: ProteinSettings,
                 channels: int, mean: bool, length_neutral: bool) -> None:
        super().__init__()
        s = settings
        self.parts = torch.nn.ModuleList([SequenceClassifier(
            vocabulary, s.model, s.sharing, s.layers, s.block, s.max_length,
            s.seed + 1000 * k, s.qubits, s.init_scale, s.window, s.stride)
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
            logit = logit + w[0] * part._soft_max(z, valid) \
                - w[3] * part._soft_max(-z, valid) + w[1]
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
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = ProteinSettings(
        model='chain', sharing='hierarchical', window=args.window,
        stride=args.stride, epochs=args.epochs, lr=args.lr, seed=args.seed,
        label_patterns=parse_label_patterns(TASK),
        folds=5 if args.fold >= 0 else 0, fold=max(args.fold, 0))
    torch.manual_seed(settings.seed)
    parts = load_protein_split(args.data, settings)
    labels = sorted({r.label for part in parts for r in part})
    tokens = sorted({t for r in parts[0] for t in tokenise_protein(
        crop(r.sequence, settings.max_length, settings.crop))})
    vocabulary = {t: i for i, t in enumerate(tokens + ['<unk>'])}
    train, dev, test = (_encode(p, settings, vocabulary, labels)
                        for p in parts)
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
    history = fit(model, train, dev, TrainConfig(
        epochs=settings.epochs, batch_size=settings.batch_size,
        lr=settings.lr, seed=settings.seed), progress=False)
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
