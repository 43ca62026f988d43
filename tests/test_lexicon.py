"""Lexicon rules, each with a sentence that now gets its gold type (UD
EWT dev, the root-verb task of ``../shared/data/README.md``)."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from qnlp.parsing import Parser


def _categories(sentence: str) -> dict[str, str]:
    analysis = Parser().analyse(sentence, 's')
    return dict(zip(analysis.words, analysis.categories))


@pytest.mark.parametrize('sentence,word,category', [
    # copula of a noun phrase: `one` determines it
    ('This is one thought-provoking film.', 'is', 'TV'),
    ('The one time I actually booked through a travel agent I did not get '
     'all of the amenities I had paid for.', 'get', 'TV'),
])
def test_one_may_be_a_determiner(sentence, word, category):
    found = _categories(sentence)
    assert found[word] == category and found['one'] == 'DET'


@pytest.mark.parametrize('sentence,word,category', [
    ('They did a vehicle wrap for my Toyota Venza that looks amazing.',
     'did', 'TV'),
    ('They also do banners, billboards and lots more.', 'do', 'TV'),
    ('We hope you do!', 'do', 'IV'),
])
def test_do_may_be_a_main_verb(sentence, word, category):
    assert _categories(sentence)[word] == category


@pytest.mark.parametrize('sentence', [
    'Do people box in Ireland?', 'Does she cook?', 'Did they win?'])
def test_do_stays_the_question_auxiliary(sentence):
    word = sentence.split()[0].lower()
    assert _categories(sentence)[word] == 'QAUX'


@pytest.mark.parametrize('sentence,word,category', [
    ("He did comment on what he meant by the phrase. '", 'comment', 'IV'),
    ('they look like they were doberman pinchers who were shrunk.',
     'look', 'IV'),
])
def test_a_preposition_after_a_word_goes_with_it(sentence, word, category):
    assert _categories(sentence)[word] == category


def test_a_clause_may_still_start_with_a_preposition():
    found = _categories('In the end she runs.')
    assert found['in'] == 'PREPPRE' and found['runs'] == 'IV'


_WORDS = ['comment', 'rain', 'she', 'the', 'in', 'on', 'at', ',', 'runs',
          'and', 'Paris', 'quickly']


@given(st.lists(st.sampled_from(_WORDS), min_size=2, max_size=8))
def test_preppre_dearer_only_after_an_open_class_word(words):
    from qnlp.parsing.lexicon import _MID_PREPPRE, LexiconTagger
    tagger = LexiconTagger()
    tagged = tagger.tag(words)
    for position, word in enumerate(words):
        if word not in ('in', 'on', 'at'):
            continue
        alone = dict(tagger.candidates(word))['PREPPRE']
        before = words[position - 1].lower() if position else ','
        opened = before not in tagger.lexicon and before[0].isalpha()
        assert dict(tagged[position])['PREPPRE'] == pytest.approx(
            alone + (_MID_PREPPRE if opened else 0.0))


def test_a_reading_is_priced_in_its_entry():
    """Function words' extra costs live in their entries (there was a
    second table beside the lexicon): *do* as a main verb, and any
    user entry that gives a reading a price."""
    from qnlp.parsing.lexicon import (_MAIN_DO, FUNCTION_WORDS,
                                      LexiconTagger)
    tagger = LexiconTagger({'run': ('N', ('TV', 2.0), 'IV')})
    assert tagger.candidates('run') == [('N', 0.0), ('TV', 2.3),
                                        ('IV', 0.6)]
    for word in ('do', 'does', 'did'):
        assert ('TV', _MAIN_DO) in FUNCTION_WORDS[word]
        costs = dict(tagger.candidates(word))
        assert costs['TV'] == pytest.approx(0.6 + _MAIN_DO)
        assert costs['IV'] == pytest.approx(0.9 + _MAIN_DO)


@given(st.lists(st.sampled_from(_WORDS + ['a', 'him', 'egg', 'gave', 'is',
                                          'cooking', 'have', 'cooked']),
                min_size=1, max_size=8))
def test_candidates_stay_cheapest_first(words):
    """A bug: the rule pricing up a modifier before an article or an
    object pronoun left the candidates out of order (every other rule
    re-sorts them)."""
    from qnlp.parsing.lexicon import LexiconTagger
    for options in LexiconTagger().tag(words):
        costs = [cost for _, cost in options]
        assert costs == sorted(costs)
