"""Sentences to DisCoCat string diagrams, offline.

>>> from qnlp.parsing import parse
>>> str(parse('woman prepares tasty dinner').cod)
's'
"""
from qnlp.parsing.lexicon import LexiconTagger, load_lexicon
from qnlp.parsing.parser import BatchResult, Parse, Parser, parse, tokenise
from qnlp.parsing.types import CATEGORY_TYPES, category_type

__all__ = ["BatchResult", "CATEGORY_TYPES", "LexiconTagger", "Parse",
           "Parser", "category_type", "load_lexicon", "parse", "tokenise"]
