"""Corpus loading, validation and splitting."""
from qnlp.data.corpus import (Corpus, Example, find_split_files, load_corpus,
                              read_corpus_file, split_examples)

__all__ = ["Corpus", "Example", "find_split_files", "load_corpus",
           "read_corpus_file", "split_examples"]
