"""Atomic file writes, shared by every box that writes files.

A write goes to a temporary file in the same folder, is flushed to disk,
and is renamed over the target, so a reader (or a resumed run after a
kill) sees the old file or the new one, never half of one.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / 'note.json'
>>> atomic_write_json(path, {'b': 1, 'a': 2})
>>> path.read_text()
'{\\n  "a": 2,\\n  "b": 1\\n}\\n'
"""
from __future__ import annotations

import json
import re
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent,
                                             prefix=f'.{path.name}.')
    try:
        with os.fdopen(descriptor, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + '\n')


#: Names :func:`atomic_write_text` gives its temporary files:
#: ``.TARGET.`` and the eight random characters of :func:`tempfile.mkstemp`.
_TEMPORARY = re.compile(r'^\..+\.[a-z0-9_]{8}$')


def remove_stale_temporaries(folder: str | Path) -> list[str]:
    """Delete the temporary files an interrupted atomic write left in
    ``folder`` (after ``kill -9``); returns their names.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / '.metrics.json.a1b2c3d4').write_text('half')
    >>> _ = (folder / 'metrics.json').write_text('{}')
    >>> remove_stale_temporaries(folder), sorted(p.name for p in folder.iterdir())
    (['.metrics.json.a1b2c3d4'], ['metrics.json'])
    """
    removed = []
    for path in sorted(Path(folder).iterdir()):
        if path.is_file() and _TEMPORARY.match(path.name):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed
