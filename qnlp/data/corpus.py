"""Load labelled text corpora and split them.

Five formats are read (``format``; ``auto`` detects and says which):

* ``label-first``: ``label sentence`` lines (MC, RP, SST-2): the label
  is the first whitespace-separated field, the rest of the line the text;
* ``label-last``: headerless ``sentence<TAB>label`` lines (the UCI
  sentiment files): the label follows the last tab;
* ``csv`` / ``tsv``: a header naming a text column (``text``,
  ``sentence`` or ``review``, or ``text_column``) and a label column
  (``label``, ``liked`` or ``class``, or ``label_column``);
* ``jsonl``: JSON Lines, one ``{"text": ..., "label": ...}`` object a
  line (other keys with ``text_column`` / ``label_column``).

Detection looks at the first line (a ``{`` is JSON Lines, known column
names are a header), then at tabs (on every line: the tab-separated field
with fewer distinct values is the label). Labels that look like text --
with spaces, or nearly as many distinct ones as examples -- are refused
with one line saying how to name the format.

A corpus *directory* holds files whose names contain ``train``, ``dev``
(or ``valid``) and ``test``. Malformed input raises
:class:`~qnlp.errors.CorpusError` naming the file and line.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / 'c.txt').write_text('1 woman cooks meal .\\n0 man runs code\\n')
>>> [(e.text, e.label) for e in read_corpus_file(folder / 'c.txt')]
[('woman cooks meal .', '1'), ('man runs code', '0')]
>>> _ = (folder / 'u.txt').write_text('Loved it.\\t1\\nMeh.\\t0\\n')
>>> examples, how = read_corpus(folder / 'u.txt')
>>> how
'read as sentence<TAB>label (UCI), detected: 2 examples, 2 labels'
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from qnlp.errors import CorpusError

TEXT_COLUMNS = ('text', 'sentence', 'review')
LABEL_COLUMNS = ('label', 'liked', 'class')
SPLIT_NAMES = {'train': ('train',), 'dev': ('dev', 'valid'),
               'test': ('test',)}
#: The ``format`` choices: ``auto`` detects one of the others.
FORMATS = ('auto', 'label-first', 'label-last', 'csv', 'tsv', 'jsonl')
_NAMES = {'label-first': 'label sentence', 'label-last':
          'sentence<TAB>label (UCI)', 'csv': 'CSV', 'tsv': 'TSV',
          'jsonl': 'JSON Lines'}
#: Tab-separated fields are never quoted.
_QUOTING = {'\t': csv.QUOTE_NONE, ',': csv.QUOTE_MINIMAL}
#: More distinct labels than this, with fewer examples per label than
#: labels, look like text read as labels.
MAX_TEXT_LIKE_LABELS = 20


@dataclass(frozen=True)
class Example:
    """One labelled text, with where it came from."""
    text: str
    label: str
    source: str = ''
    line: int = 0


@dataclass(frozen=True)
class CorpusFormat:
    """How to read a corpus file: ``format`` (one of :data:`FORMATS`) and
    the column names (CSV/TSV) or keys (JSON Lines) of text and label
    (``None``: the known names)."""
    format: str = 'auto'
    text_column: str | None = None
    label_column: str | None = None

    @classmethod
    def of(cls, settings: Any) -> "CorpusFormat":
        """The format fields of a task's settings (defaults if absent)."""
        return cls(getattr(settings, 'format', 'auto'),
                   getattr(settings, 'text_column', None),
                   getattr(settings, 'label_column', None))


@dataclass
class Corpus:
    """Train, dev and test examples, the sorted label set, and how the
    files were read (``description``)."""
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    labels: list[str]
    fingerprint: str
    description: str = ''

    def label_index(self, label: str) -> int:
        """The class index of ``label``."""
        return self.labels.index(label)


def read_corpus_file(path: str | Path, how: CorpusFormat | None = None
                     ) -> list[Example]:
    """Read one corpus file (see :func:`read_corpus`)."""
    return read_corpus(path, how)[0]


