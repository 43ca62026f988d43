"""Review sentiment with a VQC or a quantum-kernel SVC, next to baselines.

For every seed ``s`` (0, 1, ... ``seeds - 1``) the reviews are split
80/20, stratified, with seed ``s`` (a corpus directory keeps its own
train(+dev)/test files); the text feature pipeline (TF-IDF or sentence
embeddings -> scaling -> PCA to ``k`` -> angles) is fitted on the
training part only; then the quantum model (seed ``s``), the classical
classifiers on the *same* ``k`` features, and the same classifiers on the
full features (the ceiling) are trained and scored on the test part. The
run directory gets ``metrics.json`` (settings, corpus hash, per-seed
metrics, the seed-0 split on its own, mean ± std), ``comparison.md``,
``comparison.json`` and ``comparison.png``.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = ['Review\\tLiked'] + [f'{w} food\\t1' for w in ('good', 'great', 'tasty', 'lovely', 'nice')] \\
...     + [f'{w} food\\t0' for w in ('bad', 'awful', 'cold', 'stale', 'gross')]
>>> _ = (folder / 'reviews.tsv').write_text('\\n'.join(rows) + '\\n')
>>> result = train_sentiment(folder / 'reviews.tsv', folder / 'run', SentimentSettings(
...     features='tfidf', k=2, seeds=1, max_iter=5, ceiling=False,
...     baselines=('logistic-regression',)), progress=False)
>>> sorted(result['summary'])
['logistic-regression-k2', 'vqc']
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qnlp.baselines.features import (FEATURE_CLASSIFIERS, full_features,
                                     make_feature_classifier, text_features)
from qnlp.data.corpus import (Example, fingerprint, load_corpus,
                              read_corpus_file, split_examples)
from qnlp.engine.device import resolve_device, resolve_dtype
from qnlp.errors import ConfigError, CorpusError
from qnlp.models.kernel import QuantumKernelSVC
from qnlp.files import atomic_write_json, atomic_write_text
from qnlp.train.compare import markdown, summarise
from qnlp.train.metrics import classification_report
from qnlp.train.vqc import VQCClassifier, VQC_OPTIMISERS

SENTIMENT_MODELS = ('vqc', 'qsvc')


@dataclass
class SentimentSettings:
    """Every setting of a sentiment run (see :class:`VQCClassifier`)."""
    model: str = 'vqc'
    features: str = 'embedding'
    k: int = 5
    angle_max: float = math.pi
    seeds: int = 5
    test_fraction: float = 0.2
    feature_map: str = 'angle'
    feature_reps: int = 1
    reps: int = 2
    entanglement: str = 'linear'
    readout: str = 'parity'
    optimizer: str = 'adam'
    max_iter: int = 100
    lr: float | None = None
    C: float = 1.0
    baselines: Sequence[str] = field(
        default_factory=lambda: tuple(FEATURE_CLASSIFIERS))
    ceiling: bool = True
    device: str | None = None
    dtype: str = 'float64'

    def validate(self) -> None:
        if self.model not in SENTIMENT_MODELS:
            raise ConfigError(f"unknown sentiment model {self.model!r}; "
                              f"choose from {', '.join(SENTIMENT_MODELS)}")
        if self.optimizer not in VQC_OPTIMISERS:
            raise ConfigError(f"optimiser {self.optimizer!r} is not "
                              f"available for the VQC; choose from "
                              f"{', '.join(VQC_OPTIMISERS)}")
        if self.seeds < 1 or self.k < 1 or self.angle_max <= 0:
            raise ConfigError("seeds, k and angle_max must be positive")
        if not 0 < self.test_fraction < 1:
            raise ConfigError("test_fraction must lie in (0, 1)")
        for name in self.baselines:
            make_feature_classifier(name)
        resolve_device(self.device)
        resolve_dtype(self.dtype)

    def quantum_model(self, seed: int) -> Any:
        """The unfitted VQC or QSVC of these settings."""
        if self.model == 'qsvc':
            return QuantumKernelSVC(feature_map=self.feature_map,
                                    reps=self.feature_reps,
                                    entanglement=self.entanglement, C=self.C,
                                    device=self.device, dtype=self.dtype)
        return VQCClassifier(
            feature_map=self.feature_map, feature_reps=self.feature_reps,
            reps=self.reps, entanglement=self.entanglement,
            readout=self.readout, optimizer=self.optimizer,
            max_iter=self.max_iter, lr=self.lr, seed=seed,
            device=self.device, dtype=self.dtype)


def read_reviews(path: str | Path, seed: int, test_fraction: float
                 ) -> tuple[list[Example], list[Example], list[Path]]:
    """Train and test examples: one file split with ``seed``, or a
    directory's own files (dev joins train)."""
    path = Path(path)
    if path.is_dir():
        corpus = load_corpus(path, seed=seed)
        return (corpus.train + corpus.dev, corpus.test,
                sorted(p for p in path.iterdir() if p.is_file()))
    examples = read_corpus_file(path)
    train, test = split_examples(examples, (1 - test_fraction, test_fraction),
                                 seed)
    return train, test, [path]


