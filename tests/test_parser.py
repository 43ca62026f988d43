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
    with pytest.raises(ParseError, match="at token [01] 'the'.*'the the'"):
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


def test_tokeniser_splits_clitics_and_drops_marks():
    from qnlp.parsing import tokenise
    assert tokenise("it's -lrb- great -rrb- , isn't it ? ''") == [
        'it', "'s", 'great', ',', 'is', "n't", 'it']


def test_wider_grammar():
    cases = {
        'she gives him a book': ['PRON', 'DTV', 'PRON', 'DET', 'N'],
        'the film is not very good': None,
        'tea and cake': ['N', 'CONJN', 'N'],
        'can you bear the laughter': ['QAUX', 'PRON', 'TV', 'DET', 'N'],
    }
    parser = Parser()
    for sentence, expected in cases.items():
        analysis = parser.analyse(sentence)
        if expected is not None:
            assert analysis.categories == expected, sentence
        assert str(analysis.diagram.cod) in ('s', 'n')


def test_subjectless_sentence_gets_implicit_subject():
    from qnlp.parsing import IMPLICIT_SUBJECT
    analysis = Parser().analyse('lacks the inspiration of the original', 's')
    assert analysis.words[0] == IMPLICIT_SUBJECT
    assert str(analysis.diagram.cod) == 's'
    no_implicit = Parser(implicit_subject_cost=None, skip_cost=None)
    with pytest.raises(ParseError):
        no_implicit.analyse('lacks the inspiration of the original', 's')


def test_user_lexicon_overrides_and_bad_lines(tmp_path):
    from qnlp.errors import CorpusError
    from qnlp.parsing import LexiconTagger
    good = tmp_path / 'lex.txt'
    good.write_text('# comment\nfoo TV\n')
    parser = Parser(LexiconTagger(good))
    assert parser.analyse('man foo meal').categories == ['N', 'TV', 'N']
    bad = tmp_path / 'bad.txt'
    bad.write_text('foo\nbar VERBISH\n')
    with pytest.raises(CorpusError, match='bad.txt:1'):
        LexiconTagger(bad)


def test_grammar_templates_are_shared_but_words_differ():
    first = parse('woman cooks meal')
    second = parse('man bakes bread')
    assert [b.name for b in second.boxes[:3]] == ['man', 'bakes', 'bread']
    assert [b.name for b in first.boxes[:3]] == ['woman', 'cooks', 'meal']
    assert first.cod == second.cod


def test_spacy_tagger_prefers_its_reading():
    pytest.importorskip('spacy')
    from qnlp.errors import ConfigError
    from qnlp.parsing.spacy_tagger import SpacyTagger
    try:
        tagger = SpacyTagger()
    except ConfigError as error:
        pytest.skip(str(error))
    parser = Parser(tagger)
    analysis = parser.analyse('the chef quickly prepares a tasty dinner')
    assert analysis.categories == ['DET', 'N', 'ADVVP', 'TV', 'DET', 'ADJ',
                                   'N']


@pytest.mark.parametrize('sentence,target,expected', [
    ('the crowd dances to the music', None,
     {'dances': 'IV', 'to': 'PREPS'}),
    ('she sings and dances', None, {'and': 'CONJVP', 'dances': 'IV'}),
    ('John gave Mary a flower', 's', {'gave': 'DTV', 'mary': 'N'}),
    ('the meal was cooked by the chef', 's', {'cooked': 'IV'}),
    ('who cooked the meal ?', None, {'who': 'QSUBJ', 'cooked': 'TV'}),
    ('what do you eat ?', None, {'what': 'QOBJ', 'do': 'QAUX'}),
])
def test_issue_17_constructions_parse_to_s(sentence, target, expected):
    analysis = Parser().analyse(sentence, target)
    assert str(analysis.diagram.cod) == 's'
    categories = dict(zip(analysis.words, analysis.categories))
    assert {w: categories[w] for w in expected} == expected


def test_passive_participle_has_verb_phrase_type():
    from qnlp.parsing.types import CATEGORY_TYPES
    analysis = Parser().analyse('the meal was cooked by the chef', 's')
    cooked = analysis.categories[analysis.words.index('cooked')]
    assert str(CATEGORY_TYPES[cooked]) == 'n.r @ s'


