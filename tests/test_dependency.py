"""Dependency trees to DisCoCat types (qnlp.parsing.dependency) and the
gold-tree scoring of qnlp.parsing.gold."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from qnlp.errors import CorpusError, ParseError
from qnlp.parsing.dependency import Tree, tree_parse
from qnlp.parsing.gold import CONSTRUCTIONS, read_conllu, \
    read_conllu_text, score, select
from qnlp.parsing.parser import IMPLICIT_SUBJECT
from qnlp.parsing.types import CATEGORY_TYPES


# -- the construction on hand-built trees (no spaCy needed) -----------------

def types_of(words, pos, dep, head, target='s'):
    """Word -> type of the construction's parse, and the parse."""
    parse = tree_parse(Tree(words.split(), pos.split(), dep.split(), head),
                       target)
    assert str(parse.diagram.cod) in ((target,) if target else ('s', 'n'))
    return [str(CATEGORY_TYPES[c]) for c in parse.categories], parse


@pytest.mark.parametrize('words,pos,dep,head,types', [
    ('John gave Mary a flower', 'PROPN VERB PROPN DET NOUN',
     'nsubj ROOT dative det dobj', [1, 1, 1, 4, 1],
     ['n', 'n.r @ s @ n.l @ n.l', 'n', 'n @ n.l', 'n']),
    ('the meal was cooked by the chef', 'DET NOUN AUX VERB ADP DET NOUN',
     'det nsubjpass auxpass ROOT agent det pobj', [1, 3, 3, 3, 3, 6, 4],
     ['n @ n.l', 'n', 'n.r @ s @ s.l @ n', 'n.r @ s', 's.r @ s @ n.l',
      'n @ n.l', 'n']),
    ('she thinks it works', 'PRON VERB PRON VERB',
     'nsubj ROOT nsubj ccomp', [1, 1, 3, 1],
     ['n', 'n.r @ s @ s.l', 'n', 'n.r @ s']),
    ('the meal is tasty', 'DET NOUN AUX ADJ', 'det nsubj ROOT acomp',
     [1, 2, 2, 2], ['n @ n.l', 'n', 'n.r @ s @ s.l @ n', 'n.r @ s']),
    ('she is a cook', 'PRON AUX DET NOUN', 'nsubj ROOT det attr',
     [1, 1, 3, 1], ['n', 'n.r @ s @ n.l', 'n @ n.l', 'n']),
    ('she is in the kitchen', 'PRON AUX ADP DET NOUN',
     'nsubj ROOT prep det pobj', [1, 1, 1, 4, 2],
     ['n', 'n.r @ s @ n.l', 'n @ n.l', 'n @ n.l', 'n']),
    ('she sings and dances', 'PRON VERB CCONJ VERB', 'nsubj ROOT cc conj',
     [1, 1, 1, 1], ['n', 'n.r @ s', 's.r @ n.r.r @ n.r @ s @ s.l @ n',
                    'n.r @ s']),
    ('she sings and he dances', 'PRON VERB CCONJ PRON VERB',
     'nsubj ROOT cc nsubj conj', [1, 1, 1, 4, 1],
     ['n', 'n.r @ s', 's.r @ s @ s.l', 'n', 'n.r @ s']),
    ('who cooked the meal', 'PRON VERB DET NOUN', 'nsubj ROOT det dobj',
     [1, 1, 3, 1], ['n', 'n.r @ s @ n.l', 'n @ n.l', 'n']),
    ('what do you eat', 'PRON AUX PRON VERB', 'dobj aux nsubj ROOT',
     [3, 3, 3, 3], ['s @ n.l.l @ s.l', 's @ n.l @ n.l.l @ s.l', 'n',
                    'n.r @ s @ n.l']),
    ('she wants to go', 'PRON VERB PART VERB', 'nsubj ROOT aux xcomp',
     [1, 1, 3, 1], ['n', 'n.r @ s @ s.l @ n', 'n.r @ s @ s.l @ n',
                    'n.r @ s']),
    ("john 's car runs", 'PROPN PART NOUN VERB', 'poss case nsubj ROOT',
     [2, 0, 3, 3], ['n', 'n.r @ n @ n.l', 'n', 'n.r @ s']),
    ('she runs fast', 'PRON VERB ADV', 'nsubj ROOT advmod', [1, 1, 1],
     ['n', 'n.r @ s', 's.r @ s']),
    ('she often runs', 'PRON ADV VERB', 'nsubj advmod ROOT', [2, 2, 2],
     ['n', 'n.r @ s @ s.l @ n', 'n.r @ s']),
    # relative pronouns take their clause (DisCoCat's RELS and RELO)
    ('device that detects cars', 'NOUN PRON VERB NOUN',
     'ROOT nsubj relcl dobj', [0, 2, 0, 2],
     ['n', 'n.r @ n @ s.l @ n', 'n.r @ s @ n.l', 'n']),
    ('car that people use', 'NOUN PRON NOUN VERB', 'ROOT dobj nsubj relcl',
     [0, 3, 3, 0], ['n', 'n.r @ n @ n.l.l @ s.l', 'n', 'n.r @ s @ n.l']),
])
def test_tree_gives_discocat_types_that_reduce(words, pos, dep, head, types):
    found, _ = types_of(words, pos, dep, head, target=None)
    assert found == types


