"""Dependency trees to DisCoCat types (qnlp.parsing.dependency) and the
gold-tree scoring of qnlp.parsing.gold."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from qnlp.errors import CorpusError, ParseError
from qnlp.parsing.dependency import Tree, reduce_types, search_types, \
    tree_categories
from qnlp.parsing.gold import CONSTRUCTIONS, read_conllu, \
    read_conllu_text, score, select
from qnlp.parsing.types import CATEGORY_TYPES


# -- the converter on hand-built trees (no spaCy needed) --------------------

def convert(words, pos, dep, head):
    conversion = tree_categories(Tree(words.split(), pos.split(),
                                      dep.split(), head))
    assert conversion.complete, conversion.problems
    return conversion


@pytest.mark.parametrize('words,pos,dep,head,categories', [
    ('John gave Mary a flower', 'PROPN VERB PROPN DET NOUN',
     'nsubj ROOT dative det dobj', [1, 1, 1, 4, 1],
     ['N', 'DTV', 'N', 'DET', 'N']),
    ('the meal was cooked by the chef', 'DET NOUN AUX VERB ADP DET NOUN',
     'det nsubjpass auxpass ROOT agent det pobj', [1, 3, 3, 3, 3, 6, 4],
     ['DET', 'N', 'VPC', 'IV', 'PREPS', 'DET', 'N']),
    ('she thinks it works', 'PRON VERB PRON VERB',
     'nsubj ROOT nsubj ccomp', [1, 1, 3, 1], ['PRON', 'SV', 'PRON', 'IV']),
    ('the meal is tasty', 'DET NOUN AUX ADJ', 'det nsubj ROOT acomp',
     [1, 2, 2, 2], ['DET', 'N', 'VPC', 'PRED']),
    ('she is a cook', 'PRON AUX DET NOUN', 'nsubj ROOT det attr',
     [1, 1, 3, 1], ['PRON', 'TV', 'DET', 'N']),
    ('she sings and dances', 'PRON VERB CCONJ VERB', 'nsubj ROOT cc conj',
     [1, 1, 1, 1], ['PRON', 'IV', 'CONJVP', 'IV']),
    ('can you swim', 'AUX PRON VERB', 'aux nsubj ROOT', [2, 2, 2],
     ['QAUX', 'PRON', 'IV']),
])
def test_tree_gives_discocat_categories_that_reduce(words, pos, dep, head,
                                                    categories):
    conversion = convert(words, pos, dep, head)
    assert conversion.categories == categories
    assert reduce_types(categories, 's')


def test_uncovered_relation_is_named_not_raised():
    conversion = tree_categories(Tree(
        ['she', 'left', 'hmm'], ['PRON', 'VERB', 'X'],
        ['nsubj', 'ROOT', 'meta'], [1, 1, 1]))
    assert conversion.categories[:2] == ['PRON', 'IV']
    assert conversion.categories[2] is None
    assert "at token 2 'hmm'" in str(conversion.problems[0])


def test_imperative_takes_the_implicit_subject():
    conversion = convert('eat the cake', 'VERB DET NOUN', 'ROOT det dobj',
                         [0, 2, 0])
    assert conversion.implicit
    assert reduce_types(['PRON'] + conversion.categories, 's')


def test_shared_subject_coordination_agrees_with_the_beam_search():
    # The subject wire n.r of *sings* waits for CONJVP's n.rr in both
    # searches: the depth-first one over fixed types and the beam search.
    from qnlp.parsing import Parser
    beam = Parser(implicit_subject_cost=None).analyse(
        'she_PRON sings_IV and_CONJVP dances_IV', 's')
    cups = reduce_types(['PRON', 'IV', 'CONJVP', 'IV'], 's')
    assert len(cups) == 5
    assert sorted(map(tuple, cups)) == sorted(map(tuple, beam.cups))


_CATEGORIES = sorted(c for c in CATEGORY_TYPES if c != 'SKIP')


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_CATEGORIES), min_size=1,
                         max_size=3), min_size=1, max_size=7),
       st.sampled_from(['s', 'n', None]))
def test_search_returns_a_reduction_or_raises_parse_error(options, target):
    from qnlp.parsing.parser import Parse
    try:
        chosen, cups = search_types(options, target, budget=2000)
    except ParseError:
        return
    assert all(c in o for c, o in zip(chosen, options))
    diagram = Parse([f'w{i}' for i in range(len(chosen))], chosen,
                    cups).diagram
    assert str(diagram.cod) in ((target,) if target else ('s', 'n'))


# -- with spaCy -------------------------------------------------------------

@pytest.fixture(scope='module')
def parser():
    pytest.importorskip('spacy')
    from qnlp.errors import ConfigError
    from qnlp.parsing.dependency import DependencyParser
    try:
        return DependencyParser()
    except ConfigError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize('sentence,target,word,category', [
    ('John gave Mary a flower', 's', 'gave', 'DTV'),
    ('the meal was cooked by the chef', 's', 'cooked', 'IV'),
    ('who cooked the meal ?', 's', 'cooked', 'TV'),
    ('can you swim ?', 's', 'can', 'QAUX'),
    ('she sings and dances', 's', 'and', 'CONJVP'),
    ('the crowd dances to the music', None, 'dances', 'IV'),
    ('what does the chef cook ?', None, 'cook', 'TV'),
])
def test_hand_written_sentences_parse_with_discocat_types(
        parser, sentence, target, word, category):
    analysis = parser.analyse(sentence, target)
    assert str(analysis.diagram.cod) == 's'
    assert analysis.categories[analysis.words.index(word)] == category
    assert str(CATEGORY_TYPES[category]) in (
        'n.r @ s @ n.l @ n.l', 'n.r @ s', 'n.r @ s @ n.l',
        's @ s.l @ n @ n.l', 's.r @ n.r.r @ n.r @ s @ s.l @ n')


def test_batch_matches_one_by_one_and_counts_stages(parser):
    sentences = ['she cooks a meal', 'the the', 'John gave Mary a flower']
    batch = parser.analyse_many(sentences, 's')
    assert isinstance(batch[1], ParseError)
    assert 'the the' in str(batch[1])
    for sentence, result in zip(sentences[::2], batch[::2]):
        assert result.categories == parser.analyse(sentence, 's').categories
    assert parser.counts['tree'] >= 4


def test_tagger_tag_many_is_tag_in_a_batch(parser):
    tagger = parser.tagger
    sentences = [['she', 'runs'], ['a', 'tasty', 'meal']]
    assert tagger.tag_many(sentences) == [tagger.tag(s) for s in sentences]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(
    'the a she cooks meal tasty and , runs is can you who quickly in to '
    "of that 's not".split()), min_size=1, max_size=10))
def test_random_words_parse_to_the_target_or_raise_parse_error(parser,
                                                               words):
    try:
        analysis = parser.analyse(' '.join(words), 's')
    except ParseError:
        return
    assert str(analysis.diagram.cod) == 's'


# -- gold.py on inline CoNLL-U ----------------------------------------------

def conllu(text: str, rows: str) -> str:
    """CoNLL-U of one sentence from ``form upos head deprel`` rows."""
    lines = [f'# text = {text}']
    for number, row in enumerate(rows.strip().splitlines(), 1):
        form, upos, head, deprel = row.split()
        lines.append('\t'.join([str(number), form, '_', upos, '_', '_',
                                head, deprel, '_', '_']))
    return '\n'.join(lines) + '\n\n'


GOLD = {
    'declarative': (conllu('She cooks a meal .', '''
        She PRON 2 nsubj
        cooks VERB 0 root
        a DET 4 det
        meal NOUN 2 obj
        . PUNCT 2 punct'''), 'cooks', 'n.r @ s @ n.l'),
    'ditransitive': (conllu('John gave Mary a flower', '''
        John PROPN 2 nsubj
        gave VERB 0 root
        Mary PROPN 2 iobj
        a DET 5 det
        flower NOUN 2 obj'''), 'gave', 'n.r @ s @ n.l @ n.l'),
    'passive': (conllu('the meal was cooked by the chef', '''
        the DET 2 det
        meal NOUN 4 nsubj:pass
        was AUX 4 aux:pass
        cooked VERB 0 root
        by ADP 7 case
        the DET 7 det
        chef NOUN 4 obl'''), 'cooked', 'n.r @ s'),
    'clausal': (conllu('she thinks it works', '''
        she PRON 2 nsubj
        thinks VERB 0 root
        it PRON 4 nsubj
        works VERB 2 ccomp'''), 'thinks', 'n.r @ s @ s.l'),
    'copula': (conllu('the meal is tasty', '''
        the DET 2 det
        meal NOUN 4 nsubj
        is AUX 4 cop
        tasty ADJ 0 root'''), 'is', 'n.r @ s @ s.l @ n'),
    'coordination': (conllu('she sings and dances', '''
        she PRON 2 nsubj
        sings VERB 0 root
        and CCONJ 4 cc
        dances VERB 2 conj'''), 'sings', 'n.r @ s'),
}


@pytest.mark.parametrize('construction', list(CONSTRUCTIONS))
def test_each_construction_picks_its_word_and_gold_type(construction):
    text, word, gold = GOLD[construction]
    sentences = read_conllu_text(text, 'inline.conllu')
    [(sentence, index, found)] = select(sentences, construction)
    assert sentence.tokens[index].form == word and found == gold
    others = [c for c in CONSTRUCTIONS if c != construction]
    assert not any(select(sentences, other) for other in others)
    assert sentence.source == 'inline.conllu:1'


def test_score_with_pre_tagged_words():
    # Pre-tagged tokens (word_CATEGORY) make the parse independent of any
    # tagger, so the scores are exact.
    text = GOLD['declarative'][0].replace(
        '# text = She cooks a meal .',
        '# text = She_PRON cooks_TV a_DET meal_N')
    from qnlp.parsing import Parser
    report = score(Parser(), read_conllu_text(text), 'declarative')
    assert report['sentences'] == 1 and report['parses_to_s'] == 1.0
    assert report['gold_type'] == 1.0


def test_reader_errors_name_file_and_line(tmp_path):
    path = tmp_path / 'bad.conllu'
    path.write_text('# text = a b\n1\ta\t_\tDET\n')
    with pytest.raises(CorpusError, match=r'bad\.conllu:2: expected 10'):
        read_conllu(path)


def test_no_sentence_of_a_construction_is_a_parse_error():
    from qnlp.parsing import Parser
    sentences = read_conllu_text(GOLD['copula'][0])
    with pytest.raises(ParseError, match="construction 'ditransitive'"):
        score(Parser(), sentences, 'ditransitive')


# -- constructions the tree covers without a search (issue 17) --------------

@pytest.mark.parametrize('words,pos,dep,head,categories', [
    # a number after a noun modifies it (n.r n, as an apposition)
    ('she left on january 10', 'PRON VERB ADP PROPN NUM',
     'nsubj ROOT prep pobj nummod', [1, 1, 1, 2, 3],
     ['PRON', 'IV', 'PREPS', 'N', 'APPOS']),
    # a participle after a noun is a modifier taking its object
    ('a guy named joe left', 'DET NOUN VERB PROPN VERB',
     'det nsubj acl oprd ROOT', [1, 4, 1, 2, 4],
     ['DET', 'N', 'PREPN', 'N', 'IV']),
    # a to-infinitive after the objects is an adjunct taken by *to*
    ('bush nominated two people to replace them',
     'PROPN VERB NUM NOUN PART VERB PRON',
     'nsubj ROOT nummod dobj aux xcomp dobj', [1, 1, 3, 1, 5, 1, 5],
     ['N', 'TV', 'ADJ', 'N', 'INFS', 'TV', 'PRON']),
    ('she had a chance to win', 'PRON VERB DET NOUN PART VERB',
     'nsubj ROOT det dobj aux acl', [1, 1, 3, 1, 5, 3],
     ['PRON', 'TV', 'DET', 'N', 'INFN', 'IV']),
    # a modifier of an adverb modifies the verb (*two years* ago)
    ('she left two years ago', 'PRON VERB NUM NOUN ADV',
     'nsubj ROOT nummod npadvmod advmod', [1, 1, 3, 4, 1],
     ['PRON', 'IV', 'ADJ', 'NADVS', 'ADVS']),
    # two-word preposition: the first word is an adverb
    ('according to the report she left', 'VERB ADP DET NOUN PRON VERB',
     'prep prep det pobj nsubj ROOT', [5, 0, 3, 1, 5, 5],
     ['ADVPRE', 'PREPPRE', 'DET', 'N', 'PRON', 'IV']),
    # a marked clause after the object joins the sentence
    ('she told him that it rains', 'PRON VERB PRON SCONJ PRON VERB',
     'nsubj ROOT dobj mark nsubj ccomp', [1, 1, 1, 5, 5, 1],
     ['PRON', 'TV', 'PRON', 'CONJS', 'PRON', 'IV']),
    # an adjective with no verb is a predicate (it takes the implicit
    # subject, see test_adjective_fragment_takes_the_implicit_subject)
    ('quiet as mr lopez', 'ADJ ADP PROPN PROPN', 'ROOT prep compound pobj',
     [0, 0, 3, 1], ['PRED', 'PREPS', 'ADJ', 'N']),
    # a preposition of a word in a noun's role (*most* of them)
    ('we took most of it', 'PRON VERB ADJ ADP PRON',
     'nsubj ROOT dobj prep pobj', [1, 1, 1, 2, 3],
     ['PRON', 'TV', 'N', 'PREPN', 'PRON']),
])
def test_more_constructions_give_categories_that_reduce(words, pos, dep,
                                                        head, categories):
    conversion = convert(words, pos, dep, head)
    assert conversion.categories == categories
    assert reduce_types(['PRON'] * conversion.implicit + categories, 's')


def test_adjective_fragment_takes_the_implicit_subject():
    conversion = convert('very quiet', 'ADV ADJ', 'advmod ROOT', [1, 1])
    assert conversion.implicit and conversion.categories == ['ADVVP', 'PRED']
    assert reduce_types(['PRON'] + conversion.categories, 's')


def test_fronted_question_object_keeps_the_verbs_object():
    conversion = tree_categories(Tree(
        ['what', 'do', 'you', 'eat'], ['PRON', 'AUX', 'PRON', 'VERB'],
        ['dobj', 'aux', 'nsubj', 'ROOT'], [3, 3, 3, 3],
        ['WP', 'VBP', 'PRP', 'VB']))
    assert conversion.categories == ['QOBJ', 'QAUX', 'PRON', 'TV']
    assert str(CATEGORY_TYPES['TV']) == 'n.r @ s @ n.l'
    assert reduce_types(conversion.categories, 's')


# Random small trees of the covered fragment: a clause with a subject, a
# verb with zero, one or two objects, prepositional phrases on nouns and
# after the verb's objects, adverbs before the verb or at the end, and
# noun phrases with determiners, adjectives, following numbers and
# prepositional phrases, nested.

class _Tokens:
    """Tokens with heads given as tokens, numbered at the end."""

    def __init__(self):
        self.rows = []

    def add(self, word, pos, dep, head=None):
        row = [word, pos, dep, head]
        self.rows.append(row)
        return row

    def tree(self):
        index = {id(row): i for i, row in enumerate(self.rows)}
        heads = [i if row[3] is None else index[id(row[3])]
                 for i, row in enumerate(self.rows)]
        return Tree([r[0] for r in self.rows], [r[1] for r in self.rows],
                    [r[2] for r in self.rows], heads)


def _noun_phrase(draw, tokens, dep, head, depth):
    if draw(st.booleans()):
        determiner = tokens.add('the', 'DET', 'det')
    else:
        determiner = None
    adjectives = [tokens.add('tasty', 'ADJ', 'amod')
                  for _ in range(draw(st.integers(0, 2)))]
    noun = tokens.add(draw(st.sampled_from(['meal', 'chef', 'paris'])),
                      'NOUN', dep, head)
    for row in adjectives + ([determiner] if determiner else []):
        row[3] = noun
    if draw(st.booleans()):
        tokens.add('10', 'NUM', 'nummod', noun)
    if depth and draw(st.booleans()):
        preposition = tokens.add('of', 'ADP', 'prep', noun)
        _noun_phrase(draw, tokens, 'pobj', preposition, depth - 1)
    return noun


@st.composite
def clause_trees(draw):
    tokens = _Tokens()
    early = draw(st.booleans())
    adverb = tokens.add('often', 'ADV', 'advmod') if early else None
    subject = _noun_phrase(draw, tokens, 'nsubj', None, 1)
    verb = tokens.add('gives', 'VERB', 'ROOT')
    subject[3] = verb
    if adverb:
        adverb[3] = verb
    objects = draw(st.integers(0, 2))
    if objects == 2:
        _noun_phrase(draw, tokens, 'dative', verb, 1)
    if objects:
        _noun_phrase(draw, tokens, 'dobj', verb, 1)
    for _ in range(draw(st.integers(0, 2))):
        preposition = tokens.add('in', 'ADP', 'prep', verb)
        _noun_phrase(draw, tokens, 'pobj', preposition, 1)
    if draw(st.booleans()):
        tokens.add('today', 'ADV', 'advmod', verb)
    return tokens.tree(), objects


@settings(max_examples=30, deadline=None)
@given(clause_trees())
def test_random_clause_trees_convert_and_reduce_to_s(drawn):
    from qnlp.parsing.parser import Parse
    tree, objects = drawn
    conversion = tree_categories(tree)
    assert conversion.complete, conversion.problems
    verb = tree.dep.index('ROOT')
    assert conversion.categories[verb] == ('IV', 'TV', 'DTV')[objects]
    cups = reduce_types(conversion.categories, 's')
    words = [w for w, c in zip(tree.words, conversion.categories)]
    assert str(Parse(words, conversion.categories, cups).diagram.cod) == 's'
