"""Adversarial robustness and Hamiltonian-embedding re-uploading (issue 21).

Part ``attacks``: HQNN-Parallel and its classical counterpart ``cnn``,
each trained clean and with PGD adversarial training (``adversarial
pgd:EPS``), all through the image task (``qnlp.tasks.train``, run
directories with checkpoints under ``--out``: an interrupted benchmark
resumes, finished runs are read back). Each run's test accuracy under
FGSM, PGD L-inf (eps 0.1, 0.2), PGD L2 and the black-box Square attack
(ART, :mod:`qnlp.robust.attacks`) on the first ``--attack-images`` test
images. Before any figure, our torch PGD is checked against ART's on the
first trained model (same steps without random start).

Part ``reupload``: the Hamiltonian-embedding re-uploading classifier,
plain angle re-uploading and a QCNN of the same 5 qubits
(:mod:`qnlp.models.reupload`) on MNIST and Fashion-MNIST
(``--reupload-data``; all ten classes, or ``--reupload-classes``),
28x28 images (padded to 32x32 by the re-uploading models, pooled to 32
amplitudes by the QCNN): folders under ``--out`` with
``--reupload-train`` training images and ``--reupload-dev`` others as
the dev split (stratified, seed 0) and the official test set (all
10,000). Each model with its settings chosen on the MNIST dev split
(:data:`REUPLOAD_CHOSEN`, ``benchmarks/reupload_dev_grid.py``),
``--reupload-layers`` re-uploads, ``--reupload-epochs`` epochs (batch
64, Adam one-cycle), its best-dev epoch kept, seeds
``--reupload-seeds``.

Part ``creep``: quantum creep-in (:mod:`qnlp.models.creep`): the
three-layer network without normalisation or activations (flattened
``--creep-side`` x ``--creep-side`` image -> 16 -> 16 -> 10) and the
variants with layer 1, 2, 3 and all layers quantum, on MNIST,
Fashion-MNIST and CIFAR-10 (``--creep-data``), seeds ``--creep-seeds``,
all trained identically: the first ``--creep-train`` training images,
``--creep-epochs`` epochs, Adam at ``--creep-lr`` (one-cycle), batch 64,
no shifts or flips; test accuracy on the first ``--creep-test`` test
images (the last epoch's weights: nothing is selected on test). One
table (mean +- sd over seeds, parameters, training seconds) and one PNG
(``--creep-plot``).

Part ``transfer``: transfer learning (:mod:`qnlp.models.transfer`) on
MNIST (28x28, all ten classes): by default a folder under ``--out``
with ``--transfer-train`` training images and ``--transfer-dev`` other
training images as the dev split (stratified, seed 0:
``bench_federated.mnist_subset``) and the official test set; or
``--transfer-data`` as given (``--transfer-dev 0``). Each run pretrains
the 784 -> 256 -> 64 autoencoder for ``--encoder-epochs`` epochs on its
training images and freezes it (the same encoder for every head of one
seed: checked), then trains the head for ``--transfer-epochs`` epochs
(Adam at ``--transfer-lr``: a common rate then any ``HEAD=RATE``
overrides, each head's chosen on dev; one-cycle, batch 128, no shifts)
and keeps
its best-dev epoch: the heads ``--transfer-models`` (default all: the
classical head on the 64 features, the paper's hybrid, the dressed
circuit, the re-uploading head, the linear map into the paper's circuit
on 8 qubits, the Hamiltonian-embedding re-uploading head: four
4-qubit circuits);
seeds ``--transfer-seeds``, ``--creep-test`` test images.

Reduced size by default (stated in the JSON line): MNIST, classes
0-9, the first ``--train`` training and ``--test`` test images of the
official splits, ``--epochs`` epochs, seed ``--seed``; torch threads
``--threads`` (the machine is shared).

    python benchmarks/bench_robust.py [--data ../shared/data/images/mnist]
        [--parts attacks,reupload,creep,transfer] [--out /tmp/bench_robust]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from qnlp.tasks import train
from qnlp.tasks.images import ImageSettings
from qnlp.train.run import RunDirectory

ATTACKS = (('fgsm', 0.1), ('pgd', 0.1), ('pgd', 0.2), ('pgd-l2', 1.0),
           ('square', 0.1))


def run(data: str, out: Path, name: str, settings: ImageSettings
        ) -> dict:
    """Train (or resume, or read back) one run; its metrics."""
    folder = RunDirectory(out / name)
    if folder.finished():
        return folder.read_metrics()
    resume = folder.holds_run()
    start = time.perf_counter()
    metrics = train('images', data, out / name, settings, resume=resume,
                    progress=False)
    print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return metrics


def check_against_art(out: Path, name: str, data: str,
                      settings: ImageSettings) -> float:
    """Largest difference between our PGD and ART's on 16 test images of
    a trained run (no random start)."""
    from qnlp.robust.attacks import art_attack, art_classifier, perturb
    from qnlp.tasks import load_trained
    from qnlp.tasks.images import _load
    model = load_trained(out / name).model.eval()
    found = _load(data, settings)
    pixels = model.prepare(found.test_images[:16])
    labels = torch.from_numpy(found.test_labels[:16])
    ours = perturb(model, pixels, labels, 'pgd', 0.1, random_start=False)
    attack = art_attack(art_classifier(model, pixels.shape[1:],
                                       len(found.classes)), 'pgd', 0.1)
    attack.set_params(num_random_init=0)
    theirs = attack.generate(pixels.numpy(), y=labels.numpy())
    return float((ours - torch.from_numpy(theirs)).abs().max())


def attacks_part(args: argparse.Namespace) -> dict:
    base = ImageSettings(
        epochs=args.epochs, seed=args.seed, train_images=args.train,
        test_images=args.test, attacks=ATTACKS,
        attack_images=args.attack_images)
    table = {}
    for model in ('hqnn-parallel', 'cnn'):
        for adversarial in (None, f'pgd:{args.train_eps:g}'):
            name = f"{model}-{'adv' if adversarial else 'clean'}"
            settings = replace(base, model=model, adversarial=adversarial)
            metrics = run(args.data, args.out, name, settings)
            if not table:
                gap = check_against_art(args.out, name, args.data, settings)
                print(f"torch PGD vs ART PGD, largest pixel difference: "
                      f"{gap:.2e}")
                if gap > 1e-4:
                    raise SystemExit("our PGD disagrees with ART's")
            found = metrics['task_metrics']['robust_accuracy']
            table[name] = {'test_accuracy': metrics['test_accuracy'],
                           **found, 'train_seconds':
                           round(metrics['train_seconds'], 1)}
    keys = ['test_accuracy', 'clean'] + [f'{a}:{e:g}' for a, e in ATTACKS]
    print(f"\n{'run':<22}" + ''.join(f'{k:>13}' for k in keys))
    for name, row in table.items():
        print(f'{name:<22}' + ''.join(f'{row[k]:>13.3f}' for k in keys))
    for model in ('hqnn-parallel', 'cnn'):
        gain = table[f'{model}-adv']['pgd:0.1'] - \
            table[f'{model}-clean']['pgd:0.1']
        print(f"{model}: adversarial training moves PGD eps 0.1 accuracy "
              f"by {100 * gain:+.1f} points")
        table[f'{model}-gain_pgd_0.1'] = round(gain, 4)
    return table


#: Each re-uploading model's settings, chosen on the MNIST dev split by
#: benchmarks/reupload_dev_grid.py (six settings per model, seed 0).
#: (the QCNN's best lr was the grid's largest: lr 0.3 was tried too, dev
#: 0.6325 against 0.639.)
REUPLOAD_CHOSEN = {'hamiltonian': {'lr': 0.03, 'embedding': 'hermitian'},
                   'angle-reupload': {'lr': 0.01, 'shift': 0},
                   'qcnn': {'lr': 0.1, 'shift': 0}}


def reupload_part(args: argparse.Namespace) -> dict:
    """The three 5-qubit models (28x28 images padded to 32x32; the QCNN
    reads them pooled to 32 amplitudes) on each data set, seeds
    ``--reupload-seeds``, each with its dev-chosen settings, its best-dev
    epoch kept, then the test set once."""
    from bench_federated import mnist_subset
    table: dict = {}
    seeds = list(map(int, args.reupload_seeds.split(',')))
    classes = tuple(args.reupload_classes.split(',')) \
        if args.reupload_classes else ()
    tag = f"-c{''.join(classes)}" if classes else ''
    for name in args.reupload_data.split(','):
        data = mnist_subset(args.reupload_train,
                            args.out / f'{name}-reupload',
                            dev=args.reupload_dev, name=name)
        for model, chosen in REUPLOAD_CHOSEN.items():
            rows = [run(str(data), args.out, f'{name}{tag}-{model}-s{seed}',
                        ImageSettings(model=model, epochs=args.reupload_epochs,
                                      batch_size=64, seed=seed,
                                      layers=args.reupload_layers,
                                      classes=classes, **chosen))
                    for seed in seeds]
            table[f'{name}{tag}-{model}'] = {
                **summary(rows), 'settings': chosen,
                'dev_mean': round(sum(r['dev_accuracy'] for r in rows)
                                  / len(rows), 4)}
        gap = table[f'{name}{tag}-hamiltonian']['mean'] - \
            table[f'{name}{tag}-qcnn']['mean']
        table[f'{name}{tag}-hamiltonian_minus_qcnn'] = round(gap, 4)
    print_table(table)
    for name, row in table.items():
        if not isinstance(row, dict):
            print(f"{name:<40}{100 * row:>+8.1f} points")
    return table


def creep_part(args: argparse.Namespace) -> dict:
    """5 variants x seeds x data sets; mean and sd of test accuracy."""
    from qnlp.tasks.images import PAPER_CREEP
    table: dict = {}
    for data in args.creep_data.split(','):
        dataset = Path(data).name
        for model in PAPER_CREEP:
            rows = []
            for seed in map(int, args.creep_seeds.split(',')):
                settings = ImageSettings(
                    model=model, image_size=args.creep_side,
                    epochs=args.creep_epochs, lr=args.creep_lr,
                    batch_size=64, shift=0, flip=False, seed=seed,
                    train_images=args.creep_train,
                    test_images=args.creep_test)
                rows.append(run(data, args.out,
                                f'{dataset}-{model}-s{seed}', settings))
            table[f'{dataset}-{model}'] = summary(rows)
    print_table(table)
    plot_creep(table, args.creep_plot)
    print(f"plot: {args.creep_plot}")
    return table


def summary(rows: list[dict]) -> dict:
    """Mean and sd of the test accuracy of ``rows`` (one run per seed),
    with the first run's parameter counts and the mean training time."""
    import statistics
    accuracies = [r['test_accuracy'] for r in rows]
    return {'mean': round(statistics.mean(accuracies), 4),
            'sd': round(statistics.stdev(accuracies), 4)
            if len(rows) > 1 else 0.0,
            'accuracies': [round(a, 4) for a in accuracies],
            'parameters': rows[0]['n_parameters'],
            'quantum_parameters':
                rows[0]['task_metrics']['n_quantum_parameters'],
            'train_seconds': round(statistics.mean(
                r['train_seconds'] for r in rows), 1)}


