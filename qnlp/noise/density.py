"""Exact noisy simulation: density matrices through Kraus channels.

A :class:`NoisyCircuit` is a circuit of ``rx``, ``ry``, ``rz`` and ``cx``
gates (angles as sympy expressions of the model's symbols, in half-turns
as pytket has them), the post-selection map and the output qubits, made
from a lambeq circuit by :meth:`NoisyCircuit.from_lambeq` (lambeq's
pytket conversion, rebased). :class:`NoisyBatch` groups circuits of one
shape (same gates, symbols renamed in order of appearance) and runs
them together: in torch when the weights need a gradient (on their
device and type), else in numpy (evaluation: the same operations, a
fraction of torch's cost per call on arrays this small). After each
gate the channels of a :class:`~qnlp.noise.channels.NoiseSpec` act; at
the end readout errors flip the measured bits, the post-selected bits
are kept and the output distribution is renormalised. Each shape (and
folding) is compiled once into a network of real Pauli transfer
matrices (:class:`_Network`: the density matrix as Pauli coefficients,
a size-4 index per qubit; each run of rotations on one qubit, with its
channels, multiplied out into one ``[4, 4]`` matrix, batched if an
angle depends on a symbol; CX and its channel one constant) contracted
pairwise in an order opt_einsum picks, as plain matrix products; what
does not depend on the symbols is contracted once per noise model.

``fold`` amplifies noise by unitary folding for zero-noise
extrapolation: ``('gates', 3)`` runs every noisy gate ``G`` as ``G G^dag
G``, ``('global', 3)`` the whole circuit as ``U U^dag U`` (odd factors).

>>> import torch
>>> from qnlp.noise.channels import NoiseSpec
>>> bell = NoisyCircuit.from_ops(2, [('rx', (0,), 0.5), ('cx', (0, 1))],
...                              postselect={}, outputs=[0, 1])
>>> batch = NoisyBatch([bell])
>>> batch.run(torch.zeros(0, dtype=torch.float64)).probabilities.round(decimals=3).tolist()
[[0.5, 0.0, 0.0, 0.5]]
>>> noisy = batch.run(torch.zeros(0, dtype=torch.float64), NoiseSpec(p2=0.2)).probabilities
>>> noisy.round(decimals=3).tolist()
[[0.45, 0.05, 0.05, 0.45]]
"""
from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np
import opt_einsum
import sympy
import torch

from qnlp.errors import ConfigError
from qnlp.noise.channels import (ONE_QUBIT_NOISY, TWO_QUBIT, NoiseSpec,
                                 damping_kraus)

#: Gates a :class:`NoisyCircuit` may hold (qiskit's names).
GATES = ('rx', 'ry', 'rz', 'cx')
#: Folding methods of :meth:`NoisyBatch.run`.
FOLDS = ('gates', 'global')


@dataclass
class NoisyCircuit:
    """Gates, angle expressions, post-selection and outputs of a circuit.

    ``ops[k]`` is ``(name, qubits)``; ``angles[k]`` the angle of a
    rotation (sympy expression in half-turns) or ``None`` for ``cx``.
    """
    n_qubits: int
    ops: list[tuple[str, tuple[int, ...]]]
    angles: list[Any]
    postselect: dict[int, int]
    outputs: list[int]
    symbols: list[str] = field(default_factory=list)
    _shape: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_ops(cls, n_qubits: int, ops: Sequence[tuple], postselect:
                 Mapping[int, int], outputs: Sequence[int]
                 ) -> "NoisyCircuit":
        """From ``(name, qubits[, angle in half-turns or sympy])``
        tuples."""
        names, angles = [], []
        for op in ops:
            name, qubits = op[0], tuple(op[1])
            if name not in GATES:
                raise ConfigError(f"noisy engine: unknown gate {name!r}; "
                                  f"known: {', '.join(GATES)}")
            names.append((name, qubits))
            angles.append(sympy.sympify(op[2]) if name != 'cx' else None)
        symbols: list[str] = []
        for angle in angles:
            if angle is not None:
                for s in sorted(angle.free_symbols, key=lambda s: s.name):
                    if s.name not in symbols:
                        symbols.append(s.name)
        return cls(n_qubits, names, angles, dict(postselect), list(outputs),
                   symbols)

    @classmethod
    def from_lambeq(cls, circuit: Any) -> "NoisyCircuit":
        """From a lambeq circuit (symbols kept), through
        :func:`qnlp.compiler.tket.to_tket` rebased to CX, Rx, Rz. The
        conversion (~0.1 s) runs once per shape: the circuit with its
        symbols renamed ``_x0, _x1, ...`` in order of appearance is the
        key of :data:`_CONVERTED`."""
        from lambeq.backend.symbol import Symbol
        symbols = list(dict.fromkeys(
            s for box in circuit.boxes
            for s in sorted(getattr(box, 'free_symbols', ()), key=str)))
        canonical = circuit.lambdify(*symbols)(
            *[Symbol(f'_x{i}') for i in range(len(symbols))]) \
            if symbols else circuit
        key = repr(canonical)
        if key not in _CONVERTED:
            _CONVERTED[key] = cls._convert(canonical)
        template = _CONVERTED[key]
        rename = {sympy.Symbol(f'_x{i}'): sympy.Symbol(s.name)
                  for i, s in enumerate(symbols)}
        return cls(template.n_qubits, template.ops,
                   [None if a is None else a.xreplace(rename)
                    for a in template.angles], dict(template.postselect),
                   list(template.outputs),
                   [rename[sympy.Symbol(s)].name for s in template.symbols])

    @classmethod
    def _convert(cls, circuit: Any) -> "NoisyCircuit":
        from pytket import OpType
        from pytket.passes import AutoRebase, RemoveRedundancies

        from qnlp.compiler.tket import to_tket
        gates, postselect, outputs = to_tket(circuit)
        AutoRebase({OpType.CX, OpType.Rx, OpType.Rz}).apply(gates)
        RemoveRedundancies().apply(gates)
        ops = []
        for cmd in gates.get_commands():
            qubits = tuple(q.index[0] for q in cmd.qubits)
            name = cmd.op.type.name.lower()
            ops.append((name, qubits, cmd.op.params[0]) if name != 'cx'
                       else (name, qubits))
        return cls.from_ops(gates.n_qubits, ops, postselect, outputs)

    def shape(self) -> tuple:
        """Gates, post-selection, outputs and angles with the symbols
        renamed ``x0, x1, ...`` in order of appearance: circuits of one
        shape are simulated together."""
        if self._shape is not None:
            return self._shape
        rename = {sympy.Symbol(s): sympy.Symbol(f'x{i}')
                  for i, s in enumerate(self.symbols)}
        angles = tuple(None if a is None else str(a.xreplace(rename))
                       for a in self.angles)
        self._shape = (self.n_qubits, tuple(self.ops), angles,
                       tuple(sorted(self.postselect.items())),
                       tuple(self.outputs))
        return self._shape

    def to_qiskit(self, values: Mapping[str, float] | None = None) -> Any:
        """A qiskit circuit of the same gates (qubit ``i`` is qiskit's
        qubit ``i``), symbols bound to ``values`` (turns), no
        measurements."""
        from qiskit import QuantumCircuit
        qc = QuantumCircuit(self.n_qubits)
        values = {sympy.Symbol(k): v for k, v in (values or {}).items()}
        for (name, qubits), angle in zip(self.ops, self.angles):
            if angle is None:
                qc.cx(*qubits)
            else:
                radians = float(angle.xreplace(values)) * math.pi
                getattr(qc, name)(radians, *qubits)
        return qc


