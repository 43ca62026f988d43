"""Quantum classifiers built from the compiler and the engine."""
from qnlp.models.discocat import UNK, DisCoCatClassifier, SentencePipeline
from qnlp.models.kernel import (QuantumKernel, QuantumKernelSVC,
                                kernel_alignment)
from qnlp.models.sequence import SequenceClassifier
from qnlp.models.vqc import VariationalCircuit

__all__ = ["DisCoCatClassifier", "QuantumKernel", "QuantumKernelSVC",
           "SentencePipeline", "SequenceClassifier", "UNK",
           "VariationalCircuit", "kernel_alignment"]
