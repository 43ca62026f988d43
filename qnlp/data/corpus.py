"""Load labelled text corpora and split them.

Two formats are read:

* ``label sentence`` lines (the MC/RP format): the label is the first
  whitespace-separated field, the rest of the line is the text;
* CSV or TSV with a header naming a text column (``text``, ``sentence``
  or ``review``) and a label column (``label``, ``liked`` or ``class``).

A corpus *directory* holds files whose names contain ``train``, ``dev``
(or ``valid``) and ``test``. Malformed input raises
:class:`~qnlp.errors.CorpusError` naming the file and line.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / 'c.txt').write_text('1 woman cooks meal .\\n0 man runs code\\n')
>>> [(e.text, e.label) for e in read_corpus_file(folder / 'c.txt')]
[('woman cooks meal .', '1'), ('man runs code', '0')]
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from qnlp.errors import CorpusError

TEXT_COLUMNS = ('text', 'sentence', 'review')
LABEL_COLUMNS = ('label', 'liked', 'class')
SPLIT_NAMES = {'train': ('train',), 'dev': ('dev', 'valid'),
               'test': ('test',)}


@dataclass(frozen=True)
class Example:
    """One labelled text, with where it came from."""
    text: str
    label: str
    source: str = ''
    line: int = 0


@dataclass
class Corpus:
    """Train, dev and test examples and the sorted label set."""
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    labels: list[str]
    fingerprint: str

    def label_index(self, label: str) -> int:
        """The class index of ``label``."""
        return self.labels.index(label)


def read_corpus_file(path: str | Path) -> list[Example]:
    """Read one corpus file in either supported format."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise CorpusError("file not found", str(path)) from None
    except UnicodeDecodeError as error:
        raise CorpusError(f"not UTF-8 text ({error.reason})", str(path)) \
            from None
    first = text.split('\n', 1)[0].lower()
    delimiter = '\t' if '\t' in first else ','
    header = [c.strip() for c in first.split(delimiter)]
    if any(c in TEXT_COLUMNS for c in header) and any(
            c in LABEL_COLUMNS for c in header):
        examples = _read_table(path, text, delimiter)
    else:
        examples = _read_label_lines(path, text)
    if not examples:
        raise CorpusError("no examples in file", str(path))
    return examples


def _read_label_lines(path: Path, text: str) -> list[Example]:
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 1)
        if len(parts) < 2 or not parts[1].strip():
            raise CorpusError(f"expected '<label> <sentence>', got "
                              f"{line.strip()!r}", str(path), number)
        examples.append(Example(parts[1].strip(), parts[0], str(path),
                                number))
    return examples


def _read_table(path: Path, text: str, delimiter: str) -> list[Example]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter,
                        quoting=csv.QUOTE_NONE if delimiter == '\t'
                        else csv.QUOTE_MINIMAL)
    header = [c.strip().lower() for c in next(reader)]
    text_col = next(header.index(c) for c in TEXT_COLUMNS if c in header)
    label_col = next(header.index(c) for c in LABEL_COLUMNS if c in header)
    examples = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CorpusError(f"expected {len(header)} fields, found "
                              f"{len(row)}", str(path), number)
        sentence, label = row[text_col].strip(), row[label_col].strip()
        if not sentence or not label:
            raise CorpusError("empty text or label", str(path), number)
        examples.append(Example(sentence, label, str(path), number))
    return examples


def find_split_files(folder: str | Path) -> dict[str, Path]:
    """Map ``train``/``dev``/``test`` to files in ``folder`` by name."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        name = file.name.lower()
        for split, keys in SPLIT_NAMES.items():
            if any(k in name for k in keys):
                if split in found:
                    raise CorpusError(f"two {split} files: "
                                      f"{found[split].name} and {file.name}",
                                      str(folder))
                found[split] = file
    if 'train' not in found:
        raise CorpusError("no file with 'train' in its name", str(folder))
    return found


def shuffled_by_label(examples: Sequence[Example], seed: int
                      ) -> list[list[Example]]:
    """The examples grouped by label (labels sorted), each group shuffled
    by one seeded generator: the ground of every stratified split.

    >>> data = [Example(str(i), str(i % 2)) for i in range(6)]
    >>> [[e.label for e in g] for g in shuffled_by_label(data, 0)]
    [['0', '0', '0'], ['1', '1', '1']]
    """
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    groups = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        groups.append(group)
    return groups


def split_examples(examples: Sequence[Example], fractions: Sequence[float],
                   seed: int) -> tuple[list[Example], ...]:
    """Seeded stratified split of ``examples`` by ``fractions``.

    >>> data = [Example(str(i), str(i % 2)) for i in range(10)]
    >>> [len(part) for part in split_examples(data, (0.6, 0.2, 0.2), 0)]
    [6, 2, 2]
    """
    if abs(sum(fractions) - 1) > 1e-6 or any(f < 0 for f in fractions):
        raise CorpusError(f"split fractions {list(fractions)} must be "
                          "non-negative and sum to 1")
    parts: list[list[Example]] = [[] for _ in fractions]
    for group in shuffled_by_label(examples, seed):
        bounds, total = [], 0.0
        for fraction in fractions:
            total += fraction
            bounds.append(round(total * len(group)))
        start = 0
        for part, stop in zip(parts, bounds):
            part.extend(group[start:stop])
            start = stop
    return tuple(parts)


def load_corpus(path: str | Path, split: Sequence[float] | None = None,
                seed: int = 0) -> Corpus:
    """Load a corpus directory, or one file split by ``split`` fractions.

    A directory without a dev file gets one carved from train (20 %,
    stratified, seeded); a directory without a test file is an error.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError("no such file or directory", str(path))
    if path.is_dir():
        files = find_split_files(path)
        train = read_corpus_file(files['train'])
        if 'test' not in files:
            raise CorpusError("no file with 'test' in its name", str(path))
        test = read_corpus_file(files['test'])
        if 'dev' in files:
            dev = read_corpus_file(files['dev'])
        else:
            train, dev = split_examples(train, (0.8, 0.2), seed)
        sources = [files[k] for k in sorted(files)]
    else:
        examples = read_corpus_file(path)
        train, dev, test = split_examples(examples, split or (0.7, 0.15, 0.15),
                                          seed)
        sources = [path]
    labels = sorted({e.label for e in train + dev + test},
                    key=lambda label: (len(label), label))
    unseen = {e.label for e in dev + test} - {e.label for e in train}
    if unseen:
        raise CorpusError(f"labels {sorted(unseen)} occur in dev/test but "
                          "never in train", str(path))
    return Corpus(train, dev, test, labels, fingerprint(sources))


def fingerprint(paths: Sequence[Path]) -> str:
    """SHA-256 over the names and bytes of ``paths`` (corpus identity)."""
    digest = hashlib.sha256()
    for file in paths:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()
