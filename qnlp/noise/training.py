"""Noise-aware training: a DisCoCat classifier run in the exact noisy
engine.

``qnlp train --task sentences ... --train-noise MODEL`` (``MODEL`` as
``--noise``: ``P`` or ``p2=..,readout=..``) trains, selects on dev and
evaluates a :class:`NoisyClassifier`: the same weights, symbols and
checkpoints as :class:`~qnlp.models.DisCoCatClassifier`, but its
circuits run as :class:`~qnlp.noise.density.NoisyBatch` es under the
noise model, differentiably, so the optimiser sees the noisy class
probabilities. A run resumes like any other (the checkpoint is the
classifier's).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from qnlp.models import DisCoCatClassifier
from qnlp.noise.channels import NoiseSpec
from qnlp.noise.density import NoisyBatch, NoisyCircuit


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


class NoisyClassifier(DisCoCatClassifier):
    """:class:`~qnlp.models.DisCoCatClassifier` whose circuits run under
    ``noise`` in the exact noisy engine (``noise=NoiseSpec()``: the
    noiseless circuits, as density matrices)."""

    def __init__(self, *args: Any, noise: NoiseSpec = NoiseSpec(),
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noise = noise

    def prepare(self, circuits: Sequence[Any]) -> NoisyPrepared:
        return NoisyPrepared([NoisyCircuit.from_lambeq(c) for c in circuits],
                             weight_index(self.engine))

    def forward(self, circuits: Sequence[Any] | NoisyPrepared
                ) -> torch.Tensor:
        prepared = circuits if isinstance(circuits, NoisyPrepared) else \
            self.prepare(circuits)
        result = prepared.batch.run(self.flat_weights(), self.noise)
        probs = result.probabilities[:, :self.n_classes]
        total = probs.sum(dim=1, keepdim=True)
        return probs / torch.where(total > 0, total, torch.ones_like(total))
