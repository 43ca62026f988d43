"""Sizes qnlp refuses up front, because past them the work never ends.

Each limit is checked before any expensive work, and a value past it is a
:class:`~qnlp.errors.ConfigError` (a :class:`~qnlp.errors.ParseError`
for sentence length) that names the value and the limit, so the command
line prints one line and exits with status 2 instead of hanging.

>>> at_most(3, MAX_LAYERS, 'ansatz layers')
3
>>> at_most(100_000, MAX_LAYERS, 'ansatz layers')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: ansatz layers 100000 is above the limit of 64
"""
from __future__ import annotations

from qnlp.errors import ConfigError

#: Longest sentence the parser takes, in tokens. Real sentences are far
#: shorter (the longest of the Penn Treebank has about 140 tokens), and a
#: 256-token sentence still parses, or fails to, in seconds; the beam
#: search grows faster than linearly, so a 10,000-word line would take
#: many minutes.
MAX_TOKENS = 256

#: Most ansatz layers (repetitions) of any circuit builder. Trained
#: circuits use 1 to 4; every layer adds gates and parameters to every
#: word or block, so 100,000 layers would never finish building.
MAX_LAYERS = 64

#: Most qubits of a compiled circuit simulated exactly: pytket's own
#: simulator (``Circuit.get_statevector``, behind
#: :meth:`~qnlp.compiler.CompiledCircuit.probabilities`) refuses more.
MAX_STATEVECTOR_QUBITS = 11

#: Most qubits of the dense-simulation models (variational classifier,
#: quantum kernel, quantum layers): they build ``2**n``-amplitude states
#: for every sample and ``2**n x 2**n`` unitaries, 256 MiB of complex128
#: at 12 qubits, before any batch or gradient.
MAX_DENSE_QUBITS = 12

#: Most qubits of one grammar wire (noun ``n`` or sentence ``s``) in an
#: ansatz. A word box spans several wires (a transitive verb three), so
#: its tensor has ``2**(3q)`` entries; 8 qubits already make 16 million,
#: and the sentence wire's 8 qubits read out up to 256 classes.
MAX_WIRE_QUBITS = 8

#: Most qubits of one token wire of the sequence classifiers: their merges
#: are ``4**q x 4**q`` transfer matrices on density matrices, applied once
#: per token, so past 4 qubits (65,536 x 65,536 entries at 8) a sequence
#: is hopeless on any machine.
MAX_SEQUENCE_QUBITS = 4


def at_most(value: int, limit: int, what: str,
            error: type[ConfigError] = ConfigError) -> int:
    """``value`` if it is at most ``limit``; else ``error`` naming both.

    >>> at_most(5, MAX_SEQUENCE_QUBITS, 'qubits per token wire')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: qubits per token wire 5 is above the limit of 4
    """
    if value > limit:
        raise error(f"{what} {value} is above the limit of {limit}")
    return value
