"""Compilation as small named passes; a pipeline is a list of passes.

Every pass takes an :class:`Artifact` (the diagram or circuit being
compiled, with its post-selection map) and returns a new one. The stages:

=================  ==========================================================
``rewrite``        lambeq rewrite rules (Frobenius relative pronouns)
``remove-cups``    lambeq's ``RemoveCupsRewriter``: fewer post-selections
``ansatz``         a lambeq ansatz: grammar diagram -> quantum circuit
``to-tket``        lambeq circuit -> pytket gates + post-selection map
``bind``           substitute parameter values (turns)
``full-peephole``  pytket ``FullPeepholeOptimise`` (the baseline)
``zx-postselect``  plug kets and bras into controlled gates (one CZ each)
``pyzx``           pyzx ``full_reduce`` + ``extract_circuit``
``cleanup``        cheap pytket passes (rebase, KAK, squash)
``rebase``         CX + TK1, the basis every statistic is counted in
``best-of``        run candidate pipelines, keep the fewest two-qubit gates
                   (ties: depth)
=================  ==========================================================

>>> from lambeq.backend.quantum import Ket, CRz, H, Bra, Id
>>> from lambeq.backend.symbol import Symbol
>>> circuit = (Ket(0, 0) >> H @ H >> CRz(Symbol('a')) >> Bra(0) @ Id(1))
>>> pipeline = [ToTket(), Bind({'a': 0.3}), BestOf({
...     'tket': [FullPeephole(), Rebase()],
...     'zx-postselect': [PostSelect(), Cleanup()]})]
>>> artifact = run(pipeline, Artifact(circuit))
>>> artifact.candidate, artifact.candidates['tket']['two_qubit_gates']
('zx-postselect', 2)
>>> artifact.candidates['zx-postselect']['two_qubit_gates']
1
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from lambeq import RemoveCupsRewriter
from pytket import Circuit
from pytket.passes import (AutoRebase, DecomposeBoxes, FullPeepholeOptimise,
                           KAKDecomposition, SquashTK1)

from qnlp.compiler.ansatz import _FROBENIUS, circuit_ansatz
from qnlp.compiler.postselect import resynthesise
from qnlp.compiler.tket import BASIS, bind, gate_counts, to_tket
from qnlp.compiler.zx import pyzx_optimise
from qnlp.errors import CompileError


@dataclass
class Artifact:
    """What flows through a pipeline.

    ``diagram`` is a grammar diagram or lambeq circuit until ``to-tket``;
    from then on ``circuit`` holds pytket gates, ``postselect`` maps qubits
    to their post-selected values and ``outputs`` lists the open qubits.
    """
    diagram: Any = None
    circuit: Circuit | None = None
    postselect: dict[int, int] = field(default_factory=dict)
    outputs: list[int] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    candidate: str = ''
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def with_circuit(self, circuit: Circuit, name: str) -> "Artifact":
        """A copy with a new circuit and ``name`` appended to the trace."""
        return replace(self, circuit=circuit, trace=[*self.trace, name])

    def needs_circuit(self, name: str) -> Circuit:
        if self.circuit is None:
            raise CompileError(f"pass {name!r} needs a pytket circuit: "
                               "run 'to-tket' first")
        return self.circuit


class Pass:
    """A named compilation step: ``Artifact -> Artifact``."""
    name = 'pass'

    def __call__(self, artifact: Artifact) -> Artifact:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


def run(passes: Iterable[Pass], artifact: Artifact) -> Artifact:
    """Apply ``passes`` in order."""
    for step in passes:
        artifact = step(artifact)
    return artifact


class Rewrite(Pass):
    """lambeq rewrite rules; ``frobenius`` turns relative pronouns into
    spiders."""
    name = 'rewrite'

    def __init__(self, frobenius: bool = True) -> None:
        self.frobenius = frobenius

    def __call__(self, artifact: Artifact) -> Artifact:
        diagram = _FROBENIUS(artifact.diagram) if self.frobenius else \
            artifact.diagram
        return replace(artifact, diagram=diagram,
                       trace=[*artifact.trace, self.name])


class RemoveCups(Pass):
    """lambeq's ``RemoveCupsRewriter`` (fewer post-selected qubits)."""
    name = 'remove-cups'

    def __call__(self, artifact: Artifact) -> Artifact:
        return replace(artifact, diagram=RemoveCupsRewriter()(artifact.diagram),
                       trace=[*artifact.trace, self.name])


