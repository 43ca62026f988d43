"""``qnlp evaluate RUN CORPUS --backend NAME`` or ``--noise MODEL``.

Command-line glue only: shots on a quantum backend are
:func:`qnlp.tasks.backend.evaluate_on_backend` (``--noise fake:NAME``:
on aer with that device's noise model); ``--noise P`` without a backend
is the exact noisy evaluation :func:`qnlp.noise.evaluate.evaluate_noisy`,
with ``--mitigate``; ``--mitigate zne`` with a backend or a fake device
folds the circuits (:func:`qnlp.noise.folding.evaluate_zne_on_backend`).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from qnlp.errors import ConfigError

if TYPE_CHECKING:
    from qnlp.noise.channels import NoiseSpec


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs to a dict; values parsed as JSON when they can.

    >>> parse_options(['n_qubits=20', 'simulation_method=statevector'])
    {'n_qubits': 20, 'simulation_method': 'statevector'}
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise ConfigError(f"--backend-option expects KEY=VALUE, got "
                              f"{pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _tell(estimate: Any) -> None:
    print(f"qnlp: submitting {estimate}", file=sys.stderr)


def _ask(estimate: Any) -> bool:
    try:
        answer = input("submit? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ('y', 'yes')


def run_noise(args: argparse.Namespace) -> int:
    """Handle ``qnlp evaluate ... --noise MODEL`` without a backend."""
    from qnlp.noise.evaluate import evaluate_noisy, format_noise_report
    result = evaluate_noisy(args.run_dir, args.data, args.noise,
                            mitigate=args.mitigate,
                            extrapolator=args.extrapolator,
                            amplifier=args.amplify or 'channels',
                            seed=args.seed)
    print(json.dumps(result, indent=2) if args.json
          else format_noise_report(result))
    return 0


def _device(args: argparse.Namespace, options: dict[str, Any]
            ) -> tuple[str, Any, NoiseSpec | None]:
    """The folder name, backend object (``None``: ``get_backend`` builds
    it) and noise model of ``--backend`` and ``--noise``.

    ``--noise`` means what it means on the exact engine
    (:func:`~qnlp.noise.parse_noise`: ``P`` is ``p2=P, p1=P/10``), here on
    native gates (:meth:`~qnlp.noise.NoiseSpec.to_aer_native`; all-to-all
    qubits, as many as the widest circuit, at least 16); ``fake:NAME`` is
    a device's model. Either runs on its basis gates
    (:class:`~qnlp.noise.devices.NativeGates`), so Aer applies the one-
    and two-qubit errors alike with and without ``--mitigate``. The folder
    ``aer-noise<label>-native`` (e.g. ``aer-noisep1=0.001,p2=0.01-native``)
    keeps the jobs apart from those of earlier models (``aer-noiseP``,
    ``aer-noiseP-native``: depolarizing ``P`` after one-qubit gates too).
    """
    from qnlp.engine.backends import backend_label, get_backend
    from qnlp.noise import parse_noise
    from qnlp.noise.devices import NativeGates, fake_noise_model, is_fake
    backend = args.backend or 'aer'
    fake = is_fake(args.noise)
    noise = None if args.noise is None or fake else parse_noise(args.noise)
    noise = noise or None   # a noiseless spec is no noise
    if (fake or noise) and backend != 'aer':
        raise ConfigError(f"--noise {args.noise} runs on --backend aer")
    if noise:
        return backend_label(backend, noise, options), \
            get_backend('aer', options, noise), noise
    if not fake:
        return backend, None, noise
    model = fake_noise_model(args.noise)
    name = backend_label(f"aer-{args.noise.replace(':', '-')}", None,
                         options)
    return f"{name}-native", NativeGates(
        get_backend('aer', {**options, 'noise_model': model}), model), noise


def run_zne_on_shots(args: argparse.Namespace, options: dict[str, Any],
                     confirm_above: Any) -> int:
    """Handle ``--mitigate zne`` with ``--backend`` or ``--noise
    fake:NAME``: mitiq's folding, each scale run with shots."""
    from qnlp.engine.backends import backend_label, get_backend
    from qnlp.noise.evaluate import format_noise_report
    from qnlp.noise.folding import evaluate_zne_on_backend
    if args.mitigate != 'zne':
        raise ConfigError("--mitigate zne-nn runs on the exact noisy engine "
                          "(--noise P without --backend); on shots use "
                          "--mitigate zne")
    amplifier = args.amplify or 'gates'
    if amplifier == 'channels':
        raise ConfigError("--amplify channels scales the exact engine's "
                          "channels; on shots the circuits are folded: "
                          "--amplify gates or global")
    label, backend, _ = _device(args, options)
    if backend is None:   # no noise model: the backend's own noise
        backend, label = get_backend(label, options), \
            backend_label(label, None, options)
    result = evaluate_zne_on_backend(
        args.run_dir, args.data, backend, label, args.shots,
        method=amplifier, extrapolator=args.extrapolator, seed=args.seed,
        batch_size=args.batch_size,
        optimisation_level=args.optimisation_level,
        confirm_above=confirm_above,
        confirm=_ask if sys.stdin.isatty() else None,
        progress=not args.quiet, in_flight=args.in_flight,
        resubmit_lost=args.resubmit_lost, on_estimate=_tell)
    print(json.dumps(result, indent=2) if args.json
          else format_noise_report(result))
    return 0


def run_backend(args: argparse.Namespace) -> int:
    """Handle ``qnlp evaluate ... --backend`` or ``--noise``."""
    from qnlp.noise.devices import is_fake
    from qnlp.tasks.backend import (AUTO, evaluate_on_backend,
                                    format_backend_report)
    if args.mitigate and not args.noise and not args.backend:
        raise ConfigError("--mitigate needs noise: --noise P (exact "
                          "engine), --backend aer --noise P --shots S, or "
                          "--noise fake:NAME")
    if not args.backend and not is_fake(args.noise):
        return run_noise(args)
    options = parse_options(args.backend_option)
    if args.yes:
        confirm_above: Any = None
    else:
        confirm_above = args.confirm_above if args.confirm_above is not None \
            else AUTO
    if args.mitigate:
        return run_zne_on_shots(args, options, confirm_above)
    backend, backend_object, noise = _device(args, options)
    result = evaluate_on_backend(
        args.run_dir, args.data, backend=backend, shots=args.shots,
        batch_size=args.batch_size, seed=args.seed, noise=noise,
        options=options, backend_object=backend_object,
        optimisation_level=args.optimisation_level,
        confirm_above=confirm_above,
        confirm=_ask if sys.stdin.isatty() else None,
        progress=not args.quiet, in_flight=args.in_flight,
        resubmit_lost=args.resubmit_lost, on_estimate=_tell)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_backend_report(result))
    return 0