def print_table(table: dict) -> None:
    print(f"\n{'run':<30}{'test accuracy':>18}{'parameters':>12}"
          f"{'quantum':>9}{'seconds':>9}")
    for name, row in table.items():
        if isinstance(row, dict):
            print(f"{name:<30}{row['mean']:>10.3f} +- {row['sd']:.3f}"
                  f"{row['parameters']:>12}{row['quantum_parameters']:>9}"
                  f"{row['train_seconds']:>9.1f}")


def transfer_part(args: argparse.Namespace) -> dict:
    """The four heads on one frozen encoder per seed."""
    data = args.transfer_data
    if args.transfer_dev:
        from bench_federated import mnist_subset
        data = str(mnist_subset(args.transfer_train,
                                args.out / 'mnist-transfer',
                                dev=args.transfer_dev))
    table: dict = {}
    seeds = list(map(int, args.transfer_seeds.split(',')))
    runs: dict = {seed: [] for seed in seeds}
    models = [f'transfer-{head}' for head in args.transfer_models.split(',')]
    for model in models:
        rows = []
        for seed in seeds:
            name = f'transfer-{model[len("transfer-"):]}-s{seed}'
            settings = ImageSettings(
                model=model, epochs=args.transfer_epochs,
                encoder_epochs=args.encoder_epochs,
                lr=args.transfer_lr.get(model[len('transfer-'):],
                                        args.transfer_lr['*']),
                batch_size=128, shift=0, flip=False, seed=seed,
                train_images=args.transfer_train,
                test_images=args.creep_test)
            rows.append(run(data, args.out, name, settings))
            runs[seed].append(name)
        table[model] = summary(rows)
        if args.transfer_dev:
            dev = [r['dev_accuracy'] for r in rows]
            table[model]['dev_mean'] = round(sum(dev) / len(dev), 4)
            table[model]['dev_accuracies'] = [round(a, 4) for a in dev]
        table[model]['autoencoder_mse'] = \
            rows[0]['task_metrics']['autoencoder_mse']
    for seed, names in runs.items():
        encoders = [{k: v for k, v in
                     RunDirectory(args.out / name).read_weights().items()
                     if k.startswith('network.encoder.')} for name in names]
        if not all(e.keys() == encoders[0].keys()
                   and all(torch.equal(e[k], encoders[0][k]) for k in e)
                   for e in encoders):
            raise SystemExit(f"seed {seed}: the heads read different "
                             "encoders")
    print_table(table)
    classical = table['transfer-classical']['mean']
    table['paper_hybrid_minus_classical'] = round(
        table['transfer-hybrid']['mean'] - classical, 4)
    score = 'dev_mean' if args.transfer_dev else 'mean'   # never test
    best = max((name for name in models if name != 'transfer-classical'),
               key=lambda name: table[name][score])
    table['best_hybrid'] = best
    table['best_hybrid_minus_classical'] = round(table[best]['mean']
                                                 - classical, 4)
    print(f"every head of a seed read the same frozen encoder; paper's "
          f"hybrid - classical: "
          f"{100 * table['paper_hybrid_minus_classical']:+.1f} points; "
          f"best hybrid ({best}) - classical: "
          f"{100 * table['best_hybrid_minus_classical']:+.1f} points")
    return table