class Ansatz(Pass):
    """Apply a lambeq circuit ansatz (object, or a name for
    :func:`make_ansatz`)."""
    name = 'ansatz'

    def __init__(self, ansatz: Any = 'iqp', **options: Any) -> None:
        self.ansatz = circuit_ansatz(ansatz, **options)

    def __call__(self, artifact: Artifact) -> Artifact:
        return replace(artifact, diagram=self.ansatz(artifact.diagram),
                       trace=[*artifact.trace, self.name])


class ToTket(Pass):
    """lambeq circuit -> pytket gates, post-selection map, outputs."""
    name = 'to-tket'

    def __call__(self, artifact: Artifact) -> Artifact:
        gates, postselect, outputs = to_tket(artifact.diagram)
        return replace(artifact, circuit=gates, postselect=postselect,
                       outputs=outputs, trace=[*artifact.trace, self.name])


class Bind(Pass):
    """Substitute parameter values (turns, as in the engine's weights)."""
    name = 'bind'

    def __init__(self, values: Mapping[str, float]) -> None:
        self.values = values

    def __call__(self, artifact: Artifact) -> Artifact:
        return artifact.with_circuit(
            bind(artifact.needs_circuit(self.name), self.values), self.name)


class _TketPass(Pass):
    #: True if the output is already in the CX + TK1 basis, squashed.
    in_basis = False

    def passes(self) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, artifact: Artifact) -> Artifact:
        circuit = artifact.needs_circuit(self.name).copy()
        for step in self.passes():
            step.apply(circuit)
        return artifact.with_circuit(circuit, self.name)


class FullPeephole(Pass):
    """pytket ``FullPeepholeOptimise`` (works on symbolic circuits).

    With ``allow_swaps`` (pytket's default) SWAPs become wire relabellings;
    the post-selection map and the outputs follow the relabelling.
    """
    name = 'full-peephole'

    def __init__(self, allow_swaps: bool = True) -> None:
        self.allow_swaps = allow_swaps

    def __call__(self, artifact: Artifact) -> Artifact:
        circuit = artifact.needs_circuit(self.name).copy()
        DecomposeBoxes().apply(circuit)
        FullPeepholeOptimise(allow_swaps=self.allow_swaps).apply(circuit)
        circuit, where = without_implicit_swaps(circuit)
        return replace(artifact, circuit=circuit,
                       postselect={where[q]: v for q, v in
                                   artifact.postselect.items()},
                       outputs=[where[q] for q in artifact.outputs],
                       trace=[*artifact.trace, self.name])


def without_implicit_swaps(circuit: Circuit) -> tuple[Circuit, list[int]]:
    """The same gates with no implicit wire permutation, and ``where[q]``:
    the wire that now carries what wire ``q`` carried at the end."""
    permutation = circuit.implicit_qubit_permutation()
    where = [permutation[qubit].index[0] for qubit in circuit.qubits]
    if where == list(range(circuit.n_qubits)):
        return circuit, where
    plain = Circuit(circuit.n_qubits)
    for cmd in circuit.get_commands():
        plain.add_gate(cmd.op, cmd.qubits)
    return plain, where


class Cleanup(_TketPass):
    """Cheap pytket passes: rebase to CX + TK1, KAK resynthesis of
    two-qubit blocks, squash single-qubit gates."""
    name = 'cleanup'

    in_basis = True

    def passes(self) -> list[Any]:
        return [DecomposeBoxes(), AutoRebase(set(BASIS)),
                KAKDecomposition(allow_swaps=False), SquashTK1()]


