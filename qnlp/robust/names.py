"""Attack names and their ``NAME:EPS`` texts (no torch: the command line
builds its options from them).

>>> parse_attack('pgd:0.1')
('pgd', 0.1)
>>> parse_attacks(['fgsm:0.1', 'pgd-l2:1.5', 'square:0.2'])
(('fgsm', 0.1), ('pgd-l2', 1.5), ('square', 0.2))
>>> parse_attack('cw:0.1')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: attack 'cw:0.1': give NAME:EPS with NAME one of fgsm, pgd, pgd-l2, square, hsj and EPS a positive number
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from qnlp.errors import ConfigError

#: Attack names: the white-box ones (FGSM, PGD L-inf, PGD L2) and the
#: black-box ones (evaluation only, L-inf): the score-based Square attack
#: (images) and the decision-based HopSkipJump (any input).
ATTACKS = ('fgsm', 'pgd', 'pgd-l2', 'square', 'hsj')
WHITE_BOX = ('fgsm', 'pgd', 'pgd-l2')


def parse_attack(text: str) -> tuple[str, float]:
    """``'NAME:EPS'`` -> ``(NAME, EPS)``; anything else is a ConfigError."""
    name, _, eps = str(text).partition(':')
    try:
        value = float(eps)
    except ValueError:
        value = -1.0
    if name not in ATTACKS or not 0 < value < math.inf:
        raise ConfigError(f"attack {text!r}: give NAME:EPS with NAME one of "
                          f"{', '.join(ATTACKS)} and EPS a positive number")
    return name, value


def parse_attacks(items: Iterable[Any]) -> tuple[tuple[str, float], ...]:
    """Several ``NAME:EPS`` texts (``--attack`` given several times) or
    ``(NAME, EPS)`` pairs (as a run's ``config.json`` holds them).

    >>> parse_attacks([['pgd', 0.5], 'fgsm:0.1'])
    (('pgd', 0.5), ('fgsm', 0.1))
    """
    return tuple(parse_attack(item if isinstance(item, str)
                              else ':'.join(map(str, item)))
                 for item in items)
