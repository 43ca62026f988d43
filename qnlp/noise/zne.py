"""Zero-noise extrapolation: amplify the noise, fit, read off zero.

:func:`amplified` evaluates a :class:`~qnlp.noise.density.NoisyBatch`
at several noise scale factors, by one of :data:`AMPLIFIERS`:

* ``channels``: every channel strength times the factor (exact engine);
* ``gates`` / ``global``: unitary folding of each gate / of the whole
  circuit (odd factors), as mitiq's ``fold_gates_at_random`` /
  ``fold_global`` do on circuits for hardware.

:func:`extrapolate` fits each value's curve and returns its value at
zero noise with mitiq's factories (``RichardsonFactory``,
``PolyFactory``, ``ExpFactory``: their static ``extrapolate`` methods;
mitiq is the ``noise`` extra). :class:`NeuralExtrapolator` is the
feed-forward network of ZNE via neural networks: trained on (noise level,
noisy values at the scale factors) -> noiseless value pairs of training
circuits, applied to others.

>>> import numpy as np
>>> scales = [1, 2, 3]
>>> values = np.array([[0.9, 0.8, 0.7], [0.5, 0.25, 0.125]])  # line, 2^-s
>>> extrapolate(scales, values, 'richardson').round(6).tolist()
[1.0, 0.875]
>>> extrapolate(scales, values, 'exponential').round(6).tolist()
[1.0, 1.0]
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from qnlp.errors import ConfigError
from qnlp.noise.channels import NoiseSpec

#: How noise is amplified, and the default scale factors of each.
AMPLIFIERS = {'channels': (1.0, 2.0, 3.0), 'gates': (1, 3, 5),
              'global': (1, 3, 5)}
#: Extrapolators of :func:`extrapolate` (``poly``: quadratic least squares).
EXTRAPOLATORS = ('richardson', 'poly', 'exponential')


def _mitiq() -> Any:
    try:
        from mitiq import zne
    except ImportError:
        raise ConfigError("zero-noise extrapolation needs mitiq: pip "
                          "install 'qnlp[noise]'") from None
    return zne.inference


def amplified(batch: Any, weights: torch.Tensor, spec: NoiseSpec,
              amplifier: str = 'channels',
              scales: Sequence[float] | None = None) -> torch.Tensor:
    """Joint probabilities ``[scales, batch, outputs]`` of passing
    post-selection with each output, under ``spec`` amplified by each
    scale factor. They are expectation values (of projectors), what ZNE
    extrapolates; the post-selected distribution is their ratio to
    their sum and is renormalised after extrapolation."""
    if amplifier not in AMPLIFIERS:
        raise ConfigError(f"unknown noise amplifier {amplifier!r}; known: "
                          f"{', '.join(AMPLIFIERS)}")
    scales = AMPLIFIERS[amplifier] if scales is None else scales
    runs = [batch.run(weights, spec.scaled(s)) if amplifier == 'channels'
            else batch.run(weights, spec, (amplifier, int(s)))
            for s in scales]
    return torch.stack([r.probabilities * r.success.unsqueeze(-1)
                        for r in runs])


def extrapolate(scales: Sequence[float], values: np.ndarray,
                method: str = 'richardson') -> np.ndarray:
    """Zero-noise values of ``values[..., len(scales)]`` (one curve per
    leading index). An exponential fit that fails falls back to the
    straight line through the two lowest scales."""
    if method not in EXTRAPOLATORS:
        raise ConfigError(f"unknown extrapolator {method!r}; known: "
                          f"{', '.join(EXTRAPOLATORS)}")
    inference = _mitiq()
    values = np.asarray(values, dtype=float)
    flat = values.reshape(-1, values.shape[-1])
    scales = [float(s) for s in scales]
    out = np.empty(flat.shape[0])
    for k, curve in enumerate(flat):
        if method == 'richardson':
            out[k] = inference.RichardsonFactory.extrapolate(scales, curve)
        elif method == 'poly':
            out[k] = inference.PolyFactory.extrapolate(
                scales, curve, order=min(2, len(scales) - 1))
        else:
            try:
                out[k] = inference.ExpFactory.extrapolate(scales, curve)
            except Exception:   # mitiq's curve fit did not converge
                out[k] = inference.LinearFactory.extrapolate(
                    scales[:2], curve[:2])
    return out.reshape(values.shape[:-1])


def as_probabilities(values: np.ndarray) -> np.ndarray:
    """Extrapolated class values clipped to ``[0, 1]`` and renormalised
    over the last axis (a uniform row if all clip to zero).

    >>> as_probabilities(np.array([[1.1, -0.1], [0.0, 0.0]])).tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    clipped = np.clip(values, 0, 1)
    total = clipped.sum(-1, keepdims=True)
    uniform = np.full_like(clipped, 1 / clipped.shape[-1])
    return np.where(total > 0, clipped / np.where(total > 0, total, 1),
                    uniform)


