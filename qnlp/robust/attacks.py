"""Adversarial attacks on classifiers (inputs in a box, by default pixels
in [0, 1] -> logits; the sentiment models' reduced features through
:class:`qnlp.robust.features.FeatureLogits`).

Two homes, one per use:

* :func:`perturb` is FGSM and PGD (L-inf and L2) written with torch
  autograd. It is the inner loop of adversarial training
  (:class:`Adversary`): it runs on the model's device and dtype and draws
  its random start from the training run's generator, so a resumed run
  attacks exactly as an uninterrupted one.
* :func:`robust_accuracy` evaluates a trained model with the Adversarial
  Robustness Toolbox (``pip install 'qnlp[robust]'``): FGSM, PGD L-inf,
  PGD L2, the black-box Square attack (images) and HopSkipJump, through
  ART's ``PyTorchClassifier``. The quantum layers are torch modules simulated
  exactly, so ART's gradients are the engine's exact gradients.

Both step, clip to the box, then project on the epsilon ball, as ART does,
so without a random start they agree (tests/test_robust.py).

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
>>> pixels = torch.rand(3, 1, 2, 2)
>>> moved = perturb(model, pixels, torch.tensor([0, 1, 0]), 'pgd', 0.1)
>>> bool((moved - pixels).abs().max() <= 0.1 + 1e-6), moved.requires_grad
(True, False)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from qnlp.errors import ConfigError
from qnlp.robust.names import ATTACKS, WHITE_BOX

#: PGD iterations; step size ``2.5 * eps / steps`` (Madry et al. 2018).
PGD_STEPS = 10
#: Queries (iterations) of the Square attack.
SQUARE_QUERIES = 200
#: HopSkipJump: iterations, and the evaluations of one boundary-gradient
#: estimate (first and at most).
HSJ_ITERATIONS, HSJ_INIT_EVAL, HSJ_MAX_EVAL = 10, 25, 200


def perturb(model: torch.nn.Module, pixels: torch.Tensor,
            labels: torch.Tensor, attack: str, eps: float, *,
            steps: int = PGD_STEPS, step: float | None = None,
            random_start: bool = True,
            generator: torch.Generator | None = None,
            bounds: tuple[Any, Any] = (0, 1)) -> torch.Tensor:
    """Adversarial versions of ``pixels`` (in [0, 1]) that raise the
    cross-entropy of ``labels``: ``fgsm`` (one signed step of ``eps``),
    ``pgd`` (L-inf) or ``pgd-l2``, ``steps`` steps of ``step`` (default
    ``2.5 * eps / steps``) from a random point of the ball (drawn from
    ``generator`` on the CPU) unless ``random_start=False``. Inputs
    stay within ``bounds`` (numbers or per-feature tensors; pixels by
    default).

    The model is evaluated in eval mode (batch-norm running statistics
    are neither used from the batch nor updated) and restored after.
    """
    if attack not in WHITE_BOX:
        raise ConfigError(f"perturb takes {', '.join(WHITE_BOX)}, not "
                          f"{attack!r}")
    if attack == 'fgsm':
        steps, step, random_start = 1, eps, False
    step = 2.5 * eps / steps if step is None else step
    norm = 2 if attack == 'pgd-l2' else 'inf'
    clean = pixels.detach()
    low, high = (torch.as_tensor(b).to(clean) for b in bounds)
    adversarial = clean
    if random_start:
        noise = (torch.rand(clean.shape, generator=generator,
                            dtype=torch.float64) * 2 - 1).to(clean)
        if norm == 'inf':
            start = eps * noise
        else:   # a random direction, a radius uniform in [0, eps]
            radius = eps * torch.rand(len(clean), generator=generator,
                                      dtype=torch.float64).to(clean)
            start = noise / _norms(noise).clamp_min(1e-12) * radius.view(
                -1, *[1] * (clean.dim() - 1))
        adversarial = clean + _project((clean + start).clamp(low, high) - clean,
                                       eps, norm)
    was_training = model.training
    model.eval()
    try:
        for _ in range(steps):
            adversarial = adversarial.detach().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(model(adversarial),
                                                     labels)
            grad, = torch.autograd.grad(loss, adversarial)
            moved = (adversarial.detach() + step * _direction(grad, norm)
                     ).clamp(low, high)
            adversarial = clean + _project(moved - clean, eps, norm)
    finally:
        model.train(was_training)
    return adversarial.detach()


def _norms(values: torch.Tensor) -> torch.Tensor:
    """L2 norm of each sample, shaped to broadcast against it."""
    return values.flatten(1).norm(dim=1).view(-1, *[1] * (values.dim() - 1))


def _direction(grad: torch.Tensor, norm: Any) -> torch.Tensor:
    """The step direction: the gradient's sign (L-inf) or the gradient
    over its norm (L2, ART's tolerance 1e-7)."""
    if norm == 'inf':
        return grad.sign()
    return grad / (_norms(grad) + 1e-7)


def _project(delta: torch.Tensor, eps: float, norm: Any) -> torch.Tensor:
    """``delta`` moved into the ``eps`` ball of ``norm``."""
    if norm == 'inf':
        return delta.clamp(-eps, eps)
    return delta * torch.clamp(eps / (_norms(delta) + 1e-12), max=1.0)


@dataclass(frozen=True)
class Adversary:
    """The adversarial-training hook of :func:`qnlp.train.fit`
    (:attr:`qnlp.train.Hooks.adversary`): every training minibatch is
    replaced by its :func:`perturb` examples (Madry et al.'s PGD training
    when ``attack`` is ``pgd``)."""
    attack: str
    eps: float
    steps: int = PGD_STEPS

    def __call__(self, model: torch.nn.Module, pixels: torch.Tensor,
                 labels: torch.Tensor, generator: torch.Generator
                 ) -> torch.Tensor:
        return perturb(model, pixels, labels, self.attack, self.eps,
                       steps=self.steps, generator=generator)


# ------------------------------------------------ evaluation (ART) ------

def _art() -> Any:
    try:
        import art.attacks.evasion as evasion
        from art.estimators.classification import PyTorchClassifier
    except ImportError:
        raise ConfigError("attacks need the Adversarial Robustness Toolbox: "
                          "pip install 'qnlp[robust]'") from None
    return evasion, PyTorchClassifier


class _Float32Inputs(torch.nn.Module):
    """ART hands float32 arrays; cast them to the model's dtype."""

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(pixels.to(self.dtype)).float()


def _placed(model: torch.nn.Module) -> torch.Tensor:
    """A tensor of ``model`` (a parameter, else a buffer): its dtype and
    device are the model's."""
    return next(iter([*model.parameters(), *model.buffers()]))


def art_classifier(model: torch.nn.Module, shape: Sequence[int],
                   n_classes: int, bounds: tuple[Any, Any] = (0, 1)) -> Any:
    """``model`` (inputs within ``bounds``, pixels by default ->
    logits) as ART's ``PyTorchClassifier`` with those clip values."""
    _, PyTorchClassifier = _art()
    placed = _placed(model)
    clip = tuple(np.asarray(torch.as_tensor(b).cpu(), dtype=np.float32)
                 for b in bounds)
    return PyTorchClassifier(
        _Float32Inputs(model, placed.dtype), loss=torch.nn.CrossEntropyLoss(),
        input_shape=tuple(shape), nb_classes=n_classes, clip_values=clip,
        device_type='gpu' if placed.device.type == 'cuda' else 'cpu')


def art_attack(classifier: Any, attack: str, eps: float, *,
               batch_size: int = 256, seed: int = 0) -> Any:
    """ART's evasion attack ``attack`` at ``eps`` on ``classifier``."""
    evasion, _ = _art()
    if attack == 'fgsm':
        return evasion.FastGradientMethod(classifier, norm='inf', eps=eps,
                                          batch_size=batch_size)
    if attack in ('pgd', 'pgd-l2'):
        return evasion.ProjectedGradientDescent(
            classifier, norm='inf' if attack == 'pgd' else 2, eps=eps,
            eps_step=2.5 * eps / PGD_STEPS, max_iter=PGD_STEPS,
            num_random_init=1, batch_size=batch_size, verbose=False)
    if attack == 'square':
        return evasion.SquareAttack(classifier, norm='inf', eps=eps,
                                    max_iter=SQUARE_QUERIES, nb_restarts=1,
                                    batch_size=batch_size, verbose=False)
    if attack == 'hsj':
        return evasion.HopSkipJump(classifier, norm=np.inf,
                                   max_iter=HSJ_ITERATIONS,
                                   init_eval=HSJ_INIT_EVAL,
                                   max_eval=HSJ_MAX_EVAL,
                                   batch_size=batch_size, verbose=False)
    raise ConfigError(f"unknown attack {attack!r}; choose one of "
                      f"{', '.join(ATTACKS)}")


def robust_accuracy(model: torch.nn.Module, pixels: torch.Tensor,
                    labels: torch.Tensor,
                    attacks: Sequence[tuple[str, float]], *, seed: int = 0,
                    bounds: tuple[Any, Any] = (0, 1)) -> dict[str, float]:
    """Clean accuracy and the accuracy under each ``(attack, eps)``
    (keys ``clean`` and ``NAME:EPS``), attacks from ART, inputs kept
    within ``bounds`` (pixels by default); ``seed`` fixes their random
    starts and squares.

    HopSkipJump (``hsj``) looks for the smallest L-inf change that flips
    the decision, whatever ``eps``: an example counts as broken at
    ``eps`` when the change it found is at most ``eps`` (one search,
    shared by every ``hsj`` epsilon)."""
    n_classes = _n_classes(model, pixels)
    classifier = art_classifier(model, pixels.shape[1:], n_classes, bounds)
    x = pixels.detach().cpu().float().numpy()
    y = labels.cpu().numpy()
    right = classifier.predict(x).argmax(1) == y
    accuracy = {'clean': float(right.mean())}
    searched = None
    for attack, eps in attacks:
        np.random.seed(seed)   # ART draws its random starts from numpy
        if attack == 'hsj':
            if searched is None:
                moved = art_attack(classifier, attack, eps).generate(x, y=y)
                searched = (classifier.predict(moved).argmax(1) != y,
                            np.abs(moved - x).reshape(len(x), -1).max(1))
            flipped, distance = searched
            still = right & ~(flipped & (distance <= eps * (1 + 1e-6)))
        else:
            moved = art_attack(classifier, attack, eps).generate(x, y=y)
            still = classifier.predict(moved).argmax(1) == y
        accuracy[f'{attack}:{eps:g}'] = float(still.mean())
    return accuracy


def _n_classes(model: torch.nn.Module, pixels: torch.Tensor) -> int:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        width = model(pixels[:1].to(_placed(model))).shape[1]
    model.train(was_training)
    return int(width)
