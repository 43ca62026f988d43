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

import math
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple, Sequence

from qnlp.errors import CorpusError
from qnlp.parsing.types import CATEGORY_TYPES

_PREPOSITION = ('PREPN', 'PREPS', 'PREPPRE')
_ARTICLES = frozenset(('a', 'an', 'the'))
_CONJUNCTION = ('CONJS', 'CONJN', 'CONJA')
_ADVERB = ('ADVVP', 'ADVS', 'ADVADJ', 'ADVPRE', 'ADJ')


#: A lexicon entry: its readings, likeliest first, each a category or a
#: ``(category, extra cost)`` pair for a reading rarer than its place says.
Entry = tuple[str | tuple[str, float], ...]
#: What each place down an entry adds to a reading's cost.
_RANK_COST = 0.3


def _entries(categories: Entry, words: str) -> dict:
    return {word: categories for word in words.split()}


def _readings(entry: Entry) -> list[tuple[str, float]]:
    """The ``(category, cost)`` readings of a lexicon entry: each costs
    :data:`_RANK_COST` a place, plus its own extra cost if the entry
    gives one: a reading's one price.

    >>> _readings(('VPC', 'QAUX', ('TV', 1.5)))
    [('VPC', 0.0), ('QAUX', 0.3), ('TV', 2.1)]
    """
    return [(item, _RANK_COST * rank) if isinstance(item, str)
            else (item[0], _RANK_COST * rank + item[1])
            for rank, item in enumerate(entry)]


#: *do* as a main verb (*they did a great job*, *I do*) is rarer than the
#: auxiliary: its TV and IV readings cost this much more than their place.
_MAIN_DO = 1.5

FUNCTION_WORDS: dict[str, Entry] = {
    **_entries(('DET',), 'a an the every no my your his its our their '
               'such whose'),
    **_entries(('DET', 'PRON'), 'some any another either neither '
               'several much many few most none'),
    # floating quantifiers modify the verb phrase (*you 've all won*)
    **_entries(('DET', 'PRON', 'ADVVP'), 'each all both'),
    **_entries(('PRON',), 'i you he she it we they me him us them myself '
               'yourself himself herself itself ourselves themselves '
               'someone something everyone everything anyone anything '
               'nobody nothing somebody everybody'),
    'there': ('PRON', 'ADVS'),
    'one': ('PRON', 'DET'),
    **_entries(('DET', 'PRON'), 'this these those her'),
    'which': ('RELS', 'RELO', 'QDET'),
    'who': ('RELS', 'RELO', 'QSUBJ'),
    'whom': ('RELO', 'QOBJ'),
    'what': ('PRON', 'QOBJ', 'QSUBJ', 'DET', 'QDET'),
    **_entries(('VPC', 'TV', 'QCOP', 'QAUX'), "is are was were am"),
    **_entries(('VPC', 'TV'), "be been being 's 're 'm 've 'd"),
    **_entries(('VPC', 'TV', 'QAUX'), "have has had"),
    **_entries(('VPC', 'QAUX', ('TV', _MAIN_DO), ('IV', _MAIN_DO)),
               "do does did"),
    **_entries(('VPC', 'QAUX'), "can could will would shall should may "
               "might must"),
    **_entries(('VPC',), "'ll wo ca to"),
    **_entries(('ADVVP', 'ADVADJ', 'ADVS'), "not n't never"),
    **_entries(_PREPOSITION + ('ADVS',), 'in on at by for with about from into '
               'through over under between without within against among '
               'after before during like than as across behind beyond '
               'toward towards upon around near despite onto off out up '
               'down along throughout via per away back past'),
    **_entries(('PREPN', 'PREPS', 'PREPPRE'), 'of'),
    **_entries(('CONJS', 'CONJVP', 'CONJN', 'CONJA', 'ADVPRE'),
               'and or but nor yet'),
    **_entries(('CONJS', 'SUBPRE'), 'because although though '
               'if unless whereas since until once whether'),
    'while': ('CONJS', 'SUBPRE', 'N'),
    **_entries(('CONJS', 'SUBPRE', 'ADVPRE'), 'when where'),
    **_entries(_ADVERB, 'very too so quite rather really just also only '
               'even still already almost always often sometimes here now '
               'then well more less least enough ever again however '
               'perhaps maybe how why instead'),
}
# Words with more than one role; the search decides between them.
FUNCTION_WORDS['that'] = ('RELS', 'RELO', 'DET', 'PRON', 'ADVPRE')
FUNCTION_WORDS["'s"] = ('POSS', 'VPC', 'TV')
FUNCTION_WORDS['to'] = ('VPC', 'PREPN', 'PREPS', 'INFS', 'INFN')
FUNCTION_WORDS['like'] = ('TV', 'PREPN', 'PREPS', 'PREPPRE', 'IV')
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


