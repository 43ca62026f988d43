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


def _pipeline_folder(parent, name):
    """A directory ``parent/name`` that looks like a trained pipeline."""
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / 'config.cfg').write_text('')
    return folder


def _installed_package(site, name):
    """A package ``name`` installed into ``site`` (module and metadata, as
    pip leaves them), for ``importlib.metadata`` once ``site`` is on
    ``sys.path``."""
    (site / name).mkdir(parents=True)
    (site / name / '__init__.py').write_text('')
    info = site / f'{name}-1.0.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {name}\n'
                                   'Version: 1.0\n')


def test_an_installed_package_goes_before_a_directory_of_its_name(
        tmp_path, monkeypatch):
    """A bug: a directory won over an installed package of the same name,
    while ``spacy.load(name)`` loads the package."""
    from qnlp.spacy_pipeline import checked, locate, pipeline_digest
    name = 'qnlp_fake_pipeline_xyz'
    _pipeline_folder(tmp_path / 'work', name)
    monkeypatch.chdir(tmp_path / 'work')
    monkeypatch.syspath_prepend(str(tmp_path / 'work'))  # as `python -m`
    # no package of that name: the directory (a namespace package to
    # find_spec, yet no installed package), by its absolute path
    found = locate(name)
    assert found == str(tmp_path / 'work' / name)
    assert pipeline_digest(found) is not None
    _installed_package(tmp_path / 'site', name)
    monkeypatch.syspath_prepend(str(tmp_path / 'site'))
    assert locate(name) == name                        # spaCy's order
    assert checked('spacy', name) == name
    assert pipeline_digest(locate(name)) is None  # not the directory's
    assert locate(f'./{name}') == str(tmp_path / 'work' / name)  # a path


def test_a_directory_goes_before_the_offline_repackage(tmp_path,
                                                       monkeypatch):
    """spacy.load('en_core_web_sm') reads a directory of that name when
    the package is missing: so does locate, the repackage only after."""
    from qnlp import spacy_pipeline
    monkeypatch.setattr(spacy_pipeline, 'REPACKAGES',
                        {'qnlp_missing_xyz': 'qnlp_repackage_xyz'})
    _installed_package(tmp_path / 'site', 'qnlp_repackage_xyz')
    monkeypatch.syspath_prepend(str(tmp_path / 'site'))
    monkeypatch.chdir(tmp_path)
    assert spacy_pipeline.locate('qnlp_missing_xyz') == 'qnlp_repackage_xyz'
    _pipeline_folder(tmp_path, 'qnlp_missing_xyz')
    assert spacy_pipeline.locate('qnlp_missing_xyz') == str(
        tmp_path / 'qnlp_missing_xyz')
