"""The synthetic "ad hoc" data set of Havlicek et al. (2019).

Points ``x`` in ``[0, 2 pi)^n`` are mapped to ``|Phi(x)> = U(x) H U(x) H
|0>`` with ``U(x) = exp(i sum_i x_i Z_i + i sum_{i<j} (pi - x_i)(pi - x_j)
Z_i Z_j)`` (the ZZ feature map, two repetitions). A random unitary ``V``
defines the observable ``O = V^+ Z...Z V``; a point gets label 1 if
``<Phi(x)|O|Phi(x)> > gap``, label 0 if it is below ``-gap``, and is
rejected otherwise. The quantum kernel of the same feature map separates
the classes with margin; classical kernels struggle. This follows
qiskit-machine-learning's ``ad_hoc_data`` (uniform sampling, the
``expectation`` labelling, ``V`` from the eigenvectors of a random
``A^+ A``), in plain numpy with its own seeded generator.

>>> x_train, y_train, x_test, y_test = ad_hoc_data(5, 2, n=2, gap=0.3, seed=0)
>>> x_train.shape, y_train.tolist(), y_test.tolist()
((10, 2), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 1, 1])
"""
from __future__ import annotations

from itertools import combinations

import numpy as np


def _z_signs(n: int) -> np.ndarray:
    """``(n, 2**n)``: the eigenvalue of ``Z_i`` on each basis state."""
    index = np.arange(2 ** n)
    return np.array([1 - 2 * ((index >> i) & 1) for i in range(n)],
                    dtype=np.float64)


def _random_unitary(dims: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.random((dims, dims)) + 1j * rng.random((dims, dims))
    _, vectors = np.linalg.eigh(a.conj().T @ a)
    return vectors[:, ::-1]


def ad_hoc_states(x: np.ndarray) -> np.ndarray:
    """``|Phi(x)>`` for each row of ``x`` (full ZZ entanglement)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    z = _z_signs(n)
    phases = x @ z
    for i, j in combinations(range(n), 2):
        phases += np.outer((np.pi - x[:, i]) * (np.pi - x[:, j]), z[i] * z[j])
    diagonal = np.exp(1j * phases)
    plus = np.full(2 ** n, 2 ** (-n / 2))
    hadamard = np.array([[1.0]])
    for _ in range(n):
        hadamard = np.kron(hadamard, np.array([[1, 1], [1, -1]]) / np.sqrt(2))
    return diagonal * ((diagonal * plus) @ hadamard.T)


def ad_hoc_data(training_size: int, test_size: int, n: int = 2,
                gap: float = 0.3, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``training_size`` and ``test_size`` points *per class*, labels 0/1.

    Returns ``(x_train, y_train, x_test, y_test)``, each set sorted by
    label (class 0 first).
    """
    if training_size < 1 or test_size < 0 or n < 1 or gap < 0:
        raise ValueError("need training_size >= 1, test_size >= 0, n >= 1 "
                         "and gap >= 0")
    rng = np.random.default_rng(seed)
    parity = np.prod(_z_signs(n), axis=0)
    v = _random_unitary(2 ** n, rng)
    observable = v.conj().T @ np.diag(parity) @ v
    needed = training_size + test_size
    found: dict[int, list[np.ndarray]] = {0: [], 1: []}
    while min(len(found[0]), len(found[1])) < needed:
        x = rng.uniform(0, 2 * np.pi, size=(4 * needed, n))
        psi = ad_hoc_states(x)
        value = np.einsum('bi,ij,bj->b', psi.conj(), observable, psi).real
        for label, keep in ((1, value > gap), (0, value < -gap)):
            found[label].extend(x[keep][:needed - len(found[label])])
    parts = []
    for start, size in ((0, training_size), (training_size, test_size)):
        x = np.concatenate([np.array(found[c][start:start + size])
                            .reshape(size, n) for c in (0, 1)])
        parts += [x, np.repeat([0, 1], size)]
    return parts[0], parts[1], parts[2], parts[3]
