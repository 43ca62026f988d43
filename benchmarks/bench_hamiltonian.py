"""Speed of the Hamiltonian data unitary (issue 21 item 4): one training
step (forward and backward, batch ``--batch`` of 28x28 images on 5
qubits, ``--layers`` re-uploads; gradients towards the parameters, and
in an attack's step towards the pixels too) of :mod:`qnlp.models.reupload`'s
``hamiltonian`` model, which diagonalises each image's Hamiltonian once
and applies ``exp(-i t_l H)`` to the state for every layer, against the
same circuit through ``torch.linalg.matrix_exp`` of every image and
layer (the previous implementation). Outputs and gradients are checked
to agree first; the two are timed interleaved in one process; prints
their ratio and ends with one JSON line.

    python benchmarks/bench_hamiltonian.py [--batch 64] [--layers 8]
        [--repeats 5] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from qnlp.models.reupload import make_reupload_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--layers', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = make_reupload_model('hamiltonian', 1, 28, 10,
                                n_layers=args.layers).double()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 1, 28, 28, dtype=torch.float64,
                        generator=generator)
    labels = torch.randint(0, 10, (args.batch,), generator=generator)
    ways = {'eigen': model,
            'matrix_exp': model.reference_forward}

    def step(forward, attack: bool) -> list[torch.Tensor]:
        model.zero_grad()
        pixels = images.clone().requires_grad_(attack)
        loss = torch.nn.functional.cross_entropy(forward(pixels), labels)
        loss.backward()
        return [model.times.grad, model.weights.grad] + (
            [pixels.grad] if attack else [])

    found = {name: step(forward, True) for name, forward in ways.items()}
    gap = max(float((a - b).abs().max())
              for a, b in zip(found['eigen'], found['matrix_exp']))
    if gap > 1e-8:
        raise SystemExit(f"gradients differ by {gap:.2e}")
    figures: dict = {}
    for kind, attack in (('training', False), ('attack', True)):
        times: dict = {name: [] for name in ways}
        for _ in range(args.repeats):
            for name, forward in ways.items():
                start = time.perf_counter()
                step(forward, attack)
                times[name].append(time.perf_counter() - start)
        best = {name: min(values) for name, values in times.items()}
        ratio = best['matrix_exp'] / best['eigen']
        print(f"{kind} step: " + ', '.join(
            f"{name} {1000 * value:.1f} ms" for name, value in best.items())
            + f": eigendecomposition once per image {ratio:.1f}x faster")
        figures[kind] = {**{k: round(1000 * v, 2) for k, v in best.items()},
                         'ratio': round(ratio, 2)}
    print(f"gradients (parameters and pixels) agree to {gap:.1e}")
    print(json.dumps({'benchmark': 'bench_hamiltonian', 'batch': args.batch,
                      'layers': args.layers, 'qubits': 5,
                      'dtype': 'float64', 'threads': args.threads,
                      'machine': platform.processor() or platform.machine(),
                      'load': [round(x, 2) for x in os.getloadavg()],
                      'ms': figures, 'gradient_gap': gap}))


if __name__ == '__main__':
    main()
