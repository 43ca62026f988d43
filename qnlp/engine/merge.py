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
Each round's pool holds only the tensors still to be read (its results,
then what it carries over), so it shrinks about by half a round, and so
does the gradient work of its gather.

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
from collections import Counter
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
    operands or an output wire no operand touches (built once a plan:
    the merger and padded batches share it)."""
    if not hasattr(plan, '_program'):
        plan._program = _build_program(plan)
    return plan._program


def _build_program(plan: Plan) -> Program | None:
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
    holding = Counter(w for term in labels for w in set(term))
    steps: list[_Step] = []
    round_ = 0
    while len(ready) > 1:
        pairs = _round_pairs(sorted(ready), labels, dims)
        for a, b in pairs:
            # wires of a or b that another ready tensor (or the output) has
            sa, sb = set(labels[a]), set(labels[b])
            needed = {w for w in sa | sb
                      if holding[w] > (w in sa) + (w in sb)}
            steps.append(_contraction(a, b, labels, dims, round_,
                                      needed | set(final_order)))
            sizes.append(_size(labels[-1], dims))
            holding.subtract(sa | sb)
            holding.update(set(labels[-1]))
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
                sa, sb = set(labels[a]), set(labels[b])
                # kept: wires another alive tensor has, or one of a, b only
                kept = [w for w in dict.fromkeys(labels[a] + labels[b])
                        if len(holders[w]) > (w in sa) + (w in sb)
                        or w not in sa & sb]
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
    out_sizes: np.ndarray      # entries of each result
    first: tuple[np.ndarray, np.ndarray]   # (source tensors, offsets)
    second: tuple[np.ndarray, np.ndarray]


#: Round in which a program's result is "consumed": after every round.
_END = np.iinfo(np.int64).max


@dataclass
class _Layout:
    """A program as the merger lays it out: per tensor its size, the
    round whose buffer first holds it and the round that reads it;
    constants at their table offsets, gates by size, weight leaves and
    their value columns, blocks by round and shape."""
    program: Program
    sizes: np.ndarray
    appears: np.ndarray        # leaves 0, the result of round r: r + 1
    consumed: np.ndarray       # round reading it (_END: the final tensor)
    constants: np.ndarray      # table offset per tensor, -1 if none
    gates: dict[int, tuple]    # size -> (leaves, columns, scales, coeffs)
    weight_leaves: np.ndarray
    weight_columns: np.ndarray  # their value columns, concatenated
    rounds: list[dict[tuple[int, int, int], _Block]]


def _blocks(program: Program) -> list[dict[tuple[int, int, int], _Block]]:
    rounds: list[dict[tuple, list]] = [{} for _ in range(program.rounds)]
    base = len(program.leaves)
    for number, step in enumerate(program.steps):
        rounds[step.round].setdefault(step.shape, []).append(
            (base + number, step))
    return [{shape: _Block(
                np.array([t for t, _ in members]),
                np.array([program_size(step) for _, step in members]),
                _sources([(s.first, s.first_index) for _, s in members]),
                _sources([(s.second, s.second_index) for _, s in members]))
             for shape, members in groups.items()} for groups in rounds]


def _sources(parts: list[tuple[int, np.ndarray]]
             ) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([np.full(len(ix), t) for t, ix in parts]),
            np.concatenate([ix for _, ix in parts]))


def _spread(starts: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Global numbers of the tensors ``local`` of every diagram whose
    tensors start at ``starts`` (diagram-major)."""
    return (starts[:, None] + local[None, :]).reshape(-1)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts,
    lengths)])`` in a few vectorised operations."""
    total = int(lengths.sum())
    firsts = np.cumsum(lengths) - lengths
    return np.arange(total) + np.repeat(starts - firsts, lengths)


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
        self._structures: dict[tuple, tuple] = {}  # see assemble

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
        count = len(program.sizes)
        constants = np.full(count, -1, dtype=np.int64)
        weights: list[tuple[int, int, int]] = []
        for leaf, source in enumerate(program.leaves):
            if source[0] == 'constant':
                constants[leaf] = self._constant(source[1])
            elif source[0] == 'weight':
                weights.append((leaf, source[1], source[2]))
        # The plan's gate groups (by tensor shape), regrouped by size.
        gates: dict[int, list] = {}
        for positions, columns, scales, coeff in plan.gate_arrays:
            size = coeff[0, 0].size
            gates.setdefault(size, []).append(
                (positions, columns, scales,
                 coeff.reshape(3, len(positions), size)))
        leaves = len(program.leaves)
        appears = np.zeros(count, dtype=np.int64)
        consumed = np.full(count, _END, dtype=np.int64)
        for number, step in enumerate(program.steps):
            appears[leaves + number] = step.round + 1
            consumed[[step.first, step.second]] = step.round
        return _Layout(
            program, np.asarray(program.sizes, dtype=np.int64), appears,
            consumed, constants,
            {size: tuple(np.concatenate([np.asarray(m[part]) for m in members],
                                        axis=part // 3)
                         for part in range(4))
             for size, members in gates.items()},
            np.array([leaf for leaf, _, _ in weights], dtype=np.int64),
            np.concatenate([np.arange(start, stop) for _, start, stop
                            in weights] or [np.zeros(0, dtype=np.int64)]),
            _blocks(program))

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
            self._structures.clear()

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
        ``(plan, row)`` of the ``n``-th diagram in the caller's order.

        Every tensor of every diagram gets a global number; the buffer
        of round ``r`` holds the tensors that exist by then and are still
        to be read (the first: the constant table, gates, weights; each
        next: the round's results, then what it carries over), so the
        buffers shrink as the rounds go.
        """
        layouts = [self._layout(plan) for plan in plans]
        # Diagrams are laid out plan by plan (in caller order within a
        # plan): the layout then depends only on how many diagrams each
        # plan has, and batches of few shapes (minibatches of MC) reuse it.
        where_array = np.array(where, dtype=np.int64).reshape(-1, 2)
        members = []   # (layout, caller positions, weight index rows)
        for p, (lay, ix) in enumerate(zip(layouts, indices)):
            mine = np.flatnonzero(where_array[:, 0] == p)
            if len(mine):
                members.append((lay, mine, np.asarray(ix.cpu())[
                    where_array[mine, 1]]))
        key = tuple((id(lay), len(mine)) for lay, mine, _ in members)
        structure = self._structures.get(key)
        if structure is None:
            structure = self._structure([(lay, len(mine))
                                         for lay, mine, _ in members])
            if len(self._structures) >= _STRUCTURES:
                self._structures.pop(next(iter(self._structures)))
            self._structures[key] = structure
        table, gates, weights, rounds, final = structure
        values = [rows for _, _, rows in members]
        gate_groups = [(torch.from_numpy(np.concatenate(
            [values[g][:, columns].reshape(-1) for g, columns in parts])),
            scales, coefficients) for parts, scales, coefficients in gates]
        weight_index = np.concatenate(
            [values[g][:, columns].reshape(-1) for g, columns in weights])
        rank = np.empty(len(where), dtype=np.int64)
        rank[np.concatenate([mine for _, mine, _ in members])] = np.arange(
            len(where))
        return MergedBatch(self, table, gate_groups,
                           torch.from_numpy(weight_index), rounds,
                           final[torch.from_numpy(rank).to(final.device)],
                           plans[0], len(where)).to(self.device)

    def _structure(self, groups: list[tuple[_Layout, int]]) -> tuple:
        """What a batch's layout owes to its shapes alone, for ``n``
        diagrams of each layout: the table size, gate groups (which
        value columns of which group, scales, coefficients), weight
        columns, rounds and the final gather (diagrams plan by plan)."""
        counts = np.array([len(lay.sizes) * n for lay, n in groups])
        firsts = np.cumsum(counts) - counts
        starts = [first + len(lay.sizes) * np.arange(n)
                  for first, (lay, n) in zip(firsts, groups)]
        sizes = np.concatenate([np.tile(lay.sizes, n) for lay, n in groups])
        appears = np.concatenate([np.tile(lay.appears, n)
                                  for lay, n in groups])
        consumed = np.concatenate([np.tile(lay.consumed, n)
                                   for lay, n in groups])
        constants = np.concatenate([np.tile(lay.constants, n)
                                    for lay, n in groups])
        is_constant = constants >= 0
        address = np.where(is_constant, constants, -1)
        table = self._offset   # the table so far (it only grows)
        # Buffer 0: the table, then gates by size, then weights.
        offset = table
        real = self.dtype.to_real()
        gates = []
        for size in sorted({s for lay, _ in groups for s in lay.gates}):
            members = [(g, lay.gates[size]) for g, (lay, _) in
                       enumerate(groups) if size in lay.gates]
            leaves = np.concatenate([_spread(starts[g], gate[0])
                                     for g, gate in members])
            address[leaves] = offset + size * np.arange(len(leaves))
            offset += size * len(leaves)
            gates.append((
                [(g, gate[1]) for g, gate in members],
                torch.as_tensor(np.concatenate(
                    [np.tile(gate[2], len(starts[g])) for g, gate in members]),
                    dtype=real, device=self.device),
                torch.as_tensor(np.concatenate(
                    [np.tile(gate[3], (1, len(starts[g]), 1))
                     for g, gate in members], axis=1), dtype=self.dtype,
                    device=self.device)))
        leaves = np.concatenate([_spread(starts[g], lay.weight_leaves)
                                 for g, (lay, _) in enumerate(groups)])
        address[leaves] = offset + np.cumsum(sizes[leaves]) - sizes[leaves]
        length = offset + int(sizes[leaves].sum())   # of the buffer
        weights = [(g, lay.weight_columns)
                   for g, (lay, _) in enumerate(groups)]
        # Rounds: one gather of both factors of every step and of what is
        # carried over, then one matmul per matrix shape.
        table_at, rounds = 0, []
        for round_ in range(max(lay.program.rounds for lay, _ in groups)):
            blocks: dict[tuple, list] = {}
            for g, (lay, _) in enumerate(groups):
                if round_ < len(lay.rounds):
                    for shape, block in lay.rounds[round_].items():
                        blocks.setdefault(shape, []).append((starts[g], block))
            shapes, lefts, rights, outputs = [], [], [], []
            for shape, members in blocks.items():
                for factors, part in ((lefts, 0), (rights, 1)):
                    tensors, offsets = zip(*[
                        (_spread(first, (b.first, b.second)[part][0]),
                         np.tile((b.first, b.second)[part][1], len(first)))
                        for first, b in members])
                    factors.append(address[np.concatenate(tensors)]
                                   + np.concatenate(offsets))
                outputs.append(np.concatenate(
                    [_spread(first, b.outputs) for first, b in members]))
                i, _, j = shape
                shapes.append((shape,
                               int(sizes[outputs[-1]].sum()) // (i * j)))
            made = np.concatenate(outputs)
            address[made] = np.cumsum(sizes[made]) - sizes[made]
            offset = int(sizes[made].sum())
            carried = [np.zeros(0, dtype=np.int64)]
            if np.any(is_constant & (consumed > round_)):
                carried.append(table_at + np.arange(table))
                table_at, offset = offset, offset + table
            alive = np.flatnonzero(~is_constant & (appears <= round_)
                                   & (consumed > round_))
            carried.append(_ranges(address[alive], sizes[alive]))
            address[alive] = offset + np.cumsum(sizes[alive]) - sizes[alive]
            address[is_constant] = table_at + constants[is_constant]
            parts = [np.concatenate(lefts), np.concatenate(rights),
                     np.concatenate(carried)]
            length = int(sizes[made].sum()) + len(parts[2])
            rounds.append((shapes, [len(f) for f in lefts]
                           + [len(f) for f in rights] + [len(parts[2])],
                           torch.from_numpy(np.concatenate(parts)).to(
                               self.device)))
        width = max(lay.program.traced_size for lay, _ in groups)
        first = groups[0][0].program
        out = first.final_index.size // first.traced_size
        # Padding reads one zero appended after the last buffer.
        final = np.full((sum(n for _, n in groups), out, width), length,
                        dtype=np.int64)
        row = 0
        for g, (lay, n) in enumerate(groups):
            program = lay.program
            final[row:row + n, :, :program.traced_size] = (
                program.final_index + address[starts[g] + program.final][
                    :, None]).reshape(n, out, -1)
            row += n
        return (table, gates, weights, rounds,
                torch.from_numpy(final).to(self.device))


#: Layouts of batch structures each merger keeps (oldest dropped first).
_STRUCTURES = 64


def program_size(step: _Step) -> int:
    """Entries of one diagram's result of ``step``."""
    i, _, j = step.shape
    return step.rows * i * j


class MergedBatch:
    """A laid-out batch: call it with the flat weights (see module doc)."""

    def __init__(self, merger: Merger, table: int, gate_groups: list,
                 weight_index: torch.Tensor, rounds: list,
                 final: torch.Tensor, reference: Plan, size: int) -> None:
        self.merger = merger
        self.table = table    # entries of the constant table it reads
        self.gate_groups = gate_groups
        self.weight_index = weight_index
        #: Per round: ((i, k, j), matrices) per group, the lengths of the
        #: groups' left factors, then right factors, then carried entries,
        #: and their gather indices into the round's buffer (split, not
        #: sliced: a slice's gradient is zero-filled at the full size).
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
        rounds = [(shapes, lengths, index.to(device))
                  for shapes, lengths, index in self.rounds]
        return MergedBatch(self.merger, self.table, groups,
                           self.weight_index.to(device), rounds,
                           self.final.to(device), self.reference, self.size)

    def __call__(self, weights: torch.Tensor) -> torch.Tensor:
        parts = [self.merger.table()[:self.table]]
        for columns, scales, coefficients in self.gate_groups:
            parts.append(rotations(weights[columns] * scales,
                                   coefficients).reshape(-1))
        if len(self.weight_index):
            parts.append(weights[self.weight_index].to(self.merger.dtype))
        pool = torch.cat(parts)
        for shapes, lengths, index in self.rounds:
            *factors, carried = pool.index_select(0, index).split(lengths)
            results = [
                torch.matmul(left.view(count, i, k), right.view(count, k, j)
                             ).reshape(-1)
                for ((i, k, j), count), left, right in zip(
                    shapes, factors, factors[len(shapes):])]
            pool = torch.cat(results + [carried])
        pool = torch.cat([pool, pool.new_zeros(1)])
        amplitudes = pool.index_select(0, self.final.reshape(-1)).view(
            self.final.shape)
        plan = self.reference
        if not plan.quantum:
            return amplitudes[..., 0].reshape(-1, *plan.output_shape)
        return read_out(amplitudes, plan.output_shape, plan.mixed)