def read_corpus(path: str | Path, how: CorpusFormat | None = None
                ) -> tuple[list[Example], str]:
    """The examples of one corpus file and how it was read, e.g.
    ``'read as label sentence, detected: 70 examples, 2 labels'``.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / 'r.jsonl'
    >>> _ = path.write_text('{"body": "fine", "y": 1}\\n')
    >>> read_corpus(path, CorpusFormat('auto', 'body', 'y'))[1]
    "read as JSON Lines (keys 'body', 'y'), detected: 1 examples, 1 labels"
    """
    path, how = Path(path), how or CorpusFormat()
    if how.format not in FORMATS:
        raise CorpusError(f"unknown format {how.format!r}; one of "
                          f"{', '.join(FORMATS)}", str(path))
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise CorpusError("file not found", str(path)) from None
    except UnicodeDecodeError as error:
        raise CorpusError(f"not UTF-8 text ({error.reason})", str(path)) \
            from None
    name = how.format if how.format != 'auto' else _detect(path, text, how)
    reader = {'label-first': _read_label_first,
              'label-last': _read_label_last, 'jsonl': _read_json_lines,
              'csv': _read_table, 'tsv': _read_table}[name]
    examples, columns = reader(path, text, how, name)
    if not examples:
        raise CorpusError("no examples in file", str(path))
    description = _NAMES[name] + columns
    problem = _text_like_labels(examples)
    if problem:
        raise CorpusError(
            f"read as {description}, but its labels look like text "
            f"({problem}); say how to read it with --format "
            f"{'|'.join(FORMATS[1:])} (and --text-column/--label-column)",
            str(path))
    n_labels = len({e.label for e in examples})
    asked = 'detected' if how.format == 'auto' else 'as asked'
    return examples, (f"read as {description}, {asked}: {len(examples)} "
                      f"examples, {n_labels} labels")