#: Converted lambeq circuits by their text with canonical symbols.
_CONVERTED: dict[str, NoisyCircuit] = {}


class Result(NamedTuple):
    """Post-selected output distributions ``[batch, 2^outputs]`` and the
    probability that post-selection succeeds ``[batch]``."""
    probabilities: torch.Tensor
    success: torch.Tensor


#: Pauli matrices of the rotation gates: ``r(theta) = cos(theta/2) I -
#: i sin(theta/2) P``.
PAULIS = {'rx': ((0, 1), (1, 0)), 'ry': ((0, -1j), (1j, 0)),
          'rz': ((1, 0), (0, -1))}


def superoperator(spec: NoiseSpec, k: int, dtype: torch.dtype
                  ) -> torch.Tensor:
    """The channel that follows a noisy ``k``-qubit gate under ``spec``
    as a tensor ``[2] * 4k``: new ket bits, new bra bits, old ket bits,
    old bra bits (depolarizing of ``p1`` or ``p2``, then amplitude and
    phase damping on each qubit).

    >>> s = superoperator(NoiseSpec(p1=0.2), 1, torch.complex128)
    >>> rho = torch.tensor([[1, 0], [0, 0]], dtype=torch.complex128)
    >>> torch.einsum('abcd,cd->ab', s, rho).real.tolist()
    [[0.9, 0.0], [0.0, 0.1]]
    """
    d = 2 ** k
    eye = torch.eye(d, dtype=dtype)
    p = spec.p1 if k == 1 else spec.p2
    # (1 - p) rho + p Tr[rho] I / d, rows (a, b), columns (a', b')
    depolarize = ((1 - p) * torch.einsum('ac,bd->abcd', eye, eye)
                  + p / d * torch.einsum('ab,cd->abcd', eye, eye))
    kraus = damping_kraus(spec.amplitude, spec.phase, dtype)
    damp = sum(torch.einsum('ac,bd->abcd', m, m.conj()) for m in kraus)
    if k == 2:   # the same damping on both qubits
        damp = torch.einsum('acgi,bdhj->abcdghij', damp, damp).reshape(
            4, 4, 4, 4)
    total = torch.einsum('abcd,cdef->abef', damp, depolarize)
    return total.reshape([2] * (4 * k))


def _pair_superoperator(matrix: torch.Tensor) -> torch.Tensor:
    """``U (x) U*`` of a ``[..., 2^k, 2^k]`` unitary of ``k`` qubits as
    ``[..., 4^k, 4^k]``, each qubit's (ket, bra) bits together as one
    index ``2 * ket + bra`` (qubit by qubit): the superoperator's layout
    here."""
    lead, k = matrix.shape[:-2], matrix.shape[-1].bit_length() - 1
    u = matrix.reshape(*lead, *[2] * (2 * k))
    both = torch.einsum(u, [..., *range(2 * k)], u.conj(),
                        [..., *range(2 * k, 4 * k)],
                        [..., *[w for q in range(2 * k)
                                for w in (q, 2 * k + q)]])
    return both.reshape(*lead, 4 ** k, 4 ** k)


@functools.lru_cache(maxsize=16)
def _pauli_basis(k: int, dtype: torch.dtype) -> tuple[torch.Tensor,
                                                        torch.Tensor]:
    """``T`` and ``T^-1`` between the layout of :func:`_pair_superoperator`
    (``vec(rho)``, qubit by qubit) and Pauli coefficients ``Tr(P rho)``
    (``P`` in ``I, X, Y, Z``, qubit by qubit): ``T S T^-1`` is the real
    Pauli transfer matrix of a channel ``S``."""
    paulis = torch.tensor([PAULIS['rz'], PAULIS['rx'], PAULIS['ry'],
                           PAULIS['rz']], dtype=dtype)
    paulis[0] = torch.eye(2, dtype=dtype)
    one = paulis.transpose(1, 2).reshape(4, 4)     # T[P, 2a + b] = P[b, a]
    forward = functools.reduce(torch.kron, [one] * k)
    return forward, torch.linalg.inv(forward)


