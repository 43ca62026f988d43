"""Image classification runs: HQNN-Parallel, HQNN-Quanv and the CNNs.

:func:`train_image_classifier` trains one model of
:mod:`qnlp.models.images` on an :class:`~qnlp.data.images.ImageData` with
Adam, minibatches, an optional one-cycle or cosine schedule and light
augmentation (random shifts; flips for colour images), and writes a run
directory: ``config.json``, ``checkpoint.safetensors`` after every epoch
(the whole state: weights, optimiser, schedule, random generator,
history), ``history.jsonl``, and at the end ``weights.safetensors`` and
``metrics.json``. ``resume=True`` continues from the checkpoint and ends
with exactly the weights of an uninterrupted run. When the data has a
validation split the weights with the best validation accuracy are kept;
otherwise the last epoch's (the test split never chooses anything).

>>> import tempfile, numpy as np
>>> from qnlp.data.images import ImageData
>>> rng = np.random.default_rng(0)
>>> x = rng.integers(0, 256, (40, 1, 12, 12), dtype=np.uint8)
>>> y = np.arange(40) % 2
>>> data = ImageData('toy', ['a', 'b'], x, y, x[:10], y[:10])
>>> metrics = train_image_classifier(data, tempfile.mkdtemp(),
...     ImageSettings(model='hqnn-quanv', epochs=1, batch_size=8),
...     progress=False)
>>> 0 <= metrics['test_accuracy'] <= 1
True
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from qnlp.data.images import ImageData
from qnlp.engine.device import Device, module_device, resolve_device, \
    resolve_dtype
from qnlp.errors import CheckpointError, ConfigError
from qnlp.files import atomic_write_json, atomic_write_text
from qnlp.models.images import MODELS, count_parameters, make_image_model
from qnlp.models.quantum_layers import ParallelQuantumLayer
from qnlp.train.checkpoint import CONFIG_FILE, METRICS_FILE, save_run
from qnlp.train.metrics import classification_report
from qnlp.train.state import load_state, save_state

CHECKPOINT_FILE = 'checkpoint.safetensors'
SCHEDULES = ('constant', 'cosine', 'onecycle')


@dataclass
class ImageSettings:
    """Every setting of an image run.

    ``front``: ``auto`` picks the CIFAR-sized front end for colour images
    of side 32, the HQNN-Parallel one otherwise. ``shift``: random
    translations of up to this many pixels (0 = no augmentation);
    ``flip``: random horizontal flips (``None``: on for colour images).
    ``layers``/``reupload`` configure the quantum circuits. ``dtype``:
    ``float32`` (the default, as for classical CNNs) or ``float64``.
    """
    model: str = 'hqnn-parallel'
    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = 'onecycle'
    seed: int = 0
    shift: int = 2
    flip: bool | None = None
    front: str = 'auto'
    layers: int | None = None
    reupload: bool = False
    eval_batch: int = 1000
    dtype: str = 'float32'

    def __post_init__(self) -> None:
        resolve_dtype(self.dtype)
        if self.model not in MODELS:
            raise ConfigError(f"unknown image model {self.model!r}; choose "
                              f"one of {', '.join(MODELS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r} for "
                              f"images; choose one of {', '.join(SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.shift < 0:
            raise ConfigError("epochs and batch size must be positive and "
                              "shift non-negative")


def build_model(settings: ImageSettings, shape: tuple[int, int, int],
                n_classes: int) -> nn.Module:
    """The model of ``settings`` for images of ``shape`` (C, H, W)."""
    channels, side = shape[0], shape[1]
    front = settings.front
    if front == 'auto':
        front = 'cifar' if channels == 3 and side == 32 else 'small'
    quantum: dict[str, Any] = {}
    if settings.layers is not None:
        quantum['n_layers'] = settings.layers
    if settings.reupload and settings.model == 'hqnn-parallel':
        quantum['reupload'] = True
    if settings.model not in ('hqnn-parallel', 'hqnn-quanv'):
        quantum = {}
    return make_image_model(settings.model, channels, side, n_classes,
                            front=front, seed=settings.seed, **quantum)


def quantum_parameters(model: nn.Module) -> int:
    """Trainable parameters inside quantum layers."""
    return sum(count_parameters(m) for m in model.modules()
               if isinstance(m, ParallelQuantumLayer))


class Batcher:
    """Turns uint8 images into normalised float batches, with augmentation.

    ``normalise``: subtract the training mean and divide by the standard
    deviation per channel (the quanvolution wants raw [0, 1] pixels).
    """

    def __init__(self, train_images: np.ndarray, normalise: bool,
                 shift: int, flip: bool) -> None:
        self.shift, self.flip = shift, flip
        pixels = torch.from_numpy(train_images[:5000]).float() / 255
        if normalise:
            self.mean = pixels.mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
            self.std = pixels.std(dim=(0, 2, 3)).view(1, -1, 1, 1)
        else:
            self.mean = torch.zeros(1, pixels.shape[1], 1, 1)
            self.std = torch.ones(1, pixels.shape[1], 1, 1)

    def __call__(self, images: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 ``(B, C, H, W)`` -> float; augmented if ``generator``."""
        x = images.float() / 255
        if generator is not None and (self.shift or self.flip):
            x = self.augment(x, generator)
        return (x - self.mean) / self.std

    def augment(self, x: torch.Tensor, generator: torch.Generator
                ) -> torch.Tensor:
        """Random integer shifts (zero fill) and horizontal flips."""
        b, _, h, w = x.shape
        s = self.shift
        dx = torch.randint(-s, s + 1, (b,), generator=generator)
        dy = torch.randint(-s, s + 1, (b,), generator=generator)
        flips = (torch.rand(b, generator=generator) < 0.5) if self.flip \
            else torch.zeros(b, dtype=torch.bool)
        padded = nn.functional.pad(x, (s, s, s, s))
        rows = (torch.arange(h).view(1, h) + s - dy.view(b, 1))  # (B, H)
        cols = (torch.arange(w).view(1, w) + s - dx.view(b, 1))  # (B, W)
        cols = torch.where(flips.view(b, 1), cols.flip(1), cols)
        index = torch.arange(b).view(b, 1, 1)
        out = padded.permute(0, 2, 3, 1)[index, rows.view(b, h, 1),
                                         cols.view(b, 1, w)]
        return out.permute(0, 3, 1, 2).contiguous()


