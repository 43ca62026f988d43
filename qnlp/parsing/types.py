"""Pregroup types of the grammatical categories (DisCoCat).

Each category the tagger can assign gets the pregroup type of the DisCoCat
literature (Coecke, Sadrzadeh and Clark 2010; Lorenz et al. 2023), over
the basic types ``n`` (noun) and ``s`` (sentence):

=========  ===========================  =================================
category   type                         example
=========  ===========================  =================================
N          n                            *man*, *sauce*
ADJ        n · n^l                      *tasty* (meal)
DET        n · n^l                      *the* (meal)
IV         n^r · s                      (woman) *runs*
TV         n^r · s · n^l                (woman) *cooks* (meal)
RELS       n^r · n · s^l · n            (device) *that* detects (vehicle)
RELO       n^r · n · n^ll · s^l         (device) *that* (woman) uses
=========  ===========================  =================================

>>> str(category_type('TV'))
'n.r @ s @ n.l'
"""
from __future__ import annotations

from lambeq.backend.grammar import Ty

N = Ty('n')
S = Ty('s')

CATEGORY_TYPES: dict[str, Ty] = {
    'N': N,
    'ADJ': N @ N.l,
    'DET': N @ N.l,
    'IV': N.r @ S,
    'TV': N.r @ S @ N.l,
    'RELS': N.r @ N @ S.l @ N,
    'RELO': N.r @ N @ N.l.l @ S.l,
}

#: Open-class categories an unknown word may take.
OPEN_CATEGORIES = ('N', 'ADJ', 'TV', 'IV')


def category_type(category: str) -> Ty:
    """The pregroup type of ``category`` (a key of :data:`CATEGORY_TYPES`)."""
    try:
        return CATEGORY_TYPES[category]
    except KeyError:
        known = ', '.join(CATEGORY_TYPES)
        raise ValueError(f"unknown category {category!r}; known: {known}") \
            from None
