"""MC corpus: lambeq PytorchQuantumModel vs lambeq NumpyModel vs qnlp.

The same diagrams (qnlp parser, cup removal, IQP with one qubit per noun
and sentence wire, one layer), the same initial weights, optimiser (Adam,
lr 0.1), loss and batches for the trained models: qnlp (the training
set prepared once, minibatches selected from it, as ``qnlp train``
does), qnlp shape by shape with each minibatch prepared anew (before
batching across shapes), the hand-batched einsum peer of
``bench_speed.py`` and lambeq's PytorchQuantumModel, interleaved in one
process in blocks of ``--block`` consecutive epochs each (``--block 1``:
epoch by epoch); their outputs are checked equal before training. Prints
seconds per training epoch, the ratios, test accuracy, and one JSON line
at the end.

    python benchmarks/bench_mc.py [--data ../shared/data/text/mc]
    python benchmarks/bench_mc.py --block 1  # alternate epoch by epoch
    python benchmarks/bench_mc.py --block 1 --settle  # allocator settled
    python benchmarks/bench_mc.py --count-ops --batch-size 10  # aten calls
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from lambeq import NumpyModel, PytorchQuantumModel

from qnlp.compiler import make_ansatz, to_circuit
from qnlp.data import load_corpus
from qnlp.models import DisCoCatClassifier
from qnlp.parsing import Parser
from qnlp.train import nll

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import EinsumPeer  # noqa: E402  (the sibling benchmark)

ROOT = Path(__file__).resolve().parents[1]


def train(forward, parameters, labels, epochs, batch_size, seed):
    """Adam on NLL, ``forward(index)`` giving the probabilities of the
    training sentences at ``index``; returns seconds per epoch."""
    return interleaved({'one': (forward, parameters)}, labels, epochs,
                       batch_size, seed)['one']


def interleaved(runs, labels, epochs, batch_size, seed, block=1, cpu=None,
                settle=False):
    """:func:`train` for several ``name: (forward, parameters)`` at once,
    in turn, ``block`` consecutive epochs each (the same minibatches for
    all: each has its own generator of orders); seconds per epoch by
    name (wall clock; the thread's CPU seconds of every epoch, in order,
    into the dict ``cpu`` if given: on a loaded machine the wall clock
    also counts the time spent waiting for a core). Every contender's
    timed epoch is the same work: draw the epoch's order, then per
    minibatch ``zero_grad``, forward, ``nll``, backward and an Adam step
    (no evaluation, no checkpoint).

    ``block=1`` alternates epoch by epoch: a short epoch then always
    starts right after another contender's long one, with cold caches (a
    qnlp full-batch epoch there costs 2-3 times the CPU time of the next
    epoch of a block), which a user training one model never sees.

    ``settle``: before each turn, untimed, one 4 KB allocation
    (:func:`settle_allocator`), so that no contender pays for sorting
    the memory the previous one freed.

    Blocks change when an epoch runs, not what it computes:

    >>> def contender():
    ...     w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    ...     return (lambda index: torch.softmax(w, 0).expand(len(index), 2),
    ...             [w])
    >>> labels = torch.tensor([0, 1, 1, 1, 0])
    >>> runs = [{'a': contender(), 'b': contender()} for _ in range(2)]
    >>> _ = interleaved(runs[0], labels, 5, 2, 0, block=1)
    >>> _ = interleaved(runs[1], labels, 5, 2, 0, block=3)
    >>> [bool(torch.equal(runs[0][n][1][0], runs[1][n][1][0]))
    ...  for n in 'ab']
    [True, True]
    """
    optimisers = {n: torch.optim.Adam(p, lr=0.1) for n, (_, p) in
                  runs.items()}
    generators = {n: torch.Generator().manual_seed(seed) for n in runs}
    seconds = {n: 0.0 for n in runs}
    cpu = {} if cpu is None else cpu
    cpu.update({n: [] for n in runs})
    size = len(labels)
    batch_size = batch_size or size
    for first_epoch in range(0, epochs, block):
        for name, (forward, _) in runs.items():
            if settle:
                settle_allocator()
            for _ in range(min(block, epochs - first_epoch)):
                start, start_cpu = time.perf_counter(), time.thread_time()
                order = torch.randperm(size,
                                       generator=generators[name]).tolist()
                for first in range(0, size, batch_size):
                    index = order[first:first + batch_size]
                    optimisers[name].zero_grad()
                    loss = nll(forward(index), labels[index])
                    loss.backward()
                    optimisers[name].step()
                seconds[name] += time.perf_counter() - start
                cpu[name].append(time.thread_time() - start_cpu)
    return {n: s / epochs for n, s in seconds.items()}


def settle_allocator():
    """Make the C allocator sort the small blocks freed so far: glibc
    keeps freed small blocks unsorted ("fastbins") and sorts them all
    at the next allocation of about 1 KB or more, whoever makes it.
    After a lambeq epoch that cost 0.6-0.9 ms in session 15's
    diagnostic (benchmarks/README.md), charged to qnlp's first tensor
    of that size. One such allocation here, outside the timed epochs,
    leaves that cost out of everyone's time (a diagnostic: the
    headline figures are without it).
    """
    torch.empty(512, dtype=torch.float64)


def cold_and_warm(cpu_seconds, block):
    """Median CPU seconds of the epochs that open a block (after another
    contender's turn; the very first epoch, with one-off set-up, left
    out) and of the others (``None`` if there are none).

    >>> cold_and_warm([9.0, 1.0, 1.0, 3.0, 1.0, 2.0], block=3)
    (3.0, 1.0)
    """
    cold = [s for e, s in enumerate(cpu_seconds) if e and e % block == 0]
    warm = [s for e, s in enumerate(cpu_seconds) if e % block]
    return tuple(float(np.median(part)) if part else None
                 for part in (cold, warm))


#: Aten calls that only make views (not counted as computing).
VIEWS = {'view', 'slice', 'transpose', 'select', 'unsqueeze', 'alias',
         'view_as_real', 'detach', '_conj', 'split_with_sizes', 'split',
         'lift_fresh', 'as_strided', 't', 'expand', 'squeeze', 'permute',
         '_record_function_enter_new', '_record_function_exit'}


def count_operations(forward, parameters, labels, batch_size, seed=0):
    """Aten calls of one training step of :func:`interleaved`'s loop
    (zero_grad, model, ``nll``, backward, Adam) on the first minibatch
    of ``seed``'s order, after five warm-up steps: ``(all, computing)``,
    computing leaving out :data:`VIEWS`."""
    from collections import Counter
    from contextlib import nullcontext

    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.calls = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.calls[func.overloadpacket.__name__] += 1
            return func(*args, **(kwargs or {}))

    optimiser = torch.optim.Adam(parameters, lr=0.1)
    order = torch.randperm(len(labels), generator=torch.Generator(
        ).manual_seed(seed)).tolist()
    index = order[:batch_size or len(labels)]
    counter = Count()
    for step in range(6):
        with counter if step == 5 else nullcontext():
            optimiser.zero_grad()
            nll(forward(index), labels[index]).backward()
            optimiser.step()
    calls = counter.calls
    return sum(calls.values()), sum(n for name, n in calls.items()
                                    if name not in VIEWS)


def accuracy(probabilities, labels):
    return float((probabilities.argmax(1) == labels).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    default = Path(os.environ.get('QNLP_DATA_DIR', ROOT.parent / 'shared' /
                                  'data')) / 'text' / 'mc'
    parser.add_argument('--data', type=Path, default=default)
    parser.add_argument('--epochs', type=int, default=120)
    parser.add_argument('--batch-size', type=int, default=0,
                        help='0 = full batch, as qnlp train does')
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--block', type=int, default=10,
                        help="epochs each contender runs in a row before "
                        "the next one's turn (1: alternate epoch by epoch, "
                        "the figures before 2026-12-01 session 14)")
    parser.add_argument('--settle', action='store_true',
                        help="before each contender's turn, untimed, let "
                        "the C allocator sort what the previous one freed "
                        "(see settle_allocator)")
    parser.add_argument('--count-ops', action='store_true',
                        help="only count the aten calls of one qnlp "
                        "training step (nothing timed)")
    args = parser.parse_args()

    corpus = load_corpus(args.data)
    text_parser, ansatz = Parser(), make_ansatz('iqp', layers=1)

    def circuits_of(examples):
        return [to_circuit(text_parser.parse(e.text), ansatz)
                for e in examples]

    def labels_of(examples):
        return torch.tensor([corpus.label_index(e.label) for e in examples])

    train_c, test_c = circuits_of(corpus.train), circuits_of(corpus.test)
    train_y, test_y = labels_of(corpus.train), labels_of(corpus.test)
    every = train_c + circuits_of(corpus.dev) + test_c

    # (c) qnlp, several seeds, as `qnlp train` runs it: the training set
    # prepared once, minibatches selected from it.
    def qnlp_forward(model):
        prepared = model.prepare(train_c)
        return lambda index: model(prepared.select(index))

    if args.count_ops:
        model = DisCoCatClassifier.from_circuits(every, seed=0)
        calls, computing = count_operations(qnlp_forward(model),
                                            model.parameters(), train_y,
                                            args.batch_size)
        print(f"one qnlp training step (batch size {args.batch_size}): "
              f"{calls} aten calls, {computing} computing (views left out)")
        print(json.dumps({'benchmark': 'bench_mc_ops',
                          'batch_size': args.batch_size,
                          'aten_calls_per_step': calls,
                          'computing_aten_calls_per_step': computing}))
        return

    qnlp_results = []
    for seed in range(1, args.seeds):
        model = DisCoCatClassifier.from_circuits(every, seed=seed)
        seconds = train(qnlp_forward(model), model.parameters(), train_y,
                        args.epochs, args.batch_size, seed)
        with torch.no_grad():
            qnlp_results.append((seconds, accuracy(model(test_c), test_y)))
        print(f"qnlp seed {seed}: {seconds * 1e3:.2f} ms/epoch, "
              f"test accuracy {qnlp_results[-1][1]:.3f}", flush=True)

    # Seed 0, blocks of epochs interleaved: qnlp; qnlp with every minibatch
    # prepared anew and run shape by shape (the engine before batching
    # across shapes); the hand-batched einsum peer (bench_speed.py); and
    # lambeq's PytorchQuantumModel, all from the same starting weights.
    model = DisCoCatClassifier.from_circuits(every, seed=0)
    per_shape = DisCoCatClassifier.from_circuits(every, seed=0)
    peer = EinsumPeer(model.engine.symbols)
    peer_weights = torch.nn.Parameter(model.weights.detach().clone())
    lambeq_model = PytorchQuantumModel.from_diagrams(every)
    lambeq_model.initialise_weights()
    with torch.no_grad():
        start = torch.stack([model.weights[model.engine.symbol_slice(s)][0]
                             for s in lambeq_model.symbols])
        lambeq_model.weights.copy_(start.to(lambeq_model.weights.dtype))
        reference = model(train_c)
        # lambeq's model computes in single precision.
        for name, values, tolerance in (
                ('peer', peer(peer_weights, train_c), 1e-12),
                ('lambeq', lambeq_model(train_c), 1e-5)):
            difference = float((values - reference).abs().max())
            print(f"outputs before training, {name} against qnlp: largest "
                  f"difference {difference:.1e}")
            assert difference < tolerance, name
    cpu = {}
    seconds = interleaved({
        'qnlp': (qnlp_forward(model), model.parameters()),
        'per-shape': (lambda index: per_shape(per_shape.engine.prepare(
            [train_c[i] for i in index], merge=False)),
            per_shape.parameters()),
        'peer': (lambda index: peer(peer_weights,
                                    [train_c[i] for i in index]),
                 [peer_weights]),
        'lambeq': (lambda index: lambeq_model([train_c[i] for i in index]),
                   lambeq_model.parameters())},
        train_y, args.epochs, args.batch_size, 0, args.block, cpu,
        args.settle)
    cpu_epochs, cpu = cpu, {n: float(np.mean(s)) for n, s in cpu.items()}
    with torch.no_grad():
        qnlp_results.insert(0, (seconds['qnlp'],
                                accuracy(model(test_c), test_y)))
        lambeq_accuracy = accuracy(lambeq_model(test_c), test_y)
    per_shape_seconds, lambeq_seconds = seconds['per-shape'], seconds['lambeq']
    for name, value in seconds.items():
        print(f"seed 0 {name}: {value * 1e3:.2f} ms/epoch "
              f"(qnlp/{name} time {seconds['qnlp'] / value:.3f}), CPU "
              f"{cpu[name] * 1e3:.2f} ms/epoch (qnlp/{name} "
              f"{cpu['qnlp'] / cpu[name]:.3f})", flush=True)
    cold_warm = {n: cold_and_warm(cpu_epochs[n], args.block)
                 for n in ('qnlp', 'lambeq')}
    for name, (cold, warm) in cold_warm.items():
        if cold is not None and warm is not None:
            print(f"{name} CPU ms per epoch, median: opening a block (after "
                  f"the other contenders) {cold * 1e3:.2f}, the others "
                  f"{warm * 1e3:.2f}")
    print(f"lambeq PytorchQuantumModel test accuracy {lambeq_accuracy:.3f}, "
          f"qnlp seed 0 {qnlp_results[0][1]:.3f}")

    # (b) lambeq NumpyModel, forward only.
    numpy_model = NumpyModel.from_diagrams(every)
    numpy_model.initialise_weights()
    start_time = time.perf_counter()
    repeats = 3
    for _ in range(repeats):
        numpy_model(train_c)
    numpy_forward = (time.perf_counter() - start_time) / repeats
    engine_model = DisCoCatClassifier.from_circuits(every, seed=0)
    prepared = engine_model.prepare(train_c)
    start_time = time.perf_counter()
    with torch.no_grad():
        for _ in range(100):
            engine_model(prepared)
    qnlp_forward = (time.perf_counter() - start_time) / 100
    print(f"forward pass over the training set: NumpyModel "
          f"{numpy_forward * 1e3:.1f} ms, qnlp {qnlp_forward * 1e3:.2f} ms "
          f"({numpy_forward / qnlp_forward:.0f}x)")

    qnlp_seconds = float(np.median([s for s, _ in qnlp_results]))
    perfect = sum(a == 1.0 for _, a in qnlp_results)
    ratio = lambeq_seconds / qnlp_seconds
    print(f"epoch time: lambeq {lambeq_seconds * 1e3:.1f} ms, qnlp "
          f"{qnlp_seconds * 1e3:.2f} ms (median of {args.seeds} seeds): "
          f"{ratio:.0f}x faster")
    print(f"qnlp test accuracy 1.0 in {perfect} of {args.seeds} seeds")
    print(f"seed 0, interleaved (blocks of {args.block} epochs): qnlp "
          f"{seconds['lambeq'] / seconds['qnlp']:.0f}x lambeq (CPU time "
          f"{cpu['lambeq'] / cpu['qnlp']:.0f}x), qnlp time / peer time "
          f"{seconds['qnlp'] / seconds['peer']:.2f}")
    print(json.dumps({
        'benchmark': 'bench_mc', 'machine': f'{platform.machine()} '
        f'{os.cpu_count()} cores', 'torch_threads': torch.get_num_threads(),
        'epochs': args.epochs, 'batch_size': args.batch_size,
        'block': args.block, 'settle': args.settle,
        'train_sentences': len(train_c),
        'lambeq_pytorch_seconds_per_epoch': lambeq_seconds,
        'qnlp_seconds_per_epoch': qnlp_seconds,
        'qnlp_per_shape_seconds_per_epoch_seed0': per_shape_seconds,
        'qnlp_seed0_seconds_per_epoch': qnlp_results[0][0],
        'einsum_peer_seconds_per_epoch_seed0': seconds['peer'],
        'seed0_speedup_vs_lambeq_pytorch': seconds['lambeq'] / seconds['qnlp'],
        'seed0_cpu_seconds_per_epoch': cpu,
        'seed0_cpu_seconds_opening_and_within_blocks': cold_warm,
        'seed0_cpu_speedup_vs_lambeq_pytorch': cpu['lambeq'] / cpu['qnlp'],
        'seed0_qnlp_over_peer_time': seconds['qnlp'] / seconds['peer'],
        'load_average': os.getloadavg(),
        'epoch_speedup_vs_lambeq_pytorch': ratio,
        'lambeq_numpy_forward_seconds': numpy_forward,
        'qnlp_forward_seconds': qnlp_forward,
        'forward_speedup_vs_lambeq_numpy': numpy_forward / qnlp_forward,
        'lambeq_test_accuracy': lambeq_accuracy,
        'qnlp_test_accuracy_per_seed': [a for _, a in qnlp_results],
        'qnlp_seeds_at_1.0': perfect,
        'circuit_shapes': engine_model.engine.n_plans}))


if __name__ == '__main__':
    main()
