"""Atomic file writes, shared by every box that writes files.

A write goes to a temporary file in the same folder, is flushed to disk,
and is renamed over the target, so a reader (or a resumed run after a
kill) sees the old file or the new one, never half of one. Every
temporary is named ``.NAME.XXXXXXXX.tmp`` (``NAME`` the target's name),
so :func:`remove_stale_temporaries` can clear what a killed run left.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / 'note.json'
>>> atomic_write_json(path, {'b': 1, 'a': 2})
>>> path.read_text()
'{\\n  "a": 2,\\n  "b": 1\\n}\\n'
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

from qnlp.errors import ConfigError, CorpusError

#: Suffix of every temporary written by :func:`atomic_path`.
TEMPORARY_SUFFIX = '.tmp'
#: Names of the temporaries of :func:`atomic_path`: ``.NAME.XXXXXXXX.tmp``
#: (``tempfile`` draws the random part from letters, digits and ``_``).
TEMPORARY_NAME = re.compile(r'\..+\.[A-Za-z0-9_]{8}\.tmp')


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The process's umask when qnlp was imported (new files' permissions).
_UMASK = _umask()


def _fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries (the rename) to disk, where possible."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:   # e.g. Windows cannot open folders
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it on success.

    The body writes the temporary (by any means: a library's ``save``, a
    download...); on normal exit it is flushed to disk and renamed over
    ``path``; on any exception it is removed and ``path`` is untouched.
    Raises ``OSError`` when the folder cannot take a new file.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / 'data.txt') as temporary:
    ...     bool(TEMPORARY_NAME.fullmatch(temporary.name))
    ...     _ = temporary.write_text('new')
    True
    >>> try:
    ...     with atomic_path(folder / 'data.txt') as temporary:
    ...         _ = temporary.write_text('half')
    ...         raise RuntimeError('killed mid-write')
    ... except RuntimeError:
    ...     pass
    >>> (folder / 'data.txt').read_text(), sorted(p.name for p in folder.iterdir())
    ('new', ['data.txt'])
    """
    path = Path(path)
    descriptor, name = tempfile.mkstemp(dir=path.parent,
                                        prefix=f'.{path.name}.',
                                        suffix=TEMPORARY_SUFFIX)
    os.close(descriptor)
    temporary = Path(name)
    try:
        # mkstemp makes the file private; give it the target's mode, or
        # a new file's (so a replaced file keeps its permissions).
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists()
                 else 0o666 & ~_UMASK)
        yield temporary
        with open(temporary, 'rb+') as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def cache_dir() -> Path:
    """Where qnlp keeps what it downloads or computes once per user:
    ``$QNLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/qnlp``, else
    ``~/.cache/qnlp`` (not created here).

    >>> import os
    >>> before = os.environ.get('QNLP_CACHE_DIR')
    >>> os.environ['QNLP_CACHE_DIR'] = '/tmp/qnlp-cache'
    >>> str(cache_dir())
    '/tmp/qnlp-cache'
    >>> if before is None: del os.environ['QNLP_CACHE_DIR']
    ... else: os.environ['QNLP_CACHE_DIR'] = before
    """
    if os.environ.get('QNLP_CACHE_DIR'):
        return Path(os.environ['QNLP_CACHE_DIR'])
    if os.environ.get('XDG_CACHE_HOME'):
        return Path(os.environ['XDG_CACHE_HOME']) / 'qnlp'
    return Path.home() / '.cache' / 'qnlp'


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporaries :func:`atomic_path` left in ``folder`` (a
    killed run's half-written files) and return them; other files, and a
    missing folder, are left alone. Call it only when no other process is
    writing to ``folder``.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ('.weights.safetensors.a1b2_c3d.tmp', 'weights.safetensors',
    ...              '.hidden', 'notes.tmp', '.x.short.tmp'):
    ...     _ = (folder / name).write_text('')
    >>> [p.name for p in remove_stale_temporaries(folder)]
    ['.weights.safetensors.a1b2_c3d.tmp']
    >>> sorted(p.name for p in folder.iterdir())
    ['.hidden', '.x.short.tmp', 'notes.tmp', 'weights.safetensors']
    >>> remove_stale_temporaries(folder / 'missing')
    []
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if TEMPORARY_NAME.fullmatch(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _probe(folder: Path, name: str, option: str, shown: Path) -> None:
    """Create and delete one temporary in ``folder`` (ConfigError if the
    system refuses: a real test, which also holds for root)."""
    try:
        with atomic_path(folder / name):
            raise _Probed
    except _Probed:
        return
    except OSError as error:
        raise ConfigError(f"{option} {shown}: cannot write in "
                          f"{folder} ({error.strerror or error})") from None


class _Probed(Exception):
    """Ends a probe write before its rename."""


def check_readable_data(path: str | Path) -> None:
    """CorpusError, naming ``path``, when there is no file or folder there
    (checked before anything heavy loads, so a typo answers at once).

    >>> check_readable_data('/no/such/corpus.txt')
    Traceback (most recent call last):
    ...
    qnlp.errors.CorpusError: /no/such/corpus.txt: no such file or directory
    """
    if not Path(path).exists():
        raise CorpusError("no such file or directory", str(path))


def check_writable_file(path: str | Path, option: str = '--out') -> Path:
    """``path`` as a Path if a file can be written there; else a
    :class:`~qnlp.errors.ConfigError` naming ``option`` and the path.

    Meant to run before any expensive work; nothing is left behind.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_writable_file(folder / 'out.json') == folder / 'out.json'
    True
    >>> check_writable_file(folder, '-o')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: -o ...: is a directory, not a file
    >>> check_writable_file(folder / 'missing' / 'out.json')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --out .../missing/out.json: folder .../missing does not exist
    >>> sorted(p.name for p in folder.iterdir())
    []
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a directory, not a file")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"{option} {path}: folder {folder} does not exist")
    _probe(folder, path.name, option, path)
    return path


def check_writable_folder(path: str | Path, option: str = '--out') -> Path:
    """``path`` as a Path if it is, or can be made, a writable folder;
    else a :class:`~qnlp.errors.ConfigError` naming ``option``. Creates
    nothing.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_writable_folder(folder / 'new' / 'deeper') == folder / 'new' / 'deeper'
    True
    >>> (folder / 'file.txt').write_text('x')
    1
    >>> check_writable_folder(folder / 'file.txt' / 'sub')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --out .../file.txt/sub: .../file.txt is a file, not a folder
    >>> sorted(p.name for p in folder.iterdir())
    ['file.txt']
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {path}: {existing} is a file, not a "
                          "folder")
    _probe(existing, 'probe', option, path)
    return path


@contextlib.contextmanager
def reported_write(path: str | Path, option: str = '--out') -> Iterator[None]:
    """Turn an ``OSError`` of the body (disk full, folder gone...) into a
    :class:`~qnlp.errors.ConfigError` naming ``option`` and ``path``.

    >>> with reported_write('/no/such/folder/x.txt'):
    ...     atomic_write_text('/no/such/folder/x.txt', 'x')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --out /no/such/folder/x.txt: cannot write (No such file or directory)
    """
    try:
        yield
    except OSError as error:
        raise ConfigError(f"{option} {path}: cannot write "
                          f"({error.strerror or error})") from None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / 'blob.bin'
    >>> atomic_write_bytes(path, b'\\x00\\x01')
    >>> path.read_bytes()
    b'\\x00\\x01'
    """
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + '\n')

