"""The lexicon tagger: bundled function words and verbs, suffix heuristics.

:meth:`LexiconTagger.candidates` lists the categories a token may take,
each with a cost (lower is likelier). The parser searches for the
cheapest assignment whose types reduce, so position is decided by the
grammar itself: in *fresh chef roasts bread* only ``fresh`` = ADJ reduces.

Open-class words get every open category, priced by hints: the bundled
list of common verbs (``data/verbs.txt``, with inflections), suffixes
(``-ful`` adjective, ``-ly`` adverb, ``-tion`` noun, ``-s`` third person
verb, ...). A user lexicon (``word CATEGORY...`` lines) overrides both.

>>> tagger = LexiconTagger()
>>> tagger.candidates('that')[0]
('RELS', 0.0)
>>> [min(tagger.candidates(w), key=lambda c: c[1])[0]
...  for w in ('skillful', 'establish', 'quickly', 'church')]
['ADJ', 'TV', 'ADVVP', 'N']
"""
from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Sequence

from qnlp.errors import CorpusError
from qnlp.parsing.types import CATEGORY_TYPES

_PREPOSITION = ('PREPN', 'PREPS', 'PREPPRE')
_CONJUNCTION = ('CONJS', 'CONJN', 'CONJA')
_ADVERB = ('ADVVP', 'ADVS', 'ADVADJ', 'ADVPRE', 'ADJ')


def _entries(categories: tuple[str, ...], words: str) -> dict:
    return {word: categories for word in words.split()}


FUNCTION_WORDS: dict[str, tuple[str, ...]] = {
    **_entries(('DET',), 'a an the every no my your his its our their '
               'such whose'),
    **_entries(('DET', 'PRON'), 'each some any another either neither '
               'several all both much many few most none'),
    **_entries(('PRON',), 'i you he she it we they me him us them myself '
               'yourself himself herself itself ourselves themselves one '
               'someone something everyone everything anyone anything '
               'nobody nothing somebody everybody there what'),
    **_entries(('DET', 'PRON'), 'this these those her'),
    **_entries(('RELS', 'RELO'), 'which who whom'),
    **_entries(('VPC', 'TV', 'QCOP', 'QAUX'), "is are was were am"),
    **_entries(('VPC', 'TV'), "be been being 's 're 'm 've 'd"),
    **_entries(('VPC', 'TV', 'QAUX'), "have has had"),
    **_entries(('VPC', 'QAUX'), "do does did can could will would shall "
               "should may might must"),
    **_entries(('VPC',), "'ll wo ca to"),
    **_entries(('ADVVP', 'ADVADJ', 'ADVS'), "not n't never"),
    **_entries(_PREPOSITION + ('ADVS',), 'in on at by for with about from into '
               'through over under between without within against among '
               'after before during like than as across behind beyond '
               'toward towards upon around near despite onto off out up '
               'down along throughout via per away back past'),
    **_entries(('PREPN', 'PREPS', 'PREPPRE'), 'of'),
    **_entries(_CONJUNCTION + ('ADVPRE',), 'and or but nor yet'),
    **_entries(('CONJS', 'SUBPRE'), 'because although though while when '
               'if unless whereas since until once whether where'),
    **_entries(_ADVERB, 'very too so quite rather really just also only '
               'even still already almost always often sometimes here now '
               'then well more less least enough ever again however '
               'perhaps maybe how why instead'),
}
# Words with more than one role; the search decides between them.
FUNCTION_WORDS['that'] = ('RELS', 'RELO', 'DET', 'PRON', 'ADVPRE')
FUNCTION_WORDS["'s"] = ('POSS', 'VPC', 'TV')
FUNCTION_WORDS['to'] = ('VPC', 'PREPN', 'PREPS')
FUNCTION_WORDS['as'] = _PREPOSITION + ('CONJS',)
FUNCTION_WORDS['so'] = _ADVERB + ('CONJS',)
for _mark in (',', ';', ':', '--'):
    FUNCTION_WORDS[_mark] = ('SKIP',) + _CONJUNCTION

ADJECTIVE_SUFFIXES = ('ful', 'ous', 'ive', 'able', 'ible', 'ic', 'less',
                      'ish', 'ary', 'al', 'y', 'est')
NOUN_SUFFIXES = ('tion', 'sion', 'ment', 'ness', 'ity', 'ist', 'ism',
                 'ance', 'ence', 'ship', 'ware')
VERB_SUFFIXES = ('ize', 'ise', 'ify', 'ate')

#: Cost of each open category for a word with no hint at all.
_BASE_COST = {'N': 0.0, 'ADJ': 1.0, 'TV': 1.5, 'IV': 1.8, 'PRED': 2.0,
              'DTV': 3.5, 'VPC': 3.0, 'SV': 3.0, 'ADVVP': 3.5, 'ADVS': 3.5,
              'ADVADJ': 3.5}
