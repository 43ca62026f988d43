"""Sentence classification runs: train, resume, load, evaluate, predict.

A run directory holds ``config.json`` (every setting, the corpus SHA-256,
labels, vocabulary, symbols), ``checkpoint.safetensors`` (the whole
training state, rewritten atomically after every epoch),
``history.jsonl`` (one JSON line per epoch), ``curve.png``, and at the end
``weights.safetensors`` (the selected weights) and ``metrics.json``.

>>> import tempfile
>>> metrics = train_text_classifier('corpora/meaning', tempfile.mkdtemp(),
...                                 TextSettings(epochs=2), progress=False)
>>> sorted(k for k in metrics if k.endswith('accuracy'))
['dev_accuracy', 'test_accuracy', 'train_accuracy']
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import torch

from qnlp.data import Corpus, load_corpus
from qnlp.errors import CheckpointError, ConfigError
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.parsing import Parser, make_tagger
from qnlp.files import atomic_write_json
from qnlp.train.checkpoint import CONFIG_FILE, METRICS_FILE, load_run, save_run
from qnlp.train.metrics import classification_report
from qnlp.train.plots import plot_history
from qnlp.train.trainer import Split, TrainConfig, evaluate, fit

CHECKPOINT_FILE = 'checkpoint.safetensors'
HISTORY_FILE = 'history.jsonl'


@dataclass
class TextSettings:
    """Every setting of a sentence-classification run."""
    seed: int = 0
    epochs: int = 120
    batch_size: int = 0
    lr: float = 0.1
    optimizer: str = 'adam'
    schedule: str = 'constant'
    patience: int = 0
    ansatz: str = 'iqp'
    layers: int = 1
    tagger: str = 'lexicon'
    frobenius: bool = False
    split: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TextSettings":
        """Settings from a dict, rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown settings {unknown}; known: "
                              f"{sorted(known)}")
        values = dict(values)
        if values.get('split') is not None:
            values['split'] = tuple(values['split'])
        return cls(**values)

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                           lr=self.lr, seed=self.seed,
                           optimizer=self.optimizer, schedule=self.schedule,
                           patience=self.patience)


def _pipeline(settings: TextSettings, n_classes: int) -> SentencePipeline:
    return SentencePipeline(Parser(make_tagger(settings.tagger)),
                            ansatz=settings.ansatz, layers=settings.layers,
                            sentence_qubits=_sentence_qubits(n_classes),
                            frobenius=settings.frobenius)


def _sentence_qubits(n_classes: int) -> int:
    return max(1, (n_classes - 1).bit_length())


def _split(pipeline: SentencePipeline, corpus: Corpus, examples) -> Split:
    circuits = pipeline.circuits([e.text for e in examples])
    labels = torch.tensor([corpus.label_index(e.label) for e in examples])
    return Split(circuits, labels)


