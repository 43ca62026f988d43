"""Closed-form evaluation of diagonal-ansatz circuits.

A circuit made by :class:`~qnlp.compiler.ansatz.DiagonalAnsatz` is a
weighted GHZ state per word, ``cos a|0..0> - sin a|1..1>`` with
``a = pi (1/4 + theta)``, joined by the grammar's cups. Every CNOT
fan-out and every cup is a copy (Z) spider, and spiders joined by wires
fuse into one: the whole sentence is one spider whose legs are the
words' ``Ry`` states and the sentence wire. So outcome ``c`` has
amplitude ``prod_w <c|Ry(a_w)|0>`` and probability proportional to
``prod_w cos(a_w)**2`` (``c = 0``) or ``prod_w sin(a_w)**2`` (``c = 1``),
whatever the grammar. :class:`ProductBatch` keeps, per circuit, which
weights its ``Ry`` gates read; :func:`product_probabilities` sums their
log-factors and normalises, in time linear in the words, where the
general contraction of the same circuit has to search a path over
every gate (tests check both agree).

>>> import torch
>>> from qnlp.compiler import make_ansatz, to_circuit
>>> from qnlp.compiler.ansatz import DiagonalAnsatz
>>> from qnlp.engine import Engine
>>> from qnlp.parsing import parse
>>> circuit = to_circuit(parse('woman cooks meal'), make_ansatz('diagonal'))
>>> engine = Engine.from_diagrams([circuit])
>>> weights = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64)
>>> batch = ProductBatch.of(engine, [circuit], DiagonalAnsatz.OFFSET)
>>> closed = product_probabilities(weights, batch)
>>> general = engine(weights, [circuit])
>>> bool(torch.allclose(closed, general / general.sum(1, keepdim=True)))
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from lambeq.backend.quantum import Ry

from qnlp.engine.plan import uniform_where_zero
from qnlp.errors import CompileError


@dataclass
class ProductBatch:
    """Circuits of the diagonal ansatz, as the weight index of each of
    their trained ``Ry`` gates (a word used twice counts twice), padded
    with ``-1``; ``offset`` is the ansatz's fixed rotation before each
    trained one (turns)."""
    indices: torch.Tensor    # [B, L] long
    offset: float

    @classmethod
    def of(cls, engine: Any, circuits: Sequence[Any],
           offset: float) -> "ProductBatch":
        """Read the trained gates of ``circuits`` against ``engine``'s
        symbols (an unknown symbol is the engine's UnknownSymbolError)."""
        rows = [[_weight_index(engine, box) for box in circuit.boxes
                 if box.free_symbols]
                for circuit in circuits]
        width = max((len(row) for row in rows), default=0)
        indices = torch.full((len(rows), width), -1, dtype=torch.long)
        for position, row in enumerate(rows):
            indices[position, :len(row)] = torch.tensor(row, dtype=torch.long)
        return cls(indices.to(engine.device), offset)

    def __len__(self) -> int:
        return self.indices.shape[0]

    def select(self, index: Sequence[int]) -> "ProductBatch":
        """The circuits at positions ``index``, as a batch (a minibatch
        of a batch prepared once)."""
        return ProductBatch(self.indices[torch.as_tensor(
            list(index), dtype=torch.long, device=self.indices.device)],
            self.offset)

    def to(self, device: torch.device | str) -> "ProductBatch":
        """This batch with its indices on ``device``."""
        return ProductBatch(self.indices.to(device), self.offset)


def _weight_index(engine: Any, box: Any) -> int:
    (symbol,) = box.free_symbols
    if not isinstance(box, Ry) or box.data != symbol:
        raise CompileError(f"box {box} is not a trained Ry gate of the "
                           "diagonal ansatz")
    where = engine.symbol_slice(symbol)
    return where.start


def product_probabilities(weights: torch.Tensor,
                          batch: ProductBatch) -> torch.Tensor:
    """``[B, 2]`` class probabilities of the circuits of ``batch`` with
    flat ``weights``: the normalised products of ``cos**2`` / ``sin**2``
    of ``pi (1/4 + theta)``, summed as logarithms (no underflow however
    long the sentence). A sentence both of whose products are zero gets
    the uniform distribution and a warning, as the general contraction
    does (:func:`~qnlp.engine.plan.uniform_where_zero`)."""
    angles = torch.pi * (weights + batch.offset)
    factors = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    logs = 2 * torch.log(factors.abs())
    # Padding reads a row of zeros (a factor of 1 for both classes).
    logs = torch.cat([logs, logs.new_zeros(1, 2)])
    indices = batch.to(weights.device).indices
    totals = logs[torch.where(indices >= 0, indices, logs.shape[0] - 1)
                  ].sum(dim=1)
    impossible = torch.isinf(totals).all(dim=1, keepdim=True)
    totals = torch.where(impossible, torch.zeros_like(totals), totals)
    return uniform_where_zero(torch.softmax(totals, dim=1), impossible)
