"""Symbolic ZX rewriting: fewer two-qubit gates with the parameters free.

The rewrite works on the gate list of a lambeq circuit (after cup removal
and the ansatz) with its kets and bras plugged in, and keeps every angle a
linear expression of the model's symbols, so the result trains as it is.

Two ZX facts do the work; neither looks at an angle's value, so both are
sound with symbolic phases:

1. *Phase gadgets.* A controlled rotation is a phase on the target and a
   phase gadget on the parity of both qubits, ``CRz(t)(c, q) =
   Rz_q(t/2) . CX(o, p) Rz_p(-t/2) CX(o, p)`` with ``{o, p} = {c, q}``
   (either qubit may carry the parity; exact, no global phase).
2. *Plugging states and effects.* A CX whose target is ``|+>`` (an
   X-spider with phase 0 fuses into the target's X-spider) or whose
   control is ``|0>`` is the identity, and so is a CX followed by ``<+|``
   on its target or ``<0|`` on its control. ``|0>`` becomes ``|+>`` under
   H (colour change), ``Rz`` keeps ``|0>`` and ``Rx`` keeps ``|+>`` up to a
   global phase (phases only copy through a spider of the other colour
   when they are 0 or pi; here they stay on their own colour's spider).

So a controlled rotation that meets a ``|+>`` qubit (both qubits of an
IQP word's first layer) or a qubit post-selected through ``<+|`` (the last
layer of a word bent into an effect) costs one CX instead of two; one
whose control is ``|0>`` or ``<0|`` disappears. Rules that need values
(Clifford pivots and local complementation on spiders whose phase must be
a multiple of pi/2, copying a phase through a spider of the other colour)
are not applied: a free symbol is never known to be Clifford.

The rewritten gates equal the original ones exactly on the plugged kets
and bras (no global phase); the scalar that pytket's conversion keeps
apart (``sqrt 2`` per cup left as a Bell effect) is dropped, which changes
only the norm, so the normalised post-selected probabilities (what the
models read) are equal.
:func:`rewrite` returns a :class:`Rewritten` gate list; :meth:`~Rewritten.
to_lambeq` gives a lambeq circuit with the same symbols (one symbol times
a number per gate, as the engine takes), :meth:`~Rewritten.to_tket` a
pytket circuit for counts and export.

>>> from lambeq.backend.quantum import Ket, H, CRz, Bra, Id
>>> from lambeq.backend.symbol import Symbol
>>> circuit = Ket(0, 0) >> H @ H >> CRz(Symbol('a')) >> Id(1) @ H >> \\
...     Id(1) @ Bra(0)
>>> rewritten = rewrite(circuit)   # the CRz alone is two CX
>>> rewritten.two_qubit_gates(), rewritten.postselect, rewritten.outputs
(1, {1: 0}, [0])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import sympy
from pytket import Circuit, OpType

from qnlp.compiler.tket import to_tket
from qnlp.errors import CompileError

#: A gate: (name, qubits, angle in half-turns or None). Names: those of
#: ``_KEPT``, or 'op' (any other pytket op, kept as it is).
Gate = tuple[str, tuple[int, ...], Any]

_KEPT = {OpType.H: 'H', OpType.CX: 'CX', OpType.Rz: 'Rz', OpType.Rx: 'Rx',
         OpType.CRz: 'CRz', OpType.X: 'X', OpType.Y: 'Y', OpType.Z: 'Z',
         OpType.S: 'S', OpType.T: 'T', OpType.SWAP: 'SWAP'}
_ZERO, _PLUS = 'zero', 'plus'


@dataclass
class Rewritten:
    """A rewritten circuit: gates, post-selection map and outputs."""
    n_qubits: int
    gates: list[Gate]
    postselect: dict[int, int]
    outputs: list[int]

    def two_qubit_gates(self) -> int:
        """Two-qubit gates, a controlled rotation counting as two CX."""
        return sum(2 if name == 'CRz' else len(qubits) == 2
                   for name, qubits, _ in self.gates)

    def to_tket(self) -> Circuit:
        """The gates as a pytket circuit (symbols kept, half-turns)."""
        circuit = Circuit(self.n_qubits)
        for name, qubits, angle in self.gates:
            if name == 'op':
                circuit.add_gate(angle, list(qubits))
            elif angle is None:
                circuit.add_gate(getattr(OpType, name), list(qubits))
            else:
                circuit.add_gate(getattr(OpType, name), [angle],
                                 list(qubits))
        return circuit

    def to_lambeq(self, symbols: Mapping[str, Any]) -> Any:
        """A lambeq circuit of the gates, kets in and bras plugged.

        ``symbols`` maps names to the lambeq symbols of the original
        circuit, so the engine sees the same parameters.
        """
        from lambeq.backend import quantum as q
        n = self.n_qubits
        diagram = q.Ket(*[0] * n)

        def at(box: Any, first: int, width: int) -> Any:
            return q.Id(first) @ box @ q.Id(n - first - width)

        for name, qubits, angle in self.gates:
            if name in ('H', 'X', 'Y', 'Z', 'S', 'T'):
                diagram = diagram >> at(getattr(q, name), qubits[0], 1)
            elif name == 'SWAP' and abs(qubits[0] - qubits[1]) == 1:
                diagram = diagram >> at(q.Swap(q.qubit, q.qubit),
                                        min(qubits), 2)
            elif name in ('Rz', 'Rx'):
                for box in _rotations(getattr(q, name), angle, symbols):
                    diagram = diagram >> at(box, qubits[0], 1)
            elif name in ('CX', 'CRz'):
                c, t = qubits
                if name == 'CX':
                    gate = q.Controlled(q.X, distance=t - c)
                    diagram = diagram >> at(gate, min(c, t), abs(t - c) + 1)
                    continue
                for box in _rotations(q.Rz, angle, symbols):
                    gate = q.Controlled(box, distance=t - c)
                    diagram = diagram >> at(gate, min(c, t), abs(t - c) + 1)
            else:
                raise CompileError(f"no lambeq gate for {name} on {qubits}")
        for qubit in sorted(self.postselect, reverse=True):
            bra = q.Bra(self.postselect[qubit])
            diagram = diagram >> q.Id(qubit) @ bra @ q.Id(n - qubit - 1)
            n -= 1
        return diagram


def _rotations(kind: Any, angle: Any, symbols: Mapping[str, Any]
               ) -> list[Any]:
    """lambeq rotations (turns) whose product is ``angle`` (half-turns)."""
    turns = sympy.expand(sympy.sympify(angle) / 2)
    constant, terms = turns.as_coeff_Add()
    boxes = [kind(float(constant))] if constant else []
    for term in sympy.Add.make_args(terms) if terms else ():
        coefficient, symbol = term.as_coeff_Mul()
        if not symbol.is_Symbol or symbol.name not in symbols:
            raise CompileError(f"angle {angle} is not linear in the "
                               "circuit's symbols")
        boxes.append(kind(float(coefficient) * symbols[symbol.name]))
    return boxes


def _gates_of(circuit: Circuit) -> list[Gate]:
    gates: list[Gate] = []
    for cmd in circuit.get_commands():
        qubits = tuple(q.index[0] for q in cmd.qubits)
        name = _KEPT.get(cmd.op.type)
        if name is None:
            gates.append(('op', qubits, cmd.op))
        else:
            params = cmd.op.params
            gates.append((name, qubits, params[0] if params else None))
    return gates


def _gadget(c: int, t: int, angle: Any, parity: int) -> list[Gate]:
    """``CRz(angle)(c, t)`` as phase + gadget with the CX next to the
    plugged ``|+>`` (or ``<+|``) dropped, in the order a walk from that
    end meets the gates (the phases commute, so reversed it is the same
    map: one list serves kets and bras)."""
    other = c if parity == t else t
    half = angle / 2
    return [('Rz', (parity,), -half), ('CX', (other, parity), None),
            ('Rz', (t,), half)]


def _single(name: str, state: str | None) -> str | None:
    """The state (or effect) of a qubit after one single-qubit gate."""
    if name == 'H':
        return {_ZERO: _PLUS, _PLUS: _ZERO}.get(state)  # type: ignore
    if (name, state) in (('Rz', _ZERO), ('Rx', _PLUS)):
        return state
    return None


def _plug(gates: list[Gate], plugged: list[str | None]) -> list[Gate]:
    """Walk ``gates`` from the end where ``plugged`` (per qubit ``|0>``,
    ``|+>`` or None: kets, or bras walking backwards) sits, dropping what
    acts trivially on it; the kept gates in the order walked."""
    state = list(plugged)
    out: list[Gate] = []
    for name, qubits, angle in gates:
        if name in ('CX', 'CRz'):
            c, t = qubits
            if state[c] == _ZERO or (name == 'CX' and state[t] == _PLUS):
                continue                       # the identity
            if name == 'CRz' and _PLUS in (state[c], state[t]):
                parity = t if state[t] == _PLUS else c
                out += _gadget(c, t, angle, parity)
            else:
                out.append((name, qubits, angle))
            state[c] = state[t] = None
        elif len(qubits) == 1 and name != 'op':
            state[qubits[0]] = _single(name, state[qubits[0]])
            out.append((name, qubits, angle))
        else:
            for qubit in qubits:
                state[qubit] = None
            out.append((name, qubits, angle))
    return out


def rewrite_gates(gates: Circuit, postselect: Mapping[int, int],
                  outputs: list[int]) -> Rewritten:
    """Rewrite pytket gates (every qubit from ``|0>``, ``postselect``
    bras at the end; symbols kept) with the kets and bras plugged in."""
    n = gates.n_qubits
    kets_plugged = _plug(_gates_of(gates), [_ZERO] * n)
    bras = [_ZERO if postselect.get(q) == 0 else None for q in range(n)]
    both_plugged = _plug(kets_plugged[::-1], bras)[::-1]
    return Rewritten(n, both_plugged, dict(postselect), list(outputs))


def rewrite(circuit: Any) -> Rewritten:
    """Rewrite a lambeq circuit (symbols kept) with kets and bras plugged.

    Raises :class:`~qnlp.errors.CompileError` for circuits pytket cannot
    take (see :func:`~qnlp.compiler.tket.to_tket`).
    """
    return rewrite_gates(*to_tket(circuit))
