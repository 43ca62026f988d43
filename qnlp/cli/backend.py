"""``qnlp evaluate RUN CORPUS --backend NAME``: shots on a quantum backend.

Command-line glue only; the work is done by
:func:`qnlp.tasks.backend.evaluate_on_backend`.
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


def run_backend(args: argparse.Namespace) -> int:
    """Handle ``qnlp evaluate ... --backend``."""
    from qnlp.tasks.backend import (AUTO, evaluate_on_backend,
                                        format_backend_report)
    if args.yes:
        confirm_above: Any = None
    else:
        confirm_above = args.confirm_above if args.confirm_above is not None \
            else AUTO
    result = evaluate_on_backend(
        args.run_dir, args.data, backend=args.backend, shots=args.shots,
        batch_size=args.batch_size, seed=args.seed, noise=args.noise,
        options=parse_options(args.backend_option),
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
