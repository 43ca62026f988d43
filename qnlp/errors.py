"""One hierarchy of errors for everything qnlp reports about bad input.

The CLI turns any :class:`QnlpError` into one line on stderr and exit
status 2; library users can catch the specific subclasses.

>>> err = CorpusError("no label", path="train.txt", line=3)
>>> str(err)
'train.txt:3: no label'
>>> isinstance(err, QnlpError) and isinstance(err, ValueError)
True
"""
from __future__ import annotations


class QnlpError(ValueError):
    """Base class of every error qnlp raises for bad input or state."""


class CorpusError(QnlpError):
    """A corpus file is missing or malformed; names the file and line."""

    def __init__(self, message: str, path: str | None = None,
                 line: int | None = None) -> None:
        self.message, self.path, self.line = message, path, line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class ParseError(QnlpError):
    """A sentence could not be turned into a diagram."""

    def __init__(self, message: str, sentence: str | None = None,
                 token: str | None = None,
                 position: int | None = None) -> None:
        self.message, self.sentence = message, sentence
        self.token, self.position = token, position
        text = message
        if token is not None:
            text += f" at token {position} {token!r}"
        if sentence is not None:
            text += f" in sentence {sentence!r}"
        super().__init__(text)


class CompileError(QnlpError):
    """A diagram cannot be compiled into a circuit or simulation plan."""


class UnknownSymbolError(CompileError, KeyError):
    """A diagram uses a parameter symbol the model does not know."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        super().__init__(f"unknown symbol {symbol!r}: it was not among the "
                         "symbols the model was built with")

    def __str__(self) -> str:  # KeyError would otherwise add quotes
        return self.args[0]


class CheckpointError(QnlpError):
    """A checkpoint or run directory is missing, corrupt or mismatched."""


class ConfigError(QnlpError):
    """A configuration value or command-line option is invalid."""


class BackendError(QnlpError):
    """A quantum backend is unknown, not installed, lacks credentials, or
    refused or lost a job."""


class DeviceError(ConfigError):
    """A requested device (e.g. ``cuda``) or floating type is unavailable."""


class SweepError(QnlpError):
    """Tasks of a sweep (``qnlp compare``) failed; names each one."""


class TrainingError(QnlpError):
    """Training cannot go on: the loss or the weights became NaN or
    infinite (usually a learning rate that is too large)."""
