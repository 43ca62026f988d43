"""benchmarks/tune_spacy_parser.py (issue 17): EWT gold trees as spaCy
training examples, folds, the training loop on a tiny blank pipeline,
and its refusals of bad options; no data from ../shared."""
from __future__ import annotations

import sys

import pytest
from hypothesis import given, strategies as st

from qnlp.parsing.gold import read_conllu_text
from tests.conftest import benchmark_module
from tests.test_parser_goldtree import SPACED

spacy = pytest.importorskip('spacy')


tune = benchmark_module('tune_spacy_parser')


@given(st.integers(2, 60), st.integers(2, 6))
def test_folds_are_contiguous_blocks_covering_every_sentence(count, k):
    blocks = tune.folds(count, k)
    assert len(blocks) == k
    assert [i for block in blocks for i in block] == list(range(count))
    assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def tiny_pipeline(labels=('nsubj', 'ROOT', 'prep', 'pobj', 'det', 'punct',
                          'intj', 'neg', 'npadvmod'),
                  tags=('PRP', 'VBZ', 'RB', 'IN', 'DT', 'NN', 'UH', ',')):
    spacy.util.fix_random_seed(0)       # the same initial weights
    nlp = spacy.blank('en')
    nlp.add_pipe('tok2vec')
    tagger, parser = nlp.add_pipe('tagger'), nlp.add_pipe('parser')
    for tag in tags:
        tagger.add_label(tag)
    for label in labels:
        parser.add_label(label)
    nlp.initialize()
    return nlp


def test_examples_are_the_tokenised_gold_trees_with_known_labels_only():
    nlp = tiny_pipeline(labels=('nsubj', 'ROOT', 'prep', 'pobj', 'det',
                                'punct', 'intj', 'neg'))
    [example] = tune.examples(nlp, read_conllu_text(SPACED))
    reference = example.reference
    assert [t.text for t in example.predicted] == \
        [t.text for t in reference]
    assert [t.text for t in reference][-1] == 'today'    # '"' and '.' gone
    # npadvmod (*today*) is no label of this parser: dep
    assert reference[-1].dep_ == 'dep'
    assert [t.tag_ for t in reference][:2] == ['UH', ',']


def test_training_loop_runs_every_mode_and_learns():
    sentences = read_conllu_text(SPACED)
    for mode, rehearse in (('parser', 0), ('tagger,parser', 1)):
        nlp = tiny_pipeline()
        data = tune.examples(nlp, sentences)
        extra = [spacy.training.Example(doc, doc) for doc in
                 [nlp.make_doc('she is here')]] if rehearse else []
        seen = []
        tune.train(nlp, data, 16, 0.003, 0.0, mode, extra, 0,
                   lambda epoch, losses: seen.append(losses['parser']))
        assert len(seen) == 16
        gold = data[0].reference
        [doc] = nlp.pipe([spacy.tokens.Doc(nlp.vocab,
                                           words=[t.text for t in gold])])
        # the one training sentence is learnt (the untrained parser's
        # heads are not its)
        assert [t.head.i for t in doc] == [t.head.i for t in gold]


@pytest.mark.parametrize('argv,message', [
    (['cv', '--tune', 'all'], '--tune all'),
    (['cv', '--learn-rates', 'fast'], '--learn-rates'),
    (['train'], 'train needs --output'),
    (['cv', '--epochs', '0'], '--epochs 0'),
    (['guard', '--output', '/no/such/pipeline'], '--output /no/such')])
def test_bad_options_are_one_line_and_exit_2(argv, message, tmp_path,
                                            monkeypatch, capsys):
    (tmp_path / 'en_ewt-ud-dev.conllu').write_text(SPACED)
    monkeypatch.setattr(sys, 'argv', ['tune_spacy_parser.py', *argv,
                                      '--ud', str(tmp_path)])
    with pytest.raises(SystemExit) as stop:
        tune.main()
    assert stop.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


def test_train_refuses_to_overwrite_a_directory(tmp_path, monkeypatch,
                                                capsys):
    (tmp_path / 'en_ewt-ud-dev.conllu').write_text(SPACED)
    kept = tmp_path / 'mine'
    kept.mkdir()
    (kept / 'notes.txt').write_text('keep me')
    monkeypatch.setattr(sys, 'argv', ['tune_spacy_parser.py', 'train',
                                      '--ud', str(tmp_path),
                                      '--output', str(kept)])
    with pytest.raises(SystemExit) as stop:
        tune.main()
    assert stop.value.code == 2 and 'not empty' in capsys.readouterr().err
    assert (kept / 'notes.txt').read_text() == 'keep me'
