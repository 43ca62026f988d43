"""``--spacy-pipeline``: which spaCy pipeline the spaCy tagger reads."""
from __future__ import annotations

import json

import pytest

from qnlp.errors import ConfigError

pytest.importorskip('spacy')


def test_a_missing_pipeline_is_one_error_naming_it(tmp_path):
    from qnlp.spacy_pipeline import locate
    with pytest.raises(ConfigError, match='--spacy-pipeline nope_xyz: no '
                                          'installed spaCy pipeline'):
        locate('nope_xyz')
    with pytest.raises(ConfigError, match='no such directory'):
        locate(str(tmp_path / 'gone'))
    with pytest.raises(ConfigError, match='not a spaCy pipeline directory'):
        locate(str(tmp_path))          # a folder without config.cfg


def test_settings_keep_a_pipeline_directory_as_an_absolute_path(
        tmp_path, monkeypatch):
    """A run's config.json holds the directory so evaluate and predict
    find it from another working directory."""
    from qnlp.tasks.sentences import SentenceSettings
    (tmp_path / 'model').mkdir()
    (tmp_path / 'model' / 'config.cfg').write_text('')
    monkeypatch.chdir(tmp_path)
    settings = SentenceSettings(tagger='spacy', spacy_pipeline='./model')
    assert settings.spacy_pipeline == str(tmp_path / 'model')
    with pytest.raises(ConfigError, match='needs --tagger spacy'):
        SentenceSettings(spacy_pipeline='./model')


@pytest.fixture(scope='module')
def saved_pipeline(tmp_path_factory):
    """The default pipeline written to a directory (as a trained one is)."""
    from qnlp.parsing.spacy_tagger import load_english_pipeline
    try:
        nlp = load_english_pipeline()
    except ConfigError as error:
        pytest.skip(str(error))
    folder = tmp_path_factory.mktemp('pipeline') / 'sm'
    nlp.to_disk(folder)
    return folder


def test_a_saved_pipeline_directory_parses_as_its_package_under_its_own_cache_key(
        saved_pipeline):
    from qnlp.parsing import make_parser
    from qnlp.parsing.cache import parser_fingerprint
    stock = make_parser('spacy')
    saved = make_parser('spacy', str(saved_pipeline))
    sentence = 'the chef quickly prepares a tasty dinner'
    assert saved.analyse(sentence, 's') == stock.analyse(sentence, 's')
    assert saved.tagger.identity['source'] == str(saved_pipeline)
    # same meta.json name and version, yet another parse cache
    assert parser_fingerprint(saved.settings()) != \
        parser_fingerprint(stock.settings())
    # a retrained directory (other files) is another cache again
    before = parser_fingerprint(saved.settings())
    (saved_pipeline / 'extra.txt').write_text('retrained')
    try:
        retrained = make_parser('spacy', str(saved_pipeline))
        assert parser_fingerprint(retrained.settings()) != before
    finally:
        (saved_pipeline / 'extra.txt').unlink()


def test_train_stores_the_pipeline_and_predict_reuses_it(
        saved_pipeline, tmp_path, capsys):
    import shutil

    from qnlp.cli import main
    from tests.conftest import BUNDLED
    pipeline = tmp_path / 'pipeline'
    shutil.copytree(saved_pipeline, pipeline)
    run = tmp_path / 'run'
    assert main(['train', str(BUNDLED), '--out', str(run), '--epochs', '1',
                 '--tagger', 'spacy', '--spacy-pipeline', str(pipeline),
                 '--quiet']) == 0
    config = json.loads((run / 'config.json').read_text())
    assert config['settings']['spacy_pipeline'] == str(pipeline)
    capsys.readouterr()
    assert main(['predict', str(run), 'chef cooks meal', '--quiet']) == 0
    capsys.readouterr()
    shutil.rmtree(pipeline)                  # the pipeline has gone
    assert main(['predict', str(run), 'chef cooks meal']) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"qnlp: error: {run}: --spacy-pipeline {pipeline}: "
                     "no such directory")
