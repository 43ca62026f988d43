"""Quantum classifiers built from the compiler and the engine."""
from qnlp.models.discocat import UNK, DisCoCatClassifier, SentencePipeline
from qnlp.models.images import make_image_model
from qnlp.models.kernel import QuantumKernel, kernel_alignment
from qnlp.models.quantum_layers import ParallelQuantumLayer, Quanvolution
from qnlp.models.sequence import SequenceClassifier
from qnlp.models.vqc import VariationalCircuit

__all__ = ["DisCoCatClassifier", "ParallelQuantumLayer", "QuantumKernel",
           "Quanvolution", "SentencePipeline",
           "SequenceClassifier", "UNK", "VariationalCircuit",
           "kernel_alignment", "make_image_model"]
