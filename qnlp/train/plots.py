"""Training-curve and comparison charts as PNG files (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_history(history: Sequence[dict[str, float]], path: str | Path
                 ) -> None:
    """Training loss, dev loss and dev accuracy per epoch (the dev curves
    left empty for runs without a dev split)."""
    plt = _pyplot()
    epochs = [row['epoch'] for row in history]
    dev = [row for row in history if 'dev_loss' in row]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [r['train_loss'] for r in history], label='train')
    left.plot([r['epoch'] for r in dev], [r['dev_loss'] for r in dev],
              label='dev')
    left.set(xlabel='epoch', ylabel='loss', title='loss')
    left.legend()
    right.plot([r['epoch'] for r in dev], [r['dev_accuracy'] for r in dev])
    right.set(xlabel='epoch', ylabel='accuracy', title='dev accuracy',
              ylim=(0, 1.02))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_comparison(names: Sequence[str], means: Sequence[float],
                    stds: Sequence[float], path: str | Path,
                    metric: str = 'test accuracy',
                    quantum: Sequence[str] | None = None) -> None:
    """A bar chart of one metric, mean and standard deviation per model;
    the ``quantum`` models (default: names starting with discocat) in
    purple, the others in grey."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(4, 1.3 * len(names)), 3.5))
    axes.bar(range(len(names)), means, yerr=stds, capsize=4,
             color=['tab:purple' if (n in quantum if quantum is not None
                                     else n.startswith('discocat'))
                    else 'tab:gray' for n in names])
    axes.set_xticks(range(len(names)), names, rotation=20, ha='right')
    axes.set(ylabel=metric, ylim=(0, 1.05))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_robustness(curves: dict[str, dict[str, dict[str, float]]],
                    path: str | Path) -> None:
    """Accuracy against epsilon, one line per model and one panel per
    attack: ``curves`` maps a model to ``{'clean' | 'NAME:EPS': {'mean',
    'std'}}`` (clean accuracy drawn at epsilon 0 of every panel).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / 'robustness.png'
    >>> plot_robustness({'cnn': {'clean': {'mean': 0.9, 'std': 0.0},
    ...     'pgd:0.1': {'mean': 0.2, 'std': 0.05}}}, path)
    >>> path.stat().st_size > 0
    True
    """
    plt = _pyplot()
    attacks = list(dict.fromkeys(key.split(':')[0] for found in
                                 curves.values() for key in found
                                 if key != 'clean'))
    figure, panels = plt.subplots(1, len(attacks), squeeze=False,
                                  figsize=(4.5 * len(attacks), 3.5))
    for attack, axes in zip(attacks, panels[0]):
        for name, found in curves.items():
            points = sorted(((float(key.split(':')[1]), value) for key, value
                             in found.items() if key.split(':')[0] == attack),
                            key=lambda point: point[0])
            if 'clean' in found:
                points.insert(0, (0.0, found['clean']))
            axes.errorbar([eps for eps, _ in points],
                          [v['mean'] for _, v in points],
                          yerr=[v['std'] for _, v in points], marker='o',
                          capsize=3, label=name)
        axes.set(xlabel=f'{attack} epsilon', ylabel='accuracy',
                 ylim=(0, 1.05), title=attack)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
