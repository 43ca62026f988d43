"""Noise-aware and shot-based training: circuit models run in the exact
noisy engine.

``qnlp train ... --train-noise MODEL`` (``MODEL`` as ``--noise``: ``P``
or ``p2=..,readout=..``) trains, selects on dev and evaluates a model
whose circuits run as :class:`~qnlp.noise.density.NoisyBatch` es under
the noise model, differentiably, so the optimiser sees the noisy class
probabilities: :class:`NoisyClassifier` (``--task sentences``: the same
weights, symbols and checkpoints as
:class:`~qnlp.models.DisCoCatClassifier`) and :class:`NoisyVQC`
(``--task sentiment --model vqc``: the same weights as
:class:`~qnlp.models.vqc.VQCModel`, its circuit from
:func:`vqc_circuit`).

``--train-shots S`` (with or without noise) makes every training forward
pass see outcome frequencies of ``S`` shots per circuit drawn from the
exact distribution (:func:`sample_shots`, as a device would give them;
shots failing post-selection are discarded) instead of the
probabilities. Sampled frequencies have no gradient, so shot training
takes a gradient-free optimiser: SPSA (two sampled loss evaluations per
step whatever the number of weights; parameter shift would need two
per rotation angle, hundreds for a DisCoCat vocabulary) or
COBYLA/Nelder-Mead. Dev selection and scores use the exact
distribution. The sampler's generator state is a buffer of the model
(``shot_generator``), so it is in every checkpoint and a resumed run
draws the same shots.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from qnlp.engine.plan import class_probabilities
from qnlp.errors import ConfigError
from qnlp.models import DisCoCatClassifier
from qnlp.models.vqc import VQCModel
from qnlp.noise.channels import NoiseSpec
from qnlp.noise.density import NoisyBatch, NoisyCircuit, Result

#: Mixed into the run's seed for the shot sampler's generator (a stream
#: apart from the weights' initialisation).
SHOT_SEED = 0x5EED5


def sample_shots(result: Result, shots: int, generator: torch.Generator
                 ) -> torch.Tensor:
    """Post-selected outcome frequencies ``[batch, outputs]`` of
    ``shots`` shots per circuit drawn from the exact ``result``: a shot
    fails post-selection with probability ``1 - success`` and is
    discarded; a circuit none of whose shots pass gets the uniform
    distribution. No gradient.

    >>> r = Result(torch.tensor([[0.25, 0.75]], dtype=torch.float64),
    ...            torch.tensor([0.5], dtype=torch.float64))
    >>> f = sample_shots(r, 4000, torch.Generator().manual_seed(0))
    >>> bool(abs(f[0, 1] - 0.75) < 0.03), f.sum().item()
    (True, 1.0)
    """
    probabilities = result.probabilities.detach().double().cpu()
    joint = probabilities * result.success.detach().double().cpu()[:, None]
    failed = (1 - joint.sum(1, keepdim=True)).clamp(min=0)
    outcomes = torch.cat([joint, failed], 1)
    draws = torch.multinomial(outcomes, shots, replacement=True,
                              generator=generator)
    counts = torch.zeros_like(outcomes).scatter_add_(
        1, draws, torch.ones_like(draws, dtype=outcomes.dtype))[:, :-1]
    kept = counts.sum(1, keepdim=True)
    uniform = torch.full_like(counts, 1 / counts.shape[1])
    frequencies = torch.where(kept > 0, counts / kept.clamp(min=1), uniform)
    return frequencies.to(result.probabilities)


class ShotSampled(torch.nn.Module):
    """A model whose training forward passes see :func:`sample_shots`
    of ``shots`` shots (0: the exact probabilities); the generator's
    state is the buffer ``shot_generator``."""

    shots: int = 0

    def init_shots(self, shots: int, seed: int) -> None:
        self.shots = int(shots)
        if self.shots:
            self.register_buffer('shot_generator', torch.Generator(
            ).manual_seed(seed ^ SHOT_SEED).get_state())

    def observed(self, result: Result) -> torch.Tensor:
        """The post-selected distributions the forward pass uses: sampled
        while training with shots, else exact."""
        if not (self.shots and self.training):
            return result.probabilities
        generator = torch.Generator()
        generator.set_state(self.shot_generator.cpu())
        found = sample_shots(result, self.shots, generator)
        self.shot_generator.copy_(generator.get_state())
        return found


def weight_index(engine: Any) -> dict[str, int]:
    """Symbol name -> its position in the engine's flat weight vector."""
    return {name: engine.symbol_slice(name).start for name in engine.symbols}


