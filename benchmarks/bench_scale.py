"""Scale-out: data-parallel DisCoCat training on SST-2, 1 vs N processes.

Trains the same DisCoCat classifier (same settings, seed and global
batch) on the SST-2 training sentences (``../shared/data/text/sst2``)
once in a single process and once with ``--nproc N`` (torch.distributed,
gloo, each rank parsing, compiling and evaluating its shard), and
reports:

* steady-state training throughput (sentences per second over the
  epochs after the first, whose plan compilation is excluded) and the
  wall time of the whole run (parsing included), with ratios;
* the final metrics of both runs and the largest weight difference,
  which must agree (gradients are rounded to a grid before each step, so
  the summation order of N ranks leaves the weights bit-identical).

The single-process baseline is run with 1 and with 2 torch threads, and
the ratio is taken against the faster one. Sentences the parser cannot
reduce are left out (``--unparsable skip``) and counted.

Then (unless ``--skip-backend``) the MC test set goes through the
job-handle path on Aer, is killed after some batches and resumed, and
the finished batches that were resubmitted are counted
(``bench_backends.py``); with ``--sweeps`` also ``qnlp compare --jobs``
(``bench_sweeps.py``).

With ``--shapes`` it instead trains in this one process, on the same
sentences, batch and seed, the engine running each minibatch shape by
shape, each prepared anew (as before batching across shapes), merged
across shapes (``qnlp.engine.merge``) and padded across shapes
(``qnlp.engine.padded``, the default), the last two selected from the
prepared training set as ``qnlp train`` does, epochs interleaved; it
checks their outputs against the per-shape path first and reports the
throughputs (plan compilation and layouts excluded: built first), their
ratios and the largest difference of the loss trajectories.

Run:  python benchmarks/bench_scale.py [--train-limit N] [--epochs E]
      python benchmarks/bench_scale.py --shapes --train-limit 2000
The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SST2 = HERE.parent.parent / 'shared' / 'data' / 'text' / 'sst2'
MC = HERE.parent.parent / 'shared' / 'data' / 'text' / 'mc'
sys.path.insert(0, str(HERE))  # the sibling benchmarks below


def _subset(source: Path, target: Path, train_limit: int,
            eval_limit: int) -> Path:
    """SST-2 with the first lines of each file (0 = every line)."""
    target.mkdir(parents=True, exist_ok=True)
    for name, limit in (('train', train_limit), ('dev', eval_limit),
                        ('test', eval_limit)):
        lines = (source / f'stsa.binary.{name}').read_text().splitlines()
        kept = lines[:limit] if limit else lines
        (target / f'sst2.{name}').write_text('\n'.join(kept) + '\n')
    return target


def _run(corpus: Path, out: Path, options: list[str], nproc: int,
         threads: int) -> dict:
    """One ``qnlp train`` in a fresh process; its metrics and timings."""
    command = [sys.executable, '-m', 'qnlp', 'train', str(corpus),
               '--out', str(out), '--quiet', *options]
    if nproc > 1:
        command += ['--nproc', str(nproc)]
    # torch takes its thread count from OMP_NUM_THREADS; ranks of
    # --nproc use cores // nproc each whatever it says.
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads))
    start = time.perf_counter()
    subprocess.run(command, check=True, env=environment,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    metrics = json.loads((out / 'metrics.json').read_text())
    history = [json.loads(line) for line in
               (out / 'history.jsonl').read_text().splitlines()]
    return {'metrics': metrics, 'history': history, 'wall_seconds': wall,
            'out': out}


def _throughput(run: dict, n_train: int) -> float:
    """Training sentences per second over the epochs after the first."""
    seconds = [row['seconds'] for row in run['history']]
    if len(seconds) < 2:
        return n_train / seconds[0]
    return n_train * (len(seconds) - 1) / (seconds[-1] - seconds[0])


def _weights(out: Path):
    from safetensors.torch import load_file
    return load_file(str(out / 'weights.safetensors'))['weights']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=SST2)
    parser.add_argument('--train-limit', type=int, default=0,
                        help='first N training sentences (0 = all 6920)')
    parser.add_argument('--eval-limit', type=int, default=400,
                        help='first N dev and test sentences (0 = all)')
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--tagger', default='spacy')
    parser.add_argument('--baseline-threads', default='1,2',
                        help='torch threads of the single-process runs '
                             '(the ratio is against the fastest)')
    parser.add_argument('--skip-training', action='store_true',
                        help='no data-parallel training figures')
    parser.add_argument('--skip-backend', action='store_true',
                        help='no Aer kill-and-resume figures')
    parser.add_argument('--mc', type=Path, default=MC,
                        help='MC corpus for the backend figures')
    parser.add_argument('--sweeps', action='store_true',
                        help='also time qnlp compare --jobs (bench_sweeps)')
    parser.add_argument('--shapes', action='store_true',
                        help='only: shape by shape against merged, one '
                             'process')
    args = parser.parse_args()
    if args.shapes:
        print(json.dumps({'benchmark': 'scale_shapes', **_shapes(args)}))
        return
    figures = {} if args.skip_training else _training(args)
    if not args.skip_backend:
        from bench_backends import run_backend_benchmark
        print('\nAer, MC test set through the job-handle path, killed and '
              'resumed:', flush=True)
        figures['backend'] = run_backend_benchmark(args.mc)
    if args.sweeps:
        from bench_sweeps import measure_sweeps
        figures['sweeps'] = measure_sweeps()
    print(json.dumps({'benchmark': 'scale', **figures}, default=str))


def _training(args: argparse.Namespace) -> dict:
    """1 process against ``--nproc`` on SST-2; prints the table."""
    options = ['--epochs', str(args.epochs), '--batch-size',
               str(args.batch_size), '--lr', '0.05', '--tagger', args.tagger,
               '--unparsable', 'skip', '--seed', '0']
    work = Path(tempfile.mkdtemp(prefix='bench_scale_'))
    corpus = _subset(args.data, work / 'corpus', args.train_limit,
                     args.eval_limit)
    print(f"load before: {os.getloadavg()}", flush=True)
    runs = {}
    baselines = [int(t) for t in args.baseline_threads.split(',')]
    for threads in baselines:
        name = f'1 process, {threads} thread(s)'
        runs[name] = _run(corpus, work / f'single{threads}', options, 1,
                          threads)
        print(f"{name}: {runs[name]['wall_seconds']:.1f} s", flush=True)
    name = f'{args.nproc} processes'
    runs[name] = _run(corpus, work / 'parallel', options, args.nproc, 1)
    print(f"{name}: {runs[name]['wall_seconds']:.1f} s", flush=True)
    print(f"load after: {os.getloadavg()}")

    metrics = runs[name]['metrics']
    kept = (len((corpus / 'sst2.train').read_text().splitlines())
            - metrics['train_skipped'])
    figures = {}
    print(f"\nSST-2 train: {kept} sentences parsed "
          f"({metrics['train_skipped']} left out), {args.epochs} epochs, "
          f"global batch {args.batch_size}\n")
    print(f"{'run':<26} {'sent/s':>8} {'wall s':>8} {'train s':>8} "
          f"{'dev acc':>8} {'test acc':>8} {'test loss':>12}")
    for run_name, run in runs.items():
        m = run['metrics']
        figures[run_name] = {
            'sentences_per_second': _throughput(run, kept),
            'wall_seconds': run['wall_seconds'],
            'train_seconds': m['train_seconds'],
            'dev_accuracy': m['dev_accuracy'],
            'test_accuracy': m['test_accuracy'], 'test_loss': m['test_loss']}
        f = figures[run_name]
        print(f"{run_name:<26} {f['sentences_per_second']:8.1f} "
              f"{f['wall_seconds']:8.1f} {f['train_seconds']:8.1f} "
              f"{f['dev_accuracy']:8.4f} {f['test_accuracy']:8.4f} "
              f"{f['test_loss']:12.8f}")
    single = max((n for n in runs if n != name),
                 key=lambda n: figures[n]['sentences_per_second'])
    speedup = (figures[name]['sentences_per_second']
               / figures[single]['sentences_per_second'])
    wall_speedup = figures[single]['wall_seconds'] / figures[name][
        'wall_seconds']
    difference = float((_weights(runs[name]['out'])
                        - _weights(runs[single]['out'])).abs().max())
    print(f"\nthroughput ratio {name} / best single ({single}): "
          f"{speedup:.2f}x; wall-time ratio {wall_speedup:.2f}x")
    print(f"largest weight difference after training: {difference:.2e}")
    return {'train_sentences': kept,
            'train_skipped': metrics['train_skipped'],
            'epochs': args.epochs, 'batch_size': args.batch_size,
            'nproc': args.nproc, 'runs': figures,
            'throughput_ratio': speedup, 'wall_ratio': wall_speedup,
            'max_weight_difference': difference}


def _sst2_circuits(args: argparse.Namespace) -> tuple[list, list[int]]:
    """Circuits and labels of the parsed training sentences, as ``qnlp
    train`` builds them (spaCy tagger, IQP, 1 layer, parse cache)."""
    from qnlp.errors import ParseError
    from qnlp.parsing.cache import ParseCache
    from qnlp.tasks.sentences import (SentenceSettings, make_pipeline,
                                      read_corpus)
    corpus_dir = _subset(args.data, Path(tempfile.mkdtemp(
        prefix='bench_shapes_')), args.train_limit, args.eval_limit)
    settings = SentenceSettings(tagger=args.tagger, unparsable='skip')
    corpus = read_corpus(corpus_dir, settings)
    pipeline = make_pipeline(settings, 2)
    cache = ParseCache(corpus.fingerprint, pipeline.parser_settings())
    cached = cache.load()
    pipeline.remember(cached)
    texts = [e.text for e in corpus.train]
    kept = [i for i, r in enumerate(pipeline.analyse_many(texts))
            if not isinstance(r, ParseError)]
    if len(pipeline.parses) > len(cached):
        cache.save(dict(pipeline.parses))
    pipeline.fit_vocabulary([texts[i] for i in kept])
    circuits, labels = [], []
    for i in kept:
        try:
            circuits += pipeline.circuits([texts[i]])
        except ValueError:  # lambeq's cup removal fails on a few parses
            continue
        labels.append(corpus.label_index(corpus.train[i].label))
    print(f"{len(kept) - len(circuits)} parsed sentences left out: "
          "lambeq's cup removal fails on them", flush=True)
    return circuits, labels


def _shapes(args: argparse.Namespace) -> dict:
    """SST-2 training throughput, shape by shape against merged."""
    import torch

    from qnlp.models import DisCoCatClassifier
    from qnlp.train import nll
    circuits, labels = _sst2_circuits(args)
    labels = torch.tensor(labels)
    kinds = {'per-shape': False, 'merged': True, 'padded': None}
    models = {kind: DisCoCatClassifier.from_circuits(circuits, seed=0)
              for kind in kinds}
    # One engine (it holds plans, not weights): every plan, merged
    # program and padded layout compiled once, before timing. Merged
    # and padded minibatches are selected from the prepared training
    # set, as `qnlp train` does (padded: its default).
    engine = models['per-shape'].engine
    full = {}
    for kind in ('merged', 'padded'):
        models[kind].engine = engine
        full[kind] = engine.prepare(circuits, merge=kinds[kind])
    assert full['merged'].select(range(len(circuits))).merged is not None
    start = time.perf_counter()
    padded = full['padded'].padded
    assert padded is not None
    print(f"padded layout: {len(padded[0].buckets)} buckets, built in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    with torch.no_grad():
        reference = models['per-shape'](engine.prepare(circuits[:512],
                                                       merge=False))
        for kind in ('merged', 'padded'):
            difference = float((models[kind](full[kind].select(range(
                min(512, len(circuits))))) - reference).abs().max())
            print(f"{kind} against per-shape outputs: largest difference "
                  f"{difference:.1e}", flush=True)
            assert difference < 1e-10, kind
    optimisers = {k: torch.optim.Adam(m.parameters(), lr=0.05)
                  for k, m in models.items()}
    seconds = {k: 0.0 for k in models}
    losses: dict[str, list[float]] = {k: [] for k in models}
    print(f"load before: {os.getloadavg()}", flush=True)
    for epoch in range(args.epochs):
        order = torch.randperm(len(circuits), generator=torch.Generator(
            ).manual_seed(epoch)).tolist()
        for key, model in models.items():
            start = time.perf_counter()
            total = 0.0
            for first in range(0, len(order), args.batch_size):
                index = order[first:first + args.batch_size]
                batch = full[key].select(index) if key in full else \
                    model.engine.prepare([circuits[i] for i in index],
                                         merge=False)
                optimisers[key].zero_grad()
                loss = nll(model(batch), labels[index])
                loss.backward()
                optimisers[key].step()
                total += float(loss.detach()) * len(index)
            seconds[key] += time.perf_counter() - start
            losses[key].append(total / len(order))
            print(f"epoch {epoch + 1} {key}: {time.perf_counter() - start:.1f}"
                  f" s, mean loss {losses[key][-1]:.12f}", flush=True)
    print(f"load after: {os.getloadavg()}")
    rate = {k: len(circuits) * args.epochs / s for k, s in seconds.items()}
    gap = max(abs(a - b) for kind in ('merged', 'padded')
              for a, b in zip(losses[kind], losses['per-shape']))
    weights = max(float((models[kind].weights.detach()
                         - models['per-shape'].weights).abs().max())
                  for kind in ('merged', 'padded'))
    print(f"{len(circuits)} sentences, batch {args.batch_size}: " + ', '.join(
        f"{k} {r:.1f} sentences/s" for k, r in rate.items())
        + f"; padded / per-shape {rate['padded'] / rate['per-shape']:.2f}x,"
        f" padded / merged {rate['padded'] / rate['merged']:.2f}x; loss "
        f"trajectories differ by at most {gap:.1e}, weights by "
        f"{weights:.1e}")
    return {'train_sentences': len(circuits), 'epochs': args.epochs,
            'batch_size': args.batch_size, 'sentences_per_second': rate,
            'ratio': rate['padded'] / rate['per-shape'],
            'ratio_merged': rate['merged'] / rate['per-shape'],
            'ratio_padded_over_merged': rate['padded'] / rate['merged'],
            'losses': losses, 'max_loss_difference': gap,
            'max_weight_difference': weights,
            'load_average_after': os.getloadavg()}


if __name__ == '__main__':
    main()
