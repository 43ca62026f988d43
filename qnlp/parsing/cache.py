"""Parses kept between runs, per corpus and parser.

Parsing a real corpus takes minutes and gives the same answer every
time for the same sentences, parser settings and parser code, so the
parses of a corpus are written once to
``<cache_dir>/parses/<corpus>-<parser>.json`` (see
:func:`qnlp.files.cache_dir`) and read back by the next run. The parser
part of the name covers the settings given (tagger, target, ...), the
qnlp version and a digest of the parser's own code and word lists, so a
changed parser never reads stale parses. ``QNLP_PARSE_CACHE=off`` turns
the cache off.

>>> import tempfile, os
>>> from qnlp.parsing import Parser
>>> cache = ParseCache('corpus-sha', {'tagger': 'lexicon'},
...                    folder=tempfile.mkdtemp())
>>> cache.load()
{}
>>> parse = Parser().analyse('woman cooks meal', 's')
>>> cache.save({'woman cooks meal': parse})
>>> cache.load()['woman cooks meal'].categories
['N', 'TV', 'N']
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from qnlp.errors import ParseError
from qnlp.files import atomic_path, cache_dir
from qnlp.parsing.parser import Parse

#: Bumped when the file layout changes.
CACHE_VERSION = 1


@functools.lru_cache(maxsize=1)
def parser_code_digest() -> str:
    """SHA-256 of the parser's source files and bundled word lists."""
    folder = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*folder.glob('*.py'), *folder.glob('data/*')]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def parser_fingerprint(settings: Mapping[str, Any]) -> str:
    """A short digest of parser ``settings``, qnlp's version and code."""
    from qnlp import __version__
    text = json.dumps({'settings': dict(settings), 'qnlp': __version__,
                       'code': parser_code_digest(),
                       'layout': CACHE_VERSION}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode(result: Parse | ParseError) -> dict[str, Any]:
    if isinstance(result, ParseError):
        return {'error': str(result)}
    return {'words': result.words, 'categories': result.categories,
            'cups': [list(cup) for cup in result.cups]}


def _decode(entry: Mapping[str, Any]) -> Parse | ParseError:
    if 'error' in entry:
        return ParseError(entry['error'])
    return Parse(list(entry['words']), list(entry['categories']),
                 [tuple(cup) for cup in entry['cups']])


class ParseCache:
    """The cached parses of one corpus under one parser.

    Parameters
    ----------
    corpus:
        The corpus fingerprint (e.g. SHA-256 of its files).
    parser_settings:
        Everything that changes the parser's answers (tagger, target, ...).
    folder:
        Where cache files go; default ``cache_dir() / 'parses'``.
    """

    def __init__(self, corpus: str, parser_settings: Mapping[str, Any],
                 folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else \
            cache_dir() / 'parses'
        name = f"{corpus[:16]}-{parser_fingerprint(parser_settings)}.json"
        self.path = self.folder / name

    @staticmethod
    def enabled() -> bool:
        """False when ``QNLP_PARSE_CACHE`` is ``off`` (or ``0``)."""
        return os.environ.get('QNLP_PARSE_CACHE', 'on').lower() not in (
            'off', '0', 'no', 'false')

    def load(self) -> dict[str, Parse | ParseError]:
        """The cached parses by text; empty if none or unreadable."""
        if not self.enabled():
            return {}
        try:
            entries = json.loads(self.path.read_text(encoding='utf-8'))
            return {text: _decode(entry) for text, entry in entries.items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}   # missing or damaged: parse again

    def save(self, parses: Mapping[str, Parse | ParseError]) -> None:
        """Write ``parses`` (atomically); a cache that cannot be written
        is skipped, never an error."""
        if not self.enabled():
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as temporary:
                temporary.write_text(json.dumps(
                    {text: _encode(r) for text, r in parses.items()}),
                    encoding='utf-8')
        except OSError:
            pass
