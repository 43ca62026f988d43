"""scikit-learn's ``check_estimator`` on every qnlp estimator: how many
checks pass, fail and are skipped, with the settings the test suite uses
(``tests/test_sklearn_contract.py``: one layer, three training steps).
The regressors' two checks on ten-qubit data run here only (the suite
skips them for time); every other check of every estimator also runs
in the suite.

Estimators over texts declare string input in their tags; scikit-learn
then runs only its clone check on them (its other checks feed numeric
arrays), so their figures are "1 passed". The checks that apply to texts
are in the test file.

    python benchmarks/sklearn_checks.py [NAME ...]

Prints one line per estimator (and with ``-v`` each failed check), then
one JSON line: ``{name: {"passed": n, "failed": n, "skipped": n,
"seconds": s}}``.
"""
from __future__ import annotations

import collections
import json
import sys
import time
import warnings

import torch
from sklearn.utils.estimator_checks import check_estimator

from qnlp import baselines
from qnlp.train import estimators

ESTIMATORS = {
    'QuantumKernelSVC': lambda: estimators.QuantumKernelSVC(reps=1),
    'VQCClassifier': lambda: estimators.VQCClassifier(reps=1, max_iter=1),
    'TrainedKernelSVC': lambda: estimators.QuantumKernelSVC(
        reps=1, alignment_steps=2),
    'ProjectedKernelSVC': lambda: estimators.QuantumKernelSVC(
        reps=1, kernel='projected'),
    'QuantumKernelRidge': lambda: estimators.QuantumKernelRidge(reps=1),
    'QuantumKernelSVR': lambda: estimators.QuantumKernelSVR(
        reps=1, alignment_steps=2),
    'VQCRegressor': lambda: estimators.VQCRegressor(reps=1, max_iter=1),
    'DisCoCatEstimator': lambda: estimators.DisCoCatEstimator(epochs=2),
    'BagOfWordsClassifier': baselines.BagOfWordsClassifier,
    'EmbeddingClassifier': baselines.EmbeddingClassifier,
    'BiLSTMClassifier': lambda: baselines.BiLSTMClassifier(epochs=1),
    'CompositionClassifier': baselines.CompositionClassifier,
    'HydropathyClassifier': baselines.HydropathyClassifier,
    'ConvClassifier': lambda: baselines.ConvClassifier(epochs=1),
    'EsmEmbeddingClassifier': baselines.EsmEmbeddingClassifier,
}


def main(argv: list[str]) -> None:
    verbose = '-v' in argv
    names = [a for a in argv if a != '-v'] or list(ESTIMATORS)
    torch.set_num_threads(1)   # as the tests: hundreds of tiny fits
    warnings.filterwarnings('ignore')
    figures = {}
    for name in names:
        start = time.perf_counter()
        results = check_estimator(ESTIMATORS[name](), on_fail=None,
                                  on_skip=None)
        counts = collections.Counter(r['status'] for r in results)
        figures[name] = {status: counts.get(status, 0)
                         for status in ('passed', 'failed', 'skipped')}
        figures[name]['seconds'] = round(time.perf_counter() - start, 2)
        print(name, figures[name], flush=True)
        if verbose:
            for result in results:
                if result['status'] == 'failed':
                    print('   ', result['check_name'],
                          str(result['exception']).split('\n')[0][:120])
    print(json.dumps(figures))


if __name__ == '__main__':
    main(sys.argv[1:])
