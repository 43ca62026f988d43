"""Diagrams of many shapes evaluated together, in a few rounds.

The per-shape path (:class:`~qnlp.engine.plan.Plan`) runs a fixed list of
torch operations per circuit *shape*: cheap when a batch holds a few
shapes with many diagrams each (MC), costly when nearly every sentence
has its own shape (real corpora), since the cost is per operation, not
per amplitude. Here every tensor of every diagram of a batch lives in
one flat *pool*; each diagram's network is contracted pairwise in
*rounds* (a round contracts disjoint pairs, so a network of ``n`` tensors
takes about ``log2 n`` rounds), and all pairwise contractions of one
round with the same matrix sizes, whatever diagram they belong to, run
as one gather from the pool and one batched ``matmul``. The cost of a
batch is then a few operations per round and matrix size, not per shape.

A pairwise contraction ``A, B -> C`` is read as a batched matrix
product ``C[h, i, j] = sum_k A[h, i, k] B[h, k, j]``: ``h`` runs over
wires both keep, ``i`` / ``j`` over the wires only one of them has and
that are still needed, ``k`` over the wires no longer needed (summed; a
wire only one operand holds reads the other with stride 0). The gather
indices carry every permutation, so any pair fits this form.

:class:`Merger` (one per engine) keeps each plan's :class:`Program` and
one table of the distinct constant tensors; :meth:`Merger.assemble`
lays out a batch (:class:`MergedBatch`, index tensors only) and calling
that batch with the flat weights evaluates it.

>>> import torch
>>> from lambeq.backend.quantum import Ket, Rx, Ry, CX, Bra
>>> from lambeq.backend.symbol import Symbol
>>> from qnlp.engine.network import build_network
>>> from qnlp.engine.plan import compile_plan
>>> one = Ket(0) >> Rx(Symbol('a'))
>>> two = Ket(0, 0) >> Rx(Symbol('a')) @ Ry(Symbol('b')) >> CX >> Bra(0) @ Rx(Symbol('b'))
>>> plans = [compile_plan(build_network(d)) for d in (one, two)]
>>> merger = Merger(torch.complex128, torch.device('cpu'))
>>> rows = [torch.tensor([[0], [1]]), torch.tensor([[0, 1, 1]])]
>>> batch = merger.assemble(plans, rows, [(0, 0), (1, 0), (0, 1)])
>>> weights = torch.tensor([0.3, 0.8], dtype=torch.float64)
>>> merged = batch(weights)
>>> expected = torch.cat([plans[0](weights[rows[0]])[:1],
...                       plans[1](weights[rows[1]]),
...                       plans[0](weights[rows[0]])[1:]])
>>> bool(torch.allclose(merged, expected, atol=1e-12))
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from qnlp.engine.plan import Plan, read_out, rotations


def _pattern(labels: Sequence[int], dims: dict[int, int],
             order: Sequence[int]) -> np.ndarray:
    """Flat offsets into a row-major tensor with axes ``labels``, listed
    in the order of ``order`` (row-major). A label the tensor lacks has
    stride 0; a label on several axes takes their diagonal."""
    stride: dict[int, int] = {}
    step = 1
    for label in reversed(labels):
        stride[label] = stride.get(label, 0) + step
        step *= dims[label]
    index = np.zeros((), dtype=np.int64)
    for label in order:
        index = (index[..., None]
                 + np.arange(dims[label], dtype=np.int64) * stride.get(
                     label, 0))
    return index.reshape(-1)


def _size(labels: Sequence[int], dims: dict[int, int]) -> int:
    return math.prod(dims[label] for label in labels)


@dataclass
class _Step:
    """``out = A @ B`` for one diagram: tensors by local number."""
    round: int
    first: int
    second: int
    rows: int                     # h: matrices per diagram
    shape: tuple[int, int, int]   # (i, k, j) sizes
    first_index: np.ndarray       # offsets into A, [h, i, k] order
    second_index: np.ndarray      # offsets into B, [h, k, j] order


@dataclass
class Program:
    """How one plan's network is contracted in rounds.

    Tensors are numbered leaves first (the plan's operands), then one per
    step. ``leaves`` says where each leaf comes from: ``('constant',
    array)``, ``('gate',)`` (built from the plan's ``gate_arrays``) or
    ``('weight', start, stop)`` (columns of the plan's slot values).
    """
    leaves: list[tuple]
    sizes: list[int]
    steps: list[_Step]
    final: int
    final_index: np.ndarray     # offsets into the final tensor, [out, traced]
    traced_size: int

    @property
    def rounds(self) -> int:
        return 1 + max((s.round for s in self.steps), default=-1)


def build_program(plan: Plan) -> Program | None:
    """The rounds of ``plan``'s network, or ``None`` if it has no
    operands or an output wire no operand touches."""
    network, operands = plan.network, plan.operands
    dims = network.dims
    final_order = list(network.outputs) + list(network.traced)
    labels: list[list[int]] = [list(op.labels) for op in operands]
    leaves: list[tuple] = []
    for op in operands:
        if op.is_constant:
            leaves.append(('constant', np.asarray(op.array)))
        elif op.coefficients is not None:
            leaves.append(('gate',))
        else:
            start, stop = plan.slot_columns[op.slot]
            leaves.append(('weight', start, stop))
    if not labels:
        return None
    sizes = [_size(term, dims) for term in labels]
    ready = {k: 0 for k in range(len(labels))}  # tensor -> round it exists
    steps: list[_Step] = []
    round_ = 0
    while len(ready) > 1:
        pairs = _round_pairs(sorted(ready), labels, dims)
        for a, b in pairs:
            others = [w for t in ready if t not in (a, b) for w in labels[t]]
            steps.append(_contraction(a, b, labels, dims, round_,
                                      set(others) | set(final_order)))
            sizes.append(_size(labels[-1], dims))
            del ready[a], ready[b]
            ready[len(labels) - 1] = round_ + 1
        round_ += 1
    (final,) = ready
    if set(labels[final]) != set(final_order):
        return None
    traced = _size(network.traced, dims)
    return Program(leaves, sizes, steps, final,
                   _pattern(labels[final], dims, final_order), traced)


def _round_pairs(alive: list[int], labels: list[list[int]],
                 dims: dict[int, int]) -> list[tuple[int, int]]:
    """Disjoint pairs to contract in one round: connected pairs whose
    result is smallest first, skipping pairs that grow past twice their
    larger operand (unless nothing else is left), then, if no pair shares
    a wire, the two smallest tensors (an outer product)."""
    candidates = []
    holders: dict[int, list[int]] = {}
    for t in alive:
        for w in set(labels[t]):
            holders.setdefault(w, []).append(t)
    seen = set()
    for group in holders.values():
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                a, b = group[x], group[y]
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                others = {w for t in alive if t not in (a, b)
                          for w in labels[t]}
                kept = [w for w in dict.fromkeys(labels[a] + labels[b])
                        if w in others or w not in set(labels[a]) & set(
                            labels[b])]
                size = _size(kept, dims)
                larger = max(_size(labels[a], dims), _size(labels[b], dims))
                candidates.append((size / larger, size, a, b))
    if not candidates:
        by_size = sorted(alive, key=lambda t: (_size(labels[t], dims), t))
        return [(by_size[0], by_size[1])]
    candidates.sort()
    taken: set[int] = set()
    pairs = []
    for growth, _, a, b in candidates:
        if a in taken or b in taken or (pairs and growth > 2):
            continue
        taken |= {a, b}
        pairs.append((a, b))
    return pairs


def _contraction(a: int, b: int, labels: list[list[int]],
                 dims: dict[int, int], round_: int, needed: set[int]
                 ) -> _Step:
    """The step contracting tensors ``a`` and ``b``; appends the result's
    labels to ``labels``."""
    la, lb = labels[a], labels[b]
    both = set(la) & set(lb)
    kept = [w for w in dict.fromkeys(la) if w in both and w in needed]
    left = [w for w in dict.fromkeys(la) if w not in both and w in needed]
    right = [w for w in dict.fromkeys(lb) if w not in both and w in needed]
    summed = [w for w in dict.fromkeys(la + lb) if w not in needed]
    labels.append(kept + left + right)
    shape = (_size(left, dims), _size(summed, dims), _size(right, dims))
    return _Step(round_, a, b, _size(kept, dims), shape,
                 _pattern(la, dims, kept + left + summed),
                 _pattern(lb, dims, kept + summed + right))


@dataclass
class _Block:
    """One program's steps of one round with one matrix shape, with
    their gather offsets relative to the input tensors' addresses."""
    outputs: np.ndarray        # tensor numbers of the results
    out_offsets: np.ndarray    # where each result starts in the block
    out_size: int              # entries of the block, per diagram
    first: tuple[np.ndarray, np.ndarray]   # (source tensors, offsets)
    second: tuple[np.ndarray, np.ndarray]


@dataclass
class _Layout:
    """A program as the merger lays it out (constants at their table
    offsets, gates by size, blocks by round and shape)."""
    program: Program
    constants: tuple[np.ndarray, np.ndarray]   # leaf numbers, offsets
    gates: dict[int, tuple]    # size -> (leaves, columns, scales, coeffs)
    weights: list[tuple[int, int, int]]        # (leaf, start, stop)
    rounds: list[dict[tuple[int, int, int], _Block]]


def _blocks(program: Program) -> list[dict[tuple[int, int, int], _Block]]:
    rounds: list[dict[tuple, list]] = [{} for _ in range(program.rounds)]
    base = len(program.leaves)
    for number, step in enumerate(program.steps):
        rounds[step.round].setdefault(step.shape, []).append(
            (base + number, step))
    laid = []
    for groups in rounds:
        blocks = {}
        for shape, members in groups.items():
            sizes = [program_size(step) for _, step in members]
            blocks[shape] = _Block(
                np.array([t for t, _ in members]),
                np.cumsum([0] + sizes[:-1]).astype(np.int64), sum(sizes),
                _sources([(s.first, s.first_index) for _, s in members]),
                _sources([(s.second, s.second_index) for _, s in members]))
        laid.append(blocks)
    return laid


def _sources(parts: list[tuple[int, np.ndarray]]
             ) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([np.full(len(ix), t) for t, ix in parts]),
            np.concatenate([ix for _, ix in parts]))


class Merger:
    """One engine's programs and table of distinct constant tensors."""

    def __init__(self, dtype: torch.dtype, device: torch.device) -> None:
        self.dtype = dtype    # the pool's type: the plans' amplitude type
        self.device = device
        self._layouts: dict[int, tuple[Plan, _Layout | None]] = {}
        self._constants: dict[bytes, int] = {}   # bytes -> offset in pool
        self._arrays: list[np.ndarray] = [np.zeros(1)]  # offset 0: a zero
        self._offset = 1
        self._table: torch.Tensor | None = None

    def program(self, plan: Plan) -> Program | None:
        """``plan``'s program (built once), ``None`` if it has none."""
        layout = self._layout(plan)
        return None if layout is None else layout.program

    def _layout(self, plan: Plan) -> _Layout | None:
        cached = self._layouts.get(id(plan))
        if cached is None or cached[0] is not plan:
            program = build_program(plan)
            cached = (plan, None if program is None else
                      self._lay_out(plan, program))
            self._layouts[id(plan)] = cached
        return cached[1]

    def _lay_out(self, plan: Plan, program: Program) -> _Layout:
        constants: list[tuple[int, int]] = []
        weights = []
        for leaf, source in enumerate(program.leaves):
            if source[0] == 'constant':
                constants.append((leaf, self._constant(source[1])))
            elif source[0] == 'weight':
                weights.append((leaf, source[1], source[2]))
        # The plan's gate groups (by tensor shape), regrouped by size.
        gates: dict[int, list] = {}
        for positions, columns, scales, coeff in plan.gate_arrays:
            size = coeff[0, 0].size
            gates.setdefault(size, []).append(
                (positions, columns, scales,
                 coeff.reshape(3, len(positions), size)))
        pairs = np.array(constants, dtype=np.int64).reshape(-1, 2)
        return _Layout(
            program, (pairs[:, 0], pairs[:, 1]),
            {size: tuple(np.concatenate([np.asarray(m[part]) for m in members],
                                        axis=part // 3)
                         for part in range(4))
             for size, members in gates.items()},
            weights, _blocks(program))

    def _constant(self, array: np.ndarray) -> int:
        flat = np.ascontiguousarray(array, dtype=complex).reshape(-1)
        key = flat.tobytes()
        if key not in self._constants:
            self._constants[key] = self._offset
            self._arrays.append(flat)
            self._offset += flat.size
            self._table = None
        return self._constants[key]

    def move(self, device: torch.device) -> None:
        """Build the constant table on ``device`` from now on."""
        if device != self.device:
            self.device, self._table = device, None

    def table(self) -> torch.Tensor:
        """Every constant, flat, after one zero (pool offset 0)."""
        if self._table is None:
            merged = np.concatenate(self._arrays)
            if not self.dtype.is_complex:
                merged = merged.real
            self._table = torch.as_tensor(merged, dtype=self.dtype,
                                          device=self.device)
        return self._table

    def assemble(self, plans: Sequence[Plan], indices: Sequence[torch.Tensor],
                 where: Sequence[tuple[int, int]]) -> "MergedBatch":
        """Lay out a batch: ``indices[p]`` holds the flat weight indices
        of the diagrams of ``plans[p]`` (one row each), ``where[n]`` the
        ``(plan, row)`` of the ``n``-th diagram in the caller's order."""
        layouts = [self._layout(plan) for plan in plans]
        rows = [np.asarray(ix.cpu()) for ix in indices]
        counts = [len(r) for r in rows]
        # Leaves: constants (shared, in the table), gates by size, weights.
        address = [np.zeros((n, len(lay.program.sizes)), dtype=np.int64)
                   for n, lay in zip(counts, layouts)]
        for lay, addr in zip(layouts, address):
            addr[:, lay.constants[0]] = lay.constants[1]
        offset = self._offset
        real = self.dtype.to_real()
        gate_groups = []
        for size in sorted({s for lay in layouts for s in lay.gates}):
            columns, scales, coefficients = [], [], []
            for lay, r, n, addr in zip(layouts, rows, counts, address):
                if size not in lay.gates:
                    continue
                leaves, cols, scale, coeffs = lay.gates[size]
                addr[:, leaves] = offset + size * np.arange(
                    n * len(leaves)).reshape(n, -1)
                offset += size * n * len(leaves)
                columns.append(r[:, cols].reshape(-1))
                scales.append(np.tile(scale, n))
                coefficients.append(np.tile(coeffs, (1, n, 1)))
            gate_groups.append((
                torch.from_numpy(np.concatenate(columns)),
                torch.as_tensor(np.concatenate(scales), dtype=real),
                torch.as_tensor(np.concatenate(coefficients, axis=1),
                                dtype=self.dtype)))
        weight_parts = []
        for lay, r, n, addr in zip(layouts, rows, counts, address):
            for leaf, start, stop in lay.weights:
                addr[:, leaf] = offset + np.arange(n) * (stop - start)
                offset += n * (stop - start)
                weight_parts.append(r[:, start:stop].reshape(-1))
        weight_index = (np.concatenate(weight_parts) if weight_parts
                        else np.zeros(0, dtype=np.int64))
        # Rounds: every program's block of one shape after the other.
        rounds = []
        for round_ in range(max(lay.program.rounds for lay in layouts)):
            members: dict[tuple, list] = {}
            for p, lay in enumerate(layouts):
                if round_ < len(lay.rounds):
                    for shape, block in lay.rounds[round_].items():
                        members.setdefault(shape, []).append((p, block))
            shapes, first, second = [], [], []
            for shape, blocks in members.items():
                length = 0
                for p, block in blocks:
                    addr, n = address[p], counts[p]
                    first.append((addr[:, block.first[0]]
                                  + block.first[1]).reshape(-1))
                    second.append((addr[:, block.second[0]]
                                   + block.second[1]).reshape(-1))
                    addr[:, block.outputs] = (
                        offset + block.out_offsets
                        + block.out_size * np.arange(n)[:, None])
                    offset += n * block.out_size
                    length += n * block.out_size
                shapes.append((shape, length))
            rounds.append((shapes, torch.from_numpy(np.concatenate(first)),
                           torch.from_numpy(np.concatenate(second))))
        programs = [lay.program for lay in layouts]
        width = max(program.traced_size for program in programs)
        out = programs[0].final_index.size // programs[0].traced_size
        final = np.zeros((len(where), out, width), dtype=np.int64)
        for n, (p, r) in enumerate(where):
            program = programs[p]
            final[n, :, :program.traced_size] = (
                program.final_index + address[p][r, program.final]
            ).reshape(out, -1)
        return MergedBatch(self, gate_groups, torch.from_numpy(weight_index),
                           rounds, torch.from_numpy(final), plans[0],
                           len(where)).to(self.device)


def program_size(step: _Step) -> int:
    """Entries of one diagram's result of ``step``."""
    i, _, j = step.shape
    return step.rows * i * j


class MergedBatch:
    """A laid-out batch: call it with the flat weights (see module doc)."""

    def __init__(self, merger: Merger, gate_groups: list, weight_index,
                 rounds: list, final: torch.Tensor, reference: Plan,
                 size: int) -> None:
        self.merger = merger
        self.gate_groups = gate_groups
        self.weight_index = weight_index
        #: Per round: ((matrix shape, result entries) per group, gather
        #: indices of the left and of the right factors of all groups).
        self.rounds = rounds
        self.final = final
        self.reference = reference  # read-out settings (shared by all)
        self.size = size

    def to(self, device: torch.device) -> "MergedBatch":
        """This batch with its index tensors on ``device``."""
        device = torch.device(device)
        if self.final.device == device:
            return self
        groups = [tuple(t.to(device) for t in group)
                  for group in self.gate_groups]
        rounds = [(shapes, a.to(device), b.to(device))
                  for shapes, a, b in self.rounds]
        return MergedBatch(self.merger, groups, self.weight_index.to(device),
                           rounds, self.final.to(device), self.reference,
                           self.size)

    def __call__(self, weights: torch.Tensor) -> torch.Tensor:
        parts = [self.merger.table()]
        for columns, scales, coefficients in self.gate_groups:
            parts.append(rotations(weights[columns] * scales,
                                   coefficients).reshape(-1))
        if len(self.weight_index):
            parts.append(weights[self.weight_index].to(self.merger.dtype))
        pool = torch.cat(parts)
        for shapes, first, second in self.rounds:
            lefts = pool.index_select(0, first)
            rights = pool.index_select(0, second)
            results, a, b = [pool], 0, 0
            for (i, k, j), length in shapes:
                count = length // (i * j)
                left = lefts[a:a + count * i * k].view(count, i, k)
                right = rights[b:b + count * k * j].view(count, k, j)
                a, b = a + count * i * k, b + count * k * j
                results.append(torch.matmul(left, right).reshape(-1))
            pool = torch.cat(results)
        amplitudes = pool.index_select(0, self.final.reshape(-1)).view(
            self.final.shape)
        plan = self.reference
        if not plan.quantum:
            return amplitudes[..., 0].reshape(-1, *plan.output_shape)
        return read_out(amplitudes, plan.output_shape, plan.mixed)
