"""Exact noisy simulation: density matrices through Kraus channels.

A :class:`NoisyCircuit` is a circuit of ``rx``, ``ry``, ``rz`` and ``cx``
gates (angles as sympy expressions of the model's symbols, in half-turns
as pytket has them), the post-selection map and the output qubits, made
from a lambeq circuit by :meth:`NoisyCircuit.from_lambeq` (lambeq's
pytket conversion, rebased). :class:`NoisyBatch` groups circuits of one
shape (same gates, symbols renamed in order of appearance) and evolves
their density matrices together, ``[batch, 2^n, 2^n]``, in torch:
differentiable in the weights, on their device and type. After each gate
the channels of a :class:`~qnlp.noise.channels.NoiseSpec` act; at the
end readout errors flip the measured bits, the post-selected bits are
kept and the output distribution is renormalised.

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
from typing import Any, Mapping, NamedTuple, Sequence

import sympy
import torch

from qnlp.engine.device import complex_dtype
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
        :func:`qnlp.compiler.tket.to_tket` rebased to CX, Rx, Rz."""
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
        rename = {sympy.Symbol(s): sympy.Symbol(f'x{i}')
                  for i, s in enumerate(self.symbols)}
        angles = tuple(None if a is None else str(a.xreplace(rename))
                       for a in self.angles)
        return (self.n_qubits, tuple(self.ops), angles,
                tuple(sorted(self.postselect.items())), tuple(self.outputs))

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


class Result(NamedTuple):
    """Post-selected output distributions ``[batch, 2^outputs]`` and the
    probability that post-selection succeeds ``[batch]``."""
    probabilities: torch.Tensor
    success: torch.Tensor


