"""Time `qnlp compare` sequentially, with --jobs N, and on Ray.

    python benchmarks/bench_sweeps.py [--corpus corpora/meaning] [--seeds 4]
                                      [--jobs 1,2] [--no-ray]

Each configuration is the real command in a fresh process (imports,
worker start-up and Ray start-up included), on the same corpus and
seeds with the default settings. Prints the wall-clock times, the
speed-up over the faster of ``--jobs 1`` with the default torch threads
and with one thread, whether each table is identical to the
sequential one (training times aside), the load average, and one JSON
object on the last line. ``measure_sweeps`` is importable (e.g. by
``bench_scale.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parents[1]
CLI = 'import sys; from qnlp.cli import main; sys.exit(main())'


def _table(out: Path) -> dict[str, Any]:
    """comparison.json without the training times."""
    result = json.loads((out / 'comparison.json').read_text())
    for row in result['models'].values():
        row.pop('train_seconds', None)
    for runs in result['runs'].values():
        for run in runs:
            run.pop('seconds', None)
    return result


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def measure_sweeps(corpus: str | Path = ROOT / 'corpora' / 'meaning',
                   seeds: int = 4, jobs: Sequence[int] = (1, 2),
                   ray: bool = True, one_thread: bool = True,
                   extra: Sequence[str] = ()) -> dict[str, Any]:
    """Wall time of ``qnlp compare CORPUS --seeds S`` per configuration.

    Configurations: ``--jobs N`` for each N in ``jobs`` (the first one's
    table is the reference), with ``one_thread`` also ``--jobs 1`` under
    ``OMP_NUM_THREADS=1``, then ``--executor ray`` (a local Ray instance
    unless ``$RAY_ADDRESS`` names a cluster) when ``ray`` and Ray is
    installed. ``extra`` are more ``qnlp compare`` options. Returns
    seconds, speed-up against the faster sequential run, whether the
    table matches the reference, and the load average before and after
    each run.
    """
    runs: list[dict[str, Any]] = []
    jobs = list(jobs)
    configs = [(f'jobs={n}', ['--jobs', str(n)], {}) for n in jobs]
    if one_thread and 1 in jobs:  # the sequential run on 1 torch thread
        configs.insert(jobs.index(1) + 1, (
            'jobs=1, 1 thread', ['--jobs', '1'], {'OMP_NUM_THREADS': '1'}))
    if ray and _ray_available():
        configs.append(('ray', ['--executor', 'ray'], {}))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    with tempfile.TemporaryDirectory() as root:
        reference = None
        for name, options, variables in configs:
            out = Path(root) / ''.join(c for c in name if c.isalnum())
            command = [sys.executable, '-c', CLI, 'compare', str(corpus),
                       '--out', str(out), '--seeds', str(seeds),
                       '--no-progress', *options, *extra]
            load_before = os.getloadavg()
            start = time.perf_counter()
            done = subprocess.run(command, env={**env, **variables},
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"{name} failed: {done.stderr[-2000:]}")
            table = _table(out)
            reference = reference or table
            runs.append({'config': name, 'seconds': seconds,
                         'identical_to_first': table == reference,
                         'load_before': [round(x, 2) for x in load_before],
                         'load_after': [round(x, 2)
                                        for x in os.getloadavg()]})
    single = min(run['seconds'] for run in runs
                 if run['config'].startswith('jobs=1'))
    for run in runs:
        run['speedup'] = single / run['seconds']
    return {'benchmark': 'bench_sweeps', 'corpus': str(corpus),
            'seeds': seeds, 'extra': list(extra),
            'ray_installed': _ray_available(),
            'machine': f'{platform.machine()}, {os.cpu_count()} cores',
            'runs': runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--corpus', default=str(ROOT / 'corpora' /
                                                'meaning'))
    parser.add_argument('--seeds', type=int, default=4)
    parser.add_argument('--jobs', default='1,2',
                        help='comma-separated --jobs values (default 1,2)')
    parser.add_argument('--no-ray', action='store_true')
    parser.add_argument('--no-one-thread', action='store_true',
                        help='skip the sequential run on 1 torch thread')
    args = parser.parse_args()
    result = measure_sweeps(args.corpus, args.seeds,
                            [int(n) for n in args.jobs.split(',')],
                            ray=not args.no_ray,
                            one_thread=not args.no_one_thread)
    if not result['ray_installed'] and not args.no_ray:
        print("ray not installed: pip install 'qnlp[ray]' to time it")
    for run in result['runs']:
        print(f"{run['config']:>16}: {run['seconds']:7.1f} s  "
              f"speed-up {run['speedup']:.2f}x  table identical: "
              f"{run['identical_to_first']}  load "
              f"{run['load_before'][0]:.2f} -> {run['load_after'][0]:.2f}")
    print(json.dumps(result))


if __name__ == '__main__':
    main()
