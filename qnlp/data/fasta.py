"""Protein sequences from FASTA files, validated, labelled and cropped.

Labels come from the header: by default its second whitespace-separated
field (``>P12345 membrane``); with ``label_patterns`` a list of
``(regex, label)`` pairs maps richer headers (DeepLoc's
``Cell.membrane-M``) to labels, and records matching none are skipped
(the count is reported). Validation errors name the file, the line and,
for bad residues, the position and letter.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / 'p.fasta'
>>> _ = path.write_text('>A1 membrane\\nMKLV\\nLLA\\n>B2 soluble\\nMDE\\n')
>>> [(r.id, r.sequence, r.label) for r in read_fasta(path).records]
[('A1', 'MKLVLLA', 'membrane'), ('B2', 'MDE', 'soluble')]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qnlp.errors import ConfigError, CorpusError

#: The 20 standard amino acids, and the ambiguity/rare codes accepted.
AMINO_ACIDS = 'ACDEFGHIKLMNPQRSTVWY'
EXTRA_CODES = 'XBZUO'

#: Kyte & Doolittle (1982) hydropathy index of each amino acid.
KYTE_DOOLITTLE = {
    'A': 1.8, 'R': -4.5, 'N': -3.5, 'D': -3.5, 'C': 2.5, 'Q': -3.5,
    'E': -3.5, 'G': -0.4, 'H': -3.2, 'I': 4.5, 'L': 3.8, 'K': -3.9,
    'M': 1.9, 'F': 2.8, 'P': -1.6, 'S': -0.8, 'T': -0.7, 'W': -0.9,
    'Y': -1.3, 'V': 4.2}
#: The transmembrane-helix scan of :func:`hydropathy_scan`: windows of 19
#: residues, mean Kyte-Doolittle hydropathy above 1.6.
HYDROPATHY_WINDOW, HYDROPATHY_THRESHOLD = 19, 1.6
#: Side-chain volumes in cubic angstroms (Zamyatnin 1972).
RESIDUE_VOLUME = {
    'A': 88.6, 'R': 173.4, 'N': 114.1, 'D': 111.1, 'C': 108.5, 'Q': 143.8,
    'E': 138.4, 'G': 60.1, 'H': 153.2, 'I': 166.7, 'L': 166.7, 'K': 168.6,
    'M': 162.9, 'F': 189.9, 'P': 112.7, 'S': 89.0, 'T': 116.1, 'W': 227.8,
    'Y': 193.6, 'V': 140.0}
#: Physico-chemical residue properties scaled to about [-1, 1]: hydropathy
#: (Kyte-Doolittle / 4.5), net charge at pH 7 (histidine +0.1) and size
#: ((volume - 140) / 90). Other codes (X, B, Z, U, O) are 0 on every scale.
RESIDUE_PROPERTIES = {
    'kd': {a: v / 4.5 for a, v in KYTE_DOOLITTLE.items()},
    'charge': {'D': -1.0, 'E': -1.0, 'K': 1.0, 'R': 1.0, 'H': 0.1},
    'size': {a: (v - 140.0) / 90.0 for a, v in RESIDUE_VOLUME.items()},
}


def residue_features(tokens: Sequence[str], names: Sequence[str]
                     ) -> list[list[float]]:
    """The properties ``names`` (keys of :data:`RESIDUE_PROPERTIES`) of
    each one-letter token, a row a token (0 for anything else).

    >>> residue_features(['I', 'K', '<unk>'], ['kd', 'charge'])
    [[1.0, 0.0], [-0.8666666666666667, 1.0], [0.0, 0.0]]
    """
    return [[RESIDUE_PROPERTIES[name].get(token, 0.0) for name in names]
            for token in tokens]


@dataclass(frozen=True)
class ProteinRecord:
    """One sequence with its label and origin."""
    id: str
    sequence: str
    label: str
    source: str = ''
    line: int = 0


@dataclass
class FastaData:
    """The records read and how many headers matched no label pattern."""
    records: list[ProteinRecord]
    skipped: int = 0
    files: list[Path] = field(default_factory=list)


def _label(header: str, patterns, path: Path, line: int) -> str | None:
    if patterns:
        for pattern, label in patterns:
            if re.search(pattern, header):
                return label
        return None
    fields = header.split()
    if len(fields) < 2:
        raise CorpusError(f"header {header!r} has no label (expected "
                          "'>ID LABEL')", str(path), line)
    return fields[1]


def read_fasta(paths: str | Path | Sequence[str | Path],
               label_patterns: Sequence[tuple[str, str]] = ()) -> FastaData:
    """Read and validate one or more FASTA files."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    data = FastaData([], 0, [Path(p) for p in paths])
    seen: dict[str, str] = {}
    for path in data.files:
        try:
            lines = path.read_text(encoding='utf-8').splitlines()
        except FileNotFoundError:
            raise CorpusError("file not found", str(path)) from None
        except UnicodeDecodeError:
            raise CorpusError("not UTF-8 text", str(path)) from None
        header, start, parts = None, 0, []

        def finish() -> None:
            if header is None:
                return
            sequence = ''.join(parts)
            if not sequence:
                raise CorpusError(f"empty sequence for {header.split()[0]!r}",
                                  str(path), start)
            label = _label(header, label_patterns, path, start)
            if not label:   # no pattern matched, or one that skips
                data.skipped += 1
                return
            identifier = header.split()[0]
            if identifier in seen:
                raise CorpusError(f"duplicate ID {identifier!r} (first in "
                                  f"{seen[identifier]})", str(path), start)
            seen[identifier] = f'{path}:{start}'
            data.records.append(ProteinRecord(identifier, sequence, label,
                                              str(path), start))

        for number, raw in enumerate(lines, start=1):
            text = raw.strip()
            if not text:
                continue
            if text.startswith('>'):
                finish()
                header, start, parts = text[1:].strip(), number, []
                if not header:
                    raise CorpusError("empty header", str(path), number)
                continue
            if header is None:
                raise CorpusError("sequence before the first '>' header",
                                  str(path), number)
            upper = text.upper()
            for column, letter in enumerate(upper, start=1):
                if letter not in AMINO_ACIDS and letter not in EXTRA_CODES:
                    raise CorpusError(f"invalid residue {letter!r} at "
                                      f"column {column}", str(path), number)
            parts.append(upper)
        finish()
    if not data.records:
        raise CorpusError("no labelled sequences", ', '.join(map(str, paths)))
    return data


