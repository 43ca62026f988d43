"""Post-selection aware resynthesis: plug kets and bras into controlled gates.

In the ZX-calculus a controlled gate ``CU`` (control ``c``, target ``t``)
whose target is *fresh* (only single-qubit gates since its ``|0>`` ket) or
*dying* (only single-qubit gates until it is post-selected) can have that
state or effect plugged in: what is left is a one-qubit-controlled map
between two states of equal norm, ``|g_0> -> |g_1>`` (or two effects), and
any two such states differ by a unitary with eigenvalues ``+-e^{i phi}``,
i.e. ``e^{i phi} W Z W^dagger``. So the gate becomes *one* CZ, single-qubit
gates around it and a phase on the control: a controlled rotation costs 1
two-qubit gate instead of 2 wherever it touches a fresh or dying qubit. The
rewrite preserves the post-selected map exactly (norms included), so the
post-selection success probability is unchanged.

The rewrite needs numeric gates: it runs on *bound* circuits (parameter
values substituted). Symbolic circuits go through pytket's passes only.

>>> import numpy as np
>>> from pytket import Circuit, OpType
>>> circuit = Circuit(2).H(0).H(1).CRz(0.3, 0, 1).Rx(0.2, 0)
>>> new = resynthesise(circuit, postselect={0: 0})
>>> new.n_gates_of_type(OpType.CZ), circuit.n_gates_of_type(OpType.CRz)
(1, 1)
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
from pytket import Circuit, OpType, Qubit
from pytket.circuit import Unitary1qBox

_TOL = 1e-9
_EYE = np.eye(2)


def _controlled_blocks(unitary: np.ndarray, control_first: bool
                       ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(V0, V1)`` if ``unitary = |0><0| (x) V0 + |1><1| (x) V1``."""
    u = unitary if control_first else \
        unitary.reshape(2, 2, 2, 2).transpose(1, 0, 3, 2).reshape(4, 4)
    if np.abs(u[0:2, 2:4]).max() > _TOL or np.abs(u[2:4, 0:2]).max() > _TOL:
        return None
    return u[0:2, 0:2], u[2:4, 2:4]


def _reflection(x: np.ndarray, y: np.ndarray
                ) -> tuple[complex, np.ndarray]:
    """``(phase, W)`` with ``phase * (-W Z W^dagger) x = y``; |x| = |y|.

    ``-W Z W^dagger = 2|v><v| - 1`` is the reflection through ``v``.
    """
    overlap = np.vdot(x, y)
    phase = overlap / abs(overlap) if abs(overlap) > _TOL else 1.0
    y_rot = y / phase
    v = x + y_rot
    v = v / np.linalg.norm(v)
    v_perp = np.array([-np.conj(v[1]), np.conj(v[0])])
    w = np.column_stack([v_perp, v])          # W|0> = v_perp, W|1> = v
    return phase, w


def _with_first_column(column: np.ndarray) -> np.ndarray:
    """A unitary whose first column is the unit vector ``column``."""
    a, b = column
    return np.array([[a, -np.conj(b)], [b, np.conj(a)]])


def resynthesise(circuit: Circuit, postselect: Mapping[int, int]
                 ) -> Circuit:
    """Rewrite controlled gates on fresh or dying qubits to one CZ each.

    ``circuit`` holds gates only (numeric parameters, no measurements),
    every qubit starts in ``|0>``, and qubit ``q`` in ``postselect`` is
    post-selected on ``postselect[q]`` at the end. Returns an equivalent
    circuit (same post-selected map, norms included) of CZ and single-qubit
    unitaries; gates that are not controlled gates pass through unchanged.
    """
    n = circuit.n_qubits
    index = {q: i for i, q in enumerate(circuit.qubits)}
    commands = [cmd for cmd in circuit.get_commands()
                if cmd.op.type not in (OpType.Measure, OpType.Barrier)]
    n_two: list[int] = [0] * n
    last_two: dict[int, int] = {}
    for position, cmd in enumerate(commands):
        qubits = [index[q] for q in cmd.qubits]
        if len(qubits) == 2:
            for q in qubits:
                n_two[q] += 1
                last_two[q] = position
    # the single-qubit gates after each qubit's last two-qubit gate
    tail = [np.eye(2, dtype=complex) for _ in range(n)]
    for position, cmd in enumerate(commands):
        qubits = [index[q] for q in cmd.qubits]
        if len(qubits) == 1 and position > last_two.get(qubits[0], -1):
            tail[qubits[0]] = cmd.op.get_unitary() @ tail[qubits[0]]

    out = Circuit(n)
    pending = [np.eye(2, dtype=complex) for _ in range(n)]
    fresh = [True] * n
    finished = [False] * n
    seen_two = [0] * n

    def flush(q: int) -> None:
        if np.abs(pending[q] - _EYE).max() > 1e-12:
            out.add_unitary1qbox(Unitary1qBox(pending[q]), Qubit(q))
        pending[q] = np.eye(2, dtype=complex)

    for position, cmd in enumerate(commands):
        qubits = [index[q] for q in cmd.qubits]
        if len(qubits) == 1:
            if not finished[qubits[0]]:
                pending[qubits[0]] = cmd.op.get_unitary() @ pending[qubits[0]]
            continue
        if len(qubits) != 2:
            for q in qubits:
                flush(q)
            out.add_gate(cmd.op, [Qubit(q) for q in qubits])
            continue
        unitary = cmd.op.get_unitary()
        for q in qubits:
            seen_two[q] += 1
        done = False
        for control_first in (True, False):
            c, t = qubits if control_first else qubits[::-1]
            blocks = _controlled_blocks(unitary, control_first)
            if blocks is None:
                continue
            v0, v1 = blocks
            if fresh[t]:
                psi = pending[t][:, 0]                # pending|0>
                g0, g1 = v0 @ psi, v1 @ psi
                phase, w = _reflection(g0, g1)
                pending[t] = w.conj().T @ _with_first_column(g0)
                flush(t)
                pending[c] = np.diag([1.0, -phase]) @ pending[c]
                flush(c)
                out.CZ(c, t)
                pending[t] = w
            elif (t in postselect and last_two.get(t) == position):
                value = postselect[t]
                effect = tail[t][value, :]               # <value|B
                # rows <f_c| = <e| V_c; work with kets f_c = (<f_c|)^dagger
                f0 = (effect @ v0).conj()
                f1 = (effect @ v1).conj()
                phase, w = _reflection(f0, f1)
                # <e|V_c = <f0| R^c with R = S^dagger, S f0 = f1
                pending[t] = w.conj().T @ pending[t]
                flush(t)
                pending[c] = np.diag([1.0, -np.conj(phase)]) @ pending[c]
                flush(c)
                out.CZ(c, t)
                # final gate B' with <value|B' = <f0|, after W
                final = _with_first_column(f0).conj().T
                if value == 1:
                    final = np.array([[0, 1], [1, 0]]) @ final
                pending[t] = final @ w
                flush(t)
                finished[t] = True
            else:
                continue
            done = True
            break
        for q in qubits:
            if seen_two[q] >= 1:
                fresh[q] = False
        if not done:
            for q in qubits:
                flush(q)
            out.add_gate(cmd.op, [Qubit(q) for q in qubits])
    for q in range(n):
        if not finished[q]:
            flush(q)
    return out
