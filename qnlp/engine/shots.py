"""Shot-based execution with post-selection on pytket backends.

The exact engine computes probabilities; hardware and simulators return
counts. :func:`run_shots` runs measured pytket circuits (every qubit ``i``
measured into bit ``i``) on a pytket backend (qiskit-aer's ``AerBackend``
by default, optionally with a noise model), keeps the shots whose
post-selected bits read their values, and returns the normalised
distribution over the output bits together with the number of shots kept.

>>> from pytket import Circuit
>>> circuit = Circuit(2, 2).H(0).CX(0, 1).Measure(0, 0).Measure(1, 1)
>>> [(probs, kept)] = run_shots([circuit], [{0: 1}], [[1]],
...                                      shots=100, seed=1)
>>> probs.tolist(), kept > 0
([0.0, 1.0], True)
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from qnlp.engine.backends import get_backend
from qnlp.engine.jobs import run_jobs
from qnlp.errors import CompileError


def aer_backend(noise_model: Any = None) -> Any:
    """pytket-qiskit's ``AerBackend`` (qiskit-aer), optionally with a
    qiskit noise model; :func:`qnlp.engine.backends.get_backend` builds
    it."""
    return get_backend('aer', None if noise_model is None
                       else {'noise_model': noise_model})


def counts_to_distribution(counts: Mapping[tuple[int, ...], int],
                           postselect: Mapping[int, int],
                           outputs: Sequence[int]) -> tuple[np.ndarray, int]:
    """Post-select ``counts`` (bit tuples) and tally the output bits.

    Returns the normalised distribution over ``outputs`` (first output
    most significant) and the number of shots that passed.

    >>> counts_to_distribution({(0, 1): 3, (1, 0): 1, (0, 0): 1}, {0: 0}, [1])
    (array([0.25, 0.75]), 4)
    """
    tally = np.zeros(2 ** len(outputs))
    for bits, number in counts.items():
        if all(bits[q] == v for q, v in postselect.items()):
            index = 0
            for q in outputs:
                index = 2 * index + int(bits[q])
            tally[index] += number
    kept = int(tally.sum())
    return (tally / kept if kept else tally), kept


def run_shots(circuits: Sequence[Any], postselects: Sequence[Mapping[int, int]],
              outputs: Sequence[Sequence[int]], shots: int = 8192,
              seed: int = 0, backend: Any = None,
              store: str | Path | None = None
              ) -> list[tuple[np.ndarray, int]]:
    """Run measured pytket circuits with ``shots`` each, post-selected.

    ``circuits[k]`` measures qubit ``i`` into bit ``i``; ``postselects[k]``
    maps bits to required values and ``outputs[k]`` lists the result
    bits. Returns ``(distribution, kept_shots)`` per circuit; a
    distribution is all zeros when no shot passed. Submission goes
    through :func:`qnlp.engine.jobs.run_jobs` in one batch; ``store`` is
    its job store file (give one to pick the jobs up after a kill; by
    default a temporary file).
    """
    if shots <= 0:
        raise CompileError(f"shots must be positive, got {shots}")
    backend = backend or aer_backend()
    with tempfile.TemporaryDirectory() as scratch:
        outcome = run_jobs(backend, circuits, shots,
                           store or Path(scratch) / 'jobs.json',
                           batch_size=max(1, len(circuits)), seed=seed,
                           optimisation_level=0)
    return [counts_to_distribution(counts, postselect, output)
            for counts, postselect, output in zip(outcome.counts,
                                                  postselects, outputs)]
