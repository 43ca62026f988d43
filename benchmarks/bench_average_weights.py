"""What ``--average-weights`` costs a protein training run, and that a
run without it trains as before.

Three contenders, run in turn ``--repeats`` times (one subprocess each,
one thread): ``qnlp train`` of an earlier commit (``--against``, checked
out in a temporary git worktree), this checkout with averaging off, and
this checkout with ``--average-weights 0.99``. Before any time is
compared, the per-epoch history (losses, dev accuracy, learning rate)
of this checkout without averaging must equal the earlier commit's.
Prints each contender's training seconds (the run's own
``train_seconds``), the best of each over the earlier commit's best,
and one JSON line.

    python benchmarks/bench_average_weights.py [--against REV]
        [--repeats 5] [--epochs 8]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEEPLOC = ROOT.parent / 'shared' / 'data' / 'protein' / 'deeploc'
#: The window-20 chain of benchmarks/README.md, "Session 18/19".
MODEL = ['--task', 'proteins',
         '--label-pattern', r'\sCytoplasm-Nucleus-=',
         '--label-pattern', r'\sCell\.membrane-=1',
         '--label-pattern', r'\sCytoplasm-=0',
         '--residue-features', 'kd,charge,size', '--composition',
         '--qubits', '1', '--window', '20', '--stride', '5',
         '--split-seed', '0', '--threads', '1', '--quiet']


def train(tree: Path, data: Path, epochs: int, extra: list[str]
          ) -> tuple[float, list[dict]]:
    """Training seconds and history (without times) of one run of the
    qnlp in ``tree``."""
    out = Path(tempfile.mkdtemp()) / 'run'
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS='1')
    try:
        subprocess.run([sys.executable, '-m', 'qnlp', 'train', str(data),
                        *MODEL, '--epochs', str(epochs), *extra, '--out',
                        str(out)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        seconds = json.loads((out / 'metrics.json').read_text())[
            'train_seconds']
        history = [{k: v for k, v in json.loads(line).items()
                    if k != 'seconds'}
                   for line in (out / 'history.jsonl').read_text()
                   .splitlines()]
    finally:
        shutil.rmtree(out.parent)
    return seconds, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--against', default='79a6fa0',
                        help='earlier commit (default: before averaging)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--data', type=Path, default=DEEPLOC)
    args = parser.parse_args()
    earlier = Path(tempfile.mkdtemp()) / 'earlier'
    subprocess.run(['git', 'worktree', 'add', '-q', '--detach',
                    str(earlier), args.against], cwd=ROOT, check=True)
    try:
        contenders = {f'earlier {args.against}': (earlier, []),
                      'off': (ROOT, []),
                      'on 0.99': (ROOT, ['--average-weights', '0.99'])}
        seconds: dict[str, list[float]] = {name: [] for name in contenders}
        histories = {}
        for _ in range(args.repeats):
            for name, (tree, extra) in contenders.items():
                spent, histories[name] = train(tree, args.data,
                                               args.epochs, extra)
                seconds[name].append(spent)
    finally:
        subprocess.run(['git', 'worktree', 'remove', '--force',
                        str(earlier)], cwd=ROOT, check=True)
    if histories['off'] != histories[f'earlier {args.against}']:
        sys.exit('without averaging, the history differs from the earlier '
                 'commit: not timed')
    print(f'histories: off == earlier {args.against} '
          f'({args.epochs} epochs: losses, dev accuracy, lr)')
    base = min(seconds[f'earlier {args.against}'])
    for name, values in seconds.items():
        print(f"{name:16s} train s {' '.join(f'{v:.2f}' for v in values)}"
              f"  best {min(values):.2f}  best / earlier's best "
              f"{min(values) / base:.3f}")
    print(json.dumps({'benchmark': 'average_weights', 'epochs': args.epochs,
                      'against': args.against, 'train_seconds': seconds,
                      'ratio_of_bests': {name: min(v) / base for name, v
                                         in seconds.items()}}))


if __name__ == '__main__':
    main()
