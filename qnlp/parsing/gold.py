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
from typing import Callable, Sequence

from qnlp.errors import CorpusError, ParseError
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
                                            int(columns[6]), columns[7]))
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
    ``parser`` (one :meth:`~qnlp.parsing.Parser.analyse_many` batch) and
    score them: ``parses_to_s`` and ``gold_type`` shares, ``unaligned``
    (scored word not found in the parse), ``sentences_per_second``."""
    picked = select(sentences, construction)
    if not picked:
        raise ParseError(f"no sentence of construction {construction!r}")
    start = time.perf_counter()
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