def to_pauli(superop: torch.Tensor) -> torch.Tensor:
    """The real Pauli transfer matrix of ``[..., 4^k, 4^k]`` superoperators
    in the layout of :func:`_pair_superoperator`.

    >>> rz = torch.tensor([[1, 0], [0, -1]], dtype=torch.complex128)
    >>> to_pauli(_pair_superoperator(rz)).diagonal().tolist()  # Z: X, Y flip
    [1.0, -1.0, -1.0, 1.0]
    """
    k = superop.shape[-1].bit_length() // 2
    forward, inverse = (m.to(superop.device)
                        for m in _pauli_basis(k, superop.dtype))
    return (forward @ superop @ inverse).real


@functools.lru_cache(maxsize=None)
def rotation_generator(name: str) -> torch.Tensor:
    """``G`` with ``I + sin(theta) G + (1 - cos(theta)) G^2`` the Pauli
    transfer matrix of the rotation ``name`` by ``theta``.

    >>> theta = torch.tensor(0.3, dtype=torch.float64)
    >>> g = rotation_generator('ry')
    >>> ptm = torch.eye(4, dtype=torch.float64) + theta.sin() * g + (
    ...     1 - theta.cos()) * g @ g
    >>> y = torch.tensor(PAULIS['ry'], dtype=torch.complex128)
    >>> u = torch.linalg.matrix_exp(-0.15j * y)
    >>> torch.allclose(ptm, to_pauli(_pair_superoperator(u)))
    True
    """
    pauli = torch.tensor(PAULIS[name], dtype=torch.complex128)
    eye = torch.eye(2, dtype=torch.complex128)
    quarter = [to_pauli(_pair_superoperator((eye - 1j * sign * pauli)
                                            / 2 ** 0.5)) for sign in (1, -1)]
    return (quarter[0] - quarter[1]) / 2


@functools.lru_cache(maxsize=64)
def _constants(spec: NoiseSpec) -> dict[str, torch.Tensor]:
    """The fixed operands of a :class:`_Network` under ``spec``, real
    (float64, CPU), in the Pauli basis: ``channel`` (the one-qubit
    channel, ``[4, 4]``), ``cx`` (CX then its channel, ``[4, 4, 4, 4]``),
    ``start`` (``|0><0|``), ``trace`` and ``read`` (``[read bit, 4]``: the
    diagonal read through readout flips)."""
    dtype = torch.complex128

    def layout(channel: torch.Tensor, k: int) -> torch.Tensor:
        # [ket bits, bra bits] x 2 -> qubit by qubit (ket, bra)
        order = [w for part in (0, 2 * k) for q in range(k)
                 for w in (part + q, part + k + q)]
        return channel.permute(order).reshape(4 ** k, 4 ** k)
    cx = torch.zeros(4, 4, dtype=dtype)
    for c, t in itertools.product((0, 1), repeat=2):
        cx[2 * c + (t ^ c), 2 * c + t] = 1
    eye = torch.eye(2, dtype=dtype)
    r = spec.readout
    flips = torch.tensor([[1 - r, r], [r, 1 - r]], dtype=dtype)
    forward, inverse = _pauli_basis(1, dtype)
    return {'channel': to_pauli(layout(superoperator(spec, 1, dtype), 1)),
            'cx': to_pauli(layout(superoperator(spec, 2, dtype), 2)
                           @ _pair_superoperator(cx)).reshape(4, 4, 4, 4),
            'start': (forward @ eye[0].outer(eye[0]).reshape(4)).real,
            'trace': (eye.reshape(4) @ inverse).real,
            'read': (torch.einsum('ma,ab->mab', flips, eye).reshape(2, 4)
                     @ inverse).real}


class _Backend:
    """Where a :class:`NoisyBatch` runs, chosen from its weights: torch
    (differentiable, on the weights' device) or, for weights on the CPU
    that need no gradient (evaluation), numpy: the same operations on
    these small arrays at a fraction of torch's cost per call. Constants
    are made in torch and converted once (:meth:`constant`).

    >>> w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    >>> _Backend.of(w).numpy, _Backend.of(w.detach()).numpy
    (False, True)
    >>> with torch.no_grad():
    ...     _Backend.of(w).numpy
    True
    """

    def __init__(self, numpy: bool, dtype: torch.dtype,
                 device: torch.device) -> None:
        self.numpy, self.dtype, self.device = numpy, dtype, device
        #: What compiled constants are cached by.
        self.key = (self.numpy, self.dtype, self.device)
        #: The array module: ``sin``, ``cos``, ``where``, ``ones_like``.
        self.xp: Any = np if numpy else torch

    @classmethod
    def of(cls, weights: torch.Tensor) -> "_Backend":
        """numpy for weights on the CPU that need no gradient, else
        torch."""
        return cls(weights.device.type == 'cpu' and not (
            weights.requires_grad and torch.is_grad_enabled()),
            weights.dtype, weights.device)

    def constant(self, t: torch.Tensor) -> Any:
        """``t`` (floats cast to the weights' type) in this backend."""
        t = t.to(self.dtype) if t.is_floating_point() else t
        return t.numpy() if self.numpy else t.to(self.device)

    def input(self, weights: torch.Tensor) -> Any:
        return weights.detach().numpy() if self.numpy else weights

    def output(self, array: Any) -> torch.Tensor:
        return torch.from_numpy(array) if self.numpy else array

    def permute(self, array: Any, perm: tuple) -> Any:
        return array.transpose(perm) if self.numpy else array.permute(perm)

    def cat(self, parts: Sequence[Any]) -> Any:
        return np.concatenate(parts) if self.numpy else torch.cat(parts)

    def ones(self, n: int) -> Any:
        return self.constant(torch.ones(n, dtype=torch.float64))

    def cached(self, store: dict, make: Callable[[], torch.Tensor]) -> Any:
        """``store``'s constant for this backend: ``make()`` converted by
        :meth:`constant` the first time, then kept (one home for the
        per-backend caches of compiled constants).

        >>> store, cpu = {}, _Backend(True, torch.float64, torch.device('cpu'))
        >>> cpu.cached(store, lambda: torch.arange(2)).tolist()
        [0, 1]
        >>> list(store) == [cpu.key]
        True
        """
        if self.key not in store:
            store[self.key] = self.constant(make())
        return store[self.key]


