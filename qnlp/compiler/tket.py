"""lambeq circuits to pytket, and gate statistics in one common basis.

:func:`to_tket` splits lambeq's ``to_tk()`` output into the gates (a
pytket ``Circuit`` without measurements), the post-selection map
``{qubit: value}`` and the open (output) qubits. :func:`gate_counts`
counts gates after rebasing to CX + TK1 (any single-qubit rotation), so
that every pipeline is measured the same way.

>>> from lambeq.backend.quantum import Ket, CX, H, Bra, Id
>>> circuit = Ket(0, 0) >> H @ Id(1) >> CX >> Bra(0) @ Id(1)
>>> gates, postselect, outputs = to_tket(circuit)
>>> postselect, outputs
({0: 0}, [1])
>>> gate_counts(gates)['two_qubit_gates']
1
"""
from __future__ import annotations

from typing import Any, Mapping

import sympy
from pytket import Circuit, OpType
from pytket.passes import AutoRebase, DecomposeBoxes, SquashTK1

from qnlp.errors import CompileError

#: The common basis every statistic is counted in.
BASIS = frozenset({OpType.CX, OpType.TK1})


def to_tket(circuit: Any) -> tuple[Circuit, dict[int, int], list[int]]:
    """``(gates, postselect, outputs)`` of a lambeq quantum circuit.

    Raises :class:`~qnlp.errors.CompileError` for diagrams lambeq cannot
    convert (tensor ansätze, discards).
    """
    try:
        tk = circuit.to_tk()
    except Exception as error:  # lambeq raises several kinds
        raise CompileError(f"cannot convert to pytket: {error}") from error
    gates = Circuit(tk.n_qubits)
    measured: set[int] = set()
    for cmd in tk.get_commands():
        if cmd.op.type == OpType.Measure:
            measured.add(cmd.qubits[0].index[0])
            continue
        if cmd.op.type == OpType.Barrier:
            continue
        if cmd.bits:
            raise CompileError(f"unsupported classical operation {cmd}")
        gates.add_gate(cmd.op, cmd.qubits)
    postselect = {int(q): int(v) for q, v in tk.post_selection.items()}
    if not set(postselect) <= measured or measured != set(postselect):
        raise CompileError("circuits with measured but not post-selected "
                           "qubits (discards) are not supported")
    outputs = [q for q in range(tk.n_qubits) if q not in postselect]
    return gates, postselect, outputs


def bind(circuit: Circuit, values: Mapping[str, float]) -> Circuit:
    """A copy of ``circuit`` with every symbol replaced by its value.

    Values are in lambeq's units (turns), as in the engine's weights.
    """
    missing = {s.name for s in circuit.free_symbols()} - set(values)
    if missing:
        raise CompileError(f"no value for symbols {sorted(missing)[:5]}")
    bound = circuit.copy()
    bound.symbol_substitution({sympy.Symbol(s.name): float(values[s.name])
                               for s in circuit.free_symbols()})
    return bound


def rebase(circuit: Circuit) -> Circuit:
    """A copy in the CX + TK1 basis, adjacent single-qubit gates merged."""
    result = circuit.copy()
    DecomposeBoxes().apply(result)
    AutoRebase(set(BASIS)).apply(result)
    SquashTK1().apply(result)
    return result


def gate_counts(circuit: Circuit, rebased: bool = False) -> dict[str, int]:
    """Qubits, one- and two-qubit gates and depth in the CX + TK1 basis.

    ``rebased=True`` skips the rebase for a circuit already in the basis
    with its single-qubit gates squashed.
    """
    based = circuit if rebased else rebase(circuit)
    two = based.n_gates_of_type(OpType.CX)
    one = based.n_gates_of_type(OpType.TK1)
    return {'qubits': based.n_qubits, 'one_qubit_gates': one,
            'two_qubit_gates': two, 'depth': based.depth(),
            'two_qubit_depth': based.depth_by_type(OpType.CX)}
