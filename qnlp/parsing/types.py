"""Pregroup types of the grammatical categories (DisCoCat).

Each category the taggers can assign gets the pregroup type of the
DisCoCat literature (Coecke, Sadrzadeh and Clark 2010; Sadrzadeh, Clark
and Coecke 2013; Lorenz et al. 2023), over the basic types ``n`` (noun)
and ``s`` (sentence). A modifier of a type ``X`` has type ``X^r X`` after
it and ``X X^l`` before it; a coordinator of ``X`` has ``X^r X X^l``.

==========  ===========================  =====================================
category    type                         example
==========  ===========================  =====================================
N           n                            *man*, *sauce*, *Paris*
PRON        n                            *she*, *them*
ADJ         n · n^l                      *tasty* (meal)
DET         n · n^l                      *the* (meal)
POSS        n^r · n · n^l                (Ann) *'s* (car)
PRED        n^r · s                      (meal is) *tasty*
IV          n^r · s                      (woman) *runs*
TV          n^r · s · n^l                (woman) *cooks* (meal); *is* (a cook)
DTV         n^r · s · n^l · n^l          (she) *gives* (him) (a book)
VPC         n^r · s · s^l · n            *can* / *will* / *is* / *to* (run)
SV          n^r · s · s^l                (she) *thinks* (it works)
ADVVP       n^r · s · s^l · n            (she) *often* (runs)
ADVS        s^r · s                      (she runs) *fast*
ADVPRE      s · s^l                      *however* (she runs)
ADVADJ      n · n^l · n^ll · n^l         *very* (good) (film)
PREPN       n^r · n · n^l                (film) *about* (love)
PREPS       s^r · s · n^l                (she runs) *in* (the park)
PREPPRE     s · s^l · n^l                *in* (the end) (she runs)
CONJN       n^r · n · n^l                (tea) *and* (cake)
CONJS       s^r · s · s^l                (she runs) *and* (he walks)
CONJA       n · n^r · n · n^l · n^ll · n^l   (warm) *and* (funny) (film)
SUBPRE      s · s^l · s^l                *if* (it rains) (we stay)
RELS        n^r · n · s^l · n            (device) *that* detects (cars)
RELO        n^r · n · n^ll · s^l         (device) *that* (people) use
QAUX        s · s^l · n · n^l            *can* (you) (swim)?
QCOP        s · n^l · n^l                *is* (it) (a film)?
SKIP        (no wires)                   a comma that joins nothing
CONJVP      s^r · n^rr · n^r · s · s^l · n   (she sings) *and* (dances)
NADVS       n · n^r · s^r · s            (she left) (last) *week*
NADVPRE     n · n^r · s · s^l            (last) *week* (she left)
APPOS       n · n^r · n^r · n            (Lone ,) (a) *man*
QOBJ        s · n^ll · s^l               *what* (do you eat)?
QDET        s · n^ll · s^l · n^l         *which* (one) (should I get)?
PREPVP      n^r · s · s^l · n · n^l      (Bush) *on* (Tuesday) (nominated)
NREL        n · n^ll · s^l               the *sushi* (I found)
QSUBJ       s · s^l · n                  *who* (cooked the meal)?
INFS        s^r · s · s^l · n            (she came) *to* (help)
INFN        n^r · n · s^l · n            (a way) *to* (help)
==========  ===========================  =====================================

Relative pronouns keep their DisCoCat types here; the compiler can
replace them by the Frobenius (spider) construction of Sadrzadeh et al.
(lambeq's ``subject_rel_pronoun`` and ``object_rel_pronoun`` rules).
A sentence without a subject (*may be more genial than ingenious*, *has
the capability of ...*) may take an implicit subject: the word ``<pro>``
(category PRON) is put in front of it, at a cost, so a subject that is
there always wins.

Commas, semicolons, colons and dashes are coordinators or SKIP (no
wires, dropped from the diagram); other punctuation is dropped by the
tokeniser. Verb phrases that share a subject (*she sings and dances*)
are coordinated by CONJVP, whose ``n^rr`` takes the first verb's
subject wire ``n^r`` and hands the subject to both verbs.

>>> str(category_type('TV'))
'n.r @ s @ n.l'
"""
from __future__ import annotations

import re

from lambeq.backend.grammar import Ty

N = Ty('n')
S = Ty('s')