class NoisyPrepared:
    """Circuits converted once for the noisy engine; :meth:`select` takes
    minibatches without converting again (their shapes are grouped when
    first run)."""

    def __init__(self, circuits: Sequence[NoisyCircuit],
                 index: Mapping[str, int]) -> None:
        self.circuits, self.index = list(circuits), dict(index)
        self._batch: NoisyBatch | None = None

    def __len__(self) -> int:
        return len(self.circuits)

    @property
    def batch(self) -> NoisyBatch:
        if self._batch is None:
            self._batch = NoisyBatch(self.circuits, self.index)
        return self._batch

    def select(self, index: Sequence[int]) -> "NoisyPrepared":
        return NoisyPrepared([self.circuits[k] for k in index], self.index)


class NoisyClassifier(ShotSampled, DisCoCatClassifier):
    """:class:`~qnlp.models.DisCoCatClassifier` whose circuits run under
    ``noise`` in the exact noisy engine (``noise=NoiseSpec()``: the
    noiseless circuits, as density matrices), trained on ``shots``
    sampled shots when given (:class:`ShotSampled`)."""

    def __init__(self, *args: Any, noise: NoiseSpec = NoiseSpec(),
                 shots: int = 0, shot_seed: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noise = noise
        self.init_shots(shots, shot_seed)

    def prepare(self, circuits: Sequence[Any]) -> NoisyPrepared:
        return NoisyPrepared([NoisyCircuit.from_lambeq(c) for c in circuits],
                             weight_index(self.engine))

    def forward(self, circuits: Sequence[Any] | NoisyPrepared
                ) -> torch.Tensor:
        prepared = circuits if isinstance(circuits, NoisyPrepared) else \
            self.prepare(circuits)
        result = prepared.batch.run(self.flat_weights(), self.noise)
        return class_probabilities(self.observed(result), self.n_classes)


def vqc_circuit(model: VQCModel) -> NoisyCircuit:
    """The VQC's angle feature map and EfficientSU2 ansatz as a
    :class:`~qnlp.noise.density.NoisyCircuit` of ``rx``/``ry``/``rz``/
    ``cx``, gate for gate as :meth:`VQCModel.to_qiskit
    <qnlp.models.circuits.EfficientSU2.to_qiskit>` has them: symbols
    ``x{q}`` (feature ``q``, radians) and ``w{i}`` (weight ``i``); the
    outputs are every qubit, qubit ``q`` bit ``q`` of the outcome index
    (the statevector's order).

    >>> model = VQCModel(2, reps=1)
    >>> circuit = vqc_circuit(model)
    >>> [name for name, _ in circuit.ops]
    ['ry', 'ry', 'ry', 'ry', 'rz', 'rz', 'cx', 'ry', 'ry', 'rz', 'rz']
    >>> circuit.symbols[:3], circuit.outputs
    (['x0', 'x1', 'w0'], [1, 0])
    """
    import sympy

    from qnlp.engine.gates import entangler_pairs
    from qnlp.models.circuits import AngleEncoding
    encoding, ansatz = model.feature_map, model.ansatz
    if not isinstance(encoding, AngleEncoding):
        raise ConfigError(f"noise and shots take the VQC's angle feature "
                          f"map, not {type(encoding).__name__}: use "
                          "--feature-map angle")
    n, turn = ansatz.n_qubits, 1 / sympy.pi      # radians -> half-turns
    ops: list[tuple] = [(encoding.rotation, (q,),
                         encoding.scale * sympy.Symbol(f'x{q}') * turn)
                        for _ in range(encoding.reps) for q in range(n)]
    pairs = entangler_pairs(ansatz.entanglement, n)
    for layer in range(ansatz.reps + 1):
        for k, gate in enumerate(('ry', 'rz')):
            ops += [(gate, (q,), sympy.Symbol(f'w{(2 * layer + k) * n + q}')
                     * turn) for q in range(n)]
        if layer < ansatz.reps:
            ops += [('cx', pair) for pair in pairs]
    return NoisyCircuit.from_ops(n, ops, {}, list(reversed(range(n))))


class NoisyFeatures:
    """A VQC's samples prepared for the noisy engine: the features and
    one :class:`~qnlp.noise.density.NoisyBatch` of the circuit repeated
    (built when first run); :meth:`select` takes minibatches."""

    def __init__(self, features: torch.Tensor) -> None:
        self.features = features
        self._batch: NoisyBatch | None = None

    def __len__(self) -> int:
        return len(self.features)

    def select(self, index: Sequence[int]) -> "NoisyFeatures":
        return NoisyFeatures(self.features[list(index)])

    def batch(self, circuit: NoisyCircuit, n_weights: int) -> NoisyBatch:
        """The samples' circuits; the weight vector run with them is the
        ansatz weights, then the features row by row."""
        if self._batch is None:
            n = self.features.shape[1]
            base = torch.tensor([n_weights + int(s[1:]) if s[0] == 'x'
                                 else int(s[1:]) for s in circuit.symbols])
            feature = torch.tensor([s[0] == 'x' for s in circuit.symbols])
            rows = base + feature * n * torch.arange(len(self))[:, None]
            self._batch = NoisyBatch.repeated(circuit, rows)
        return self._batch


class NoisyVQC(ShotSampled, VQCModel):
    """:class:`~qnlp.models.vqc.VQCModel` (same weights and checkpoints)
    whose circuits run under ``noise`` in the exact noisy engine, trained
    on ``shots`` sampled shots when given (:class:`ShotSampled`); class 1
    is ``(1 - <O>) / 2`` of the outcome distribution, for a read-out of
    ``I`` and ``Z`` (parity or ``z``).

    >>> plain = VQCModel(3, reps=1, seed=0)
    >>> noisy = NoisyVQC(3, reps=1, seed=0)
    >>> x = torch.rand(4, 3, dtype=torch.float64)
    >>> torch.allclose(noisy(noisy.prepare(x)), plain(plain.prepare(x)))
    True
    """

    def __init__(self, *args: Any, noise: NoiseSpec = NoiseSpec(),
                 shots: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.observable.diagonal:
            raise ConfigError("noise and shots take a read-out of I and Z "
                              "(parity or z)")
        self.noise = noise
        self.circuit = vqc_circuit(self)
        self.init_shots(shots, kwargs.get('seed', 0))

    def prepare(self, features: Any) -> NoisyFeatures:
        x = torch.as_tensor(features, dtype=torch.float64)
        if x.dim() != 2 or x.shape[1] != self.n_qubits:
            raise ValueError(f"expected features of shape (batch, "
                             f"{self.n_qubits}), got {tuple(x.shape)}")
        return NoisyFeatures(x)

    def distributions(self, prepared: NoisyFeatures,
                      noise: NoiseSpec | None = None,
                      fold: tuple[str, int] | None = None) -> Result:
        """Exact outcome distributions of the samples under ``noise``
        (default the model's), optionally folded."""
        batch = prepared.batch(self.circuit, self.weights.numel())
        values = torch.cat([self.weights, prepared.features.to(
            self.weights).reshape(-1)])
        return batch.run(values, self.noise if noise is None else noise,
                         fold)

    def forward(self, prepared: NoisyFeatures) -> torch.Tensor:
        found = self.observed(self.distributions(prepared))
        signs = self.observable.signs(found.dtype, found.device)
        p = ((1 - found @ signs) / 2).clamp(0.0, 1.0)
        return torch.stack([1 - p, p], dim=1)