def head_rates(text: str) -> dict[str, float]:
    """``--transfer-lr``: ``'0.01,hamiltonian=0.003'`` -> ``{'*': 0.01,
    'hamiltonian': 0.003}`` (the common rate under ``'*'``).

    >>> head_rates('0.01,hamiltonian=0.003')
    {'*': 0.01, 'hamiltonian': 0.003}
    """
    rates: dict[str, float] = {}
    try:
        for part in text.split(','):
            head, _, rate = part.rpartition('=')
            rates[head or '*'] = float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--transfer-lr: expected RATE[,HEAD=RATE...], got {text!r}"
            ) from None
    if '*' not in rates:
        raise argparse.ArgumentTypeError(
            f"--transfer-lr: no common rate in {text!r}")
    return rates


def plot_creep(table: dict, path: Path) -> None:
    """Grouped bars: test accuracy (mean, sd as error bars) of each
    variant, one group per data set."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    datasets = list(dict.fromkeys(name.split('-creep-')[0]
                                  for name in table))
    variants = list(dict.fromkeys('creep-' + name.split('-creep-')[1]
                                  for name in table))
    figure, axes = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        rows = [table[f'{d}-{variant}'] for d in datasets]
        axes.bar([j + i * width for j in range(len(datasets))],
                 [r['mean'] for r in rows], width,
                 yerr=[r['sd'] for r in rows], capsize=2,
                 label=variant[len('creep-'):])
    axes.set_xticks([j + 0.4 - width / 2 for j in range(len(datasets))],
                    datasets)
    axes.set_ylabel('test accuracy')
    axes.set_ylim(0, 1)
    axes.set_title('Quantum creep-in (q = quantum layer; layers 1, 2, 3)')
    axes.legend(ncol=5, fontsize=8, loc='upper right')
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='../shared/data/images/mnist')
    parser.add_argument('--out', type=Path, default=Path('/tmp/bench_robust'))
    parser.add_argument('--parts', default='attacks,reupload,creep,transfer')
    parser.add_argument('--train', type=int, default=3000)
    parser.add_argument('--test', type=int, default=500)
    parser.add_argument('--attack-images', type=int, default=200)
    parser.add_argument('--epochs', type=int, default=12,
                        help='epochs of the attacks part (6 left the '
                             'PGD-trained hybrid near chance-level loss)')
    parser.add_argument('--train-eps', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--reupload-data', default='mnist,fashion-mnist',
                        help='data sets of ../shared/data/images')
    parser.add_argument('--reupload-train', type=int, default=10000)
    parser.add_argument('--reupload-dev', type=int, default=2000)
    parser.add_argument('--reupload-classes', default='',
                        help='e.g. 0,1,2,3,4,5,6,7 (the paper\'s MNIST '
                             'task); default all ten')
    parser.add_argument('--reupload-seeds', default='0,1,2')
    parser.add_argument('--reupload-epochs', type=int, default=6)
    parser.add_argument('--reupload-layers', type=int, default=8)
    parser.add_argument('--creep-data', default=','.join(
        f'../shared/data/images/{name}'
        for name in ('mnist', 'fashion-mnist', 'cifar10')))
    parser.add_argument('--creep-seeds', default='0,1,2')
    parser.add_argument('--creep-side', type=int, default=8)
    parser.add_argument('--creep-train', type=int, default=2000)
    parser.add_argument('--creep-test', type=int, default=1000)
    parser.add_argument('--creep-epochs', type=int, default=3)
    parser.add_argument('--creep-lr', type=float, default=0.05)
    parser.add_argument('--creep-plot', type=Path,
                        default=Path('/tmp/bench_robust/creep.png'))
    parser.add_argument('--transfer-data',
                        default='../shared/data/images/mnist')
    parser.add_argument('--transfer-seeds', default='0,1,2')
    parser.add_argument('--transfer-train', type=int, default=3000)
    parser.add_argument('--transfer-dev', type=int, default=1000)
    parser.add_argument('--transfer-models',
                        default='classical,hybrid,dressed,reupload,linear,'
                                'hamiltonian')
    parser.add_argument('--transfer-epochs', type=int, default=20)
    parser.add_argument('--encoder-epochs', type=int, default=20)
    parser.add_argument('--transfer-lr', type=head_rates,
                        default='0.01')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    figures: dict = {}
    parts = args.parts.split(',')
    if 'attacks' in parts:
        figures['attacks'] = attacks_part(args)
    if 'reupload' in parts:
        figures['reupload'] = reupload_part(args)
    if 'creep' in parts:
        figures['creep'] = creep_part(args)
    if 'transfer' in parts:
        figures['transfer'] = transfer_part(args)
    load = os.getloadavg()
    print(json.dumps({
        'benchmark': 'bench_robust', 'data': args.data,
        'size': {'train': args.train, 'test': args.test,
                 'attack_images': args.attack_images,
                 'epochs': args.epochs, 'seed': args.seed,
                 'reupload': {'train': args.reupload_train,
                              'dev': args.reupload_dev,
                              'test': 'all 10,000',
                              'classes': args.reupload_classes or 'all',
                              'epochs': args.reupload_epochs,
                              'layers': args.reupload_layers,
                              'seeds': args.reupload_seeds,
                              'chosen': REUPLOAD_CHOSEN},
                 'creep': {'side': args.creep_side, 'train': args.creep_train,
                           'test': args.creep_test,
                           'epochs': args.creep_epochs,
                           'lr': args.creep_lr, 'seeds': args.creep_seeds},
                 'transfer': {'train': args.transfer_train,
                              'test': args.creep_test,
                              'epochs': args.transfer_epochs,
                              'encoder_epochs': args.encoder_epochs,
                              'lr': args.transfer_lr,
                              'dev': args.transfer_dev,
                              'models': args.transfer_models,
                              'seeds': args.transfer_seeds}},
        'machine': platform.processor() or platform.machine(),
        'threads': args.threads, 'load': [round(x, 2) for x in load],
        'seconds': round(time.perf_counter() - start, 1), **figures}))


if __name__ == '__main__':
    main()
