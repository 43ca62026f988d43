"""The result of compilation: a circuit with its post-selection map.

A :class:`CompiledCircuit` holds a pytket circuit of gates (every qubit
starts in ``|0>``), which qubits are post-selected on which values, which
qubits are the outputs (in the order of the diagram's codomain), its
symbols and statistics. It exports to pytket (with measurements), qiskit
and OpenQASM 2, computes its exact post-selected output distribution, the
post-selection success probability, and the shots needed for a precision.

>>> from lambeq.backend.quantum import Ket, CX, H, Bra, Id, Rx
>>> circuit = Ket(0, 0) >> Rx(0.25) @ Id(1) >> CX >> Bra(0) @ Id(1)
>>> compiled = CompiledCircuit.from_lambeq(circuit)
>>> compiled.postselect, compiled.outputs
({0: 0}, [1])
>>> round(compiled.success_probability(), 6)
0.5
>>> compiled.probabilities().round(6).tolist()
[1.0, 0.0]
>>> compiled.to_qasm().splitlines()[0]
'OPENQASM 2.0;'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pytket import Circuit

from qnlp.compiler.tket import bind, gate_counts, rebase, to_tket
from qnlp.errors import CompileError
from qnlp.files import atomic_write_text
from qnlp.limits import MAX_STATEVECTOR_QUBITS, at_most


@dataclass
class CompiledCircuit:
    """A compiled circuit, its post-selection map and its statistics.

    Attributes
    ----------
    circuit:
        pytket ``Circuit`` of gates only (CX + TK1 after compilation).
    postselect:
        ``{qubit: value}``: keep only shots where these qubits read
        ``value``.
    outputs:
        The measured output qubits, in codomain order (most significant
        first in :meth:`probabilities`).
    symbols:
        Names of the free parameters (empty once bound).
    stats:
        Gate counts in the CX + TK1 basis, qubits, post-selected qubits,
        compile seconds, and the winning candidate.
    """
    circuit: Circuit
    postselect: dict[int, int]
    outputs: list[int]
    symbols: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_lambeq(cls, circuit: Any) -> "CompiledCircuit":
        """Wrap a lambeq circuit as is (no optimisation)."""
        gates, postselect, outputs = to_tket(circuit)
        return cls.from_gates(gates, postselect, outputs)

    @classmethod
    def from_gates(cls, gates: Circuit, postselect: Mapping[int, int],
                   outputs: list[int], **stats: Any) -> "CompiledCircuit":
        """A compiled circuit from pytket gates; statistics computed."""
        counts = gate_counts(gates)
        symbols = sorted(s.name for s in gates.free_symbols())
        info = {**counts, 'postselected_qubits': len(postselect),
                'output_qubits': len(outputs), **stats}
        return cls(gates, dict(postselect), list(outputs), symbols, info)

    # -- parameters ----------------------------------------------------
    def bind(self, values: Mapping[str, float]) -> "CompiledCircuit":
        """The same circuit with parameter ``values`` (turns) substituted."""
        return CompiledCircuit(bind(self.circuit, values), self.postselect,
                               self.outputs, [], dict(self.stats))

    # -- exports -------------------------------------------------------
    def to_tket(self) -> Circuit:
        """A pytket circuit measuring every qubit ``i`` into bit ``i``.

        Bits listed in :attr:`postselect` must read their value; the bits
        of :attr:`outputs` are the result.
        """
        n = self.circuit.n_qubits
        measured = Circuit(n, n)
        measured.add_circuit(rebase(self.circuit), list(range(n)))
        for qubit in range(n):
            measured.Measure(qubit, qubit)
        return measured

    def to_qiskit(self) -> Any:
        """A qiskit ``QuantumCircuit`` (through pytket-qiskit); needs bound
        parameters (pytket-qiskit cannot convert its symbols)."""
        from pytket.extensions.qiskit import tk_to_qiskit
        self._require_bound('the qiskit export')
        return tk_to_qiskit(self.to_tket())

    def _require_bound(self, what: str) -> None:
        """CompileError if the circuit still has symbols."""
        if self.circuit.free_symbols():
            raise CompileError(f"{what} needs bound parameters: bind the "
                               "parameters first (circuit.bind, or qnlp "
                               "compile --seed or --run)")

    @property
    def simulable(self) -> bool:
        """Whether :meth:`probabilities` can run: bound parameters and at
        most :data:`~qnlp.limits.MAX_STATEVECTOR_QUBITS` qubits."""
        return not self.circuit.free_symbols() and \
            self.circuit.n_qubits <= MAX_STATEVECTOR_QUBITS

    def to_qasm(self) -> str:
        """OpenQASM 2 text, with a comment giving the post-selection map."""
        from pytket.qasm import circuit_to_qasm_str
        text = circuit_to_qasm_str(self.to_tket(), header='qelib1')
        note = (f"// post-select {self._postselect_text()}; outputs "
                f"{self.outputs}\n")
        head, rest = text.split('\n', 1)
        return f"{head}\n{note}{rest}"

    def _postselect_text(self) -> str:
        return ','.join(f"c[{q}]={v}" for q, v in
                        sorted(self.postselect.items())) or 'none'

    def write_qasm(self, path: str | Path) -> Path:
        """Write :meth:`to_qasm` to ``path`` atomically (temp + rename)."""
        path = Path(path)
        atomic_write_text(path, self.to_qasm())
        return path

    def to_lambeq(self, prefix: str | None = None) -> Any:
        """The circuit as a lambeq diagram (kets, Rx/Rz/CX gates, bras for
        the post-selection): a tensor network for :class:`qnlp.engine.Engine`.

        Needs bound parameters; the codomain lists :attr:`outputs` in order.
        With ``prefix`` every rotation angle becomes a symbol
        ``{prefix}{k}`` and ``(diagram, {symbol: value})`` is returned, so
        the engine can take the angles as weights (and fine-tune them).

        >>> from lambeq.backend.quantum import Ket, CX, Bra, Id, Rx
        >>> c = CompiledCircuit.from_lambeq(
        ...     Ket(0, 0) >> Rx(0.25) @ Id(1) >> CX >> Bra(0) @ Id(1))
        >>> diagram, values = c.to_lambeq(prefix='angle')
        >>> str(diagram.cod), len(values) > 0
        ('qubit', True)
        """
        from lambeq.backend.quantum import (Bra, Controlled, Diagram, Id,
                                            Ket, Rx, Rz, X, qubit)
        from lambeq.backend.symbol import Symbol
        from pytket.passes import AutoRebase
        from pytket import OpType
        self._require_bound('the lambeq export')
        gates = rebase(self.circuit)
        AutoRebase({OpType.CX, OpType.Rx, OpType.Rz}).apply(gates)
        n = gates.n_qubits
        values: dict[str, float] = {}
        diagram = Ket(*([0] * n))
        for cmd in gates.get_commands():
            qubits = [q.index[0] for q in cmd.qubits]
            if cmd.op.type == OpType.CX:
                control, target = qubits
                low = min(control, target)
                box = Controlled(X, distance=target - control)
                diagram = diagram >> Id(low) @ box @ Id(
                    n - low - abs(target - control) - 1)
                continue
            turns = float(cmd.op.params[0]) / 2
            angle: Any = turns
            if prefix is not None:
                angle = Symbol(f'{prefix}{len(values)}')
                values[angle.name] = turns
            box = (Rx if cmd.op.type == OpType.Rx else Rz)(angle)
            diagram = diagram >> Id(qubits[0]) @ box @ Id(n - qubits[0] - 1)
        effects = [Bra(self.postselect[q]) if q in self.postselect
                   else Id(1) for q in range(n)]
        layer = effects[0]
        for effect in effects[1:]:
            layer = layer @ effect
        diagram = diagram >> layer
        order = sorted(self.outputs)
        if order != self.outputs and len(order) > 1:
            diagram = diagram >> Diagram.permutation(
                qubit ** len(order), [self.outputs.index(q) for q in order])
        return (diagram, values) if prefix is not None else diagram

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: QASM text, post-selection, stats."""
        return {'qasm': self.to_qasm(),
                'postselect': {str(q): v for q, v in self.postselect.items()},
                'outputs': self.outputs, 'symbols': self.symbols,
                'stats': self.stats}

    # -- execution -----------------------------------------------------
    def run_shots(self, shots: int = 8192, seed: int = 0,
                  backend: Any = None) -> tuple[np.ndarray, int]:
        """Run on a pytket backend (default qiskit-aer) with ``shots``;
        returns the post-selected output distribution and the shots kept."""
        from qnlp.engine.shots import run_shots
        self._require_bound('running shots')
        return run_shots([self.to_tket()], [self.postselect],
                         [self.outputs], shots, seed, backend)[0]

    # -- exact simulation ----------------------------------------------
    def _amplitudes(self) -> np.ndarray:
        self._require_bound('exact simulation')
        n = self.circuit.n_qubits
        at_most(n, MAX_STATEVECTOR_QUBITS, 'qubits of an exactly simulated '
                'circuit', CompileError)
        state = rebase(self.circuit).get_statevector()
        state = state.reshape([2] * n)   # qubit 0 most significant
        index = tuple(self.postselect.get(q, slice(None)) for q in range(n))
        kept = state[index]
        # remaining axes are the outputs in increasing qubit order
        order = sorted(self.outputs)
        axes = [order.index(q) for q in self.outputs]
        return np.transpose(kept, axes).reshape(-1) if axes else \
            np.asarray(kept).reshape(-1)

    def success_probability(self) -> float:
        """Probability that a shot passes the post-selection."""
        return float(np.sum(np.abs(self._amplitudes()) ** 2))

    def probabilities(self, normalise: bool = True) -> np.ndarray:
        """Exact output distribution over :attr:`outputs` after
        post-selection (normalised by the success probability unless
        ``normalise=False``)."""
        probs = np.abs(self._amplitudes()) ** 2
        if normalise:
            total = probs.sum()
            if total <= 0:
                raise CompileError("post-selection never succeeds")
            probs = probs / total
        return probs

    def shots_needed(self, precision: float, z: float = 1.96) -> int:
        """Shots so that every output probability is estimated to within
        ``precision`` at ``z`` standard errors (1.96: 95 %).

        Of ``N`` shots about ``N * success_probability`` survive
        post-selection; an estimate from ``M`` survivors has standard error
        ``sqrt(p (1 - p) / M)``, so ``N = z^2 max p(1-p) / (precision^2
        success_probability)``.
        """
        if not 0 < precision < 1:
            raise CompileError(f"precision must be in (0, 1), got {precision}")
        probs = self.probabilities()
        variance = max(float(np.max(probs * (1 - probs))), 1e-12)
        success = self.success_probability()
        return math.ceil(z * z * variance / (precision * precision * success))
