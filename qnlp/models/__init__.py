"""Quantum classifiers built from the compiler and the engine."""
from qnlp.models.discocat import UNK, DisCoCatClassifier, SentencePipeline
from qnlp.models.images import make_image_model
from qnlp.models.quantum_layers import ParallelQuantumLayer, Quanvolution
from qnlp.models.sequence import SequenceClassifier

__all__ = ["DisCoCatClassifier", "ParallelQuantumLayer", "Quanvolution",
           "SentencePipeline", "SequenceClassifier", "UNK",
           "make_image_model"]
