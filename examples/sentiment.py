"""Quantum kernels and variational classifiers on Havlicek's ad hoc data.

    python examples/sentiment.py

(For reviews: ``qnlp train --task sentiment REVIEWS.tsv --out RUN`` trains
one VQC, ``--model qsvc`` the kernel SVC; ``qnlp compare --task sentiment
REVIEWS.tsv --out DIR`` puts them next to classical classifiers.)
"""
from qnlp.data import ad_hoc_data
from qnlp.train import QuantumKernelSVC, VQCClassifier

if __name__ == '__main__':
    x_train, y_train, x_test, y_test = ad_hoc_data(20, 10, n=2, gap=0.3,
                                                   seed=0)
    qsvc = QuantumKernelSVC(feature_map='zz', reps=2).fit(x_train, y_train)
    print(f"quantum-kernel SVC test accuracy {qsvc.score(x_test, y_test):.3f}")
    vqc = VQCClassifier(feature_map='zz', reps=2, optimizer='adam',
                        max_iter=200, seed=0)
    vqc.fit(x_train, y_train)
    print(f"VQC test accuracy {vqc.score(x_test, y_test):.3f}")
