"""Nested training state <-> one safetensors file, atomically.

A state is any nest of dicts, lists, tuples, tensors and JSON scalars
(model and optimiser ``state_dict()``, RNG states, histories). Tensors go
into the safetensors payload, the structure into its JSON metadata, so a
checkpoint is a single file written by one rename: it is either the old
one or the new one, never half of each. No pickle.

>>> import tempfile, torch, os
>>> path = os.path.join(tempfile.mkdtemp(), 'state.safetensors')
>>> save_state(path, {'epoch': 3, 'opt': {0: {'step': torch.tensor(2.)}},
...                   'betas': (0.9, 0.99)})
>>> state = load_state(path)
>>> state['epoch'], state['opt'][0]['step'].item(), state['betas']
(3, 2.0, (0.9, 0.99))
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from qnlp.errors import CheckpointError
from qnlp.files import atomic_path


def _flatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f't{len(tensors)}'
        tensors[key] = value.detach().cpu().contiguous()
        return {'__tensor__': key}
    if isinstance(value, dict):
        return {'__dict__': [[k, _flatten(v, tensors)]
                             for k, v in value.items()]}
    if isinstance(value, tuple):
        return {'__tuple__': [_flatten(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_flatten(v, tensors) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")


def _unflatten(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if '__tensor__' in value:
            return tensors[value['__tensor__']]
        if '__dict__' in value:
            return {k: _unflatten(v, tensors) for k, v in value['__dict__']}
        if '__tuple__' in value:
            return tuple(_unflatten(v, tensors) for v in value['__tuple__'])
    if isinstance(value, list):
        return [_unflatten(v, tensors) for v in value]
    return value


def save_state(path: str | Path, state: Any) -> None:
    """Write ``state`` to ``path`` (temporary file, then rename)."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(state, tensors)
    if not tensors:  # safetensors wants at least one tensor
        tensors['empty'] = torch.zeros(0)
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata={'tree': json.dumps(tree)})


def load_state(path: str | Path) -> Any:
    """Read a state written by :func:`save_state`."""
    try:
        with safe_open(str(path), framework='pt') as handle:
            tree = json.loads((handle.metadata() or {})['tree'])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint") from None
    except (SafetensorError, OSError, KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: corrupt checkpoint ({error})") \
            from None
    return _unflatten(tree, tensors)
