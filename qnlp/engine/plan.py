"""A compiled contraction plan for one circuit shape, evaluated in batch.

:func:`compile_plan` takes a :class:`~qnlp.engine.network.Network`,
folds its constant tensors together where that does not grow them, picks
a pairwise contraction order with opt_einsum, and returns a :class:`Plan`.
Calling the plan with a ``[B, E]`` tensor of slot values (one row per
diagram of this shape) builds every parametrised tensor for the whole
batch in a few vectorised operations and contracts the network once,
with the batch as an extra index.

>>> import torch
>>> from lambeq.backend.quantum import Ket, Rx, Bra
>>> from lambeq.backend.symbol import Symbol
>>> from qnlp.engine.network import build_network
>>> plan = compile_plan(build_network(Ket(0) >> Rx(Symbol('a'))))
>>> plan(torch.tensor([[0.0], [0.5]], dtype=torch.float64)).round(decimals=6)
tensor([[1., 0.],
        [0., 1.]], dtype=torch.float64)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import opt_einsum
import torch

from qnlp.engine.device import (Device, complex_dtype, real_dtype,
                                resolve_device, resolve_dtype)
from qnlp.engine.network import Network, Operand
from qnlp.errors import ConfigError

#: Batch size assumed when choosing the contraction order.
_BATCH_HINT = 32
_BATCH = "BATCH"  # label of the batch axis inside the planner
#: Whether :func:`compile_plan` contracts constants into gates
#: (:func:`_fold_into_gates`; off only to test against).
FOLD_GATES = True


def _fold_constants(operands: list[Operand], keep: set[int]) -> list[Operand]:
    """Contract pairs of constant operands while that does not grow them.

    ``keep`` holds labels that must survive (outputs and traced wires).
    Each constant is merged with its neighbours (constants sharing a label,
    or scalars) until no merge keeps the size; a pair that grew once is
    not retried, since the labels it shares with the rest do not change
    until one of the two is merged with something else.
    """
    ops: list[Operand | None] = list(operands)
    holders: dict[int, set[int]] = {}  # label -> positions holding it
    for position, op in enumerate(ops):
        for label in set(op.labels):
            holders.setdefault(label, set()).add(position)
    grew: set[tuple[int, int]] = set()
    tried: list[Operand] = []  # keeps the ids in ``grew`` from being reused

    def neighbours(i: int) -> list[int]:
        op = ops[i]
        found = {k for w in op.labels for k in holders[w]}
        found |= {k for k, o in enumerate(ops) if o is not None
                  and o.is_constant and (not o.labels or not op.labels)}
        return sorted(k for k in found - {i} if ops[k].is_constant)

    for i in range(len(ops)):
        while ops[i] is not None and ops[i].is_constant:
            for j in neighbours(i):
                a, b = ops[i], ops[j]
                if (id(a), id(b)) in grew:
                    continue
                merged = _contract_constants(a, b, holders, {i, j}, keep)
                if merged.array.size > max(a.array.size, b.array.size):
                    grew.add((id(a), id(b)))
                    tried += (a, b)
                    continue
                for label in set(a.labels) | set(b.labels):
                    holders[label] -= {i, j}
                for label in set(merged.labels):
                    holders[label].add(i)
                ops[i], ops[j] = merged, None
                break
            else:
                break
    return [op for op in ops if op is not None]


def _fold_into_gates(operands: list[Operand], keep: set[int]
                     ) -> list[Operand]:
    """Contract each constant operand into a neighbouring gate while that
    does not grow the gate: a gate is ``C0 + cos C1 + sin C2`` of one
    weight, linear in its coefficients, so a constant times it is a gate
    of the same weight with coefficients ``K C0, K C1, K C2``. A word's
    kets, bras and unparametrised gates then join its parametrised ones
    once, when the plan is compiled, instead of in every evaluation
    (fewer tensors, fewer contraction rounds).

    >>> from qnlp.engine.network import build_network
    >>> from lambeq.backend.quantum import Ket, Rx, H
    >>> from lambeq.backend.symbol import Symbol
    >>> network = build_network(Ket(0) >> H >> Rx(Symbol('a')))
    >>> folded = _fold_into_gates(_fold_constants(network.operands, set(
    ...     network.outputs)), set(network.outputs))
    >>> [(op.is_constant, op.coefficients.shape) for op in folded]
    [(False, (3, 2))]
    """
    ops: list[Operand | None] = list(operands)
    holders: dict[int, set[int]] = {}
    for position, op in enumerate(ops):
        for label in set(op.labels):
            holders.setdefault(label, set()).add(position)
    for i, constant in enumerate(ops):
        if constant is None or not constant.is_constant:
            continue
        near = {k for w in constant.labels for k in holders[w]} if \
            constant.labels else set(range(len(ops)))
        for j in sorted(near - {i}):
            gate = ops[j]
            if gate is None or gate.coefficients is None:
                continue
            parts = [_contract_constants(constant, Operand(
                gate.labels, coefficient), holders, {i, j}, keep)
                for coefficient in gate.coefficients]
            if parts[0].array.size > gate.coefficients[0].size:
                continue
            for label in set(constant.labels) | set(gate.labels):
                holders[label] -= {i, j}
            for label in set(parts[0].labels):
                holders[label].add(j)
            ops[i] = None
            ops[j] = Operand(parts[0].labels, slot=gate.slot,
                             coefficients=np.stack([
                                 part.array for part in parts]))
            break
    return [op for op in ops if op is not None]


def _contract_constants(a: Operand, b: Operand, holders: dict[int, set[int]],
                        pair: set[int], keep: set[int]) -> Operand:
    """``a`` and ``b`` contracted over the labels no other operand holds."""
    out: list[int] = []
    for w in a.labels + b.labels:
        if w not in out and (w in keep or holders[w] - pair):
            out.append(w)
    symbols = {w: opt_einsum.get_symbol(k)
               for k, w in enumerate(dict.fromkeys(a.labels + b.labels))}
    spec = (''.join(symbols[w] for w in a.labels) + ','
            + ''.join(symbols[w] for w in b.labels) + '->'
            + ''.join(symbols[w] for w in out))
    return Operand(out, np.einsum(spec, a.array, b.array))


@dataclass
class _Step:
    """One pairwise contraction: which tensors (by creation number), how.

    When the pair is a plain batched matrix product (every shared label
    summed, except the batch) it runs as permute, reshape and ``matmul``,
    which costs far less per call than ``torch.einsum``; otherwise it runs
    ``equation`` through einsum.
    """
    first: int
    second: int
    equation: str
    matmul: tuple | None = None

    def run(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.matmul is None:
            return torch.einsum(self.equation, a, b)
        perm_a, shape_a, perm_b, shape_b, shape_out = self.matmul
        left = (a if perm_a is None else a.permute(perm_a)).reshape(shape_a)
        right = (b if perm_b is None else b.permute(perm_b)).reshape(shape_b)
        return torch.matmul(left, right).reshape(shape_out)


def _as_matmul(a: str, b: str, needed: set[str], batch: str,
               size: dict[str, int]) -> tuple[str, tuple | None]:
    """The output term and matmul recipe for contracting ``a`` with ``b``.

    Returns ``(out, None)`` when the pair is not a batched matrix product.
    """
    plain = len(set(a)) == len(a) and len(set(b)) == len(b)
    shared = (set(a) & set(b)) - {batch}
    free_a = [c for c in a if c not in b and c != batch]
    free_b = [c for c in b if c not in a and c != batch]
    if not plain or any(c in needed for c in shared) or any(
            c not in needed for c in free_a + free_b):
        out = ''.join(dict.fromkeys(c for c in a + b if c in needed))
        if batch in a + b and batch not in out:
            out = batch + out
        return out, None
    summed = sorted(shared)
    lead = [batch] if batch in a + b else []
    out = ''.join(lead + free_a + free_b)

    def prod(chars):
        total = 1
        for c in chars:
            total *= size[c]
        return total

    def layout(term, first, second):
        order = ([batch] if batch in term else []) + first + second
        perm = tuple(term.index(c) for c in order)
        if perm == tuple(range(len(perm))):
            perm = None  # already in order: no permute call
        shape = (([-1] if batch in term else [])
                 + [prod(first), prod(second)])
        return perm, tuple(shape)

    perm_a, shape_a = layout(a, free_a, summed)
    perm_b, shape_b = layout(b, summed, free_b)
    shape_out = tuple(([-1] if lead else [])
                      + [size[c] for c in free_a + free_b])
    return out, (perm_a, shape_a, perm_b, shape_b, shape_out)


class Plan:
    """Batched evaluation of every diagram of one shape.

    Call it with ``values`` of shape ``[B, E]``: for each slot, its
    columns (one for a gate, ``size`` for a tensor box) as laid out by
    :attr:`slot_columns`. It returns ``[B, *output_shape]``: normalised
    probabilities for a pure quantum circuit, the normalised absolute
    density matrix for a mixed one (as lambeq's models do), and the raw
    contraction for a tensor diagram.
    """

    def __init__(self, network: Network, operands: list[Operand],
                 dtype: torch.dtype = torch.float64,
                 device: Device = None) -> None:
        self.network = network
        self.quantum = network.quantum
        self.mixed = network.mixed
        self.output_shape = network.output_shape
        dtype = resolve_dtype(real_dtype(dtype))
        self.real_dtype = dtype
        has_complex = any(op.is_constant and np.iscomplexobj(op.array)
                          for op in operands)
        self.dtype = (complex_dtype(dtype) if network.quantum or has_complex
                      else dtype)

        slot_sizes = [s.size for s in network.slots]
        starts = np.concatenate([[0], np.cumsum(slot_sizes)]).astype(int)
        self.slot_columns = [(int(starts[i]), int(starts[i + 1]))
                             for i in range(len(slot_sizes))]
        self.n_columns = int(starts[-1])
        #: Per slot, the positions of its values inside its symbol's block.
        self.slot_local_indices: list[np.ndarray] = [
            np.zeros(1, dtype=np.int64)] * len(slot_sizes)
        for op in operands:
            if op.index_map is not None:
                self.slot_local_indices[op.slot] = op.index_map.reshape(-1)

        self.n_operands = len(operands)
        #: The folded operands (read by :mod:`qnlp.engine.merge`).
        self.operands = operands
        #: Sources of the constant tensors (numpy, kept so that a move to
        #: another dtype rebuilds them exactly, never from a rounded copy).
        self._constant_arrays: list[tuple[int, np.ndarray]] = []
        gate_groups: dict[tuple, list[int]] = {}
        #: (operand position, first column, last column + 1, tensor shape)
        self._weights: list[tuple[int, int, int, tuple[int, ...]]] = []
        for position, op in enumerate(operands):
            if op.is_constant:
                self._constant_arrays.append((position, op.array))
            elif op.coefficients is not None:
                shape = op.coefficients.shape[1:]
                gate_groups.setdefault(shape, []).append(position)
            else:
                start, stop = self.slot_columns[op.slot]
                self._weights.append((position, start, stop,
                                      tuple(op.index_map.shape)))

        #: Gate groups, one per tensor shape: (operand positions, value
        #: columns, scales in radians per turn, coefficients (3, k,
        #: *shape)), built by :func:`rotations` here and in
        #: :mod:`qnlp.engine.merge`.
        self.gate_arrays = []
        for shape, positions in gate_groups.items():
            coeff = np.stack([operands[p].coefficients for p in positions],
                             axis=1)  # (3, k, *shape)
            columns = [self.slot_columns[operands[p].slot][0]
                       for p in positions]
            scales = [network.slots[operands[p].slot].scale * math.pi
                      for p in positions]
            self.gate_arrays.append((positions, columns, scales, coeff))
        self.device = torch.device('cpu')
        self._materialise(resolve_device(device))
        # Weight index maps are applied by the engine's gather, so the
        # columns of a tensor box arrive already in the box's axis order.
        self._steps, self._result_equation = self._plan_contraction(operands)

    def _materialise(self, device: torch.device) -> None:
        """(Re)build the constant tensors on ``device`` in ``self.dtype``."""
        self.device = device
        self.constants: list[tuple[int, torch.Tensor]] = [
            (position, torch.as_tensor(array, dtype=self.dtype,
                                       device=device))
            for position, array in self._constant_arrays]
        self._gate_groups = [
            (positions,
             torch.tensor(columns, dtype=torch.long, device=device),
             torch.tensor(scales, dtype=self.real_dtype, device=device),
             torch.as_tensor(coeff, dtype=self.dtype, device=device))
            for positions, columns, scales, coeff in self.gate_arrays]

    # -- planning ------------------------------------------------------
    def _plan_contraction(self, operands: list[Operand]):
        network = self.network
        batched = [not op.is_constant for op in operands]
        letters: dict[object, str] = {}

        def letter(label: object) -> str:
            if label not in letters:
                letters[label] = opt_einsum.get_symbol(len(letters))
            return letters[label]

        batch = letter(_BATCH)
        #: Whether any tensor carries the batch axis; a diagram without
        #: parameters folds to constants, broadcast over the batch later.
        self.batched = any(batched)
        terms = []
        shapes = []
        for op, has_batch in zip(operands, batched):
            term = ''.join(letter(w) for w in op.labels)
            shape = [network.dims[w] for w in op.labels]
            if has_batch:
                term, shape = batch + term, [_BATCH_HINT] + shape
            terms.append(term)
            shapes.append(tuple(shape))
        final = batch * self.batched + ''.join(
            letter(w) for w in network.outputs + network.traced)
        if not operands:
            raise ValueError("empty network")
        equation = ','.join(terms) + '->' + final
        if len(operands) == 1:
            return [], f"{terms[0]}->{final}"
        optimize = 'optimal' if len(operands) <= 7 else (
            'dp' if len(operands) <= 24 else 'greedy')
        path, _ = opt_einsum.contract_path(equation, *shapes, shapes=True,
                                           optimize=optimize)
        size = {letters[w]: d for w, d in network.dims.items()
                if w in letters}
        steps: list[_Step] = []
        work = list(terms)
        # Steps address tensors by creation number (operands first, then
        # each step's result), so evaluation appends instead of rebuilding
        # the working list.
        created = list(range(len(terms)))
        for pair in path:
            i, j = sorted(pair)
            a, b = work[i], work[j]
            rest = [t for k, t in enumerate(work) if k not in (i, j)]
            needed = set(final).union(*rest) if rest else set(final)
            out, recipe = _as_matmul(a, b, needed, batch, size)
            steps.append(_Step(created[i], created[j],
                               _local_letters(f"{a},{b}->{out}"), recipe))
            created = [c for k, c in enumerate(created) if k not in (i, j)]
            created.append(len(terms) + len(steps) - 1)
            work = rest + [out]
        return steps, _local_letters(f"{work[0]}->{final}")

    # -- evaluation ----------------------------------------------------
    def build_operands(self, values: torch.Tensor) -> list[torch.Tensor]:
        """The network's tensors for a batch of slot values ``[B, E]``."""
        batch = values.shape[0]
        tensors: list[torch.Tensor | None] = [None] * self.n_operands
        for position, constant in self.constants:
            tensors[position] = constant
        for positions, columns, scales, coeff in self._gate_groups:
            gates = rotations(values[:, columns] * scales, coeff)
            for position, gate in zip(positions, gates.unbind(1)):
                tensors[position] = gate
        for position, start, stop, shape in self._weights:
            tensors[position] = values[:, start:stop].reshape(
                batch, *shape).to(self.dtype)
        return tensors  # type: ignore[return-value]

    def contract(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """Contract the network; returns ``[B, *outputs, *traced]``."""
        work: list[torch.Tensor | None] = list(tensors)
        for step in self._steps:
            a, b = work[step.first], work[step.second]
            work[step.first] = work[step.second] = None  # free early
            work.append(step.run(a, b))
        result = work[-1]
        source, target = self._result_equation.split('->')
        if source != target:
            result = torch.einsum(self._result_equation, result)
        return result

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        values = values.to(self.real_dtype)
        result = self.contract(self.build_operands(values))
        if not self.batched:
            result = result.expand(values.shape[0], *result.shape)
        if not self.quantum:
            return result
        return self._read_out(result)

    def _read_out(self, amplitudes: torch.Tensor) -> torch.Tensor:
        out_size = int(np.prod(self.output_shape, dtype=int))
        return read_out(amplitudes.reshape(amplitudes.shape[0], out_size, -1),
                        self.output_shape, self.mixed)

    def to(self, device: Device = None,
           dtype: torch.dtype | None = None) -> "Plan":
        """Move the plan to ``device`` and/or the real type ``dtype``
        (amplitudes follow in the matching complex type); in place."""
        if dtype is not None:
            dtype = resolve_dtype(real_dtype(dtype))
            self.dtype = (complex_dtype(dtype) if self.dtype.is_complex
                          else dtype)
            self.real_dtype = dtype
        self._materialise(self.device if device is None
                          else torch.device(device))
        return self


def rotations(phases: torch.Tensor, coefficients: torch.Tensor
              ) -> torch.Tensor:
    """Gates ``C0 + cos(phase) C1 + sin(phase) C2`` for every phase, the
    one gate builder of the engine: ``coefficients`` is ``(3, k, *gate)``
    and ``phases`` ``[..., k]``; returns ``[..., k, *gate]``.

    >>> c = torch.tensor([[[0., 0.]], [[1., 0.]], [[0., 1.]]])  # (3, 1, 2)
    >>> rotations(torch.tensor([[0.0], [math.pi / 2]]), c).round().abs()
    tensor([[[1., 0.]],
    <BLANKLINE>
            [[0., 1.]]])
    """
    extra = (1,) * (coefficients.dim() - 2)
    cos = torch.cos(phases).view(*phases.shape, *extra)
    sin = torch.sin(phases).view(*phases.shape, *extra)
    return coefficients[0] + cos * coefficients[1] + sin * coefficients[2]


def read_out(flat: torch.Tensor, output_shape: tuple[int, ...],
             mixed: bool) -> torch.Tensor:
    """Normalised probabilities (or, if ``mixed``, the normalised absolute
    density matrix) of amplitudes ``flat`` of shape ``[B, outputs,
    traced]``, shaped ``[B, *output_shape]`` (twice for a density)."""
    batch = flat.shape[0]
    if mixed:
        rho = torch.einsum('bot,bpt->bop', flat, flat.conj()).abs()
        result = rho.reshape(batch, *output_shape, *output_shape)
    else:
        result = torch.view_as_real(flat).square().sum((-2, -1)).reshape(
            batch, *output_shape)
    dims = tuple(range(1, result.dim()))
    if not dims:
        return result.abs()
    # Exactly: post-selecting many qubits (long sentences) leaves norms
    # far below any fixed floor; only a zero norm stays zero (lambeq's
    # output too; class read-outs make it uniform: uniform_where_zero).
    total = result.sum(dim=dims, keepdim=True)
    return result / torch.where(total > 0, total, torch.ones_like(total))


def class_probabilities(outputs: torch.Tensor | list, classes: int,
                        mixed: bool = False) -> torch.Tensor:
    """Probabilities of ``classes`` classes from an engine's read-out
    ``outputs`` (``[B, ...]``, flattened per diagram; if ``mixed``, the
    density matrices ``[B, *shape, *shape]`` of :func:`read_out`, whose
    outcomes are their diagonals): its first ``classes`` outcomes,
    normalised to sum 1 (exactly: post-selection
    leaves long sentences tiny norms, a tensor ansatz raw contractions).
    A row that sums to zero (a post-selection of probability zero) has
    no distribution: it becomes the uniform one, with a warning
    (:func:`uniform_where_zero`). A :class:`~qnlp.errors.ConfigError`
    when the outputs differ in shape or have fewer entries.

    >>> class_probabilities(torch.tensor([[1.0, 3.0, 4.0]]), 2)
    tensor([[0.2500, 0.7500]])
    >>> class_probabilities(torch.tensor([[[0.3, 0.2], [0.2, 0.1]]]), 2,
    ...                     mixed=True)
    tensor([[0.7500, 0.2500]])
    """
    if isinstance(outputs, list):
        raise ConfigError("circuits give outputs of different shapes; "
                          "are some sentences and some noun phrases?")
    flat = outputs.reshape(outputs.shape[0], -1)
    if mixed:
        side = math.isqrt(flat.shape[1])
        flat = flat.view(-1, side, side).diagonal(dim1=1, dim2=2)
    check_classes(flat.shape[1], classes)
    probs = flat[:, :classes]
    total = probs.sum(dim=1, keepdim=True)
    return uniform_where_zero(
        probs / torch.where(total > 0, total, torch.ones_like(total)),
        total == 0)


def uniform_where_zero(probabilities: torch.Tensor, zero: torch.Tensor
                       ) -> torch.Tensor:
    """``probabilities`` (``[B, C]``) with the rows where ``zero``
    (``[B, 1]``) is true replaced by the uniform distribution ``1 / C``,
    and a :class:`RuntimeWarning` if there is one: a post-selected
    outcome of probability zero leaves no distribution over the classes,
    and all zeros would read as a confident class 0 (``argmax``). The
    uniform rows are constants: their loss is finite (``log C``) and
    their gradient zero, never NaN.

    Only an exact zero is caught: a probability that is zero up to
    rounding (``Rx(x) >> Rx(-x) >> Bra(1)`` leaves about 1e-32) cannot be
    told from a genuinely tiny one (a sentence of 100 cups has about
    2^-100) and is normalised like one.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     uniform_where_zero(torch.tensor([[0.25, 0.75], [0.0, 0.0]]),
    ...                        torch.tensor([[False], [True]]))
    tensor([[0.2500, 0.7500],
            [0.5000, 0.5000]])
    """
    if not bool(zero.any()):
        return probabilities
    warnings.warn("a post-selected outcome has probability zero: its "
                  "circuit gives no class distribution and reads as the "
                  "uniform one", RuntimeWarning, stacklevel=3)
    return torch.where(zero, 1.0 / probabilities.shape[1], probabilities)


def check_classes(outcomes: int, classes: int) -> None:
    """A :class:`~qnlp.errors.ConfigError` unless a read-out of
    ``outcomes`` entries holds ``classes`` classes."""
    if outcomes < classes:
        qubits = math.ceil(math.log2(classes))
        raise ConfigError(f"{classes} classes need {qubits} qubits on the "
                          f"sentence wire; the circuits give {outcomes} "
                          "outcomes")


def _local_letters(equation: str) -> str:
    """Rename the labels of one equation to ``a-zA-Z`` (what torch takes)."""
    letters: dict[str, str] = {}
    renamed = []
    for char in equation:
        if char in ',->':
            renamed.append(char)
        else:
            if char not in letters:
                letters[char] = opt_einsum.get_symbol(len(letters))
            renamed.append(letters[char])
    return ''.join(renamed)


def compile_plan(network: Network, dtype: torch.dtype = torch.float64,
                 device: Device = None) -> Plan:
    """Fold constants, choose a contraction order, return a :class:`Plan`
    whose tensors live on ``device``."""
    keep = set(network.outputs) | set(network.traced)
    operands = _fold_constants(network.operands, keep)
    if FOLD_GATES:
        operands = _fold_into_gates(operands, keep)
    return Plan(network, operands, dtype, device)
