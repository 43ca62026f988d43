"""Protein sequence classification runs (chain and tree models).

>>> import tempfile
>>> metrics = train_protein_classifier('corpora/proteins', tempfile.mkdtemp(),
...     ProteinSettings(epochs=1, max_length=64), progress=False)
>>> 0 <= metrics['test_accuracy'] <= 1
True
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from qnlp.data.corpus import (Example, fingerprint, shuffled_by_label,
                              split_examples)
from qnlp.data.fasta import (DEEPLOC_MEMBRANE_TASK, ProteinRecord, crop,
                             read_fasta)
from qnlp.engine.device import Device, resolve_device, resolve_dtype
from qnlp.errors import ConfigError, CorpusError
from qnlp.models.sequence import SequenceClassifier
from qnlp.parsing.protein import tokenise_protein
from qnlp.files import atomic_write_json
from qnlp.train.checkpoint import CONFIG_FILE, METRICS_FILE, save_run
from qnlp.train.metrics import classification_report
from qnlp.train.plots import plot_history
from qnlp.train.trainer import Split, TrainConfig, evaluate, fit


@dataclass
class ProteinSettings:
    """Every setting of a protein run."""
    seed: int = 0
    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.01
    optimizer: str = 'adam'
    schedule: str = 'constant'
    patience: int = 0
    model: str = 'chain'
    sharing: str = 'hierarchical'
    layers: int = 2
    qubits: int = 2
    init_scale: float = 0.05
    window: int = 32
    stride: int = 0                   # 0: a quarter of the window
    block: int = 8
    tokens: str = 'residue'
    k: int = 1
    max_length: int | None = None     # None: no crop (windows cover all)
    crop: str = 'start'
    test_fraction: float = 0.2
    dev_fraction: float = 0.1
    folds: int = 0
    fold: int = 0
    label_patterns: tuple[tuple[str, str], ...] = ()
    dtype: str = 'float64'

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                           lr=self.lr, seed=self.seed,
                           optimizer=self.optimizer, schedule=self.schedule,
                           patience=self.patience)


def fasta_files(path: str | Path) -> list[Path]:
    """A FASTA file, or every ``*.fasta``/``*.fa`` file in a directory."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.suffix in ('.fasta', '.fa', '.faa'))
        if not files:
            raise CorpusError("no .fasta files in directory", str(path))
        return files
    if not path.exists():
        raise CorpusError("no such file or directory", str(path))
    return [path]


def load_protein_split(path: str | Path, settings: ProteinSettings
                       ) -> tuple[list[ProteinRecord], ...]:
    """Seeded stratified train/dev/test split of the labelled records."""
    files = fasta_files(path)
    data = read_fasta(files, settings.label_patterns)
    records = [r for r in data.records if r.label]
    as_examples = [Example(r.id, r.label) for r in records]
    by_id = {r.id: r for r in records}
    test_f, dev_f = settings.test_fraction, settings.dev_fraction
    if settings.folds:
        parts = cross_validation_split(as_examples, settings.folds,
                                       settings.fold, dev_f, settings.seed)
    else:
        parts = split_examples(as_examples, (1 - test_f - dev_f, dev_f,
                                             test_f), settings.seed)
    return tuple([by_id[e.text] for e in part] for part in parts)


def cross_validation_split(examples: Sequence[Example], folds: int,
                           fold: int, dev_fraction: float, seed: int
                           ) -> tuple[list[Example], ...]:
    """Stratified ``folds``-fold cross-validation: fold ``fold`` is the
    test set; ``dev_fraction`` of all examples, taken from the rest, is
    the dev set (stratified, seeded).

    >>> data = [Example(str(i), str(i % 2)) for i in range(20)]
    >>> parts = [cross_validation_split(data, 5, k, 0.1, 0) for k in range(5)]
    >>> sorted(e.text for p in parts for e in p[2]) == sorted(
    ...     e.text for e in data)   # every example tested exactly once
    True
    >>> [len(p) for p in parts[0]]
    [14, 2, 4]
    """
    if folds < 2 or not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} of {folds}: need 2 or more folds "
                          "and 0 <= fold < folds")
    rest: list[Example] = []
    test: list[Example] = []
    for group in shuffled_by_label(examples, seed):
        for index, example in enumerate(group):
            (test if index % folds == fold else rest).append(example)
    dev_share = dev_fraction / (1 - 1 / folds)
    train, dev, _ = split_examples(rest, (1 - dev_share, dev_share, 0.0),
                                   seed)
    return train, dev, test


#: ``ProteinSettings.label_patterns`` of DeepLoc cytoplasm (0) versus cell
#: membrane (1), the task of ``../shared/data/README.md``.
DEEPLOC_LABEL_PATTERNS = tuple((pattern, label or '')
                               for pattern, label in DEEPLOC_MEMBRANE_TASK)


def cropped(record: ProteinRecord, settings: ProteinSettings) -> str:
    """The record's residues after the crop the settings ask for (none
    unless ``max_length`` is set)."""
    if not settings.max_length:
        return record.sequence
    return crop(record.sequence, settings.max_length, settings.crop)