@pytest.mark.parametrize('words,pos,dep,head,word,ty', [
    # a root that is no verb gives way to a clause with a subject
    ('amd i like guys', 'INTJ PRON INTJ NOUN', 'ROOT nsubj intj dobj',
     [0, 2, 0, 2], 'like', 'n.r @ s @ n.l'),
    # a verb keeps one subject
    ('ps were you having problems', 'PROPN AUX PRON VERB NOUN',
     'nsubj aux nsubj ROOT dobj', [3, 3, 3, 3, 3], 'having',
     'n.r @ s @ n.l'),
    # one complement: a clause after the object modifies the verb
    ('she told him to go', 'PRON VERB PRON PART VERB',
     'nsubj ROOT dobj aux xcomp', [1, 1, 1, 4, 1], 'told', 'n.r @ s @ n.l'),
    ('she left , which hurts', 'PRON VERB PUNCT PRON VERB',
     'nsubj ROOT punct nsubj ccomp', [1, 1, 1, 4, 1], 'left', 'n.r @ s'),
    # a fronted object keeps the verb's object wire
    ('what was she missing', 'PRON AUX PRON VERB',
     'attr aux nsubj ROOT', [3, 3, 3, 3], 'missing', 'n.r @ s @ n.l'),
    # a copula of a possessed adjective takes a noun phrase
    ('they were my favorite', 'PRON AUX PRON ADJ', 'nsubj ROOT poss attr',
     [1, 1, 3, 1], 'were', 'n.r @ s @ n.l'),
])
def test_normalised_trees_give_the_head_its_arguments(words, pos, dep, head,
                                                       word, ty):
    types, parse = types_of(words, pos, dep, head)
    assert types[parse.words.index(word)] == ty


def test_imperative_takes_the_implicit_subject():
    types, parse = types_of('eat the cake', 'VERB DET NOUN', 'ROOT det dobj',
                            [0, 2, 0])
    assert parse.words == [IMPLICIT_SUBJECT, 'eat', 'the', 'cake']
    assert types[:2] == ['n', 'n.r @ s @ n.l']


def test_noun_phrase_root_reduces_to_the_target():
    args = 'a tasty meal', 'DET ADJ NOUN', 'det amod ROOT', [2, 2, 2]
    assert types_of(*args, target=None)[0] == ['n @ n.l', 'n @ n.l', 'n']
    assert types_of(*args, target='n')[0][2] == 'n'
    assert types_of(*args, target='s')[0][2] == 's'


def test_crossing_arcs_and_second_roots_are_mended():
    # *hearing* crosses the arc meal -> tasty; *wow* is a second root
    types, parse = types_of('a meal hearing tasty wow',
                            'DET NOUN VERB ADJ INTJ',
                            'det ROOT acl amod ROOT', [1, 1, 1, 1, 4],
                            target='n')
    assert parse.words == ['a', 'meal', 'hearing', 'tasty', 'wow']


# Any tree of spaCy's labels, crossing arcs and several roots included,
# gives a diagram of the target in the sentence's word order (dropping
# punctuation that heads nothing, adding <pro> for a subjectless clause).

_LABELS = ('nsubj nsubjpass csubj expl dobj dative attr oprd acomp xcomp '
           'ccomp pcomp pobj prep agent aux auxpass neg advmod npadvmod '
           'amod det predet poss case compound nummod quantmod nmod appos '
           'relcl acl advcl mark cc conj punct prt intj parataxis dep '
           'meta').split()
_POS = 'NOUN PROPN PRON NUM VERB AUX ADJ ADV ADP DET CCONJ SCONJ PART ' \
    'PUNCT INTJ X'.split()
#: Distinct words, with those the construction reads (*'s*, *to*, *is*).
_WORDS = "she meal is to 's , and what that be who runs the tasty".split()


