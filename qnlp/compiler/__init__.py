"""Grammar diagrams to circuits and tensor networks, compiled and exported.

:func:`to_circuit` rewrites a diagram and applies an ansatz;
:func:`compile` (and :class:`Compiler`, cached by circuit shape) turns it
into the smallest correct circuit found by a list of named passes, as a
:class:`CompiledCircuit` with its post-selection map, statistics and
exports (pytket, qiskit, OpenQASM 2).
"""
from qnlp.compiler.ansatz import (CIRCUIT_ANSATZE, TENSOR_ANSATZE,
                                  apply_ansatz, hardware_refusal,
                                  initial_angle, make_ansatz, symbol_word,
                                  to_circuit)
from qnlp.compiler.compiled import CompiledCircuit
from qnlp.compiler.passes import Artifact, Pass, default_pipeline
from qnlp.compiler.pipeline import (Compiler, compile, corpus_stats,
                                    export_circuits)

__all__ = ["CIRCUIT_ANSATZE", "TENSOR_ANSATZE", "make_ansatz", "symbol_word",
           "to_circuit", "apply_ansatz", "hardware_refusal", "initial_angle",
           "CompiledCircuit", "Artifact", "Pass", "default_pipeline",
           "Compiler", "compile", "corpus_stats", "export_circuits"]
