"""Atomic, pickle-free run directories: JSON plus safetensors.

Every file is written to a temporary name in the same directory and
renamed over the target, so a crash never leaves a half-written file.

>>> import tempfile, torch
>>> run = tempfile.mkdtemp()
>>> save_run(run, {'labels': ['0', '1']}, {'weights': torch.ones(3)})
>>> config, tensors = load_run(run)
>>> config['labels'], tensors['weights'].tolist()
(['0', '1'], [1.0, 1.0, 1.0])
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from qnlp.errors import CheckpointError
from qnlp.files import atomic_path, atomic_write_json

CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'weights.safetensors'
METRICS_FILE = 'metrics.json'


def atomic_save_tensors(path: str | Path,
                        tensors: dict[str, torch.Tensor]) -> None:
    """Save ``tensors`` as safetensors, atomically."""
    with atomic_path(path) as temporary:
        save_file({k: v.detach().contiguous().cpu()
                   for k, v in tensors.items()}, str(temporary))


def save_run(run_dir: str | Path, config: dict[str, Any],
             tensors: dict[str, torch.Tensor]) -> None:
    """Write the run's config and tensors (weights first, config last)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_save_tensors(run_dir / WEIGHTS_FILE, tensors)
    atomic_write_json(run_dir / CONFIG_FILE, config)


def load_run(run_dir: str | Path) -> tuple[dict[str, Any],
                                           dict[str, torch.Tensor]]:
    """Read a run directory; :class:`CheckpointError` if it is unusable."""
    run_dir = Path(run_dir)
    config_path, weights_path = run_dir / CONFIG_FILE, run_dir / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: missing; is {run_dir} a run "
                                  "directory written by 'qnlp train'?")
    try:
        config = json.loads(config_path.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config_path}: corrupt JSON ({error})") \
            from None
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_path}: corrupt weights ({error})") \
            from None
    return config, tensors
