"""Dependency trees to DisCoCat types and cups, without a category search.

A dependency parse already says which word takes which argument: a verb
with a subject and an object is ``n.r @ s @ n.l`` (TV), with an indirect
object too ``n.r @ s @ n.l @ n.l`` (DTV), with a clausal complement
``n.r @ s @ s.l`` (SV); an auxiliary takes the verb phrase after it
(VPC), a determiner or adjective the noun after it (``n @ n.l``), a
preposition its object and the noun or sentence it modifies. So
:func:`tree_categories` reads one category per word off the tree and
:func:`reduce_types` finds the cups between those fixed types by a
depth-first search that cancels adjacent adjoints first and backtracks
when that dead-ends. Unlike the parser's beam search it may keep a
right adjoint waiting, which verb-phrase coordination needs: in *she
sings and dances* the subject wire of *sings* waits for *and* (category
CONJVP, ``s.r @ n.r.r @ n.r @ s @ s.l @ n``).

Before reading categories, what DisCoCat has no type for is lifted onto
the phrase above it (:func:`_flatten`): a modifier of an adverb,
determiner or preposition modifies what they modify (*two years* ago),
the first word of a two-word preposition is an adverb (*according* to).
Modifiers after a noun (*January* 10, a guy *named* Joe) take the noun
as an apposition does, a participle with an object as a preposition
does, and *to* takes an infinitive adjunct (INFS, INFN).

A word whose relation the conversion does not cover gets no category
and an :class:`Unsupported` problem naming it. :class:`DependencyParser`
then lets :func:`search_types` choose among spaCy's preferences and the
modifier categories for those words only; when that does not reduce
either (or a tagging error left types that do not reduce), it opens
every word, then tries a narrow beam search, and only then the wide
beam search over :class:`~qnlp.parsing.spacy_tagger.SpacyTagger`'s
preferences, counting how often each stage parses.

Building the cups from the tree alone was the other design: the beam
search with one candidate per word cannot keep a right adjoint waiting
(so no CONJVP), and the depth-first search over fixed types costs a small
part of spaCy's own time per sentence, so fixing categories and
searching their cups is both simpler and robust to trees whose arcs cross.

The tree is plain data (:class:`Tree`), so the conversion needs no spaCy:

>>> tree = Tree(['she', 'cooks', 'a', 'meal'],
...             pos=['PRON', 'VERB', 'DET', 'NOUN'],
...             dep=['nsubj', 'ROOT', 'det', 'dobj'], head=[1, 1, 3, 1])
>>> conversion = tree_categories(tree)
>>> conversion.categories, conversion.implicit
(['PRON', 'TV', 'DET', 'N'], False)
>>> reduce_types(conversion.categories, 's')
[(0, 1), (3, 4), (5, 6)]
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from qnlp.errors import ParseError
from qnlp.parsing.parser import (IMPLICIT_SUBJECT, JOINING_PUNCTUATION,
                                 Parse, Parser, split_tag)
from qnlp.parsing.types import CATEGORY_TYPES

_NOMINAL = {'NOUN', 'PROPN', 'PRON', 'NUM'}
_VERBAL = {'VERB', 'AUX'}
_SUBJECTS = {'nsubj', 'nsubjpass', 'csubj', 'csubjpass', 'expl'}
#: Nominal arguments right of a verb, each an ``n.l`` of its type.
_OBJECTS = {'dobj', 'attr', 'oprd', 'dative'}
#: Modifiers of a noun placed before it: ``n @ n.l``.
_NOUN_MODIFIERS = {'amod', 'compound', 'nummod', 'nmod', 'quantmod',
                   'npadvmod', 'predet', 'det', 'poss', 'preconj', 'advmod'}
_RELATIVE = {'that', 'which', 'who', 'whom'}
_BE = {'be', 'is', 'am', 'are', 'was', 'were', 'been', 'being', "'s", "'re",
       "'m"}
#: Search steps :func:`reduce_types` may take before giving up.
SEARCH_BUDGET = 20_000


class Unsupported(ParseError):
    """The tree has a construction the conversion does not cover."""


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

    def start(self, i: int) -> int:
        """The first position of the subtree of ``i``."""
        return min([i] + [self.start(c) for c in self.children[i]])


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
            for c in list(tree.children[root]):
                if c < subject:     # its determiners go to the subject
                    tree.head[c] = subject
                    tree.children[root].remove(c)
                    tree.children[subject].append(c)


#: Relations of a word that modifies its head without being an argument.
_MODIFYING = {'advmod', 'npadvmod', 'det', 'predet', 'neg', 'quantmod'}


def _reattach(tree: Tree, i: int, head: int) -> None:
    tree.children[tree.head[i]].remove(i)
    tree.head[i] = head
    tree.children[head].append(i)


def _flatten(tree: Tree) -> None:
    """Lift what DisCoCat has no type for onto the phrase above it: a
    modifier of an adverb, determiner or preposition modifies what those
    modify (*a week* ago, *all* the, *right* after); the first word of a
    two-word preposition (*according* to, *along* with) is an adverb and
    the second the preposition; a preposition without an object
    (*believe in*, *the day before*) is an adverb."""
    changed = True
    while changed:
        changed = False
        for i, h in enumerate(tree.head):
            g = tree.head[h]
            if h != i and g != h and tree.dep[i] in _MODIFYING \
                    and tree.dep[h] in _MODIFYING | {'prep'} \
                    and tree.pos[h] in ('ADV', 'DET', 'ADP') \
                    and not (tree.dep[h] == 'prep'
                             and tree.child(h, 'pobj', 'pcomp') is None):
                _reattach(tree, i, g)
                changed = True
    for i, dep in enumerate(tree.dep):
        h = tree.head[i]
        if dep == 'parataxis' and h < i and tree.child(i, *_SUBJECTS) \
                and not any(tree.dep[k] in ('punct', 'cc')
                            for k in range(h + 1, tree.start(i))) \
                and tree.child(h, 'ccomp', 'dobj', 'xcomp') is None:
            tree.dep[i] = 'ccomp'     # I assume you mean ...
        if dep in ('prep', 'agent') and tree.head[i] != i \
                and tree.child(i, 'pobj', 'pcomp') is None:
            for c in list(tree.children[i]):
                if tree.dep[c] == 'prep':
                    _reattach(tree, c, tree.head[i])
            tree.dep[i] = 'advmod'


class _Converter:
    """One category per word of a :class:`Tree`; see :func:`tree_categories`."""

    def __init__(self, tree: Tree) -> None:
        self.t = tree
        self.n = len(tree.words)
        self.categories: list[str | None] = [None] * self.n

    def fail(self, i: int, reason: str) -> Unsupported:
        return Unsupported(f"no DisCoCat type from the tree: {reason}",
                           ' '.join(self.t.words), self.t.words[i], i)

    # -- clauses --------------------------------------------------------
    def is_clause(self, v: int) -> bool:
        """Whether ``v`` heads a verb phrase (verb or predicate)."""
        t = self.t
        return t.pos[v] in _VERBAL or t.dep[v] in ('acomp', 'xcomp',
                                                    'ROOT') \
            and t.pos[v] == 'ADJ'

    def nominal(self, i: int) -> bool:
        """Whether ``i`` is a noun phrase: a noun, or any word in a
        noun's role (*most* of them, *many* of the iraqis)."""
        t = self.t
        return t.pos[i] in _NOMINAL or t.dep[i] in (
            'nsubj', 'nsubjpass', 'dobj', 'pobj', 'attr', 'appos') \
            and not self.is_clause(i)

    def adjunct(self, v: int) -> bool:
        """Whether verb ``v`` is an infinitive adjunct: a ``to`` clause
        without a subject after its head and the head's objects (*nominated
        two people to replace them*), taken by *to* as INFS or INFN."""
        t = self.t
        h = t.head[v]
        return t.dep[v] in ('xcomp', 'advcl', 'acl') and v > h \
            and self.subject(v) is None and any(
                t.words[c] == 'to' and t.dep[c] == 'aux' and c < v
                for c in t.children[v]) \
            and (t.dep[v] != 'xcomp' or any(
                o < v for o in self.objects(h)) or any(
                t.dep[k] == 'acomp' and k < v for k in t.children[h]))

    def marked_after_object(self, c: int) -> bool:
        """Whether clausal complement ``c`` comes after an object of its
        verb and has a subordinator (*told him that ...*, *seems clear
        to me that ...*): the subordinator joins it as CONJS."""
        t = self.t
        h = t.head[c]
        return t.dep[c] == 'ccomp' and t.child(c, 'mark') is not None \
            and any(o < c for o in self.objects(h)) \
            or t.dep[c] == 'ccomp' and t.child(c, 'mark') is not None \
            and any(t.dep[k] in ('oprd', 'acomp') and k < c
                    for k in t.children[h])

    def question_object(self, i: int) -> bool:
        """Whether ``i`` is the fronted object of a question (*what* do
        you eat?): QOBJ, and the verb keeps its object."""
        t = self.t
        h = t.head[i]
        return t.dep[i] == 'dobj' and t.pos[i] == 'PRON' \
            and t.tag[i] == 'WP' and i < h and t.dep[h] == 'ROOT' \
            and any(t.dep[c] == 'aux' and i < c < h for c in t.children[h])

    def subject(self, v: int) -> int | None:
        return self.t.child(v, *_SUBJECTS)

    def clause_head(self, i: int) -> int:
        """The verb whose clause a modifier of ``i`` sits in."""
        t = self.t
        while not (t.pos[i] in _VERBAL) and t.head[i] != i \
                and t.dep[i] in ('acomp', 'xcomp', 'oprd', 'prep', 'pobj',
                                 'advmod'):
            i = t.head[i]
        return i

    def place(self, i: int, v: int) -> str:
        """Where modifier ``i`` of clause ``v`` sits: ``pre`` (before the
        subject), ``mid`` (subject or start .. verb), ``post``."""
        t = self.t
        if i > v:
            return 'post'
        subject = self.subject(v)
        if subject is not None and subject < v and i < t.start(subject):
            return 'pre'
        if subject is None and t.dep[v] == 'ROOT' and t.start(v) == i \
                and i < v and t.pos[i] in ('ADP', 'SCONJ'):
            return 'pre'
        return 'mid'

    def objects(self, v: int) -> list[int]:
        """Nominal arguments of verb ``v`` (each an ``n.l``)."""
        t = self.t
        found = [c for c in t.children[v] if c > v and t.dep[c] in _OBJECTS
                 and (t.dep[c] != 'dative' or t.pos[c] in _NOMINAL)
                 and (t.dep[c] != 'attr' or t.pos[c] != 'ADJ')]
        found += [c for c in t.children[v] if self.predicate_preposition(c)
                  or self.question_object(c)]
        if t.dep[v] == 'relcl':   # the cake that she ate: 'that' is one
            found += [c for c in t.children[v] if c < v
                      and t.dep[c] in ('dobj', 'pobj')
                      and t.words[c] in _RELATIVE]
            if self.bare_relative(v) and not found:
                found.append(t.head[v])  # the sushi (that) I found
        return found

    def verb(self, v: int) -> str:
        """The category of clause head ``v``."""
        t = self.t
        objects = self.objects(v)
        subject = self.subject(v)
        if subject is not None and subject > v:   # is it a film? is it ok?
            if t.pos[v] != 'AUX':
                raise self.fail(v, 'subject after the verb')
            if objects:
                return 'QCOP'
            if t.child(v, 'acomp', 'xcomp') is not None:
                return 'QAUX'
            raise self.fail(v, 'inverted copula without predicate')
        phrase = [c for c in t.children[v] if c > v and (
            t.dep[c] == 'acomp' or t.dep[c] == 'xcomp'
            and t.pos[c] in _VERBAL | {'ADJ'}) and not self.adjunct(c)]
        clause = [c for c in t.children[v] if c > v and t.dep[c] == 'ccomp'
                  and not self.marked_after_object(c)]
        if phrase or clause:
            if objects or len(phrase) + len(clause) > 1:
                raise self.fail(v, 'complement and object together')
            return 'VPC' if phrase else 'SV'
        if t.pos[v] == 'ADJ':
            return 'PRED'
        if len(objects) > 2:
            raise self.fail(v, 'more than two objects')
        return ('IV', 'TV', 'DTV')[len(objects)]

    def verb_needs_no_subject(self, v: int) -> bool:
        t = self.t
        return t.dep[v] in ('xcomp', 'acomp', 'conj', 'ROOT', 'relcl') \
            or self.adjunct(v)

    # -- words ----------------------------------------------------------
    def category(self, i: int) -> str:
        t = self.t
        pos, dep, h, word = t.pos[i], t.dep[i], t.head[i], t.words[i]
        if word in JOINING_PUNCTUATION or pos == 'PUNCT':
            return 'SKIP'
        if dep == 'acl' and pos in _VERBAL and not self.adjunct(i) \
                and self.subject(i) is None and i > h:
            objects = self.objects(i)   # (customers) attracted (by ...)
            if len(objects) > 1 or t.child(i, 'ccomp', 'xcomp', 'acomp'):
                raise self.fail(i, 'participle with complements')
            return 'PREPN' if objects else 'APPOS'
        if dep in ('ROOT', 'ccomp', 'xcomp', 'advcl', 'relcl', 'conj',
                   'acomp', 'acl') and (self.is_clause(i) or pos == 'ADJ'):
            if pos == 'ADJ':      # (is) worried (that it rains): n.r s s.l
                return 'SV' if t.child(i, 'ccomp') is not None else 'PRED'
            if self.subject(i) is None and not self.verb_needs_no_subject(i):
                if dep == 'advcl' and pos == 'VERB' \
                        and t.child(i, 'aux', 'mark') is None:
                    return self.participle(i)
                raise self.fail(i, f'{dep} verb without a subject')
            return self.verb(i)
        if pos in _NOMINAL and any(t.dep[c] == 'relcl' and c > i
                                   and self.bare_relative(c)
                                   for c in t.children[i]):
            if dep in ('ROOT', 'conj', 'pobj', 'dobj', 'attr', 'dative',
                       'oprd', 'nsubj', 'nsubjpass'):
                return 'NREL'
        if dep in ('ROOT', 'conj', 'appos') and pos in _NOMINAL \
                or dep in ('pobj', 'dobj', 'attr', 'oprd', 'nsubj',
                           'nsubjpass', 'expl') \
                or dep == 'dative' and pos in _NOMINAL:
            if dep == 'appos':
                if i > h and t.pos[h] in _NOMINAL:
                    return 'APPOS' if t.children[i] and min(
                        t.children[i]) < i else 'CONJN'
                raise self.fail(i, 'apposition')
            if self.question_object(i):
                return 'QOBJ'             # what do you eat?
            if word in _RELATIVE and t.dep[h] == 'relcl':
                if dep in ('nsubj', 'nsubjpass'):
                    return 'RELS'
                if dep == 'dobj':
                    return 'RELO'
                raise self.fail(i, 'relative pronoun')
            return 'PRON' if pos == 'PRON' else 'N'
        if dep == 'poss':
            return 'DET' if pos in ('PRON', 'DET') else 'N'
        if dep == 'case' and word == "'s":
            return 'POSS'
        if dep == 'aux' and word == 'to' and self.adjunct(h):
            return 'INFN' if t.dep[h] == 'acl' else 'INFS'
        if dep in ('aux', 'auxpass'):
            subject = self.subject(h)
            first = min((c for c in t.children[h]
                         if t.dep[c] in ('aux', 'auxpass')), default=i)
            if subject is not None and i < subject and i == first:
                return 'QAUX'
            return 'VPC'
        if dep == 'mark':
            return self.connector(i, h)
        if dep == 'pcomp' and pos in _VERBAL and self.subject(i) is None:
            objects = self.objects(i)     # about writing (a book): a noun
            if len(objects) > 1:
                raise self.fail(i, 'gerund with two objects')
            return 'ADJ' if objects else 'N'
        if dep == 'pcomp' and pos in _NOMINAL:
            return 'N'
        if dep in ('prep', 'agent', 'dative'):
            if t.child(i, 'pobj', 'pcomp') is None:
                raise self.fail(i, 'preposition without an object')
            if (self.nominal(h) or self.gerund(h)) and i > h:
                return 'PREPN'
            if self.is_clause(h) or t.dep[h] in ('acomp', 'xcomp',
                                                 'oprd', 'advmod'):
                v = self.clause_head(h)
                where = self.place(i, v)
                if where == 'pre':
                    return 'PREPPRE'
                if where == 'post' and self.after_arguments(i, v):
                    return 'PREPS'
                if where == 'mid':
                    return 'PREPVP'
            raise self.fail(i, 'preposition in this position')
        if self.predicate_preposition(i):
            return 'ADJ'          # (is) *in* (the process): a case marker
        if dep == 'prt':
            following = [o for o in self.objects(h) if o > i]
            return 'ADJ' if following else self.adverb(i, h)
        if dep in _NOUN_MODIFIERS and i > h and self.nominal(h) \
                and dep not in ('det', 'predet', 'poss'):
            return 'APPOS'        # (january) 10, (the day) before
        if dep in _NOUN_MODIFIERS and i < h and (
                t.pos[h] in _NOMINAL or t.dep[h] in ('amod', 'compound')):
            if pos in ('ADV', 'PART') and t.pos[h] == 'ADJ':
                return 'ADVADJ'
            return 'DET' if dep in ('det', 'predet') else 'ADJ'
        if dep == 'npadvmod' and pos in _NOMINAL and t.children[i] \
                and max(t.children[i]) < i:    # (last) week, (53) cents
            where = self.adverb(i, h)
            if where in ('ADVS', 'ADVPRE'):
                return 'NADVS' if where == 'ADVS' else 'NADVPRE'
            raise self.fail(i, 'noun phrase as an adverb')
        if dep == 'advmod' and t.tag[i] == 'WRB' and t.dep[h] == 'advcl' \
                and t.child(h, 'mark') is None and i < h:
            return self.connector(i, h)    # (I left) *when* (it rained)
        if (dep in ('advmod', 'neg', 'npadvmod', 'intj', 'cc')
                or dep == 'amod' and t.pos[h] == 'ADJ') \
                and not (dep == 'npadvmod' and t.children[i]):
            return self.adverb(i, h)
        raise self.fail(i, f'relation {dep!r} of {pos}')

    def participle(self, v: int) -> str:
        """A subjectless adverbial clause (*, killing four*): a modifier
        of the sentence, taking its object as a preposition does."""
        t = self.t
        objects = self.objects(v)
        if len(objects) > 1 or t.child(v, 'ccomp', 'xcomp', 'acomp'):
            raise self.fail(v, 'adverbial clause with complements')
        main = self.clause_head(t.head[v])
        where = self.place(t.start(v), main) if v < main else 'post'
        if where == 'mid':
            raise self.fail(v, 'adverbial clause inside the clause')
        return {('pre', 0): 'ADVPRE', ('pre', 1): 'PREPPRE',
                ('post', 0): 'ADVS', ('post', 1): 'PREPS'}[where,
                                                            len(objects)]

    def predicate_preposition(self, i: int) -> bool:
        """Whether preposition ``i`` introduces the predicate of a bare
        copula (*I am in the process*): *am* takes the noun phrase, as
        the copula of a noun does, and *in* marks it."""
        t = self.t
        v = t.head[i]
        if t.dep[i] != 'prep' or t.words[v] not in _BE or i < v \
                or t.child(i, 'pobj') is None:
            return False
        right = [c for c in t.children[v] if c > v and t.dep[c] != 'punct']
        return right[0] == i and not any(
            t.dep[c] in _OBJECTS | {'acomp', 'xcomp', 'ccomp'}
            for c in t.children[v])

    def bare_relative(self, v: int) -> bool:
        """Whether relative clause ``v`` has no relative word but a
        subject: an object relative clause (*the sushi I found*)."""
        t = self.t
        subject = self.subject(v)
        return subject is not None and t.words[subject] not in _RELATIVE \
            and not any(t.tag[c].startswith('W') or t.words[c] in _RELATIVE
                        for c in t.children[v]) \
            and t.head[v] < t.start(v)

    def gerund(self, v: int) -> bool:
        """Whether ``v`` is a verb read as a noun (*about writing*)."""
        return self.t.dep[v] == 'pcomp' and self.t.pos[v] in _VERBAL \
            and self.subject(v) is None

    def after_arguments(self, i: int, v: int) -> bool:
        """Whether modifier ``i`` comes after every object of ``v``."""
        return all(o < i for o in self.objects(v))

    def adverb(self, i: int, h: int) -> str:
        """An adverb (or negation, interjection, stray conjunction)."""
        t = self.t
        if t.pos[h] == 'ADJ' and t.dep[h] == 'amod' and i < h:
            return 'ADVADJ'
        if self.nominal(h) and not self.is_clause(h):
            return 'APPOS' if i > h else 'ADJ'
        if not (t.pos[h] in _VERBAL or t.pos[h] == 'ADJ'):
            raise self.fail(i, f'{t.dep[i]} of {t.pos[h]}')
        v = self.clause_head(h)
        where = self.place(i, v)
        if where == 'pre':
            return 'ADVPRE'
        if where == 'mid' or h != v and i < h:
            return 'ADVVP'
        complement = [c for c in t.children[v] if c > i
                      and t.dep[c] in ('acomp', 'xcomp', 'ccomp')]
        if complement:
            return 'ADVPRE' if t.dep[complement[0]] == 'ccomp' else 'ADVVP'
        if self.after_arguments(i, v):
            return 'ADVS'
        raise self.fail(i, 'adverb before an object')

    def connector(self, i: int, v: int) -> str:
        """A subordinating word (``mark``) of the clause ``v``."""
        t = self.t
        if self.marked_after_object(v):
            return 'CONJS'
        if t.dep[v] in ('ccomp', 'ROOT'):
            return 'ADVPRE'
        if t.dep[v] == 'advcl':
            main = t.head[v]
            if v > main:
                return 'CONJS'
            if self.place(t.start(v), main) == 'pre':
                return 'SUBPRE'
        raise self.fail(i, f'subordinator of {t.dep[v]}')

    def coordinating_word(self, c: int) -> int | None:
        """The conjunction (else the comma) between conjunct ``c`` and
        its head that coordinates them."""
        t = self.t
        between = [k for k in range(t.head[c] + 1, c)
                   if t.dep[k] in ('cc', 'punct')
                   and t.head[k] in (t.head[c], c)]
        words = [k for k in between if t.dep[k] == 'cc'] or between
        return words[-1] if words else None

    def coordinator(self, c: int) -> tuple[int, str]:
        """The word coordinating conjunct ``c`` with its head, and its
        category."""
        t = self.t
        h = t.head[c]
        k = self.coordinating_word(c)
        if k is None:
            raise self.fail(c, 'conjunct without a coordinator')
        if self.is_clause(c) or t.pos[c] == 'ADJ' \
                and self.categories[c] == 'PRED':
            if self.categories[c] == 'PRED' or self.subject(c) is None:
                return k, 'CONJVP'
            return k, 'CONJS'
        if self.categories[h] == 'ADJ' and self.categories[c] == 'ADJ':
            return k, 'CONJA'
        if t.pos[c] in _NOMINAL or self.categories[c] in ('N', 'PRON'):
            return k, 'CONJN'
        raise self.fail(c, f'coordination of {t.pos[c]}')

    def run(self) -> "Conversion":
        t = self.t
        problems: list[Unsupported] = []
        coordinators: dict[int, int] = {}
        for c, dep in enumerate(t.dep):
            if dep == 'conj':
                k = self.coordinating_word(c)
                if k is not None:
                    coordinators[k] = c
        for i in range(self.n):
            if i not in coordinators:
                try:
                    self.categories[i] = self.category(i)
                except Unsupported as problem:
                    problems.append(problem)
        for k, c in coordinators.items():
            try:
                self.categories[k] = self.coordinator(c)[1]
            except Unsupported as problem:
                problems.append(problem)
        roots = [i for i, h in enumerate(t.head) if h == i]
        implicit = self.is_clause(roots[0]) \
            and self.subject(roots[0]) is None \
            and self.categories[roots[0]] not in ('QAUX', 'QCOP')
        if len(roots) > 1:
            problems.append(self.fail(roots[1], 'a second root'))
        return Conversion(self.categories, implicit, problems)