def test_verb_phrase_coordinator_shares_the_subject():
    """*she sings and dances*: the subject's wire reaches both verbs
    through ``and`` (its ``n.rr`` takes the first verb's ``n.r``)."""
    analysis = Parser().analyse('she sings and dances', 's')
    # wires: she 0 | sings 1 2 | and 3..8 (s.r n.rr n.r s s.l n) | dances
    # 9 10; the sentence is and's s (wire 6)
    assert sorted(analysis.cups) == [(0, 5), (1, 4), (2, 3), (7, 10), (8, 9)]


def _expanded(parser: Parser, sentence: str) -> int:
    before = parser.expanded
    try:
        parser.analyse(sentence, 's')
    except ParseError:
        pass
    return parser.expanded - before


@pytest.mark.parametrize('clause', [
    'the chef cooks a tasty meal and the woman eats it ,',
    'meal the of quickly , runs who tasty that',
])
def test_search_cost_is_linear_in_length(clause):
    """Pushes tried grow linearly with the length (no timing: counts)."""
    words = clause.split()
    short = ' '.join(words * 2)
    long = ' '.join(words * 20)          # 10x the length, ~200 tokens
    assert len(long.split()) <= 256
    ratio = _expanded(Parser(), long) / _expanded(Parser(), short)
    assert ratio < 10 * 1.6


def test_overlong_sentence_fails_fast_with_one_clear_error():
    with pytest.raises(ParseError, match='above the limit of 256 in '
                                         "sentence 'meal meal"):
        Parser().analyse('meal ' * 10_000)


LEXICON_WORDS = ['the', 'a', 'that', 'who', 'what', 'and', ',', 'of', 'to',
                 'is', 'was', 'not', 'she', 'John', 'Mary', 'gave', 'cooked',
                 'dances', 'music', 'crowd', 'tasty', 'quickly', 'by', 'can',
                 'do', 'sings', 'meal', 'chef', 'think', 'flower']


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LEXICON_WORDS), min_size=1, max_size=12),
       st.sampled_from([None, 's', 'n']))
def test_parses_of_lexicon_words_are_consistent(words, target):
    try:
        analysis = Parser().analyse(' '.join(words), target)
    except ParseError as error:
        assert error.sentence is not None
        return
    cod = str(analysis.diagram.cod)
    assert cod == target if target else cod in ('s', 'n')
    assert len(analysis.categories) == len(analysis.words)
    # the words kept are the sentence's words in order (some dropped)
    remaining = iter(w.lower() for w in words)
    kept = [w for w in analysis.words if w not in ('<pro>', '<and>')]
    assert kept and all(word in remaining for word in kept)


def test_sentences_side_by_side_are_joined():
    """Two sentences with nothing between them: the implicit ``<and>``
    (CONJS) joins them after the first, so the diagram is one ``s``."""
    analysis = Parser().analyse('the film works the actors shine', 's')
    assert analysis.words == ['the', 'film', 'works', '<and>', 'the',
                              'actors', 'shine']
    assert analysis.categories[3] == 'CONJS'
    assert str(analysis.diagram.cod) == 's'
    tagged = 'chef_N runs_IV dog_N sleeps_IV'
    assert Parser().analyse(tagged, 's').words[2] == '<and>'
    with pytest.raises(ParseError):
        Parser(join_cost=None, skip_cost=None).analyse(tagged, 's')


@pytest.mark.parametrize('sentence,expected', [
    # progressive *be*: was be/TV + vacationing/ADJ + there/PRON
    ('i will be vacationing there',
     {'be': 'VPC', 'vacationing': 'IV', 'there': 'ADVS'}),
    ('the chef is not cooking', {'is': 'VPC', 'cooking': 'IV'}),
    # perfect *have*: the participle is an active verb
    ('we have had many repairs', {'have': 'VPC', 'had': 'TV'}),
    # a noun compound is no second object: was offer/DTV + air/N
    ('they offer cheap air tickets to their country',
     {'offer': 'TV', 'air': 'ADJ'}),
])
def test_lexicon_errors_fixed(sentence, expected):
    analysis = Parser().analyse(sentence, 's')
    categories = dict(zip(analysis.words, analysis.categories))
    assert {w: categories.get(w) for w in expected} == expected


CLAUSES = ['chef_N cooks_TV meal_N', 'dog_N sleeps_IV',
           'she_PRON gives_DTV him_PRON tea_N']


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(CLAUSES), min_size=1, max_size=4))
def test_clauses_side_by_side_join_into_one_sentence(clauses):
    analysis = Parser().analyse(' '.join(clauses), 's')
    assert analysis.words.count('<and>') == len(clauses) - 1
    assert str(analysis.diagram.cod) == 's'


