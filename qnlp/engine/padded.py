"""Diagrams of many shapes as one regular, padded batch.

:mod:`qnlp.engine.merge` contracts a batch of many shapes in rounds,
one batched ``matmul`` per round *and matrix shape*, and lays the batch
out anew (in numpy) for every minibatch. Here each diagram's rounds
(the same :class:`~qnlp.engine.merge.Program`) are padded to one shape
per round: ``M`` matrices of ``I x K`` times ``K x J`` for every diagram,
the padding read from a zero. A round is then two gathers and one
``bmm`` for the whole batch, whatever its shapes, and the addresses
every round reads are one row per diagram, computed once for a prepared
set: a minibatch selects its rows, with no layout work per step.
Diagrams are sorted by size into buckets that are padded separately, so
that a few large diagrams do not pad all the others (:data:`WASTE`).

One flat buffer per bucket and minibatch size, kept from step to step
(:class:`_Buffers`): first the pool (shared): a zero, every distinct
constant tensor (written once), every distinct gate (a gate is its kind
and the weight it reads: built once per step however many diagrams use
it, all in one ``baddbmm``), then the weights themselves; then, round by
round, the products of every diagram (see :class:`_Bucket`). The
products are written in place (``bmm(out=)``), so nothing is copied or
carried from round to round; a round reads both factors of its products
in one ``take`` (and its backward adds their gradients back in one
``put_``).

>>> import torch
>>> from lambeq.backend.quantum import Ket, Rx, Ry, CX, Bra
>>> from lambeq.backend.symbol import Symbol
>>> from qnlp.engine import Engine
>>> a, b = Symbol('a'), Symbol('b')
>>> circuits = [Ket(0) >> Rx(a), Ket(0, 0) >> Rx(a) @ Ry(b) >> CX >> Bra(0) @ Rx(b)]
>>> engine = Engine.from_diagrams(circuits)
>>> batch = engine.prepare(circuits)
>>> padded = PaddedBatch.of(batch.groups, len(batch), engine.n_weights)
>>> weights = torch.tensor([0.3, 0.8], dtype=torch.float64)
>>> bool(torch.allclose(padded(weights), engine(weights, engine.prepare(circuits, merge=False))))
True
>>> rows = torch.tensor([1])
>>> bool(torch.allclose(padded(weights, rows), padded(weights)[1:]))
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from qnlp.engine.merge import Program, build_program
from qnlp.engine.plan import (Plan, check_classes, class_probabilities,
                              read_out, uniform_where_zero)

#: Most gather index entries a padded batch may hold (8 bytes each);
#: a larger one runs merged instead.
LIMIT = 2 ** 27

#: Most padded entries per entry a bucket's diagrams really use; the
#: diagrams, sorted by size, are cut into buckets that stay below it.
WASTE = 4.0


@dataclass
class _Stats:
    """What one program needs per round: matrices and their largest
    sizes."""
    matrices: list[int]
    shapes: list[tuple[int, int, int]]
    used: int        # entries gathered and multiplied, unpadded


def _rounds(program: Program) -> list[list[tuple[int, object]]]:
    base = len(program.leaves)
    rounds: list[list] = [[] for _ in range(program.rounds)]
    for number, step in enumerate(program.steps):
        rounds[step.round].append((base + number, step))
    return rounds


def _shape(step) -> tuple[int, int, int]:
    """The ``I x K`` times ``K x J`` shape ``step`` is computed in: its
    own, or transposed (``B^T A^T``) so that ``I <= J``; one orientation
    pads the products of a round far less than a mix (an ``8 x 1`` and
    a ``1 x 8`` product pad each other to ``8 x 8``)."""
    i, k, j = step.shape
    return (i, k, j) if i <= j else (j, k, i)


def _stats(program: Program, rounds: int) -> _Stats:
    steps = _rounds(program)
    matrices, shapes, used = [], [], 0
    for r in range(rounds):
        mine = [step for _, step in steps[r]] if r < len(steps) else []
        matrices.append(sum(s.rows for s in mine))
        shapes.append(tuple(max((_shape(s)[d] for s in mine), default=1)
                            for d in range(3)))
        used += sum(s.rows * (s.shape[0] * s.shape[1] + s.shape[1]
                              * s.shape[2] + s.shape[0] * s.shape[2])
                    for s in mine)
    return _Stats(matrices, shapes, used)


class _Bucket:
    """Diagrams padded to one layout.

    A minibatch of ``n`` of them is evaluated in one flat buffer: the
    shared pool (``pool`` entries), then round by round the products of
    all ``n`` diagrams (``n * sizes[r]`` entries, diagram by diagram).
    An entry a round reads is given by three numbers per diagram
    (:attr:`addresses`): its offset in its region (0: the pool, ``r +
    1``: the products of round ``r``), the region's start beyond the
    pool in units of ``n``, and its stride per diagram; the diagram in
    slot ``i`` of a minibatch reads ``offset + n start + i stride``, one
    ``bmm`` for the whole minibatch. A round is then one ``take`` and
    one ``bmm`` written into the buffer; its backward two ``bmm`` and
    one ``put_`` that adds.
    """

    def __init__(self, members: list[tuple[Program, np.ndarray, np.ndarray]],
                 rounds: int, pool: int, weights: int) -> None:
        # members: (program, positions in the batch, leaf-entry table
        # [n, leaf entries] of addresses in the pool); the pool ends
        # with the ``weights`` weights
        stats = [_stats(p, rounds) for p, _, _ in members]
        self.matrices = [max(s.matrices[r] for s in stats)
                         for r in range(rounds)]
        self.shapes = [tuple(max(s.shapes[r][d] for s in stats)
                             for d in range(3)) for r in range(rounds)]
        #: Product entries of one diagram per round.
        self.sizes = [m * i * j for m, (i, _, j) in
                      zip(self.matrices, self.shapes)]
        self.pool, self.weights = pool, weights
        first = members[0][0]
        self.out = first.final_index.size // first.traced_size
        self.width = max(p.traced_size for p, _, _ in members)
        positions = np.concatenate([at for _, at, _ in members])
        order = np.argsort(positions, kind='stable')  # rows by position
        self.positions = torch.from_numpy(positions[order])
        parts = [self._rows(p, table) for p, _, table in members]
        local, region = (np.concatenate([rows[0] for rows in parts])[order],
                         np.concatenate([rows[1] for rows in parts])[order])
        self.widths = [m * k * (i + j) for m, (i, k, j) in
                       zip(self.matrices, self.shapes)] + [
                           self.out * self.width]
        # per region: where it starts, in units of n (beyond the pool),
        # and its stride per diagram
        starts = np.concatenate([[0, 0], np.cumsum(self.sizes)[:-1]]
                                ).astype(np.int64)
        strides = np.concatenate([[0], self.sizes]).astype(np.int64)
        #: Per diagram (row) and read (rounds side by side: left
        #: factors, right factors, ...; then the read-out): its offset in
        #: its region, the region's start and its stride, ``[N, 3,
        #: reads]``.
        self.addresses = torch.from_numpy(np.stack(
            [local, starts[region], strides[region]], axis=1))
        self._whole: list[torch.Tensor] | None = None
        #: Per minibatch size ``n``: ``[1, n, i]`` for every slot ``i``,
        #: ``[n, 1, 3]``, that turn :attr:`addresses` into addresses.
        self._slots: dict[int, torch.Tensor] = {}
        #: Per minibatch size: the flat buffer (the pool's constants
        #: written once), the buffer of the backward and its scratch.
        self._buffers: dict[tuple, tuple[torch.Tensor, ...]] = {}

    def to(self, device: torch.device) -> None:
        """Move the tables to ``device``; in place."""
        for name in ('positions', 'addresses'):
            setattr(self, name, getattr(self, name).to(device))
        self._whole, self._slots, self._buffers = None, {}, {}

    def padded(self) -> int:
        """Entries read per diagram, padding included."""
        return sum(self.widths) + sum(self.sizes)

    def _rows(self, program: Program, table: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Offsets and regions [n, reads] of ``program``'s diagrams;
        ``table`` [n, leaf entries] holds their leaves' pool addresses."""
        sizes = program.sizes
        # where[t]: region of tensor t and its entries' offsets there
        # (region 0: columns of ``table`` + 1, column 0 the zero).
        where: dict[int, tuple[int, np.ndarray]] = {}
        column = 1
        for leaf in range(len(program.leaves)):
            where[leaf] = (0, column + np.arange(sizes[leaf]))
            column += sizes[leaf]
        steps = _rounds(program)
        regions, offsets = [], []

        def read(shape: tuple, parts: list) -> tuple[np.ndarray, np.ndarray]:
            region = np.zeros(shape, dtype=np.int16)
            offset = np.zeros(shape, dtype=np.int64)
            for at, tensor, index in parts:   # index: shaped as at
                kind, entries = where[tensor]
                region[at] = kind
                offset[at] = entries[index]
            rows = (shape[0], int(np.prod(shape[1:])))
            return region.reshape(rows), offset.reshape(rows)

        for r, (m, (I, K, J)) in enumerate(zip(self.matrices, self.shapes)):
            lefts, rights, slot = [], [], 0
            for number, step in (steps[r] if r < len(steps) else []):
                h, (i, k, j) = step.rows, step.shape
                first = (step.first, step.first_index.reshape(h, i, k))
                second = (step.second, step.second_index.reshape(h, k, j))
                # entry (s, a, b) of the product A B sits at row a, column
                # b of matrix slot + s; computed as B^T A^T, at (b, a)
                steps_a, steps_b = J, 1
                if (i, k, j) != _shape(step):
                    first, second = ((second[0], second[1].transpose(0, 2, 1)),
                                     (first[0], first[1].transpose(0, 2, 1)))
                    steps_a, steps_b = 1, J
                lefts.append((np.s_[slot:slot + h, :_shape(step)[0], :k],
                              *first))
                rights.append((np.s_[slot:slot + h, :k, :_shape(step)[2]],
                               *second))
                where[number] = (r + 1, (
                    (slot + np.arange(h))[:, None, None] * I * J
                    + np.arange(i)[None, :, None] * steps_a
                    + np.arange(j)[None, None, :] * steps_b).reshape(-1))
                slot += h
            # per matrix: its left factor's entries, then its right's
            # (one read a round)
            for both, part in zip(zip(read((m, I, K), lefts),
                                      read((m, K, J), rights)),
                                  (regions, offsets)):
                part.append(np.concatenate(both, axis=1).reshape(-1))
        for both, part in zip(read((self.out, self.width), [
                (np.s_[:, :program.traced_size], program.final,
                 program.final_index.reshape(self.out, -1))]),
                (regions, offsets)):
            part.append(both.reshape(-1))
        region, offset = np.concatenate(regions), np.concatenate(offsets)
        n = table.shape[0]
        padded_table = np.concatenate([np.zeros((n, 1), dtype=np.int64),
                                       table], axis=1)
        pooled = region == 0
        local = np.broadcast_to(offset, (n, offset.size)).copy()
        local[:, pooled] = padded_table[:, offset[pooled]]
        local[:, ~pooled] += self.pool
        return local, np.broadcast_to(region, (n, region.size))

    def reads(self, rows: torch.Tensor | None) -> list[torch.Tensor]:
        """Each round's reads (left, right factors; then the read-out)
        of the diagrams at ``rows`` of the bucket (all by default), as
        addresses in the flat buffer."""
        if rows is None:
            if self._whole is None:
                self._whole = self._reads(self.addresses)
            return self._whole
        return self._reads(self.addresses.index_select(0, rows))

    def _reads(self, addresses: torch.Tensor) -> list[torch.Tensor]:
        n = addresses.shape[0]
        if addresses.device.type != 'cpu':   # CUDA has no integer bmm
            return list(flat_addresses(addresses).split(self.widths, dim=1))
        slots = self._slots.get(n)
        if slots is None:
            slots = torch.ones((n, 1, 3), dtype=torch.long,
                               device=addresses.device)
            slots[:, 0, 1] = n
            slots[:, 0, 2] = torch.arange(n)
            self._slots[n] = slots
        return list(torch.bmm(slots, addresses).view(n, -1).split(
            self.widths, dim=1))

    def buffers(self, table: torch.Tensor, n: int) -> "_Buffers":
        """The buffers of ``n`` diagrams and their views, kept from step
        to step (``table``, the pool's constants, copied in once)."""
        key = (n, table.dtype)
        found = self._buffers.get(key)
        if found is None:
            found = self._buffers[key] = _Buffers(self, table, n)
        return found

    def forward(self, views: "_Buffers", reads: Sequence[torch.Tensor]
                ) -> tuple[torch.Tensor, list]:
        """The rounds without autograd, in the forward buffer of
        ``views`` (its pool written): amplitudes and every round's
        factors (what the gradient needs). A round reads both factors of
        every matrix in one ``take``."""
        n, flat = reads[-1].shape[0], views.flat
        factors = []
        for r, (m, (i, k, j)) in enumerate(zip(self.matrices, self.shapes)):
            both = flat.take(reads[r])   # [n, m * k (i + j)]
            left = both.as_strided((n * m, i, k), (k * (i + j), k, 1))
            right = both.as_strided((n * m, k, j), (k * (i + j), j, 1),
                                    both.storage_offset() + i * k)
            torch.bmm(left, right, out=views.products[r])
            factors.append((left, right))
        out = flat.take(reads[-1])
        return out.view(n, self.out, self.width), factors

    def backward(self, grad: torch.Tensor, reads: Sequence[torch.Tensor],
                 factors: list, table: torch.Tensor) -> "_Buffers":
        """The gradient of the pool (``pool`` of the buffers returned,
        kept for the next step) from
        ``grad``, that of the amplitudes, both conjugated (``G =
        conj(torch's gradient)``: then a product ``A @ B`` passes ``G @
        B^T`` and ``A^T @ G``, with no conjugation per round); each
        read's gradient added back where it was read."""
        views = self.buffers(table, grad.shape[0])
        flat = views.gradient
        flat.zero_()
        flat.put_(reads[-1], grad, accumulate=True)
        for r in reversed(range(len(factors))):
            left, right = factors[r]
            product = views.gradients[r]
            both, to_left, to_right = views.scratch[r]
            torch.bmm(product, right.mT, out=to_left)
            torch.bmm(left.mT, product, out=to_right)
            flat.put_(reads[r], both, accumulate=True)
        return views


