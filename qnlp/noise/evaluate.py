"""A trained run evaluated under noise, unmitigated and with ZNE.

:func:`evaluate_noisy` reads a run whose model is a circuit model and
gets its circuits from :func:`circuit_model`, the one place that tells
them apart: a DisCoCat model (sentences, and every task built on
:class:`~qnlp.models.DisCoCatClassifier`) becomes a
:class:`CircuitModel` (its lambeq circuits as
:class:`~qnlp.noise.density.NoisyCircuit` s), the sentiment VQC a
:class:`VQCCircuits` (:class:`~qnlp.noise.training.NoisyVQC` with the
run's weights); other models are refused. It reports per example and in
summary the class probabilities noiseless, under the noise model, and
mitigated (``zne``: mitiq's extrapolators on amplified runs;
``zne-nn``: the neural extrapolator trained on the run's training
split), with accuracy and the mean absolute error of the class
probabilities against the noiseless engine.

``qnlp evaluate RUN DATA --noise P [--mitigate zne|zne-nn]`` prints
:func:`format_noise_report`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from qnlp.errors import ConfigError
from qnlp.noise.channels import NoiseSpec, parse_noise
from qnlp.noise.density import NoisyBatch, NoisyCircuit
from qnlp.noise.training import weight_index
from qnlp.noise.zne import (AMPLIFIERS, EXTRAPOLATORS, NeuralExtrapolator,
                            amplified, as_probabilities, extrapolate)

#: ``--mitigate`` choices.
MITIGATIONS = ('zne', 'zne-nn')
#: Noise levels (times the given model) the neural extrapolator learns on.
NN_LEVELS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


class CircuitModel:
    """The circuits of a sentence run's inputs as one :class:`NoisyBatch`,
    with the model's weights and class count (:func:`circuit_model`
    checks the run's model is one)."""

    def __init__(self, trained: Any, items: Sequence[Any]) -> None:
        model = trained.model
        circuits = trained.task.inputs(list(items), trained.settings,
                                       trained.config, model)
        self.batch = NoisyBatch([NoisyCircuit.from_lambeq(c)
                                 for c in circuits],
                                weight_index(model.engine))
        self.weights = model.flat_weights().detach()
        self.n_classes = model.n_classes

    def classes(self, distributions: torch.Tensor | np.ndarray
                ) -> np.ndarray:
        """Class probabilities: the first outcomes, renormalised."""
        return as_probabilities(np.asarray(distributions)[
            ..., :self.n_classes])

    def run(self, spec: NoiseSpec, joint: bool = False) -> np.ndarray:
        """Class probabilities under ``spec`` (``joint``: the first
        outcomes' joint probabilities with post-selection, unnormalised,
        as :func:`~qnlp.noise.zne.amplified` gives them)."""
        with torch.no_grad():
            result = self.batch.run(self.weights, spec)
        if joint:
            found = result.probabilities * result.success.unsqueeze(-1)
            return found[:, :self.n_classes].numpy()
        return self.classes(result.probabilities)

    def amplified(self, spec: NoiseSpec, amplifier: str) -> np.ndarray:
        """``[batch, classes, scales]`` joint probabilities at the
        amplified noise."""
        with torch.no_grad():
            runs = amplified(self.batch, self.weights, spec, amplifier)
        return np.moveaxis(runs[..., :self.n_classes].numpy(), 0, -1)


class VQCCircuits:
    """A sentiment VQC run's model on some reviews' features in the exact
    noisy engine (:class:`~qnlp.noise.training.NoisyVQC` with the run's
    weights), with :class:`CircuitModel`'s methods: class values are
    ``[(1 + <O>) / 2, (1 - <O>) / 2]``, linear in the outcome
    distribution, so ZNE extrapolates the read-out's expectation."""

    def __init__(self, trained: Any, features: torch.Tensor) -> None:
        from dataclasses import replace

        from qnlp.tasks.sentiment import _vqc
        # the run's VQC in the noisy engine, noiseless by default
        try:
            self.model = _vqc(replace(trained.settings, train_noise='0',
                                      train_shots=0), None)
        except ConfigError as error:
            raise ConfigError(f"{trained.path}: {error}") from None
        state = {k: v for k, v in trained.model.state_dict().items()
                 if k != 'shot_generator'}
        self.model.load_state_dict(state, strict=False)
        self.model.eval()
        self.prepared = self.model.prepare(features)
        self.signs = self.model.observable.signs().numpy()
        self.weights = torch.cat([self.model.weights.detach(),
                                  self.prepared.features.reshape(-1)])

    def classes(self, values: np.ndarray) -> np.ndarray:
        """Class probabilities of class values (clipped, renormalised)."""
        return as_probabilities(np.asarray(values))

    def _values(self, distributions: np.ndarray) -> np.ndarray:
        """``[..., 2]`` class values of outcome distributions."""
        expectation = distributions @ self.signs
        return np.stack([(1 + expectation) / 2, (1 - expectation) / 2], -1)

    def run(self, spec: NoiseSpec, joint: bool = False) -> np.ndarray:
        """Class values under ``spec`` (no post-selection: ``joint`` is
        the same)."""
        with torch.no_grad():
            found = self.model.distributions(self.prepared, spec)
        return self._values(found.probabilities.numpy())

    def amplified(self, spec: NoiseSpec, amplifier: str) -> np.ndarray:
        """``[batch, classes, scales]`` class values at the amplified
        noise."""
        batch = self.prepared.batch(self.model.circuit,
                                    self.model.weights.numel())
        with torch.no_grad():
            runs = amplified(batch, self.weights, spec, amplifier)
        return np.moveaxis(self._values(runs.numpy()), 0, -1)


