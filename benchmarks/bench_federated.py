"""Federated training on Flower against centralised training (issue 22).

For each model (the restaurant-review VQC, MC DisCoCat, HQNN-Parallel on
an MNIST subset) one centralised ``qnlp train`` run and federated runs
(``qnlp.federated.federate``, 5 clients) with IID partitions (FedAvg) and
Dirichlet(0.3) label skew (FedAvg and FedProx): test accuracy after every
round, final test accuracy, seconds per round. Centralised and federated
runs use the same task settings and seed; a client trains ``--local``
epochs per round, the centralised run ``rounds x local`` epochs (the same
number of passes over each example).

``--engines`` also runs the VQC on Flower's Ray simulation engine and on
the in-process engine, checks that both end with the same weights, and
times a round on each (one run each: Ray starts once per run).

``--schedule ROUNDSxLOCAL`` replaces the models' rounds and local
epochs (e.g. ``24x5``); ``--seeds N`` runs the centralised and IID
FedAvg runs for seeds 0..N-1 (Dirichlet runs on seed 0 only) and prints
their means. Every federated run reports its dev accuracy and the round
it kept (the best dev round), so schedules can be chosen on dev.
``--mnist-dev N`` (default 1,000) holds N other MNIST training images
out as the dev split, so that both runs keep their best-dev epoch/round.
``--client-schedule``, ``--iid-strategy fedavgm`` and
``--server-momentum`` set the federated recipe (``qnlp federate``'s
options; by default each model's entry of ``RECIPES``, chosen on dev:
MNIST 40 rounds of one local epoch with a constant client learning
rate); ``--iid-only`` skips the Dirichlet runs.
``--attack`` runs the gradient-inversion check of
:mod:`qnlp.federated.leakage` on the VQC (angle and ZZ map) and a
classical model of the same size.

The MNIST subset (``--mnist-train`` images of the official training set,
stratified with seed 0, and the whole official test set) is written as
IDX files into a temporary folder and read by the images task as usual.

    python benchmarks/bench_federated.py [--only vqc mc mnist] [--engines] [--attack]
        [--schedule 24x5] [--seeds 5] [--mnist-dev 1000] [--iid-only]
        [--client-schedule cosine] [--iid-strategy fedavgm]

Prints a table per model; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / 'shared' / 'data'
#: model -> (task, data, task settings, rounds, local epochs)
MODELS = {
    'vqc': ('sentiment', SHARED / 'text/sentiment/restaurant_reviews.tsv',
            {}, 10, 10),
    'mc': ('sentences', SHARED / 'text/mc', {}, 24, 5),
    'mnist': ('images', None, {}, 40, 1),
}
#: model -> its federated recipe, chosen on dev (benchmarks/README.md)
RECIPES = {'mnist': {'client_schedule': 'constant'}}
RUNS = (('iid', 'fedavg'), ('dirichlet:0.3', 'fedavg'),
        ('dirichlet:0.3', 'fedprox'))


def mnist_subset(size: int, folder: Path, dev: int = 0,
                 name: str = 'mnist') -> Path:
    """``size`` MNIST (or ``name``: fashion-mnist) training images and
    ``dev`` others as the dev split (each stratified, seed 0; IDX
    ``val-*`` files), and the whole test set, as IDX files in
    ``folder``."""
    from qnlp.data.images import write_idx
    source = SHARED / 'images' / name
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(source / 'train-labels-idx1-ubyte.gz') as handle:
        labels = np.frombuffer(handle.read()[8:], dtype=np.uint8)
    with gzip.open(source / 'train-images-idx3-ubyte.gz') as handle:
        images = np.frombuffer(handle.read()[16:], dtype=np.uint8
                               ).reshape(-1, 28, 28)
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(np.flatnonzero(labels == digit))
                for digit in range(10)]
    for prefix, start, count in (('train', 0, size // 10),
                                 ('val', size // 10, dev // 10)):
        keep = np.sort(np.concatenate([order[start:start + count]
                                       for order in shuffled]))
        if len(keep):
            write_idx(folder / f'{prefix}-images-idx3-ubyte.gz',
                      images[keep], compress=True)
            write_idx(folder / f'{prefix}-labels-idx1-ubyte.gz',
                      labels[keep], compress=True)
    for name in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'):
        (folder / name).write_bytes((source / name).read_bytes())
    return folder


def centralised(task: str, data: Path, settings: dict, epochs: int,
                out: Path) -> dict:
    from qnlp.tasks import train
    start = time.perf_counter()
    metrics = train(task, data, out, {**settings, 'epochs': epochs},
                    progress=False, overwrite=True)
    return {'test_accuracy': metrics['test_accuracy'],
            'dev_accuracy': metrics['dev_accuracy'],
            'seconds': time.perf_counter() - start, 'epochs': epochs}


def federated(task: str, data: Path, settings: dict, rounds: int,
              local: int, scheme: str, strategy: str, out: Path,
              engine: str = 'local', **recipe: Any) -> dict:
    from qnlp.federated import FederatedSettings, Job, federate
    curve: list[float] = []
    job = Job(task, str(data), {**settings, 'epochs': local},
              FederatedSettings(clients=5, rounds=rounds, strategy=strategy,
                                partition=scheme, proximal_mu=0.01,
                                **recipe))
    start = time.perf_counter()
    metrics = federate(job, out, engine=engine, overwrite=True,
                       on_round=lambda row: curve.append(
                           row['test_accuracy']))
    seconds = time.perf_counter() - start
    return {'test_accuracy': metrics['test_accuracy'],
            'dev_accuracy': metrics['dev_accuracy'],
            'selected_round': metrics['selected_round'],
            'curve': curve, 'seconds': seconds,
            'seconds_per_round': metrics['seconds_per_round']}


def _dev(found: dict) -> str:
    dev = found.get('dev_accuracy')
    return '' if dev is None else f", dev {dev:.4f}"


def run_model(name: str, work: Path, mnist_train: int,
              schedule: tuple[int, int] | None = None, seeds: int = 1,
              mnist_dev: int = 0, iid_only: bool = False,
              iid_strategy: str = 'fedavg', **recipe: Any) -> dict:
    """Centralised and federated runs of model ``name``; ``recipe``
    (``client_schedule``, ``server_lr``, ``server_momentum``; None:
    the model's :data:`RECIPES` entry, else Flower's and the task's
    defaults) goes to every federated run, ``iid_strategy`` is the IID
    runs' strategy."""
    task, data, settings, rounds, local = MODELS[name]
    rounds, local = schedule or (rounds, local)
    recipe = {**RECIPES.get(name, {}),
              **{k: v for k, v in recipe.items() if v is not None}}
    settings = {k: v for k, v in settings.items() if v is not None}
    if name == 'mnist':
        data = mnist_subset(mnist_train, work / 'mnist', mnist_dev)
    row: dict = {'task': task, 'rounds': rounds, 'local_epochs': local,
                 'clients': 5, 'seeds': seeds, 'recipe': recipe}
    runs = [('iid', iid_strategy)] + ([] if iid_only else list(RUNS[1:]))
    for seed in range(seeds):
        seeded = {**settings, 'seed': seed} if seeds > 1 else settings
        tag = f' seed {seed}' if seeds > 1 else ''
        found = centralised(task, data, seeded, rounds * local,
                            work / f'{name}-central')
        row[f'centralised{tag}'] = found
        print(f"{name}{tag}: centralised {rounds * local} epochs: test "
              f"{found['test_accuracy']:.4f}{_dev(found)} "
              f"({found['seconds']:.1f} s)", flush=True)
        for scheme, strategy in runs if seed == 0 else runs[:1]:
            key = f'{scheme} {strategy}{tag}'
            row[key] = found = federated(
                task, data, seeded, rounds, local, scheme, strategy,
                work / f'{name}-{scheme}-{strategy}', **recipe)
            print(f"{name}: {key}: test {found['test_accuracy']:.4f}"
                  f"{_dev(found)}, round {found['selected_round']} kept, "
                  f"{found['seconds_per_round']:.2f} s/round, by round "
                  f"{' '.join(f'{a:.3f}' for a in found['curve'])}",
                  flush=True)
    tags = [f' seed {seed}' if seeds > 1 else '' for seed in range(seeds)]
    gaps = [100 * (row[f'centralised{t}']['test_accuracy']
                   - row[f'iid {iid_strategy}{t}']['test_accuracy'])
            for t in tags]
    row['iid_gap_points'] = float(np.mean(gaps))
    row['iid_gap_points_sd'] = float(np.std(gaps, ddof=1)) \
        if seeds > 1 else None
    print(f"{name}: centralised - IID {iid_strategy}, mean over {seeds} "
          f"seed(s): {row['iid_gap_points']:.2f} points", flush=True)
    return row