def _detect(path: Path, text: str, how: CorpusFormat) -> str:
    """The format of ``text`` (see the module docstring)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return 'label-first'
    first = lines[0].strip()
    if first.startswith('{') or path.suffix.lower() in ('.jsonl', '.ndjson'):
        return 'jsonl'
    if path.suffix.lower() in ('.csv', '.tsv'):   # a table with a header
        return path.suffix.lower()[1:]
    delimiter = '\t' if '\t' in first else ','
    header = first.split(delimiter)
    known = {c.strip().lower() for c in header} & set(TEXT_COLUMNS +
                                                      LABEL_COLUMNS)
    # a header has as many fields as the row below it
    rows = list(csv.reader(lines[:2], delimiter=delimiter,
                           quoting=_QUOTING[delimiter]))
    if how.text_column or how.label_column or (
            known and len({len(row) for row in rows}) == 1):
        return 'tsv' if delimiter == '\t' else 'csv'
    if all('\t' in line.strip() for line in lines):
        firsts = {line.strip().split('\t', 1)[0] for line in lines}
        lasts = {line.strip().rsplit('\t', 1)[1] for line in lines}
        return 'label-last' if len(lasts) <= len(firsts) else 'label-first'
    return 'label-first'


def _text_like_labels(examples: Sequence[Example]) -> str:
    """Why the labels of ``examples`` look like text ('' if they do not).

    >>> _text_like_labels([Example(str(i), f'w{i}') for i in range(30)])
    "30 distinct labels in 30 examples, e.g. 'w0', 'w1', 'w2'"
    >>> _text_like_labels([Example('a', 'very good')])
    "label 'very good' contains a space"
    """
    counts = Counter(e.label for e in examples)
    spaced = [label for label in counts if len(label.split()) > 1]
    if spaced:
        return f"label {spaced[0]!r} contains a space"
    n, k = len(examples), len(counts)
    if (k > MAX_TEXT_LIKE_LABELS and k * k > n) or (n >= 20 and 2 * k > n):
        sample = ', '.join(repr(label) for label in list(counts)[:3])
        return f"{k} distinct labels in {n} examples, e.g. {sample}"
    return ''


def _read_label_first(path: Path, text: str, how: CorpusFormat,
                      name: str) -> tuple[list[Example], str]:
    return _read_lines(path, text, lambda line: line.split(None, 1)[::-1],
                       "'<label> <sentence>'"), ''


def _read_label_last(path: Path, text: str, how: CorpusFormat,
                     name: str) -> tuple[list[Example], str]:
    return _read_lines(path, text, lambda line: line.rsplit('\t', 1),
                       "'<sentence><TAB><label>'"), ''


def _read_lines(path: Path, text: str, fields: Any,
                expected: str) -> list[Example]:
    """Headerless lines; ``fields(line)`` -> ``[sentence, label]``."""
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in fields(line.strip())]
        if len(parts) < 2 or not all(parts):
            raise CorpusError(f"expected {expected}, got {line.strip()!r}",
                              str(path), number)
        examples.append(Example(parts[0], parts[1], str(path), number))
    return examples


def _column(found: Sequence[str], asked: str | None,
            known: Sequence[str], role: str, path: Path,
            kind: str = 'column', line: int | None = None) -> int:
    """Index of the text or label column (or JSON key) in ``found``."""
    lowered = [c.strip().lower() for c in found]
    names = [asked.lower()] if asked else list(known)
    for name in names:
        if name in lowered:
            return lowered.index(name)
    wanted = repr(asked) if asked else '(' + ', '.join(known) + ')'
    raise CorpusError(
        f"no {role} {kind} {wanted} among the {kind}s found "
        f"({', '.join(c.strip() for c in found)}); name it with "
        f"--{role}-column", str(path), line)


def _read_table(path: Path, text: str, how: CorpusFormat,
                name: str) -> tuple[list[Example], str]:
    delimiter = '\t' if name == 'tsv' else ','
    reader = csv.reader(io.StringIO(text), delimiter=delimiter,
                        quoting=_QUOTING[delimiter])
    header = next(reader, [])
    text_col = _column(header, how.text_column, TEXT_COLUMNS, 'text', path)
    label_col = _column(header, how.label_column, LABEL_COLUMNS, 'label',
                        path)
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
    return examples, (f" (text column {header[text_col].strip()!r}, "
                      f"label column {header[label_col].strip()!r})")


def _read_json_lines(path: Path, text: str, how: CorpusFormat,
                     name: str) -> tuple[list[Example], str]:
    examples, keys = [], ('', '')
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"not JSON ({error.msg})", str(path),
                              number) from None
        if not isinstance(record, dict):
            raise CorpusError(f"expected a JSON object, got "
                              f"{type(record).__name__}", str(path), number)
        found = list(record)
        keys = (found[_column(found, how.text_column, TEXT_COLUMNS, 'text',
                              path, 'key', number)],
                found[_column(found, how.label_column, LABEL_COLUMNS,
                              'label', path, 'key', number)])
        sentence, label = (record[key] for key in keys)
        if not isinstance(sentence, str) or isinstance(label, (dict, list)) \
                or not sentence.strip() or label is None or \
                not str(label).strip():
            raise CorpusError(f"expected a text and a label, got "
                              f"{sentence!r} and {label!r}", str(path),
                              number)
        examples.append(Example(sentence.strip(), str(label).strip(),
                                str(path), number))
    return examples, f" (keys {keys[0]!r}, {keys[1]!r})"


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
                seed: int = 0, how: CorpusFormat | None = None) -> Corpus:
    """Load a corpus directory, or one file split by ``split`` fractions,
    each file read by ``how`` (:func:`read_corpus`).

    A directory without a dev file gets one carved from train (20 %,
    stratified, seeded); a directory without a test file is an error.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError("no such file or directory", str(path))
    read: dict[str, list[Example]] = {}
    notes = []
    if path.is_dir():
        files = find_split_files(path)
        if 'test' not in files:
            raise CorpusError("no file with 'test' in its name", str(path))
        for part in ('train', 'dev', 'test'):
            if part in files:
                read[part], note = read_corpus(files[part], how)
                notes.append(f"{files[part]}: {note}")
        if 'dev' not in files:
            read['train'], read['dev'] = split_examples(read['train'],
                                                        (0.8, 0.2), seed)
        sources = [files[k] for k in sorted(files)]
    else:
        examples, note = read_corpus(path, how)
        notes.append(f"{path}: {note}")
        read['train'], read['dev'], read['test'] = split_examples(
            examples, split or (0.7, 0.15, 0.15), seed)
        sources = [path]
    train, dev, test = read['train'], read['dev'], read['test']
    labels = sorted({e.label for e in train + dev + test},
                    key=lambda label: (len(label), label))
    unseen = {e.label for e in dev + test} - {e.label for e in train}
    if unseen:
        raise CorpusError(f"labels {sorted(unseen)} occur in dev/test but "
                          "never in train", str(path))
    return Corpus(train, dev, test, labels, fingerprint(sources),
                  '; '.join(notes))


def fingerprint(paths: Sequence[Path]) -> str:
    """SHA-256 over the names and bytes of ``paths`` (corpus identity)."""
    digest = hashlib.sha256()
    for file in paths:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()
