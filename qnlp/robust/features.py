"""Attacks on feature-vector classifiers "through the feature pipeline".

The sentiment task turns a review into angles by text -> embedding (or
TF-IDF) -> standard scaling -> PCA (or truncated SVD) to ``k`` numbers
-> ``MinMaxScaler`` to ``[0, angle_max]`` (clipped). The attacker moves
the ``k`` reduced features, the PCA output, so epsilon is in the units
of the standardised features (PCA is an orthogonal projection: an L2
step of ``eps`` here is an L2 step of ``eps`` in the standardised
embedding space). Text-level attacks (words, characters) are out of
scope.

:class:`FeatureLogits` is the map reduced features -> log-probabilities
as a torch module, with the fitted scaler in it and a differentiable
head: the VQC (exact gradients through the engine's statevector), the
QSVC (its decision ``K(x, support) @ dual_coef + intercept`` with the
kernel states built in torch, so the gradient is exact too), and the
classical baselines scikit-learn fits on the same angles that have a
closed form (logistic regression, RBF SVC). :mod:`qnlp.robust.attacks`
attacks it like an image model, inside the box of the reduced features
the scaler was fitted on (beyond it the clipped angles do not move).

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.preprocessing import MinMaxScaler
>>> z = np.array([[-1.0, 0.0], [1.0, 0.5], [-0.5, 1.0], [0.8, -1.0]])
>>> scaler = MinMaxScaler((0, np.pi), clip=True).fit(z)
>>> head = LogisticRegression().fit(scaler.transform(z), [0, 1, 0, 1])
>>> module = FeatureLogits(scaler, head)
>>> probabilities = module(torch.from_numpy(z)).exp().detach().numpy()
>>> bool(np.allclose(probabilities, head.predict_proba(scaler.transform(z))))
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from qnlp.errors import ConfigError
from qnlp.models.vqc import VQCModel

#: Log-probabilities are taken of probabilities at least this large.
TINY = 1e-12
#: Relative width of the box of a feature seen constant (ART wants
#: lower < upper in float32).
WIDTH = 1e-5


class FeatureLogits(torch.nn.Module):
    """Reduced features ``(batch, k)`` -> log class probabilities
    ``(batch, 2)`` of ``head`` on the angles of the fitted ``scaler``
    (a ``MinMaxScaler`` with ``clip=True``). ``lower``/``upper`` are the
    box of reduced features the scaler saw (the attack's clip values; a
    feature the scaler saw constant gets a box of width ``WIDTH``
    relative, in which its angle barely moves).
    """

    def __init__(self, scaler: Any, head: Any) -> None:
        super().__init__()
        for name, value in (('scale', scaler.scale_), ('shift', scaler.min_),
                            ('lower', scaler.data_min_),
                            ('upper', scaler.data_max_)):
            self.register_buffer(name, torch.as_tensor(
                np.asarray(value, dtype=np.float64)))
        self.upper = torch.maximum(self.upper, self.lower + WIDTH * (
            1 + self.lower.abs()))
        self.range = tuple(float(v) for v in scaler.feature_range)
        self.head = head
        self.probabilities = _head(head)

    def angles(self, features: torch.Tensor) -> torch.Tensor:
        """The scaler's angles, clipped to its range, as it does."""
        return (features * self.scale + self.shift).clamp(*self.range)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        probabilities = self.probabilities(self.angles(
            features.to(torch.float64)))
        return probabilities.clamp_min(TINY).log()


def _binary(decision: torch.Tensor) -> torch.Tensor:
    """``[sigmoid(-d), sigmoid(d)]``: class 1 where the decision is > 0."""
    return torch.stack([torch.sigmoid(-decision), torch.sigmoid(decision)],
                       dim=1)


def _head(head: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """Angles -> class probabilities of ``head``, differentiable."""
    from qnlp.models.kernel import KernelModel
    if isinstance(head, AngleInputVQC):
        return head
    if type(head) is VQCModel:
        return lambda x: head(head.state_of(x.to(head.weights.dtype)))
    if isinstance(head, KernelModel):
        kernel = head.kernel
        with torch.no_grad():
            support = kernel.states(head.support.cpu().numpy())
        return lambda x: _binary(kernel.gram_of_states(
            kernel.states(x), support).to(torch.float64)
            @ head.dual_coef + head.intercept)
    kind = type(head).__name__
    if kind == 'LogisticRegression':
        coef, intercept = (torch.as_tensor(np.asarray(v, dtype=np.float64))
                           for v in (head.coef_[0], head.intercept_[0]))
        return lambda x: _binary(x @ coef + intercept)
    if kind == 'SVC' and head.kernel == 'rbf':
        support, dual, intercept = (
            torch.as_tensor(np.asarray(v, dtype=np.float64))
            for v in (head.support_vectors_, head.dual_coef_[0],
                      head.intercept_[0]))
        gamma = float(head._gamma)
        return lambda x: _binary(torch.exp(
            -gamma * torch.cdist(x, support) ** 2) @ dual + intercept)
    raise ConfigError(f"attacks take the exact VQC, the QSVC, logistic "
                      f"regression or the RBF SVM, not {kind} (noisy or "
                      f"shot-trained VQCs and tree ensembles have no "
                      f"gradient to attack with)")


def attackable(name: str) -> bool:
    """Whether baseline classifier ``name`` has a :class:`FeatureLogits`.

    >>> attackable('logistic-regression'), attackable('random-forest')
    (True, False)
    """
    return name in ('logistic-regression', 'svm-rbf')


class AngleInputVQC(VQCModel):
    """The VQC with the angles themselves as its inputs (``prepare``
    keeps them; ``forward`` encodes them, differentiably), so that
    adversarial training can move them: same weights and checkpoints as
    :class:`~qnlp.models.vqc.VQCModel`, the same outputs.

    >>> x = torch.rand(3, 2, dtype=torch.float64)
    >>> plain, moved = VQCModel(2, reps=1), AngleInputVQC(2, reps=1)
    >>> bool(torch.allclose(plain(plain.prepare(x)), moved(moved.prepare(x))))
    True
    """

    def prepare(self, features: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(features, dtype=np.float64)).to(
            self.weights.device)

    def forward(self, angles: torch.Tensor) -> torch.Tensor:
        return super().forward(self.state_of(angles.to(self.weights.dtype)))


@dataclass(frozen=True)
class FeatureAdversary:
    """The adversarial-training hook (:attr:`qnlp.train.Hooks.adversary`)
    of an :class:`AngleInputVQC`: each minibatch of angles is mapped back
    to reduced features through the fitted ``scaler``, attacked there
    (:func:`~qnlp.robust.attacks.perturb`, ``eps`` in the units of the
    attacks of :func:`qnlp.tasks.sentiment.attacked`) and mapped to angles
    again."""
    attack: str
    eps: float
    scaler: Any

    def __call__(self, model: torch.nn.Module, angles: torch.Tensor,
                 labels: torch.Tensor, generator: torch.Generator
                 ) -> torch.Tensor:
        from qnlp.robust.attacks import perturb
        module = FeatureLogits(self.scaler, model).to(angles.device)
        features = (angles.to(torch.float64) - module.shift) / module.scale
        moved = perturb(module, features, labels, self.attack, self.eps,
                        generator=generator,
                        bounds=(module.lower, module.upper))
        return module.angles(moved).to(angles.dtype)