class Rebase(_TketPass):
    """Rebase to CX + TK1 and merge adjacent single-qubit gates."""
    name = 'rebase'
    in_basis = True

    def passes(self) -> list[Any]:
        return [DecomposeBoxes(), AutoRebase(set(BASIS)), SquashTK1()]


class PostSelect(Pass):
    """Plug kets and bras into controlled gates on fresh or dying qubits
    (see :mod:`qnlp.compiler.postselect`); needs bound parameters."""
    name = 'zx-postselect'

    def __call__(self, artifact: Artifact) -> Artifact:
        circuit = artifact.needs_circuit(self.name)
        if circuit.free_symbols():
            raise CompileError("zx-postselect needs bound parameters")
        return artifact.with_circuit(
            resynthesise(circuit, artifact.postselect), self.name)


class PyZX(Pass):
    """pyzx ``full_reduce`` + ``extract_circuit``; needs bound parameters."""
    name = 'pyzx'

    def __call__(self, artifact: Artifact) -> Artifact:
        return artifact.with_circuit(
            pyzx_optimise(artifact.needs_circuit(self.name)), self.name)


def score(counts: Mapping[str, int]) -> tuple[int, int]:
    """What candidates are ranked by: two-qubit gates, then depth."""
    return counts['two_qubit_gates'], counts['depth']


class BestOf(Pass):
    """Run every candidate pipeline; keep the fewest two-qubit gates.

    Ties go to the smaller depth, then to the earlier candidate. A
    candidate that cannot run (e.g. pyzx on a symbolic circuit) is skipped
    and recorded with its error.
    """
    name = 'best-of'

    def __init__(self, candidates: Mapping[str, Sequence[Pass]]) -> None:
        if not candidates:
            raise CompileError("best-of needs at least one candidate")
        self.candidates = dict(candidates)

    def __call__(self, artifact: Artifact) -> Artifact:
        best: tuple[tuple[int, int], str, Artifact] | None = None
        report: dict[str, dict[str, Any]] = {}
        for name, passes in self.candidates.items():
            start = time.perf_counter()
            try:
                result = run(passes, artifact)
            except CompileError as error:
                report[name] = {'error': str(error)}
                continue
            last = passes[-1] if passes else None
            counts = gate_counts(result.needs_circuit(name),
                                 rebased=getattr(last, 'in_basis', False))
            counts['seconds'] = time.perf_counter() - start
            report[name] = counts
            if best is None or score(counts) < best[0]:
                best = (score(counts), name, result)
        if best is None:
            raise CompileError("no candidate pipeline could compile this "
                               f"circuit: {report}")
        _, name, result = best
        return replace(result, candidate=name, candidates=report,
                       trace=[*artifact.trace,
                              f"{self.name}({name})"])


def candidate_passes(bound: bool,
                     names: Sequence[str] = ('tket', 'zx-postselect', 'pyzx')
                     ) -> dict[str, list[Pass]]:
    """The candidate pipelines by name (symbolic circuits: pytket only)."""
    table: dict[str, list[Pass]] = {
        'tket': [FullPeephole(), Rebase()],
        'zx-postselect': [PostSelect(), Cleanup()],
        'pyzx': [PyZX(), Cleanup()],
        'zx-postselect+peephole': [PostSelect(), FullPeephole(), Rebase()],
    }
    unknown = set(names) - set(table)
    if unknown:
        raise CompileError(f"unknown candidates {sorted(unknown)}; choose "
                           f"from {sorted(table)}")
    chosen = [n for n in names if bound or n == 'tket']
    return {name: table[name] for name in chosen}


def default_pipeline(ansatz: Any = 'iqp', values: Mapping[str, float] | None
                     = None, frobenius: bool = False, **options: Any
                     ) -> list[Pass]:
    """rewrite -> remove-cups -> ansatz -> to-tket [-> bind] -> best-of."""
    passes: list[Pass] = []
    if frobenius:
        passes.append(Rewrite())
    passes += [RemoveCups(), Ansatz(ansatz, **options), ToTket()]
    if values is not None:
        passes.append(Bind(values))
    passes.append(BestOf(candidate_passes(values is not None)))
    return passes
