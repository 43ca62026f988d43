"""Sentences to DisCoCat string diagrams, offline.

>>> from qnlp.parsing import parse
>>> str(parse('woman prepares tasty dinner').cod)
's'
"""
from qnlp.parsing.lexicon import LexiconTagger, load_lexicon
from qnlp.parsing.parser import (IMPLICIT_SUBJECT, BatchResult, Parse, Parser,
                                 default_parser, make_parser, make_tagger,
                                 parse, parse_many, tokenise)
from qnlp.parsing.types import CATEGORY_TYPES, category_type

__all__ = ["BatchResult", "CATEGORY_TYPES", "IMPLICIT_SUBJECT",
           "LexiconTagger", "Parse", "Parser", "category_type",
           "default_parser", "load_lexicon", "make_parser", "make_tagger",
           "parse", "parse_many", "tokenise"]
