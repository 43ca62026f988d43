"""The fidelity quantum kernel (its support-vector classifier,
:class:`qnlp.train.estimators.QuantumKernelSVC`, lives with the other
estimators).

``K(x, z) = |<phi(x)|phi(z)>|^2`` (Havlicek et al. 2019). The Gram
matrix is not built entry by entry: every sample is encoded once into a
statevector (one batched pass over the data), and all overlaps come from
one matrix product ``Psi_x @ Psi_z^H``; the symmetric training kernel as
one triangle of it (:func:`symmetric_gram`).

>>> import numpy as np
>>> kernel = QuantumKernel(feature_map='zz', n_qubits=2, reps=2)
>>> x = np.array([[0.1, 0.2], [1.0, 2.0], [0.1, 0.2]])
>>> gram = kernel.evaluate(x)
>>> gram.shape, bool(np.allclose(np.diag(gram), 1)), bool(np.isclose(gram[0, 2], 1))
((3, 3), True, True)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qnlp.engine.device import (Device, complex_dtype, resolve_device,
                                resolve_dtype)
from qnlp.models.circuits import make_feature_map
from qnlp.models.vqc import check_dense_size


class QuantumKernel:
    """Fidelity kernel of a feature map (``zz`` or ``angle``).

    ``dtype`` is the real or complex precision of the states, ``device``
    where they are computed; the Gram matrix comes back as float64 numpy.
    """

    def __init__(self, feature_map: str = 'zz', n_qubits: int = 2,
                 reps: int = 2, entanglement: str = 'full',
                 dtype: torch.dtype = torch.complex128,
                 device: Device = None) -> None:
        check_dense_size(n_qubits, reps)
        self.map = make_feature_map(feature_map, n_qubits, reps,
                                    entanglement)
        self.dtype = complex_dtype(dtype)
        self.device = resolve_device(device)

    def states(self, x: Any) -> torch.Tensor:
        """Encoded states ``(len(x), 2**n)``, one batched pass."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        return self.map.state(x, self.dtype, self.device).amplitudes

    def evaluate(self, x: Any, z: Any | None = None) -> np.ndarray:
        """The Gram matrix ``K[i, j] = |<phi(x_i)|phi(z_j)>|^2``.

        ``z`` defaults to ``x`` (the training kernel); for a test kernel
        pass test samples as ``x`` and training samples as ``z``.
        """
        with torch.no_grad():
            psi_x = self.states(x)
            if z is None:
                gram = symmetric_gram(psi_x)
            else:
                overlaps = psi_x @ self.states(z).conj().T
                gram = overlaps.real ** 2 + overlaps.imag ** 2
        return gram.cpu().numpy().astype(np.float64, copy=False)


def symmetric_gram(states: torch.Tensor, blocks: int = 8) -> torch.Tensor:
    """``|<s_i|s_j>|^2`` of the rows of ``states`` ``(m, 2**n)``, computed
    as one triangle and mirrored: on the CPU by BLAS's Hermitian rank-k
    update (``zherk``/``cherk``: the lower triangle of ``S S^H`` only),
    elsewhere block row ``i`` of ``blocks`` against the rows up to its own
    end (about ``(blocks + 1) / (2 blocks)`` of the products).

    >>> s = torch.randn(5, 4, dtype=torch.complex128)
    >>> s = s / s.norm(dim=1, keepdim=True)
    >>> full = (s @ s.conj().T).abs() ** 2
    >>> bool(torch.allclose(symmetric_gram(s), full))
    True
    """
    m = len(states)
    if states.device.type == 'cpu' and states.dtype in _HERK:
        from scipy.linalg import blas
        herk = getattr(blas, _HERK[states.dtype])
        # the lower triangle, column-major: its transpose is a row-major
        # upper triangle (of the conjugate: the same squared moduli)
        upper = torch.from_numpy(herk(1.0, states.resolve_conj().numpy(),
                                      lower=1).T)
        gram = upper.real ** 2 + upper.imag ** 2
        return gram.add_(torch.tril(gram.T, -1))
    gram = torch.empty(m, m, dtype=states.real.dtype, device=states.device)
    step = max(1, -(-m // blocks))
    for start in range(0, m, step):
        stop = min(m, start + step)
        overlaps = states[start:stop] @ states[:stop].conj().T
        block = overlaps.real ** 2 + overlaps.imag ** 2
        gram[start:stop, :stop] = block
        gram[:start, start:stop] = block[:, :start].T
    return gram


#: BLAS's Hermitian rank-k update by complex type.
_HERK = {torch.complex128: 'zherk', torch.complex64: 'cherk'}


def kernel_alignment(gram: np.ndarray, labels: Any) -> float:
    """Kernel-target alignment ``<K, yy^T>_F / (|K|_F |yy^T|_F)``.

    Labels are mapped to +-1 (two classes). 1 means the kernel already
    separates the classes perfectly.

    >>> round(kernel_alignment(np.array([[1., 0.], [0., 1.]]), [0, 1]), 3)
    0.707
    """
    classes, index = np.unique(np.asarray(labels), return_inverse=True)
    if len(classes) != 2:
        raise ValueError("kernel alignment needs exactly two classes")
    y = 2.0 * index - 1
    target = np.outer(y, y)
    return float(np.sum(gram * target) / (np.linalg.norm(gram)
                                          * np.linalg.norm(target)))