def train_text_classifier(corpus_path: str | Path, out: str | Path,
                          settings: TextSettings | None = None,
                          resume: bool = False,
                          progress: bool = True) -> dict[str, Any]:
    """Train on ``corpus_path``, write the run to ``out``, return metrics.

    With ``resume=True`` training continues from ``out``'s checkpoint,
    which must come from the same settings and corpus.
    """
    settings = settings or TextSettings()
    out = Path(out)
    torch.manual_seed(settings.seed)
    corpus = load_corpus(corpus_path, split=settings.split,
                         seed=settings.seed)
    if resume and not (out / CHECKPOINT_FILE).exists():
        raise CheckpointError(f"{out / CHECKPOINT_FILE}: nothing to resume "
                              "(was the run started with this --out?)")
    pipeline = _pipeline(settings, len(corpus.labels))
    pipeline.fit_vocabulary([e.text for e in corpus.train])
    train = _split(pipeline, corpus, corpus.train)
    dev = _split(pipeline, corpus, corpus.dev)
    test = _split(pipeline, corpus, corpus.test)

    model = DisCoCatClassifier.from_circuits(train.circuits,
                                             len(corpus.labels),
                                             settings.seed)
    # Dev and test may use <unk> of categories absent from train.
    for circuits in (dev.circuits, test.circuits):
        model.extend_symbols(circuits)
    out.mkdir(parents=True, exist_ok=True)
    run_config = {
        'task': 'sentences', 'corpus': str(corpus_path),
        'corpus_sha256': corpus.fingerprint, 'labels': corpus.labels,
        'settings': asdict(settings),
        'sentence_qubits': _sentence_qubits(len(corpus.labels)),
        'symbols': model.engine.symbols,
        'vocabulary': sorted(map(list, pipeline.vocabulary or ())),
    }
    atomic_write_json(out / CONFIG_FILE, run_config)
    identity = {'corpus_sha256': corpus.fingerprint,
                'settings': json.loads(json.dumps(asdict(settings)))}

    start = time.perf_counter()
    history = fit(model, train, dev, settings.train_config(),
                  progress=progress, checkpoint=out / CHECKPOINT_FILE,
                  resume=resume, identity=identity,
                  history_file=out / HISTORY_FILE)
    train_seconds = time.perf_counter() - start

    metrics: dict[str, Any] = {
        'train_seconds': train_seconds,
        'epochs_run': len(history), 'epochs': settings.epochs,
        'n_parameters': model.engine.n_weights,
        'n_circuit_shapes': model.engine.n_plans}
    for name, data in (('train', train), ('dev', dev), ('test', test)):
        loss, accuracy = evaluate(model, model.prepare(data.circuits),
                                  data.labels)
        metrics[f'{name}_accuracy'] = accuracy
        metrics[f'{name}_loss'] = loss
    with torch.no_grad():
        predicted = model(test.circuits).argmax(1)
    metrics['test_f1'] = classification_report(
        test.labels.tolist(), predicted.tolist(), corpus.labels)['f1']
    save_run(out, run_config, {'weights': model.weights})
    atomic_write_json(out / METRICS_FILE, metrics)
    plot_history(history, out / 'curve.png')
    return metrics


@dataclass
class TrainedTextClassifier:
    """A trained run loaded back: pipeline, model and labels."""
    pipeline: SentencePipeline
    model: DisCoCatClassifier
    labels: list[str]
    config: dict[str, Any]

    def predict_proba(self, texts: Sequence[str]) -> torch.Tensor:
        """Class probabilities ``[len(texts), n_classes]``."""
        circuits = self.pipeline.circuits(texts)
        self.model.extend_symbols(circuits, fill=0.0)
        with torch.no_grad():
            return self.model(circuits)

    def evaluate(self, corpus_path: str | Path) -> dict[str, Any]:
        """Metrics on the test split of a corpus (or a single file)."""
        from qnlp.data import read_corpus_file
        path = Path(corpus_path)
        examples = load_corpus(path).test if path.is_dir() else \
            read_corpus_file(path)
        unknown = sorted({e.label for e in examples} - set(self.labels))
        if unknown:
            raise ConfigError(f"{corpus_path}: labels {unknown} were not "
                              f"in training (labels {self.labels})")
        y_true = [self.labels.index(e.label) for e in examples]
        y_pred = self.predict_proba([e.text for e in examples]).argmax(1)
        return classification_report(y_true, y_pred.tolist(), self.labels)


def load_text_classifier(run_dir: str | Path) -> TrainedTextClassifier:
    """Rebuild a trained classifier from its run directory."""
    config, tensors = load_run(run_dir)
    try:
        settings = TextSettings.from_dict(config['settings'])
        labels = list(config['labels'])
        pipeline = _pipeline(settings, len(labels))
        pipeline.vocabulary = {tuple(pair) for pair in config['vocabulary']}
        model = DisCoCatClassifier(config['symbols'], len(labels))
        weights = tensors['weights']
    except (KeyError, TypeError, ConfigError) as error:
        raise CheckpointError(f"{run_dir}: config.json is not a sentence "
                              f"run ({error})") from None
    if weights.shape != model.weights.shape:
        raise CheckpointError(f"{run_dir}: weights have shape "
                              f"{tuple(weights.shape)}, the config needs "
                              f"{tuple(model.weights.shape)}")
    with torch.no_grad():
        model.weights.copy_(weights)
    return TrainedTextClassifier(pipeline, model, labels, config)