#: Parts of speech of the WordNet table, and the verb frame classes.
_POS = ('n', 'v', 'a', 'r')
_FRAMES = ('IV', 'TV', 'DTV', 'SV', 'VPC')


class WordNetTable(NamedTuple):
    """The bundled ``data/wordnet.txt`` (see ``data/README``).

    ``lemmas`` maps a lemma to its sense-tagged counts per part of speech
    (``n v a r``, ``-1`` where the lemma has no such sense) and its verb
    weights per frame class (:data:`_FRAMES`); ``irregular`` maps an
    irregular form to ``(lemma, pos)`` pairs (*went* -> *go*, ``v``).
    """
    lemmas: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    irregular: dict[str, list[tuple[str, str]]]


@lru_cache(maxsize=1)
def wordnet_table() -> WordNetTable:
    """The bundled WordNet table, read once.

    >>> table = wordnet_table()
    >>> table.lemmas['give'][0][1] > 100, ('go', 'v') in table.irregular['went']
    (True, True)
    """
    text = files('qnlp.parsing').joinpath('data/wordnet.txt').read_text(
        encoding='utf-8')
    lemmas, irregular = {}, {}
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        fields = line.split()
        if fields[0].startswith('='):
            irregular.setdefault(fields[0][1:], []).append(
                (fields[1], fields[2]))
        else:
            numbers = tuple(map(int, fields[1:]))
            lemmas[fields[0]] = (numbers[:4], numbers[4:])
    return WordNetTable(lemmas, irregular)


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


def _stems(word: str) -> list[tuple[str, str]]:
    """Possible ``(stem, inflection)`` pairs of ``word`` by regular
    English inflection: ``s`` (plural or third person), ``ed``, ``ing``,
    ``er``/``est`` (comparison), and ``word`` itself as ``''``.

    >>> _stems('stopped')[:3]
    [('stopped', ''), ('stopp', 'ed'), ('stoppe', 'ed')]
    """
    found = [(word, '')]
    if word.endswith('ies'):
        found.append((word[:-3] + 'y', 's'))
    if word.endswith('es'):
        found.append((word[:-2], 's'))
    if word.endswith('s') and not word.endswith('ss'):
        found.append((word[:-1], 's'))
    for suffix in ('ed', 'ing', 'er', 'est'):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            stem = word[:-len(suffix)]
            found += [(stem, suffix), (stem + 'e', suffix)]
            if stem[-1] == stem[-2]:
                found.append((stem[:-1], suffix))
            if stem.endswith('i'):
                found.append((stem[:-1] + 'y', suffix))
    return found


#: Which inflections each part of speech takes.
_INFLECTS = {'n': ('', 's'), 'v': ('', 's', 'ed', 'ing'), 'a': ('', 'er', 'est'),
             'r': ('',)}


def wordnet_readings(word: str, table: WordNetTable | None = None
                     ) -> dict[str, tuple[str, str, int]]:
    """The WordNet readings of ``word``: part of speech -> ``(lemma,
    inflection, count)``, the most frequent lemma for each.

    >>> readings = wordnet_readings('gave')
    >>> readings['v'][:2]
    ('give', 'ed')
    >>> sorted(wordnet_readings('dances'))
    ['n', 'v']
    """
    table = table or wordnet_table()
    found: dict[str, tuple[str, str, int]] = {}

    def note(pos: str, lemma: str, inflection: str) -> None:
        entry = table.lemmas.get(lemma)
        if entry is None or entry[0][_POS.index(pos)] < 0:
            return
        count = entry[0][_POS.index(pos)]
        if pos not in found or count > found[pos][2]:
            found[pos] = (lemma, inflection, count)

    for stem, inflection in _stems(word):
        for pos in _POS:
            if inflection in _INFLECTS[pos]:
                note(pos, stem, inflection)
    for lemma, pos in table.irregular.get(word, ()):
        note(pos, lemma, {'n': 's', 'v': 'ed', 'a': 'er'}.get(pos, ''))
    return found


