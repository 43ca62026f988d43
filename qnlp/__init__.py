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

from qnlp.spacy_pipeline import DEFAULT_PIPELINE

__version__ = "0.1.0"


def parse(sentence: str, target: str | None = None,
          tagger: str = 'lexicon',
          spacy_pipeline: str = DEFAULT_PIPELINE) -> Any:
    """Parse a sentence into a lambeq grammar diagram (see qnlp.parsing)."""
    from qnlp.parsing import parse as _parse
    return _parse(sentence, target, tagger, spacy_pipeline)


def parse_many(sentences: Any, target: str | None = None,
               tagger: str = 'lexicon', fallback: Any = None,
               spacy_pipeline: str = DEFAULT_PIPELINE) -> Any:
    """Parse many sentences; see :func:`qnlp.parsing.parse_many`."""
    from qnlp.parsing import parse_many as _parse_many
    return _parse_many(sentences, target, tagger, fallback, spacy_pipeline)


def compile(item: Any, values: Any = None, ansatz: str = 'iqp',
            tagger: str = 'lexicon', spacy_pipeline: str = DEFAULT_PIPELINE,
            **options: Any) -> Any:
    """Compile a sentence (or diagram) to a circuit; see qnlp.compiler.

    ``values`` (symbol name -> turns) binds the parameters, which enables
    the post-selection and pyzx candidates; ``options`` go to the ansatz
    (``layers``, ``noun_qubits``, ``sentence_qubits``) and to
    :func:`qnlp.compiler.compile` (``pipeline``, ``frobenius``).

    >>> compiled = compile('woman cooks tasty meal', layers=2)
    >>> compiled.stats['qubits'], compiled.postselect
    (5, {0: 0, 2: 0, 3: 0, 4: 0})
    """
    from qnlp.compiler import compile as _compile
    from qnlp.parsing.parser import default_parser
    return _compile(item, values, ansatz,
                    parser=default_parser(tagger, spacy_pipeline), **options)
