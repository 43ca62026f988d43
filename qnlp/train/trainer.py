"""Training loop: Adam on minibatches, dev-based model selection.

:func:`fit` trains any module that maps a
:class:`~qnlp.engine.PreparedBatch` to class probabilities, keeping the
weights with the best dev accuracy (ties: lowest dev loss).

>>> import torch
>>> from qnlp.models import DisCoCatClassifier, SentencePipeline
>>> pipeline = SentencePipeline()
>>> texts = ['woman cooks meal', 'man debugs program'] * 2
>>> pipeline.fit_vocabulary(texts)
>>> circuits = pipeline.circuits(texts)
>>> model = DisCoCatClassifier.from_circuits(circuits, seed=0)
>>> data = Split(circuits, torch.tensor([1, 0, 1, 0]))
>>> history = fit(model, data, data, TrainConfig(epochs=30, lr=0.1),
...               progress=False)
>>> history[-1]['train_loss'] < history[0]['train_loss']
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from qnlp.engine import PreparedBatch


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`; ``batch_size=0`` is full batch."""
    epochs: int = 120
    batch_size: int = 0
    lr: float = 0.1
    seed: int = 0


@dataclass
class Split:
    """Circuits and integer labels of one data split."""
    circuits: Sequence[Any]
    labels: torch.Tensor


def nll(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``labels``."""
    picked = probabilities.gather(1, labels.view(-1, 1)).squeeze(1)
    return -torch.log(picked.clamp_min(1e-12)).mean()


def evaluate(model: torch.nn.Module, batch: PreparedBatch,
             labels: torch.Tensor) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on a prepared split."""
    with torch.no_grad():
        probs = model(batch)
        loss = nll(probs, labels).item()
        accuracy = (probs.argmax(1) == labels).double().mean().item()
    return loss, accuracy


def fit(model: torch.nn.Module, train: Split, dev: Split,
        config: TrainConfig, progress: bool = True) -> list[dict[str, float]]:
    """Train ``model`` in place; returns one metrics row per epoch."""
    generator = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    size = len(train.circuits)
    batch_size = config.batch_size or size
    full = model.prepare(train.circuits)
    dev_batch = model.prepare(dev.circuits)
    best: tuple[float, float] | None = None
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    history = []
    bar = tqdm(range(config.epochs), desc='train', unit='epoch',
               disable=not progress, leave=False)
    start = time.perf_counter()
    for epoch in bar:
        order = torch.randperm(size, generator=generator)
        total = 0.0
        for first in range(0, size, batch_size):
            index = order[first:first + batch_size]
            batch = full if batch_size >= size else model.prepare(
                [train.circuits[i] for i in index.tolist()])
            labels = train.labels if batch_size >= size else \
                train.labels[index]
            optimiser.zero_grad()
            loss = nll(model(batch), labels)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(index)
        dev_loss, dev_accuracy = evaluate(model, dev_batch, dev.labels)
        row = {'epoch': epoch + 1, 'train_loss': total / size,
               'dev_loss': dev_loss, 'dev_accuracy': dev_accuracy,
               'seconds': time.perf_counter() - start}
        history.append(row)
        bar.set_postfix(loss=f'{row["train_loss"]:.3f}',
                        dev_acc=f'{dev_accuracy:.3f}')
        if best is None or (dev_accuracy, -dev_loss) > best:
            best = (dev_accuracy, -dev_loss)
            best_state = {k: v.detach().clone()
                          for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return history
