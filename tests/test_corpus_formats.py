"""Corpus formats: each read correctly, detection reported, text-like
labels refused with one line, column names, JSON Lines errors."""
from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from qnlp.cli import main
from qnlp.data import CorpusFormat, load_corpus, read_corpus, \
    read_corpus_file
from qnlp.errors import CorpusError
from tests.conftest import BUNDLED

LABELS = st.sampled_from(['0', '1', 'pos', 'neg', '2'])
WORDS = st.text(st.sampled_from('abcdefgXYZ019.!?'), min_size=1, max_size=6)
SENTENCES = st.lists(WORDS, min_size=1, max_size=5).map(' '.join)
#: (sentence, label) pairs, sentences unique (so every format is
#: detectable), fewer than 20 (so few labels never look like text).
PAIRS = st.lists(st.tuples(SENTENCES, LABELS), min_size=1, max_size=15,
                 unique_by=lambda pair: pair[0])


def write(pairs: list[tuple[str, str]], name: str) -> str:
    """``pairs`` in format ``name``."""
    if name == 'label-first':
        return ''.join(f'{label} {text}\n' for text, label in pairs)
    if name == 'label-last':
        return ''.join(f'{text}\t{label}\n' for text, label in pairs)
    if name == 'jsonl':
        return ''.join(json.dumps({'text': text, 'label': label}) + '\n'
                       for text, label in pairs)
    out = io.StringIO()
    writer = csv.writer(out, delimiter='\t' if name == 'tsv' else ',',
                        lineterminator='\n')
    writer.writerows([('text', 'label'), *pairs])
    return out.getvalue()


NAMES = {'label-first': 'label sentence',
         'label-last': 'sentence<TAB>label (UCI)', 'csv': 'CSV',
         'tsv': 'TSV', 'jsonl': 'JSON Lines'}


@pytest.mark.parametrize('name', sorted(NAMES))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=PAIRS)
def test_round_trip_each_format_detected_and_asked(tmp_path, name, pairs):
    path = tmp_path / f'c.{name}'
    path.write_text(write(pairs, name))
    for asked in ('auto', name):
        examples, how = read_corpus(path, CorpusFormat(asked))
        assert [(e.text, e.label) for e in examples] == pairs
        assert how.startswith(f'read as {NAMES[name]}')
        assert ('detected' in how) == (asked == 'auto')
        assert how.endswith(f'{len(pairs)} examples, '
                            f'{len(set(p[1] for p in pairs))} labels')


def test_uci_file_is_sentence_tab_label(tmp_path):
    path = tmp_path / 'yelp_labelled.txt'
    path.write_text('Wow... Loved this place.\t1\nCrust is not good. \t0\n'
                    'Not tasty\tand nasty.\t0\n')
    examples, how = read_corpus(path)
    assert how == ('read as sentence<TAB>label (UCI), detected: '
                   '3 examples, 2 labels')
    assert [(e.text, e.label) for e in examples] == [
        ('Wow... Loved this place.', '1'), ('Crust is not good.', '0'),
        ('Not tasty\tand nasty.', '0')]


def test_commas_in_label_first_lines_are_not_a_header(tmp_path):
    path = tmp_path / 'a.txt'
    path.write_text('1 good,text\n0 bad food\n')
    assert read_corpus(path)[1].startswith('read as label sentence')


def test_text_and_label_columns_and_keys(tmp_path):
    table = tmp_path / 'r.csv'
    table.write_text('id,body,stars\n1,"Fine, thanks",5\n2,Awful,1\n')
    how = CorpusFormat('auto', 'Body', 'stars')
    assert [(e.text, e.label) for e in read_corpus_file(table, how)] == [
        ('Fine, thanks', '5'), ('Awful', '1')]
    lines = tmp_path / 'r.jsonl'
    lines.write_text('{"body": "Fine", "stars": 5}\n\n'
                     '{"body": "Awful", "stars": 1}\n')
    examples, description = read_corpus(lines, how)
    assert [(e.text, e.label, e.line) for e in examples] == [
        ('Fine', '5', 1), ('Awful', '1', 3)]
    assert "keys 'body', 'stars'" in description


@pytest.mark.parametrize('content,message', [
    ('{"text": "a", "label": 1}\n{"text": "b", "label"\n',
     'x.jsonl:2: not JSON'),
    ('{"text": "a", "label": 1}\n[1, 2]\n', 'x.jsonl:2: expected a JSON '
                                          'object'),
    ('{"text": "a", "y": 1}\n', "x.jsonl:1: no label key (label, liked, "
                                "class) among the keys found (text, y)"),
    ('{"text": "", "label": 1}\n', 'x.jsonl:1: expected a text'),
])
def test_json_lines_errors_name_file_and_line(tmp_path, content, message):
    path = tmp_path / 'x.jsonl'
    path.write_text(content)
    with pytest.raises(CorpusError) as error:
        read_corpus(path)
    assert message in str(error.value)


