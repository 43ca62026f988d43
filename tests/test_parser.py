"""The pregroup parser: grammar, failures, and robustness."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from lambeq.backend.grammar import Diagram

from qnlp.errors import ParseError
from qnlp.parsing import Parser, parse


@pytest.mark.parametrize('sentence,categories', [
    ('skillful man prepares sauce .', ['ADJ', 'N', 'TV', 'N']),
    ('woman cooks tasty meal', ['N', 'TV', 'ADJ', 'N']),
    ('clever chef compiles secure laptop', ['ADJ', 'N', 'TV', 'ADJ', 'N']),
    ('woman_N prepares_TV tasty_ADJ dinner_N', ['N', 'TV', 'ADJ', 'N']),
])
def test_sentences_reduce_to_s(sentence, categories):
    analysis = Parser().analyse(sentence)
    assert analysis.categories == categories
    assert str(analysis.diagram.cod) == 's'


def test_noun_phrase_with_relative_pronoun_reduces_to_n():
    diagram = parse('device that detects vehicle', target='n')
    assert str(diagram.cod) == 'n'


def test_failure_names_sentence_and_token():
    with pytest.raises(ParseError, match="at token 0 'the'.*'the the'"):
        Parser().parse('the the', target='s')


def test_fallback_keeps_going_and_counts():
    result = Parser().parse_many(['woman cooks meal', 'the the'], target='s',
                                 fallback=lambda s: Diagram.id())
    assert result.fallbacks == [1] and len(result.diagrams) == 2


WORDS = ['the', 'a', 'that', 'man', 'cooks', 'tasty', 'quickly', 'runs',
         'who', 'meal', '.', ',', 'x_N', 'y_TV', '!!', '']


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=6), max_size=8))
def test_random_tokens_give_a_diagram_or_parse_error(tokens):
    try:
        diagram = parse(' '.join(tokens))
    except ParseError:
        return
    assert str(diagram.cod) in ('s', 'n')
