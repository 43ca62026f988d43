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
                    metric: str = 'test accuracy') -> None:
    """A bar chart of one metric, mean and standard deviation per model."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(4, 1.3 * len(names)), 3.5))
    axes.bar(range(len(names)), means, yerr=stds, capsize=4,
             color=['tab:purple' if n.startswith('discocat') else 'tab:gray'
                    for n in names])
    axes.set_xticks(range(len(names)), names, rotation=20, ha='right')
    axes.set(ylabel=metric, ylim=(0, 1.05))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