def circuit_model(trained: Any, items: Sequence[Any] | None = None
                  ) -> CircuitModel | VQCCircuits:
    """The circuit model of a trained run on ``items`` (inputs as the
    run's task reads them; ``None``: the run's training split): a
    :class:`CircuitModel` for DisCoCat models, :class:`VQCCircuits` for
    the sentiment VQC; ConfigError naming the run and its model for
    others."""
    from qnlp.models.vqc import VQCModel
    model = trained.model
    if isinstance(model, VQCModel):
        features = trained.task.inputs(items, trained.settings,
                                       trained.config, model) \
            if items is not None else trained.task.load(
                trained.config['data'], trained.settings).train.circuits
        return VQCCircuits(trained, features)
    if not (hasattr(model, 'engine') and hasattr(model, 'flat_weights')):
        raise ConfigError(f"{trained.path}: the {trained.task.name} task's "
                          f"{type(model).__name__} model is not a circuit "
                          "model; noise applies to circuit models only "
                          "(DisCoCat models and the sentiment VQC)")
    if getattr(model, 'products', False):
        raise ConfigError(f"{trained.path}: the "
                          f"{trained.settings.ansatz!r} ansatz runs in "
                          "closed form, not as a circuit")
    return CircuitModel(trained, _training_items(trained)
                        if items is None else items)


def _training_items(trained: Any) -> list[Any]:
    """The run's training examples (the ``train`` file of its data
    directory), for the neural extrapolator."""
    data = Path(trained.config.get('data', ''))
    found = sorted(data.glob('*train*')) if data.is_dir() else []
    if not found:
        raise ConfigError(f"{trained.path}: --mitigate zne-nn learns on the "
                          f"run's training split; its data {str(data)!r} "
                          "is not a directory with a train file")
    items, _ = trained.task.examples(str(found[0]), trained.settings,
                                     trained.config)
    return items


def noise_level(spec: NoiseSpec) -> float:
    """The strongest channel: the neural extrapolator's noise feature."""
    return max(spec.p1, spec.p2, spec.amplitude, spec.phase, spec.readout)


def neural_extrapolator(train: CircuitModel | VQCCircuits, spec: NoiseSpec,
                        amplifier: str, seed: int = 0,
                        factors: Sequence[float] = NN_LEVELS
                        ) -> NeuralExtrapolator:
    """Trained on ``train``'s circuits at ``factors`` times ``spec``:
    the joint probabilities at the amplified noise -> the noiseless
    ones."""
    scale = noise_level(spec)
    clean = train.run(NoiseSpec(), joint=True)
    circuit = np.broadcast_to(np.arange(clean.shape[0])[:, None],
                              clean.shape).reshape(-1)
    levels, values, targets = [], [], []
    for factor in factors:
        found = train.amplified(spec.scaled(factor), amplifier)
        values.append(found.reshape(-1, found.shape[-1]))
        targets.append(clean.reshape(-1))
        levels.append(np.full(clean.size, factor * scale))
    return NeuralExtrapolator(AMPLIFIERS[amplifier], seed=seed).fit(
        np.concatenate(levels), np.concatenate(values),
        np.concatenate(targets), groups=np.tile(circuit, len(factors)))


