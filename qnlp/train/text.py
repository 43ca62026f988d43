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
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import torch

from qnlp.data import Corpus, Example, load_corpus
from qnlp.engine import collect_symbols, unique_symbols
from qnlp.engine.device import Device, resolve_device, resolve_dtype
from qnlp.errors import CheckpointError, ConfigError, ParseError
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.parsing import Parser, make_tagger
from qnlp.files import atomic_write_json
from qnlp.train.checkpoint import CONFIG_FILE, METRICS_FILE, load_run, save_run
from qnlp.train.metrics import classification_report
from qnlp.train.distributed import World, launch, world_from_environment
from qnlp.train.plots import plot_history
from qnlp.train.trainer import Split, TrainConfig, evaluate, fit

CHECKPOINT_FILE = 'checkpoint.safetensors'
HISTORY_FILE = 'history.jsonl'
#: What to do with a sentence the parser cannot reduce: stop with its
#: file and line, or leave it out (counted in the metrics).
UNPARSABLE = ('error', 'skip')


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
    unparsable: str = 'error'
    dtype: str = 'float64'

    def __post_init__(self) -> None:
        if self.unparsable not in UNPARSABLE:
            raise ConfigError(f"unparsable must be one of "
                              f"{', '.join(UNPARSABLE)}, got "
                              f"{self.unparsable!r}")
        resolve_dtype(self.dtype)

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


def _parse_shards(pipeline: SentencePipeline, examples: Sequence[Example],
                  settings: TextSettings, world: World) -> list[int]:
    """Parse this rank's examples; returns the global indices kept.

    Every rank gets the same answer: the failures of all ranks are
    gathered, and with ``unparsable='error'`` every rank raises the error
    of the first failing example (as a single process would).
    """
    failed = []
    for i in world.shard(range(len(examples))):
        try:
            pipeline.analyse(examples[i].text)
        except ParseError as error:
            example = examples[i]
            failed.append((i, f"{example.source}:{example.line}: {error}"))
    failed = sorted(f for shard in world.all_gather(failed) for f in shard)
    if failed and settings.unparsable == 'error':
        raise ParseError(f"{failed[0][1]} (use --unparsable skip to leave "
                         "such sentences out)")
    dropped = {i for i, _ in failed}
    return [i for i in range(len(examples)) if i not in dropped]


def _split(pipeline: SentencePipeline, corpus: Corpus,
           examples: Sequence[Example], kept: list[int],
           world: World) -> Split:
    """This rank's shard of the kept ``examples`` as circuits and labels.

    A rank holds the examples it parsed (see :func:`_parse_shards`);
    their positions are their places among the kept examples.
    """
    mine = [k for k, i in enumerate(kept) if world.owner(i) == world.rank]
    circuits = pipeline.circuits([examples[kept[k]].text for k in mine])
    labels = torch.tensor([corpus.label_index(examples[kept[k]].label)
                           for k in mine], dtype=torch.long)
    return Split(circuits, labels, positions=mine, total=len(kept))


def _gathered_symbols(circuits: Sequence[Any], world: World) -> list[Any]:
    """The symbols of every rank's ``circuits``, sorted by name."""
    return unique_symbols(symbol for shard in
                          world.all_gather(collect_symbols(circuits))
                          for symbol in shard)


def _predictions(model: DisCoCatClassifier, data: Split,
                 world: World) -> tuple[list[int], list[int]]:
    """True and predicted labels of the whole split, in global order."""
    with torch.no_grad():
        predicted = (model(data.circuits).argmax(1).tolist()
                     if data.circuits else [])
    pairs = world.all_gather((list(data.positions or range(len(predicted))),
                              data.labels.tolist(), predicted))
    rows = sorted(row for positions, truth, guess in pairs
                  for row in zip(positions, truth, guess))
    return [r[1] for r in rows], [r[2] for r in rows]


