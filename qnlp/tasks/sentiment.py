"""Review sentiment: a variational quantum classifier (VQC) or a
quantum-kernel SVC (QSVC) on a few features of each review.

DATA is one review file (``Review<TAB>Liked`` TSV, CSV with ``text`` and
``label`` columns, or ``label text`` lines) split stratified by
``seed`` into train / dev (``dev_fraction``, default none) / test
(``test_fraction``), or a corpus directory with its own train(/dev)/test
files (the dev file joins train unless ``dev_fraction`` is set). Exactly
two labels.

The feature pipeline (TF-IDF or sentence embeddings -> scaling -> PCA
to ``components`` -> angles in ``[0, angle_max]``) is fitted on the
training part only. A run does not store the pipeline: ``restore``
refits it, deterministically, from the run's recorded data path and
seed, and refuses with a :class:`~qnlp.errors.ConfigError` when the
data are gone or their SHA-256 differs from the run's (so ``qnlp
evaluate``/``predict`` need the training data where they were).

* ``vqc``: :class:`~qnlp.models.vqc.VQCModel` trained by
  :func:`qnlp.train.fit` (one optimiser step per epoch with the default
  full batch) on the binary cross-entropy
  :func:`~qnlp.train.estimators.binary_cross_entropy`; its weights are the
  run's ``weights.safetensors``. With ``--train-noise MODEL`` and/or
  ``--train-shots S`` it is :class:`~qnlp.noise.training.NoisyVQC`: the
  same circuit in the exact noisy engine (angle feature map).
* ``qsvc``: not gradient-trained. ``build`` fits scikit-learn's SVC on
  the quantum kernel of the training part; the fitted support vectors,
  dual coefficients and intercept are the run's weights (buffers of
  :class:`~qnlp.models.kernel.KernelModel`, no training epochs), so
  ``restore`` does not refit the SVC. Its class probabilities are ``sigmoid(decision)``
  (uncalibrated; the loss in ``metrics.json`` is their NLL).

``qnlp compare --task sentiment`` trains, per seed, the quantum model and
the classical classifiers of
:data:`~qnlp.choices.FEATURE_CLASSIFIERS` on the same
``components`` features (``logistic-regression-k5``) and on the full
features (``logistic-regression-full``, the ceiling); they train on
train + dev.

>>> import tempfile, pathlib
>>> from qnlp.tasks import train
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = ['Review\\tLiked'] + [f'{w} food\\t1' for w in ('good', 'great', 'tasty', 'lovely', 'nice')] \\
...     + [f'{w} food\\t0' for w in ('bad', 'awful', 'cold', 'stale', 'gross')]
>>> _ = (folder / 'reviews.tsv').write_text('\\n'.join(rows) + '\\n')
>>> metrics = train('sentiment', folder / 'reviews.tsv', folder / 'run',
...     SentimentSettings(features='tfidf', components=2, epochs=5),
...     progress=False)
>>> metrics['n_parameters'], metrics['epochs_run']
(12, 5)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qnlp.choices import (ENTANGLEMENTS, FEATURE_CLASSIFIERS,
                          FEATURE_ENCODERS, FEATURE_MAPS, READOUTS)
from qnlp.errors import ConfigError, CorpusError
from qnlp.limits import MAX_DENSE_QUBITS
from qnlp.robust.names import parse_attack
from qnlp.tasks.base import (MAX_EPOCHS, AttackSettings,
                             CircuitTrainingSettings, Loaded, Task, setting)
from qnlp.tasks.sentences import CorpusFormatSettings, report_corpus

__all__ = ['SentimentSettings', 'SentimentTask',
           'split_reviews']

SENTIMENT_MODELS = ('vqc', 'qsvc')


@dataclass
class SentimentSettings(CorpusFormatSettings, CircuitTrainingSettings,
                        AttackSettings):
    """Every setting of a sentiment run."""
    epochs: int = setting(100, 'training epochs (optimiser steps with the '
                               'full batch; cobyla: 20 evaluations each)',
                          low=1, high=MAX_EPOCHS)
    model: str = setting('vqc', 'variational classifier or quantum-kernel '
                                'SVC', choices=SENTIMENT_MODELS)
    features: str = setting('embedding', 'review features: sentence '
                                         'embeddings (needs '
                                         'qnlp[embeddings]) or TF-IDF',
                            choices=FEATURE_ENCODERS)
    components: int = setting(5, 'PCA components = qubits', low=1,
                              high=MAX_DENSE_QUBITS)
    angle_max: float = setting(math.pi, 'components are scaled to angles '
                                        'in [0, ANGLE_MAX]', low=1e-3,
                               high=2 * math.pi)
    layers: int = setting(2, 'ansatz repetitions of the VQC', low=1,
                          high=32)
    feature_map: str = setting('angle', 'feature map', choices=FEATURE_MAPS)
    feature_reps: int = setting(1, 'feature map repetitions', low=1,
                                high=16)
    entanglement: str = setting('linear', 'entangler pairs of the ansatz '
                                          'and the kernel',
                                choices=ENTANGLEMENTS)
    readout: str = setting('parity', 'VQC read-out: Z parity or Z of '
                                     'qubit 0', choices=READOUTS)
    C: float = setting(1.0, 'QSVC regularisation', low=1e-6, high=1e6)
    test_fraction: float = setting(0.2, 'test share of a single file',
                                   low=0.01, high=0.9)
    dev_fraction: float = setting(0.0, 'dev share (0: no dev split, the '
                                       'last epoch is kept)', low=0.0,
                                  high=0.9)
    def circuit_refusal(self) -> str | None:
        if self.model != 'vqc':
            return (f"--model {self.model} fits an SVC on kernel values, "
                    "not trained circuits; use --model vqc")
        if self.feature_map != 'angle':
            return (f"the noisy engine takes the VQC's angle feature map, "
                    f"not {self.feature_map}")
        return None

    def fitted_without_a_loop(self) -> str | None:
        if self.model != 'vqc':
            return (f"--model {self.model} fits an SVC on kernel values "
                    "without a training loop")
        return None

    def check(self) -> None:
        if self.test_fraction + self.dev_fraction >= 1:
            raise ConfigError("test_fraction + dev_fraction must be below 1")
        self.check_attacks()
        if any(name == 'square' for name, _ in self.attacks):
            raise ConfigError("--attack square: ART's Square attack takes "
                              "images; the black-box attack on review "
                              "features is hsj (HopSkipJump)")
        if (self.attacks or self.adversarial) and self.circuit_training:
            raise ConfigError("--attack and --adversarial take the exact "
                              "VQC, not one trained with --train-noise/"
                              "--train-shots")
        if self.adversarial is not None and self.model != 'vqc':
            raise ConfigError(f"adversarial {self.adversarial!r}: training "
                              "takes --model vqc")


def split_reviews(path: str | Path, settings: SentimentSettings,
                  report: bool = False
                  ) -> tuple[list[Any], list[Any], list[Any], list[Path]]:
    """Train, dev and test examples and the files read: one file split
    with ``settings.seed``, or a directory's own files, read in
    ``settings.format`` (how, printed to stderr if ``report``)."""
    from qnlp.data.corpus import CorpusFormat, load_corpus, read_corpus, \
        split_examples
    path, how = Path(path), CorpusFormat.of(settings)
    test, dev = settings.test_fraction, settings.dev_fraction
    if path.is_dir():
        corpus = load_corpus(path, seed=settings.data_seed, how=how)
        report_corpus(corpus.description, report)
        files = sorted(p for p in path.iterdir() if p.is_file())
        if dev:
            return corpus.train, corpus.dev, corpus.test, files
        return corpus.train + corpus.dev, [], corpus.test, files
    examples, description = read_corpus(path, how)
    report_corpus(f"{path}: {description}", report)
    if dev:
        parts = split_examples(examples, (1 - test - dev, dev, test),
                               settings.data_seed)
    else:   # the split of earlier versions, exactly
        train, held = split_examples(examples, (1 - test, test),
                                     settings.data_seed)
        parts = (train, [], held)
    return (*parts, [path])


def _labels(examples: Sequence[Any], data: str) -> list[str]:
    labels = sorted({e.label for e in examples},
                    key=lambda label: (len(label), label))
    if len(labels) != 2:
        raise CorpusError(f"sentiment needs exactly two labels, found "
                          f"{labels}", data)
    return labels


def n_parameters(model: Any) -> int:
    """Trained numbers of a fitted classifier (dual coefficients and
    intercepts, weights, or tree nodes)."""
    if hasattr(model, 'dual_coef_'):
        return int(model.dual_coef_.size + model.intercept_.size)
    if hasattr(model, 'coef_'):
        return int(model.coef_.size + model.intercept_.size)
    if hasattr(model, 'estimators_'):
        trees = np.ravel(model.estimators_)
        return int(sum(t.tree_.node_count for t in trees))
    return 0


def _kernel_model(settings: SentimentSettings, support: Any,
                  dual_coef: Any, intercept: Any, device: Any) -> Any:
    """The fitted QSVC of ``settings`` as a model."""
    from qnlp.models.kernel import KernelModel
    return KernelModel(settings.feature_map, settings.components,
                       settings.feature_reps, settings.entanglement, support,
                       dual_coef, intercept, dtype=settings.dtype,
                       device=device)


def _float_tensor(values: Any) -> Any:
    """``values`` as a float64 tensor."""
    import torch
    return torch.from_numpy(np.asarray(values, dtype=np.float64))


def fitted_kernel_model(settings: SentimentSettings, features: Any,
                        labels: Any, device: Any = None) -> Any:
    """The QSVC of ``settings`` fitted on angle ``features``."""
    from qnlp.train.estimators import QuantumKernelSVC
    svc = QuantumKernelSVC(feature_map=settings.feature_map,
                           reps=settings.feature_reps,
                           entanglement=settings.entanglement, C=settings.C,
                           device=device, dtype=settings.dtype)
    start = time.perf_counter()
    svc.fit(np.asarray(features), np.asarray(labels))
    inner = svc.svc_
    model = _kernel_model(settings, svc.X_train_[inner.support_],
                          inner.dual_coef_[0], inner.intercept_, device)
    model.fit_seconds = time.perf_counter() - start
    return model


@dataclass
class SentimentLoaded(Loaded):
    """:class:`Loaded` with the fitted feature pipeline."""
    pipeline: Any = None


def _vqc(settings: SentimentSettings, device: Any) -> Any:
    """The VQC of ``settings`` (run in the exact noisy engine with
    ``train_noise`` or ``train_shots``)."""
    from qnlp.engine.device import resolve_dtype
    from qnlp.models.vqc import VQCModel
    kind, noisy = VQCModel, settings.circuit_training or {}
    if settings.adversarial is not None:
        from qnlp.robust.features import AngleInputVQC
        kind = AngleInputVQC
    if noisy:
        from qnlp.noise.training import NoisyVQC
        kind = NoisyVQC
    return kind(settings.components, feature_map=settings.feature_map,
                    feature_reps=settings.feature_reps,
                    reps=settings.layers,
                    entanglement=settings.entanglement,
                    readout=settings.readout, seed=settings.seed,
                    dtype=resolve_dtype(settings.dtype), device=device,
                    **noisy)


class SentimentTask(Task):
    """VQC or quantum-kernel SVC on a few features of each review."""
    name = 'sentiment'
    Settings = SentimentSettings
    data_help = 'a review file (TSV/CSV with a header, "label text" or ' \
                '"text<TAB>label" lines, JSON Lines; see --format) or a ' \
                'corpus directory'
    input_help = 'reviews (text)'
    #: With the default 5 components; :meth:`baseline_choices` gives the
    #: names for the run's ``components``.
    baselines = {f'{name}-{scope}': f'{name} on the '
                 + ('5 angle features' if scope == 'k5'
                    else 'full features (the ceiling)')
                 for scope in ('k5', 'full') for name in FEATURE_CLASSIFIERS}
    default_baselines = tuple(baselines)

    def baseline_choices(self, settings: SentimentSettings
                         ) -> tuple[dict[str, str], tuple[str, ...]]:
        """With ``--attack``, only the baselines that can be attacked
        through the same features (logistic regression and the RBF SVM
        on the angle features; :func:`qnlp.robust.features.attackable`)."""
        from qnlp.robust.features import attackable
        k = f'k{settings.components}'
        names = {name.replace('-k5', f'-{k}'): text.replace(
                     '5 angle', f'{settings.components} angle')
                 for name, text in self.baselines.items()
                 if not settings.attacks or (
                     name.endswith('-k5') and attackable(name[:-3]))}
        return names, tuple(names)

    def load(self, data: str, settings: SentimentSettings,
             **options: Any) -> SentimentLoaded:
        import torch

        from qnlp.baselines.features import text_features
        from qnlp.data.corpus import fingerprint
        from qnlp.train import Split
        train, dev, test, files = split_reviews(
            data, settings, report=options.get('progress', False))
        labels = _labels(train + dev + test, data)
        if not train or not test:
            raise CorpusError("too few reviews for a train and a test part",
                              data)
        pipeline = text_features(settings.features, settings.components,
                                 (0.0, settings.angle_max),
                                 seed=settings.seed)
        # fit_transform, as earlier versions did (for truncated SVD its
        # train angles differ from transform's in the last bits)
        x_train = pipeline.fit_transform([e.text for e in train])

        if settings.attacks:   # the same test angles, via the features
            features = pipeline[:-1].transform([e.text for e in test])
            self._attack_test = (settings, features, [
                labels.index(e.label) for e in test])
            x_test = pipeline[-1].transform(features)

        def part(examples: Sequence[Any], x: Any = None) -> Any:
            if x is None:
                x = pipeline.transform([e.text for e in examples])
            return Split(_float_tensor(x),
                         torch.tensor([labels.index(e.label)
                                       for e in examples]))
        return SentimentLoaded(part(train, x_train),
                               part(dev) if dev else None,
                               part(test, x_test if settings.attacks
                                    else None),
                               labels, fingerprint(files), pipeline=pipeline)

    def hooks(self, settings: SentimentSettings, loaded: Loaded) -> Any:
        from qnlp.train import Hooks
        from qnlp.train.estimators import binary_cross_entropy
        adversary = None
        if settings.adversarial is not None:
            from qnlp.robust.features import FeatureAdversary
            adversary = FeatureAdversary(*parse_attack(settings.adversarial),
                                         loaded.pipeline[-1])
        return Hooks(loss=binary_cross_entropy,
                     select=self.selection(settings, loaded),
                     adversary=adversary)

    def build(self, settings: SentimentSettings, loaded: SentimentLoaded,
              device: Any) -> Any:
        if settings.model == 'qsvc':
            model = fitted_kernel_model(settings, loaded.train.circuits,
                                        loaded.train.labels, device)
        else:
            model = _vqc(settings, device)
        model.features = loaded.pipeline
        return model

    def restore(self, settings: SentimentSettings, config: dict[str, Any],
                tensors: dict[str, Any], device: Any) -> Any:
        """The run's model with its feature pipeline refitted from the
        run's data (refused when they changed)."""
        data = config['data']
        try:
            loaded = self.load(data, settings)
        except CorpusError as error:
            raise ConfigError(f"the feature pipeline is refitted from the "
                              f"training data, which cannot be read: "
                              f"{error}") from None
        if loaded.fingerprint != config['data_sha256']:
            raise ConfigError(f"{data}: the training data changed since the "
                              "run (SHA-256 differs); the feature pipeline "
                              "is refitted from them, so the run cannot be "
                              "used")
        if settings.model == 'qsvc':
            model = _kernel_model(settings, tensors['support'],
                                  tensors['dual_coef'], tensors['intercept'],
                                  device)
        else:
            model = _vqc(settings, device)
        model.load_state_dict(tensors)
        model.features = loaded.pipeline
        return model

    def examples(self, data: str, settings: SentimentSettings,
                 config: dict[str, Any]) -> tuple[list[Any], list[str]]:
        from qnlp.data.corpus import CorpusFormat, load_corpus, \
            read_corpus_file
        path, how = Path(data), CorpusFormat.of(settings)
        examples = (load_corpus(path, seed=settings.data_seed, how=how).test
                    if path.is_dir() else read_corpus_file(path, how))
        return [e.text for e in examples], [e.label for e in examples]

    def inputs(self, items: Sequence[Any], settings: SentimentSettings,
               config: dict[str, Any], model: Any) -> Any:
        texts = [str(item) for item in items]
        if any(not text.strip() for text in texts):
            raise ConfigError("empty review")
        return _float_tensor(model.features.transform(texts))

    def extra_metrics(self, model: Any, world: Any) -> dict[str, Any]:
        """With ``--attack``: ``robust_accuracy`` on the test reviews,
        their reduced features attacked (:mod:`qnlp.robust.features`)."""
        settings, features, labels = getattr(self, '_attack_test',
                                             (None, None, None))
        if settings is None or not settings.attacks:
            return {}
        return attacked(model.features[-1], model, features, labels,
                        settings)

    def fit_baseline(self, name: str, data: str,
                     settings: SentimentSettings) -> dict[str, float]:
        """Baselines train on train + dev (they select nothing); their
        feature pipeline is fitted on the same part."""
        from qnlp.baselines.features import (full_features,
                                             make_feature_classifier,
                                             text_features)
        from qnlp.train.metrics import classification_report
        classifier, _, scope = name.rpartition('-')
        if name not in self.baseline_choices(settings)[0]:
            raise ConfigError(f"unknown baseline {name!r} for "
                              f"{settings.components} components")
        train, dev, test, _ = split_reviews(data, settings)
        labels = _labels(train + dev + test, data)
        pipeline = full_features(settings.features) if scope == 'full' \
            else text_features(settings.features, settings.components,
                               (0.0, settings.angle_max), seed=settings.seed)
        x_train = pipeline.fit_transform([e.text for e in train + dev])
        x_test = pipeline.transform([e.text for e in test])
        model = make_feature_classifier(classifier, settings.seed)
        start = time.perf_counter()
        model.fit(x_train, [labels.index(e.label) for e in train + dev])
        seconds = time.perf_counter() - start
        y_test = [labels.index(e.label) for e in test]
        report = classification_report(y_test, model.predict(x_test).tolist(),
                                       labels)
        row = {**{key: report[key] for key in ('accuracy', 'f1',
                                               'precision', 'recall')},
               'parameters': n_parameters(model), 'seconds': seconds}
        if settings.attacks:
            row['robust_accuracy'] = attacked(
                pipeline[-1], model,
                pipeline[:-1].transform([e.text for e in test]), y_test,
                settings)['robust_accuracy']
        return row


def attacked(scaler: Any, head: Any, features: Any, labels: Sequence[int],
             settings: SentimentSettings) -> dict[str, Any]:
    """``robust_accuracy`` of ``head`` (on the angles of ``scaler``)
    when the reduced ``features`` of the test reviews are attacked with
    ``settings.attacks`` (seeded with ``settings.seed``), within the box
    of reduced features the scaler was fitted on."""
    import torch

    from qnlp.robust.attacks import robust_accuracy
    from qnlp.robust.features import FeatureLogits
    module = FeatureLogits(scaler, head)
    return {'robust_accuracy': robust_accuracy(
                module, _float_tensor(features), torch.as_tensor(labels),
                settings.attacks, seed=settings.seed, bounds=(module.lower, module.upper)),
            'attack_space': 'reduced features (standardised units)'}
