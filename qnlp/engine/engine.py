"""The simulation engine: symbols, cached plans, batched evaluation.

An :class:`Engine` owns the map from symbol names to positions in one
flat parameter vector, and a cache of compiled :class:`~qnlp.engine.plan.Plan`
objects keyed by circuit shape. Evaluating a batch groups the diagrams by
shape, gathers every diagram's parameters with one indexing operation per
shape, and runs each plan once for all of its diagrams.

>>> import torch
>>> from lambeq.backend.quantum import Ket, Rx, Bra
>>> from lambeq.backend.symbol import Symbol
>>> circuits = [Ket(0) >> Rx(Symbol(name)) for name in 'abc']
>>> engine = Engine.from_diagrams(circuits)
>>> engine.symbols
['a', 'b', 'c']
>>> weights = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
>>> engine(weights, circuits).round(decimals=6)
tensor([[1., 0.],
        [0., 1.],
        [1., 0.]], dtype=torch.float64)
>>> engine.n_plans  # three diagrams, one shape
1
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from qnlp.engine.device import Device, resolve_device, resolve_dtype
from qnlp.engine.merge import MergedBatch, Merger
from qnlp.engine.padded import PaddedBatch
from qnlp.engine.network import Slot, as_lambeq, build_network, shape_key
from qnlp.engine.plan import Plan, class_probabilities, compile_plan
from qnlp.errors import CompileError, ConfigError, UnknownSymbolError


@dataclass
class _Compiled:
    """One diagram: its plan and the flat indices of its slot values."""
    plan: Plan
    indices: np.ndarray


class PreparedBatch:
    """Diagrams grouped by plan, ready to evaluate many times.

    Build it once with :meth:`Engine.prepare` for data that is evaluated
    every epoch; :meth:`Engine.__call__` accepts it in place of diagrams,
    and :meth:`select` takes minibatches of it without compiling again.

    >>> from lambeq.backend.quantum import Ket, Rx, Ry
    >>> from lambeq.backend.symbol import Symbol
    >>> circuits = [Ket(0) >> gate(Symbol(name))
    ...             for gate, name in zip((Rx, Ry, Rx), 'abc')]
    >>> engine = Engine.from_diagrams(circuits)
    >>> weights = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    >>> part = engine.prepare(circuits).select([2, 1])
    >>> bool(torch.allclose(engine(weights, part),
    ...                  engine(weights, [circuits[2], circuits[1]])))
    True
    """

    def __init__(self, groups: list[tuple[Plan, torch.Tensor, torch.Tensor]]
                 | None, size: int, engine: "Engine", merge: bool | None,
                 source: tuple["PreparedBatch", torch.Tensor] | None = None
                 ) -> None:
        self._groups = groups
        self.size = size
        self._engine, self._merge = engine, merge
        self._merged: MergedBatch | None | bool = False   # False: not yet
        self._padded: PaddedBatch | None | bool = False   # False: not yet
        #: For a minibatch of a prepared batch: that batch and the
        #: positions taken from it (its groups are then built on demand).
        self._source = source

    @property
    def groups(self) -> list[tuple[Plan, torch.Tensor, torch.Tensor]]:
        """``(plan, positions, weight index rows)`` per circuit shape."""
        if self._groups is None:
            parent, index = self._source
            self._groups = parent._select_groups(index.cpu().numpy())
        return self._groups

    @property
    def order(self) -> torch.Tensor:
        """Inverse permutation of the groups' order back to input order."""
        if not hasattr(self, '_order'):
            groups = self.groups
            visit = torch.cat([positions.cpu() for _, positions, _ in groups]
                              ) if groups else torch.zeros(0,
                                                           dtype=torch.long)
            order = torch.empty_like(visit)
            order[visit] = torch.arange(len(visit))
            self._order = order.to(self.device)
        return self._order

    @property
    def device(self) -> torch.device:
        """Where the batch's index tensors live."""
        if self._source is not None:
            return self._source[1].device
        return self._groups[0][1].device if self._groups else \
            torch.device('cpu')

    def __len__(self) -> int:
        return self.size

    @property
    def merged(self) -> MergedBatch | None:
        """The same diagrams laid out to run across shapes, when that is
        expected to be faster (see :meth:`Engine.prepare`); laid out on
        first use."""
        if self._merged is False:
            self._merged = None if self._merge is False else \
                self._engine._merge(self.groups, bool(self._merge))
            if self._merged is not None:
                self._merged = self._merged.to(self.device)
        return self._merged

    @property
    def padded(self) -> tuple[PaddedBatch, torch.Tensor | None] | None:
        """The padded layout (:mod:`qnlp.engine.padded`) these diagrams
        run in, and their positions in it (``None``: all of it, in
        order); ``None`` when they run shape by shape or merged. A
        minibatch uses the layout of the batch it was selected from,
        built once."""
        if self._source is not None:
            parent, index = self._source
            found = parent.padded
            return None if found is None else (found[0], index)
        if self._padded is False:
            self._padded = None if self._merge is not None else \
                PaddedBatch.of(self.groups, self.size,
                               self._engine.n_weights)
            if self._padded is not None:
                self._padded.to(self.device)
        return None if self._padded is None else (self._padded, None)

    def select(self, index: Sequence[int]) -> "PreparedBatch":
        """The diagrams at positions ``index`` of this batch, as
        :meth:`Engine.prepare` would group them (same order of groups
        and rows), without compiling or looking them up again."""
        if self._source is not None:   # a minibatch of a minibatch
            parent, mine = self._source
            index = mine[torch.as_tensor(list(index), dtype=torch.long,
                                         device=mine.device)]
            return PreparedBatch(None, len(index), self._engine,
                                 self._merge, (parent, index))
        index = torch.as_tensor(list(index), dtype=torch.long,
                                device=self.device)
        return PreparedBatch(None, len(index), self._engine, self._merge,
                             (self, index))

    def _select_groups(self, index: np.ndarray) -> list:
        if not hasattr(self, '_place'):  # position -> (group, row)
            self._place = np.zeros((2, self.size), dtype=np.int64)
            for g, (_, positions, _) in enumerate(self.groups):
                at = positions.cpu().numpy()
                self._place[0, at], self._place[1, at] = g, np.arange(len(at))
        group, row = self._place[:, np.asarray(index, dtype=np.int64)]
        groups = []
        for g in dict.fromkeys(group.tolist()):
            plan, _, indices = self.groups[g]
            mine = np.flatnonzero(group == g)
            groups.append((plan, torch.from_numpy(mine).to(indices.device),
                           indices[torch.from_numpy(row[mine]).to(
                               indices.device)]))
        return groups

    def to(self, device: torch.device | str) -> "PreparedBatch":
        """This batch with its index tensors on ``device`` (itself if they
        are there already)."""
        device = torch.device(device)
        if self.device == device:
            return self
        if self._source is not None:
            parent, index = self._source
            return PreparedBatch(None, self.size, self._engine, self._merge,
                                 (parent.to(device), index.to(device)))
        moved = PreparedBatch([(plan, positions.to(device), indices.to(device))
                               for plan, positions, indices in self.groups],
                              self.size, self._engine, self._merge)
        if self._merged is not False:
            moved._merged = self._merged and self._merged.to(device)
        return moved