class _Pair:
    """One pairwise contraction of a :class:`_Network` (positions
    ``first`` and ``second`` in the list of live operands, labels ``a``
    and ``b``; label 0 is the batch, every other label is on two
    operands) as permutes, reshapes and one matrix product, which costs
    far less per call than ``torch.einsum``; ``out`` holds its labels."""

    def __init__(self, first: int, second: int, a: list[int], b: list[int],
                 size: Mapping[int, int]) -> None:
        self.first, self.second = first, second
        shared = [w for w in a if w in b and w != 0]
        free_a = [w for w in a if w not in b and w != 0]
        free_b = [w for w in b if w not in a and w != 0]
        lead_a, lead_b = [0] if 0 in a else [], [0] if 0 in b else []
        if lead_a and lead_b:      # [B, Fa, S] @ [B, S, Fb]
            order_a, order_b = [0] + free_a + shared, [0] + shared + free_b
            self.out = [0] + free_a + free_b
        elif lead_b:               # [Fa, S] @ [S, B * Fb]
            order_a, order_b = free_a + shared, shared + [0] + free_b
            self.out = free_a + [0] + free_b
        else:                      # [(B) Fa, S] @ [S, Fb]
            order_a, order_b = lead_a + free_a + shared, shared + free_b
            self.out = lead_a + free_a + free_b

        def count(labels: list[int]) -> int:
            return math.prod(size[w] for w in labels)
        self.perm_a = self._perm(a, order_a)
        self.perm_b = self._perm(b, order_b)
        rows, inner = count(free_a), count(shared)
        self.shape_a = ((-1, rows, inner) if lead_a and lead_b else
                        (-1, inner))
        self.shape_b = ((-1, inner, count(free_b)) if lead_a and lead_b
                        else (inner, -1))
        self.shape_out = [size[w] if w else -1 for w in self.out]

    @staticmethod
    def _perm(labels: list[int], order: list[int]) -> tuple | None:
        perm = tuple(labels.index(w) for w in order)
        return None if perm == tuple(range(len(perm))) else perm

    def left(self, a: Any, backend: _Backend) -> Any:
        """``a`` as the left factor of the product."""
        if self.perm_a is not None:
            a = backend.permute(a, self.perm_a)
        return a.reshape(self.shape_a)

    def right(self, b: Any, backend: _Backend) -> Any:
        """``b`` as the right factor of the product."""
        if self.perm_b is not None:
            b = backend.permute(b, self.perm_b)
        return b.reshape(self.shape_b)

    def product(self, left: Any, right: Any) -> Any:
        return (left @ right).reshape(self.shape_out)

    def __call__(self, a: Any, b: Any, backend: _Backend) -> Any:
        return self.product(self.left(a, backend), self.right(b, backend))