def crop(sequence: str, length: int, mode: str = 'start') -> str:
    """At most ``length`` residues: the first (``start``), the middle
    (``center``), or the first and last halves joined (``ends``).

    >>> crop('ABCDEFGH', 4, 'start'), crop('ABCDEFGH', 4, 'center'), crop('ABCDEFGH', 4, 'ends')
    ('ABCD', 'CDEF', 'ABGH')
    """
    if len(sequence) <= length:
        return sequence
    if mode == 'start':
        return sequence[:length]
    if mode == 'center':
        first = (len(sequence) - length) // 2
        return sequence[first:first + length]
    if mode == 'ends':
        return sequence[:length // 2] + sequence[len(sequence) -
                                                 (length - length // 2):]
    raise CorpusError(f"unknown crop mode {mode!r}: start, center or ends")


#: DeepLoc cytoplasm (0) versus cell membrane (1), as in the data README
#: (the empty label skips Cytoplasm-Nucleus records).
DEEPLOC_LABEL_PATTERNS = ((r'\sCytoplasm-Nucleus-', ''),
                          (r'\sCell\.membrane-', '1'),
                          (r'\sCytoplasm-', '0'))


def deeploc_membrane_task(paths: Sequence[str | Path]) -> FastaData:
    """Cytoplasm (0, not Cytoplasm-Nucleus) versus cell membrane (1)."""
    return read_fasta(paths, DEEPLOC_LABEL_PATTERNS)


def fasta_files(path: str | Path) -> list[Path]:
    """A FASTA file, or every ``*.fasta``/``*.fa``/``*.faa`` file in a
    directory."""
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


def split_records(records: Sequence[ProteinRecord], seed: int,
                  test_fraction: float = 0.2, dev_fraction: float = 0.1,
                  folds: int = 0, fold: int = 0, dev_fold: int | None = None
                  ) -> tuple[list[ProteinRecord], ...]:
    """Seeded stratified train/dev/test split of labelled records, or
    fold ``fold`` of ``folds``-fold cross-validation as the test part.

    With ``dev_fold`` the dev part is instead the ``dev_fold``-th of
    :func:`dev_fold_count` stratified folds of the records outside the
    test part (about the same size): runs that take different dev folds
    hold out disjoint dev parts beside the same test part, so an ensemble
    of them trains on every non-test record.
    """
    from qnlp.data.corpus import Example, split_examples
    as_examples = [Example(r.id, r.label) for r in records]
    by_id = {r.id: r for r in records}
    if folds:
        parts = cross_validation_split(as_examples, folds, fold,
                                       dev_fraction, seed)
    else:
        parts = split_examples(as_examples, (1 - test_fraction - dev_fraction,
                                             dev_fraction, test_fraction),
                               seed)
    if dev_fold is not None:
        count = dev_fold_count(dev_fraction, test_fraction, folds, dev_fold)
        parts = (*_dev_fold_split(parts[0] + parts[1], count, dev_fold,
                                  seed), parts[2])
    return tuple([by_id[e.text] for e in part] for part in parts)


def dev_fold_count(dev_fraction: float, test_fraction: float,
                   folds: int = 0, dev_fold: int | None = None) -> int:
    """How many dev folds the non-test records make, each about
    ``dev_fraction`` of all records (the test part is ``test_fraction``,
    or one of ``folds``); with ``dev_fold``, also check that it is one of
    them.

    >>> dev_fold_count(0.1, 0.2), dev_fold_count(0.25, 0.2, folds=5)
    (8, 3)
    >>> dev_fold_count(0.1, 0.2, dev_fold=8)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: dev_fold must lie in 0..7 (dev_fraction 0.1 makes 8 dev folds), got 8
    """
    if dev_fraction <= 0:
        raise ConfigError("dev folds need a dev part: give dev_fraction > 0")
    test_share = 1 / folds if folds else test_fraction
    count = max(2, round((1 - test_share) / dev_fraction))
    if dev_fold is not None and not 0 <= dev_fold < count:
        raise ConfigError(f"dev_fold must lie in 0..{count - 1} "
                          f"(dev_fraction {dev_fraction} makes {count} dev "
                          f"folds), got {dev_fold}")
    return count


def _dev_fold_split(rest: Sequence[Any], count: int, dev_fold: int,
                    seed: int) -> tuple[list[Any], list[Any]]:
    from qnlp.data.corpus import shuffled_by_label
    train: list[Any] = []
    dev: list[Any] = []
    for group in shuffled_by_label(sorted(rest, key=lambda e: e.text), seed):
        for index, example in enumerate(group):
            (dev if index % count == dev_fold else train).append(example)
    return train, dev


def cross_validation_split(examples: Sequence[Any], folds: int,
                           fold: int, dev_fraction: float, seed: int
                           ) -> tuple[list[Any], ...]:
    """Stratified ``folds``-fold cross-validation: fold ``fold`` is the
    test set; ``dev_fraction`` of all examples, taken from the rest, is
    the dev set (stratified, seeded).

    >>> from qnlp.data.corpus import Example
    >>> data = [Example(str(i), str(i % 2)) for i in range(20)]
    >>> parts = [cross_validation_split(data, 5, k, 0.1, 0) for k in range(5)]
    >>> sorted(e.text for p in parts for e in p[2]) == sorted(
    ...     e.text for e in data)   # every example tested exactly once
    True
    >>> [len(p) for p in parts[0]]
    [14, 2, 4]
    """
    from qnlp.data.corpus import shuffled_by_label, split_examples
    if folds < 2 or not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} of {folds}: need 2 or more folds "
                          "and 0 <= fold < folds")
    rest: list[Any] = []
    test: list[Any] = []
    for group in shuffled_by_label(examples, seed):
        for index, example in enumerate(group):
            (test if index % folds == fold else rest).append(example)
    dev_share = dev_fraction / (1 - 1 / folds)
    train, dev, _ = split_examples(rest, (1 - dev_share, dev_share, 0.0),
                                   seed)
    return train, dev, test


