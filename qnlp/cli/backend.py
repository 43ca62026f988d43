"""``qnlp evaluate RUN CORPUS --backend NAME`` or ``--noise MODEL``.

Command-line glue only: shots on a quantum backend are
:func:`qnlp.tasks.backend.evaluate_on_backend` (``--noise fake:NAME``:
on aer with that device's noise model); ``--noise P`` without a backend
is the exact noisy evaluation :func:`qnlp.noise.evaluate.evaluate_noisy`,
with ``--mitigate``.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from qnlp.errors import ConfigError


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


def _noise_value(noise: str) -> float:
    try:
        return float(noise)
    except ValueError:
        raise ConfigError(f"--noise with --backend takes a probability P "
                          f"or fake:NAME, got {noise!r}") from None


def run_noise(args: argparse.Namespace) -> int:
    """Handle ``qnlp evaluate ... --noise MODEL`` without a backend."""
    from qnlp.noise.evaluate import evaluate_noisy, format_noise_report
    result = evaluate_noisy(args.run_dir, args.data, args.noise,
                            mitigate=args.mitigate,
                            extrapolator=args.extrapolator,
                            amplifier=args.amplify, seed=args.seed)
    print(json.dumps(result, indent=2) if args.json
          else format_noise_report(result))
    return 0


def run_backend(args: argparse.Namespace) -> int:
    """Handle ``qnlp evaluate ... --backend`` or ``--noise``."""
    from qnlp.noise.devices import fake_noise_model, is_fake
    from qnlp.tasks.backend import (AUTO, evaluate_on_backend,
                                    format_backend_report)
    if args.mitigate and (args.backend or not args.noise
                          or is_fake(args.noise)):
        raise ConfigError("--mitigate runs on the exact noisy engine: give "
                          "--noise P (or channel strengths) and no "
                          "--backend")
    if not args.backend and not is_fake(args.noise):
        return run_noise(args)
    options = parse_options(args.backend_option)
    backend, noise, backend_object = args.backend or 'aer', None, None
    if is_fake(args.noise):
        if backend != 'aer':
            raise ConfigError("--noise fake:NAME runs on --backend aer")
        from qnlp.engine.backends import get_backend
        backend_object = get_backend('aer', {
            **options, 'noise_model': fake_noise_model(args.noise)})
        backend = f"aer-{args.noise.replace(':', '-')}"
    elif args.noise is not None:
        noise = _noise_value(args.noise)
    if args.yes:
        confirm_above: Any = None
    else:
        confirm_above = args.confirm_above if args.confirm_above is not None \
            else AUTO
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