@dataclass
class _Gates:
    """Every entry of every distinct gate, as real tensors: ``C0 + M
    [cos, sin]`` of the phase ``scale * weight``."""
    columns: torch.Tensor      # [E] the weight an entry reads
    reads: torch.Tensor        # [E, 1] the same, as ``take`` gives rows
    scales: torch.Tensor       # [E, 1]
    constant: torch.Tensor     # [E, 1, R] C0 (R: 2 real rows, or 1)
    rows: torch.Tensor         # [E, 2, R] M^T
    slopes: torch.Tensor       # [E, R, 2] N times the scale
    ones: torch.Tensor         # [E, 1] the modulus of the phases


def _real(values: torch.Tensor) -> torch.Tensor:
    """The real part of ``values`` (a view)."""
    return values.real if values.is_complex() else values


def _real_rows(values: torch.Tensor) -> torch.Tensor:
    """``values`` as real rows ``[E, 1, R]`` (a view; ``R``: 2, real
    and imaginary parts, or 1)."""
    rows = torch.view_as_real(values) if values.is_complex() else \
        values.unsqueeze(-1)
    return rows.unsqueeze(1)


class _Buffers:
    """A bucket's buffers for minibatches of ``n``: the flat buffer of
    the forward (the pool, then the products round by round) and that of
    the backward (their gradients), a scratch for one round's factor
    gradients (left and right factors side by side, as a round reads
    them), and the views of them a step uses."""

    def __init__(self, bucket: _Bucket, table: torch.Tensor, n: int) -> None:
        size = bucket.pool + n * sum(bucket.sizes)
        self.flat = table.new_empty(size)
        self.flat[:table.shape[0]] = table
        self.gradient = table.new_empty(size)
        self.pool = self.gradient[:bucket.pool]
        #: The pool's parts (forward, backward): all of it, its gates as
        #: real rows ``[E, 1, R]``, its weights (their gradients: the
        #: real part).
        start, end = table.shape[0], bucket.pool - bucket.weights
        self.pools = (self.flat[:bucket.pool], self.pool)
        self.gates = tuple(_real_rows(flat[start:end])
                           for flat in self.pools)
        self.weights = (self.flat[end:bucket.pool], _real(self.pool[end:]))
        scratch = table.new_empty(n * max(bucket.widths[:-1], default=0))
        self.products, self.gradients, self.scratch = [], [], []
        at = bucket.pool
        for r, (m, (i, k, j)) in enumerate(zip(bucket.matrices,
                                               bucket.shapes)):
            end = at + n * bucket.sizes[r]
            self.products.append(self.flat[at:end].view(n * m, i, j))
            self.gradients.append(self.gradient[at:end].view(n * m, i, j))
            both = scratch[:n * bucket.widths[r]].view(n * m, k * (i + j))
            self.scratch.append((both, both[:, :i * k].view(n * m, i, k),
                                 both[:, i * k:].view(n * m, k, j)))
            at = end


