"""Shared fixtures: the bundled corpus, and real corpora when present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / 'corpora' / 'meaning'


def shared_data() -> Path | None:
    """``$QNLP_DATA_DIR`` or ``../shared/data`` if it exists, else None."""
    candidates = [os.environ.get('QNLP_DATA_DIR'),
                  str(ROOT.parent / 'shared' / 'data')]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def corpus_sentences(folder: Path) -> list[str]:
    return [line.split(None, 1)[1].strip()
            for file in sorted(folder.glob('*.txt'))
            for line in file.read_text().splitlines() if line.strip()]


@pytest.fixture(scope='session')
def bundled_sentences() -> list[str]:
    return corpus_sentences(BUNDLED)


@pytest.fixture(scope='session')
def mc_sentences() -> list[str]:
    data = shared_data()
    if data is None or not (data / 'text' / 'mc').is_dir():
        pytest.skip('MC corpus not available (set QNLP_DATA_DIR)')
    return corpus_sentences(data / 'text' / 'mc')
