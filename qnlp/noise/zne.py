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
>>> extrapolate(scales, values, 'linear').round(6).tolist()
[1.0, 0.666667]
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
#: Extrapolators of :func:`extrapolate` (``poly``: quadratic least
#: squares; ``linear``: a least-squares line, what amplifies shot noise
#: least).
EXTRAPOLATORS = ('richardson', 'poly', 'exponential', 'linear')


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
        elif method == 'linear':
            out[k] = inference.LinearFactory.extrapolate(scales, curve)
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


def richardson_weights(scales: Sequence[float]) -> np.ndarray:
    """Lagrange weights of the values at ``scales`` for their polynomial
    interpolant's value at zero: Richardson extrapolation as a dot
    product (the same as mitiq's ``RichardsonFactory``).

    >>> richardson_weights([1, 2, 3]).tolist()
    [3.0, -3.0, 1.0]
    """
    s = np.asarray(scales, dtype=float)
    return np.array([np.prod([s[j] / (s[j] - s[i]) for j in range(len(s))
                              if j != i]) for i in range(len(s))])


#: Estimates the neural extrapolator corrects (:class:`NeuralExtrapolator`).
NN_BASES = ('richardson', 'lowest')


class NeuralExtrapolator:
    """The feed-forward network of ZNE via neural networks: from (noise
    level, values at the scale factors) to the noiseless value, trained
    on circuits whose noiseless values are known, applied to others.

    * Features (standardised on the training rows): the noise level, the
      value at the lowest scale and the Newton divided differences of the
      values in the noise level ``level * scale`` (estimates of the
      derivatives, ``len(scales) - 1`` of them).
    * Target: the correction to a base estimate, Richardson's zero-noise
      value (``richardson``) or the value at the lowest scale
      (``lowest``), optionally divided by the order of that estimate's
      error (``level ** len(scales)`` for Richardson, ``level`` for the
      lowest scale), so one network serves every level.
    * Which base, and whether to divide, is chosen on a validation split
      carved from the training rows (``groups``: whole circuits at a
      time), on which each network also stops early; ``seeds`` networks
      of the chosen kind are averaged.

    An untrained network's output (zero) gives the base estimate.

    >>> rng = np.random.default_rng(0)
    >>> true = rng.uniform(0.1, 1, 200); level = rng.uniform(0, 0.1, 200)
    >>> noisy = np.stack([true * np.exp(-s * 5 * level) for s in (1, 2, 3)],
    ...                  -1)
    >>> net = NeuralExtrapolator(steps=100, seeds=1, bases=['richardson'])
    >>> net = net.fit(level, noisy, true)
    >>> net.choice['base'], sorted(net.choice['candidates'])
    ('richardson', ['richardson', 'richardson/order'])
    >>> error = np.abs(net.predict(level, noisy) - true).mean()
    >>> bool(error < 0.25 * np.abs(noisy[:, 0] - true).mean())
    True
    """

    def __init__(self, scales: Sequence[float] = AMPLIFIERS['channels'],
                 hidden: int = 32, steps: int = 2000, lr: float = 0.01,
                 weight_decay: float = 1e-4, validation: float = 0.2,
                 seeds: int = 3, seed: int = 0,
                 bases: Sequence[str] = NN_BASES) -> None:
        unknown = sorted(set(bases) - set(NN_BASES))
        if unknown or not bases:
            raise ConfigError(f"neural extrapolator bases must be among "
                              f"{NN_BASES}, got {list(bases)}")
        self.scales = np.asarray(scales, dtype=float)
        self.hidden, self.steps, self.lr = hidden, steps, lr
        self.weight_decay, self.validation = weight_decay, validation
        self.seeds, self.seed, self.bases = seeds, seed, tuple(bases)
        self.nets: list[torch.nn.Module] = []
        self.choice: dict[str, Any] = {}

    def _features(self, levels: np.ndarray, values: np.ndarray
                  ) -> np.ndarray:
        """``[rows, 2 + len(scales) - 1]``: level, lowest-scale value,
        divided differences in the noise level."""
        x = np.maximum(levels, 1e-6)[:, None] * self.scales
        table, columns = values, [values[:, 0]]
        for k in range(1, len(self.scales)):
            table = (table[:, 1:] - table[:, :-1]) / (x[:, k:] - x[:, :-k])
            columns.append(table[:, 0])
        return np.stack([levels, *columns], -1)

    def _base(self, base: str, scaled: bool, levels: np.ndarray,
              values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The base estimate and the unit of its correction."""
        level = np.maximum(levels, 1e-6)
        if base == 'richardson':
            estimate = values @ richardson_weights(self.scales)
            order = level ** len(self.scales)
        else:
            estimate, order = values[:, 0], level
        return estimate, (order if scaled else np.ones_like(level))

    def _rows(self, levels: Any, values: Any) -> tuple[np.ndarray,
                                                       np.ndarray, tuple]:
        values = np.asarray(values, dtype=float)
        shape = values.shape[:-1]
        flat = values.reshape(-1, values.shape[-1])
        if flat.shape[-1] != len(self.scales):
            raise ConfigError(f"the neural extrapolator was built for "
                              f"{len(self.scales)} scale factors, got "
                              f"values at {flat.shape[-1]}")
        levels = np.broadcast_to(np.asarray(levels, dtype=float),
                                 shape).reshape(-1)
        return levels, flat, shape

    def _train(self, kind: dict[str, Any], x: np.ndarray, y: np.ndarray,
               unit: np.ndarray, fit: np.ndarray, held: np.ndarray,
               seed: int) -> tuple[torch.nn.Module, float]:
        """One network on rows ``fit``, stopped where its mean absolute
        error on rows ``held`` (in the values' units) is lowest."""
        torch.manual_seed(seed)
        xt = torch.as_tensor((x - kind['mu']) / kind['sd'])
        yt = torch.as_tensor(y / kind['y_sd'])
        net = torch.nn.Sequential(
            torch.nn.Linear(x.shape[-1], self.hidden), torch.nn.Tanh(),
            torch.nn.Linear(self.hidden, self.hidden), torch.nn.Tanh(),
            torch.nn.Linear(self.hidden, 1)).double()
        optimiser = torch.optim.AdamW(net.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        scale = torch.as_tensor(unit[held] * kind['y_sd'])
        best, state, every = np.inf, None, 25
        for step in range(self.steps):
            optimiser.zero_grad()
            loss = ((net(xt[fit]).squeeze(-1) - yt[fit]) ** 2).mean()
            loss.backward()
            optimiser.step()
            if step % every == every - 1 or step == self.steps - 1:
                with torch.no_grad():
                    error = ((net(xt[held]).squeeze(-1) - yt[held]).abs()
                             * scale).mean().item()
                if error < best:
                    best = error
                    state = {k: v.clone() for k, v in
                             net.state_dict().items()}
        net.load_state_dict(state)
        return net, best

    def fit(self, levels: Any, values: Any, targets: Any,
            groups: Any = None) -> "NeuralExtrapolator":
        """Train on ``values[..., scales]`` at base noise ``levels``
        towards the noiseless ``targets`` (full-batch AdamW).
        ``groups`` (one label per row, e.g. the circuit) keeps each
        group wholly in training or validation."""
        levels, values, _ = self._rows(levels, values)
        targets = np.asarray(targets, dtype=float).reshape(-1)
        rng = np.random.default_rng(self.seed)
        labels = np.arange(len(targets)) if groups is None else \
            np.asarray(groups).reshape(-1)
        unique = rng.permutation(np.unique(labels))
        n_held = max(1, int(round(self.validation * len(unique))))
        held_mask = np.isin(labels, unique[:n_held])
        fit, held = np.flatnonzero(~held_mask), np.flatnonzero(held_mask)
        x = self._features(levels, values)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)   # a net this small only loses by threads
        try:
            found = []
            for base in self.bases:
                for scaled in (True, False):
                    estimate, unit = self._base(base, scaled, levels, values)
                    y = (targets - estimate) / unit
                    kind = {'base': base, 'scaled': scaled,
                            'mu': x[fit].mean(0),
                            'sd': x[fit].std(0) + 1e-12,
                            'y_sd': float(y[fit].std()) or 1.0}
                    net, error = self._train(kind, x, y, unit, fit, held,
                                             self.seed)
                    found.append((error, len(found), kind, net, y, unit))
            error, _, kind, net, y, unit = min(found, key=lambda f: f[:2])
            self.nets = [net] + [
                self._train(kind, x, y, unit, fit, held, self.seed + k)[0]
                for k in range(1, self.seeds)]
        finally:
            torch.set_num_threads(threads)
        self.choice = {**kind, 'validation_error': error,
                       'validation_groups': sorted(unique[:n_held].tolist()),
                       'candidates': {
            f"{f[2]['base']}{'/order' if f[2]['scaled'] else ''}": f[0]
            for f in found}}
        return self

    def predict(self, levels: Any, values: Any) -> np.ndarray:
        """Noiseless estimates for ``values[..., scales]``."""
        if not self.nets:
            raise ConfigError("the neural extrapolator is not trained")
        levels, flat, shape = self._rows(levels, values)
        kind = self.choice
        x = torch.as_tensor((self._features(levels, flat) - kind['mu'])
                            / kind['sd'])
        estimate, unit = self._base(kind['base'], kind['scaled'], levels,
                                    flat)
        with torch.no_grad():
            out = np.mean([net(x).squeeze(-1).numpy() for net in self.nets],
                          0)
        return (estimate + out * kind['y_sd'] * unit).reshape(shape)
