"""Read a lambeq diagram as a tensor network with parameter slots.

A lambeq quantum or tensor diagram is walked layer by layer. Every box
becomes an *operand* (a tensor with integer wire labels); swaps, cups,
caps and spiders only relabel wires; discards and mixed states become
*traced* labels (summed in ``amp * conj(amp)``, which is what a discard
means for a circuit whose discarded wire is never touched again).

Symbolic boxes become *slots*: a quantum gate ``U(p)`` is stored as the
three constant tensors ``C0, C1, C2`` with ``U(p) = C0 + cos(pi p) C1 +
sin(pi p) C2`` (true of every lambeq rotation and controlled rotation),
and a tensor box as an integer map into the flat weights of its symbol.

The *shape key* of a diagram describes everything but the symbol names,
so diagrams that differ only in their words share one compiled plan.

>>> from lambeq.backend.quantum import Ket, Rx, Bra
>>> from lambeq.backend.symbol import Symbol
>>> circuit = Ket(0) >> Rx(Symbol('a')) >> Bra(0)
>>> net = build_network(circuit)
>>> [slot.symbol for slot in net.slots], len(net.operands), net.quantum
(['a'], 3, True)
>>> shape_key(circuit)[0] == shape_key(Ket(0) >> Rx(Symbol('b')) >> Bra(0))[0]
True
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
from lambeq.backend import quantum, tensor
from lambeq.backend.numerical_backend import backend
from lambeq.backend.symbol import Symbol

from qnlp.errors import CompileError

#: Phases at which a gate is sampled to recover its C0, C1, C2 (and to check).
_PROBE_PHASES = (0.0, 0.5, 1.0, 0.25)


@dataclass(frozen=True)
class Slot:
    """One symbolic box: which symbol feeds it, with what scale.

    ``kind`` is ``"gate"`` (one angle, in turns as in lambeq) or
    ``"weight"`` (a whole tensor of ``size`` entries).
    """
    symbol: str
    scale: float
    kind: str
    size: int


@dataclass
class Operand:
    """A tensor of the network and the wire labels of its axes."""
    labels: list[int]
    array: np.ndarray | None = None
    slot: int | None = None
    coefficients: np.ndarray | None = None   # gate: (3, *dims) for C0,C1,C2
    index_map: np.ndarray | None = None      # weight: flat positions

    @property
    def is_constant(self) -> bool:
        return self.slot is None


@dataclass
class Network:
    """A diagram as a tensor network, ready for planning."""
    operands: list[Operand]
    outputs: list[int]
    traced: list[int]
    dims: dict[int, int]
    slots: list[Slot]
    quantum: bool
    mixed: bool
    output_shape: tuple[int, ...] = field(default=())


def walk(diagram: Any) -> Iterator[tuple[int, Any]]:
    """Yield ``(offset, box)`` for every box, decomposing compound gates.

    The offset is the number of wires to the left of the box, the same
    convention lambeq's ``to_tn`` uses.
    """
    for layer in diagram.layers:
        left, box, _ = layer.unpack()
        decomposed = box.decompose() if hasattr(box, "decompose") else box
        if decomposed is box or not hasattr(decomposed, "layers"):
            yield len(left), box
        else:
            for offset, inner in walk(decomposed):
                yield len(left) + offset, inner


def _levels(box: Any) -> Iterator[Any]:
    """``box`` and the boxes it wraps (controlled gate, daggered box)."""
    while True:
        yield box
        if hasattr(box, "controlled"):
            box = box.controlled
        elif isinstance(box, (tensor.Daggered, quantum.Daggered)):
            box = box.box
        else:
            return


def _symbolic_core(box: Any) -> Any:
    """The innermost box, which holds the symbolic ``data`` field."""
    *_, core = _levels(box)
    return core


def _slot_of(box: Any, is_quantum: bool) -> Slot | None:
    symbols = box.free_symbols if hasattr(box, "free_symbols") else set()
    if not symbols:
        return None
    if len(symbols) > 1:
        names = sorted(str(s) for s in symbols)
        raise CompileError(f"box {box} depends on several symbols {names}; "
                           "the engine takes one symbol per box")
    data = _symbolic_core(box).data
    if not isinstance(data, Symbol):
        raise CompileError(f"box {box} holds a symbolic expression of type "
                           f"{type(data).__name__}; expected a lambeq Symbol")
    if is_quantum:
        return Slot(data.name, float(data.scale), "gate", 1)
    return Slot(data.name, float(data.scale), "weight", data.size)


def _constant_descriptor(box: Any) -> tuple:
    data = getattr(box, "data", None)
    payload: Any = None
    if isinstance(data, np.ndarray):
        payload = (data.shape, data.tobytes())
    elif isinstance(data, (int, float, complex)):
        payload = data
    return (type(box).__name__, box.name, str(box.dom), str(box.cod),
            getattr(box, "z", 0), payload)


def _symbolic_descriptor(box: Any, slot: Slot) -> tuple:
    parts: list[Any] = [slot.kind, slot.scale, str(box.dom), str(box.cod),
                        getattr(box, "z", 0)]
    for level in _levels(box):
        parts += [type(level).__name__, getattr(level, "distance", None),
                  getattr(level, "z", 0)]
    return tuple(parts)


def as_lambeq(diagram: Any) -> Any:
    """``diagram`` as a lambeq diagram: a DisCoPy circuit or tensor
    diagram is converted with lambeq's ``from_discopy``, its sympy
    parameters becoming lambeq symbols; anything else is returned as is.

    >>> import sympy
    >>> from discopy.quantum import gates
    >>> circuit = as_lambeq(gates.Ket(0) >> gates.Rx(2 * sympy.Symbol('a')))
    >>> type(circuit).__module__, [slot.scale for slot in shape_key(circuit)[1]]
    ('lambeq.backend.quantum', [2.0])
    """
    module = type(diagram).__module__
    if isinstance(diagram, tensor.Diagram) or not module.startswith(
            'discopy.'):
        return diagram
    name = type(diagram).__name__
    if not module.startswith(('discopy.quantum', 'discopy.tensor')):
        raise CompileError(f"DisCoPy {name} from {module} is not a circuit "
                           "or tensor diagram: apply an ansatz first")
    from lambeq.backend.converters.discopy import from_discopy
    try:
        converted = from_discopy(diagram)
    except Exception as error:  # lambeq's converter names no box
        raise CompileError(
            f"cannot convert DisCoPy {name} to lambeq ({error!r}): build "
            "it with lambeq.backend.quantum, or convert it with lambeq."
            "backend.converters.discopy.from_discopy first") from error
    layers = []
    for layer in converted.layers:
        left, box, right = layer.unpack()
        data = getattr(_symbolic_core(box), 'data', None)
        if getattr(data, 'free_symbols', None):   # a sympy expression
            box = _substitute(box, _lambeq_symbol(data, box))
        layers.append(type(layer)(left, box, right))
    return type(converted)(converted.dom, converted.cod, layers)


def _lambeq_symbol(expression: Any, box: Any) -> Symbol:
    """The lambeq symbol for a sympy ``c * name`` (``c`` a number)."""
    coefficient, rest = expression.as_coeff_Mul()
    if not rest.is_Symbol:
        raise CompileError(f"box {box} of a DisCoPy circuit holds the "
                           f"expression {expression}; the engine takes one "
                           "symbol times a number per gate")
    return float(coefficient) * Symbol(rest.name)


def shape_key(diagram: Any) -> tuple[tuple, list[Slot]]:
    """The structural key of ``diagram`` and its slots, in walk order.

    Two diagrams with equal keys compile to the same network up to which
    symbols fill the slots. ``diagram`` is a lambeq diagram (DisCoPy
    input is converted once, where it enters: :func:`as_lambeq`).
    """
    is_quantum = isinstance(diagram, quantum.Diagram)
    parts: list[tuple] = []
    slots: list[Slot] = []
    for offset, box in walk(diagram):
        slot = _slot_of(box, is_quantum)
        if slot is None:
            parts.append((offset, _constant_descriptor(box)))
        else:
            slots.append(slot)
            parts.append((offset, _symbolic_descriptor(box, slot)))
    head = (is_quantum, is_quantum and diagram.is_mixed,
            str(diagram.dom), str(diagram.cod))
    return (head, tuple(parts)), slots


class _Labels:
    """Wire labels with union-find, for cups and spiders."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.dims: list[int] = []

    def new(self, dim: int) -> int:
        self.parent.append(len(self.parent))
        self.dims.append(int(dim))
        return len(self.parent) - 1

    def find(self, label: int) -> int:
        while self.parent[label] != label:
            self.parent[label] = self.parent[self.parent[label]]
            label = self.parent[label]
        return label

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if self.dims[ra] != self.dims[rb]:
            raise CompileError(f"cannot connect wires of dimensions "
                               f"{self.dims[ra]} and {self.dims[rb]}")
        self.parent[rb] = ra
        return ra


