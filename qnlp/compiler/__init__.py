"""Grammar diagrams to circuits and tensor networks."""
from qnlp.compiler.ansatz import (CIRCUIT_ANSATZE, TENSOR_ANSATZE,
                                  make_ansatz, to_circuit)

__all__ = ["CIRCUIT_ANSATZE", "TENSOR_ANSATZE", "make_ansatz", "to_circuit"]
