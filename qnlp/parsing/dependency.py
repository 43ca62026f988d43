"""Dependency trees to DisCoCat pregroup types, by the dependency
construction: no category search.

A dependency tree already says which word takes which argument, and the
standard construction turns it into a pregroup grammar. Each head's type
is its left arguments' adjoints, a core, and its right arguments'
adjoints::

    type(head) = (A_1 ... A_k).r  core  (C_1 ... C_m).l

for arguments ``A_1 .. A_k`` left of it (subjects, a fronted object) and
``C_1 .. C_m`` right of it (objects, clausal and predicative
complements), each the type of the argument's own phrase: ``n`` for a
noun phrase, ``s`` for a clause with a subject, ``n.r @ s`` for a verb
phrase whose subject is shared (*wants* (to go), *is* (tasty)). A
modifier takes the phrase ``P`` of its head at the point it attaches and
gives it back: core ``P @ P.l`` before the head, ``P.r @ P`` after it
(``n @ n.l`` adjectives and determiners, ``s.r @ s`` adverbs after a
clause, ``n.r @ s @ s.l @ n`` adverbs and auxiliaries before a verb
phrase, ``s.r @ s @ n.l`` prepositions after a clause); a coordinator
takes both conjuncts, ``P.r @ P @ P.l``, and the second conjunct has the
core ``P``. The core of a word is so chosen by its role: ``s`` for the
clause head, ``n`` for a noun phrase, the modifier or conjunct type of
the phrase it attaches to, or the target (``s`` or ``n``) for the root.

A head takes its dependents nearest first on each side, its right
dependents up to the last argument (or verb-phrase conjunct) first, then
its left ones, then the rest on the right: objects go with their verb,
so the subject meets ``n.r @ s`` and a modifier after the objects
modifies the whole clause. Every projective tree so gives a planar
reduction to the root's core, with cups known from the construction, so
there is nothing to search. The root verb of a declarative sentence gets
the DisCoCat type of its arguments: ``n.r @ s @ n.l`` (TV) with an
object, ``n.r @ s @ n.l @ n.l`` (DTV) with two, ``n.r @ s @ s.l`` (SV)
with a clausal complement; a copula ``n.r @ s @ n.l`` before a noun and
``n.r @ s @ s.l @ n`` (VPC) before an adjective, as an auxiliary.

Before the construction, the tree is normalised (:func:`normalise`): two
tagging errors are mended, extra roots hang from the first clause, a
root that is no clause gives way to a clause under it that has a
subject, a verb keeps one subject, a possessive *'s* takes its
possessor, a relative pronoun its clause, a coordinator takes its second conjunct and arcs that cross
are lifted (making the tree projective); punctuation that heads nothing
is dropped. A clausal complement after an object or another complement
modifies the verb (a verb takes one complement), and an object before
its verb (*what* do you eat) takes the clause with the verb's object
wire open, so the verb keeps its ``n.l``. Types that no fixed category
of :mod:`qnlp.parsing.types` has are named by writing them out
(:func:`~qnlp.parsing.types.written_category`).

The tree is plain data (:class:`Tree`), so the conversion needs no spaCy:

>>> tree = Tree(['she', 'cooks', 'a', 'meal'],
...             pos=['PRON', 'VERB', 'DET', 'NOUN'],
...             dep=['nsubj', 'ROOT', 'det', 'dobj'], head=[1, 1, 3, 1])
>>> parse = tree_parse(tree, 's')
>>> parse.categories, parse.cups
(['PRON', 'TV', 'DET', 'N'], [(0, 1), (3, 4), (5, 6)])
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from qnlp.errors import ParseError
from qnlp.parsing.parser import (IMPLICIT_SUBJECT, Parse, Parser,
                                 _untagged, split_tag)
from qnlp.parsing.types import written_category

#: A pregroup type as ``(base, z)`` atoms (``z`` = 1 for ``.r``, -1 ``.l``).
Atoms = tuple[tuple[str, int], ...]
N: Atoms = (('n', 0),)
S: Atoms = (('s', 0),)
VP: Atoms = (('n', 1), ('s', 0))

_NOMINAL = {'NOUN', 'PROPN', 'PRON', 'NUM'}
_VERBAL = {'VERB', 'AUX'}
#: Subject relations (spaCy's English labels).
SUBJECTS = frozenset({'nsubj', 'nsubjpass', 'csubj', 'csubjpass', 'expl'})
#: Arguments that are noun phrases: ``n``.
_NOUN_ARGUMENTS = {'nsubj', 'nsubjpass', 'expl', 'dobj', 'pobj', 'dative',
                   'possessor', 'csubj', 'csubjpass'}
#: Arguments that are clauses: ``s`` with a subject, else a verb phrase
#: ``n.r @ s``.
_CLAUSE_ARGUMENTS = {'ccomp', 'xcomp', 'acomp', 'attr', 'oprd'}
#: Clauses in a noun's place: ``s`` with a subject, else ``n`` (a gerund,
#: *about writing a book*); a clausal subject is always ``n``.
_NOMINAL_CLAUSES = {'pcomp'}
#: A relative pronoun's clause: subject or object open.
_RELATIVE_CLAUSES = {'relcl_s': VP, 'relcl_o': S + (('n', -1),)}
_BE = {'be', 'is', 'am', 'are', 'was', 'were', 'been', 'being', "'s", "'re",
       "'m"}


#: Categories of the same type as another, by part of speech.
_BY_CLASS = {('N', 'PRON'): 'PRON', ('ADJ', 'DET'): 'DET',
             ('IV', 'ADJ'): 'PRED', ('VPC', 'ADV'): 'ADVVP',
             ('PREPN', 'CCONJ'): 'CONJN', ('PREPN', 'PUNCT'): 'CONJN',
             ('PREPN', 'PART'): 'POSS'}


def right(atoms: Atoms) -> Atoms:
    """The right adjoint: ``(a b).r = b.r a.r``.

    >>> right((('n', 0), ('s', -1)))
    (('s', 0), ('n', 1))
    """
    return tuple((base, z + 1) for base, z in reversed(atoms))


def left(atoms: Atoms) -> Atoms:
    """The left adjoint: ``(a b).l = b.l a.l``."""
    return tuple((base, z - 1) for base, z in reversed(atoms))


@dataclass
class Tree:
    """A dependency tree as plain lists (0-based heads; the root is its
    own head), with the labels of spaCy's English pipelines (ClearNLP
    style: ``nsubj dobj dative attr acomp prep pobj aux auxpass ...``).
    """
    words: list[str]
    pos: list[str]
    dep: list[str]
    head: list[int]
    tag: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.tag:
            self.tag = [''] * len(self.words)
        self.words = [w.lower() for w in self.words]
        self.link()

    def link(self) -> None:
        """Recompute :attr:`children` from the heads."""
        self.children: list[list[int]] = [[] for _ in self.words]
        for i, h in enumerate(self.head):
            if h != i:
                self.children[h].append(i)

    @classmethod
    def from_doc(cls, doc: Any) -> "Tree":
        """The tree of a parsed spaCy ``Doc``."""
        return cls([t.text for t in doc], [t.pos_ for t in doc],
                   [t.dep_ for t in doc], [t.head.i for t in doc],
                   [t.tag_ for t in doc])

    def child(self, i: int, *deps: str) -> int | None:
        """The first dependent of ``i`` with one of the relations."""
        return next((c for c in self.children[i] if self.dep[c] in deps),
                    None)

    def subject(self, i: int) -> int | None:
        """The subject of ``i``, if any."""
        return self.child(i, *SUBJECTS)

    def ancestor(self, a: int, i: int) -> bool:
        """Whether ``a`` is ``i`` or above it."""
        while i != a and self.head[i] != i:
            i = self.head[i]
        return i == a


# -- normalising the tree ---------------------------------------------------

def _repair(tree: Tree) -> None:
    """Mend two tagging errors that cost the whole sentence its verb: a
    plural "noun" coordinated with a verb (*she sings and dances*), and a
    plural "noun" root after a compound with no verb anywhere (*the crowd
    dances to the music*)."""
    for i, dep in enumerate(tree.dep):
        if dep == 'conj' and tree.pos[i] == 'NOUN' and tree.tag[i] == 'NNS' \
                and tree.pos[tree.head[i]] == 'VERB' \
                and tree.child(i, 'det', 'amod', 'poss') is None:
            tree.pos[i] = 'VERB'
    root = next(i for i, h in enumerate(tree.head) if h == i)
    if tree.pos[root] == 'NOUN' and tree.tag[root] == 'NNS' \
            and not _VERBAL & set(tree.pos):
        subject = max((c for c in tree.children[root] if c < root
                       and tree.dep[c] == 'compound'
                       and tree.pos[c] in _NOMINAL), default=None)
        if subject is not None and subject == root - 1:
            tree.pos[root], tree.dep[subject] = 'VERB', 'nsubj'
            for c in tree.children[root]:
                if c < subject:     # its determiners go to the subject
                    tree.head[c] = subject
            tree.link()


def _one_root(tree: Tree) -> int:
    """Hang every root but the first verbal one (else the first) from it
    as a ``parataxis`` modifier; the root."""
    roots = [i for i, h in enumerate(tree.head) if h == i]
    root = next((r for r in roots if tree.pos[r] in _VERBAL), roots[0])
    for r in roots:
        if r != root:
            tree.head[r], tree.dep[r] = root, 'parataxis'
    return root


def _clause_root(tree: Tree, root: int, target: str | None) -> int:
    """A root that is no verb, with a dependent clause that has a subject
    of its own (*Phil, if you could make copies*; *amd i like 2 guys*;
    *what 's going on dude*), gives way to that clause: it becomes the
    root and the old root a ``dep`` modifier of it. A relative clause
    gives way only when a sentence is wanted (target ``s``: *The term X
    is located in ...*, spaCy's relative clause)."""
    subject = tree.subject(root)
    if tree.pos[root] in _VERBAL or subject is not None \
            and tree.subject(subject) is None:
        return root
    clause = next((c for c in tree.children[root]
                   if tree.subject(c) is not None
                   and (tree.pos[c] in _VERBAL or c == subject
                        or tree.dep[c] in ('intj', 'dep', 'parataxis'))
                   and (target == 's' or tree.dep[c] not in ('relcl', 'acl'))
                   ), None)
    if clause is None:
        return root
    tree.head[clause], tree.dep[clause] = clause, 'ROOT'
    tree.head[root], tree.dep[root] = clause, 'dep'
    tree.link()
    return clause


def _one_subject(tree: Tree) -> None:
    """A verb keeps one subject, the nearest before it (else after it);
    other words spaCy also calls its subject modify it (``dep``)."""
    for i, children in enumerate(tree.children):
        subjects = sorted((c for c in children if tree.dep[c] in SUBJECTS),
                          key=lambda c: (c > i, abs(c - i)))
        for extra in subjects[1:]:
            tree.dep[extra] = 'dep'


def _possessives(tree: Tree) -> None:
    """*John 's car*: *'s* modifies the noun and takes *John* (``n.r @ n
    @ n.l``), rather than *'s* modifying *John*."""
    for i, dep in enumerate(tree.dep):
        owner = tree.head[i]
        if dep == 'case' and tree.words[i] in ("'s", "'") and owner < i \
                and tree.dep[owner] == 'poss' and tree.head[owner] > i:
            tree.head[i], tree.dep[i] = tree.head[owner], 'poss'
            tree.head[owner], tree.dep[owner] = i, 'possessor'


_RELATIVE = {'that', 'which', 'who', 'whom'}


def _relative_pronouns(tree: Tree) -> None:
    """A relative pronoun that is the subject or object of its relative
    clause and opens it (*the cake that he baked*) takes the clause, as
    in DisCoCat: it modifies the noun and the clause is its argument
    with the subject (``relcl_s``, *that* ``n.r @ n @ s.l @ n``) or the
    object (``relcl_o``, *that* ``n.r @ n @ n.ll @ s.l``) left open."""
    for v, dep in enumerate(tree.dep):
        if dep != 'relcl':
            continue
        first = min([v] + [c for c in tree.children[v]])
        if first < v and tree.words[first] in _RELATIVE \
                and tree.dep[first] in ('nsubj', 'nsubjpass', 'dobj') \
                and not tree.children[first]:
            gap = 'relcl_o' if tree.dep[first] == 'dobj' else 'relcl_s'
            tree.head[first], tree.dep[first] = tree.head[v], 'relpron'
            tree.head[v], tree.dep[v] = first, gap


def _coordinators(tree: Tree) -> None:
    """The conjunction (else the punctuation) between a conjunct and the
    word it is coordinated with takes the conjunct (relation
    ``conjunct``) and becomes a modifier of that word (``coord``); a
    conjunct with no coordinator keeps ``conj``."""
    for c, dep in enumerate(tree.dep):
        h = tree.head[c]
        if dep != 'conj' or not h < c:
            continue
        between = [k for k in range(h + 1, c) if tree.head[k] in (h, c)
                   and tree.dep[k] in ('cc', 'punct')
                   and not tree.children[k]]
        words = [k for k in between if tree.dep[k] == 'cc'] or between
        if words:
            k = words[-1]
            tree.head[k], tree.dep[k] = h, 'coord'
            tree.head[c], tree.dep[c] = k, 'conjunct'


def _projective(tree: Tree) -> None:
    """Lift a dependent over its head while its arc crosses another,
    until every subtree is a contiguous span (spaCy's parser may return
    crossing arcs)."""
    while True:
        tree.link()
        crossing = next((d for d, h in enumerate(tree.head) if h != d and any(
            not tree.ancestor(h, k) for k in range(min(h, d) + 1, max(h, d)))
        ), None)
        if crossing is None:
            return
        h = tree.head[crossing]
        tree.head[crossing] = tree.head[h]


def _contiguous(tree: Tree) -> bool:
    """Whether every subtree is a span of the sentence (cheap: sizes and
    ends of subtrees)."""
    n = len(tree.words)
    low, high, size = list(range(n)), list(range(n)), [1] * n
    order = sorted(range(n), key=lambda i: -_depth(tree, i))
    for i in order:
        h = tree.head[i]
        if h != i:
            low[h], high[h] = min(low[h], low[i]), max(high[h], high[i])
            size[h] += size[i]
    return all(high[i] - low[i] + 1 == size[i] for i in range(n))


def _depth(tree: Tree, i: int) -> int:
    depth = 0
    while tree.head[i] != i:
        i, depth = tree.head[i], depth + 1
    return depth


def normalise(tree: Tree, target: str | None = None) -> int:
    """Prepare ``tree`` for the construction (see the module docstring);
    its root."""
    _repair(tree)
    root = _one_root(tree)
    tree.link()
    root = _clause_root(tree, root, target)
    _one_subject(tree)
    _possessives(tree)
    _relative_pronouns(tree)
    _coordinators(tree)
    tree.link()
    if not _contiguous(tree):
        _projective(tree)
    return root


# -- the construction -------------------------------------------------------

class _Construction:
    """Types and cups of a normalised tree; see :func:`tree_parse`."""

    def __init__(self, tree: Tree) -> None:
        self.t = tree
        #: Each word's type (-1: the implicit subject).
        self.types: dict[int, Atoms] = {}
        #: Cups between ``(word, atom)`` wires.
        self.cups: list[tuple[tuple[int, int], tuple[int, int]]] = []
        #: The word taking the implicit subject, if any.
        self.implicit: int | None = None

    def skipped(self, i: int) -> bool:
        """Punctuation that heads nothing and coordinates nothing."""
        t = self.t
        return t.pos[i] in ('PUNCT', 'SPACE') and not t.children[i] \
            and t.dep[i] != 'coord' and t.head[i] != i

    def predicate_preposition(self, i: int) -> bool:
        """Whether preposition ``i`` introduces the predicate of a bare
        copula (*I am in the process*): *am* takes it as a noun phrase,
        as the copula of a noun does (``n.r @ s @ n.l``)."""
        t = self.t
        v = t.head[i]
        if t.dep[i] != 'prep' or t.words[v] not in _BE or i < v \
                or t.child(i, 'pobj', 'prep', 'pcomp') is None:
            return False          # (they are) out of (business): 'prep'
        after = [c for c in t.children[v] if c > v and not self.skipped(c)
                 and t.dep[c] not in ('advmod', 'neg')]
        return after[0] == i and not any(
            t.dep[c] in _CLAUSE_ARGUMENTS | {'dobj'} for c in t.children[v])

    def adjunct(self, c: int) -> bool:
        """Whether clausal complement ``c`` comes after an object or
        another complement of its head (*nominated two people to replace
        them*, *is OK to go*), or whose subject is *which* (spaCy's
        relative clause *, which leaves it*): a modifier, as a verb takes
        one complement."""
        t = self.t
        h = t.head[c]
        subject = t.subject(c)
        return any(t.dep[o] in ('dobj', 'dative', 'attr', 'acomp', 'oprd')
                   and h < o < c for o in t.children[h]) \
            or subject is not None and t.words[subject] == 'which'  # , which

    def argument(self, c: int) -> Atoms | None:
        """The type ``c`` brings as an argument of its head (its phrase),
        or ``None`` for a modifier."""
        t = self.t
        dep, pos = t.dep[c], t.pos[c]
        if self.predicate_preposition(c):
            return N
        if dep == 'dative' and pos == 'ADP' or self.fronted(c) \
                or dep in ('xcomp', 'ccomp', 'acomp') and self.adjunct(c):
            return None
        if dep in _NOUN_ARGUMENTS or dep in ('attr', 'oprd', 'acomp') and (
                pos not in _VERBAL | {'ADJ'}
                or t.child(c, 'poss') is not None     # (is) my favorite
                or t.child(c, 'det') is not None      # (feel) the same
                and t.pos[t.head[c]] != 'AUX'):       # (is) the closest
            return N
        if dep in _RELATIVE_CLAUSES:
            return _RELATIVE_CLAUSES[dep]
        if dep in _CLAUSE_ARGUMENTS | _NOMINAL_CLAUSES:
            if t.subject(c) is not None or self.question(c):
                return S
            return N if dep in _NOMINAL_CLAUSES else VP
        return None

    def build(self, i: int, core: Atoms, conjunct: Atoms = ()) -> list:
        """Give word ``i`` its type around ``core``, take its dependents
        (their cups recorded) and return the open wires of its phrase.
        ``conjunct`` is the type of a coordinator's second conjunct."""
        t = self.t
        deps = [c for c in t.children[i] if not self.skipped(c)]
        brings: dict[int, Atoms | None] = {}
        for c in deps:
            brings[c] = conjunct if t.dep[c] == 'conjunct' and conjunct \
                else self.argument(c)
        left_deps = sorted((c for c in deps if c < i), reverse=True)
        if i == self.implicit:
            left_deps.append(-1)
            brings[-1] = N
        right_deps = sorted(c for c in deps if c > i)
        fronted = [c for c in left_deps if c != -1 and self.fronted(c)]
        before = [c for c in reversed(left_deps) if brings[c] is not None]
        after = [brings[c] for c in right_deps if brings[c] is not None]
        own = right(sum((brings[c] for c in before), ())) + core \
            + left(sum(after + [N] * bool(fronted), ()))
        self.types[i] = own
        wires = [(i, k) for k in range(len(own))]
        early = max((k for k, c in enumerate(right_deps)
                     if brings[c] is not None or self.shares_subject(c)),
                    default=-1)
        order = right_deps[:early + 1] + left_deps + right_deps[early + 1:]
        for c in order:
            argument = brings[c]
            if argument is not None:
                phrase = self.build(c, argument) if c != -1 \
                    else self.leaf(c, argument)
                taken, wires = (wires[-len(phrase):], wires[:-len(phrase)]) \
                    if c > i else (wires[:len(phrase)], wires[len(phrase):])
                self.join(taken, phrase, c > i)
                continue
            P = tuple(self.types[w][k] for w, k in wires)
            if c > i:
                phrase = self.build(c, right(P) + P,
                                    P if t.dep[c] == 'coord' else ())
                self.join(wires, phrase[:len(P)], True)
                wires = phrase[len(P):]
            else:       # a fronted object also takes the object wire
                kept = len(P) - (c in fronted[:1])
                phrase = self.build(c, P[:kept] + left(P))
                self.join(wires, phrase[kept:], False)
                wires = phrase[:kept]
        return wires

    def leaf(self, i: int, atoms: Atoms) -> list:
        self.types[i] = atoms
        return [(i, k) for k in range(len(atoms))]

    def join(self, head: list, phrase: list, phrase_after: bool) -> None:
        """Cups between the head's wires and an adjacent phrase's, nested
        (the phrase after the head, or before it)."""
        pairs = zip(reversed(head), phrase) if phrase_after \
            else zip(reversed(phrase), head)
        self.cups.extend(pairs)

    def question(self, c: int) -> bool:
        """Whether clause ``c`` opens with a question word (*know how to
        do it*, *ask whether to go*): a clause ``s`` even without a
        subject."""
        t = self.t
        return t.pos[c] in _VERBAL and any(
            a < c and (t.tag[a] in ('WRB', 'WP', 'WDT')
                       or t.words[a] in ('whether', 'if'))
            for a in t.children[c])

    def fronted(self, c: int) -> bool:
        """Whether ``c`` is an object before its verb (*what* do you eat,
        the cake *that* she ate): the verb keeps its ``n.l`` and ``c``
        takes the clause with that open object (``s @ n.ll @ s.l``)."""
        return self.t.dep[c] in ('dobj', 'attr') and c < self.t.head[c]

    def shares_subject(self, c: int) -> bool:
        """Whether coordinator ``c`` joins a verb phrase without its own
        subject, taken before the head's subject (*sings and dances*)."""
        t = self.t
        if t.dep[c] != 'coord':
            return False
        second = t.child(c, 'conjunct')
        return second is not None and t.pos[second] in _VERBAL | {'ADJ'} \
            and t.subject(second) is None

    def run(self, root: int, target: str | None) -> Parse:
        t = self.t
        clause = t.pos[root] in _VERBAL | {'ADJ'} \
            or t.subject(root) is not None
        sentence = target == 's' or target is None and clause
        self.implicit = root if sentence and clause \
            and t.subject(root) is None else None
        open_wires = self.build(root, S if sentence else N)
        found = [self.types[w][k] for w, k in open_wires]
        if found != [('s' if sentence else 'n', 0)]:
            raise ParseError(f"the construction left {found} open",
                             ' '.join(t.words))
        order = sorted(self.types)       # -1, the implicit subject, first
        offsets, total = {}, 0
        for w in order:
            offsets[w] = total
            total += len(self.types[w])
        # by their right ends, as a left-to-right reduction closes them
        # (inner cups first); lambeq's RemoveCupsRewriter fails on fewer
        # diagrams in this order (1 of 5,022 EWT and SST-2 sentences)
        # than by span length (63) or from the right (15)
        cups = sorted(((offsets[a] + j, offsets[b] + k)
                       for (a, j), (b, k) in self.cups),
                      key=lambda cup: cup[1])
        words = [IMPLICIT_SUBJECT if w == -1 else t.words[w] for w in order]
        return Parse(words, [self.category(w) for w in order], cups)

    def category(self, i: int) -> str:
        """The name of word ``i``'s type, a word class's own where two
        categories share it (*she*: PRON, *the*: DET)."""
        name = written_category(self.types[i])
        if i == -1:
            return 'PRON'
        return _BY_CLASS.get((name, self.t.pos[i]), name)


def tree_parse(tree: Tree, target: str | None = 's') -> Parse:
    """The pregroup parse of ``tree`` by the dependency construction (see
    the module docstring): its root's phrase is ``target`` (``'s'`` or
    ``'n'``; ``None``: ``s`` for a clause, else ``n``). A clause without
    a subject (an imperative, a fragment *very quiet*) takes the implicit
    subject ``<pro>``; punctuation that heads nothing is dropped.

    >>> tree = Tree(['she', 'sings', 'and', 'dances'],
    ...             ['PRON', 'VERB', 'CCONJ', 'VERB'],
    ...             ['nsubj', 'ROOT', 'cc', 'conj'], [1, 1, 1, 1])
    >>> tree_parse(tree).categories
    ['PRON', 'IV', 'CONJVP', 'IV']
    >>> tree_parse(Tree(['eat', 'it'], ['VERB', 'PRON'], ['ROOT', 'dobj'],
    ...                 [0, 0])).words
    ['<pro>', 'eat', 'it']
    """
    root = normalise(tree, target)
    return _Construction(tree).run(root, target)


class DependencyParser(Parser):
    """A parser that builds each sentence's types from spaCy's dependency
    tree (:func:`tree_parse`).

    Each sentence is parsed by spaCy (batched with ``nlp.pipe`` in
    :meth:`analyse_many`) and converted; :attr:`counts` tallies how:

    ``tree``
        the construction (every well-formed tree);
    ``narrow``
        a sentence with pre-tagged words (``word_CATEGORY``), or a tree
        the construction rejects: a beam search of width 16 over
        :class:`~qnlp.parsing.spacy_tagger.SpacyTagger`'s preferences;
    ``fallback``
        when that fails, the beam search with widths ``fallback_widths``;
        with ``fallback_widths=()`` there is none and the sentence is a
        :class:`ParseError` (``unparsed``).

    Other keyword arguments go to :class:`Parser` (and the searches).
    """

    def __init__(self, tagger: Any = None,
                 fallback_widths: Sequence[int] = (64, 512),
                 **options: Any) -> None:
        if tagger is None:
            from qnlp.parsing.spacy_tagger import SpacyTagger
            tagger = SpacyTagger()
        super().__init__(tagger, **options)
        self.counts: Counter[str] = Counter()
        self._narrow = Parser(tagger, **{
            **options, 'beam_width': 16, 'retry_widths': (),
            'max_candidates': 4, 'skip_cost': None})
        self._fallback = Parser(tagger, **{
            **options, 'beam_width': fallback_widths[0],
            'retry_widths': tuple(fallback_widths[1:])}) \
            if fallback_widths else None

    def settings(self) -> dict[str, Any]:
        """The parser's settings with those of its fallback search."""
        fallback = self._fallback
        widths = () if fallback is None else (fallback.beam_width,
                                              *fallback.retry_widths)
        return {**super().settings(), 'construction': 'dependency',
                'fallback_widths': widths}

    def analyse(self, sentence: str, target: str | None = None) -> Parse:
        """Parse one sentence (see :meth:`analyse_many`)."""
        result = self.analyse_many([sentence], target)[0]
        if isinstance(result, ParseError):
            raise result
        return result

    def _read_batch(self, batch: list[list[str]]) -> list[Any]:
        """spaCy's analyses of the whole batch, with ``nlp.pipe``, on the
        words as written (spaCy reads capitals: *I*, *Bush*)."""
        return self.tagger.docs([[_untagged(t) for t in tokens]
                                 for tokens in batch])

    def _analyse_reading(self, sentence: str, tokens: list[str],
                         target: str | None, doc: Any) -> Parse:
        """One sentence through the stages of the class docstring."""
        if not any(split_tag(t)[1] for t in tokens):
            try:
                parse = tree_parse(Tree.from_doc(doc), target)
            except ParseError as problem:
                self.counts[f'rejected: {problem.message[:60]}'] += 1
            else:
                self.counts['tree'] += 1
                return parse
        proposed = self.tagger.candidates(doc)
        try:
            found = self._narrow._analyse_tokens(sentence, tokens, target,
                                                 proposed)
            self.counts['narrow'] += 1
            return found
        except ParseError:
            if self._fallback is None:
                self.counts['unparsed'] += 1
                raise
        self.counts['fallback'] += 1
        return self._fallback._analyse_tokens(sentence, tokens, target,
                                              proposed)
