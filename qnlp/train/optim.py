"""Optimisers and learning-rate schedules by name.

Gradient-based: ``adam``, ``sgd`` (torch), ``aqgd`` (the analytic
quantum gradient descent of qiskit: gradient descent with momentum,
``m = 0.25 m + 0.75 g``, ``w -= lr m``). Gradient-free, for runs that
could go to quantum hardware: ``spsa`` (two loss evaluations per step,
whatever the number of parameters) and ``cobyla`` / ``nelder-mead``
(scipy; each epoch is one bounded ``scipy.optimize.minimize`` call from
the current weights, so an epoch is deterministic and resumable).

>>> import torch
>>> w = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
>>> opt = make_optimizer('spsa', [w], lr=0.2, seed=0)
>>> for _ in range(200):
...     _ = opt.step(lambda: (w ** 2).sum())
>>> bool((w ** 2).sum() < 0.05)
True
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from qnlp.choices import (EPOCH_SCHEDULES, GRADIENT_OPTIMISERS,  # noqa: F401
                          OPTIMISERS, SCHEDULES, SCIPY_OPTIMISERS,
                          STEP_SCHEDULES)
from qnlp.errors import ConfigError

#: Momentum of ``aqgd``: ``m = AQGD_MOMENTUM m + (1 - AQGD_MOMENTUM) g``.
AQGD_MOMENTUM = 0.25


class SPSA(torch.optim.Optimizer):
    """Simultaneous perturbation stochastic approximation (Spall 1998).

    ``step(closure)`` evaluates the loss at ``w + c_k d`` and ``w - c_k d``
    for a random sign vector ``d`` and moves by ``a_k`` times the
    estimated gradient, with ``a_k = lr / (k + 1 + A)^alpha`` and
    ``c_k = c / (k + 1)^gamma``. The sign generator's state is part of
    :meth:`state_dict`, so a resumed run draws the same directions.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 0.1,
                 c: float = 0.1, a_offset: float = 10.0, alpha: float = 0.602,
                 gamma: float = 0.101, seed: int = 0) -> None:
        super().__init__(params, dict(lr=lr, c=c, a_offset=a_offset,
                                      alpha=alpha, gamma=gamma))
        self._generator = torch.Generator().manual_seed(seed)
        self._k = 0

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['spsa'] = {'k': self._k,
                         'generator': self._generator.get_state()}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop('spsa')
        super().load_state_dict(state_dict)
        self._k = int(extra['k'])
        self._generator.set_state(extra['generator'])

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        params = [p for group in self.param_groups for p in group['params']]
        group = self.param_groups[0]
        k = self._k
        a_k = group['lr'] / (k + 1 + group['a_offset']) ** group['alpha']
        c_k = group['c'] / (k + 1) ** group['gamma']
        # drawn on the CPU (one seeded stream on every device), then moved
        signs = [torch.randint(0, 2, p.shape, generator=self._generator)
                 .to(p.device, p.dtype) * 2 - 1 for p in params]
        for p, d in zip(params, signs):
            p.add_(c_k * d)
        plus = closure()
        for p, d in zip(params, signs):
            p.sub_(2 * c_k * d)
        minus = closure()
        for p, d in zip(params, signs):
            p.add_(c_k * d)
            p.sub_(a_k * (plus - minus) / (2 * c_k) * d)
        self._k += 1
        return (plus + minus) / 2


def make_optimizer(name: str, params: Iterable[torch.Tensor], lr: float,
                   seed: int = 0, weight_decay: float = 0.0
                   ) -> torch.optim.Optimizer:
    """A torch optimiser by name (scipy ones are run by the trainer);
    ``weight_decay``: L2 penalty of ``adam`` and ``sgd``."""
    if name == 'adam':
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == 'sgd':
        return torch.optim.SGD(params, lr=lr, momentum=0.9,
                               weight_decay=weight_decay)
    if name == 'aqgd':
        return torch.optim.SGD(params, lr=lr * (1 - AQGD_MOMENTUM),
                               momentum=AQGD_MOMENTUM)
    if name == 'spsa':
        return SPSA(params, lr=lr, seed=seed)
    raise ConfigError(f"unknown optimiser {name!r}; choose one of "
                      f"{', '.join(OPTIMISERS)}")


def make_scheduler(name: str, optimizer: torch.optim.Optimizer,
                   epochs: int, steps_per_epoch: int = 1
                   ) -> torch.optim.lr_scheduler.LRScheduler:
    """A learning-rate schedule by name: stepped once per epoch, except
    those of :data:`STEP_SCHEDULES` (after every optimiser step)."""
    if name == 'onecycle':
        total = epochs * steps_per_epoch
        if total < 8:   # too short for a warm-up: constant
            return torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                     lambda _: 1.0)
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=optimizer.param_groups[0]['lr'],
            total_steps=total, pct_start=0.25)
    if name == 'constant':
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    if name == 'cosine':
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                          max(1, epochs))
    if name == 'step':
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=max(1, epochs // 3), gamma=0.3)
    raise ConfigError(f"unknown schedule {name!r}; choose one of "
                      f"{', '.join(SCHEDULES)}")


def scipy_epoch(method: str, weights: torch.nn.Parameter,
                loss: Callable[[], torch.Tensor], evaluations: int,
                step: float) -> None:
    """One bounded scipy minimisation from the current ``weights``."""
    from scipy.optimize import minimize

    def objective(values: np.ndarray) -> float:
        with torch.no_grad():
            weights.copy_(torch.from_numpy(values).to(weights.dtype))
            return float(loss())

    start = weights.detach().cpu().numpy().astype(float)
    evaluations = max(evaluations, len(start) + 2)  # scipy's minimum
    options: dict = {'maxiter': evaluations}
    if method == 'COBYLA':
        options['rhobeg'] = step
    else:
        options['maxfev'] = evaluations
        options['initial_simplex'] = np.vstack(
            [start] + [start + step * row for row in np.eye(len(start))])
    result = minimize(objective, start, method=method, options=options)
    with torch.no_grad():
        weights.copy_(torch.from_numpy(result.x).to(weights.dtype))