def collect_symbols(diagrams: Iterable[Any]) -> list[Any]:
    """Every free symbol of ``diagrams`` (lambeq ``Symbol`` objects, which
    carry their size), sorted by name."""
    return unique_symbols(symbol for diagram in diagrams
                          for symbol in diagram.free_symbols)


def unique_symbols(symbols: Iterable[Any]) -> list[Any]:
    """``symbols`` without repeated names, sorted by name (the first of
    each name is kept)."""
    found: dict[str, Any] = {}
    for symbol in symbols:
        found.setdefault(symbol.name, symbol)
    return [found[name] for name in sorted(found)]


class Engine:
    """Exact batched simulation of lambeq diagrams, differentiable in torch.

    Parameters
    ----------
    symbols:
        Parameter symbols (lambeq ``Symbol`` objects or names), laid out in
        this order in the flat weight vector; a tensor symbol of size ``k``
        takes ``k`` consecutive entries.
    input_symbols:
        Symbols whose values come per sample from the ``inputs`` argument
        (data-encoding angles) rather than from the shared weights.
    dtype:
        Real floating type; quantum amplitudes use the matching complex type.
    device:
        Where plans, index tables and results live (default the CPU); the
        weights passed to :meth:`__call__` must be on the same device.
    """

    def __init__(self, symbols: Iterable[Any] = (),
                 input_symbols: Iterable[Any] = (),
                 dtype: torch.dtype = torch.float64,
                 device: Device = None) -> None:
        self.dtype = resolve_dtype(dtype)
        self.device = resolve_device(device)
        self.symbols: list[str] = []
        self._offsets: dict[str, int] = {}
        self._sizes: dict[str, int] = {}
        self.n_weights = 0
        for symbol in symbols:
            self.add_symbol(symbol)
        self.input_symbols = [_name(s) for s in input_symbols]
        self._input_columns = {name: i
                               for i, name in enumerate(self.input_symbols)}
        self._plans: dict[tuple, Plan] = {}
        self._diagrams: dict[int, tuple[Any, _Compiled]] = {}
        self._mergers: dict[torch.dtype, Merger] = {}

    @classmethod
    def from_diagrams(cls, diagrams: Iterable[Any], **kwargs: Any) -> "Engine":
        """An engine over every symbol of ``diagrams`` (lambeq or DisCoPy
        diagrams), sorted by name."""
        return cls(collect_symbols(as_lambeq(d) for d in diagrams), **kwargs)

    def add_symbol(self, symbol: Any) -> None:
        """Append ``symbol`` to the weight layout (no-op if present)."""
        name = _name(symbol)
        if name in self._offsets:
            return
        size = int(getattr(symbol, "size", 1))
        self.symbols.append(name)
        self._offsets[name] = self.n_weights
        self._sizes[name] = size
        self.n_weights += size

    def __contains__(self, symbol: Any) -> bool:
        return _name(symbol) in self._offsets

    def symbol_slice(self, symbol: Any) -> slice:
        """Where ``symbol``'s values sit in the flat weight vector."""
        name = _name(symbol)
        if name not in self._offsets:
            raise UnknownSymbolError(name)
        start = self._offsets[name]
        return slice(start, start + self._sizes[name])

    @property
    def n_plans(self) -> int:
        """How many distinct circuit shapes have been compiled."""
        return len(self._plans)

    # -- compilation ---------------------------------------------------
    def compile(self, diagram: Any) -> _Compiled:
        """The plan and slot indices of ``diagram`` (cached by identity;
        a DisCoPy diagram is converted to lambeq once, here)."""
        cached = self._diagrams.get(id(diagram))
        if cached is not None and cached[0] is diagram:
            return cached[1]
        converted = as_lambeq(diagram)
        key, slots = shape_key(converted)
        plan = self._plans.get(key)
        if plan is None:
            plan = compile_plan(build_network(converted), self.dtype,
                                self.device)
            self._plans[key] = plan
        compiled = _Compiled(plan, self._indices(plan, slots))
        self._diagrams[id(diagram)] = (diagram, compiled)
        return compiled

    def _indices(self, plan: Plan, slots: Sequence[Slot]) -> np.ndarray:
        parts = []
        for slot, local in zip(slots, plan.slot_local_indices):
            if slot.symbol in self._offsets:
                size = self._sizes[slot.symbol]
                if size != slot.size:
                    raise CompileError(
                        f"symbol {slot.symbol!r} has size {slot.size} in "
                        f"the diagram but {size} in the engine")
                parts.append(self._offsets[slot.symbol] + local)
            elif slot.symbol in self._input_columns:
                parts.append(self.n_weights
                             + self._input_columns[slot.symbol] + local)
            else:
                raise UnknownSymbolError(slot.symbol)
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(parts).astype(np.int64)

    def prepare(self, diagrams: Sequence[Any],
                merge: bool | None = None) -> PreparedBatch:
        """Compile ``diagrams`` and group them by shape for evaluation.

        ``merge``: how diagrams of several shapes run: ``None`` (the
        default) padded to one layout (:mod:`qnlp.engine.padded`) where
        their outputs are of one kind, else merged when that is expected
        to be faster; ``True`` merged round by round
        (:mod:`qnlp.engine.merge`) whenever their outputs are of one
        kind; ``False`` shape by shape.
        """
        by_plan: dict[int, tuple[Plan, list[int], list[np.ndarray]]] = {}
        for position, diagram in enumerate(diagrams):
            compiled = self.compile(diagram)
            entry = by_plan.setdefault(id(compiled.plan),
                                       (compiled.plan, [], []))
            entry[1].append(position)
            entry[2].append(compiled.indices)
        groups = [(plan, torch.tensor(positions, dtype=torch.long),
                   torch.from_numpy(np.stack(rows)))
                  for plan, positions, rows in by_plan.values()]
        return PreparedBatch(groups, len(diagrams), self, merge
                             ).to(self.device)

    def _merge(self, groups: list[tuple[Plan, torch.Tensor, torch.Tensor]],
               force: bool) -> MergedBatch | None:
        """The batch laid out across shapes, or ``None`` when it cannot
        be merged (outputs of different kinds) or, unless ``force``, the
        per-shape path is expected to be faster."""
        plans = [plan for plan, _, _ in groups]
        first = plans[0] if plans else None
        if not plans or (len(plans) < 2 and not force) or any(
                (p.dtype, p.quantum, p.mixed, p.output_shape)
                != (first.dtype, first.quantum, first.mixed,
                    first.output_shape) for p in plans):
            return None
        merger = self._mergers.get(first.dtype)
        if merger is None:
            merger = self._mergers[first.dtype] = Merger(first.dtype,
                                                         self.device)
        programs = [merger.program(plan) for plan in plans]
        if any(program is None for program in programs):
            return None
        in_order: list = [None] * sum(len(p) for _, p, _ in groups)
        for g, (_, positions, _) in enumerate(groups):
            for row, position in enumerate(positions.tolist()):
                in_order[position] = (g, row)
        return merger.assemble(plans, [ix for _, _, ix in groups], in_order)

    # -- evaluation ----------------------------------------------------
    def __call__(self, weights: torch.Tensor,
                 diagrams: Sequence[Any] | PreparedBatch,
                 inputs: torch.Tensor | None = None,
                 classes: int | None = None
                 ) -> torch.Tensor | list[torch.Tensor]:
        """Evaluate every diagram with ``weights`` (and per-sample inputs).

        Returns a ``[B, ...]`` tensor when all outputs have one shape, in
        the order of ``diagrams``; otherwise a list of tensors. With
        ``classes``: ``[B, classes]`` probabilities, as
        :func:`~qnlp.engine.plan.class_probabilities` makes them from the
        outputs (padded pure circuits: inside their one autograd node).
        """
        batch = diagrams if isinstance(diagrams, PreparedBatch) else \
            self.prepare(diagrams)
        if weights.dim() != 1 or weights.shape[0] != self.n_weights:
            raise CompileError(f"expected a flat weight vector of "
                               f"{self.n_weights} entries, got shape "
                               f"{tuple(weights.shape)}")
        # A batch prepared before the model moved follows the weights.
        batch = batch.to(weights.device)
        padded = batch.padded if inputs is None and not \
            self.input_symbols else None
        if padded is not None:
            return padded[0](weights, padded[1], classes)
        outputs = self._evaluate(weights, batch, inputs)
        if classes is None:
            return outputs
        mixed = {plan.mixed for plan, _, _ in batch.groups}
        if len(mixed) > 1:
            raise ConfigError("circuits give outputs of different kinds; "
                              "are some mixed (with discarded wires) and "
                              "some pure?")
        return class_probabilities(outputs, classes, mixed == {True})

    def _evaluate(self, weights: torch.Tensor, batch: PreparedBatch,
                  inputs: torch.Tensor | None
                  ) -> torch.Tensor | list[torch.Tensor]:
        """:meth:`__call__` merged or shape by shape."""
        merged = batch.merged
        if merged is not None and inputs is None and (
                merged.merger is self._mergers.get(merged.reference.dtype)):
            return merged(weights)
        results = []
        for plan, positions, indices in batch.groups:
            values = self._gather(weights, indices, positions, inputs)
            results.append(plan(values))
        shapes = {r.shape[1:] for r in results}
        if len(shapes) == 1:
            return torch.cat(results)[batch.order]
        flat = [row for result in results for row in result]
        return [flat[i] for i in batch.order.tolist()]

    def _gather(self, weights: torch.Tensor, indices: torch.Tensor,
                positions: torch.Tensor,
                inputs: torch.Tensor | None) -> torch.Tensor:
        if inputs is None:
            if self.input_symbols:
                raise CompileError("these diagrams take per-sample inputs "
                                   f"{self.input_symbols}: pass inputs=")
            return weights[indices]
        rows = inputs[positions.to(inputs.device)]
        table = torch.cat([weights.unsqueeze(0).expand(rows.shape[0], -1),
                           rows.to(weights.dtype)], dim=1)
        return table.gather(1, indices)

    def to(self, device: Device = None,
           dtype: torch.dtype | None = None) -> "Engine":
        """Move every compiled plan (and later ones) to ``device`` and/or
        the real type ``dtype``; in place, returns the engine."""
        if device is not None:
            self.device = torch.device(device)
        if dtype is not None:
            self.dtype = resolve_dtype(dtype)
        for plan in self._plans.values():
            plan.to(self.device, self.dtype)
        for merger in self._mergers.values():  # one per amplitude type
            merger.move(self.device)
        return self


def _name(symbol: Any) -> str:
    return symbol if isinstance(symbol, str) else symbol.name
