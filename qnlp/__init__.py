"""qnlp: quantum natural language processing and sequence classification.

Sentences become DisCoCat string diagrams (:func:`parse`), diagrams become
parameterised circuits (:mod:`qnlp.compiler`), and circuits are simulated
exactly and in batch by :class:`qnlp.engine.Engine` to train quantum
classifiers.

>>> import qnlp
>>> str(qnlp.parse('woman cooks tasty meal').cod)
's'
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def parse(sentence: str, target: str | None = None,
          tagger: str = 'lexicon') -> Any:
    """Parse a sentence into a lambeq grammar diagram (see qnlp.parsing)."""
    from qnlp.parsing import parse as _parse
    return _parse(sentence, target, tagger)


def parse_many(sentences: Any, target: str | None = None,
               tagger: str = 'lexicon', fallback: Any = None) -> Any:
    """Parse many sentences; see :func:`qnlp.parsing.parse_many`."""
    from qnlp.parsing import parse_many as _parse_many
    return _parse_many(sentences, target, tagger, fallback)