def n_parameters(model: Any) -> int:
    """Trained numbers of a fitted classifier (weights, dual coefficients
    and intercepts, or tree nodes)."""
    if hasattr(model, 'weights_'):
        return int(model.weights_.size)
    inner = getattr(model, 'svc_', model)
    if hasattr(inner, 'dual_coef_'):
        return int(inner.dual_coef_.size + inner.intercept_.size)
    if hasattr(model, 'coef_'):
        return int(model.coef_.size + model.intercept_.size)
    if hasattr(model, 'estimators_'):
        trees = np.ravel(model.estimators_)
        return int(sum(t.tree_.node_count for t in trees))
    return 0


def _score(model: Any, train: tuple[Any, np.ndarray],
           test: tuple[Any, np.ndarray], labels: list[str]
           ) -> dict[str, float]:
    start = time.perf_counter()
    model.fit(*train)
    seconds = time.perf_counter() - start
    report = classification_report(test[1], model.predict(test[0]), labels)
    return {key: report[key] for key in ('accuracy', 'precision', 'recall',
                                         'f1')} | {
        'parameters': n_parameters(model), 'seconds': seconds}


def train_sentiment(corpus: str | Path, out: str | Path,
                    settings: SentimentSettings | None = None,
                    progress: bool = True) -> dict[str, Any]:
    """Run every seed, write the run directory, return ``metrics.json``."""
    settings = settings or SentimentSettings()
    settings.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    quantum = settings.model
    rows: dict[str, list[dict[str, float]]] = {quantum: []}
    seeds = range(settings.seeds)
    if progress:
        from tqdm import tqdm
        seeds = tqdm(seeds, desc='seeds', unit='seed')
    sources: list[Path] = []
    for seed in seeds:
        train, test, sources = read_reviews(corpus, seed,
                                            settings.test_fraction)
        labels = sorted({e.label for e in train + test},
                        key=lambda label: (len(label), label))
        if len(labels) != 2:
            raise CorpusError(f"sentiment needs exactly two labels, found "
                              f"{labels}", str(corpus))
        texts = ([e.text for e in train], [e.text for e in test])
        y = (np.array([labels.index(e.label) for e in train]),
             np.array([labels.index(e.label) for e in test]))
        features = text_features(settings.features, settings.k,
                                 (0.0, settings.angle_max), seed=seed)
        x_train = features.fit_transform(texts[0])
        x_test = features.transform(texts[1])
        rows[quantum].append(_score(settings.quantum_model(seed),
                                    (x_train, y[0]), (x_test, y[1]), labels))
        for name in settings.baselines:
            rows.setdefault(f'{name}-k{settings.k}', []).append(_score(
                make_feature_classifier(name, seed), (x_train, y[0]),
                (x_test, y[1]), labels))
        if settings.ceiling:
            full = full_features(settings.features)
            full_train = full.fit_transform(texts[0])
            full_test = full.transform(texts[1])
            for name in settings.baselines:
                rows.setdefault(f'{name}-full', []).append(_score(
                    make_feature_classifier(name, seed),
                    (full_train, y[0]), (full_test, y[1]), labels))
    table = summarise(rows)
    result = {'corpus': str(corpus), 'corpus_sha256': fingerprint(sources),
              'settings': asdict(settings) | {
                  'baselines': list(settings.baselines)},
              'split': (f'stratified {1 - settings.test_fraction:.0%}/'
                        f'{settings.test_fraction:.0%}, split seed = model '
                        f'seed = 0..{settings.seeds - 1}'),
              'summary': table, 'seed0': {name: runs[0] for name, runs
                                          in rows.items()},
              'runs': rows}
    atomic_write_json(out / 'metrics.json', result)
    atomic_write_json(out / 'comparison.json', result)
    atomic_write_text(out / 'comparison.md',
                      markdown(table, corpus, settings.seeds))
    from qnlp.train.plots import plot_comparison
    names = list(table)
    plot_comparison(names, [table[n]['accuracy_mean'] for n in names],
                    [table[n]['accuracy_std'] for n in names],
                    out / 'comparison.png')
    return result