@dataclass
class Conversion:
    """The categories a tree gives its words (``None`` where the tree
    has a relation the conversion does not cover, see ``problems``) and
    whether the root clause takes the implicit subject."""
    categories: list[str | None]
    implicit: bool
    problems: list[Unsupported]

    @property
    def complete(self) -> bool:
        """Whether every word got a category."""
        return not self.problems and None not in self.categories


def tree_categories(tree: Tree) -> Conversion:
    """The category of each word of ``tree`` (``None`` for a word whose
    relation has no conversion; its :class:`Unsupported` problem names
    it) and whether the root clause lacks a subject (an imperative: it
    takes the implicit subject). Two common tagging errors are mended
    first (see :func:`_repair`).
    """
    _repair(tree)
    _flatten(tree)
    return _Converter(tree).run()


def search_types(options: Sequence[Sequence[str]], target: str | None = 's',
                 budget: int = SEARCH_BUDGET
                 ) -> tuple[list[str], list[tuple[int, int]]]:
    """A category per token, from its ``options`` (likeliest first), and
    the cups reducing their types to ``target`` (``'s'``, ``'n'`` or
    ``None`` for either), cups in the order the parser lists them.

    A depth-first search: options in order, adjacent adjoints cancelled
    before they are kept; a state (position, stack of types) seen before
    has failed already and is not searched again. Unlike the parser's
    beam search a right adjoint may wait on the stack (verb-phrase
    coordination needs it). Raises :class:`ParseError` when nothing
    reduces within ``budget`` steps.

    >>> search_types([['N', 'ADJ'], ['TV', 'N'], ['N']], 's')
    (['N', 'TV', 'N'], [(0, 1), (3, 4)])
    """
    atoms = {c: [(a.name, a.z) for a in CATEGORY_TYPES[c]]
             for choice in options for c in choice}
    targets = {('s', 0), ('n', 0)} if target is None else {(target, 0)}
    # later[k]: the atoms any option of a token after k may bring; an
    # atom is kept on the stack only if one of them could cancel it.
    later: list[set] = [set() for _ in range(len(options) + 1)]
    for k in range(len(options) - 1, -1, -1):
        later[k] = later[k + 1] | {a for c in options[k] for a in atoms[c]}
    seen: set[tuple] = set()
    # A frame: token, atom in its category, categories so far (the
    # current one last), stack types, stack wires, cups, next wire.
    frames: list[tuple] = [(0, 0, (), (), (), (), 0)]
    steps = 0
    while frames and steps < budget:
        frame = frames.pop()
        k, j, chosen, types, wires, cups, wire = frame
        steps += 1
        key = (k, j, len(chosen), chosen[-1:], types)
        if key in seen:
            continue
        seen.add(key)
        if j == 0 and len(chosen) == k:        # choose token k's category
            if k == len(options):
                if len(types) == 1 and types[0] in targets:
                    return list(chosen), list(cups)
                continue
            frames.extend((k, 0, chosen + (c,), types, wires, cups, wire)
                          for c in reversed(options[k]))
            continue
        category = chosen[-1]
        if j == len(atoms[category]):
            frames.append((k + 1, 0, chosen, types, wires, cups, wire))
            continue
        atom = atoms[category][j]
        base, z = atom
        above = (base, z + 1)
        if above in later[k + 1] or above in atoms[category][j + 1:] \
                or atom in targets and not types:
            frames.append((k, j + 1, chosen, types + (atom,),
                           wires + (wire,), cups, wire + 1))
        if types and types[-1] == (base, z - 1):
            frames.append((k, j + 1, chosen, types[:-1], wires[:-1],
                           cups + ((wires[-1], wire),), wire + 1))
    want = ' or '.join(sorted(b for b, _ in targets))
    words = ' '.join('/'.join(choice) for choice in options)
    raise ParseError(f"the types {words} do not reduce to {want}"
                     + (' within the search budget' if frames else ''))


