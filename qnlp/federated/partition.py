"""Split a training set among federated clients: IID or label-skewed.

``iid`` deals a seeded shuffle of the examples round-robin, so the
clients' sizes differ by at most one. ``dirichlet:ALPHA`` gives each
class's examples to the clients in proportions drawn from a symmetric
Dirichlet(ALPHA) distribution (Hsu et al. 2019; the label skew of
Flower Datasets' ``DirichletPartitioner``): small ALPHA (0.3) leaves
most clients with one dominant class, large ALPHA approaches IID. Every
example goes to exactly one client, and every client gets at least one
example (a client left empty takes one from the largest).

>>> parts = partition([0, 0, 0, 1, 1, 1], 3, 'iid', seed=0)
>>> sorted(i for part in parts for i in part), [len(p) for p in parts]
([0, 1, 2, 3, 4, 5], [2, 2, 2])
>>> skewed = partition([0] * 50 + [1] * 50, 2, 'dirichlet:0.3', seed=1)
>>> sorted(i for part in skewed for i in part) == list(range(100))
True
>>> parse_partition('dirichlet:-1')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: --partition must be iid or dirichlet:ALPHA with ALPHA > 0, got 'dirichlet:-1'
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from qnlp.errors import ConfigError


def parse_partition(text: str) -> float | None:
    """``None`` for ``iid``, ALPHA for ``dirichlet:ALPHA``."""
    if text == 'iid':
        return None
    kind, _, value = text.partition(':')
    try:
        alpha = float(value)
    except ValueError:
        alpha = math.nan
    if kind != 'dirichlet' or not math.isfinite(alpha) or alpha <= 0:
        raise ConfigError(f"--partition must be iid or dirichlet:ALPHA with "
                          f"ALPHA > 0, got {text!r}")
    return alpha


def partition(labels: Sequence[int], clients: int, scheme: str,
              seed: int) -> list[list[int]]:
    """Example indices of each of ``clients`` clients (sorted), by
    ``scheme`` (``iid`` or ``dirichlet:ALPHA``), drawn with ``seed``."""
    alpha = parse_partition(scheme)
    labels = np.asarray(labels)
    if clients > len(labels):
        raise ConfigError(f"--federated {clients}: more clients than the "
                          f"{len(labels)} training examples")
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(clients)]
    if alpha is None:
        for k, index in enumerate(rng.permutation(len(labels))):
            parts[k % clients].append(int(index))
    else:
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            shares = rng.dirichlet([alpha] * clients)
            cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
            for k, chunk in enumerate(np.split(members, cuts)):
                parts[k].extend(int(i) for i in chunk)
        for part in parts:   # no client without data
            if not part:
                largest = max(parts, key=len)
                part.append(largest.pop())
    return [sorted(part) for part in parts]
