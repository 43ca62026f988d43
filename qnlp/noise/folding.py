"""Zero-noise extrapolation on shots: mitiq's unitary folding of the
circuits a backend runs.

The exact engine scales channel strengths; a simulator with a noise
model or a device cannot, so the noise is amplified by folding, ``G ->
G G^-1 G`` (mitiq's ``fold_gates_at_random`` for ``gates``,
``fold_global`` for ``global``, scale factors 1, 3, 5).

* :func:`fold` folds one measured pytket circuit with mitiq, through
  pytket-qiskit's conversion (mitiq folds qiskit circuits), keeping its
  qubit and bit names (the conversion keeps them; the idle qubits qiskit's
  registers add are removed).
* :class:`FoldingBackend` wraps a pytket backend: it compiles as the
  backend does, *then* folds and rebases the folds to the backend's
  gates, so no optimisation of the backend cancels them.
* :func:`evaluate_zne_on_backend` runs a trained run's circuits once per
  scale factor through :func:`qnlp.tasks.backend.evaluate_on_backend`
  (each scale its own resumable job folder ``RUN/backend/LABEL-x3``),
  turns each sentence's post-selected class probabilities and kept shots
  into joint probabilities of passing post-selection with each class
  (expectation values), extrapolates them to zero noise with mitiq's fits
  and renormalises, as the exact path does
  (:mod:`qnlp.noise.evaluate`).

>>> from pytket import Circuit
>>> circuit = Circuit(2, 2).Rx(0.3, 0).CX(0, 1).Measure(0, 0).Measure(1, 1)
>>> folded = fold(circuit, 3)
>>> folded.n_2qb_gates(), folded.qubits == circuit.qubits
(3, True)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from qnlp.errors import ConfigError

#: Folding methods (mitiq's functions) and the default scale factors.
FOLDS = {'gates': 'fold_gates_at_random', 'global': 'fold_global'}
SCALES = (1, 3, 5)


def _fold_function(method: str) -> Any:
    if method not in FOLDS:
        raise ConfigError(f"unknown folding {method!r} on shots; known: "
                          f"{', '.join(FOLDS)} (channel scaling needs the "
                          "exact engine)")
    try:
        from mitiq.zne import scaling
    except ImportError:
        raise ConfigError("zero-noise extrapolation needs mitiq: pip "
                          "install 'qnlp[noise]'") from None
    return getattr(scaling, FOLDS[method])


def fold(circuit: Any, scale: float, method: str = 'gates',
         seed: int = 0) -> Any:
    """``circuit`` (pytket, bound, measured) folded by mitiq to ``scale``
    (1: a copy), with the original qubit and bit names."""
    function = _fold_function(method)
    if scale == 1:
        return circuit.copy()
    try:
        from pytket.extensions.qiskit import qiskit_to_tk, tk_to_qiskit
    except ImportError:
        raise ConfigError("folding on shots needs pytket-qiskit: pip "
                          "install 'qnlp[noise]'") from None
    kwargs = {'seed': seed} if method == 'gates' else {}
    try:
        folded = qiskit_to_tk(function(tk_to_qiskit(circuit), scale,
                                       **kwargs))
    except ModuleNotFoundError as error:   # mitiq's qiskit conversion
        raise ConfigError(f"mitiq cannot fold qiskit circuits here "
                          f"({error}): pip install 'qnlp[noise]'") from None
    folded.remove_blank_wires()   # qiskit's registers fill index gaps
    if set(folded.qubits) != set(circuit.qubits) or \
            set(folded.bits) != set(circuit.bits):
        raise ConfigError(f"folding renamed the circuit's qubits or bits "
                          f"({circuit.qubits} -> {folded.qubits})")
    return folded


class FoldingBackend:
    """``backend`` with its compiled circuits folded to ``scale``
    (mitiq, ``method``); every other attribute is the backend's."""

    def __init__(self, backend: Any, scale: float, method: str = 'gates',
                 seed: int = 0) -> None:
        _fold_function(method)
        self.backend, self.scale = backend, scale
        self.method, self.seed = method, seed

    def get_compiled_circuits(self, circuits: Sequence[Any],
                              optimisation_level: int = 2) -> list[Any]:
        """Compiled by the backend, folded, the folds rebased to its
        gates (a rebase cancels nothing)."""
        compiled = self.backend.get_compiled_circuits(
            circuits, optimisation_level=optimisation_level)
        folded = [fold(c, self.scale, self.method, self.seed)
                  for c in compiled]
        rebase = self.backend.rebase_pass()
        for circuit in folded:
            rebase.apply(circuit)
        return folded

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def _joint(row: Mapping[str, Any], shots: int) -> np.ndarray:
    """A sentence's joint probabilities of passing post-selection with
    each class, from its post-selected class probabilities and kept
    shots."""
    return np.asarray(row['shots'], dtype=float) * row['kept'] / shots


