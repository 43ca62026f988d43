"""The ``qnlp`` command-line interface."""
from qnlp.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
