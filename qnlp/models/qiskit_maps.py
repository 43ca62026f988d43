"""Feature maps given as qiskit circuits, run by qnlp's statevector engine.

A qiskit ``QuantumCircuit`` whose parameters are the features (e.g. a
``ParameterVector('x', n)``) and, optionally, trainable weights
(``training_parameters``) is translated once into a list of gates of
:class:`~qnlp.engine.statevector.Statevector` (decomposed, or transpiled,
to ``h``, ``x``, ``rx``, ``ry``, ``rz``, ``p``, ``cx``, ``cz``; a ``u``
gate as ``P RY P``); every
angle is its parameter expression turned into a torch function (via
sympy), so a whole batch of samples runs at once and autograd reaches
the trainable weights. Features fill the circuit's other parameters in
qiskit's order (``circuit.parameters``: by name, vector elements by
index), as qiskit-machine-learning's kernels fill them.

>>> from qiskit.circuit.library import zz_feature_map
>>> import torch
>>> fmap = QiskitFeatureMap(zz_feature_map(2, reps=1))
>>> fmap.n_qubits, fmap.n_features, fmap.n_weights
(2, 2, 0)
>>> tuple(fmap.state(torch.rand(5, 2, dtype=torch.float64)).amplitudes.shape)
(5, 4)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from qnlp.engine.statevector import Statevector
from qnlp.errors import ConfigError

#: The gates the circuit is translated into (all of them Statevector's).
BASIS = ('h', 'x', 'rx', 'ry', 'rz', 'p', 'cx', 'cz')
#: sympy's functions as torch's, for the angle expressions.
_TORCH = {'sin': torch.sin, 'cos': torch.cos, 'tan': torch.tan,
          'exp': torch.exp, 'log': torch.log, 'sqrt': torch.sqrt,
          'asin': torch.asin, 'acos': torch.acos, 'atan': torch.atan,
          'Abs': torch.abs, 'pi': math.pi, 'E': math.e}


@dataclass(frozen=True)
class _Gate:
    name: str
    qubits: tuple[int, ...]
    angle: Callable[..., Any] | None    # of (features..., weights...)


def _compile(expression: Any, parameters: Sequence[Any]
             ) -> Callable[..., Any]:
    """A qiskit angle (a number or a ParameterExpression) as a function
    of all ``parameters`` (torch tensors or numbers)."""
    if not hasattr(expression, 'sympify'):
        value = float(expression)
        return lambda *_: value
    import sympy
    symbols = [sympy.Symbol(p.name) for p in parameters]
    return sympy.lambdify(symbols, expression.sympify(),
                          modules=[_TORCH, 'math'], dummify=True)


def _in_basis(circuit: Any) -> Any:
    """``circuit`` in :data:`BASIS` gates: as it is when it is already
    (qiskit's feature maps mostly are), else decomposed a few times, and
    as the last resort transpiled (slower: qiskit's transpiler loads its
    passes on first use)."""
    for instruction in circuit.data:
        if instruction.clbits or instruction.operation.name in (
                'measure', 'reset'):
            raise ConfigError(f"the feature map's "
                              f"{instruction.operation.name!r} (measurements"
                              ", resets, classical control) has no "
                              "statevector form")

    def done(c: Any) -> bool:
        return all(i.operation.name in BASIS + ('u', 'barrier')
                   for i in c.data)
    for _ in range(4):
        if done(circuit):
            return circuit
        circuit = circuit.decompose()
    from qiskit import transpile
    return transpile(circuit, basis_gates=list(BASIS), optimization_level=0)


class QiskitFeatureMap:
    """A parametrised qiskit circuit as a batched torch feature map.

    ``training_parameters``: the circuit's parameters that are weights
    (a ``ParameterVector`` or a list), in the order of the weight vector
    given to :meth:`state`; every other parameter is a feature.
    """

    def __init__(self, circuit: Any,
                 training_parameters: Sequence[Any] | None = None) -> None:
        trained = list(training_parameters or [])
        unknown = set(trained) - set(circuit.parameters)
        if unknown:
            raise ConfigError(f"training parameters "
                              f"{sorted(p.name for p in unknown)} are not "
                              f"parameters of the circuit")
        self.circuit = circuit
        self.features = [p for p in circuit.parameters if p not in trained]
        self.weights = trained
        self.n_qubits = circuit.num_qubits
        order = self.features + self.weights
        flat = _in_basis(circuit)
        self.gates: list[_Gate] = []
        for instruction in flat.data:
            name = instruction.operation.name
            if name == 'barrier':
                continue
            qubits = tuple(flat.find_bit(q).index
                           for q in instruction.qubits)
            params = instruction.operation.params
            if name == 'u':
                # U(theta, phi, lam) = P(phi) RY(theta) P(lam), exactly
                theta, phi, lam = params
                self.gates += [_Gate('p', qubits, _compile(lam, order)),
                               _Gate('ry', qubits, _compile(theta, order)),
                               _Gate('p', qubits, _compile(phi, order))]
                continue
            if name not in BASIS:
                raise ConfigError(f"the feature map's gate {name!r} did "
                                  f"not translate into {', '.join(BASIS)}")
            self.gates.append(_Gate(
                name, qubits,
                _compile(params[0], order) if params else None))
        self.global_phase = _compile(flat.global_phase, order)

    def __getstate__(self) -> dict[str, Any]:
        # the lambdified angles do not pickle: rebuild them from the circuit
        return {'circuit': self.circuit, 'weights': self.weights}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state['circuit'], state['weights'])

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_weights(self) -> int:
        return len(self.weights)

    def state(self, x: torch.Tensor, dtype: torch.dtype = torch.complex128,
              device: Any = None, weights: torch.Tensor | None = None
              ) -> Statevector:
        """The encoded states of features ``x`` ``(batch, n_features)``
        with ``weights`` ``(n_weights,)`` (complex ``dtype``, on
        ``device``)."""
        x = torch.as_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected features of shape (batch, "
                             f"{self.n_features}), got {tuple(x.shape)}")
        state = Statevector.zeros(len(x), self.n_qubits, dtype, device)
        real = state.amplitudes.real.dtype
        x = x.to(device=state.device, dtype=real)
        if self.n_weights and (weights is None
                               or tuple(weights.shape) != (self.n_weights,)):
            raise ValueError(f"expected {self.n_weights} weights, got "
                             f"{None if weights is None else tuple(weights.shape)}")
        values = list(x.T) + (list(weights.to(state.device, real))
                              if self.n_weights else [])
        for gate in self.gates:
            method = getattr(state, gate.name)
            if gate.angle is None:
                method(*gate.qubits)
            else:
                method(gate.angle(*values), *gate.qubits)
        phase = torch.as_tensor(self.global_phase(*values),
                                dtype=real, device=state.device)
        if phase.dim() or float(phase) != 0.0:
            amplitudes = state.amplitudes * torch.polar(
                torch.ones_like(phase), phase).reshape(-1, 1)
            state = Statevector(amplitudes)
        return state

    def to_qiskit(self) -> Any:
        """The circuit itself."""
        return self.circuit