def predict_logits(model: nn.Module, images: np.ndarray, batcher: Batcher,
                   chunk: int = 1000) -> torch.Tensor:
    """Logits of ``images`` (uint8 numpy), in chunks, in eval mode; the
    model runs on its own device and dtype, the logits come back as CPU
    float32."""
    model.eval()
    device = module_device(model)
    dtype = next(model.parameters()).dtype
    out = []
    with torch.no_grad():
        for first in range(0, len(images), chunk):
            batch = torch.from_numpy(images[first:first + chunk])
            out.append(model(batcher(batch).to(device, dtype)))
    return torch.cat(out).float().cpu()


def _accuracy(logits: torch.Tensor, labels: np.ndarray) -> tuple[float,
                                                                 float]:
    target = torch.from_numpy(labels)
    loss = nn.functional.cross_entropy(logits, target).item()
    return loss, (logits.argmax(1) == target).double().mean().item()


def _scheduler(settings: ImageSettings, optimizer: torch.optim.Optimizer,
               steps_per_epoch: int):
    total = settings.epochs * steps_per_epoch
    if settings.schedule == 'onecycle' and total >= 8:  # else: constant
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=settings.lr, total_steps=total,
            pct_start=0.25)
    if settings.schedule == 'cosine':
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step
                                                        / total)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def train_image_classifier(data: ImageData, out: str | Path,
                           settings: ImageSettings | None = None,
                           resume: bool = False, progress: bool = True,
                           device: Device = None) -> dict[str, Any]:
    """Train ``settings.model`` on ``data``; write the run to ``out``.

    ``device``: where the model trains (default the CPU); batches are
    made and augmented on the CPU (seeded generator) and moved there.
    Checkpoints hold CPU tensors, so a run resumes on any device.
    """
    settings = settings or ImageSettings()
    device = resolve_device(device)
    dtype = resolve_dtype(settings.dtype)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(settings, data.shape, len(data.classes)).to(
        device=device, dtype=dtype)
    generator = torch.Generator().manual_seed(settings.seed)
    normalise = settings.model not in ('hqnn-quanv', 'cnn-quanv',
                                       'cnn-quanv-large')
    flip = settings.flip if settings.flip is not None else data.shape[0] == 3
    batcher = Batcher(data.train_images, normalise, settings.shift, flip)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr,
                                 weight_decay=settings.weight_decay)
    size = len(data.train_images)
    steps = math.ceil(size / settings.batch_size)
    scheduler = _scheduler(settings, optimizer, steps)
    identity = {'dataset': data.name, 'data_sha256': data.fingerprint(),
                'settings': asdict(settings)}
    config = {'task': 'images', **identity, 'classes': data.classes,
              'shape': list(data.shape),
              'n_parameters': count_parameters(model),
              'n_quantum_parameters': quantum_parameters(model)}
    checkpoint = out / CHECKPOINT_FILE
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    if resume:
        if not checkpoint.is_file():
            raise CheckpointError(f"{checkpoint}: nothing to resume")
        state = load_state(checkpoint)
        if state.get('identity') != identity:
            raise CheckpointError(f"{checkpoint}: made with other settings "
                                  "or data; use a new run directory")
        model.load_state_dict(state['model'])
        optimizer.load_state_dict(state['optimizer'])
        scheduler.load_state_dict(state['scheduler'])
        generator.set_state(state['generator'])
        history = list(state['history'])
        if state['best'] is not None:
            best = (state['best'][0], state['best'][1])
    else:
        atomic_write_json(out / CONFIG_FILE, config)
    train_x = torch.from_numpy(data.train_images)
    train_y = torch.from_numpy(data.train_labels)
    has_val = data.val_images is not None and len(data.val_images) > 0
    elapsed = history[-1]['seconds'] if history else 0.0
    for epoch in range(len(history), settings.epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(size, generator=generator)
        total, seen = 0.0, 0
        bar = tqdm(range(steps), desc=f'epoch {epoch + 1}/{settings.epochs}',
                   unit='batch', disable=not progress, leave=False)
        for step in bar:
            index = order[step * settings.batch_size:
                          (step + 1) * settings.batch_size]
            x = batcher(train_x[index], generator).to(device, dtype,
                                                      non_blocking=True)
            target = train_y[index].to(device, non_blocking=True)
            loss = nn.functional.cross_entropy(model(x), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            # summed on the device: the host waits only for the bar
            total = total + loss.detach() * len(index)
            seen += len(index)
            if step % 20 == 0 and progress:
                bar.set_postfix(loss=f'{float(total) / seen:.4f}')
        bar.close()
        total = float(total)
        train_seconds = time.perf_counter() - start
        elapsed += train_seconds
        row: dict[str, float] = {'epoch': epoch + 1,
                                 'train_loss': total / seen,
                                 'epoch_seconds': train_seconds,
                                 'images_per_second': size / train_seconds,
                                 'lr': optimizer.param_groups[0]['lr']}
        if has_val:
            row['val_loss'], row['val_accuracy'] = _accuracy(
                predict_logits(model, data.val_images, batcher,
                               settings.eval_batch), data.val_labels)
            if best is None or row['val_accuracy'] > best[0]:
                best = (row['val_accuracy'],
                        {k: v.detach().clone()
                         for k, v in model.state_dict().items()})
        row['test_loss'], row['test_accuracy'] = _accuracy(
            predict_logits(model, data.test_images, batcher,
                           settings.eval_batch), data.test_labels)
        row['seconds'] = elapsed
        history.append(row)
        save_state(checkpoint, {
            'identity': identity, 'model': model.state_dict(),
            'optimizer': optimizer.state_dict(),
            'scheduler': scheduler.state_dict(),
            'generator': generator.get_state(), 'history': history,
            'best': None if best is None else [best[0], best[1]]})
        atomic_write_text(out / 'history.jsonl', ''.join(
            json.dumps(r) + '\n' for r in history))
        if progress:
            shown = '  '.join(f'{k} {v:.4f}' for k, v in row.items()
                              if k.endswith(('loss', 'accuracy')))
            tqdm.write(f"epoch {epoch + 1}: {shown}  "
                       f"({train_seconds:.1f} s, "
                       f"{row['images_per_second']:.0f} images/s)")
    if best is not None:
        model.load_state_dict(best[1])
    logits = predict_logits(model, data.test_images, batcher,
                            settings.eval_batch)
    test_loss, test_accuracy = _accuracy(logits, data.test_labels)
    report = classification_report(data.test_labels.tolist(),
                                   logits.argmax(1).tolist(), data.classes)
    metrics: dict[str, Any] = {
        'dataset': data.name, 'model': settings.model,
        'test_accuracy': test_accuracy, 'test_loss': test_loss,
        'test_f1': report['f1'], 'test_report': report,
        'n_parameters': config['n_parameters'],
        'n_quantum_parameters': config['n_quantum_parameters'],
        'epochs_run': len(history),
        'train_seconds': sum(r['epoch_seconds'] for r in history),
        'epoch_seconds': [r['epoch_seconds'] for r in history],
        'selected': 'best validation accuracy' if has_val else 'last epoch',
        'images': [len(data.train_images),
                   0 if data.val_images is None else len(data.val_images),
                   len(data.test_images)]}
    if has_val:
        metrics['val_accuracy'] = best[0] if best else None
    save_run(out, config, dict(model.state_dict()))
    atomic_write_json(out / METRICS_FILE, metrics)
    return metrics


def comparison_table(run_dirs: list[str | Path]) -> str:
    """Markdown table of finished image runs (reads their metrics.json).

    >>> import tempfile, json, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / 'metrics.json').write_text(json.dumps({
    ...     'dataset': 'mnist', 'model': 'cnn', 'n_parameters': 10,
    ...     'n_quantum_parameters': 0, 'test_accuracy': 0.5,
    ...     'test_f1': 0.5, 'epochs_run': 1, 'train_seconds': 2.0}))
    >>> print(comparison_table([run]).splitlines()[2])
    | mnist | cnn | 10 | 0 | 0.5000 | 0.5000 | 1 | 2 |
    """
    lines = ['| data set | model | parameters | quantum | test accuracy | '
             'test F1 (macro) | epochs | train seconds |',
             '|---|---|---|---|---|---|---|---|']
    for run in run_dirs:
        path = Path(run) / METRICS_FILE
        try:
            m = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path}: cannot read ({error})") from None
        lines.append(f"| {m['dataset']} | {m['model']} | "
                     f"{m['n_parameters']} | {m['n_quantum_parameters']} | "
                     f"{m['test_accuracy']:.4f} | {m['test_f1']:.4f} | "
                     f"{m['epochs_run']} | {m['train_seconds']:.0f} |")
    return '\n'.join(lines)