class _Network:
    """The superoperator network of one shape and folding: each qubit's
    density-matrix bits as one index of size 4 (Pauli coefficients, real);
    each run of rotations on one qubit between two-qubit gates, with the
    channels after them, as one ``[4, 4]`` Pauli transfer matrix, CX and
    its channel as a constant ``[4, 4, 4, 4]``, readout and post-selection
    on the diagonal at the end. The pairwise contraction order is chosen
    once (opt_einsum, for the batch size given) and run as plain matrix
    products (:class:`_Pair`).

    Everything fixed is made once per noise model (:meth:`operands`): a
    run whose angles are all fixed (no symbol: most of a lambeq circuit,
    e.g. the Hadamards) is a constant without the batch index, the
    pairwise contractions of constants are done there too, and in the
    other runs each stretch of fixed rotations is one constant factor. A rotation by ``theta`` followed by its channel ``C`` is ``C
    (I + G^2) + sin(theta) C G - cos(theta) C G^2``, so the batched runs
    cost their angles' sines and cosines, three products with constants
    and the pairwise multiplication of their factors (padded with
    identities to a power of two).

    ``sources[k]`` says where operand ``k`` comes from: ``('run', p)``,
    ``('first', p)`` and ``('last', p)`` (a batched run: alone, applied
    to ``|0><0|`` or read at the end) or ``('const', key)`` (a key of
    :meth:`operands`: ``cx``, ``start``, ``trace``, ``read``, ``bit0``,
    ``bit1`` or ``run{r}``, a fixed run), or ``('ones', None)`` (the
    batch, when no operand has it).
    """

    def __init__(self, n: int, ops: Sequence[tuple[str, tuple[int, ...]]],
                 sequence: Sequence[tuple[int, int]],
                 postselect: Mapping[int, int], outputs: Sequence[int],
                 batch: int, generators: torch.Tensor, noisy: torch.Tensor,
                 fixed: Mapping[int, float]) -> None:
        rotation = {k: c for c, k in enumerate(
            k for k, (name, _) in enumerate(ops) if name != 'cx')}
        steps = [(rotation[k], sign) for k, sign in sequence
                 if k in rotation]
        #: Per rotation of the sequence: ``G`` (its sign that of the
        #: step), ``G^2``, whether a channel follows, its angle's column
        #: and the angle in radians if it is fixed (else ``None``).
        columns = [c for c, _ in steps]
        signs = torch.tensor([float(s) for _, s in steps],
                             dtype=generators.dtype)
        self.generators = signs[:, None, None] * generators[columns]
        self.squares = (generators @ generators)[columns]
        self.noisy = noisy[columns]
        self.angles = [fixed.get(c) for c in columns]
        count = itertools.count(1)        # label 0 is the batch
        wire = [next(count) for _ in range(n)]
        terms: list[list[int] | None] = [[0]] + [[w] for w in wire]
        parts: list[tuple | None] = [('ones', None)] + [('start',)] * n
        #: The rotations of each run, in order.
        self.runs: list[list[int]] = []
        open_run: dict[int, list[int]] = {}    # qubit -> its current run
        at: dict[int, int] = {}      # qubit -> its open 'run' term
        rotations = itertools.count()
        for k, _ in sequence:
            name, qubits = ops[k]
            if name != 'cx' and qubits[0] in open_run:
                open_run[qubits[0]].append(next(rotations))
                continue
            old = [wire[q] for q in qubits]
            for q in qubits:
                wire[q] = next(count)
                open_run.pop(q, None)
                at.pop(q, None)
            if name == 'cx':
                terms.append([wire[q] for q in qubits] + old)
                parts.append(('cx',))
            elif old[0] == 1 + qubits[0]:   # the qubit's start: applied
                terms[1 + qubits[0]] = parts[1 + qubits[0]] = None
                terms.append([0, wire[qubits[0]]])
                parts.append(('first', len(self.runs)))
            else:
                at[qubits[0]] = len(terms)
                terms.append([0, wire[qubits[0]]] + old)
                parts.append(('run', len(self.runs)))
            if name != 'cx':
                open_run[qubits[0]] = [next(rotations)]
                self.runs.append(open_run[qubits[0]])
        read = {q: next(count) for q in outputs}
        # the last run of a post-selected or traced qubit is read before
        # the contraction (its 'read' operand dropped)
        for q in range(n):
            if q not in read and q in at:
                position = at[q]
                terms[position] = [0] + terms[position][2:]
                parts[position] = ('last', parts[position][1],
                                   postselect.get(q, 2))
                continue
            terms.append(([read[q]] if q in read else []) + [wire[q]])
            parts.append(('read', None) if q in read else
                         ('read', postselect[q]) if q in postselect
                         else ('trace',))
        #: The runs with a symbol's angle (the rest are constants), and
        #: for each its factors: stretches of fixed rotations, or one
        #: rotation of a symbol.
        self.batched = [r for r, run in enumerate(self.runs)
                        if any(self.angles[k] is None for k in run)]
        self.factors: list[list[list[int]]] = []
        for r in self.batched:
            factors: list[list[int]] = []
            for is_fixed, group in itertools.groupby(
                    self.runs[r], key=lambda k: self.angles[k] is not None):
                group = list(group)
                factors += [group] if is_fixed else [[k] for k in group]
            self.factors.append(factors)
        position = {r: p for p, r in enumerate(self.batched)}
        self.sources: list[tuple] = []
        #: Batched runs read as ``first`` and ``last``, and how (the
        #: post-selected bit or 2, the trace).
        self.first: list[int] = []
        self.last: list[int] = []
        self.last_kind: list[int] = []
        #: Fixed runs: ``(r, 'run' | 'first' | 'last', reading)``.
        self.fixed_runs: list[tuple] = []
        for k, part in enumerate(parts):
            if part is None:
                continue
            kind = part[0]
            if kind in ('run', 'first', 'last') and part[1] not in position:
                terms[k] = [w for w in terms[k] if w != 0]
                self.fixed_runs.append((part[1], kind, part[2:]))
                self.sources.append(('const', f'run{part[1]}'))
            elif kind == 'run':
                self.sources.append(('run', position[part[1]]))
            elif kind in ('first', 'last'):
                listed = self.first if kind == 'first' else self.last
                self.sources.append((kind, len(listed)))
                listed.append(position[part[1]])
                if kind == 'last':
                    self.last_kind.append(part[2])
            elif kind == 'read':
                self.sources.append(('const', 'read' if part[1] is None
                                     else f'bit{part[1]}'))
            else:
                self.sources.append((kind, None) if kind == 'ones'
                                    else ('const', kind))
        if self.batched:    # the batch is on other operands
            terms[0] = None
            self.sources.pop(0)
        terms = [t for t in terms if t is not None]
        longest = 1 << (max(map(len, self.factors), default=1) - 1
                        ).bit_length()
        flat = [f for run in self.factors for f in run]
        #: ``[batched runs, longest]`` factor indices, ``len(flat)`` (an
        #: identity) padding every run to the same power of two, and
        #: each padded factor's angle column (0 for a fixed one).
        starts = itertools.accumulate(map(len, self.factors), initial=0)
        self.padded = torch.tensor(
            [list(range(s, s + len(run))) + [len(flat)] * (
                longest - len(run)) for s, run in zip(starts, self.factors)],
            dtype=torch.long).reshape(len(self.factors), longest)
        self.flat = flat
        self.columns = torch.tensor(
            [columns[f[0]] if self.angles[f[0]] is None else 0
             for f in flat] + [0], dtype=torch.long)[self.padded]
        final = [0] + [read[q] for q in outputs]
        size = {w: 4 for t in terms for w in t}
        size.update({0: batch, **{read[q]: 2 for q in outputs}})
        letters = {w: opt_einsum.get_symbol(i)
                   for i, w in enumerate(sorted(size))}
        equation = (','.join(''.join(letters[w] for w in t) for t in terms)
                    + '->' + ''.join(letters[w] for w in final))
        path, _ = opt_einsum.contract_path(
            equation, *[tuple(size[w] for w in t) for t in terms],
            shapes=True, optimize='auto')
        self.steps: list[_Pair] = []
        #: Per step, which of its operands are constants: both (then
        #: :meth:`operands` contracts it once), ``left`` or ``right`` (it
        #: prepares that factor once) or neither (``None``); and the key
        #: of what :meth:`operands` made.
        self.fixed_steps: list[str | None] = []
        self.step_keys: list[str] = []
        live = list(zip(terms, [kind == 'const' for kind, _ in
                                self.sources]))
        for pair in path:
            i, j = sorted(pair, reverse=True)
            (a, fixed_a), (b, fixed_b) = live.pop(i), live.pop(j)
            step = _Pair(i, j, a, b, size)
            self.steps.append(step)
            self.fixed_steps.append('both' if fixed_a and fixed_b else
                                    'left' if fixed_a else
                                    'right' if fixed_b else None)
            self.step_keys.append(f'step{len(self.steps) - 1}')
            live.append((step.out, fixed_a and fixed_b))
        ((last, _),) = live
        self.order = tuple(last.index(w) for w in final)
        #: Operands by noise model and backend (:meth:`operands`).
        self._operands: dict[tuple, dict[str, Any]] = {}

    def operands(self, spec: NoiseSpec, backend: _Backend
                 ) -> dict[str, Any]:
        """The fixed operands under ``spec`` in ``backend``, made once:
        ``fixed``, ``sin`` and ``cos`` (``[batched runs, longest, 4,
        4]``: the factors, padded), ``readings`` (``[last, 1, 4]``), the
        fixed runs ``run{r}``, the constants of :func:`_constants`, and
        the index arrays."""
        key = (spec, backend.key)
        if key in self._operands:
            return self._operands[key]
        if len(self._operands) >= 64:
            self._operands.clear()
        const = _constants(spec)
        eye = torch.eye(4, dtype=torch.float64)
        zero = torch.zeros(4, 4, dtype=torch.float64)
        base = torch.where(self.noisy[:, None, None], const['channel'], eye)

        def product(rotations: list[int]) -> torch.Tensor:
            """Fixed rotations with their channels, multiplied out."""
            total = eye
            for k in rotations:
                t = self.angles[k]
                total = base[k] @ (eye + math.sin(t) * self.generators[k] + (
                    1 - math.cos(t)) * self.squares[k]) @ total
            return total
        terms = [(base[f[0]] @ (eye + self.squares[f[0]]),
                  base[f[0]] @ self.generators[f[0]],
                  base[f[0]] @ self.squares[f[0]])
                 if self.angles[f[0]] is None else (product(f), zero, zero)
                 for f in self.flat] + [(eye, zero, zero)]
        readings = torch.cat([const['read'], const['trace'][None]])
        found = {name: torch.stack(matrices)[self.padded] for name, matrices
                 in zip(('fixed', 'sin', 'cos'), zip(*terms))}
        found.update(
            const, bit0=const['read'][0], bit1=const['read'][1],
            readings=readings[torch.tensor(self.last_kind, dtype=torch.long)
                              ][:, None],
            columns=self.columns,
            first=torch.tensor(self.first, dtype=torch.long),
            last=torch.tensor(self.last, dtype=torch.long))
        for r, kind, how in self.fixed_runs:
            matrix = product(self.runs[r])
            found[f'run{r}'] = (matrix @ const['start'] if kind == 'first'
                                else readings[how[0]] @ matrix
                                if kind == 'last' else matrix)
        exact = _Backend(False, torch.float64, torch.device('cpu'))
        live = [found[at] if kind == 'const' else None
                for kind, at in self.sources]
        for step, fixed, name in zip(self.steps, self.fixed_steps,
                                     self.step_keys):
            a, b = live.pop(step.first), live.pop(step.second)
            if fixed:
                found[name] = (step(a, b, exact) if fixed == 'both' else
                               step.left(a, exact) if fixed == 'left' else
                               step.right(b, exact))
            live.append(found[name] if fixed == 'both' else None)
        self._operands[key] = {k: backend.constant(v)
                               for k, v in found.items()}
        return self._operands[key]

    def __call__(self, angles: Any, spec: NoiseSpec, backend: _Backend
                 ) -> Any:
        """``[B, 2, ..., 2]`` joint probabilities of the outputs (and the
        post-selected bits) for the rotation angles ``[B, rotations]``
        (of the shape's rotations, in radians) under ``spec``."""
        batch, xp = angles.shape[0], backend.xp
        const = self.operands(spec, backend)
        found: dict[str, Any] = {}
        if self.batched:
            theta = angles[:, const['columns']][..., None, None]
            product = (const['fixed'] + xp.sin(theta) * const['sin']
                       - xp.cos(theta) * const['cos'])
            while product.shape[2] > 1:    # later @ earlier, pairwise
                product = product[:, :, 1::2] @ product[:, :, 0::2]
            found['run'] = product = product[:, :, 0]
            found['first'] = product[:, const['first']] @ const['start']
            found['last'] = (const['readings'] @ product[:, const['last']]
                             )[..., 0, :]
        operands = [const[at] if kind == 'const' else backend.ones(batch)
                    if kind == 'ones' else found[kind][:, at]
                    for kind, at in self.sources]
        for step, fixed, key in zip(self.steps, self.fixed_steps,
                                    self.step_keys):
            a, b = operands.pop(step.first), operands.pop(step.second)
            operands.append(const[key] if fixed == 'both' else step.product(
                const[key] if fixed == 'left' else step.left(a, backend),
                const[key] if fixed == 'right' else step.right(b, backend)))
        return backend.permute(operands[0], self.order)