@st.composite
def any_trees(draw):
    n = draw(st.integers(1, 14))
    order = draw(st.permutations(range(n)))
    head = list(range(n))
    for k in range(1, n):
        if not draw(st.integers(0, 9)) == 0:         # else another root
            head[order[k]] = order[draw(st.integers(0, k - 1))]
    pick = lambda options: [draw(st.sampled_from(options)) for _ in head]
    dep = [d if head[i] != i else 'ROOT' for i, d in enumerate(
        pick(_LABELS))]
    return Tree(draw(st.permutations(_WORDS))[:n], pick(_POS), dep, head)


@settings(max_examples=40, deadline=None)
@given(any_trees(), st.sampled_from(['s', 'n', None]))
def test_any_tree_reduces_to_the_target_in_word_order(tree, target):
    words, pos = list(tree.words), list(tree.pos)
    parse = tree_parse(tree, target)
    assert str(parse.diagram.cod) in ((target,) if target else ('s', 'n'))
    said = parse.words[1:] if parse.words[0] == IMPLICIT_SUBJECT \
        else parse.words
    assert IMPLICIT_SUBJECT not in said
    positions = [words.index(word) for word in said]   # words are distinct
    assert positions == sorted(positions)
    assert all(pos[k] == 'PUNCT' for k in range(len(words))
               if k not in positions)


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


@pytest.mark.parametrize('sentence,target,word,ty', [
    ('John gave Mary a flower', 's', 'gave', 'n.r @ s @ n.l @ n.l'),
    ('the meal was cooked by the chef', 's', 'cooked', 'n.r @ s'),
    ('the meal was cooked by the chef', 's', 'was', 'n.r @ s @ s.l @ n'),
    ('who cooked the meal ?', 's', 'cooked', 'n.r @ s @ n.l'),
    ('she sings and dances', 's', 'and', 's.r @ n.r.r @ n.r @ s @ s.l @ n'),
    ('she sings and dances', 's', 'sings', 'n.r @ s'),
    ('the crowd dances to the music', None, 'dances', 'n.r @ s'),
    ('what does the chef cook ?', None, 'cook', 'n.r @ s @ n.l'),
    ('I think that it works', 's', 'think', 'n.r @ s @ s.l'),
    ('the meal is tasty', 's', 'is', 'n.r @ s @ s.l @ n'),
])
def test_hand_written_sentences_parse_with_discocat_types(
        parser, sentence, target, word, ty):
    analysis = parser.analyse(sentence, target)
    assert str(analysis.diagram.cod) == 's'
    category = analysis.categories[analysis.words.index(word)]
    assert str(CATEGORY_TYPES[category]) == ty


def test_batch_matches_one_by_one_and_counts_stages(parser):
    sentences = ['she cooks a meal', '', 'John gave Mary a flower',
                 'the the']
    parser.counts.clear()
    batch = parser.analyse_many(sentences, 's')
    assert isinstance(batch[1], ParseError)
    assert str(batch[3].diagram.cod) == 's'   # every tree converts
    for sentence, result in zip(sentences[::2], batch[::2]):
        assert result.categories == parser.analyse(sentence, 's').categories
    assert parser.counts == {'tree': 5}


def test_pre_tagged_words_go_to_the_search(parser):
    parser.counts.clear()
    analysis = parser.analyse('she_PRON cooks_TV a_DET meal_N', 's')
    assert analysis.categories == ['PRON', 'TV', 'DET', 'N']
    assert parser.counts['narrow'] == 1 and not parser.counts['tree']


def test_tagger_tag_many_is_tag_in_a_batch(parser):
    tagger = parser.tagger
    sentences = [['she', 'runs'], ['a', 'tasty', 'meal']]
    assert tagger.tag_many(sentences) == [tagger.tag(s) for s in sentences]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(
    'the a she cooks meal tasty and , runs is can you who quickly in to '
    "of that 's not".split()), min_size=1, max_size=10))
def test_random_words_parse_to_the_target_by_the_tree(parser, words):
    parser.counts.clear()
    analysis = parser.analyse(' '.join(words), 's')
    assert str(analysis.diagram.cod) == 's'
    assert parser.counts == {'tree': 1}


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
def test_random_clause_trees_give_the_verb_its_objects(drawn):
    tree, objects = drawn
    verb = tree.dep.index('ROOT')
    parse = tree_parse(tree, 's')
    assert str(parse.diagram.cod) == 's' and parse.words == tree.words
    assert parse.categories[verb] == ('IV', 'TV', 'DTV')[objects]