#: Categories that cost more for words that do not look like verbs.
_VERB_ONLY = ('DTV', 'VPC', 'SV')


@lru_cache(maxsize=1)
def bundled_verbs() -> frozenset[str]:
    """Base forms of the common verbs in ``data/verbs.txt``."""
    text = files('qnlp.parsing').joinpath('data/verbs.txt').read_text(
        encoding='utf-8')
    return frozenset(word for line in text.splitlines()
                     if not line.startswith('#') for word in line.split())


def verb_base(word: str, verbs: frozenset[str]) -> str | None:
    """The listed base form ``word`` inflects, if any.

    >>> verb_base('carries', bundled_verbs()), verb_base('stopped', bundled_verbs())
    ('carry', 'stop')
    """
    if word in verbs:
        return word
    guesses = []
    if word.endswith('ies'):
        guesses.append(word[:-3] + 'y')
    if word.endswith('es'):
        guesses.append(word[:-2])
    if word.endswith('s'):
        guesses.append(word[:-1])
    for suffix in ('ed', 'ing'):
        if word.endswith(suffix):
            stem = word[:-len(suffix)]
            guesses += [stem, stem + 'e']
            if len(stem) > 2 and stem[-1] == stem[-2]:
                guesses.append(stem[:-1])
            if suffix == 'ed' and stem.endswith('i'):
                guesses.append(stem[:-1] + 'y')
    return next((g for g in guesses if g in verbs), None)


def _third_person(word: str) -> bool:
    return (len(word) > 3 and word.endswith('s')
            and not word.endswith(('ss', 'us', 'is', 'ous')))


class LexiconTagger:
    """Tags tokens from bundled lexicons, a user lexicon and suffixes.

    Parameters
    ----------
    user_lexicon:
        Extra ``word -> categories`` entries that override the bundled
        ones, or a path to a file of ``word CATEGORY [CATEGORY ...]`` lines.
    """

    def __init__(self, user_lexicon: dict[str, tuple[str, ...]] | str
                 | Path | None = None) -> None:
        self.lexicon: dict[str, tuple[str, ...]] = dict(FUNCTION_WORDS)
        if isinstance(user_lexicon, (str, Path)):
            user_lexicon = load_lexicon(user_lexicon)
        self.lexicon.update(user_lexicon or {})
        self.verbs = bundled_verbs()
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def tag(self, tokens: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Candidates for every token of a sentence."""
        return [self.candidates(token) for token in tokens]

    def candidates(self, token: str) -> list[tuple[str, float]]:
        """Categories ``token`` may take, with costs (lower is likelier)."""
        word = token.lower()
        cached = self._cache.get(word)
        if cached is None:
            cached = self._cache[word] = self._score(word)
        return cached

    def _score(self, word: str) -> list[tuple[str, float]]:
        if word in self.lexicon:
            return [(cat, 0.3 * rank)
                    for rank, cat in enumerate(self.lexicon[word])]
        cost = dict(_BASE_COST)
        verb = verb_base(word, self.verbs)
        looks_like_verb = verb is not None or word.endswith(VERB_SUFFIXES)
        if looks_like_verb:
            for category in ('TV', 'IV', 'DTV', 'VPC', 'SV'):
                cost[category] -= 1.0
            cost['N'] += 0.6
        if word.endswith(('ing', 'ed')) and looks_like_verb:
            cost['ADJ'] -= 0.5
            cost['PRED'] -= 0.5
        adverb = word.endswith('ly') and len(word) > 4
        if word.endswith(ADJECTIVE_SUFFIXES) and not (looks_like_verb
                                                      or adverb):
            cost['ADJ'] -= 0.8
            cost['PRED'] -= 0.8
            cost['N'] += 0.5
        if word.endswith(NOUN_SUFFIXES) and not looks_like_verb:
            cost['N'] -= 0.2
            cost['ADJ'] += 0.5
        if _third_person(word) and verb is None:
            cost['TV'] -= 0.4
            cost['IV'] -= 0.4
            cost['N'] += 0.4
        if adverb:
            for category in ('ADVVP', 'ADVS', 'ADVADJ'):
                cost[category] -= 3.0
            cost['N'] += 1.0
        if not looks_like_verb:
            for category in _VERB_ONLY:
                cost[category] += 2.0
        return sorted(cost.items(), key=lambda item: item[1])


def load_lexicon(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read ``word CATEGORY [CATEGORY ...]`` lines (``#`` starts a comment)."""
    lexicon: dict[str, tuple[str, ...]] = {}
    try:
        text = Path(path).read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusError(f"cannot read lexicon ({error})", str(path)) \
            from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        word, *categories = line.split()
        unknown = [c for c in categories if c not in CATEGORY_TYPES]
        if not categories or unknown:
            raise CorpusError(f"expected 'word CATEGORY...', categories from "
                              f"{sorted(CATEGORY_TYPES)}; got {line!r}",
                              str(path), number)
        lexicon[word.lower()] = tuple(categories)
    return lexicon