#: Batch size assumed when choosing a network's contraction order (its
#: steps take any batch).
_BATCH_HINT = 32


class _Shape:
    """What circuits of one shape share, compiled once (and kept in
    :data:`_SHAPES`): the angles as functions of the symbols, and a
    :class:`_Network` per folding."""

    def __init__(self, first: NoisyCircuit) -> None:
        self.n = first.n_qubits
        self.ops = first.ops
        self.postselect = first.postselect
        self.outputs = first.outputs
        self.generators = torch.stack(
            [torch.zeros(4, 4, dtype=torch.float64)] + [
                rotation_generator(name) for name, _ in self.ops
                if name != 'cx'])[1:]
        #: Compiled networks by sequence.
        self.networks: dict[tuple, _Network] = {}
        #: Per rotation column, whether a channel follows it.
        self.noisy = torch.tensor([name in ONE_QUBIT_NOISY
                                   for name, _ in self.ops if name != 'cx'],
                                  dtype=torch.bool)
        arity = len(first.symbols)
        xs = sympy.symbols(f'x0:{arity}') if arity else ()
        rename = {sympy.Symbol(s): x for s, x in zip(first.symbols, xs)}
        exprs = [a.xreplace(rename) for a in first.angles if a is not None]
        try:   # angles linear in the symbols: one matrix product
            slope, offset = sympy.linear_eq_to_matrix(exprs, xs) \
                if exprs and xs else (sympy.zeros(len(exprs), 0),
                                      -sympy.Matrix(exprs))
            self.linear: tuple | None = (
                torch.tensor(sympy.matrix2numpy(slope, float).T.copy()
                             ).reshape(arity, len(exprs)),
                -torch.tensor(sympy.matrix2numpy(offset, float)
                              ).reshape(len(exprs)))
        except ValueError:   # sympy's NonlinearError
            self.linear = None
        #: Angles (radians) of the rotations that depend on no symbol.
        self.fixed = {} if self.linear is None else {
            c: float(offset) * math.pi for c, (moves, offset) in enumerate(
                zip(self.linear[0].T, self.linear[1])) if not moves.any()}
        #: ``linear``'s slope and offset (in radians) by backend.
        self._linear: tuple[dict, dict] = ({}, {})
        self.angle_function = sympy.lambdify(
            xs, exprs, modules=[{'sin': torch.sin, 'cos': torch.cos,
                                 'exp': torch.exp, 'sqrt': torch.sqrt}])

    def angles(self, values: Any, backend: _Backend) -> Any:
        """``[batch, rotations]`` angles in radians of the symbols'
        ``values`` ``[batch, symbols]`` (in ``backend``)."""
        if self.linear is not None:
            slope, offset = (backend.cached(store, lambda: t * math.pi)
                             for store, t in zip(self._linear, self.linear))
            return values @ slope + offset
        if backend.numpy:     # sympy's torch functions, then back
            values = torch.from_numpy(values)
            return self.angles(values, _Backend(False, values.dtype,
                                                values.device)).numpy()
        batch = values.shape[0]
        columns = self.angle_function(*values.unbind(1))
        columns = [torch.as_tensor(c, dtype=values.dtype,
                                   device=values.device).expand(batch)
                   for c in columns]
        if not columns:
            return torch.zeros(batch, 0, dtype=values.dtype)
        return torch.stack(columns, 1) * math.pi

    def sequence(self, fold: tuple[str, int] | None
                 ) -> list[tuple[int, int]]:
        """``(op index, +1 or -1 for the inverse)`` in execution order."""
        forward = [(k, 1) for k in range(len(self.ops))]
        if fold is None or fold[1] == 1:
            return forward
        method, factor = fold
        if method not in FOLDS or factor < 1 or factor % 2 != 1:
            raise ConfigError(f"folding needs a method in {FOLDS} and an "
                              f"odd factor, got {fold}")
        pairs = (factor - 1) // 2
        if method == 'global':
            back = [(k, -1) for k in reversed(range(len(self.ops)))]
            return forward + (back + forward) * pairs
        return [step for k in range(len(self.ops)) for step in
                [(k, 1)] + [(k, -1), (k, 1)] * pairs]

    def run(self, values: Any, spec: NoiseSpec,
            fold: tuple[str, int] | None, backend: _Backend) -> Result:
        """Circuits of this shape with symbol values ``[batch,
        symbols]`` (in ``backend``)."""
        angles = self.angles(values, backend)
        batch = angles.shape[0]
        sequence = tuple(self.sequence(fold))
        if sequence not in self.networks:
            self.networks[sequence] = _Network(
                self.n, self.ops, sequence, self.postselect, self.outputs,
                _BATCH_HINT, self.generators, self.noisy, self.fixed)
        joint = self.networks[sequence](angles, spec, backend).reshape(
            batch, -1)
        success = joint.sum(1)
        safe = backend.xp.where(success > 0, success,
                                backend.xp.ones_like(success))
        return Result(joint / safe[:, None], success)


