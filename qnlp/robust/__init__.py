"""Adversarial robustness of the image models: attacks (FGSM, PGD L-inf
and L2, the black-box Square attack) and adversarial training
(:mod:`qnlp.robust.attacks`; names in :mod:`qnlp.robust.names`, which
needs no torch)."""
from qnlp.robust.names import ATTACKS, WHITE_BOX, parse_attack, parse_attacks

__all__ = ['ATTACKS', 'WHITE_BOX', 'parse_attack', 'parse_attacks']
