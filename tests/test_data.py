"""Corpus loading: both formats, splits, and errors naming file and line."""
from __future__ import annotations

import pytest

from qnlp.data import load_corpus, read_corpus_file, split_examples
from qnlp.data.corpus import Example
from qnlp.errors import CorpusError


def test_label_lines_and_tables(tmp_path):
    (tmp_path / 'a.txt').write_text('1  woman cooks meal .\n\n0 man runs code\n')
    (tmp_path / 'b.tsv').write_text('Review\tLiked\nGreat food\t1\nBad\t0\n')
    (tmp_path / 'c.csv').write_text('label,text\n1,"Good, tasty"\n')
    assert [(e.text, e.label, e.line) for e in
            read_corpus_file(tmp_path / 'a.txt')] == [
        ('woman cooks meal .', '1', 1), ('man runs code', '0', 3)]
    assert [(e.text, e.label) for e in read_corpus_file(
        tmp_path / 'b.tsv')] == [('Great food', '1'), ('Bad', '0')]
    assert read_corpus_file(tmp_path / 'c.csv')[0].text == 'Good, tasty'


@pytest.mark.parametrize('content,line', [('1 fine\nbroken\n', 2),
                                          ('1 ok\n0\n', 2)])
def test_malformed_lines_name_file_and_line(tmp_path, content, line):
    path = tmp_path / 'train.txt'
    path.write_text(content)
    with pytest.raises(CorpusError, match=f'train.txt:{line}:'):
        read_corpus_file(path)


def test_table_with_wrong_field_count(tmp_path):
    path = tmp_path / 'x.tsv'
    path.write_text('text\tlabel\ngood\t1\nbad\t0\textra\n')
    with pytest.raises(CorpusError, match='x.tsv:3: expected 2 fields'):
        read_corpus_file(path)


def test_directory_splits_and_fingerprint(tmp_path):
    for name in ('mc_train_data.txt', 'mc_dev_data.txt', 'mc_test_data.txt'):
        (tmp_path / name).write_text('1 a b\n0 c d\n')
    corpus = load_corpus(tmp_path)
    assert (len(corpus.train), len(corpus.dev), len(corpus.test)) == (2, 2, 2)
    assert corpus.labels == ['0', '1'] and len(corpus.fingerprint) == 64


def test_missing_test_file_and_unseen_labels(tmp_path):
    (tmp_path / 'train.txt').write_text('1 a b\n')
    with pytest.raises(CorpusError, match="no file with 'test'"):
        load_corpus(tmp_path)
    (tmp_path / 'test.txt').write_text('2 a b\n')
    with pytest.raises(CorpusError, match='never in train'):
        load_corpus(tmp_path)


def test_seeded_stratified_split_is_deterministic():
    data = [Example(str(i), str(i % 3)) for i in range(60)]
    first = split_examples(data, (0.5, 0.25, 0.25), seed=4)
    again = split_examples(data, (0.5, 0.25, 0.25), seed=4)
    assert first == again
    assert sorted(e.text for part in first for e in part) == sorted(
        e.text for e in data)
    for part in first:
        counts = [sum(e.label == label for e in part) for label in '012']
        assert max(counts) - min(counts) <= 1
    with pytest.raises(CorpusError):
        split_examples(data, (0.5, 0.6, 0.1), seed=0)
