"""Parse quality against gold dependency trees (CoNLL-U, e.g. UD English EWT).

A gold dependency tree fixes the DisCoCat type of one word of a sentence
of a known construction: the root verb of a plain declarative sentence is
``n.r @ s`` without an object and ``n.r @ s @ n.l`` with one. Each
construction of :data:`CONSTRUCTIONS` picks its sentences and that word;
:func:`score` parses the raw text of every picked sentence and reports the
share that parses to ``s``, the share whose scored word gets its gold
type, and sentences per second.

>>> sentence = read_conllu_text('''# text = She cooks a meal .
... 1\\tShe\\tshe\\tPRON\\tPRP\\t_\\t2\\tnsubj\\t_\\t_
... 2\\tcooks\\tcook\\tVERB\\tVBZ\\t_\\t0\\troot\\t_\\t_
... 3\\ta\\ta\\tDET\\tDT\\t_\\t4\\tdet\\t_\\t_
... 4\\tmeal\\tmeal\\tNOUN\\tNN\\t_\\t2\\tobj\\t_\\t_
... 5\\t.\\t.\\tPUNCT\\t.\\t_\\t2\\tpunct\\t_\\t_
... ''')[0]
>>> sentence.text, CONSTRUCTIONS['declarative'](sentence)
('She cooks a meal .', (1, 'n.r @ s @ n.l'))
>>> from qnlp.parsing import Parser
>>> report = score(Parser(), [sentence], 'declarative')
>>> report['parses_to_s'], report['gold_type']
(1.0, 1.0)
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from qnlp.errors import CorpusError, ParseError
from qnlp.parsing.dependency import SUBJECTS, Tree, tree_parse
from qnlp.parsing.parser import Parse, tokenise
from qnlp.parsing.types import CATEGORY_TYPES

#: Longest sentence (in gold tokens) the constructions take.
MAX_GOLD_TOKENS = 25


@dataclass
class GoldToken:
    """One word line of a CoNLL-U sentence (1-based ``head``, 0 = root)."""
    form: str
    upos: str
    head: int
    deprel: str
    xpos: str = ''


@dataclass
class GoldSentence:
    """The raw text and gold tokens of one CoNLL-U sentence."""
    text: str
    tokens: list[GoldToken] = field(default_factory=list)
    source: str = ''

    def children(self, index: int) -> list[int]:
        """Indices (0-based) of the dependents of token ``index``."""
        return [i for i, t in enumerate(self.tokens) if t.head == index + 1]

    def child_relations(self, index: int) -> Counter[str]:
        """How many dependents of token ``index`` carry each relation."""
        return Counter(self.tokens[i].deprel for i in self.children(index))

    @property
    def root(self) -> int:
        """Index (0-based) of the root token."""
        return next(i for i, t in enumerate(self.tokens) if t.head == 0)

    def relations(self) -> set[str]:
        """Every relation used anywhere in the sentence."""
        return {t.deprel for t in self.tokens}


def read_conllu_text(text: str, source: str = '<text>'
                     ) -> list[GoldSentence]:
    """Sentences of CoNLL-U ``text``; multiword-token and empty-node lines
    are skipped (their words have lines of their own)."""
    sentences: list[GoldSentence] = []
    current = GoldSentence('', source=source)
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip('\n')
        if not line.strip():
            if current.tokens:
                sentences.append(current)
            current = GoldSentence('', source=source)
        elif line.startswith('# text = '):
            current.text = line[len('# text = '):]
            current.source = f"{source}:{number}"
        elif not line.startswith('#'):
            columns = line.split('\t')
            if len(columns) != 10:
                raise CorpusError(f"{source}:{number}: expected 10 "
                                f"tab-separated CoNLL-U columns, got "
                                f"{len(columns)}")
            if '-' in columns[0] or '.' in columns[0]:
                continue
            current.tokens.append(GoldToken(columns[1], columns[3],
                                            int(columns[6]), columns[7],
                                            columns[4]))
    if current.tokens:
        sentences.append(current)
    return sentences


def read_conllu(path: str | Path) -> list[GoldSentence]:
    """Sentences of a CoNLL-U file."""
    path = Path(path)
    return read_conllu_text(path.read_text(encoding='utf-8'), str(path))


#: A construction picks a sentence's scored word and its gold type, or
#: ``None`` for a sentence not of that construction.
Construction = Callable[[GoldSentence], 'tuple[int, str] | None']

#: Relations that make a sentence more than a plain declarative one.
_NOT_PLAIN = {'ccomp', 'xcomp', 'csubj', 'conj', 'nsubj:pass', 'aux:pass',
              'iobj', 'parataxis', 'expl', 'cop'}


def _plain_except(sentence: GoldSentence, allowed: set[str]) -> bool:
    """Short, no SYM/X tokens and none of :data:`_NOT_PLAIN` but
    ``allowed``."""
    return (len(sentence.tokens) <= MAX_GOLD_TOKENS
            and not any(t.upos in ('SYM', 'X') for t in sentence.tokens)
            and not (sentence.relations() & (_NOT_PLAIN - allowed)))


def _root_verb(sentence: GoldSentence) -> tuple[int, Counter[str]] | None:
    root = sentence.root
    if sentence.tokens[root].upos != 'VERB':
        return None
    return root, sentence.child_relations(root)


def declarative(sentence: GoldSentence) -> tuple[int, str] | None:
    """Root verb with one subject and at most one object (the task of
    ``../shared/data/README.md``): ``n.r @ s`` or ``n.r @ s @ n.l``."""
    found = _root_verb(sentence)
    if found is None or not _plain_except(sentence, set()):
        return None
    root, relations = found
    if relations['nsubj'] != 1 or relations['obj'] > 1:
        return None
    return root, 'n.r @ s @ n.l' if relations['obj'] else 'n.r @ s'


def ditransitive(sentence: GoldSentence) -> tuple[int, str] | None:
    """Root verb with a subject, an indirect and a direct object
    (*John gave Mary a flower*): ``n.r @ s @ n.l @ n.l``."""
    found = _root_verb(sentence)
    if found is None or not _plain_except(sentence, {'iobj'}):
        return None
    root, relations = found
    if (relations['nsubj'], relations['iobj'], relations['obj']) != (1, 1, 1):
        return None
    return root, 'n.r @ s @ n.l @ n.l'


def passive(sentence: GoldSentence) -> tuple[int, str] | None:
    """Passive root verb (*the meal was cooked by the chef*): the
    participle is a verb phrase after the auxiliary, ``n.r @ s``."""
    found = _root_verb(sentence)
    if found is None or not _plain_except(sentence,
                                          {'nsubj:pass', 'aux:pass'}):
        return None
    root, relations = found
    if (relations['nsubj:pass'], relations['aux:pass']) != (1, 1) \
            or relations['obj'] or relations['nsubj']:
        return None
    return root, 'n.r @ s'


def clausal(sentence: GoldSentence) -> tuple[int, str] | None:
    """Root verb with a subject and a clausal complement, no object
    (*she thinks it works*): ``n.r @ s @ s.l``."""
    found = _root_verb(sentence)
    if found is None or not _plain_except(sentence, {'ccomp'}):
        return None
    root, relations = found
    if relations['nsubj'] != 1 or relations['ccomp'] != 1 \
            or relations['obj']:
        return None
    return root, 'n.r @ s @ s.l'


def copula(sentence: GoldSentence) -> tuple[int, str] | None:
    """Copula with a subject: the copula of an adjective takes a verb
    phrase, ``n.r @ s @ s.l @ n`` (*the meal is tasty*); of a noun, a
    noun phrase, ``n.r @ s @ n.l`` (*she is a cook*)."""
    root = sentence.root
    predicate = sentence.tokens[root].upos
    if predicate not in ('ADJ', 'NOUN') or not _plain_except(sentence,
                                                             {'cop'}):
        return None
    relations = sentence.child_relations(root)
    if relations['nsubj'] != 1 or relations['cop'] != 1:
        return None
    copula_index = next(i for i in sentence.children(root)
                        if sentence.tokens[i].deprel == 'cop')
    return copula_index, ('n.r @ s @ s.l @ n' if predicate == 'ADJ'
                          else 'n.r @ s @ n.l')


def coordination(sentence: GoldSentence) -> tuple[int, str] | None:
    """Two verb phrases sharing a subject (*she sings and dances*): the
    first verb keeps its own type, ``n.r @ s`` or ``n.r @ s @ n.l``."""
    found = _root_verb(sentence)
    if found is None or not _plain_except(sentence, {'conj'}):
        return None
    root, relations = found
    if relations['nsubj'] != 1 or relations['obj'] > 1 \
            or relations['conj'] != 1:
        return None
    second = next(i for i in sentence.children(root)
                  if sentence.tokens[i].deprel == 'conj')
    if sentence.tokens[second].upos != 'VERB' \
            or sentence.child_relations(second)['nsubj']:
        return None
    return root, 'n.r @ s @ n.l' if relations['obj'] else 'n.r @ s'


#: Every scored construction by name.
CONSTRUCTIONS: dict[str, Construction] = {
    'declarative': declarative, 'ditransitive': ditransitive,
    'passive': passive, 'clausal': clausal, 'copula': copula,
    'coordination': coordination}


def select(sentences: Sequence[GoldSentence], construction: str
           ) -> list[tuple[GoldSentence, int, str]]:
    """The sentences of ``construction`` with their scored word and type."""
    pick = CONSTRUCTIONS[construction]
    return [(sentence, *found) for sentence in sentences
            if (found := pick(sentence)) is not None]


#: UD relations under the names spaCy's English pipelines give them
#: (ClearNLP labels, as :mod:`qnlp.parsing.dependency` reads them); a
#: relation not listed keeps its UD name (the construction reads a name
#: it does not know as a modifier).
SPACY_LABELS = {
    'root': 'ROOT', 'obj': 'dobj', 'iobj': 'dative',
    'nsubj:pass': 'nsubjpass', 'nsubj:outer': 'nsubj',
    'csubj:pass': 'csubjpass', 'aux:pass': 'auxpass', 'nmod:poss': 'poss',
    'compound:prt': 'prt', 'acl:relcl': 'relcl', 'advcl:relcl': 'advcl',
    'det:predet': 'predet', 'cc:preconj': 'preconj', 'discourse': 'intj',
    'vocative': 'npadvmod', 'obl:tmod': 'npadvmod', 'obl:npmod': 'npadvmod',
    'obl:unmarked': 'npadvmod', 'nmod:tmod': 'npadvmod',
    'nmod:npmod': 'npadvmod', 'nmod:unmarked': 'npadvmod',
    'nmod:desc': 'compound', 'flat': 'compound', 'obl:agent': 'agent',
    'list': 'dep', 'goeswith': 'dep', 'reparandum': 'dep', 'orphan': 'dep',
    'dislocated': 'dep', 'fixed': 'dep'}

#: Dependents of a copula's predicate that belong to the clause: in
#: spaCy's trees they hang from the copula.
_CLAUSE_LEVEL = SUBJECTS | {'aux', 'auxpass', 'neg', 'mark', 'punct', 'advcl',
                            'parataxis', 'intj', 'ccomp'}


def spacy_tree(sentence: GoldSentence) -> Tree:
    """The gold tree of ``sentence`` as spaCy's English pipelines draw
    one (a :class:`~qnlp.parsing.dependency.Tree`), so the dependency
    construction can run on gold trees in place of spaCy's: labels
    renamed (:data:`SPACY_LABELS`, infinitival *to* ``aux``, *not*
    ``neg``); a preposition heads its noun (UD's ``obl``/``nmod`` with a
    ``case`` preposition: the preposition ``prep`` (``agent`` for *by*
    of a passive), the noun its ``pobj``); a copula heads its clause (UD's
    predicate head: the copula takes the predicate's place, the
    predicate becomes its ``attr`` (a noun) or ``acomp``, a preposition of
    the predicate its ``prep``, and the subject, auxiliaries and the
    predicate's other clause-level dependents move to the copula).

    >>> sentence = read_conllu_text('''# text = the meal is in the oven
    ... 1\\tthe\\tthe\\tDET\\tDT\\t_\\t2\\tdet\\t_\\t_
    ... 2\\tmeal\\tmeal\\tNOUN\\tNN\\t_\\t6\\tnsubj\\t_\\t_
    ... 3\\tis\\tbe\\tAUX\\tVBZ\\t_\\t6\\tcop\\t_\\t_
    ... 4\\tin\\tin\\tADP\\tIN\\t_\\t6\\tcase\\t_\\t_
    ... 5\\tthe\\tthe\\tDET\\tDT\\t_\\t6\\tdet\\t_\\t_
    ... 6\\toven\\toven\\tNOUN\\tNN\\t_\\t0\\troot\\t_\\t_
    ... ''')[0]
    >>> tree = spacy_tree(sentence)
    >>> list(zip(tree.words, tree.dep, tree.head))
    ... # doctest: +NORMALIZE_WHITESPACE
    [('the', 'det', 1), ('meal', 'nsubj', 2), ('is', 'ROOT', 2),
     ('in', 'prep', 2), ('the', 'det', 5), ('oven', 'pobj', 3)]
    """
    tokens = sentence.tokens
    head = [t.head - 1 if t.head else i for i, t in enumerate(tokens)]
    dep = [SPACY_LABELS.get(t.deprel, t.deprel) for t in tokens]
    for i, t in enumerate(tokens):
        if t.deprel == 'mark' and t.xpos == 'TO':
            dep[i] = 'aux'
        elif t.deprel == 'advmod' and t.form.lower() in ('not', "n't"):
            dep[i] = 'neg'

    def children(i: int) -> list[int]:
        return [c for c in range(len(tokens)) if head[c] == i and c != i]

    def preposition(i: int) -> int | None:
        return next((c for c in children(i) if dep[c] == 'case'
                     and tokens[c].upos == 'ADP'), None)

    def take_place(new: int, old: int, relation: str) -> None:
        """``new`` takes ``old``'s place; ``old`` hangs from it."""
        head[new], dep[new] = (new, 'ROOT') if head[old] == old \
            else (head[old], dep[old])
        head[old], dep[old] = new, relation

    for i, t in enumerate(tokens):
        k = preposition(i)
        if k is not None and t.deprel.split(':')[0] in ('obl', 'nmod') \
                and t.deprel != 'nmod:poss':
            take_place(k, i, 'pobj')
            dep[k] = 'agent' if t.deprel == 'obl:agent' else 'prep'
    for p in range(len(tokens)):
        copula = max((c for c in children(p) if dep[c] == 'cop'),
                     default=None)
        if copula is None:
            continue
        moved = [c for c in children(p) if c != copula and (
            c < copula or dep[c] in _CLAUSE_LEVEL)]
        nominal = tokens[p].upos in ('NOUN', 'PROPN', 'PRON', 'NUM')
        take_place(copula, p, 'attr' if nominal else 'acomp')
        for c in moved + [c for c in children(p) if dep[c] == 'cop']:
            head[c] = copula
        k = preposition(p)
        if k is not None:
            take_place(k, p, 'pobj')
            dep[k] = 'prep'
    return Tree([t.form for t in tokens], [t.upos for t in tokens], dep,
                head, [t.xpos for t in tokens])


def spacy_doc(sentence: GoldSentence, vocab: Any,
              as_tokenised: bool = False) -> Any:
    """The gold tree of ``sentence`` as a spaCy ``Doc`` with spaCy's
    labels and heads (:func:`spacy_tree`), the gold XPOS as ``tag_`` and
    UPOS as ``pos_``: a reference for ``spacy.training.Example`` (to
    train or score a spaCy pipeline on gold trees). Spaces come from the
    sentence's text; with ``as_tokenised`` the ``Doc`` is the one qnlp's
    spaCy tagger would be given: the punctuation :func:`tokenise` drops
    is dropped (a dependent of a dropped mark hangs from the mark's
    head) and every word is followed by a space.

    >>> import spacy
    >>> sentence = read_conllu_text('''# text = She cooks, yes.
    ... 1\\tShe\\tshe\\tPRON\\tPRP\\t_\\t2\\tnsubj\\t_\\t_
    ... 2\\tcooks\\tcook\\tVERB\\tVBZ\\t_\\t0\\troot\\t_\\t_
    ... 3\\t,\\t,\\tPUNCT\\t,\\t_\\t4\\tpunct\\t_\\t_
    ... 4\\tyes\\tyes\\tINTJ\\tUH\\t_\\t2\\tdiscourse\\t_\\t_
    ... 5\\t.\\t.\\tPUNCT\\t.\\t_\\t2\\tpunct\\t_\\t_
    ... ''')[0]
    >>> doc = spacy_doc(sentence, spacy.blank('en').vocab)
    >>> doc.text, [(t.tag_, t.dep_, t.head.i) for t in doc]
    ... # doctest: +NORMALIZE_WHITESPACE
    ('She cooks, yes.', [('PRP', 'nsubj', 1), ('VBZ', 'ROOT', 1),
     (',', 'punct', 3), ('UH', 'intj', 1), ('.', 'punct', 1)])
    >>> [t.text for t in spacy_doc(sentence, spacy.blank('en').vocab, True)]
    ['She', 'cooks', ',', 'yes']
    """
    from spacy.tokens import Doc
    tree = spacy_tree(sentence)
    tokens = sentence.tokens
    root = sentence.root
    kept = [i for i, t in enumerate(tokens)
            if not as_tokenised or i == root or tokenise(t.form)]
    place = {i: n for n, i in enumerate(kept)}

    def kept_head(i: int) -> int:
        while tree.head[i] != i and i not in place:
            i = tree.head[i]
        return place[i]

    heads = [kept_head(tree.head[i]) for i in kept]
    if as_tokenised:
        spaces = [True] * len(kept)
    else:
        spaces, end = [], 0
        for t in tokens:
            start = sentence.text.find(t.form, end)
            end = end if start < 0 else start + len(t.form)
            spaces.append(start < 0 or sentence.text[end:end + 1].isspace())
    upos = [tokens[i].upos for i in kept]
    return Doc(vocab, words=[tokens[i].form for i in kept], spaces=spaces,
               tags=[tokens[i].xpos or None for i in kept],
               pos=upos if all(p not in ('', '_') for p in upos) else None,
               heads=heads, deps=[tree.dep[i] for i in kept])


class GoldTrees:
    """The dependency construction run on the gold trees in place of
    spaCy's (:func:`spacy_tree`, then
    :func:`~qnlp.parsing.dependency.tree_parse`): what the conversion
    alone scores when the tree is right. A parser for :func:`score`.

    >>> sentence = read_conllu_text('''# text = Now comes the fun part
    ... 1\\tNow\\tnow\\tADV\\tRB\\t_\\t2\\tadvmod\\t_\\t_
    ... 2\\tcomes\\tcome\\tVERB\\tVBZ\\t_\\t0\\troot\\t_\\t_
    ... 3\\tthe\\tthe\\tDET\\tDT\\t_\\t5\\tdet\\t_\\t_
    ... 4\\tfun\\tfun\\tADJ\\tJJ\\t_\\t5\\tamod\\t_\\t_
    ... 5\\tpart\\tpart\\tNOUN\\tNN\\t_\\t2\\tnsubj\\t_\\t_
    ... ''')
    >>> score(GoldTrees(), sentence, 'declarative')['gold_type']
    0.0
    >>> word_type(GoldTrees().analyse_gold(sentence[0], 's'), sentence[0], 1)
    's @ n.l'

    A subject after its verb (locative inversion) cannot cancel the
    ``n.r`` of the gold ``n.r @ s``: no planar parse gives the gold type.
    """

    def analyse_gold(self, sentence: GoldSentence, target: str | None
                     ) -> Parse | ParseError:
        """The construction's parse of the gold tree, or its error."""
        try:
            return tree_parse(spacy_tree(sentence), target)
        except ParseError as error:
            return error


def word_type(analysis, sentence: GoldSentence, index: int) -> str | None:
    """The type a parse gave gold token ``index``: found as the same
    occurrence of the same (lower-cased) word form, ``None`` if the parse
    has no such word (tokenised differently)."""
    form = sentence.tokens[index].form.lower()
    occurrence = sum(t.form.lower() == form
                     for t in sentence.tokens[:index])
    seen = 0
    for word, category in zip(analysis.words, analysis.categories):
        if word == form:
            if seen == occurrence:
                return str(CATEGORY_TYPES[category])
            seen += 1
    return None


def score(parser, sentences: Sequence[GoldSentence], construction: str,
          target: str | None = 's') -> dict[str, float | int | str]:
    """Parse the raw text of the ``construction`` sentences with
    ``parser`` (one :meth:`~qnlp.parsing.Parser.analyse_many` batch; a
    :class:`GoldTrees` converts their gold trees instead) and score them: ``parses_to_s`` and ``gold_type`` shares, ``unaligned``
    (scored word not found in the parse), ``sentences_per_second``."""
    picked = select(sentences, construction)
    if not picked:
        raise ParseError(f"no sentence of construction {construction!r}")
    start = time.perf_counter()
    if isinstance(parser, GoldTrees):
        results = [parser.analyse_gold(s, target) for s, _, _ in picked]
    else:
        results = parser.analyse_many([s.text for s, _, _ in picked], target)
    seconds = time.perf_counter() - start
    parsed = right = unaligned = 0
    for (sentence, index, gold), result in zip(picked, results):
        if isinstance(result, ParseError):
            continue
        parsed += str(result.diagram.cod) == 's'
        given = word_type(result, sentence, index)
        unaligned += given is None
        right += given == gold
    total = len(picked)
    return {'construction': construction, 'sentences': total,
            'parses_to_s': round(parsed / total, 4),
            'gold_type': round(right / total, 4),
            'unaligned': unaligned,
            'sentences_per_second': round(total / seconds, 1)}