class _Evaluate(torch.autograd.Function):
    """:meth:`PaddedBatch.__call__`'s contraction as one autograd node,
    from the weights to the amplitudes (or, for pure circuits, the
    normalised probabilities): the forward runs without recording, the
    backward is :meth:`PaddedBatch.backward` (a few kernels a round,
    instead of a node per operation)."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, batch: "PaddedBatch",
                positions: torch.Tensor | None,
                classes: int | None) -> torch.Tensor:
        result, saved = batch.forward(weights, positions, classes)
        if ctx.needs_input_grad[0]:
            ctx.batch, ctx.saved = batch, saved
            ctx.save_for_backward(result)   # (checked for changes in place)
            # for :func:`then` (the result detached: no reference cycle)
            ctx.weights, ctx.result = weights, result.detach()
        return result

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple:
        result, = ctx.saved_tensors
        return ctx.batch.backward(grad, ctx.saved, result), None, None, None


def then(probabilities: torch.Tensor, value: Callable, gradient: Callable,
         *args: Any) -> torch.Tensor | None:
    """``value(probabilities, *args)`` inside the padded node that made
    ``probabilities``, as one autograd node from the weights (one node
    less a training step: what a loss such as
    :func:`qnlp.train.nll` does); ``None`` unless ``probabilities`` are
    that node's output as it made them (not a view, not changed in
    place). ``value`` gives the value and what its gradient needs,
    ``gradient(grad, *state)`` the gradient of ``probabilities``.

    The joined node's backward goes straight from the value to the
    weights: a hook registered on ``probabilities`` (``register_hook``,
    ``retain_grad``) does not fire on this path — use the two-node path
    (call ``value`` on ``probabilities`` yourself) when you need one.

    >>> import torch
    >>> from lambeq.backend.quantum import Ket, Rx, Bra
    >>> from lambeq.backend.symbol import Symbol
    >>> from qnlp.engine import Engine
    >>> circuits = [Ket(0, 0) >> Rx(Symbol('a')) @ Rx(Symbol('b'))
    ...             >> Bra(0) @ Rx(Symbol('a'))]
    >>> engine = Engine.from_diagrams(circuits)
    >>> weights = torch.tensor([0.3, 0.8], dtype=torch.float64,
    ...                        requires_grad=True)
    >>> p = engine(weights, engine.prepare(circuits), classes=2)
    >>> first = then(p, lambda p: (p[:, 0].sum(), ()),
    ...              lambda grad: torch.stack([grad, 0 * grad]).view(1, 2))
    >>> first.backward()
    >>> together = weights.grad.clone()
    >>> weights.grad = None
    >>> p[:, 0].sum().backward()
    >>> bool(torch.equal(together, weights.grad))
    True
    """
    node = probabilities.grad_fn
    if type(node) is not _Evaluate._backward_cls or \
            getattr(node, 'batch', None) is None:
        return None
    return _Then.apply(node.weights, node.batch, node.saved, node.result,
                       value, gradient, *args)


def flat_addresses(addresses: torch.Tensor) -> torch.Tensor:
    """``[n, K]`` flat buffer addresses from ``addresses`` ``[n, 3, K]``
    (offset, stride of the diagram count, stride of the row):
    ``a0 + n a1 + row a2``, what :meth:`_Bucket._reads` gets on the CPU
    as one integer ``bmm``.

    >>> flat_addresses(torch.tensor([[[1], [2], [3]], [[4], [5], [6]]]))
    tensor([[ 5],
            [20]])
    """
    n = addresses.shape[0]
    rows = torch.arange(n, device=addresses.device).unsqueeze(1)
    return addresses[:, 0] + n * addresses[:, 1] + rows * addresses[:, 2]


class _Then(torch.autograd.Function):
    """:func:`then`'s node: the padded node's saved state (the
    probabilities computed already), a function of them and its
    gradient, then the padded backward."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, batch: "PaddedBatch",
                saved: tuple, result: torch.Tensor, value: Callable,
                gradient: Callable, *args: Any) -> torch.Tensor:
        found, state = value(result, *args)
        ctx.save_for_backward(result)   # changed in place later: an error
        ctx.batch, ctx.saved = batch, saved
        ctx.gradient, ctx.state = gradient, state
        return found

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple:
        result, = ctx.saved_tensors
        probabilities = ctx.gradient(grad, *ctx.state)
        return (ctx.batch.backward(probabilities, ctx.saved, result),
                *[None] * (len(ctx.needs_input_grad) - 1))


