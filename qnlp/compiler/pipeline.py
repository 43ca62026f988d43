"""The default compiler: passes, candidates, and a cache by circuit shape.

:func:`compile` runs one pipeline (a list of passes, see
:mod:`qnlp.compiler.passes`) on one sentence or diagram. :class:`Compiler`
does the same for many sentences and amortises the work per circuit
*shape* (the engine's :func:`~qnlp.engine.shape_key`: gates and wires
without symbol names): the pytket conversion and the symbolic
``FullPeepholeOptimise`` run once per shape and are reused with the
symbols (or values) of each sentence substituted; the bound candidates
(``zx-postselect``, ``pyzx``) run on every circuit, except that a
candidate that lost on the first circuit of a shape is not tried again
for that shape. The pytket baseline is always a candidate, so the result
never has more two-qubit gates than it.

Symbolic compilation (for training) keeps the symbols: the candidates
are pytket's ``FullPeepholeOptimise`` and the symbolic ZX rewrite of
:mod:`qnlp.compiler.zx_symbolic` (kets and bras plugged into phase
gadgets; rewritten once per shape). :meth:`Compiler.zx_circuit` gives the
rewritten lambeq circuit the engine trains on. Bound compilation (for
deployment) takes the trained values.

>>> from qnlp.parsing import Parser
>>> compiler = Compiler(layers=2, parser=Parser())
>>> symbolic = compiler.compile('woman cooks tasty meal')
>>> symbolic.stats['candidate'], symbolic.stats['candidates']
('zx', {'tket': 13, 'zx': 10})
>>> values = {name: 0.1 * i for i, name in enumerate(symbolic.symbols)}
>>> bound = compiler.compile('woman cooks tasty meal', values)
>>> bound.stats['candidate'], bound.stats['two_qubit_gates']
('zx-postselect', 8)
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import sympy
from pytket import Circuit

from qnlp.compiler.ansatz import circuit_ansatz, to_circuit
from qnlp.compiler.compiled import CompiledCircuit
from qnlp.compiler.passes import (Artifact, BestOf, candidate_passes,
                                  default_pipeline, run, score)
from qnlp.compiler.tket import gate_counts, rebase, to_tket
from qnlp.errors import CompileError
from qnlp.files import atomic_write_text

#: Statistics summed by :func:`corpus_stats`.
SUMMED = ('qubits', 'postselected_qubits', 'output_qubits',
          'one_qubit_gates', 'two_qubit_gates', 'depth', 'compile_seconds')


def _diagram_of(item: Any, parser: Any = None) -> Any:
    # The compiler does not import the parser (a higher box): text needs
    # a parser object given by the caller (qnlp.compile passes one).
    if isinstance(item, str):
        if parser is None:
            raise CompileError("compiling text needs a parser (use "
                               "qnlp.compile, or pass parser=)")
        return parser.parse(item)
    return item


def compile(item: Any, values: Mapping[str, float] | None = None,
            ansatz: Any = 'iqp', pipeline: Sequence[Any] | None = None,
            frobenius: bool = False, parser: Any = None,
            **options: Any) -> CompiledCircuit:
    """Compile a sentence or grammar diagram with one pipeline of passes.

    ``values`` (symbol name -> turns) binds the parameters; ``pipeline``
    replaces :func:`~qnlp.compiler.passes.default_pipeline`; ``options``
    go to :func:`~qnlp.compiler.make_ansatz` (``layers``, qubit counts).

    >>> from qnlp.parsing import Parser
    >>> compiled = compile('man prepares sauce', parser=Parser(), layers=2)
    >>> compiled.postselect, compiled.outputs, compiled.stats['candidate']
    ({0: 0, 2: 0}, [1], 'tket')
    """
    start = time.perf_counter()
    passes = list(pipeline) if pipeline is not None else \
        default_pipeline(ansatz, values, frobenius, **options)
    artifact = run(passes, Artifact(_diagram_of(item, parser)))
    if artifact.circuit is None:
        raise CompileError("the pipeline did not produce a circuit "
                           "(no 'to-tket' pass)")
    seconds = time.perf_counter() - start
    return CompiledCircuit.from_gates(
        artifact.circuit, artifact.postselect, artifact.outputs,
        candidate=artifact.candidate or 'pipeline',
        candidates={k: v.get('two_qubit_gates') for k, v in
                    artifact.candidates.items()},
        passes=artifact.trace, compile_seconds=seconds)


@dataclass
class _Shape:
    """What one circuit shape compiles to, with placeholder symbols."""
    gates: Circuit                 # raw pytket gates, placeholders
    postselect: dict[int, int]
    outputs: list[int]
    peephole: Artifact | None = None         # symbolic baseline
    peephole_counts: dict[str, int] | None = None
    zx: Any = None                           # symbolic ZX rewrite
    zx_gates: Circuit | None = None          # ... rebased to CX + TK1
    zx_counts: dict[str, int] | None = None
    raw_two_qubit: int | None = None         # unrewritten, rebased
    rewritten: int = 0                       # circuits zx_circuit gave
    kept: int = 0                            # ... unrewritten (fallback)
    losers: set[str] = field(default_factory=set)
    seen_bound: bool = False


def _placeholder(i: int) -> sympy.Symbol:
    return sympy.Symbol(f'__slot{i}')


class Compiler:
    """Compile many sentences, amortising the work per circuit shape.

    Parameters
    ----------
    ansatz, layers, noun_qubits, sentence_qubits:
        The ansatz (see :func:`~qnlp.compiler.make_ansatz`), or pass
        ``ansatz`` as a lambeq ansatz object.
    candidates:
        Candidate pipelines for bound circuits, by name (see
        :func:`~qnlp.compiler.passes.candidate_passes`); ``'tket'`` (the
        baseline) is always included.
    symbolic:
        Candidates for symbolic circuits: ``'tket'`` (the baseline,
        always included) and ``'zx'`` (:mod:`qnlp.compiler.zx_symbolic`).
    frobenius:
        Relative pronouns as spiders.
    parser:
        Parser for text items (anything with ``.parse(text)``); without
        one, items must be diagrams or circuits.
    """

    def __init__(self, ansatz: Any = 'iqp', layers: int = 1,
                 noun_qubits: int = 1, sentence_qubits: int = 1,
                 candidates: Sequence[str] = ('tket', 'zx-postselect',
                                              'pyzx'),
                 frobenius: bool = False, parser: Any = None,
                 symbolic: Sequence[str] = ('tket', 'zx')) -> None:
        self.ansatz = circuit_ansatz(ansatz, noun_qubits=noun_qubits,
                                     sentence_qubits=sentence_qubits,
                                     layers=layers)
        self.candidates = ['tket', *[c for c in candidates if c != 'tket']]
        candidate_passes(True, self.candidates)   # validate names early
        unknown = set(symbolic) - {'tket', 'zx'}
        if unknown:
            raise CompileError(f"unknown symbolic candidates "
                               f"{sorted(unknown)}; choose tket or zx")
        self.symbolic = set(symbolic)
        self.frobenius = frobenius
        self.parser = parser
        self._shapes: dict[tuple, _Shape] = {}

    @property
    def n_shapes(self) -> int:
        """How many circuit shapes have been compiled."""
        return len(self._shapes)

    def circuit(self, item: Any) -> Any:
        """The lambeq circuit of a sentence, diagram or circuit."""
        from lambeq.backend import quantum
        diagram = _diagram_of(item, self.parser)
        if isinstance(diagram, quantum.Diagram):
            return diagram
        return to_circuit(diagram, self.ansatz, frobenius=self.frobenius)

    def _shape(self, circuit: Any) -> tuple[_Shape, dict[sympy.Symbol, str]]:
        from qnlp.engine import shape_key
        key, slots = shape_key(circuit)
        first: dict[str, int] = {}
        pattern = tuple(first.setdefault(slot.symbol, i)
                        for i, slot in enumerate(slots))
        names = {_placeholder(i): name for name, i in first.items()}
        shape = self._shapes.get((key, pattern))
        if shape is None:
            gates, postselect, outputs = to_tket(circuit)
            rename = {sympy.Symbol(name): _placeholder(i)
                      for name, i in first.items()}
            unknown = {s.name for s in gates.free_symbols()} - set(first)
            if unknown:
                raise CompileError(f"symbols {sorted(unknown)} are not "
                                   "in the circuit's parameter slots")
            gates.symbol_substitution(rename)
            shape = _Shape(gates, postselect, outputs)
            self._shapes[(key, pattern)] = shape
        return shape, names

    def _baseline(self, shape: _Shape) -> tuple[Artifact, dict[str, int]]:
        if shape.peephole is None:
            artifact = run(candidate_passes(False, ['tket'])['tket'],
                           Artifact(circuit=shape.gates,
                                    postselect=shape.postselect,
                                    outputs=shape.outputs))
            shape.peephole = artifact
            shape.peephole_counts = gate_counts(artifact.circuit,
                                                rebased=True)
        return shape.peephole, dict(shape.peephole_counts)

    def _zx(self, shape: _Shape) -> tuple[Any, dict[str, int]]:
        if shape.zx is None:
            from qnlp.compiler.zx_symbolic import rewrite_gates
            shape.zx = rewrite_gates(shape.gates, shape.postselect,
                                     shape.outputs)
            shape.zx_gates = rebase(shape.zx.to_tket())
            shape.zx_counts = gate_counts(shape.zx_gates, rebased=True)
        return shape.zx, dict(shape.zx_counts)

    def zx_circuit(self, item: Any) -> Any:
        """The symbolic ZX rewrite of one item as a lambeq circuit with
        the item's symbols (what ``--compile zx`` trains on).

        >>> from qnlp.parsing import Parser
        >>> compiler = Compiler(layers=2, parser=Parser())
        >>> circuit = compiler.circuit('man prepares sauce')
        >>> new = compiler.zx_circuit(circuit)
        >>> new.free_symbols == circuit.free_symbols
        True
        """
        circuit = self.circuit(item)
        shape, names = self._shape(circuit)
        rewritten, _ = self._zx(shape)
        symbols = {s.name: s for s in circuit.free_symbols}
        try:
            new = rewritten.to_lambeq({p.name: symbols[n]
                                       for p, n in names.items()})
        except CompileError:   # a gate lambeq cannot take back: as it was
            shape.kept += 1
            return circuit
        shape.rewritten += 1
        return new

    def zx_report(self) -> dict[str, int]:
        """Two-qubit gates (CX after rebasing) of every circuit
        :meth:`zx_circuit` has given, without and with the rewrite; a
        circuit the rewrite could not turn back into lambeq counts as
        unrewritten.

        >>> from qnlp.parsing import Parser
        >>> compiler = Compiler(layers=2, parser=Parser())
        >>> _ = [compiler.zx_circuit(s) for s in ('woman cooks tasty meal',
        ...                                       'man cooks meal')]
        >>> compiler.zx_report()
        {'circuits': 2, 'two_qubit_gates_before': 21, 'two_qubit_gates_after': 16}
        """
        circuits = before = after = 0
        for shape in self._shapes.values():
            used = shape.rewritten + shape.kept
            if not used:
                continue
            if shape.raw_two_qubit is None:
                shape.raw_two_qubit = gate_counts(shape.gates)[
                    'two_qubit_gates']
            circuits += used
            before += used * shape.raw_two_qubit
            after += (shape.rewritten * shape.zx_counts['two_qubit_gates']
                      + shape.kept * shape.raw_two_qubit)
        return {'circuits': circuits, 'two_qubit_gates_before': before,
                'two_qubit_gates_after': after}

    def compile(self, item: Any, values: Mapping[str, float] | None = None
                ) -> CompiledCircuit:
        """Compile one sentence, grammar diagram or lambeq circuit.

        Without ``values`` the symbols are kept (pytket passes only); with
        ``values`` (symbol name -> turns) every candidate runs on the
        bound circuit and the best is kept.
        """
        start = time.perf_counter()
        circuit = self.circuit(item)
        shape, names = self._shape(circuit)
        baseline, base_counts = self._baseline(shape)
        if values is None:
            best_name, gates, counts = 'tket', baseline.circuit, base_counts
            postselect, outputs = baseline.postselect, baseline.outputs
            report = {'tket': base_counts['two_qubit_gates']}
            if 'zx' in self.symbolic:
                rewritten, zx_counts = self._zx(shape)
                report['zx'] = zx_counts['two_qubit_gates']
                if score(zx_counts) < score(base_counts):
                    best_name, gates, counts = ('zx', shape.zx_gates,
                                                zx_counts)
                    postselect, outputs = (rewritten.postselect,
                                           rewritten.outputs)
            gates = gates.copy()
            gates.symbol_substitution({p: sympy.Symbol(n)
                                       for p, n in names.items()})
            return CompiledCircuit(
                gates, dict(postselect), list(outputs),
                sorted(s.name for s in gates.free_symbols()),
                {**counts, 'postselected_qubits': len(shape.postselect),
                 'output_qubits': len(shape.outputs),
                 'candidate': best_name, 'candidates': report,
                 'compile_seconds': time.perf_counter() - start})
        try:
            numbers = {p: float(values[n]) for p, n in names.items()}
        except KeyError as error:
            raise CompileError(f"no value for symbol {error}") from None
        raw = shape.gates.copy()
        raw.symbol_substitution(numbers)
        artifact = Artifact(circuit=raw, postselect=shape.postselect,
                            outputs=shape.outputs)
        tried = {name: passes for name, passes in
                 candidate_passes(True, self.candidates).items()
                 if name != 'tket' and name not in shape.losers}
        report: dict[str, Any] = {'tket': base_counts['two_qubit_gates']}
        best_name, best_counts, best = 'tket', base_counts, None
        if tried:
            result = BestOf(tried)(artifact)
            for name, counts in result.candidates.items():
                report[name] = counts.get('two_qubit_gates')
            winner = result.candidates[result.candidate]
            if score(winner) < score(base_counts):
                best_name, best_counts, best = result.candidate, winner, \
                    result
            if not shape.seen_bound:   # prune losers for this shape
                shape.losers = {name for name, counts in
                                result.candidates.items()
                                if 'error' in counts or
                                score(counts) > score(best_counts)}
        shape.seen_bound = True
        if best is None:
            gates = baseline.circuit.copy()
            gates.symbol_substitution(numbers)
            best = Artifact(circuit=gates, postselect=baseline.postselect,
                            outputs=baseline.outputs)
        stats = {key: best_counts[key] for key in
                 ('qubits', 'one_qubit_gates', 'two_qubit_gates', 'depth',
                  'two_qubit_depth') if key in best_counts}
        return CompiledCircuit(
            best.circuit, dict(best.postselect), list(best.outputs), [],
            {**stats, 'postselected_qubits': len(shape.postselect),
             'output_qubits': len(shape.outputs), 'candidate': best_name,
             'candidates': report,
             'compile_seconds': time.perf_counter() - start})

    def compile_many(self, items: Iterable[Any],
                     values: Mapping[str, float] | None = None,
                     progress: bool = False) -> list[CompiledCircuit]:
        """:meth:`compile` every item (with a progress bar if asked)."""
        items = list(items)
        if progress:
            from tqdm import tqdm
            items = tqdm(items, desc='compile', unit='circuit')
        return [self.compile(item, values) for item in items]


def corpus_stats(compiled: Sequence[CompiledCircuit]) -> dict[str, Any]:
    """Statistics summed over circuits, with means and candidate wins.

    >>> corpus_stats([])['circuits']
    0
    """
    total: dict[str, Any] = {'circuits': len(compiled)}
    for key in SUMMED:
        total[key] = sum(c.stats.get(key, 0) for c in compiled)
    count = max(len(compiled), 1)
    total['mean_compile_seconds'] = total['compile_seconds'] / count
    total['mean_two_qubit_gates'] = total['two_qubit_gates'] / count
    wins: dict[str, int] = {}
    for c in compiled:
        name = c.stats.get('candidate', '?')
        wins[name] = wins.get(name, 0) + 1
    total['candidate_wins'] = wins
    return total


def export_circuits(compiled: Sequence[CompiledCircuit], names: Sequence[str],
                    out_dir: str | Path) -> Path:
    """Write one OpenQASM 2 file per circuit and ``manifest.json``.

    The manifest lists, per circuit, its name (e.g. the sentence), file,
    post-selection map ``{bit: value}``, output bits and statistics. Every
    file is written atomically. Returns the manifest path.

    >>> import tempfile
    >>> from lambeq.backend.quantum import Ket, CX, Bra, Id
    >>> c = CompiledCircuit.from_lambeq(Ket(0, 0) >> CX >> Bra(0) @ Id(1))
    >>> path = export_circuits([c], ['demo'], tempfile.mkdtemp())
    >>> json.loads(path.read_text())['circuits'][0]['postselect']
    {'0': 0}
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, (circuit, name) in enumerate(zip(compiled, names)):
        file = f'circuit_{number:05d}.qasm'
        circuit.write_qasm(out / file)
        entries.append({'name': name, 'file': file,
                        'postselect': {str(q): v for q, v in
                                       sorted(circuit.postselect.items())},
                        'outputs': circuit.outputs,
                        'symbols': circuit.symbols,
                        'stats': {k: v for k, v in circuit.stats.items()
                                  if k != 'passes'}})
    manifest = out / 'manifest.json'
    text = json.dumps({'circuits': entries,
                       'total': corpus_stats(compiled)}, indent=2) + '\n'
    atomic_write_text(manifest, text)
    return manifest