def search_sentence_first(options: Sequence[Sequence[str]],
                          target: str | None, budget: int = SEARCH_BUDGET
                          ) -> tuple[list[str], list[tuple[int, int]]]:
    """:func:`search_types`, but with no ``target`` a reduction to ``s``
    wins over one to ``n`` (a sentence with a finite verb is a sentence).

    >>> search_types([['ADJ', 'N'], ['N', 'IV']], None)[0]
    ['ADJ', 'N']
    >>> search_sentence_first([['ADJ', 'N'], ['N', 'IV']], None)[0]
    ['N', 'IV']
    """
    if target is not None:
        return search_types(options, target, budget)
    try:
        return search_types(options, 's', budget)
    except ParseError:
        return search_types(options, 'n', budget)


def reduce_types(categories: Sequence[str], target: str | None = 's',
                 budget: int = SEARCH_BUDGET) -> list[tuple[int, int]]:
    """The cups reducing the fixed types of ``categories`` to ``target``
    (see :func:`search_types`).

    >>> reduce_types(['PRON', 'IV', 'CONJVP', 'IV'], 's')
    [(2, 3), (1, 4), (0, 5), (8, 9), (7, 10)]
    >>> reduce_types(['DET', 'DET'], 's')
    Traceback (most recent call last):
    ...
    qnlp.errors.ParseError: the types DET DET do not reduce to s
    """
    return search_types([[c] for c in categories], target, budget)[1]