def _substitute(box: Any, value: Any) -> Any:
    """A copy of ``box`` with its symbol replaced by the concrete ``value``.

    Mirrors lambeq's own substitution: the data is set on the innermost
    box and the cached ``free_symbols`` of every level are dropped.
    """
    concrete = copy.deepcopy(box)
    for level in _levels(concrete):
        level.__dict__.pop("free_symbols", None)
    _symbolic_core(concrete).data = value
    if hasattr(concrete, "controlled"):
        concrete.data = value
    return concrete


#: Gate coefficients by structural descriptor: the same gate type costs
#: four lambeq evaluations once, not once per circuit shape.
_COEFFICIENTS: dict[tuple, np.ndarray] = {}


def _gate_coefficients(box: Any, slot: Slot) -> np.ndarray:
    """C0, C1, C2 with ``box(p) = C0 + cos(pi p) C1 + sin(pi p) C2``."""
    key = _symbolic_descriptor(box, slot)
    if key not in _COEFFICIENTS:
        _COEFFICIENTS[key] = _probe_gate(box)
    return _COEFFICIENTS[key]


def _probe_gate(box: Any) -> np.ndarray:
    samples = []
    for phase in _PROBE_PHASES:
        concrete = _substitute(box, phase)
        samples.append(np.asarray(concrete.array, dtype=complex))
    at0, at_half, at1, at_quarter = samples
    c0 = (at0 + at1) / 2
    c1 = (at0 - at1) / 2
    c2 = at_half - c0
    predicted = c0 + np.sqrt(0.5) * (c1 + c2)
    if not np.allclose(predicted, at_quarter, atol=1e-10):
        raise CompileError(f"gate {box} is not a rotation of the form "
                           "C0 + cos(pi p) C1 + sin(pi p) C2")
    return np.stack([c0, c1, c2])


