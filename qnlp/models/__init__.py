"""Quantum classifiers built from the compiler and the engine."""
from qnlp.models.discocat import UNK, DisCoCatClassifier, SentencePipeline
from qnlp.models.sequence import SequenceClassifier

__all__ = ["DisCoCatClassifier", "SentencePipeline", "SequenceClassifier",
           "UNK"]