#: Compiled shapes by :meth:`NoisyCircuit.shape`.
_SHAPES: dict[tuple, _Shape] = {}


class _Group:
    """Circuits of one shape: the compiled :class:`_Shape` and where each
    circuit's symbols sit in the weight vector."""

    def __init__(self, circuits: list[NoisyCircuit], index: Mapping[str, int]
                 ) -> None:
        key = circuits[0].shape()
        if key not in _SHAPES:
            _SHAPES[key] = _Shape(circuits[0])
        self.shape = _SHAPES[key]
        self.outputs = circuits[0].outputs
        missing = sorted({s for c in circuits for s in c.symbols} -
                         set(index))
        if missing:
            raise ConfigError(f"noisy engine: no weight for symbols "
                              f"{missing[:5]}")
        self.symbol_index = torch.tensor(
            [[index[s] for s in c.symbols] for c in circuits],
            dtype=torch.long).reshape(len(circuits), -1)
        self._index: dict[tuple, Any] = {}

    def run(self, weights: Any, spec: NoiseSpec,
            fold: tuple[str, int] | None, backend: _Backend) -> Result:
        """The group's circuits for the weight vector (in ``backend``)."""
        index = backend.cached(self._index, lambda: self.symbol_index)
        return self.shape.run(weights[index], spec, fold, backend)


