"""The parse cache: a second run on the same corpus does not parse again."""
from __future__ import annotations

from qnlp.errors import ParseError
from qnlp.parsing import Parser

from tests.conftest import BUNDLED


def test_second_run_reads_parses_from_the_cache(tmp_path, monkeypatch):
    """Training again on the same corpus does not parse again: the second
    load finds every sentence in the cache and never calls the parser."""
    from qnlp.tasks import get_task
    from qnlp.tasks.sentences import SentenceSettings
    monkeypatch.setenv('QNLP_CACHE_DIR', str(tmp_path / 'cache'))
    task, settings = get_task('sentences'), SentenceSettings(epochs=1)
    first = task.load(str(BUNDLED), settings)
    assert list((tmp_path / 'cache' / 'parses').glob('*.json'))

    def refuse(*args, **kwargs):
        raise AssertionError('parsed again despite the cache')
    monkeypatch.setattr(Parser, 'analyse_many', refuse)
    second = task.load(str(BUNDLED), settings)
    assert second.state['vocabulary'] == first.state['vocabulary']
    assert [str(c) for c in second.train.circuits] == \
        [str(c) for c in first.train.circuits]


def test_parse_cache_depends_on_parser_settings_and_survives_damage(
        tmp_path):
    from qnlp.parsing.cache import ParseCache
    lexicon = ParseCache('abc', {'tagger': 'LexiconTagger'}, tmp_path)
    spacy = ParseCache('abc', {'tagger': 'SpacyTagger'}, tmp_path)
    assert lexicon.path != spacy.path
    parse = Parser().analyse('woman cooks meal', 's')
    failure = ParseError('does not reduce')
    lexicon.save({'woman cooks meal': parse, 'the the': failure})
    loaded = lexicon.load()
    assert loaded['woman cooks meal'] == parse
    assert str(loaded['the the']) == 'does not reduce'
    assert spacy.load() == {}
    lexicon.path.write_text('{"half": ')          # a damaged file
    assert lexicon.load() == {}


def test_parse_cache_can_be_turned_off(tmp_path, monkeypatch):
    from qnlp.parsing.cache import ParseCache
    monkeypatch.setenv('QNLP_PARSE_CACHE', 'off')
    cache = ParseCache('abc', {}, tmp_path)
    cache.save({'woman cooks meal': Parser().analyse('woman cooks meal')})
    assert not cache.path.exists() and cache.load() == {}


def test_parses_are_kept_when_a_sentence_stops_the_run(tmp_path, monkeypatch):
    """A bug: with --unparsable error a failing sentence raised before the
    cache was written, so a run stopped after minutes of parsing kept
    nothing; the next run (here with skip) parsed everything again."""
    import pytest

    from qnlp.tasks import get_task
    from qnlp.tasks.sentences import SentenceSettings
    monkeypatch.setenv('QNLP_CACHE_DIR', str(tmp_path / 'cache'))
    corpus = tmp_path / 'corpus.txt'
    corpus.write_text('1 woman cooks meal\n0 man debugs program\n'
                      '1 woman prepares dinner\n0 the the the\n' * 3)
    task = get_task('sentences')
    with pytest.raises(ParseError, match='unparsable skip'):
        task.load(str(corpus), SentenceSettings(epochs=1,
                                                split=(0.5, 0.25, 0.25)))
    parsed = []
    original = Parser.analyse_many
    monkeypatch.setattr(Parser, 'analyse_many', lambda self, texts: (
        parsed.extend(texts), original(self, texts))[1])
    task.load(str(corpus), SentenceSettings(epochs=1, unparsable='skip',
                                            split=(0.5, 0.25, 0.25)))
    assert parsed == []
