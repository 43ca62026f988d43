"""A trained sentence run on a quantum backend, beside the exact engine.

:func:`evaluate_on_backend` loads a ``qnlp train`` run, compiles the
sentences of a corpus (its test split, or all of a file) with the trained
weights bound, runs them on a pytket backend through the resumable job
store of :mod:`qnlp.engine.jobs` (``RUN/backend/LABEL/jobs.json``),
post-selects the counts, and reports per sentence the class
probabilities from shots next to the exact ones, the total variation
distance, the shots kept, and accuracy both ways. The report is written
to ``RUN/backend/LABEL/results.json``.

>>> import tempfile
>>> from qnlp.tasks import train
>>> run = tempfile.mkdtemp() + '/r'
>>> _ = train('sentences', 'corpora/meaning', run, {'epochs': 2},
...           progress=False)
>>> result = evaluate_on_backend(run, 'corpora/meaning/test.txt', shots=256,
...                              batch_size=16, progress=False)
>>> result['summary']['sentences'], result['jobs']['circuits']['submitted']
(30, 30)
>>> result['summary']['mean_tvd'] < 0.1
True
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import torch

from qnlp.errors import ConfigError
from qnlp.files import atomic_write_json

if TYPE_CHECKING:
    from qnlp.noise.channels import NoiseSpec

#: Sub-folder of a run directory holding one folder per backend.
BACKEND_DIR = 'backend'
JOBS_FILE = 'jobs.json'
RESULTS_FILE = 'results.json'
#: ``confirm_above`` value meaning: ask above the default for remote
#: backends, never for local simulators.
AUTO = 'auto'


def _class_probabilities(distribution: np.ndarray, n_classes: int
                         ) -> np.ndarray:
    """The first ``n_classes`` outcomes renormalised, as the classifier
    reads them (all zeros stay zeros)."""
    probs = np.asarray(distribution[:n_classes], dtype=float)
    total = probs.sum()
    return probs / total if total > 0 else probs


def evaluate_on_backend(
        run_dir: str | Path, corpus_path: str | Path, backend: str = 'aer',
        shots: int = 1024, batch_size: int = 20, seed: int = 0,
        noise: NoiseSpec | None = None,
        options: Mapping[str, Any] | None = None,
        optimisation_level: int = 1,
        confirm_above: int | None | str = AUTO,
        confirm: Callable[[Any], bool] | None = None,
        candidates: Sequence[str] = ('tket', 'zx-postselect', 'pyzx'),
        progress: bool = True,
        on_batch: Callable[[dict[str, Any]], None] | None = None,
        backend_object: Any = None,
        in_flight: int | None = None,
        resubmit_lost: bool = False,
        on_estimate: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Run the sentences of ``corpus_path`` on ``backend`` with the
    weights of ``run_dir``; returns (and writes) the report.

    ``backend``, ``noise`` and ``options`` select the pytket backend (see
    :func:`qnlp.engine.backends.get_backend`; ``backend_object`` gives
    one directly, ``backend`` then only names its folder). ``batch_size``
    circuits go in each job; ``confirm_above`` shots need ``confirm``
    (``None``: never ask; ``'auto'``: 100,000 shots on remote backends).
    ``in_flight`` batches are submitted ahead of retrieval (default: all
    on remote backends, one on local simulators); ``resubmit_lost``
    pays again for remote jobs whose handles cannot be retrieved;
    ``on_estimate`` is told the cost (a
    :class:`~qnlp.engine.jobs.CostEstimate`) before anything is submitted.
    Running it again reuses every finished job.
    """
    from qnlp.compiler import CIRCUIT_ANSATZE, Compiler, hardware_refusal
    from qnlp.engine.backends import NOISE_QUBITS, backend_label, \
        get_backend
    from qnlp.engine.jobs import JobStore, default_confirm_above, run_jobs
    from qnlp.engine.shots import counts_to_distribution
    from qnlp.tasks.sentences import load_sentence_run
    start = time.perf_counter()
    # a given backend object: ``backend`` alone names its folder
    label = backend_label(backend) if backend_object is not None \
        else backend_label(backend, noise, options)
    if backend_object is None and noise is None:   # fail fast
        backend_object = get_backend(backend, options)
    trained = load_sentence_run(run_dir)
    ansatz = trained.config['settings'].get('ansatz', 'iqp')
    refusal = hardware_refusal(ansatz)
    if refusal:
        raise ConfigError(f"{run_dir}: the {ansatz!r} ansatz {refusal}; only "
                          f"circuit ansätze ({', '.join(CIRCUIT_ANSATZE)}) "
                          "run on quantum backends")
    # Read as the run read its corpus (format and columns of its settings).
    texts, given = trained.task.examples(str(corpus_path), trained.settings,
                                         trained.config)
    if not texts:
        raise ConfigError(f"{corpus_path}: no sentences to evaluate")
    labels = trained.labels
    unknown = sorted(set(given) - set(labels))
    if unknown:
        raise ConfigError(f"{corpus_path}: labels {unknown} were not in "
                          f"training (labels {labels})")
    truth = [labels.index(label) for label in given]

    circuits = trained.model.pipeline.circuits(texts)
    trained.model.extend_symbols(circuits, fill=0.0)
    with torch.no_grad():
        exact = trained.model(circuits).numpy()
    values = trained.model.parameter_values()
    compiler = Compiler(trained.model.pipeline.ansatz, candidates=candidates,
                        frobenius=trained.model.pipeline.frobenius)
    items = circuits
    if progress:
        from tqdm import tqdm
        items = tqdm(circuits, desc='compile', unit='circuit')
    compiled = [compiler.compile(c, values) for c in items]
    measured = [c.to_tket() for c in compiled]

    if backend_object is None:   # a noise model needs the qubit count
        backend_object = get_backend(
            backend, options, noise, n_qubits=max(
                NOISE_QUBITS, *(c.circuit.n_qubits for c in compiled)))
    if confirm_above == AUTO:
        confirm_above = default_confirm_above(backend_object)
    folder = Path(run_dir) / BACKEND_DIR / label
    store = JobStore(folder / JOBS_FILE, type(backend_object).__name__)
    outcome = run_jobs(backend_object, measured, shots, store,
                       batch_size=batch_size, seed=seed,
                       optimisation_level=optimisation_level,
                       confirm_above=confirm_above, confirm=confirm,
                       progress=progress, on_batch=on_batch,
                       in_flight=in_flight, resubmit_lost=resubmit_lost,
                       on_estimate=on_estimate)

    n_classes = len(labels)
    rows = []
    for text, gold, probs, circuit, counts in zip(
            texts, truth, exact, compiled, outcome.counts):
        distribution, kept = counts_to_distribution(
            counts, circuit.postselect, circuit.outputs)
        measured_probs = _class_probabilities(distribution, n_classes)
        row = {'text': text, 'label': labels[gold],
               'exact': probs.tolist(), 'shots': measured_probs.tolist(),
               'kept': kept,
               'tvd': float(0.5 * np.abs(measured_probs - probs).sum())
               if kept else None,
               'predicted_exact': labels[int(np.argmax(probs))],
               'predicted_shots': labels[int(np.argmax(measured_probs))]
               if kept else None,
               'qubits': circuit.circuit.n_qubits,
               'two_qubit_gates': circuit.stats.get('two_qubit_gates')}
        if circuit.circuit.n_qubits <= 20:
            row['success_probability'] = circuit.success_probability()
        rows.append(row)
    tvds = [r['tvd'] for r in rows if r['tvd'] is not None]
    successes = [r['success_probability'] for r in rows
                 if 'success_probability' in r]
    summary = {
        'sentences': len(rows), 'shots': shots,
        'accuracy_exact': float(np.mean([r['predicted_exact'] == r['label']
                                         for r in rows])),
        'accuracy_shots': float(np.mean([r['predicted_shots'] == r['label']
                                         for r in rows])),
        'agreement': float(np.mean([r['predicted_shots'] ==
                                    r['predicted_exact'] for r in rows])),
        'mean_tvd': float(np.mean(tvds)) if tvds else None,
        'max_tvd': float(np.max(tvds)) if tvds else None,
        'kept_fraction': float(np.mean([r['kept'] for r in rows]) / shots),
        'expected_kept_fraction': float(np.mean(successes))
        if successes else None,
        'no_shots_kept': sum(1 for r in rows if not r['kept']),
        'seconds': time.perf_counter() - start}
    result = {'backend': backend, 'label': label,
              'backend_class': type(backend_object).__name__,
              'run': str(run_dir), 'corpus': str(corpus_path),
              'settings': {'shots': shots, 'batch_size': batch_size,
                           'seed': seed,
                           'noise': None if noise is None
                           else noise.label(),
                           'optimisation_level': optimisation_level,
                           'in_flight': in_flight},
              'estimate': str(outcome.estimate),
              'jobs': outcome.report.to_dict(), 'summary': summary,
              'jobs_file': str(store.path), 'sentences': rows}
    atomic_write_json(folder / RESULTS_FILE, result)
    return result