def train_text_classifier(corpus_path: str | Path, out: str | Path,
                          settings: TextSettings | None = None,
                          resume: bool = False, progress: bool = True,
                          world: World | None = None,
                          device: Device = None) -> dict[str, Any]:
    """Train on ``corpus_path``, write the run to ``out``, return metrics.

    With ``resume=True`` training continues from ``out``'s checkpoint,
    which must come from the same settings and corpus (on any device:
    checkpoints hold CPU tensors). With a distributed ``world`` (see
    :mod:`qnlp.train.distributed`) every rank calls this; each parses and
    evaluates its shard, rank 0 writes. ``device``: where to train
    (default the CPU); ``settings.dtype`` the precision.
    """
    settings = settings or TextSettings()
    world = world or World()
    device = resolve_device(device)
    dtype = resolve_dtype(settings.dtype)
    out = Path(out)
    torch.manual_seed(settings.seed)
    corpus = load_corpus(corpus_path, split=settings.split,
                         seed=settings.seed)
    if resume and world.is_main and not (out / CHECKPOINT_FILE).exists():
        raise CheckpointError(f"{out / CHECKPOINT_FILE}: nothing to resume "
                              "(was the run started with this --out?)")
    pipeline = _pipeline(settings, len(corpus.labels))
    parts = {'train': corpus.train, 'dev': corpus.dev, 'test': corpus.test}
    kept = {name: _parse_shards(pipeline, examples, settings, world)
            for name, examples in parts.items()}
    own_train = [corpus.train[i].text for i in kept['train']
                 if world.owner(i) == world.rank]
    counts = sum(world.all_gather(pipeline.count_pairs(own_train)),
                 Counter())
    pipeline.fit_vocabulary(counts=counts)
    train, dev, test = (_split(pipeline, corpus, parts[name], kept[name],
                               world) for name in ('train', 'dev', 'test'))

    model = DisCoCatClassifier(_gathered_symbols(train.circuits, world),
                               len(corpus.labels), settings.seed, dtype,
                               device)
    # Dev and test may use <unk> of categories absent from train.
    for data in (dev, test):
        model.add_symbols(_gathered_symbols(data.circuits, world))
    run_config = {
        'task': 'sentences', 'corpus': str(corpus_path),
        'corpus_sha256': corpus.fingerprint, 'labels': corpus.labels,
        'settings': asdict(settings),
        'sentence_qubits': _sentence_qubits(len(corpus.labels)),
        'symbols': model.engine.symbols,
        'vocabulary': sorted(map(list, pipeline.vocabulary or ())),
    }
    if world.is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / CONFIG_FILE, run_config)
    identity = {'corpus_sha256': corpus.fingerprint,
                'settings': json.loads(json.dumps(asdict(settings)))}

    start = time.perf_counter()
    history = fit(model, train, dev, settings.train_config(),
                  progress=progress, checkpoint=out / CHECKPOINT_FILE,
                  resume=resume, identity=identity,
                  history_file=out / HISTORY_FILE, world=world)
    train_seconds = time.perf_counter() - start

    metrics: dict[str, Any] = {
        'train_seconds': train_seconds,
        'epochs_run': len(history), 'epochs': settings.epochs,
        'n_parameters': model.engine.n_weights,
        'processes': world.size,
        'n_circuit_shapes': sum(world.all_gather(model.engine.n_plans))}
    for name, data in (('train', train), ('dev', dev), ('test', test)):
        loss, accuracy = evaluate(model, model.prepare(data.circuits),
                                  data.labels, world)
        metrics[f'{name}_accuracy'] = accuracy
        metrics[f'{name}_loss'] = loss
        metrics[f'{name}_skipped'] = len(parts[name]) - len(kept[name])
    truth, predicted = _predictions(model, test, world)
    metrics['test_f1'] = classification_report(truth, predicted,
                                               corpus.labels)['f1']
    if world.is_main:
        save_run(out, run_config, {'weights': model.weights})
        atomic_write_json(out / METRICS_FILE, metrics)
        plot_history(history, out / 'curve.png')
    return metrics


def _train_on_this_rank(corpus_path: str | Path, out: str | Path,
                        settings: TextSettings, resume: bool,
                        progress: bool, device: str) -> None:
    world = world_from_environment(device)
    train_text_classifier(corpus_path, out, settings, resume, progress,
                          world, world.device)


def train_text_parallel(corpus_path: str | Path, out: str | Path,
                        settings: TextSettings | None = None, nproc: int = 2,
                        resume: bool = False, progress: bool = True,
                        device: Device = None) -> dict[str, Any]:
    """:func:`train_text_classifier` data-parallel on ``nproc`` local
    processes (``qnlp train --nproc N``); returns the run's metrics.

    Same global batch, same seed: the same weights and metrics as one
    process (up to floating-point summation order). With ``device``
    ``cuda`` rank ``r`` trains on GPU ``r`` (nccl), otherwise on the CPU
    (gloo).
    """
    launch(_train_on_this_rank, nproc, corpus_path, out,
           settings or TextSettings(), resume, progress,
           str(resolve_device(device).type))
    return json.loads((Path(out) / METRICS_FILE).read_text())


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


def load_text_classifier(run_dir: str | Path,
                         device: Device = None) -> TrainedTextClassifier:
    """Rebuild a trained classifier from its run directory, on ``device``
    (default the CPU; the weights file is device independent)."""
    device = resolve_device(device)
    config, tensors = load_run(run_dir)
    try:
        settings = TextSettings.from_dict(config['settings'])
        labels = list(config['labels'])
        pipeline = _pipeline(settings, len(labels))
        pipeline.vocabulary = {tuple(pair) for pair in config['vocabulary']}
        model = DisCoCatClassifier(config['symbols'], len(labels),
                                   dtype=resolve_dtype(settings.dtype),
                                   device=device)
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
