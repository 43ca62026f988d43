"""The scikit-learn contract of every qnlp estimator.

Numeric estimators (the quantum kernel SVC, plain, with its kernel
trained by target alignment and projected; the kernel ridge and SVR; the
VQC classifier and regressor) run scikit-learn's whole check suite with the smallest settings (one layer, three training
steps: the checks test the contract, not accuracy). Estimators over
texts declare string input in their tags, so scikit-learn runs none of
its numeric checks on them; the checks that do apply to texts are here.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from qnlp.baselines import (BagOfWordsClassifier, BiLSTMClassifier,
                            CompositionClassifier, ConvClassifier,
                            EmbeddingClassifier, EsmEmbeddingClassifier,
                            HydropathyClassifier)
from qnlp.train.estimators import (DisCoCatEstimator, QuantumKernelRidge,
                                   QuantumKernelSVC, QuantumKernelSVR,
                                   VQCClassifier, VQCRegressor)

#: Regressor checks on scikit-learn's 200 x 10 regression set (10
#: qubits: 1.5-2.5 s each under load, 14 of the regressors' 20 s); they
#: pass in benchmarks/sklearn_checks.py.
SLOW_REGRESSOR_CHECKS = {'check_regressors_train',
                         'check_regressor_data_not_an_array'}
NUMERIC = [QuantumKernelSVC(reps=1),
           QuantumKernelSVC(reps=1, alignment_steps=2),     # trained kernel
           QuantumKernelSVC(reps=1, kernel='projected'),
           VQCClassifier(reps=1, max_iter=1),
           QuantumKernelRidge(reps=1),
           QuantumKernelSVR(reps=1, alignment_steps=2),
           VQCRegressor(reps=1, max_iter=1)]
TEXT = [DisCoCatEstimator(epochs=2), BagOfWordsClassifier(),
        EmbeddingClassifier(), BiLSTMClassifier(epochs=1),
        CompositionClassifier(), HydropathyClassifier(),
        ConvClassifier(epochs=1), EsmEmbeddingClassifier()]


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """The checks run hundreds of tiny fits: one thread is several times
    faster for them, most of all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@parametrize_with_checks(NUMERIC + TEXT)
def test_scikit_learn_checks(estimator, check):
    if is_regressor(estimator) and getattr(
            check, 'func', check).__name__ in SLOW_REGRESSOR_CHECKS:
        pytest.skip("10-qubit regression data: benchmarks/sklearn_checks.py")
    check(estimator)


@pytest.mark.parametrize('estimator', TEXT, ids=lambda e: type(e).__name__)
def test_text_estimators_declare_text_input(estimator):
    tags = get_tags(estimator)
    assert tags.input_tags.string and not tags.input_tags.two_d_array


@pytest.mark.parametrize('estimator', TEXT, ids=lambda e: type(e).__name__)
def test_text_estimators_check_their_inputs(estimator):
    texts = ['woman cooks meal', 'man debugs program', 'woman cooks']
    with pytest.raises(NotFittedError):
        clone(estimator).predict(texts)
    with pytest.raises(ValueError, match='Unknown label type: continuous'):
        clone(estimator).fit(texts, [0.5, 1.5, 2.5])
    with pytest.raises(ValueError, match='NaN'):
        clone(estimator).fit(texts, [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match='inconsistent numbers of samples'):
        clone(estimator).fit(texts, [0, 1])
    with pytest.raises(ValueError, match='at least 2 classes'):
        clone(estimator).fit(texts, ['a', 'a', 'a'])
    with pytest.raises(ValueError, match='sample 0 is a ndarray'):
        clone(estimator).fit(np.zeros((3, 2)), [0, 1, 0])


def test_vqc_learns_three_classes_one_vs_rest():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, np.pi, size=(30, 2))
    y = np.digitize(X[:, 0], [np.pi / 3, 2 * np.pi / 3])
    model = VQCClassifier(reps=1, max_iter=40).fit(X, y)
    assert model.weights_.shape[0] == 3 and len(model.n_iter_) == 3
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(1), 1)
    assert model.score(X, y) > 0.8


def test_vqc_two_classes_unchanged_by_one_vs_rest():
    """Binary fits train one circuit, exactly as before one-vs-rest."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, np.pi, size=(12, 2))
    y = (X[:, 0] > np.pi / 2).astype(int)
    model = VQCClassifier(reps=1, max_iter=4).fit(X, y)
    alone = VQCClassifier(reps=1, max_iter=4)._fit_binary(X, y)[0]
    assert len(model.circuits_) == 1 and model.weights_.ndim == 1
    np.testing.assert_array_equal(
        model.weights_, alone.weights.detach().numpy())


def test_kernel_svc_probabilities_agree_with_predictions():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, np.pi, size=(24, 2))
    y = np.digitize(X[:, 1], [1.0, 2.0])
    model = QuantumKernelSVC(feature_map='angle', reps=1).fit(X, y)
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(probabilities.sum(1), 1)
    np.testing.assert_array_equal(
        model.classes_[probabilities.argmax(1)], model.predict(X))
    np.testing.assert_array_equal(
        model.classes_[model.decision_function(X).argmax(1)],
        model.predict(X))
    assert model.probability_scale_ > 0


def test_discocat_estimator_takes_a_spacy_pipeline(tmp_path):
    """``spacy_pipeline`` is a parameter like ``tagger`` (get_params,
    set_params, clone), read by ``fit``: passed on to the parser, and
    refused with the lexicon tagger as the CLI refuses it."""
    from qnlp.errors import ConfigError
    texts, labels = ['woman cooks meal', 'man debugs program'], [0, 1]
    model = DisCoCatEstimator(tagger='spacy', spacy_pipeline='mine', epochs=1)
    assert model.get_params()['spacy_pipeline'] == 'mine'
    assert clone(model).get_params()['spacy_pipeline'] == 'mine'
    gone = str(tmp_path / 'gone')
    model.set_params(spacy_pipeline=gone)
    if importlib.util.find_spec('spacy') is not None:
        with pytest.raises(ConfigError, match=f'{gone}: no such directory'):
            model.fit(texts, labels)
    with pytest.raises(ConfigError, match='needs --tagger spacy'):
        DisCoCatEstimator(spacy_pipeline='en_core_web_trf',
                          epochs=1).fit(texts, labels)