def format_backend_report(result: Mapping[str, Any]) -> str:
    """A short text report of :func:`evaluate_on_backend`'s result.

    >>> print(format_backend_report({'backend': 'aer', 'summary': {
    ...     'sentences': 2, 'shots': 100, 'accuracy_exact': 1.0,
    ...     'accuracy_shots': 0.5, 'agreement': 0.5, 'mean_tvd': 0.1,
    ...     'max_tvd': 0.2, 'kept_fraction': 0.25,
    ...     'expected_kept_fraction': 0.26, 'no_shots_kept': 0},
    ...     'jobs': {'circuits': {'reused': 1, 'recovered': 0,
    ...     'resubmitted': 0, 'submitted': 1}, 'batches': {'reused': 1,
    ...     'recovered': 0, 'resubmitted': 0, 'submitted': 1},
    ...     'warnings': []}, 'jobs_file': 'run/backend/aer/jobs.json'}))
    backend aer: 2 sentences x 100 shots
    accuracy  exact 1.0000  shots 0.5000  (same prediction 50.0 %)
    total variation distance  mean 0.1000  max 0.2000
    shots kept by post-selection 25.0 % (exact 26.0 %)
    circuits  reused 1  recovered 0  resubmitted 0  submitted 1
    batches   reused 1  recovered 0  resubmitted 0  submitted 1
    jobs in run/backend/aer/jobs.json
    """
    s = result['summary']
    jobs = result['jobs']
    lines = [f"backend {result['backend']}: {s['sentences']} sentences x "
             f"{s['shots']} shots",
             f"accuracy  exact {s['accuracy_exact']:.4f}  shots "
             f"{s['accuracy_shots']:.4f}  (same prediction "
             f"{100 * s['agreement']:.1f} %)"]
    if s['mean_tvd'] is not None:
        lines.append(f"total variation distance  mean {s['mean_tvd']:.4f}"
                     f"  max {s['max_tvd']:.4f}")
    expected = s.get('expected_kept_fraction')
    lines.append(f"shots kept by post-selection {100 * s['kept_fraction']:.1f}"
                 " %" + (f" (exact {100 * expected:.1f} %)"
                         if expected is not None else '')
                 + (f"; {s['no_shots_kept']} sentences kept none"
                    if s['no_shots_kept'] else ''))
    for what in ('circuits', 'batches'):
        c = jobs[what]
        lines.append(f"{what:<8}  reused {c['reused']}  recovered "
                     f"{c['recovered']}  resubmitted {c['resubmitted']}  "
                     f"submitted {c['submitted']}")
    lines.extend(f"warning: {w}" for w in jobs.get('warnings', []))
    lines.append(f"jobs in {result['jobs_file']}")
    return '\n'.join(lines)
