"""Quantum classifiers built from the compiler and the engine."""
from qnlp.models.discocat import UNK, DisCoCatClassifier, SentencePipeline

__all__ = ["DisCoCatClassifier", "SentencePipeline", "UNK"]
