"""Gradient inversion ("deep leakage from gradients", Zhu et al. 2019):
what an aggregator that sees one client's gradient learns of its input.

The attacker knows the model and its weights (it sent them) and the
range of the inputs (the feature pipeline is public: angles in
``[0, high]``); it sees the gradient ``g*`` of the loss of one example
``(x*, y*)``. It searches inputs ``x`` (kept in range as
``high * sigmoid(z)``) for each label ``y``, from several random
starts, minimising ``|g(x, y) - g*|^2 / |g*|^2`` with Adam, and keeps
the candidate whose gradient matches best (it cannot see ``x*``; the
label is inferred the same way, as in iDLG). The reconstruction error
is ``mean |x - x*| / high`` (0: exact; about 1/3 for a guess drawn
uniformly in range).

Models compared (:func:`leakage_models`): the VQC with the angle map,
the VQC with the ZZ map (2 reps), both 5 qubits + EfficientSU2 reps 2
(30 weights), and a classical network of similar size (5-4-1, tanh, 29
weights), all with the binary cross-entropy of ``P(class 1)``.

>>> import torch
>>> models = leakage_models(3, seed=0)
>>> x = torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64)
>>> found = invert(models['mlp'], x, 1, high=3.14, restarts=1, steps=100)
>>> found['error'] < 0.05, found['label'] == 1
(True, True)
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

#: model name -> P(class 1) of inputs ``(batch, features)``, with weights.
Model = Any


class _Circuit(torch.nn.Module):
    """A VQC as a function of raw angles (its feature map differentiable
    in the inputs, which :meth:`VariationalCircuit.encode` is not)."""

    def __init__(self, n: int, feature_map: str, seed: int) -> None:
        super().__init__()
        from qnlp.models.vqc import VariationalCircuit
        self.circuit = VariationalCircuit(
            n, feature_map, feature_reps=2 if feature_map == 'zz' else 1,
            reps=2, seed=seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.circuit(self.circuit.feature_map.state(x).amplitudes)


class _Network(torch.nn.Module):
    """``n``-4-1 network with tanh: P(class 1) = sigmoid(output)."""

    def __init__(self, n: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)
        ).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layers(x)).squeeze(1)


def leakage_models(n: int, seed: int = 0) -> dict[str, Model]:
    """The three models of the comparison on ``n`` features."""
    return {'vqc-angle': _Circuit(n, 'angle', seed),
            'vqc-zz': _Circuit(n, 'zz', seed),
            'mlp': _Network(n, seed)}


def _gradient(model: Model, x: torch.Tensor, y: torch.Tensor,
              create_graph: bool) -> list[torch.Tensor]:
    p = model(x).clamp(1e-9, 1 - 1e-9)
    loss = torch.nn.functional.binary_cross_entropy(p, y)
    return list(torch.autograd.grad(loss, list(model.parameters()),
                                    create_graph=create_graph))


def invert(model: Model, x: torch.Tensor, label: int, high: float,
           restarts: int = 4, steps: int = 300, lr: float = 0.1,
           seed: int = 0) -> dict[str, Any]:
    """Reconstruct the single example ``x`` (shape ``(1, n)``) with
    ``label`` from its gradient; returns the best candidate, its label,
    its gradient mismatch and its error (see the module docstring)."""
    y = torch.tensor([float(label)], dtype=torch.float64)
    observed = [g.detach() for g in _gradient(model, x, y, False)]
    scale = sum((g ** 2).sum() for g in observed).clamp_min(1e-30)
    generator = torch.Generator().manual_seed(seed)
    best: dict[str, Any] = {'mismatch': math.inf}
    for guess in (0, 1):
        target = torch.tensor([float(guess)], dtype=torch.float64)
        for _ in range(restarts):
            z = torch.randn(x.shape, generator=generator,
                            dtype=torch.float64).requires_grad_(True)
            optimiser = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                optimiser.zero_grad()
                found = _gradient(model, high * torch.sigmoid(z), target,
                                  True)
                mismatch = sum(((f - g) ** 2).sum() for f, g in
                               zip(found, observed)) / scale
                mismatch.backward()
                optimiser.step()
            with torch.no_grad():
                candidate = high * torch.sigmoid(z)
            final = float(sum(((f - g) ** 2).sum() for f, g in zip(
                _gradient(model, candidate, target, False), observed))
                / scale)
            if final < best['mismatch']:
                best = {'mismatch': final, 'label': guess,
                        'x': candidate.detach()}
    best['error'] = float((best['x'] - x).abs().mean() / high)
    return best


def leakage_report(data: Any, examples: int = 10, seed: int = 0,
                   restarts: int = 2, steps: int = 200,
                   report: Callable[[str], None] = print) -> dict[str, Any]:
    """Invert ``examples`` test reviews of the restaurant data ``data``
    (the sentiment task's features: 5 angles in ``[0, pi]``) against
    each model of :func:`leakage_models`; errors per model."""
    from qnlp.tasks import get_task
    task = get_task('sentiment')
    settings = task.Settings(seed=seed)
    loaded = task.load(str(data), settings, progress=False)
    features = torch.as_tensor(loaded.test.circuits, dtype=torch.float64)
    labels = loaded.test.labels
    high = settings.angle_max
    result: dict[str, Any] = {'examples': examples, 'restarts': restarts,
                              'steps': steps, 'high': high}
    for name, model in leakage_models(features.shape[1], seed).items():
        errors, labels_right, mismatches = [], 0, []
        for i in range(examples):
            found = invert(model, features[i:i + 1], int(labels[i]), high,
                           restarts, steps, seed=seed + i)
            errors.append(found['error'])
            mismatches.append(found['mismatch'])
            labels_right += found['label'] == int(labels[i])
        errors_t = torch.tensor(errors)
        result[name] = {
            'parameters': sum(p.numel() for p in model.parameters()),
            'mean_error': float(errors_t.mean()),
            'median_error': float(errors_t.median()),
            'recovered_share': float((errors_t < 0.05).double().mean()),
            'label_accuracy': labels_right / examples,
            'median_mismatch': float(torch.tensor(mismatches).median())}
        row = result[name]
        report(f"{name}: {row['parameters']} weights; reconstruction error "
               f"mean {row['mean_error']:.3f}, median "
               f"{row['median_error']:.3f}; recovered (error < 0.05) "
               f"{row['recovered_share']:.2f}; labels "
               f"{row['label_accuracy']:.2f}; median gradient mismatch "
               f"{row['median_mismatch']:.2e}")
    return result
