"""Checkpoints that know the model they belong to.

A :class:`Fingerprinted` module stores a fingerprint of its
configuration (what :meth:`Fingerprinted.fingerprint` returns: wires,
classes, modes... plus the shape of every parameter and buffer) in its
``state_dict`` as ``_extra_state``: JSON in a uint8 tensor, so
safetensors files and the trainer's checkpoints hold it too. Loading a
``state_dict`` whose fingerprint differs raises
:class:`~qnlp.errors.CheckpointError` naming the first difference,
before torch compares any shape; a ``state_dict`` saved without one
(before fingerprints were stored) loads as it did.

>>> class Line(Fingerprinted, torch.nn.Linear):
...     def fingerprint(self):
...         return {'inputs': self.in_features, 'outputs': self.out_features}
>>> saved = Line(3, 2).state_dict()
>>> _ = Line(3, 2).load_state_dict(saved)
>>> Line(4, 2).load_state_dict(saved)
Traceback (most recent call last):
...
qnlp.errors.CheckpointError: the checkpoint is of another Line: inputs is 3 there, 4 here
>>> _ = Line(3, 2).load_state_dict({k: v for k, v in saved.items() if k != '_extra_state'})
"""
from __future__ import annotations

import json
from typing import Any

import torch

from qnlp.errors import CheckpointError

_KEY = '_extra_state'


def _decode(state: torch.Tensor) -> dict[str, Any]:
    return json.loads(bytes(state.cpu().tolist()).decode('utf-8'))


class Fingerprinted:
    """Mixin for a ``torch.nn.Module`` (put it first among the bases):
    subclasses define :meth:`fingerprint`."""

    def fingerprint(self) -> dict[str, Any]:
        """The configuration a checkpoint must match (JSON values)."""
        raise NotImplementedError

    def full_fingerprint(self) -> dict[str, Any]:
        """:meth:`fingerprint` and the shape of every parameter and
        buffer, as JSON would give them back."""
        found = dict(self.fingerprint())
        for name, tensor in list(self.named_parameters()) + list(
                self.named_buffers()):
            found[f'shape of {name}'] = list(tensor.shape)
        return json.loads(json.dumps(found))

    def get_extra_state(self) -> torch.Tensor:
        text = json.dumps(self.full_fingerprint()).encode('utf-8')
        return torch.tensor(list(text), dtype=torch.uint8)

    def set_extra_state(self, state: Any) -> None:
        """Nothing to set: :meth:`_load_from_state_dict` has checked the
        fingerprint."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: Any, strict: bool,
                              missing_keys: list[str],
                              unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        key = prefix + _KEY
        if key in state_dict:
            self.check_fingerprint(_decode(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if key not in state_dict and key in missing_keys:
            missing_keys.remove(key)   # saved before fingerprints were

    def check_fingerprint(self, saved: dict[str, Any]) -> None:
        """CheckpointError naming the first entry where ``saved``
        differs from this model's fingerprint."""
        own = self.full_fingerprint()
        for name in list(saved) + [k for k in own if k not in saved]:
            there, here = saved.get(name, _MISSING), own.get(name,
                                                             _MISSING)
            if there != here:
                there, here = _shown(there, here)
                raise CheckpointError(
                    f"the checkpoint is of another {type(self).__name__}: "
                    f"{name} is {there} there, {here} here")


_MISSING = object()
#: Longest value shown whole in a message.
_WIDTH = 80


def _shown(there: Any, here: Any) -> tuple[str, str]:
    """Two differing fingerprint values for a message: long ones cut to
    the stretch where they first differ.

    >>> _shown('x' * 100 + 'ring', 'x' * 100 + 'line')
    ('"...xxxxxxxxxxring"', '"...xxxxxxxxxxline"')
    """
    a, b = (v if v is _MISSING else json.dumps(v, ensure_ascii=False)
            for v in (there, here))
    if a is _MISSING or b is _MISSING:
        return ('missing' if a is _MISSING else _cut(a, 0),
                'missing' if b is _MISSING else _cut(b, 0))
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                 min(len(a), len(b)))
    start = max(0, first - 10) if max(len(a), len(b)) > _WIDTH else 0
    return _cut(a, start), _cut(b, start)


def _cut(text: str, start: int) -> str:
    """``text`` from ``start`` (JSON strings keep their quotes), at most
    :data:`_WIDTH` characters."""
    if start:
        text = text[0] + '...' + text[start:] if text[0] == '"' \
            else '...' + text[start:]
    return text if len(text) <= _WIDTH else text[:_WIDTH - 3] + '...'
