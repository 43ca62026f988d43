"""The pyzx route: circuit -> ZX diagram -> full_reduce -> extraction.

:func:`pyzx_optimise` converts a numeric pytket circuit to a pyzx graph
(through OpenQASM), simplifies it with ``full_reduce`` and extracts a
circuit again. pyzx's extraction needs a unitary diagram (as many inputs
as outputs), so here the kets and bras stay outside; plugging them in is
what :mod:`qnlp.compiler.postselect` does gate by gate.
:func:`plugged_size` reports how small the ZX diagram gets *with* the
kets and bras plugged in (spiders and edges left after ``full_reduce``),
a measure of how much structure post-selection removes.

>>> from pytket import Circuit
>>> circuit = Circuit(2).H(0).CX(0, 1).CX(0, 1).Rz(0.3, 1)
>>> pyzx_optimise(circuit).n_gates_of_type(__import__('pytket').OpType.CX)
0
>>> plugged_size(Circuit(2).H(0).CX(0, 1), {0: 0})   # |0> on qubit 1 left
{'spiders': 1, 'edges': 1}
"""
from __future__ import annotations

from typing import Mapping

from pytket import Circuit, OpType
from pytket.passes import AutoRebase, DecomposeBoxes
from pytket.qasm import circuit_from_qasm_str, circuit_to_qasm_str

from qnlp.errors import CompileError

_ZX_BASIS = {OpType.CX, OpType.Rz, OpType.Rx, OpType.H}


def to_pyzx(circuit: Circuit):
    """A ``pyzx.Circuit`` of a numeric pytket circuit (gates only)."""
    import pyzx
    if circuit.free_symbols():
        raise CompileError("the pyzx route needs bound parameters")
    plain = circuit.copy()
    DecomposeBoxes().apply(plain)
    AutoRebase(_ZX_BASIS).apply(plain)
    return pyzx.Circuit.from_qasm(circuit_to_qasm_str(plain))


def pyzx_optimise(circuit: Circuit) -> Circuit:
    """``full_reduce`` + ``extract_circuit`` of a numeric circuit."""
    import pyzx
    graph = to_pyzx(circuit).to_graph()
    pyzx.full_reduce(graph)
    extracted = pyzx.extract_circuit(graph.copy()).to_basic_gates()
    result = circuit_from_qasm_str(extracted.to_qasm())
    if result.n_qubits != circuit.n_qubits:
        raise CompileError("pyzx changed the number of qubits")
    return result


def plugged_size(circuit: Circuit, postselect: Mapping[int, int]
                 ) -> dict[str, int]:
    """Spiders and edges left by ``full_reduce`` with kets and bras in."""
    import pyzx
    graph = to_pyzx(circuit).to_graph()
    n = circuit.n_qubits
    graph.apply_state('0' * n)
    graph.apply_effect(''.join(str(postselect[q]) if q in postselect
                               else '/' for q in range(n)))
    pyzx.full_reduce(graph)
    return {'spiders': graph.num_vertices() - len(graph.outputs()),
            'edges': graph.num_edges()}