def hydropathy_scan(values: Sequence[Sequence[float]],
                    window: int = HYDROPATHY_WINDOW,
                    threshold: float = HYDROPATHY_THRESHOLD) -> np.ndarray:
    """The scan features of the ``hydropathy`` baseline
    (:class:`qnlp.baselines.protein.HydropathyClassifier`), ``[N, 2]``,
    from each sequence's per-residue Kyte-Doolittle values: the largest
    mean over ``window`` consecutive residues (the whole sequence if
    shorter; divided by 4.5, the scale's maximum) and ``log(1 + n)`` for
    the number ``n`` of windows whose mean exceeds ``threshold``. An empty
    sequence counts as one residue of value 0. (Also the side input of
    the quantum chain's ``scan_values``.)

    >>> hydropathy_scan([[4.5, 4.5, -4.5], []], window=2).round(3).tolist()
    [[1.0, 0.693], [0.0, 0.0]]
    """
    scans = np.zeros((len(values), 2))
    for row, residues in enumerate(values):
        residues = np.asarray(residues, dtype=float)
        if not residues.size:
            residues = np.zeros(1)
        width = min(window, len(residues))
        means = np.convolve(residues, np.ones(width) / width, 'valid')
        scans[row] = (means.max() / 4.5,
                      np.log1p((means > threshold).sum()))
    return scans