def _nats(weight: float, total: float) -> float:
    """``-ln(weight / total)``: the cost of a share."""
    return -math.log(weight / total)


def _wordnet_costs(word: str, readings: dict[str, tuple[str, str, int]]
                   ) -> dict[str, float]:
    """Category costs from WordNet readings: each part of speech costs
    the negative log of its share of the sense-tagged counts (plus one),
    verbs split further by the shares of their frames; participles may be
    adjectives (and ``-ed`` ones passive verb phrases, ``n.r s``)."""
    weight = {pos: count + 1.0 for pos, (_, _, count) in readings.items()}
    if 'v' in readings:
        inflection = readings['v'][1]
        if inflection in ('ed', 'ing'):
            weight['a'] = max(weight.get('a', 0), weight['v'] / 6)
            if 'n' in weight:   # participles outnumber gerund nouns
                weight['n'] /= 4 if inflection == 'ing' else 100
        if inflection == 's' and 'n' in weight and readings['n'][1] == 's':
            weight['n'] *= 1.5   # plural nouns outnumber third persons
    total = sum(weight.values())
    cost: dict[str, float] = {}
    if 'n' in weight:
        cost['N'] = _nats(weight['n'], total)
    if 'a' in weight:
        cost['ADJ'] = _nats(weight['a'], total)
        cost['PRED'] = cost['ADJ'] + 0.5
    if 'r' in weight:
        base = _nats(weight['r'], total)
        for extra, category in enumerate(('ADVVP', 'ADVS', 'ADVADJ',
                                          'ADVPRE')):
            cost[category] = base + 0.4 * extra
    if 'v' in weight:
        lemma, inflection, _ = readings['v']
        frames = [f + 1.0 for f in wordnet_table().lemmas[lemma][1]]
        if inflection == 'ed':   # a passive participle is n.r s
            frames[0] += (frames[1] + frames[2]) / 2
        share = sum(frames)
        base = _nats(weight['v'], total)
        for category, frame in zip(_FRAMES, frames):
            cost[category] = min(cost.get(category, 99.0),
                                 base + _nats(frame + share / 20, share * 1.25))
    cost.setdefault('N', max(cost.values()) + 1.0)
    # Any noun may modify a noun (*law enforcement*), plurals seldom.
    plural = readings.get('n', ('', '', 0))[1] == 's'
    cost['ADJ'] = min(cost.get('ADJ', 99.0), cost['N'] + 1.2 + plural)
    # Ditransitive, clause- and infinitive-taking readings need more than
    # WordNet's frames say: a second object (not a noun compound), a bare
    # clause or a verb phrase must follow.
    for category, extra in (('DTV', 1.6), ('SV', 0.8), ('VPC', 0.8)):
        if category in cost:
            cost[category] += extra
    return cost


#: Forms of *be* and *have* that make progressives and perfects, and the
#: adverbs that may stand between them and the participle.
_BE = frozenset("is are was were am be been being 's 're 'm".split())
_HAVE = frozenset("have has had having 've 'd".split())
_BETWEEN = frozenset("not n't never also still just really always already "
                     "even only often all both".split())
#: Cost changes of a participle after *be* (progressive: a verb, not a
#: noun or a noun's modifier) and after *have* (perfect: active, so
#: transitive as often as not, not the passive's intransitive).
_AFTER_BE = {'IV': -1.0, 'TV': -1.0, 'DTV': -1.0, 'SV': -1.0, 'N': 1.5,
             'ADJ': 1.5}
_AFTER_HAVE = {'TV': -1.0, 'DTV': -0.5, 'SV': -0.5, 'N': 1.5, 'ADJ': 1.5,
               'PRED': 1.0, 'VPC': 0.5}
_VERBS = ('IV', 'TV', 'DTV', 'SV')


def _repriced(options: list[tuple[str, float]], change: dict[str, float]
              ) -> list[tuple[str, float]]:
    """``options`` with ``change``'s extra costs added to their
    categories, cheapest first (a stable sort: ties keep their order).

    >>> _repriced([('PREPPRE', 0.0), ('PREPS', 0.3)], {'PREPPRE': 2.0})
    [('PREPS', 0.3), ('PREPPRE', 2.0)]
    """
    return sorted(((c, k + change.get(c, 0.0)) for c, k in options),
                  key=lambda item: item[1])


