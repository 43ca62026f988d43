"""Adversarial robustness: attacks (FGSM, PGD L-inf and L2, the
black-box Square and HopSkipJump attacks) and adversarial training of
the image models (:mod:`qnlp.robust.attacks`), the sentiment models
attacked through their feature pipeline (:mod:`qnlp.robust.features`);
names in :mod:`qnlp.robust.names`, which needs no torch."""
from qnlp.robust.names import ATTACKS, WHITE_BOX, parse_attack, parse_attacks

__all__ = ['ATTACKS', 'WHITE_BOX', 'parse_attack', 'parse_attacks']