class PaddedBatch:
    """A prepared batch as padded buckets (see the module docstring);
    call it with the flat weights (and optionally the positions of a
    minibatch) for the read-out of every diagram, in batch order."""

    def __init__(self, buckets: list[_Bucket], size: int, reference: Plan,
                 constants: np.ndarray, gates: tuple,
                 n_weights: int, reads_weights: bool = True) -> None:
        self.buckets = buckets
        self.size = size
        self.reference = reference
        self.dtype = reference.dtype
        self._constants = constants
        #: Every entry of every distinct gate: the weight it reads, its
        #: scale and its coefficients (3, entries): C0 + cos C1 + sin C2.
        self._gates = gates
        self.n_weights = n_weights
        #: Whether a diagram reads a weight itself (not through a gate);
        #: if not, the weights are not copied into the pool.
        self.reads_weights = reads_weights
        self.device = torch.device('cpu')
        #: Per batch position: its bucket and row there.
        self.place = torch.zeros((2, size), dtype=torch.long)
        for b, bucket in enumerate(buckets):
            self.place[0, bucket.positions] = b
            self.place[1, bucket.positions] = torch.arange(
                len(bucket.positions))
        self._materialise()

    def _materialise(self) -> None:
        real = self.dtype.to_real()
        constants = self._constants if self.dtype.is_complex else \
            self._constants.real
        self.table = torch.as_tensor(constants, dtype=self.dtype,
                                     device=self.device)
        for bucket in self.buckets:   # their buffers hold the old table
            bucket.to(self.device)
        columns, scales, (c0, c1, c2) = self._gates
        # A gate entry C0 + cos C1 + sin C2 in real rows (re, im; or the
        # real part alone): C0 + M [cos, sin]; the gradient of the phase
        # Re(G (C2 cos - C1 sin)) is G^T N [cos, sin], with N = [[C2r,
        # -C1r], [-C2i, C1i]], times the scale of the weight.
        split = ((lambda c: (c.real, c.imag)) if self.dtype.is_complex
                 else (lambda c: (c.real,)))
        rows = np.stack([np.stack(pair, axis=-1) for pair in
                         zip(split(c1), split(c2))], axis=1)   # [E, R, 2]
        sign = np.array([1.0, -1.0])[:rows.shape[1], None]
        slopes = sign * np.stack([rows[..., 1], -rows[..., 0]], axis=-1)

        def tensor(values, dtype=real):
            return torch.as_tensor(np.ascontiguousarray(values), dtype=dtype,
                                   device=self.device)
        # computed as rows: [cos, sin] [E, 1, 2] times M^T [E, 2, R]
        self.gates = _Gates(tensor(columns, torch.long),
                            tensor(columns[:, None], torch.long),
                            tensor(scales[:, None]),
                            tensor(np.stack(split(c0), axis=-1)[:, None]),
                            tensor(rows.transpose(0, 2, 1)),
                            tensor(slopes * scales[:, None, None]),
                            torch.ones((len(columns), 1), dtype=real,
                                       device=self.device))

    @classmethod
    def of(cls, groups: Sequence[tuple[Plan, torch.Tensor, torch.Tensor]],
           count: int, n_weights: int) -> "PaddedBatch | None":
        """The batch of :meth:`Engine.prepare`'s ``groups`` (plans, batch
        positions, weight index rows) padded, or ``None`` when the plans'
        outputs differ in kind, are scalars (closed diagrams: their
        read-out is not normalised) or one has no program."""
        plans = [plan for plan, _, _ in groups]
        if not plans or not plans[0].output_shape:
            return None
        first = plans[0]
        if any((p.dtype, p.quantum, p.mixed, p.output_shape)
               != (first.dtype, first.quantum, first.mixed,
                   first.output_shape) for p in plans):
            return None
        programs = [build_program(plan) for plan in plans]
        if any(p is None for p in programs):
            return None
        rounds = max(p.rounds for p in programs)
        constants: dict[bytes, int] = {}
        arrays: list[np.ndarray] = [np.zeros(1, dtype=complex)]
        table_size = 1
        kinds: dict[tuple, int] = {}
        kind_arrays: list[tuple[float, np.ndarray]] = []
        # Leaf entries of every plan, with gates as (kind, weight index).
        tables = []
        for plan, program, (_, positions, rows) in zip(plans, programs,
                                                      groups):
            rows = rows.cpu().numpy()
            columns: list[np.ndarray] = []   # per leaf: [n, size] sources
            gate_of = {}
            for leaves, cols, scales, coeff in plan.gate_arrays:
                size = coeff[0, 0].size
                for g, leaf in enumerate(leaves):
                    c = np.ascontiguousarray(coeff[:, g], dtype=complex
                                             ).reshape(3, size)
                    key = (float(scales[g]), c.tobytes())
                    if key not in kinds:
                        kinds[key] = len(kind_arrays)
                        kind_arrays.append((float(scales[g]), c))
                    gate_of[leaf] = (kinds[key], cols[g])
            for leaf, source in enumerate(program.leaves):
                if source[0] == 'constant':
                    flat = np.ascontiguousarray(source[1], dtype=complex
                                                ).reshape(-1)
                    key = flat.tobytes()
                    if key not in constants:
                        constants[key] = table_size
                        arrays.append(flat)
                        table_size += flat.size
                    columns.append(('constant', constants[key], flat.size))
                elif source[0] == 'gate':
                    kind, column = gate_of[leaf]
                    columns.append(('gate', kind, rows[:, column]))
                else:
                    columns.append(('weight', rows[:, source[1]:source[2]]))
            tables.append((program, positions.cpu().numpy(), columns))
        # Distinct gates (kind, weight), grouped by size, after the
        # constants; then the weights.
        keys = np.concatenate([np.zeros(0, dtype=np.int64)] + [
            source[1] * n_weights + source[2] for _, _, columns in tables
            for source in columns if source[0] == 'gate'])
        distinct = np.unique(keys)
        offset = table_size
        gate_sizes = np.array([kind_arrays[k][1].shape[1]
                               for k in distinct // n_weights],
                              dtype=np.int64)
        address = offset + np.cumsum(gate_sizes) - gate_sizes
        offset += int(gate_sizes.sum())
        kinds_of = distinct // n_weights
        gates = (np.repeat(distinct % n_weights, gate_sizes),
                 np.repeat([kind_arrays[k][0] for k in kinds_of],
                           gate_sizes),
                 np.concatenate([np.zeros((3, 0), dtype=complex)]
                                + [kind_arrays[k][1] for k in kinds_of],
                                axis=1))
        weight_base = offset
        leaf_tables = []
        for program, positions, columns in tables:
            n = len(positions)
            parts = []
            for source in columns:
                if source[0] == 'constant':
                    parts.append(np.broadcast_to(
                        source[1] + np.arange(source[2]), (n, source[2])))
                elif source[0] == 'gate':
                    u = np.searchsorted(distinct,
                                        source[1] * n_weights + source[2])
                    size = kind_arrays[source[1]][1].shape[1]
                    parts.append(address[u][:, None] + np.arange(size))
                else:
                    parts.append(weight_base + source[1])
            leaf_tables.append((program, positions,
                                np.concatenate(parts, axis=1)))
        cut = _cut(leaf_tables, rounds)
        if sum(len(members) * _entries(members, rounds)
               for members in cut) > LIMIT:
            return None
        pool = weight_base + n_weights
        buckets = [_Bucket(members, rounds, pool, n_weights)
                   for members in cut]
        reads_weights = any(source[0] == 'weight' for _, _, columns in tables
                            for source in columns)
        return cls(buckets, count, first, np.concatenate(arrays), gates,
                   n_weights, reads_weights)

    def to(self, device: torch.device | str) -> "PaddedBatch":
        """Move the index tensors and tables to ``device``; in place."""
        device = torch.device(device)
        if device != self.device:
            self.device = device
            for bucket in self.buckets:
                bucket.to(device)
            self.place = self.place.to(device)
            self._materialise()
        return self

    @property
    def pure(self) -> bool:
        """Whether the read-out is of probabilities of pure states."""
        return self.reference.quantum and not self.reference.mixed

    def __call__(self, weights: torch.Tensor,
                 positions: torch.Tensor | None = None,
                 classes: int | None = None) -> torch.Tensor:
        """Read-out of the diagrams at ``positions`` of the batch (all by
        default), in that order; with ``classes``, the probabilities of
        :func:`~qnlp.engine.plan.class_probabilities` (for pure circuits
        computed inside the autograd node)."""
        if self.dtype != self.reference.dtype:   # the model changed type
            self.dtype = self.reference.dtype
            self._materialise()
        if classes is not None and self.pure and self.dtype.is_complex:
            check_classes(self.buckets[0].out, classes)
            return _Evaluate.apply(weights, self, positions, classes)
        result = _Evaluate.apply(weights, self, positions, None)
        plan = self.reference
        if not plan.quantum:
            result = result[..., 0].reshape(-1, *plan.output_shape)
        elif plan.mixed:
            result = read_out(result, plan.output_shape, plan.mixed)
        else:
            result = result.reshape(-1, *plan.output_shape)
        return result if classes is None else \
            class_probabilities(result, classes, plan.mixed)

    def forward(self, weights: torch.Tensor, positions: torch.Tensor | None,
                classes: int | None = None) -> tuple[torch.Tensor, tuple]:
        """Amplitudes ``[B, out, width]`` (pure circuits: probabilities
        ``[B, out]``, normalised as :func:`~qnlp.engine.plan.read_out`
        does; with ``classes``, the first ``classes`` of them normalised
        instead) without autograd, and what :meth:`backward` needs."""
        gates = self.gates
        # [cos, sin] [E, 1, 2] of every gate entry's phase, one polar
        turns = torch.view_as_real(torch.polar(
            gates.ones, weights.take(gates.reads) * gates.scales))
        parts = self._parts(positions)
        width = max(bucket.width for bucket, _, _ in parts)
        results, saved, pool = [], [], None
        for bucket, rows, _ in parts:
            index = bucket.reads(rows)
            views = bucket.buffers(self.table, index[-1].shape[0])
            if pool is None:   # the gates (and weights) after the table
                pool = views.pools[0]
                torch.baddbmm(gates.constant, turns, gates.rows,
                              out=views.gates[0])
                if self.reads_weights:
                    views.weights[0].copy_(weights)
            else:
                views.pools[0].copy_(pool)
            amplitudes, factors = bucket.forward(views, index)
            if bucket.width < width:
                amplitudes = torch.nn.functional.pad(
                    amplitudes, (0, width - bucket.width))
            results.append(amplitudes)
            saved.append((bucket, index, factors))
        amplitudes = torch.cat(results) if len(results) > 1 else results[0]
        order = None
        if len(parts) > 1:   # back to the order of ``positions``
            order = torch.cat([mine for _, _, mine in parts])
            where = torch.empty_like(order)
            where[order] = torch.arange(len(order), device=order.device)
            amplitudes = amplitudes[where]
        total = None
        if self.pure and amplitudes.is_complex():   # probabilities
            result = torch.view_as_real(amplitudes).square().sum((-2, -1))
            if classes is not None and classes < result.shape[1]:
                result = result[:, :classes].contiguous()
            total = result.sum(dim=1, keepdim=True)
            zero = total == 0
            total.masked_fill_(zero, 1.0)   # all zero: stays zero
            result /= total
            if classes is not None:   # no distribution: the uniform one
                result = uniform_where_zero(result, zero)
        else:
            result = amplitudes
        return result, (weights.shape[0], turns, amplitudes, order, saved,
                        total)

    def _parts(self, positions: torch.Tensor | None) -> list[tuple]:
        """The buckets the diagrams at ``positions`` (all by default)
        are in, each with their rows there and (for several buckets)
        their places in ``positions``."""
        if len(self.buckets) == 1:
            return [(self.buckets[0], positions, None)]
        if positions is None:
            positions = torch.arange(self.size, device=self.device)
        bucket_of, row_of = self.place[:, positions]
        parts = []
        for b, bucket in enumerate(self.buckets):
            mine = torch.nonzero(bucket_of == b).view(-1)
            if len(mine):
                parts.append((bucket, row_of[mine], mine))
        return parts

    def backward(self, grad: torch.Tensor, saved: tuple,
                 result: torch.Tensor) -> torch.Tensor:
        """The weights' gradient from ``grad``, that of :meth:`forward`'s
        ``result``, in torch's convention (see :meth:`_Bucket.backward`)."""
        n_weights, turns, amplitudes, order, buckets, total = saved
        # p = |a|^2 / total: d|a|^2, then 2 conj(a); the factor 2 (exact)
        # is applied to the weights' gradient at the end (no op of its own)
        factor = 1.0
        if total is not None:
            grad = (grad - (grad * result).sum(1, keepdim=True)
                    ) / total
            if grad.shape[1] < amplitudes.shape[1]:   # outcomes past classes
                grad = torch.nn.functional.pad(
                    grad, (0, amplitudes.shape[1] - grad.shape[1]))
            grad, factor = (grad.unsqueeze(-1) * amplitudes
                            ).conj_physical_(), 2.0
        else:
            grad = grad.conj().resolve_conj() if grad.is_complex() else grad
        if order is not None:
            grad = grad[order]
        first = 0
        for bucket, index, factors in buckets:
            n = index[-1].shape[0]
            mine = grad if len(buckets) == 1 else \
                grad[first:first + n, :, :bucket.width]
            views = bucket.backward(mine, index, factors, self.table)
            if len(buckets) == 1:   # the gradients of the gates, weights
                gates, weights = views.gates[1], views.weights[1]
            else:
                pool = views.pool if first == 0 else pool + views.pool
            first += n
        if len(buckets) > 1:
            start, end = self.table.shape[0], pool.shape[0] - n_weights
            gates, weights = _real_rows(pool[start:end]), _real(pool[end:])
        phase = torch.bmm(torch.bmm(gates, self.gates.slopes), turns.mT)
        result = torch.mul(weights, factor) if self.reads_weights else \
            turns.new_zeros(n_weights)
        return result.index_add_(0, self.gates.columns, phase.view(-1),
                                 alpha=factor)


def _entries(members: list, rounds: int) -> int:
    """Index entries per diagram of a bucket of ``members`` (as
    :meth:`_Bucket.padded` counts them), from their statistics."""
    stats = [_stats(program, rounds) for program, _, _ in members]
    total = 0
    for r in range(rounds):
        i, k, j = (max(s.shapes[r][d] for s in stats) for d in range(3))
        total += max(s.matrices[r] for s in stats) * (k * (i + j) + i * j)
    first = members[0][0]
    return total + first.final_index.size // first.traced_size * max(
        program.traced_size for program, _, _ in members)


def _cut(tables: list, rounds: int) -> list[list]:
    """Diagrams (plan by plan) sorted by the entries they use, cut into
    buckets whose padded size stays below :data:`WASTE` times what their
    largest diagram uses."""
    order = sorted(tables, key=lambda t: _stats(t[0], rounds).used)
    buckets: list[list] = [[]]
    smallest = None
    for member in order:
        used = _stats(member[0], rounds).used
        if smallest is not None and used > WASTE * smallest:
            buckets.append([])
            smallest = None
        if smallest is None:
            smallest = used
        buckets[-1].append(member)
    return buckets