def test_text_like_labels_are_refused(tmp_path):
    path = tmp_path / 'reviews.txt'
    path.write_text(''.join(f'word{i} was fine {i % 2}\n'
                            for i in range(40)))
    with pytest.raises(CorpusError, match='reviews.txt: read as label '
                                          'sentence, but its labels look '
                                          'like text .40 distinct labels'):
        read_corpus(path)
    path.write_text('text\tlabel\nfine\tvery good\n')
    with pytest.raises(CorpusError, match="label 'very good' contains a "
                                          "space"):
        read_corpus(path)
    path.write_text(''.join(f'word{i} good\t{i % 2}\n' for i in range(40)))
    assert read_corpus(path)[1].startswith('read as sentence<TAB>label')
    with pytest.raises(CorpusError, match='labels look like text'):
        read_corpus(path, CorpusFormat('label-first'))


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(CorpusError, match="unknown format 'xml'"):
        read_corpus(tmp_path / 'a.txt', CorpusFormat('xml'))


def test_load_corpus_describes_every_file(tmp_path):
    for name in ('train.txt', 'dev.jsonl', 'test.tsv'):
        (tmp_path / name).write_text(write([('a b', '1'), ('c d', '0')],
                                           name.split('.')[1]
                                           .replace('txt', 'label-first')))
    corpus = load_corpus(tmp_path)
    assert corpus.description.count('read as') == 3
    assert 'dev.jsonl: read as JSON Lines' in corpus.description
    assert 'test.tsv: read as TSV' in corpus.description


def one_error_line(capsys, arguments: list[str]) -> str:
    """The one ``qnlp: error:`` line of a refused command."""
    code = main(arguments)
    err = capsys.readouterr().err
    assert code == 2 and 'Traceback' not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith('qnlp: error:')
    return err


def test_cli_refuses_text_like_labels_in_one_line(tmp_path, capsys):
    path = tmp_path / 'reviews.txt'
    path.write_text(''.join(f'word{i} was fine {i % 2}\n'
                            for i in range(40)))
    err = one_error_line(capsys, ['train', str(path), '--out',
                                  str(tmp_path / 'r'), '--quiet'])
    assert 'reviews.txt' in err and '--format' in err


def test_cli_names_the_columns_when_label_column_missing(tmp_path, capsys):
    path = tmp_path / 'texts.csv'
    path.write_text('text,id\nwoman cooks meal,1\nman runs code,2\n')
    err = one_error_line(capsys, ['train', str(path), '--out',
                                  str(tmp_path / 'r'), '--quiet'])
    assert 'texts.csv: no label column (label, liked, class) among the ' \
           'columns found (text, id)' in err and '--label-column' in err


def test_cli_columns_format_and_reported_detection(tmp_path, capsys):
    rows = [line.split(' ', 1) for part in ('train.txt', 'test.txt')
            for line in (BUNDLED / part).read_text().splitlines()]
    path = tmp_path / 'all.tsv'
    path.write_text('y\tbody\n' + ''.join(f'{label}\t{text}\n'
                                          for label, text in rows))
    assert main(['train', str(path), '--out', str(tmp_path / 'r'),
                 '--epochs', '1', '--text-column', 'body', '--label-column',
                 'y']) == 0
    err = capsys.readouterr().err
    assert (f"qnlp: {path}: read as TSV (text column 'body', label column "
            f"'y'), detected: {len(rows)} examples, 2 labels") in err
    uci = tmp_path / 'uci.txt'
    uci.write_text(''.join(f'{text}\t{label}\n' for label, text in rows))
    assert main(['train', str(uci), '--out', str(tmp_path / 'u'),
                 '--epochs', '1', '--format', 'label-last', '--quiet']) == 0
    assert 'read as' not in capsys.readouterr().err
    config = json.loads((tmp_path / 'u' / 'config.json').read_text())
    assert config['settings']['format'] == 'label-last'


def test_table_with_unknown_columns_is_named_by_its_suffix(tmp_path):
    """A .csv whose header names no known column says so (it used to be
    read as 'label sentence' lines and fail on its header)."""
    path = tmp_path / 'r.csv'
    path.write_text('words,tag\nwoman cooks meal,1\nman runs,0\n')
    with pytest.raises(CorpusError, match=r"r\.csv: no text column .* "
                                          r"\(words, tag\); name it with "
                                          r"--text-column"):
        read_corpus(path)
    examples, how = read_corpus(path, CorpusFormat('auto', 'words', 'tag'))
    assert how.startswith('read as CSV') and examples[1].label == '0'