#: Categories that modify a phrase and take no argument but its object:
#: what a word the tree left open may also be, beside spaCy's preferences.
MODIFIERS = ('ADJ', 'ADVS', 'ADVVP', 'ADVPRE', 'ADVADJ', 'PREPN', 'PREPS')


class DependencyParser(Parser):
    """A parser that reads categories off spaCy's dependency tree.

    Each sentence is parsed by spaCy (batched with ``nlp.pipe`` in
    :meth:`analyse_many`); :func:`tree_categories` gives one category per
    word and :func:`search_types` the cups, in stages that :attr:`counts`
    tallies:

    ``tree``
        the tree's categories reduce;
    ``partial``
        the tree left words open: they take spaCy's preferences or a
        modifier category (:data:`MODIFIERS`);
    ``open``
        (when those fail) every word may take spaCy's preferences after
        the tree's category;
    ``narrow``
        a beam search of width 16 over the four first of those, no word
        dropped;
    ``fallback``
        the beam search over :class:`~qnlp.parsing.spacy_tagger.
        SpacyTagger`'s preferences with widths ``fallback_widths`` (the
        tree's category first); with ``fallback_widths=()`` there is none
        and the sentence is a :class:`ParseError`.

    The beam searches are most of the time spent when they run, so the
    conversion aims at leaving them rare; ``counts`` also names the
    first uncovered relation of each sentence that reached ``fallback``.
    Other keyword arguments go to :class:`Parser`.
    """

    #: How many of spaCy's preferred categories an open word may take.
    open_options = 6
    #: Steps of :func:`search_types` in each stage before the next.
    search_budget = 1000

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
        return {**super().settings(), 'open_options': self.open_options,
                'search_budget': self.search_budget,
                'fallback_widths': widths}

    def analyse(self, sentence: str, target: str | None = None) -> Parse:
        """Parse one sentence (see :meth:`analyse_many`)."""
        result = self.analyse_many([sentence], target)[0]
        if isinstance(result, ParseError):
            raise result
        return result

    def _read_batch(self, batch: list[list[str]]) -> list[Any]:
        """spaCy's analyses of the whole batch, with ``nlp.pipe``."""
        return self.tagger.docs([[split_tag(t)[0] for t in tokens]
                                 for tokens in batch])

    def _analyse_reading(self, sentence: str, tokens: list[str],
                         target: str | None, doc: Any) -> Parse:
        """One sentence through the stages of the class docstring."""
        conversion = tree_categories(Tree.from_doc(doc))
        tagged = [split_tag(t)[1] for t in tokens]
        categories = [tag or c for tag, c in zip(tagged, conversion.categories)]
        implicit = conversion.implicit
        if None in categories:
            preferred = [[k for k, _ in p][:self.open_options]
                         for p in self.tagger.candidates(doc)]
            first = ('partial', [
                [c] if c is not None else
                list(dict.fromkeys([*options, *MODIFIERS]))
                for c, options in zip(categories, preferred)])
        else:
            first = ('tree', [[c] for c in categories])
        proposed = self.tagger.candidates(doc, categories)
        opened = ('open', [[k for k, _ in p][:self.open_options]
                           for p in proposed])
        for stage, options in (first, opened):
            if implicit:
                options = [['PRON']] + options
            try:
                chosen, cups = search_sentence_first(options, target,
                                                     self.search_budget)
            except ParseError:
                continue
            self.counts[stage] += 1
            words = ([IMPLICIT_SUBJECT] if implicit else []) \
                + [split_tag(t)[0] for t in tokens]
            kept = [i for i, c in enumerate(chosen) if c != 'SKIP']
            return Parse([words[i] for i in kept],
                         [chosen[i] for i in kept], cups)
        try:
            found = self._narrow._analyse_tokens(sentence, tokens, target,
                                                 proposed)
            self.counts['narrow'] += 1
            return found
        except ParseError as error:
            if self._fallback is None:
                self.counts['unparsed'] += 1
                raise
            failure = error
        self.counts['fallback'] += 1
        reason = (conversion.problems[0] if conversion.problems
                  else failure).message.split(':')[-1].strip()
        self.counts[f'fallback: {reason[:60]}'] += 1
        return self._fallback._analyse_tokens(sentence, tokens, target,
                                              proposed)