class NeuralExtrapolator:
    """A small MLP from (noise level, values at the scale factors) to the
    noiseless value. Scale-free: it sees the values as ratios to the one
    at the lowest scale and predicts the relative correction to it, so an
    untrained network gives the unmitigated answer.

    >>> rng = np.random.default_rng(0)
    >>> true = rng.uniform(0.1, 1, 200); level = rng.uniform(0, 0.1, 200)
    >>> noisy = np.stack([true * np.exp(-s * 5 * level) for s in (1, 2, 3)],
    ...                  -1)
    >>> net = NeuralExtrapolator(steps=300).fit(level, noisy, true)
    >>> error = np.abs(net.predict(level, noisy) - true).mean()
    >>> bool(error < 0.25 * np.abs(noisy[:, 0] - true).mean())
    True
    """

    def __init__(self, hidden: int = 32, steps: int = 1500,
                 lr: float = 0.01, seed: int = 0) -> None:
        self.hidden, self.steps, self.lr, self.seed = hidden, steps, lr, seed
        self.net: torch.nn.Module | None = None

    @staticmethod
    def _features(levels: np.ndarray, values: np.ndarray
                  ) -> tuple[torch.Tensor, np.ndarray]:
        """Features (level, ratios to the first value) and that value."""
        levels = np.broadcast_to(np.asarray(levels, dtype=float),
                                 values.shape[:-1])
        first = values[..., :1]
        safe = np.where(np.abs(first) > 1e-12, first, 1e-12)
        x = np.concatenate([levels[..., None] * 10, values[..., 1:] / safe],
                           -1)
        return torch.as_tensor(x, dtype=torch.float64), safe[..., 0]

    def fit(self, levels: np.ndarray, values: np.ndarray,
            targets: np.ndarray) -> "NeuralExtrapolator":
        """Train on ``values[n, scales]`` at base noise ``levels[n]``
        towards the noiseless ``targets[n]`` (full-batch Adam)."""
        torch.manual_seed(self.seed)
        x, first = self._features(levels, np.asarray(values, dtype=float))
        y = torch.as_tensor(np.asarray(targets, dtype=float) / first - 1)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(x.shape[-1], self.hidden), torch.nn.Tanh(),
            torch.nn.Linear(self.hidden, self.hidden), torch.nn.Tanh(),
            torch.nn.Linear(self.hidden, 1)).double()
        optimiser = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)   # a net this small only loses by threads
        try:
            for _ in range(self.steps):
                optimiser.zero_grad()
                loss = ((self.net(x).squeeze(-1) - y) ** 2).mean()
                loss.backward()
                optimiser.step()
        finally:
            torch.set_num_threads(threads)
        return self

    def predict(self, levels: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Noiseless estimates for ``values[..., scales]``."""
        if self.net is None:
            raise ConfigError("the neural extrapolator is not trained")
        x, first = self._features(levels, np.asarray(values, dtype=float))
        with torch.no_grad():
            correction = self.net(x).squeeze(-1).numpy()
        return first * (1 + correction)