def _tokens(record: ProteinRecord, settings: ProteinSettings) -> list[str]:
    return tokenise_protein(cropped(record, settings), settings.tokens,
                            settings.k)


def _encode(records, settings: ProteinSettings, vocabulary: dict[str, int],
            labels: list[str]) -> Split:
    sequences = [[vocabulary.get(t, vocabulary['<unk>'])
                  for t in _tokens(record, settings)] for record in records]
    return Split(sequences, torch.tensor([labels.index(r.label)
                                          for r in records]))


@dataclass
class ProteinData:
    """A labelled FASTA corpus, split and encoded as token indices."""
    labels: list[str]
    vocabulary: dict[str, int]      # tokens of the training part, <unk> last
    train: Split
    dev: Split
    test: Split


def load_protein_data(path: str | Path, settings: ProteinSettings
                      ) -> ProteinData:
    """Split (:func:`load_protein_split`), crop and tokenise a FASTA corpus;
    exactly two labels are required."""
    parts = load_protein_split(path, settings)
    labels = sorted({r.label for part in parts for r in part})
    if len(labels) != 2:
        raise ConfigError(f"protein models are binary; found labels "
                          f"{labels} (use label patterns to pick two)")
    tokens = sorted({t for r in parts[0] for t in _tokens(r, settings)})
    vocabulary = {t: i for i, t in enumerate(tokens + ['<unk>'])}
    train, dev, test = (_encode(part, settings, vocabulary, labels)
                        for part in parts)
    return ProteinData(labels, vocabulary, train, dev, test)


def make_sequence_model(vocabulary: Sequence[str], settings: ProteinSettings,
                        seed: int | None = None,
                        dtype: torch.dtype = torch.float64,
                        device: Device = None) -> SequenceClassifier:
    """The chain or tree classifier that ``settings`` describe (initial
    values from ``seed``, default ``settings.seed``). Without windows or
    a crop, hierarchical blocks are made for 1,024 tokens; later
    positions share the last block."""
    return SequenceClassifier(
        list(vocabulary), settings.model, settings.sharing, settings.layers,
        settings.block, settings.max_length or 1024,
        settings.seed if seed is None else seed, settings.qubits,
        settings.init_scale, settings.window, settings.stride, dtype=dtype,
        device=device)


def train_protein_classifier(path: str | Path, out: str | Path,
                             settings: ProteinSettings | None = None,
                             resume: bool = False,
                             progress: bool = True,
                             device: Device = None) -> dict[str, Any]:
    """Train a chain or tree classifier on FASTA data; write ``out``.

    ``device``: where to train (default the CPU; checkpoints are device
    independent); ``settings.dtype`` the precision.
    """
    settings = settings or ProteinSettings()
    device = resolve_device(device)
    dtype = resolve_dtype(settings.dtype)
    torch.manual_seed(settings.seed)
    data = load_protein_data(path, settings)
    vocabulary, labels = data.vocabulary, data.labels
    train, dev, test = data.train, data.dev, data.test
    model = make_sequence_model(list(vocabulary), settings, dtype=dtype,
                                device=device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = fasta_files(path)
    config = {'task': 'proteins', 'corpus': str(path),
              'corpus_sha256': fingerprint(files), 'labels': labels,
              'settings': json.loads(json.dumps(asdict(settings))),
              'vocabulary': list(vocabulary)}
    atomic_write_json(out / CONFIG_FILE, config)
    start = time.perf_counter()
    history = fit(model, train, dev, settings.train_config(), progress=progress,
                  checkpoint=out / 'checkpoint.safetensors', resume=resume,
                  identity={'corpus_sha256': config['corpus_sha256'],
                            'settings': config['settings']},
                  history_file=out / 'history.jsonl')
    seconds = time.perf_counter() - start
    metrics: dict[str, Any] = {'train_seconds': seconds,
                               'epochs_run': len(history),
                               'n_parameters': model.n_parameters,
                               'sequences': [train.size, dev.size,
                                             test.size]}
    for name, data in (('train', train), ('dev', dev), ('test', test)):
        loss, accuracy = evaluate(model, model.prepare(data.circuits),
                                  data.labels)
        metrics[f'{name}_accuracy'], metrics[f'{name}_loss'] = accuracy, loss
    with torch.no_grad():
        predicted = model(model.prepare(test.circuits)).argmax(1).tolist()
    metrics['test_f1'] = classification_report(
        test.labels.tolist(), predicted, labels)['f1']
    save_run(out, config, {k: v for k, v in model.state_dict().items()})
    atomic_write_json(out / METRICS_FILE, metrics)
    plot_history(history, out / 'curve.png')
    return metrics


def parse_label_patterns(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``REGEX=LABEL`` strings to pairs; an empty label skips the record."""
    pairs = []
    for item in items:
        pattern, sep, label = item.rpartition('=')
        if not sep or not pattern:
            raise ConfigError(f"label pattern {item!r}: expected REGEX=LABEL")
        pairs.append((pattern, label))
    return tuple(pairs)
