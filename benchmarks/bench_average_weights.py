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

Then (or alone, with ``--updates-only``) one averaging update against
the fastest peer a user could pick, ``torch.optim.swa_utils.
AveragedModel`` (EMA rule, ``use_buffers=True``), on the window-20
protein model and on a batch-norm image model: after the same Adam
steps both must hold the same averages (1e-12) before --updates updates
of each are timed in turn, best of --repeats.

    python benchmarks/bench_average_weights.py [--against REV]
        [--repeats 5] [--epochs 8] [--updates 2000] [--updates-only]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

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


def _models() -> dict[str, torch.nn.Module]:
    from qnlp.tasks.proteins import ProteinSettings, make_sequence_model
    protein = make_sequence_model(
        list('ACDEFGHIKLMNPQRSTVWY') + ['<unk>'], ProteinSettings(
            qubits=1, window=20, stride=5, composition=True,
            residue_features='kd,charge,size'))
    image = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(8 * 26 * 26, 10)).double()
    return {'protein window-20': protein, 'image conv + batch norm': image}


def _stepped(model: torch.nn.Module, generator: torch.Generator) -> None:
    """A random change of every floating parameter and buffer: all an
    optimiser step is to the averages."""
    with torch.no_grad():
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn(tensor.shape,
                                               generator=generator,
                                               dtype=tensor.dtype))


def update_costs(updates: int, repeats: int) -> dict[str, dict[str, float]]:
    """Microseconds per averaging update, ours and AveragedModel's, after
    checking both hold the same averages."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    from qnlp.train.trainer import WeightAverage
    costs = {}
    for name, model in _models().items():
        generator = torch.Generator().manual_seed(0)
        theirs = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99),
                               use_buffers=True)
        theirs.update_parameters(model)      # takes the model as it is
        ours = WeightAverage(model, decay=0.99)
        for _ in range(5):
            _stepped(model, generator)
            theirs.update_parameters(model)
            ours.update()
        reference = theirs.module.state_dict()
        with ours.in_place():
            for key, value in model.state_dict().items():
                if value.is_floating_point() and not torch.allclose(
                        value, reference[key], rtol=1e-12, atol=1e-14):
                    sys.exit(f'{name}: {key} differs from AveragedModel: '
                             'not timed')
        timings = {'ours': [], 'AveragedModel': []}
        for _ in range(repeats):
            for label, update in (('ours', ours.update), ('AveragedModel',
                                  lambda: theirs.update_parameters(model))):
                start = time.perf_counter()
                for _ in range(updates):
                    update()
                timings[label].append((time.perf_counter() - start)
                                      / updates * 1e6)
        costs[name] = {label: min(values) for label, values
                       in timings.items()}
        ours_us, theirs_us = costs[name]['ours'], costs[name]['AveragedModel']
        print(f"{name}: averages equal AveragedModel's; us per update "
              f"(best of {repeats}) ours {ours_us:.1f}, AveragedModel "
              f"{theirs_us:.1f}, AveragedModel / ours "
              f"{theirs_us / ours_us:.2f}x")
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--against', default='79a6fa0',
                        help='earlier commit (default: before averaging)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--data', type=Path, default=DEEPLOC)
    parser.add_argument('--updates', type=int, default=2000)
    parser.add_argument('--updates-only', action='store_true',
                        help='only the per-update comparison')
    args = parser.parse_args()
    if args.updates_only:
        print(json.dumps({'benchmark': 'average_weights_update',
                          'us_per_update': update_costs(args.updates,
                                                        args.repeats)}))
        return
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
    costs = update_costs(args.updates, args.repeats)
    print(json.dumps({'benchmark': 'average_weights', 'epochs': args.epochs,
                      'against': args.against, 'train_seconds': seconds,
                      'ratio_of_bests': {name: min(v) / base for name, v
                                         in seconds.items()},
                      'us_per_update': costs}))


if __name__ == '__main__':
    torch.set_num_threads(1)    # as the training runs: one thread
    main()