_WORDS = ['the', 'chef', 'cooks', 'tasty', 'meal', 'and', 'woman', 'who',
          'quickly', ',', 'of', 'runs', 'that', 'is', 'she', 'to', 'in']


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=3, max_size=14))
def test_wider_search_resumed_at_the_first_drop_equals_a_fresh_one(words):
    """A width-64 search resumed where the width-4 search first dropped
    states finds what a width-64 search from the start finds; when the
    narrow one dropped nothing, both fail alike."""
    parser, tokens = Parser(), words
    candidates = parser._candidates(tokens)

    def search(width, checkpoint=None):
        try:
            return parser._search(' '.join(words), tokens, candidates, None,
                                  width, parser.skip_cost, checkpoint)
        except ParseError as error:
            return str(error)

    checkpoint: list = []
    narrow = search(4, checkpoint)
    fresh = search(64)
    if checkpoint:
        assert search(64, checkpoint) == fresh
    else:
        assert narrow == fresh


def test_dead_states_leave_the_beam():
    """A state holding an atom that no later word can cancel (and that
    may not end the parse) could only fail: it no longer takes the place
    of one that can finish. With room for one state, the noun phrase
    *the chef cooks*... (``n`` left, no later ``n.r``) crowded out the
    sentence before."""
    parser = Parser(beam_width=1, retry_widths=(), skip_cost=None)
    analysis = parser.analyse('the chef cooks and the woman eats', 's')
    assert analysis.categories == ['DET', 'N', 'IV', 'CONJS', 'DET', 'N',
                                   'IV']


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_WORDS + ['x_IV', 'y_ADVS']), min_size=1,
                max_size=7),
       st.sampled_from([None, 's', 'n']), st.booleans())
def test_dropping_dead_states_loses_no_parse(words, target, bare):
    """With a beam wide enough to keep every stack, dropping dead states
    changes no parse: a dead state could never finish (slow reference:
    the same search where every atom counts as cancellable)."""
    from unittest import mock
    import qnlp.parsing.parser as module

    def parse(parser):
        try:
            analysis = parser.analyse(' '.join(words), target)
            return analysis.categories, analysis.cups
        except ParseError:
            return 'fails'

    wide = dict(beam_width=10 ** 6, retry_widths=())
    if bare:     # no implicit subject, no skipped word
        wide.update(implicit_subject_cost=None, skip_cost=None)
    pruned = parse(Parser(**wide))
    everything = {category: -1 for category in module._CANCELS}
    with mock.patch.dict(module._CANCELS, everything):
        assert parse(Parser(**wide)) == pruned


def test_no_move_at_all_is_one_clear_error():
    """A first word whose right adjoint nothing before can cancel leaves
    no state at all (the dead-state filter once crashed here)."""
    parser = Parser(implicit_subject_cost=None, skip_cost=None)
    with pytest.raises(ParseError, match="can still reduce at token 0"):
        parser.analyse('runs_IV fast_ADVS', 's')


def test_default_beam_keeps_the_object_reading():
    """Beam width 24 (16 before dead states left the beam; fewer pushes
    than 16 without that): the transitive reading of *evacuated* is no
    longer dropped (UD EWT dev, root verb with object)."""
    analysis = Parser().analyse('Oil companies evacuated offshore '
                                "facilities as the storm's progress kept "
                                'global markets on tenterhooks.', 's')
    found = dict(zip(analysis.words, analysis.categories))
    assert found['evacuated'] == 'TV' and found['offshore'] == 'ADJ'


@pytest.mark.parametrize('make', ['lexicon', 'dependency'])
def test_a_bad_parse_target_is_a_settings_error_not_unparsable(make):
    """A target other than s/n was a ParseError (every sentence then
    'unparsable', skipped) with the lexicon parser, and silently read as
    'n' by the dependency parser."""
    from qnlp.errors import ConfigError, ParseError
    if make == 'dependency':
        pytest.importorskip('spacy')
        from qnlp.parsing.dependency import DependencyParser
        parser = DependencyParser()
    else:
        parser = Parser()
    for call in (lambda: parser.analyse('woman cooks meal', target='np'),
                 lambda: parser.analyse_many(['woman cooks meal'], 'S')):
        with pytest.raises(ConfigError, match="parse target") as error:
            call()
        assert not isinstance(error.value, ParseError)
