"""Hyper-parameters of the training loop, without importing torch.

:class:`TrainConfig` is what every task's settings become
(:meth:`qnlp.tasks.base.Settings.train_config`); it lives apart from the
loop in :mod:`qnlp.train.trainer` so that settings are checked (and a bad
value refused) before torch is loaded.

>>> TrainConfig(epochs=5, optimizer='sgd').batch_size
0
>>> TrainConfig(optimizer='spsa', weight_decay=0.1)
Traceback (most recent call last):
...
qnlp.errors.ConfigError: weight_decay needs optimizer adam or sgd, not spsa
"""
from __future__ import annotations

from dataclasses import dataclass

from qnlp.choices import OPTIMISERS, SCHEDULES
from qnlp.errors import ConfigError


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    ``batch_size=0`` is full batch; ``patience=0`` turns early stopping
    off, otherwise training stops after ``patience`` epochs without a
    better dev score. ``evaluations`` is the number of loss evaluations
    per epoch of the scipy optimisers. ``weight_decay``: the L2 penalty
    of ``adam`` and ``sgd``. ``average_weights``: the decay of an
    exponential moving average of the weights, updated after every
    optimiser step and used in their place for dev selection and the
    kept model (0: off; the optimisers that step, not the scipy ones).
    """
    epochs: int = 120
    batch_size: int = 0
    lr: float = 0.1
    seed: int = 0
    optimizer: str = 'adam'
    schedule: str = 'constant'
    patience: int = 0
    evaluations: int = 20
    weight_decay: float = 0.0
    average_weights: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMISERS:
            raise ConfigError(f"unknown optimiser {self.optimizer!r}; "
                              f"choose one of {', '.join(OPTIMISERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; "
                              f"choose one of {', '.join(SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 0 or self.patience < 0:
            raise ConfigError("epochs must be positive and batch size and "
                              "patience non-negative")
        if self.weight_decay and self.optimizer not in ('adam', 'sgd'):
            raise ConfigError(f"weight_decay needs optimizer adam or sgd, "
                              f"not {self.optimizer}")
        if not 0 <= self.average_weights < 1:
            raise ConfigError(f"average_weights must lie in [0, 1), got "
                              f"{self.average_weights}")
        if self.average_weights and self.optimizer not in ('adam', 'sgd',
                                                           'spsa'):
            raise ConfigError(f"average_weights needs optimizer adam, sgd or "
                              f"spsa, not {self.optimizer}")