def _after_auxiliaries(words: list[str],
                       tagged: list[list[tuple[str, float]]]
                       ) -> list[list[tuple[str, float]]]:
    """``tagged`` with participles after *be* (``-ing``) and *have*
    (``-ed`` or irregular) priced as verbs: *is vacationing* is a
    progressive (*be* takes the verb phrase), not *is* + a noun.

    >>> tags = LexiconTagger().tag(['she', 'is', 'not', 'cooking'])
    >>> min(tags[3], key=lambda c: c[1])[0] in _VERBS
    True
    """
    for position in range(1, len(words)):
        before = position - 1
        while before > 0 and words[before] in _BETWEEN:
            before -= 1
        word, options = words[position], tagged[position]
        if not any(c in _VERBS for c, _ in options):
            continue
        if words[before] in _BE and word.endswith('ing'):
            change = _AFTER_BE
        elif words[before] in _HAVE and ('v' in wordnet_readings(word)
                                         and wordnet_readings(word)['v'][1]
                                         == 'ed' or word == 'had'):
            change = _AFTER_HAVE
        else:
            continue
        tagged[position] = _repriced(options, change)
    return tagged


#: Pronouns that are only objects.
_ACCUSATIVE = frozenset('me him us them'.split())


def _before_articles_and_objects(words: list[str],
                                 tagged: list[list[tuple[str, float]]],
                                 lexicon: dict
                                 ) -> list[list[tuple[str, float]]]:
    """``tagged`` with the modifier reading (ADJ) priced up where no
    modifier can be: right before an article (*gave Mary a flower*), and
    right before an object pronoun for a word that may be a transitive
    verb (*the kids egg him on*).

    >>> tags = LexiconTagger().tag(['the', 'kids', 'egg', 'him'])
    >>> min(tags[2], key=lambda c: c[1])[0], dict(tags[2])['ADJ'] > 3
    ('N', True)
    """
    for position, word in enumerate(words[:-1]):
        following = words[position + 1]
        if word not in lexicon and (
                following in _ARTICLES or following in _ACCUSATIVE
                and any(c == 'TV' for c, _ in tagged[position])):
            tagged[position] = _repriced(tagged[position], {'ADJ': 2.0})
    return tagged


#: Determiners after which a noun phrase starts: no verb follows them.
_NOUN_PHRASE_START = _ARTICLES | frozenset('my your his its our their'.split())
#: Verb categories, impossible right after :data:`_NOUN_PHRASE_START`.
_VERB_CATEGORIES = ('IV', 'TV', 'DTV', 'SV', 'VPC')
#: How much more than its adjective reading the noun reading of an
#: adjective costs after an article (*the same*, *the following*).
_HEAD_ADJECTIVE = 1.0


@lru_cache(maxsize=65536)
def _superlative(word: str) -> bool:
    """Whether WordNet reads ``word`` as a superlative adjective.

    >>> _superlative('closest'), _superlative('same')
    (True, False)
    """
    return wordnet_readings(word).get('a', ('', ''))[1] == 'est'


def _after_determiners(words: list[str],
                       tagged: list[list[tuple[str, float]]],
                       lexicon: dict) -> list[list[tuple[str, float]]]:
    """``tagged`` with the word after an article or possessive
    determiner read as the start of a noun phrase: no verb reading, and
    an adjective may head the phrase (*they might feel the same*, *the
    following have made a team*). A superlative stays an adjective (*is
    the closest*: UD's predicate adjective).

    >>> tags = LexiconTagger().tag(['they', 'feel', 'the', 'same'])
    >>> [category for category, _ in tags[3]][:3]
    ['ADJ', 'PRED', 'N']
    """
    for position in range(1, len(words)):
        if words[position - 1] not in _NOUN_PHRASE_START \
                or words[position] in lexicon:
            continue
        costs = {c: k for c, k in tagged[position]
                 if c not in _VERB_CATEGORIES}
        if 'ADJ' in costs and not _superlative(words[position]):
            costs['N'] = min(costs.get('N', 99.0),
                             costs['ADJ'] + _HEAD_ADJECTIVE)
        tagged[position] = sorted(costs.items(), key=lambda item: item[1])
    return tagged


#: How much dearer a clause-initial preposition (PREPPRE) is right after
#: an open-class word: there it mostly heads a phrase of that word.
_MID_PREPPRE = 2.0