def _weight_index_map(box: Any, slot: Slot) -> np.ndarray:
    """Where each entry of the box's tensor sits in its symbol's weights."""
    shape = tuple(box.dom.dim) + tuple(box.cod.dim)
    if int(np.prod(shape, dtype=int)) != slot.size:
        raise CompileError(f"box {box} has {int(np.prod(shape))} entries but "
                           f"its symbol {slot.symbol!r} has size {slot.size}")
    concrete = _substitute(box, np.arange(slot.size,
                                          dtype=float).reshape(shape))
    return np.rint(np.real(np.asarray(concrete.array))).astype(np.int64)


_CLASSICAL = (quantum.Measure, quantum.Encode, quantum.Bit)


def build_network(diagram: Any) -> Network:
    """Translate ``diagram`` into a :class:`Network` (see module doc).

    Gates are sampled with lambeq's numpy backend whichever one is active
    (lambeq's trainers switch to ``pytorch`` inside ``fit``). ``diagram``
    is a lambeq diagram (see :func:`as_lambeq` for DisCoPy's).
    """
    with backend('numpy'):
        return _build_network(diagram)


def _build_network(diagram: Any) -> Network:
    is_quantum = isinstance(diagram, quantum.Diagram)
    if not isinstance(diagram, tensor.Diagram):
        raise CompileError(f"expected a lambeq quantum or tensor diagram, "
                           f"got {type(diagram).__name__}; apply an ansatz "
                           "to grammar diagrams first")
    labels = _Labels()
    dims_of = (lambda ty: [2] * len(ty)) if is_quantum else (
        lambda ty: list(ty.dim))
    inputs = [labels.new(d) for d in dims_of(diagram.dom)]
    scan = list(inputs)
    operands: list[Operand] = []
    traced: list[int] = []
    slots: list[Slot] = []

    for offset, box in walk(diagram):
        n_in = len(box.dom)
        if isinstance(box, tensor.Swap):
            scan[offset], scan[offset + 1] = scan[offset + 1], scan[offset]
        elif isinstance(box, _CLASSICAL) or (
                is_quantum and box.is_mixed and not isinstance(
                    box, (quantum.Discard, quantum.MixedState))):
            raise CompileError(f"box {box} ({type(box).__name__}) is not "
                               "supported: the engine simulates pure gates, "
                               "kets, bras, discards and mixed states")
        elif isinstance(box, quantum.Discard):
            traced.append(scan.pop(offset))
        elif isinstance(box, quantum.MixedState):
            wire = labels.new(2)
            traced.append(wire)
            scan.insert(offset, wire)
        elif not is_quantum and isinstance(box, tensor.Cup):
            labels.union(scan[offset], scan[offset + 1])
            del scan[offset:offset + 2]
        elif not is_quantum and isinstance(box, tensor.Cap):
            wire = labels.new(box.cod.dim[0])
            scan[offset:offset] = [wire, wire]
        elif not is_quantum and isinstance(box, tensor.Spider):
            legs = scan[offset:offset + n_in]
            wire = legs[0] if legs else labels.new(box.type.dim[0])
            for leg in legs[1:]:
                wire = labels.union(wire, leg)
            scan[offset:offset + n_in] = [wire] * len(box.cod)
        else:
            slot = _slot_of(box, is_quantum)
            out_dims = dims_of(box.cod)
            outs = [labels.new(d) for d in out_dims]
            operand = Operand(scan[offset:offset + n_in] + outs)
            if slot is None:
                array = getattr(box, "array", None)
                if array is None:
                    raise CompileError(f"box {box} has no tensor: "
                                       f"{type(box).__name__} boxes cannot "
                                       "be simulated")
                operand.array = np.asarray(array)
            else:
                operand.slot = len(slots)
                slots.append(slot)
                if is_quantum:
                    operand.coefficients = _gate_coefficients(box, slot)
                else:
                    operand.index_map = _weight_index_map(box, slot)
            operands.append(operand)
            scan[offset:offset + n_in] = outs

    outputs = [labels.find(w) for w in inputs + scan]
    seen: set[int] = set()
    for position, wire in enumerate(outputs):
        if wire in seen:  # the same wire leaves twice: split it explicitly
            twin = labels.new(labels.dims[wire])
            operands.append(Operand([wire, twin],
                                    np.eye(labels.dims[wire])))
            outputs[position] = twin
        seen.add(outputs[position])
    for operand in operands:
        operand.labels = [labels.find(w) for w in operand.labels]
    traced = [labels.find(w) for w in traced]
    dims = {w: labels.dims[w] for w in range(len(labels.dims))
            if labels.find(w) == w}
    return Network(operands, outputs, traced, dims, slots, is_quantum,
                   is_quantum and diagram.is_mixed,
                   tuple(dims[w] for w in outputs))
