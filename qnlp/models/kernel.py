"""Quantum kernels: the fidelity kernel, its trainable form, and the
projected kernel (their estimators, :class:`~qnlp.train.estimators.
QuantumKernelSVC`, ``QuantumKernelRidge`` and ``QuantumKernelSVR``,
live with the other estimators).

* :class:`QuantumKernel`: ``K(x, z) = |<phi(x)|phi(z)>|^2`` (Havlicek et
  al. 2019), the feature map ``zz``, ``angle`` or any parametrised qiskit
  circuit (:class:`~qnlp.models.qiskit_maps.QiskitFeatureMap`). With
  trainable weights (a circuit's ``training_parameters``, or
  ``trainable=True``: a rotation layer in front of a built-in map,
  :class:`TrainableFeatureMap`) they start at
  zero and :func:`train_alignment` fits them by maximising the
  kernel-target alignment, with torch autograd through the kernel.
* :class:`ProjectedQuantumKernel`: Huang et al. 2021's projected kernel,
  ``exp(-gamma sum_q ||rho_q(x) - rho_q(z)||_F^2)`` over the one-qubit
  reduced density matrices ``rho_q`` of the encoded states.

The Gram matrix is not built entry by entry: every sample is encoded
once into a statevector (one batched pass over the data), and all
overlaps come from one matrix product ``Psi_x @ Psi_z^H``; the symmetric
training kernel as one triangle of it (:func:`symmetric_gram`).

>>> import numpy as np
>>> kernel = QuantumKernel(feature_map='zz', n_qubits=2, reps=2)
>>> x = np.array([[0.1, 0.2], [1.0, 2.0], [0.1, 0.2]])
>>> gram = kernel.evaluate(x)
>>> gram.shape, bool(np.allclose(np.diag(gram), 1)), bool(np.isclose(gram[0, 2], 1))
((3, 3), True, True)
>>> projected = ProjectedQuantumKernel(n_qubits=2, reps=2, gamma=0.5).evaluate(x)
>>> bool(np.allclose(np.diag(projected), 1)), bool(0 < projected[0, 1] < 1)
(True, True)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qnlp.engine.device import (Device, complex_dtype, resolve_device,
                                resolve_dtype)
from qnlp.engine.statevector import Statevector
from qnlp.errors import ConfigError
from qnlp.models.circuits import make_feature_map
from qnlp.models.fingerprint import Fingerprinted
from qnlp.models.qiskit_maps import QiskitFeatureMap
from qnlp.models.vqc import check_dense_size


class TrainableFeatureMap:
    """A built-in map (``zz`` or ``angle``) with a trainable layer in
    front: ``RY(θ_q)`` on every qubit before the ``zz`` map
    (qiskit-machine-learning's tutorial kernel), ``RX(θ_q)`` before the
    ``angle`` encoding (a ``RY`` would only shift its angles).

    >>> fmap = TrainableFeatureMap('zz', 2, reps=1)
    >>> fmap.n_weights, fmap.to_qiskit()[0].num_parameters
    (2, 4)
    """

    def __init__(self, name: str, n_qubits: int, reps: int = 2,
                 entanglement: str = 'full') -> None:
        self.name, self.n_qubits = name, n_qubits
        self.reps, self.entanglement = reps, entanglement
        self.map = make_feature_map(name, n_qubits, reps, entanglement)
        self.rotation = 'ry' if name == 'zz' else 'rx'
        self.n_weights = n_qubits

    def state(self, x: torch.Tensor, dtype: torch.dtype = torch.complex128,
              device: Any = None, weights: torch.Tensor | None = None
              ) -> Statevector:
        """The encoded states of ``x`` after the layer of ``weights``."""
        state = Statevector.zeros(len(x), self.n_qubits, dtype, device)
        weights = weights.to(state.device)
        for q in range(self.n_qubits):
            getattr(state, self.rotation)(weights[q], q)
        return self.map.apply(state, x)

    def to_qiskit(self) -> tuple[Any, Any]:
        """The same circuit in qiskit and its training parameters ``θ``."""
        from qiskit.circuit import ParameterVector, QuantumCircuit
        from qiskit.circuit.library import z_feature_map
        theta = ParameterVector('θ', self.n_qubits)
        circuit = QuantumCircuit(self.n_qubits)
        for q in range(self.n_qubits):
            getattr(circuit, self.rotation)(theta[q], q)
        # qiskit's zz_feature_map refuses one qubit: without pairs it is
        # the z_feature_map
        circuit.compose(z_feature_map(1, reps=self.reps)
                        if self.name == 'zz' and self.n_qubits == 1
                        else self.map.to_qiskit(), inplace=True)
        return circuit, theta


class QuantumKernel:
    """Fidelity kernel of a feature map: ``zz``, ``angle`` or a qiskit
    ``QuantumCircuit`` (features: its parameters but the
    ``training_parameters``; ``n_qubits``, ``reps`` and ``entanglement``
    are then the circuit's own).

    ``trainable=True`` puts a trainable rotation layer in front of a
    built-in map. Trainable weights are in ``weights`` (float64, zero at
    first: the trainable ``zz`` kernel starts as the plain one).
    ``dtype`` is the real or complex precision of the states, ``device``
    where they are computed; the Gram matrix comes back as float64 numpy.
    """

    def __init__(self, feature_map: Any = 'zz', n_qubits: int = 2,
                 reps: int = 2, entanglement: str = 'full',
                 dtype: torch.dtype = torch.complex128,
                 device: Device = None, trainable: bool = False,
                 training_parameters: Any = None) -> None:
        self.dtype = complex_dtype(dtype)
        self.device = resolve_device(device)
        if not isinstance(feature_map, str):
            self.map = QiskitFeatureMap(feature_map, training_parameters)
            check_dense_size(self.map.n_qubits)
        else:
            if training_parameters is not None:
                raise ConfigError("training_parameters name parameters of a "
                                  "qiskit circuit feature map; for "
                                  f"{feature_map!r} use trainable=True")
            check_dense_size(n_qubits, reps)
            self.map = (TrainableFeatureMap(feature_map, n_qubits, reps,
                                            entanglement) if trainable
                        else make_feature_map(feature_map, n_qubits, reps,
                                              entanglement))
        count = getattr(self.map, 'n_weights', 0)
        self.weights = torch.zeros(count, dtype=torch.float64) \
            if count else None

    @property
    def n_features(self) -> int:
        """Features per sample."""
        return getattr(self.map, 'n_features', self.map.n_qubits)

    def states(self, x: Any) -> torch.Tensor:
        """Encoded states ``(len(x), 2**n)``, one batched pass
        (differentiable in ``weights``, and in ``x`` when it is a
        tensor: attacks move the features)."""
        x = x.to(torch.float64) if isinstance(x, torch.Tensor) else \
            torch.as_tensor(np.asarray(x, dtype=np.float64))
        if self.weights is None:
            return self.map.state(x, self.dtype, self.device).amplitudes
        return self.map.state(x, self.dtype, self.device,
                              weights=self.weights).amplitudes

    def gram_of_states(self, psi_x: torch.Tensor,
                       psi_z: torch.Tensor) -> torch.Tensor:
        """``K[i, j]`` of encoded states (torch, differentiable)."""
        overlaps = psi_x @ psi_z.conj().T
        return overlaps.real ** 2 + overlaps.imag ** 2

    def gram(self, x: Any, z: Any | None = None) -> torch.Tensor:
        """The Gram matrix as a differentiable torch tensor."""
        psi_x = self.states(x)
        return self.gram_of_states(psi_x, psi_x if z is None
                                   else self.states(z))

    def evaluate(self, x: Any, z: Any | None = None) -> np.ndarray:
        """The Gram matrix ``K[i, j] = K(x_i, z_j)``.

        ``z`` defaults to ``x`` (the training kernel); for a test kernel
        pass test samples as ``x`` and training samples as ``z``.
        """
        with torch.no_grad():
            psi_x = self.states(x)
            gram = self.training_gram_of_states(psi_x) if z is None \
                else self.gram_of_states(psi_x, self.states(z))
        return gram.cpu().numpy().astype(np.float64, copy=False)

    def training_gram_of_states(self, states: torch.Tensor) -> torch.Tensor:
        """The symmetric ``K[i, j]`` of encoded states, one triangle
        (:func:`symmetric_gram`; no gradient)."""
        return symmetric_gram(states)


class ProjectedQuantumKernel(QuantumKernel):
    """Huang et al. 2021's projected quantum kernel: a Gaussian kernel of
    width ``gamma`` on the one-qubit reduced density matrices of the
    encoded states (other parameters as :class:`QuantumKernel`)."""

    def __init__(self, feature_map: Any = 'zz', n_qubits: int = 2,
                 reps: int = 2, entanglement: str = 'full',
                 dtype: torch.dtype = torch.complex128,
                 device: Device = None, trainable: bool = False,
                 training_parameters: Any = None,
                 gamma: float = 1.0) -> None:
        super().__init__(feature_map, n_qubits, reps, entanglement, dtype,
                         device, trainable, training_parameters)
        if not gamma > 0:
            raise ConfigError(f"gamma must be positive, got {gamma}")
        self.gamma = gamma

    def gram_of_states(self, psi_x: torch.Tensor,
                       psi_z: torch.Tensor) -> torch.Tensor:
        a, b = reduced_density_features(psi_x), reduced_density_features(
            psi_z)
        distances = torch.cdist(a, b, compute_mode=(
            'donot_use_mm_for_euclid_dist')) ** 2
        return torch.exp(-self.gamma * distances)

    def training_gram_of_states(self, states: torch.Tensor) -> torch.Tensor:
        return self.gram_of_states(states, states)


class KernelModel(Fingerprinted, torch.nn.Module):
    """A fitted quantum-kernel SVC as a model: ``forward`` gives
    ``[sigmoid(-d), sigmoid(d)]`` of the SVC's decision ``d =
    K(x, support) @ dual_coef + intercept`` with the
    :class:`QuantumKernel` of ``feature_map``, ``n_qubits``, ``reps`` and
    ``entanglement``; support vectors, dual coefficients and intercept
    are buffers (the weights of a run, nothing to train). Checkpoints
    carry the kernel's settings (:mod:`qnlp.models.fingerprint`):
    support vectors fitted with one feature map are refused by a model
    of another.

    >>> model = KernelModel('angle', 2, 1, 'linear', [[0.1, 0.2], [2.0, 1.0]],
    ...                     [1.0, -1.0], [0.0])
    >>> probabilities = model(model.prepare([[0.1, 0.2]]))
    >>> tuple(probabilities.shape), bool(probabilities[0, 1] > 0.5)
    ((1, 2), True)
    """

    def __init__(self, feature_map: str, n_qubits: int, reps: int,
                 entanglement: str, support: Any, dual_coef: Any,
                 intercept: Any, dtype: str = 'float64',
                 device: Device = None) -> None:
        super().__init__()
        self.kernel = QuantumKernel(feature_map, n_qubits, reps,
                                    entanglement,
                                    complex_dtype(resolve_dtype(dtype)),
                                    device)
        self.kernel_settings = {'feature map': feature_map,
                                'qubits': n_qubits, 'feature reps': reps,
                                'entanglement': entanglement}
        for name, value in (('support', support), ('dual_coef', dual_coef),
                            ('intercept', intercept)):
            self.register_buffer(name, torch.as_tensor(
                np.asarray(value, dtype=np.float64)))
        #: Fitted numbers (the runner reports them as the parameters).
        self.n_parameters = int(self.dual_coef.numel()
                                + self.intercept.numel())

    def fingerprint(self) -> dict[str, Any]:
        """The kernel a checkpoint's support vectors were fitted with."""
        return dict(self.kernel_settings)

    def prepare(self, features: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(features, dtype=np.float64))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        gram = torch.from_numpy(self.kernel.evaluate(
            features.cpu().numpy(), self.support.cpu().numpy()))
        decision = gram @ self.dual_coef + self.intercept
        return torch.stack([torch.sigmoid(-decision),
                            torch.sigmoid(decision)], dim=1)


def reduced_density_features(states: torch.Tensor) -> torch.Tensor:
    """The one-qubit reduced density matrices of the rows of ``states``
    ``(batch, 2**n)``, real and imaginary parts flattened to ``(batch,
    8 n)``: their Euclidean distance is ``sqrt(sum_q ||rho_q - sigma_q||_F^2)``.

    >>> plus = torch.full((1, 2), 2 ** -0.5, dtype=torch.complex128)
    >>> reduced_density_features(plus).reshape(2, 2, 2)[..., 0].tolist()
    [[0.5000000000000001, 0.5000000000000001], [0.5000000000000001, 0.5000000000000001]]
    """
    batch, size = states.shape
    n = size.bit_length() - 1
    tensor = states.reshape((batch,) + (2,) * n)
    blocks = []
    for qubit in range(n):
        # qiskit's qubit q is bit q of the index: axis n - q of the tensor
        psi = tensor.movedim(n - qubit, 1).reshape(batch, 2, -1)
        blocks.append(torch.view_as_real(psi @ psi.mH).reshape(batch, -1))
    return torch.cat(blocks, dim=1)


def symmetric_gram(states: torch.Tensor, blocks: int = 8) -> torch.Tensor:
    """``|<s_i|s_j>|^2`` of the rows of ``states`` ``(m, 2**n)``, computed
    as one triangle and mirrored. On the CPU in numpy, block row by block
    row of about 1 MB of overlaps (in cache): one ``gemm`` against the
    rows up to the block's end, the squared moduli as the overlaps'
    (real, imaginary) pairs squared in place and added pairwise straight
    into the result (two vectorised passes; an ``einsum`` over the pairs
    takes about twice as long), the block's columns above the diagonal
    mirrored from its row. Elsewhere
    in torch, block row ``i`` of ``blocks`` against the rows up to its own
    end (about ``(blocks + 1) / (2 blocks)`` of the products).

    >>> s = torch.randn(5, 4, dtype=torch.complex128)
    >>> s = s / s.norm(dim=1, keepdim=True)
    >>> full = (s @ s.conj().T).abs() ** 2
    >>> bool(torch.allclose(symmetric_gram(s), full))
    True
    """
    m = len(states)
    if states.device.type == 'cpu' and states.dtype in _REAL:
        rows = states.resolve_conj().numpy()
        adjoint = rows.conj().T.copy()
        gram = np.empty((m, m), dtype=_REAL[states.dtype])
        step = max(32, _BLOCK_BYTES // (rows.itemsize * max(m, 1)))
        for start in range(0, m, step):
            stop = min(m, start + step)
            pairs = (rows[start:stop] @ adjoint[:, :stop]).view(gram.dtype)
            np.multiply(pairs, pairs, out=pairs)
            np.add(pairs[:, 0::2], pairs[:, 1::2],
                   out=gram[start:stop, :stop])
            gram[:start, start:stop] = gram[start:stop, :start].T
        return torch.from_numpy(gram)
    gram = torch.empty(m, m, dtype=states.real.dtype, device=states.device)
    step = max(1, -(-m // blocks))
    for start in range(0, m, step):
        stop = min(m, start + step)
        overlaps = states[start:stop] @ states[:stop].conj().T
        block = overlaps.real ** 2 + overlaps.imag ** 2
        gram[start:stop, :stop] = block
        gram[:start, start:stop] = block[:, :start].T
    return gram


#: The numpy path of :func:`symmetric_gram`: the real type of the squared
#: moduli by complex type, and the bytes of overlaps per block row.
_REAL = {torch.complex128: np.float64, torch.complex64: np.float32}
_BLOCK_BYTES = 2 ** 20


def alignment_target(labels: Any) -> np.ndarray:
    """The ideal kernel of class ``labels``: ``+1`` where two samples
    share a class, ``-1`` where not (two classes: ``y y^T`` for ``y`` in
    ``{-1, 1}``).

    >>> alignment_target(['a', 'b', 'a']).tolist()
    [[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]
    """
    labels = np.asarray(labels)
    return np.where(labels[:, None] == labels[None, :], 1.0, -1.0)


def alignment(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``<K, T>_F / (|K|_F |T|_F)`` (torch, differentiable)."""
    return (gram * target).sum() / (gram.norm() * target.norm())


def kernel_alignment(gram: np.ndarray, labels: Any) -> float:
    """Kernel-target alignment ``<K, yy^T>_F / (|K|_F |yy^T|_F)``.

    Labels are mapped to +-1 (two classes). 1 means the kernel already
    separates the classes perfectly.

    >>> round(kernel_alignment(np.array([[1., 0.], [0., 1.]]), [0, 1]), 3)
    0.707
    """
    if len(np.unique(np.asarray(labels))) != 2:
        raise ValueError("kernel alignment needs exactly two classes")
    return float(alignment(torch.as_tensor(gram, dtype=torch.float64),
                           torch.from_numpy(alignment_target(labels))))


def train_alignment(kernel: QuantumKernel, x: Any, target: Any,
                    steps: int = 50, lr: float = 0.1) -> list[float]:
    """Fit ``kernel.weights`` by maximising its alignment with ``target``
    (e.g. :func:`alignment_target` of the labels): ``steps`` steps of
    Adam on exact autograd gradients. Returns the alignment before every
    step and after the last.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, np.pi, (12, 2)); y = (x[:, 0] > x[:, 1]).astype(int)
    >>> kernel = QuantumKernel('zz', 2, reps=1, trainable=True)
    >>> curve = train_alignment(kernel, x, alignment_target(y), steps=20)
    >>> len(curve), curve[-1] > curve[0]
    (21, True)
    """
    if kernel.weights is None:
        raise ValueError("the kernel has no trainable weights")
    weights = kernel.weights.clone().requires_grad_(True)
    kernel.weights = weights
    target = torch.as_tensor(target, dtype=torch.float64)
    optimiser = torch.optim.Adam([weights], lr=lr)
    curve = []
    for _ in range(steps):
        optimiser.zero_grad()
        value = alignment(kernel.gram(x).to(torch.float64), target)
        curve.append(float(value.detach()))
        (-value).backward()
        optimiser.step()
    kernel.weights = weights.detach()
    with torch.no_grad():
        curve.append(float(alignment(kernel.gram(x).to(torch.float64),
                                     target)))
    return curve