def measure(rho: torch.Tensor, n: int, postselect: Mapping[int, int],
            outputs: Sequence[int], readout: float = 0.0) -> Result:
    """Readout errors on every bit of the diagonal of ``rho`` ``[batch,
    2^n, 2^n]``, then post-selection and the output distribution."""
    d = 2 ** n
    probs = rho.reshape(-1, d, d).diagonal(dim1=1, dim2=2).real
    probs = probs.reshape(-1, *[2] * n)
    if readout:
        for q in range(n):
            probs = (1 - readout) * probs + readout * probs.flip(q + 1)
    index = (slice(None),) + tuple(postselect.get(q, slice(None))
                                   for q in range(n))
    kept = probs[index]
    order = sorted(outputs)
    kept = kept.permute(0, *[1 + order.index(q) for q in outputs])
    joint = kept.reshape(kept.shape[0], -1)
    success = joint.sum(1)
    safe = torch.where(success > 0, success, torch.ones_like(success))
    return Result(joint / safe.unsqueeze(1), success)


def aer_reference(circuit: NoisyCircuit, values: Mapping[str, float],
                  spec: NoiseSpec) -> Result:
    """The same circuit on qiskit-aer's density-matrix simulator with
    :meth:`NoiseSpec.to_aer` (readout applied as here: Aer applies it
    only to sampled shots), as a batch of one: the check of this
    engine."""
    from qiskit.quantum_info import DensityMatrix
    from qiskit_aer import AerSimulator
    qc = circuit.to_qiskit(values)
    qc.save_density_matrix()
    simulator = AerSimulator(method='density_matrix',
                             noise_model=spec.to_aer())
    data = simulator.run(qc).result().data()['density_matrix']
    rho = DensityMatrix(data).reverse_qargs().data   # qubit 0 first
    return measure(torch.as_tensor(rho).unsqueeze(0), circuit.n_qubits,
                   circuit.postselect, circuit.outputs, spec.readout)


class NoisyBatch:
    """Circuits grouped by shape, simulated together.

    ``index`` maps symbol names to positions in the weight vector given
    to :meth:`run` (by default the symbols in order of appearance).
    """

    def __init__(self, circuits: Sequence[NoisyCircuit],
                 index: Mapping[str, int] | None = None) -> None:
        if index is None:
            names = list(dict.fromkeys(s for c in circuits
                                       for s in c.symbols))
            index = {s: i for i, s in enumerate(names)}
        self.size = len(circuits)
        by_shape: dict[tuple, list[int]] = {}
        for k, circuit in enumerate(circuits):
            by_shape.setdefault(circuit.shape(), []).append(k)
        self.groups = [(_Group([circuits[k] for k in members], index),
                        members) for members in by_shape.values()]
        self._order: dict[tuple, Any] = {}   # by backend (run)

    def _rows_in_input_order(self) -> torch.Tensor:
        """Where each input's row is among the groups' rows."""
        found = torch.tensor([k for _, members in self.groups
                              for k in members], dtype=torch.long)
        return torch.argsort(found)

    @classmethod
    def repeated(cls, circuit: NoisyCircuit, rows: torch.Tensor
                 ) -> "NoisyBatch":
        """``len(rows)`` copies of ``circuit`` (one shape, compiled once)
        whose symbols, in ``circuit.symbols`` order, take the weights at
        positions ``rows[k]``: a data circuit (the VQC) whose samples
        differ only in their feature values, without a circuit object
        per sample.

        >>> c = NoisyCircuit.from_ops(1, [('rx', (0,), 'a')], {}, [0])
        >>> batch = NoisyBatch.repeated(c, torch.tensor([[0], [1]]))
        >>> w = torch.tensor([0.0, 1.0], dtype=torch.float64)
        >>> batch.run(w).probabilities.round(decimals=3).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        batch = cls([circuit])
        group = batch.groups[0][0]
        group.symbol_index = torch.as_tensor(rows, dtype=torch.long
                                             ).reshape(len(rows), -1)
        batch.size, batch.groups = len(rows), [(group, list(range(
            len(rows))))]
        return batch

    def run(self, weights: torch.Tensor, spec: NoiseSpec = NoiseSpec(),
            fold: tuple[str, int] | None = None) -> Result:
        """Every circuit under ``spec`` (optionally folded), in the order
        given. Outputs must have one size."""
        sizes = {len(g.outputs) for g, _ in self.groups}
        if len(sizes) > 1:
            raise ConfigError("noisy engine: circuits have outputs of "
                              "different sizes")
        backend = _Backend.of(weights)
        values = backend.input(weights)
        results = [group.run(values, spec, fold, backend) for group, _ in
                   self.groups]
        order = backend.cached(self._order, self._rows_in_input_order)
        return Result(*(backend.output(backend.cat(parts)[order])
                        for parts in zip(*results)))
