"""Corpus loading, validation and splitting; the synthetic ad hoc data."""
from qnlp.data.adhoc import ad_hoc_data
from qnlp.data.corpus import (FORMATS, Corpus, CorpusFormat, Example,
                              find_split_files, load_corpus, read_corpus,
                              read_corpus_file, split_examples)

__all__ = ["ad_hoc_data", "Corpus", "CorpusFormat", "Example", "FORMATS",
           "find_split_files", "load_corpus", "read_corpus",
           "read_corpus_file", "split_examples"]
