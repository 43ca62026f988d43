"""The dev-split grid behind the reupload part of bench_robust.py (issue
21 item 4): each model of the part (``hamiltonian``, ``angle-reupload``,
``qcnn``; 28x28 images, 5 qubits) gets the same budget of six settings,
trained through the image task (seed 0, batch 64, Adam one-cycle), each
scored by its best dev accuracy over the epochs. Dev only: the runs are
given a single test image, and its figure is never read.

* ``hamiltonian``: lr 0.003 / 0.01 / 0.03 x embedding hermitian /
  symmetric (``--layers`` su layers, shifts of 2 pixels);
* ``angle-reupload``: lr 0.003 / 0.01 / 0.03 x shifts 0 / 2;
* ``qcnn``: lr 0.01 / 0.03 / 0.1 x shifts 0 / 2 (its few parameters
  move slowly at small rates).

    python benchmarks/reupload_dev_grid.py FOLDER [--epochs 6]
        [--layers 8] [--out DIR]

FOLDER is an IDX folder with ``val-*`` files (``bench_robust.py --parts
reupload`` writes them: ``OUT/mnist-reupload``). Ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from bench_robust import run
from qnlp.tasks.images import ImageSettings

LRS = {'hamiltonian': (0.003, 0.01, 0.03),
       'angle-reupload': (0.003, 0.01, 0.03),
       'qcnn': (0.01, 0.03, 0.1)}


def candidates(model: str) -> list[dict]:
    """The six settings of ``model`` (see the module docstring)."""
    second = ([{'embedding': e} for e in ('hermitian', 'symmetric')]
              if model == 'hamiltonian'
              else [{'shift': s} for s in (0, 2)])
    return [{'lr': lr, **extra} for lr in LRS[model] for extra in second]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder')
    parser.add_argument('--epochs', type=int, default=6)
    parser.add_argument('--layers', type=int, default=8)
    parser.add_argument('--models', default=','.join(LRS))
    parser.add_argument('--out', type=Path,
                        default=Path('/tmp/reupload_dev_grid'))
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    found: dict = {}
    for model in args.models.split(','):
        for extra in candidates(model):
            name = '-'.join([model] + [f'{k}{v}' for k, v in extra.items()])
            settings = ImageSettings(model=model, epochs=args.epochs,
                                     batch_size=64, layers=args.layers,
                                     test_images=1, seed=0, **extra)
            metrics = run(args.folder, args.out, name, settings)
            found[name] = {'dev': metrics['dev_accuracy'],
                           'seconds': round(metrics['train_seconds'], 1)}
            print(f"{name:<40}dev {metrics['dev_accuracy']:.4f}  "
                  f"{metrics['train_seconds']:.0f} s", flush=True)
        best = max((n for n in found if n.startswith(model + '-')),
                   key=lambda n: found[n]['dev'])
        found[f'best-{model}'] = best
        print(f"best {model} on dev: {best}", flush=True)
    print(json.dumps({'benchmark': 'reupload_dev_grid',
                      'folder': args.folder, 'epochs': args.epochs,
                      'layers': args.layers,
                      'machine': platform.processor() or platform.machine(),
                      'load': [round(x, 2) for x in os.getloadavg()],
                      'seconds': round(time.perf_counter() - start, 1),
                      **found}))


if __name__ == '__main__':
    main()
