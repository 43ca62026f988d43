"""Training loop, optimisers, checkpoints and run directories.

Names are imported on first use (the command line builds its options
without loading torch models).
"""
from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    'DisCoCatEstimator': 'qnlp.train.estimators',
    'QuantumKernelSVC': 'qnlp.train.estimators',
    'QuantumKernelRidge': 'qnlp.train.estimators',
    'QuantumKernelSVR': 'qnlp.train.estimators',
    'VQCRegressor': 'qnlp.train.estimators',
    'Hooks': 'qnlp.train.trainer', 'Split': 'qnlp.train.trainer',
    'TrainConfig': 'qnlp.train.config', 'cross_entropy': 'qnlp.train.trainer',
    'evaluate': 'qnlp.train.trainer', 'fit': 'qnlp.train.trainer',
    'nll': 'qnlp.train.trainer',
    'RunDirectory': 'qnlp.train.run',
    'VQCClassifier': 'qnlp.train.estimators',
    'atomic_write_json': 'qnlp.files', 'atomic_write_text': 'qnlp.files',
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'qnlp.train' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