def _mix(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``u`` ``[batch or 1, 2, 2]`` on axis 2 of ``x`` ``[batch, L, 2,
    R]``, written out (much faster than a batched ``matmul`` of 2 x 2
    blocks)."""
    u = u.unsqueeze(-1).unsqueeze(-1)
    x0, x1 = x[:, :, 0], x[:, :, 1]
    return torch.stack([u[:, 0, 0] * x0 + u[:, 0, 1] * x1,
                        u[:, 1, 0] * x0 + u[:, 1, 1] * x1], 2)


def _one_qubit(rho: torch.Tensor, u: torch.Tensor, q: int, n: int
               ) -> torch.Tensor:
    """``U rho U^dag`` for ``u`` of shape ``[batch or 1, 2, 2]`` on qubit
    ``q`` of ``rho`` ``[batch, 2^n, 2^n]`` (qubit 0 most significant):
    ``u`` on the row index, its conjugate on the column index."""
    batch, d = rho.shape[0], 2 ** n
    left, right = 2 ** q, 2 ** (n - q - 1)
    rows = _mix(rho.reshape(batch, left, 2, right * d), u)
    both = _mix(rows.reshape(batch, d * left, 2, right), u.conj())
    return both.reshape(batch, d, d)


def _cx(rho: torch.Tensor, control: int, target: int, n: int
        ) -> torch.Tensor:
    """``CX rho CX``: on rows, then on columns, the ``control = 1`` half
    has its ``target`` bit flipped."""
    batch, d = rho.shape[0], 2 ** n
    for offset in (0, n):   # rows, then columns
        rho = _flip(rho, offset + control, offset + target, 2 * n)
    return rho.reshape(batch, d, d)


def _flip(rho: torch.Tensor, control: int, target: int, axes: int
          ) -> torch.Tensor:
    """Flip axis ``target`` where axis ``control`` is 1, over ``rho``
    seen as ``[batch] + [2] * axes``."""
    x = rho.reshape(rho.shape[0], *[2] * axes)
    zero, one = x.select(1 + control, 0), x.select(1 + control, 1)
    axis = target if target < control else target - 1
    return torch.stack([zero, one.flip(1 + axis)], 1 + control)


def _depolarize(rho: torch.Tensor, p: float, qubits: tuple[int, ...],
                n: int) -> torch.Tensor:
    """``(1 - p) rho + p Tr_q[rho] (x) I / 2^k`` on ``qubits``."""
    batch, k = rho.shape[0], len(qubits)
    full = rho.reshape(batch, *[2] * (2 * n))
    qubits = tuple(sorted(qubits))
    reduced = 0
    for bits in itertools.product((0, 1), repeat=k):
        index = [slice(None)] * (2 * n + 1)
        for q, b in zip(qubits, bits):
            index[1 + q] = index[1 + n + q] = b
        reduced = reduced + full[tuple(index)]
    shape = [batch] + [1 if q in qubits else 2 for q in range(n)] * 2
    eye_shape = [1] * (2 * n + 1)
    for q in qubits:
        eye_shape[1 + q] = eye_shape[1 + n + q] = 2
    eye = torch.eye(2 ** k, dtype=rho.dtype, device=rho.device) / 2 ** k
    mixed = reduced.reshape(shape) * eye.reshape(eye_shape)
    return (1 - p) * rho + p * mixed.reshape(rho.shape)


def _rotation(name: str, theta: torch.Tensor, dtype: torch.dtype
              ) -> torch.Tensor:
    """Batched ``[B, 2, 2]`` rotation matrices of ``theta`` radians."""
    c = torch.cos(theta / 2).to(dtype)
    s = torch.sin(theta / 2).to(dtype)
    zero = torch.zeros_like(c)
    if name == 'rx':
        rows = [[c, -1j * s], [-1j * s, c]]
    elif name == 'ry':
        rows = [[c, -s], [s, c]]
    else:
        rows = [[c - 1j * s, zero], [zero, c + 1j * s]]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


class _Group:
    """Circuits of one shape: the angle functions compiled once."""

    def __init__(self, circuits: list[NoisyCircuit], index: Mapping[str, int]
                 ) -> None:
        first = circuits[0]
        self.n = first.n_qubits
        self.ops = first.ops
        self.postselect = first.postselect
        self.outputs = first.outputs
        arity = len(first.symbols)
        xs = sympy.symbols(f'x0:{arity}') if arity else ()
        rename = {sympy.Symbol(s): x for s, x in zip(first.symbols, xs)}
        exprs = [a.xreplace(rename) for a in first.angles if a is not None]
        self.angle_function = sympy.lambdify(
            xs, exprs, modules=[{'sin': torch.sin, 'cos': torch.cos,
                                 'exp': torch.exp, 'sqrt': torch.sqrt}])
        missing = sorted({s for c in circuits for s in c.symbols} -
                         set(index))
        if missing:
            raise ConfigError(f"noisy engine: no weight for symbols "
                              f"{missing[:5]}")
        self.symbol_index = torch.tensor(
            [[index[s] for s in c.symbols] for c in circuits],
            dtype=torch.long).reshape(len(circuits), arity)

    def angles(self, weights: torch.Tensor) -> torch.Tensor:
        """``[batch, rotations]`` angles in radians."""
        batch = self.symbol_index.shape[0]
        values = weights[self.symbol_index.to(weights.device)]
        columns = self.angle_function(*values.unbind(1))
        columns = [torch.as_tensor(c, dtype=weights.dtype,
                                   device=weights.device).expand(batch)
                   for c in columns]
        if not columns:
            return torch.zeros(batch, 0, dtype=weights.dtype)
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

    def run(self, weights: torch.Tensor, spec: NoiseSpec,
            fold: tuple[str, int] | None) -> Result:
        n, dtype = self.n, complex_dtype(weights.dtype)
        angles = self.angles(weights)
        batch = angles.shape[0]
        rho = torch.zeros(batch, 2 ** n, 2 ** n, dtype=dtype,
                          device=weights.device)
        rho[:, 0, 0] = 1
        rotation = {}
        column = 0
        for k, (name, _) in enumerate(self.ops):
            if name != 'cx':
                rotation[k] = column
                column += 1
        damping = damping_kraus(spec.amplitude, spec.phase, dtype)
        damping = [d.to(weights.device).unsqueeze(0) for d in damping]
        for k, sign in self.sequence(fold):
            name, qubits = self.ops[k]
            if name == 'cx':
                rho = _cx(rho, *qubits, n)
            else:
                u = _rotation(name, sign * angles[:, rotation[k]], dtype)
                rho = _one_qubit(rho, u, qubits[0], n)
            strength = spec.p2 if name in TWO_QUBIT else \
                spec.p1 if name in ONE_QUBIT_NOISY else None
            if strength is None:
                continue
            if strength:
                rho = _depolarize(rho, strength, qubits, n)
            if len(damping) > 1:
                for q in qubits:
                    rho = sum(_one_qubit(rho, d, q, n) for d in damping)
        return measure(rho, n, self.postselect, self.outputs, spec.readout)


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

    def run(self, weights: torch.Tensor, spec: NoiseSpec = NoiseSpec(),
            fold: tuple[str, int] | None = None) -> Result:
        """Every circuit under ``spec`` (optionally folded), in the order
        given. Outputs must have one size."""
        sizes = {len(g.outputs) for g, _ in self.groups}
        if len(sizes) > 1:
            raise ConfigError("noisy engine: circuits have outputs of "
                              "different sizes")
        probabilities: list[Any] = [None] * self.size
        success: list[Any] = [None] * self.size
        for group, members in self.groups:
            result = group.run(weights, spec, fold)
            for row, k in enumerate(members):
                probabilities[k] = result.probabilities[row]
                success[k] = result.success[row]
        return Result(torch.stack(probabilities), torch.stack(success))