def _schedule(text: str) -> tuple[int, int]:
    try:
        rounds, local = (int(part) for part in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--schedule {text!r}: expected ROUNDSxLOCAL, e.g. 24x5")
    return rounds, local


def compare_engines(work: Path) -> dict:
    """The VQC, 5 clients, 3 rounds, on the Ray engine and in process:
    same final weights, and the seconds per round of each."""
    import torch

    from qnlp.train.run import RunDirectory
    task, data, settings, _, local = MODELS['vqc']
    found = {}
    for engine in ('local', 'ray'):
        found[engine] = federated(task, data, settings, 3, local, 'iid',
                                  'fedavg', work / f'engine-{engine}', engine)
    weights = [RunDirectory(work / f'engine-{e}').read_weights()
               for e in ('local', 'ray')]
    same = all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    result = {'same_weights': same,
              'seconds_per_round': {e: found[e]['seconds_per_round']
                                    for e in found},
              'run_seconds': {e: found[e]['seconds'] for e in found}}
    result['ray_over_local'] = (result['seconds_per_round']['ray']
                                / result['seconds_per_round']['local'])
    print(f"engines: same final weights {same}; s/round local "
          f"{result['seconds_per_round']['local']:.2f}, ray "
          f"{result['seconds_per_round']['ray']:.2f} (ratio "
          f"{result['ray_over_local']:.1f}); whole runs "
          f"{result['run_seconds']['local']:.1f} s / "
          f"{result['run_seconds']['ray']:.1f} s", flush=True)
    return result


def main() -> None:
    from qnlp.federated.core import CLIENT_SCHEDULES, STRATEGIES
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='*', default=list(MODELS),
                        choices=list(MODELS))
    parser.add_argument('--mnist-train', type=int, default=6000)
    parser.add_argument('--engines', action='store_true')
    parser.add_argument('--attack', action='store_true')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--schedule', type=_schedule,
                        help='ROUNDSxLOCAL for every model run')
    parser.add_argument('--seeds', type=int, default=1)
    parser.add_argument('--mnist-dev', type=int, default=1000,
                        help='MNIST training images (others than the '
                             '--mnist-train ones) held out as the dev split')
    parser.add_argument('--iid-only', action='store_true',
                        help='no Dirichlet runs')
    parser.add_argument('--iid-strategy', default='fedavg',
                        choices=STRATEGIES)
    parser.add_argument('--client-schedule', choices=CLIENT_SCHEDULES,
                        help="default: the model's recipe (RECIPES), "
                             'else task')
    parser.add_argument('--server-momentum', type=float, default=0.9,
                        help='with --iid-strategy fedavgm')
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    logging.getLogger('flwr').setLevel(logging.WARNING)
    result: dict = {'benchmark': 'federated', 'date': time.strftime(
        '%Y-%m-%d'), 'machine': f"{platform.machine()}, {os.cpu_count()} "
        f"cores", 'load_start': os.getloadavg()[0], 'models': {}}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name in args.only:
            result['models'][name] = run_model(
                name, work, args.mnist_train, args.schedule, args.seeds,
                args.mnist_dev, args.iid_only, args.iid_strategy,
                client_schedule=args.client_schedule,
                server_momentum=args.server_momentum)
        if args.engines:
            result['engines'] = compare_engines(work)
    if args.attack:
        from qnlp.federated.leakage import leakage_report
        result['attack'] = leakage_report(
            MODELS['vqc'][1], report=lambda line: print(line, flush=True))
    result['load_end'] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == '__main__':
    main()
