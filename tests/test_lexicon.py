"""Lexicon rules, each with a sentence that now gets its gold type (UD
EWT dev, the root-verb task of ``../shared/data/README.md``)."""
from __future__ import annotations

import pytest

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
