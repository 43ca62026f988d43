"""Pregroup diagrams built directly equal lambeq's
``Diagram.create_pregroup_diagram`` (which is quadratic in length)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st
from lambeq.backend.grammar import Cup, Diagram, Word

from qnlp.errors import ParseError
from qnlp.parsing import Parser
from qnlp.parsing.diagrams import pregroup_diagram
from qnlp.parsing.types import CATEGORY_TYPES

WORDS = ['woman', 'man', 'cooks', 'tasty', 'meal', 'that', 'prepares',
         'skilful', 'and', 'dinner', 'program', 'the', 'runs', 'quickly',
         'in', 'kitchen', 'who', 'debugs', 'useful']


def _check(parse):
    boxes = [Word(f'w{i}', CATEGORY_TYPES[category])
             for i, category in enumerate(parse.categories)]
    cups = [(Cup, left, right) for left, right in parse.cups]
    assert pregroup_diagram(boxes, cups) == \
        Diagram.create_pregroup_diagram(boxes, cups)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12))
def test_pregroup_diagram_equals_lambeqs(words):
    try:
        parse = Parser().analyse(' '.join(words), None)
    except ParseError:
        return
    _check(parse)


def test_pregroup_diagram_of_a_long_sentence():
    parse = Parser().analyse('skilful woman who runs quickly prepares '
                             'tasty dinner and man debugs useful program '
                             'in the kitchen', None)
    assert len(parse.cups) > 10
    _check(parse)