_ADJ = N @ N.l
_VP = N.r @ S


class _Categories(dict):
    """The fixed categories, and any pregroup type written out as a
    category name (atoms joined by ``@``, ``n.r@s@s.l@n``): the name of a
    type the dependency construction derives that no fixed category has
    (:func:`written_category`)."""

    def __missing__(self, name: str) -> Ty:
        if not isinstance(name, str) or not _WRITTEN.fullmatch(name):
            raise KeyError(name)
        ty = Ty()
        for atom in name.split('@'):
            base, *adjoints = atom.split('.')
            simple = Ty(base)
            for side in adjoints:
                simple = simple.r if side == 'r' else simple.l
            ty = ty @ simple
        return ty


_ATOM = r'[ns](?:(?:\.r)*|(?:\.l)*)'
_WRITTEN = re.compile(f'{_ATOM}(?:@{_ATOM})*')

CATEGORY_TYPES: dict[str, Ty] = _Categories({
    'N': N,
    'PRON': N,
    'ADJ': _ADJ,
    'DET': _ADJ,
    'POSS': N.r @ N @ N.l,
    'PRED': _VP,
    'IV': _VP,
    'TV': _VP @ N.l,
    'DTV': _VP @ N.l @ N.l,
    'VPC': _VP @ _VP.l,
    'SV': _VP @ S.l,
    'ADVVP': _VP @ _VP.l,
    'ADVS': S.r @ S,
    'ADVPRE': S @ S.l,
    'ADVADJ': _ADJ @ _ADJ.l,
    'PREPN': N.r @ N @ N.l,
    'PREPS': S.r @ S @ N.l,
    'PREPPRE': S @ S.l @ N.l,
    'CONJN': N.r @ N @ N.l,
    'CONJS': S.r @ S @ S.l,
    'CONJA': _ADJ.r @ _ADJ @ _ADJ.l,
    'SUBPRE': S @ S.l @ S.l,
    'RELS': N.r @ N @ S.l @ N,
    'RELO': N.r @ N @ N.l.l @ S.l,
    'QAUX': S @ _VP.l @ N.l,
    'QCOP': S @ N.l @ N.l,
    'SKIP': Ty(),
    'CONJVP': _VP.r @ _VP @ _VP.l,
    'NADVS': N @ N.r @ S.r @ S,
    'NADVPRE': N @ N.r @ S @ S.l,
    'APPOS': N @ N.r @ N.r @ N,
    'QOBJ': S @ N.l.l @ S.l,
    'QDET': S @ N.l.l @ S.l @ N.l,
    'PREPVP': _VP @ _VP.l @ N.l,
    'NREL': N @ N.l.l @ S.l,
    'QSUBJ': S @ _VP.l,
    'INFS': S.r @ S @ _VP.l,
    'INFN': N.r @ N @ _VP.l,
})


def category_type(category: str) -> Ty:
    """The pregroup type of ``category`` (a key of :data:`CATEGORY_TYPES`)."""
    try:
        return CATEGORY_TYPES[category]
    except KeyError:
        known = ', '.join(CATEGORY_TYPES)
        raise ValueError(f"unknown category {category!r}; known: {known}") \
            from None


#: The first fixed category of each type (as ``(base, z)`` atoms).
_NAMED: dict[tuple, str] = {}
for _name, _ty in [(c, CATEGORY_TYPES[c]) for c in ('N', 'ADJ', 'IV', 'PREPN')] \
        + list(CATEGORY_TYPES.items()):
    _NAMED.setdefault(tuple((a.name, a.z) for a in _ty), _name)


def written_category(atoms: tuple[tuple[str, int], ...]) -> str:
    """The name of the type of ``atoms`` (``(base, z)`` pairs): the first
    fixed category of that type, else the type written out, which
    :data:`CATEGORY_TYPES` reads back.

    >>> written_category((('n', 1), ('s', 0), ('n', -1)))
    'TV'
    >>> name = written_category((('s', 1), ('n', 2), ('n', 1), ('s', 0)))
    >>> name, str(CATEGORY_TYPES[name])
    ('s.r@n.r.r@n.r@s', 's.r @ n.r.r @ n.r @ s')
    """
    named = _NAMED.get(atoms)
    if named is not None:
        return named
    return '@'.join(base + ('.r' * z if z > 0 else '.l' * -z)
                    for base, z in atoms)