def _prepositions_after_words(words: list[str],
                              tagged: list[list[tuple[str, float]]],
                              lexicon: dict
                              ) -> list[list[tuple[str, float]]]:
    """``tagged`` with the clause-initial preposition reading (PREPPRE,
    *in the end she runs*) priced up right after an open-class word
    (*he did comment on what he meant*: *on* goes with *comment*).

    >>> tags = LexiconTagger().tag(['he', 'did', 'comment', 'on', 'it'])
    >>> dict(tags[3])['PREPPRE'] > dict(tags[3])['PREPS']
    True
    """
    for position in range(1, len(words)):
        if words[position - 1] in lexicon \
                or not words[position - 1][:1].isalpha():
            continue
        tagged[position] = _repriced(tagged[position],
                                     {'PREPPRE': _MID_PREPPRE})
    return tagged


def _third_person(word: str) -> bool:
    return (len(word) > 3 and word.endswith('s')
            and not word.endswith(('ss', 'us', 'is', 'ous')))


class LexiconTagger:
    """Tags tokens from bundled lexicons, a user lexicon and suffixes.

    Parameters
    ----------
    user_lexicon:
        Extra ``word -> categories`` entries that override the bundled
        ones (readings likeliest first, each a category or a
        ``(category, extra cost)`` pair: :data:`Entry`), or a path to a
        file of ``word CATEGORY [CATEGORY ...]`` lines.

    >>> LexiconTagger({'do': ('VPC', ('TV', 2.0))}).candidates('do')
    [('VPC', 0.0), ('TV', 2.3)]
    """

    def __init__(self, user_lexicon: dict[str, Entry] | str
                 | Path | None = None) -> None:
        self.lexicon: dict[str, Entry] = dict(FUNCTION_WORDS)
        if isinstance(user_lexicon, (str, Path)):
            user_lexicon = load_lexicon(user_lexicon)
        self.lexicon.update(user_lexicon or {})
        self.verbs = bundled_verbs()
        self._cache: dict[str, list[tuple[str, float]]] = {}

    def tag(self, tokens: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Candidates for every token of a sentence. A capitalised word
        that is no function word is likely a name (a noun, or a noun's
        modifier as in *US troops*), unless it starts the sentence and
        WordNet knows it.

        >>> tags = LexiconTagger().tag(['Will', 'President', 'Bush', 'go'])
        >>> [[category for category, _ in token[:2]] for token in tags]
        [['VPC', 'QAUX'], ['N', 'ADJ'], ['N', 'ADJ'], ['IV', 'TV']]
        """
        tagged = [self._name(token) if token[:1].isupper()
                  and token.lower() not in self.lexicon
                  and not (token.isupper() and wordnet_readings(token.lower()))
                  and (position or not wordnet_readings(token.lower()))
                  else self.candidates(token)
                  for position, token in enumerate(tokens)]
        words = [t.lower() for t in tokens]
        tagged = _before_articles_and_objects(words, tagged, self.lexicon)
        tagged = _after_determiners(words, tagged, self.lexicon)
        tagged = _prepositions_after_words(words, tagged, self.lexicon)
        return _after_auxiliaries(words, tagged)

    def _name(self, token: str) -> list[tuple[str, float]]:
        """Candidates of a capitalised word: a name first."""
        costs = {category: cost + 1.5
                 for category, cost in self.candidates(token)}
        costs.update(N=0.0, ADJ=min(costs.get('ADJ', 99.0), 0.8))
        return sorted(costs.items(), key=lambda item: item[1])

    def candidates(self, token: str) -> list[tuple[str, float]]:
        """Categories ``token`` may take, with costs (lower is likelier)."""
        word = token.lower()
        cached = self._cache.get(word)
        if cached is None:
            cached = self._cache[word] = self._score(word)
        return cached

    def _score(self, word: str) -> list[tuple[str, float]]:
        if word in self.lexicon:
            return _readings(self.lexicon[word])
        if word[0].isdigit():
            return [('N', 0.0), ('ADJ', 0.5)]
        readings = wordnet_readings(word)
        if readings:
            costs = _wordnet_costs(word, readings)
            return sorted(costs.items(), key=lambda item: item[1])
        return self._guess(word)

    def _guess(self, word: str) -> list[tuple[str, float]]:
        """Costs of a word WordNet does not know, from its suffixes."""
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
