"""float32 against float64 (and CUDA against CPU, where a GPU is present).

Forward + backward time of
* the DisCoCat engine on the bundled corpus (corpora/meaning, the 100
  training sentences, IQP ansatz, one prepared batch), and
* the protein chain model (hierarchical sharing, blocks of 8, 2 layers,
  1 qubit) on a batch of 64 random 1,000-residue sequences,
for each available device and both dtypes. Each figure is the best of
``--repeats`` timed runs after one warm-up (best, not mean: the machine is
shared), and the runs of all settings of a model are interleaved (one
float64 step, one float32 step, ...) so that load changes hit them alike.
Without CUDA the CUDA rows are left out and the output says so.

    python benchmarks/bench_devices.py [--repeats 7] [--length 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from qnlp.models import DisCoCatClassifier, SentencePipeline, \
    SequenceClassifier

ROOT = Path(__file__).resolve().parents[1]


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def best_times(steps: dict, repeats: int) -> dict:
    """Best time of each ``(device, step)``, runs interleaved."""
    for device, step in steps.values():
        step()                  # warm-up: compiles plans, fills caches
        _sync(device)
    times: dict = {key: [] for key in steps}
    for _ in range(repeats):
        for key, (device, step) in steps.items():
            start = time.perf_counter()
            step()
            _sync(device)
            times[key].append(time.perf_counter() - start)
    return {key: min(values) for key, values in times.items()}


def discocat_case(device: str, dtype: torch.dtype):
    lines = (ROOT / 'corpora' / 'meaning' / 'train.txt').read_text(
    ).splitlines()
    texts = [line.split(None, 1)[1] for line in lines if line.strip()]
    labels = torch.tensor([int(line.split()[0]) for line in lines
                           if line.strip()], device=device)
    pipeline = SentencePipeline()
    pipeline.fit_vocabulary(texts)
    circuits = pipeline.circuits(texts)
    model = DisCoCatClassifier.from_circuits(circuits, 2, seed=0,
                                             dtype=dtype, device=device)
    batch = model.prepare(circuits)

    def step() -> None:
        model.zero_grad()
        probs = model(batch)
        loss = -torch.log(probs.gather(1, labels[:, None])).mean()
        loss.backward()

    return step, {'sentences': len(texts)}


def chain_case(device: str, dtype: torch.dtype, length: int,
               batch: int = 64):
    letters = 'ACDEFGHIKLMNPQRSTVWY'
    model = SequenceClassifier(list(letters) + ['<unk>'], 'chain',
                               'hierarchical', 2, block=8,
                               max_length=length, seed=0, dtype=dtype,
                               device=device)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 20, (batch, length),
                           generator=generator).to(device)

    def step() -> None:
        model.zero_grad()
        model(tokens)[:, 1].sum().backward()

    return step, {'sequences': batch, 'length': length}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--length', type=int, default=1000)
    args = parser.parse_args()
    devices = ['cpu']
    if torch.cuda.is_available():
        devices.append('cuda')
    else:
        print('CUDA: no CUDA device on this machine; CUDA rows not run')
    load = os.getloadavg()
    results: dict = {'machine': f"{platform.machine()}, {os.cpu_count()} "
                                f"cores, torch {torch.__version__}",
                     'threads': torch.get_num_threads(),
                     'load_average_start': [round(x, 2) for x in load],
                     'repeats': args.repeats, 'cases': {}}
    keys = [(device, name, dtype) for device in devices
            for name, dtype in (('float64', torch.float64),
                                ('float32', torch.float32))]
    for model, make, count in (
            ('discocat', discocat_case, 'sentences'),
            ('chain', lambda d, t: chain_case(d, t, args.length),
             'sequences')):
        made = {f'{d}/{n}': (d, *make(d, t)) for d, n, t in keys}
        best = best_times({k: (d, step) for k, (d, step, _) in made.items()},
                          args.repeats)
        for key, (_, _, info) in made.items():
            results['cases'].setdefault(key, {})[model] = {
                **info, 'seconds': best[key],
                f'{count}_per_s': info[count] / best[key]}
    for key, cases in results['cases'].items():
        disco, chain = cases['discocat'], cases['chain']
        print(f"{key:14s} DisCoCat fwd+bwd {disco['seconds'] * 1e3:8.2f}"
              f" ms ({disco['sentences']} sentences)   chain fwd+bwd "
              f"{chain['seconds'] * 1e3:8.2f} ms ({chain['sequences']} "
              f"x {chain['length']} residues)")
    ratios = {}
    for device in devices:
        double = results['cases'][f'{device}/float64']
        single = results['cases'][f'{device}/float32']
        for model in ('discocat', 'chain'):
            ratio = double[model]['seconds'] / single[model]['seconds']
            ratios[f'{device}/{model} float64/float32'] = ratio
            print(f"{device} {model}: float32 is {ratio:.2f}x the speed "
                  "of float64")
    if 'cuda' in devices:
        for name in ('float64', 'float32'):
            for model in ('discocat', 'chain'):
                ratio = (results['cases'][f'cpu/{name}'][model]['seconds']
                         / results['cases'][f'cuda/{name}'][model]['seconds'])
                ratios[f'{model} {name} cpu/cuda'] = ratio
                print(f"{model} {name}: CUDA is {ratio:.2f}x the speed of "
                      "the CPU")
    results['ratios'] = ratios
    results['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results))


if __name__ == '__main__':
    main()
