"""Protein sequence classification: chain (RNN-style) and tree (CNN-style)
quantum tensor networks.

DATA is a FASTA file or a directory of them; labels come from the
headers (the second field, or ``label_patterns``), and the records are
split 70/10/20 stratified by ``seed`` (or one fold of ``folds``-fold
cross-validation is the test part).

>>> import tempfile
>>> from qnlp.tasks import train
>>> metrics = train('proteins', 'corpora/proteins', tempfile.mkdtemp() + '/r',
...     ProteinSettings(epochs=1, max_length=64), progress=False)
>>> 0 <= metrics['test_accuracy'] <= 1
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from qnlp.choices import POOLINGS, READOUT_AXES
from qnlp.data.fasta import (DEEPLOC_LABEL_PATTERNS, KYTE_DOOLITTLE,
                             RESIDUE_PROPERTIES,
                             ProteinRecord, crop, dev_fold_count,
                             fasta_files, read_fasta, residue_features,
                             split_records)
from qnlp.errors import ConfigError
from qnlp.tasks.base import Loaded, SplitSettings, Task, setting

__all__ = ['DEEPLOC_LABEL_PATTERNS', 'ProteinSettings', 'ProteinTask',
           'cropped', 'load_protein_data', 'load_protein_split',
           'make_sequence_model',
           'parse_label_patterns']
#: Qubits per wire beyond this are refused (transfer matrices are 4^q
#: by 4^q).
MAX_QUBITS = 4


def parse_label_patterns(items: Sequence[str]
                         ) -> tuple[tuple[str, str], ...]:
    """``REGEX=LABEL`` strings to pairs; an empty label skips the record.

    >>> parse_label_patterns(['membrane=1', 'Nucleus='])
    (('membrane', '1'), ('Nucleus', ''))
    """
    pairs = []
    for item in items:
        pattern, sep, label = item.rpartition('=')
        if not sep or not pattern:
            raise ConfigError(f"label pattern {item!r}: expected REGEX=LABEL")
        pairs.append((pattern, label))
    return tuple(pairs)


@dataclass
class ProteinSettings(SplitSettings):
    """Every setting of a protein run."""
    epochs: int = setting(50, 'training epochs', low=1, high=100_000)
    batch_size: int = setting(64, 'minibatch size; 0 = the whole training '
                                  'set', low=0)
    lr: float = setting(0.01, 'learning rate', low=1e-12, high=1e3)
    model: str = setting('chain', 'RNN-style chain or CNN-style tree',
                         choices=('chain', 'tree'))
    sharing: str = setting('hierarchical', 'one merge block, or one per '
                                           'level/block',
                           choices=('uniform', 'hierarchical'))
    layers: int = setting(2, 'layers of each merge block', low=1, high=32)
    qubits: int = setting(2, 'qubits per wire', low=1, high=MAX_QUBITS)
    init_scale: float = setting(0.05, 'scale of the initial angles',
                                low=0.0, high=10.0)
    window: int = setting(32, 'run the circuit on every window of this '
                              'many tokens and pool the read-outs; 0 = one '
                              'circuit per sequence', low=0, high=4096)
    pooling: str = setting('max-min', "how the windows' read-outs make one "
                                      'logit: a weighted soft maximum and '
                                      'soft minimum, or also a weighted '
                                      'mean over the windows (max-min-mean)',
                           choices=POOLINGS)
    readout_axes: str = setting('z', 'Bloch-vector components of the '
                                     'read-out qubit to read, each pooled '
                                     'with weights of its own: z, or xyz '
                                     '(three read-outs of one circuit)',
                                choices=READOUT_AXES)
    end_readouts: bool = setting(False, "add trained weights of the first "
                                        "and last windows' read-outs to "
                                        'the logit (signals at a terminus: '
                                        'lipid anchors, CaaX boxes)')
    n_terminus: int = setting(0, 'also read the first N residues with a '
                                 'circuit of their own (residue 1 merged '
                                 'last), its read-out weighted into the '
                                 'logit: position-aware signals such as '
                                 'N-terminal lipid anchors; 0 = off',
                              low=0, high=4096, metavar='N')
    stride: int = setting(0, 'step between windows; 0 = a quarter of the '
                             'window', low=0)
    block: int = setting(8, 'tokens per block of hierarchical sharing',
                         low=1)
    tokens: str = setting('residue', 'residues, k-mers or a reduced '
                                     'alphabet',
                          choices=('residue', 'kmer', 'hp', 'six'))
    kmer: int = setting(1, 'k of --tokens kmer', low=1, high=6)
    composition: bool = setting(False, 'add a trained linear read-out '
                                       'of the residue composition to '
                                       'the logit (a hybrid)')
    scan_features: bool = setting(False, 'add a trained linear read-out '
                                         "of the hydropathy baseline's "
                                         'scan (largest mean Kyte-Doolittle '
                                         'over 19 residues, log count of '
                                         'windows above 1.6) to the logit '
                                         '(a hybrid)')
    residue_features: str = setting(
        '', 'fixed residue properties re-uploaded into every layer of the '
            "chain's merges, a comma list of kd (hydropathy), charge, size "
            '(default: none)', metavar='NAMES')
    max_length: int | None = setting(None, 'crop sequences to this many '
                                           'residues (default: no crop)',
                                     low=1)
    crop: str = setting('start', 'which residues a crop keeps',
                        choices=('start', 'center', 'ends'))
    test_fraction: float = setting(0.2, 'test share of the split',
                                   low=0.0, high=0.9)
    dev_fraction: float = setting(0.1, 'dev share of the split', low=0.0,
                                  high=0.9)
    folds: int = setting(0, 'stratified cross-validation: test on fold '
                            '--fold of FOLDS; 0 = the plain split', low=0)
    fold: int = setting(0, 'test fold, 0..FOLDS-1', low=0)
    dev_fold: int | None = setting(
        None, 'the dev part is this fold of the non-test records, cut '
              'into folds of about --dev-fraction each (8 at the '
              'defaults): members of an ensemble that take different dev '
              'folds hold out disjoint dev parts beside the same test '
              'part (default: a seeded draw)', low=0)
    label_patterns: tuple[tuple[str, str], ...] = setting(
        (), 'label = LABEL for headers matching REGEX (first match wins; '
            'an empty LABEL skips); default: the second header field',
        parse=parse_label_patterns, metavar='REGEX=LABEL',
        option='--label-pattern')

    def check(self) -> None:
        if self.folds == 1:
            raise ConfigError("folds must be 0 (no cross-validation) or at "
                              "least 2")
        if self.folds and self.fold >= self.folds:
            raise ConfigError(f"fold must lie in 0..{self.folds - 1}, got "
                              f"{self.fold}")
        unknown = set(self.feature_names) - set(RESIDUE_PROPERTIES)
        if unknown:
            raise ConfigError(f"residue_features: unknown {sorted(unknown)}; "
                              f"known: {', '.join(RESIDUE_PROPERTIES)}")
        if self.feature_names and (self.model, self.tokens) != ('chain',
                                                                'residue'):
            raise ConfigError("residue_features need --model chain and "
                              "--tokens residue")
        if self.scan_features and self.tokens != 'residue':
            raise ConfigError("scan_features scan residues: use --tokens "
                              "residue")
        if self.end_readouts and not self.window:
            raise ConfigError("end_readouts read the first and last "
                              "windows: give --window > 0")
        if self.pooling != 'max-min' and not self.window:
            raise ConfigError(f"pooling {self.pooling}: the windows' "
                              "read-outs are pooled; give --window > 0")
        if self.test_fraction + self.dev_fraction >= 1:
            raise ConfigError("test_fraction + dev_fraction must be below 1")
        if self.dev_fold is not None:
            dev_fold_count(self.dev_fraction, self.test_fraction, self.folds,
                           self.dev_fold)


    @property
    def feature_names(self) -> list[str]:
        """The names of ``residue_features``."""
        return [n.strip() for n in self.residue_features.split(',')
                if n.strip()]


def cropped(record: ProteinRecord, settings: ProteinSettings) -> str:
    """The record's residues after the crop the settings ask for (none
    unless ``max_length`` is set)."""
    if not settings.max_length:
        return record.sequence
    return crop(record.sequence, settings.max_length, settings.crop)


def _tokens(sequence: str, settings: ProteinSettings) -> list[str]:
    from qnlp.parsing.protein import tokenise_protein
    return tokenise_protein(sequence, settings.tokens, settings.kmer)


def _encode(sequences: Sequence[str], settings: ProteinSettings,
            vocabulary: dict[str, int]) -> list[list[int]]:
    unknown = vocabulary['<unk>']
    return [[vocabulary.get(t, unknown) for t in _tokens(s, settings)]
            for s in sequences]


def _split(records: Sequence[ProteinRecord], settings: ProteinSettings,
           vocabulary: dict[str, int], labels: list[str]) -> Any:
    import torch

    from qnlp.train import Split
    sequences = _encode([cropped(r, settings) for r in records], settings,
                        vocabulary)
    return Split(sequences, torch.tensor([labels.index(r.label)
                                          for r in records]))


def load_protein_split(path: str | Path, settings: ProteinSettings
                       ) -> tuple[list[ProteinRecord], ...]:
    """The train, dev and test records of the split ``settings`` ask
    for."""
    records = read_fasta(fasta_files(path), settings.label_patterns).records
    return split_records(records, settings.data_seed,
                         settings.test_fraction,
                         settings.dev_fraction, settings.folds, settings.fold,
                         settings.dev_fold)


def load_protein_data(path: str | Path, settings: ProteinSettings
                      ) -> Loaded:
    """Split, crop and tokenise a FASTA corpus; exactly two labels."""
    from qnlp.data.corpus import fingerprint
    files = fasta_files(path)
    parts = load_protein_split(path, settings)
    labels = sorted({r.label for part in parts for r in part})
    if len(labels) != 2:
        raise ConfigError(f"{path}: protein models are binary; found labels "
                          f"{labels} (use --label-pattern to pick two)")
    tokens = sorted({t for r in parts[0]
                     for t in _tokens(cropped(r, settings), settings)})
    vocabulary = {t: i for i, t in enumerate(tokens + ['<unk>'])}
    train, dev, test = (_split(part, settings, vocabulary, labels)
                        for part in parts)
    return Loaded(train, dev if dev.size else None, test, labels,
                  fingerprint(files), state={'vocabulary': list(vocabulary)})


def make_sequence_model(vocabulary: Sequence[str], settings: ProteinSettings,
                        seed: int | None = None, dtype: Any = None,
                        device: Any = None) -> Any:
    """The chain or tree classifier that ``settings`` describe (initial
    values from ``seed``, default ``settings.seed``)."""
    import torch

    from qnlp.models.sequence import SequenceClassifier
    return SequenceClassifier(
        list(vocabulary), settings.model, settings.sharing, settings.layers,
        settings.block, settings.max_length or 1024,
        settings.seed if seed is None else seed, settings.qubits,
        settings.init_scale, settings.window, settings.stride,
        dtype=dtype or torch.float64, device=device,
        composition=settings.composition, pooling=settings.pooling,
        axes=settings.readout_axes,
        ends=settings.end_readouts, n_terminus=settings.n_terminus,
        scan_values=[KYTE_DOOLITTLE.get(t, 0.0) for t in vocabulary]
        if settings.scan_features else None,
        features=residue_features(vocabulary, settings.feature_names)
        if settings.feature_names else None)


class ProteinTask(Task):
    """Chain or tree quantum tensor network over residues."""
    name = 'proteins'
    Settings = ProteinSettings
    data_help = 'a FASTA file or a directory of them'
    input_help = 'protein sequences (one-letter residues)'
    baselines = {'composition': 'residue composition + logistic regression',
                 'dipeptide': 'dipeptide composition + logistic regression',
                 'hydropathy': 'composition + Kyte-Doolittle window scan + '
                               'logistic regression',
                 'cnn': '1D convolutional network',
                 'esm': 'mean-pooled ESM-2 embeddings + logistic regression '
                        "(pip install 'qnlp[esm]' and the weights)"}
    default_baselines = ('composition', 'hydropathy', 'cnn')

    def load(self, data: str, settings: ProteinSettings,
             **options: Any) -> Loaded:
        return load_protein_data(data, settings)

    def build(self, settings: ProteinSettings, loaded: Loaded,
              device: Any) -> Any:
        from qnlp.engine.device import resolve_dtype
        return make_sequence_model(loaded.state['vocabulary'], settings,
                                   dtype=resolve_dtype(settings.dtype),
                                   device=device)

    def restore(self, settings: ProteinSettings, config: dict[str, Any],
                tensors: dict[str, Any], device: Any) -> Any:
        from qnlp.engine.device import resolve_dtype
        model = make_sequence_model(config['vocabulary'], settings,
                                    dtype=resolve_dtype(settings.dtype),
                                    device=device)
        model.load_state_dict(tensors)
        return model

    def examples(self, data: str, settings: ProteinSettings,
                 config: dict[str, Any]) -> tuple[list[Any], list[str]]:
        records = read_fasta(fasta_files(data),
                             settings.label_patterns).records
        return [cropped(r, settings) for r in records], \
            [r.label for r in records]

    def inputs(self, items: Sequence[str], settings: ProteinSettings,
               config: dict[str, Any], model: Any = None) -> list[Any]:
        from qnlp.data.fasta import AMINO_ACIDS, EXTRA_CODES
        sequences = []
        for item in items:
            sequence = ''.join(str(item).split()).upper()
            bad = sorted(set(sequence) - set(AMINO_ACIDS + EXTRA_CODES))
            if not sequence or bad:
                raise ConfigError(f"{str(item)[:40]!r} is not a protein "
                                  f"sequence (letters {bad} are not amino "
                                  "acid codes)" if bad else
                                  "empty protein sequence")
            if settings.max_length:
                sequence = crop(sequence, settings.max_length, settings.crop)
            sequences.append(sequence)
        vocabulary = {t: i for i, t in enumerate(config['vocabulary'])}
        return _encode(sequences, settings, vocabulary)

    def fit_baseline(self, name: str, data: str,
                     settings: ProteinSettings) -> dict[str, float]:
        """Baselines train on train + dev (they select nothing)."""
        from qnlp.baselines import PROTEIN_BASELINES
        from qnlp.train.metrics import classification_report
        train, dev, test = load_protein_split(data, settings)
        labels = sorted({r.label for r in train + dev + test})
        model = PROTEIN_BASELINES[name](settings.seed)
        start = time.perf_counter()
        model.fit([cropped(r, settings) for r in train + dev],
                  [r.label for r in train + dev])
        seconds = time.perf_counter() - start
        predicted = model.predict([cropped(r, settings) for r in test])
        scores = classification_report(
            [labels.index(r.label) for r in test],
            [labels.index(p) for p in predicted], labels)
        return {'accuracy': scores['accuracy'], 'f1': scores['f1'],
                'parameters': model.n_parameters, 'seconds': seconds}