def evaluate_zne_on_backend(run_dir: str | Path, data: str | Path,
                            backend: Any, label: str, shots: int,
                            method: str = 'gates',
                            scales: Sequence[float] = SCALES,
                            extrapolator: str = 'richardson',
                            seed: int = 0, **options: Any
                            ) -> dict[str, Any]:
    """The sentences of ``data`` run with ``shots`` on ``backend`` (a
    pytket backend, e.g. Aer with a noise model) at each folding
    ``scales`` factor, unmitigated (scale 1) and extrapolated.

    Jobs go to ``RUN/backend/LABEL-zne-METHOD-xS/jobs.json`` (rerunning
    reuses them), the report to ``RUN/backend/LABEL-zne-METHOD/
    results.json``; ``options`` are passed on to
    :func:`~qnlp.tasks.backend.evaluate_on_backend` (batch size,
    optimisation level, progress, ...).
    """
    from qnlp.files import atomic_write_json
    from qnlp.noise.zne import as_probabilities, extrapolate
    from qnlp.tasks.backend import BACKEND_DIR, RESULTS_FILE, \
        evaluate_on_backend
    from qnlp.tasks.runner import load_trained
    start = time.perf_counter()
    if sorted(scales)[0] != 1 or len(set(scales)) < 2:
        raise ConfigError(f"ZNE scale factors must include 1 and one more, "
                          f"got {list(scales)}")
    trained = load_trained(run_dir)
    classes = len(trained.labels)
    if classes & (classes - 1):   # kept shots outside the classes unknown
        raise ConfigError(f"{run_dir}: ZNE on shots needs the classes to be "
                          f"all outcomes of the sentence qubits (a power of "
                          f"2), got {classes} classes")
    name = f"{label}-zne-{method}"
    runs = [evaluate_on_backend(
        run_dir, data, backend=f"{name}-x{s:g}", shots=shots, seed=seed,
        backend_object=FoldingBackend(backend, s, method, seed), **options)
        for s in scales]
    sentences = runs[0]['sentences']
    exact = np.array([r['exact'] for r in sentences])
    joint = np.stack([[_joint(r, shots) for r in run['sentences']]
                      for run in runs], -1)          # [sentences, classes, s]
    columns = {'noiseless': exact,
               'noisy': np.array([r['shots'] for r in sentences]),
               'mitigated': as_probabilities(extrapolate(
                   [float(s) for s in scales], joint, extrapolator))}
    truth = np.array([trained.labels.index(r['label']) for r in sentences])
    summary: dict[str, Any] = {'examples': len(sentences), 'shots': shots,
                               'scales': list(scales),
                               'total_shots': shots * len(sentences)
                               * len(scales)}
    for column, probs in columns.items():
        summary[f'accuracy_{column}'] = float(
            (probs.argmax(1) == truth).mean())
        if column != 'noiseless':
            summary[f'mae_{column}'] = float(np.abs(probs - exact).mean())
    summary['error_removed'] = 1 - summary['mae_mitigated'] / \
        summary['mae_noisy'] if summary['mae_noisy'] > 0 else None
    summary['kept_fraction'] = [run['summary']['kept_fraction']
                                for run in runs]
    summary['seconds'] = time.perf_counter() - start
    folder = Path(run_dir) / BACKEND_DIR / name
    result = {'run': str(run_dir), 'data': str(data),
              'settings': {'noise': label, 'mitigate': 'zne',
                           'extrapolator': extrapolator,
                           'amplifier': method, 'shots': shots},
              'summary': summary,
              'jobs_files': [run['jobs_file'] for run in runs],
              'examples': [{'input': r['text'], 'label': r['label'],
                            **{c: p[k].tolist() for c, p in
                               columns.items()},
                            'joint': joint[k].tolist()}
                           for k, r in enumerate(sentences)]}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / RESULTS_FILE, result)
    result['results_file'] = str(folder / RESULTS_FILE)
    return result