def evaluate_noisy(run_dir: str | Path, data: str | Path,
                   noise: str | NoiseSpec, mitigate: str | None = None,
                   extrapolator: str = 'richardson',
                   amplifier: str = 'channels', seed: int = 0
                   ) -> dict[str, Any]:
    """The report of ``run_dir`` on ``data`` under ``noise`` (text as
    ``--noise``, see :func:`qnlp.noise.parse_noise`), exactly
    simulated; ``mitigate`` adds ZNE (``extrapolator`` for ``zne``) with
    noise amplified by ``amplifier``."""
    from qnlp.tasks.runner import load_trained
    from qnlp.train.metrics import classification_report
    start = time.perf_counter()
    spec = parse_noise(noise) if isinstance(noise, str) else noise
    if mitigate not in (None, *MITIGATIONS):
        raise ConfigError(f"--mitigate must be one of {MITIGATIONS}, got "
                          f"{mitigate!r}")
    if extrapolator not in EXTRAPOLATORS:
        raise ConfigError(f"unknown extrapolator {extrapolator!r}; known: "
                          f"{', '.join(EXTRAPOLATORS)}")
    if amplifier not in AMPLIFIERS:
        raise ConfigError(f"unknown noise amplifier {amplifier!r}; known: "
                          f"{', '.join(AMPLIFIERS)}")
    trained = load_trained(run_dir)
    items, truth = trained.labelled(data)
    test = circuit_model(trained, items)
    clean, noisy = test.run(NoiseSpec()), test.run(spec)
    columns = {'noiseless': clean, 'noisy': noisy}
    if mitigate == 'zne':
        columns['mitigated'] = test.classes(extrapolate(
            AMPLIFIERS[amplifier], test.amplified(spec, amplifier),
            extrapolator))
    elif mitigate == 'zne-nn':
        net = neural_extrapolator(circuit_model(trained), spec,
                                  amplifier, seed)
        columns['mitigated'] = test.classes(net.predict(
            noise_level(spec), test.amplified(spec, amplifier)))
    summary: dict[str, Any] = {'examples': len(items), 'noise': spec.label()}
    for column, probs in columns.items():
        report = classification_report(truth, probs.argmax(1).tolist(),
                                        trained.labels)
        summary[f'accuracy_{column}'] = report['accuracy']
        if column != 'noiseless':
            summary[f'mae_{column}'] = float(np.abs(probs - clean).mean())
    if 'mitigated' in columns:
        summary['error_removed'] = 1 - summary['mae_mitigated'] / \
            summary['mae_noisy'] if summary['mae_noisy'] > 0 else None
    summary['seconds'] = time.perf_counter() - start
    rows = [{'input': str(item), 'label': trained.labels[gold],
             **{column: probs[k].tolist() for column, probs in
                columns.items()}}
            for k, (item, gold) in enumerate(zip(items, truth))]
    return {'run': str(run_dir), 'data': str(data),
            'settings': {'noise': spec.label(), 'mitigate': mitigate,
                         'extrapolator': extrapolator if mitigate == 'zne'
                         else None, 'amplifier': amplifier
                         if mitigate else None},
            'summary': summary, 'examples': rows}


def format_noise_report(result: Mapping[str, Any]) -> str:
    """A short text report of :func:`evaluate_noisy`'s result.

    >>> print(format_noise_report({'settings': {'noise': 'p2=0.01',
    ...     'mitigate': 'zne', 'extrapolator': 'richardson',
    ...     'amplifier': 'channels'}, 'summary': {'examples': 2,
    ...     'accuracy_noiseless': 1.0, 'accuracy_noisy': 0.5,
    ...     'mae_noisy': 0.1, 'accuracy_mitigated': 1.0,
    ...     'mae_mitigated': 0.02, 'error_removed': 0.8}}))
    noise p2=0.01: 2 examples (exact density matrices)
    noiseless  accuracy 1.0000
    noisy      accuracy 0.5000  class-probability error 0.1000
    mitigated  accuracy 1.0000  class-probability error 0.0200 (zne richardson, channels amplified): 80.0 % of the error removed
    """
    s, how = result['summary'], result['settings']
    where = (f"x {how['shots']} shots at each folding scale "
             f"{', '.join(map(str, s['scales']))}" if how.get('shots')
             else '(exact density matrices)')
    lines = [f"noise {how['noise']}: {s['examples']} examples {where}",
             f"noiseless  accuracy {s['accuracy_noiseless']:.4f}",
             f"noisy      accuracy {s['accuracy_noisy']:.4f}  "
             f"class-probability error {s['mae_noisy']:.4f}"]
    if 'accuracy_mitigated' in s:
        method = how['mitigate'] + (f" {how['extrapolator']}"
                                    if how.get('extrapolator') else '')
        removed = s.get('error_removed')
        lines.append(
            f"mitigated  accuracy {s['accuracy_mitigated']:.4f}  "
            f"class-probability error {s['mae_mitigated']:.4f} ({method}, "
            f"{how['amplifier']} amplified)" + (
                f": {100 * removed:.1f} % of the error removed"
                if removed is not None else ''))
    return '\n'.join(lines)
