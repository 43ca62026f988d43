"""Protein sequences as sentences: tokenisers and chain/tree circuits.

Tokenisers turn a sequence into tokens: single residues, k-mers, or
residues of a reduced physico-chemical alphabet (20 letters -> a few
groups). A token becomes a one-qubit state ``Rz(b) Rx(a) |0>`` whose two
angles belong to the token (shared by every position).

Two readers join token qubits with the same *merge* block: a trainable
two-wire circuit (``layers`` x [Rz Ry Rz on every qubit, XX/YY/ZZ
interactions between neighbours], see :func:`merge_gates`) after which the
right wire is discarded, a completely positive map from two wires to one.

* :func:`chain_circuit` (RNN-style): a hidden qubit starts in ``|0>`` and
  is merged with each token in turn.
* :func:`tree_circuit` (CNN-style): neighbouring wires are merged level by
  level (window 2, stride 2); an odd wire out is carried up unchanged.

Sharing: ``uniform`` uses one merge block everywhere; ``hierarchical``
uses one per tree level, or one per block of ``block`` chain positions.
The circuits are ordinary lambeq diagrams (draw, compile, export them);
:class:`qnlp.models.SequenceClassifier` evaluates the same maps as a
batched scan for long sequences.

>>> circuit = tree_circuit(tokenise_protein('MKLV'), layers=1,
...                        sharing='hierarchical')
>>> len(circuit.cod), sorted({s.name.rsplit('_', 1)[0] for s in circuit.free_symbols})
(1, ['K__tok', 'L__tok', 'M__tok', 'V__tok', 'merge@L0', 'merge@L1'])
"""
from __future__ import annotations

from typing import Sequence

from lambeq.backend import quantum as q
from lambeq.backend.symbol import Symbol

from qnlp.errors import ConfigError

#: Reduced alphabets: residue -> group letter.
REDUCED_ALPHABETS: dict[str, dict[str, str]] = {
    # hydrophobic / polar
    'hp': {**{a: 'h' for a in 'AVLIMFWCY'}, **{a: 'p' for a in
                                               'GPSTNQDEKRH'}},
    # six physico-chemical groups
    'six': {**{a: 'a' for a in 'AVLIM'}, **{a: 'r' for a in 'FWY'},
            **{a: 'c' for a in 'C'}, **{a: 'p' for a in 'STNQGP'},
            **{a: 'n' for a in 'DE'}, **{a: 'b' for a in 'KRH'}},
}


def tokenise_protein(sequence: str, scheme: str = 'residue', k: int = 1
                     ) -> list[str]:
    """Tokens of ``sequence``: ``residue``, ``kmer`` (non-overlapping
    ``k``-mers) or a reduced alphabet name (``hp``, ``six``).

    >>> tokenise_protein('MKLVA', 'kmer', 2), tokenise_protein('MKD', 'six')
    (['MK', 'LV', 'A'], ['a', 'b', 'n'])
    """
    sequence = sequence.upper()
    if scheme == 'residue':
        return list(sequence)
    if scheme == 'kmer':
        if k < 1:
            raise ConfigError(f"k must be positive, got {k}")
        return [sequence[i:i + k] for i in range(0, len(sequence), k)]
    if scheme in REDUCED_ALPHABETS:
        groups = REDUCED_ALPHABETS[scheme]
        return [groups.get(residue, 'x') for residue in sequence]
    raise ConfigError(f"unknown tokeniser {scheme!r}: residue, kmer, "
                      f"{', '.join(REDUCED_ALPHABETS)}")


def token_state(token: str, qubits: int = 1) -> q.Diagram:
    """The state of ``token``: ``Rz(b_i) Rx(a_i) |0>`` on each qubit."""
    state = q.Id(q.qubit ** 0)
    for i in range(qubits):
        state = state @ (q.Ket(0) >> q.Rx(Symbol(f'{token}__tok_{2 * i}'))
                         >> q.Rz(Symbol(f'{token}__tok_{2 * i + 1}')))
    return state


#: A gate of a merge block: (name, wires, angle) where angle is the index
#: of the block's symbol (``int``), a fixed phase in half turns (``float``)
#: or None; names are lambeq gate names ('Ry', 'Rz', 'H', 'S', 'Z', 'CX').
Gate = tuple


def _interaction(axis: str, a: int, b: int, angle: int) -> list[Gate]:
    """``exp(-i pi t P(x)P)`` for P = X, Y or Z on wires ``a``, ``b``:
    a basis change, CX, Rz(t) on ``b``, CX, and the basis change undone."""
    # S then H takes Y to -Z (so Y (x) Y to Z (x) Z); H, S, Z undoes it.
    change = {'z': [], 'x': [('H', None)],
              'y': [('S', None), ('H', None)]}[axis]
    undo = {'z': [], 'x': [('H', None)],
            'y': [('H', None), ('S', None), ('Z', None)]}[axis]
    gates: list[Gate] = [(name, (w,), phase) for name, phase in change
                         for w in (a, b)]
    gates += [('CX', (a, b), None), ('Rz', (b,), angle), ('CX', (a, b), None)]
    gates += [(name, (w,), phase) for name, phase in undo for w in (a, b)]
    return gates


def merge_gates(qubits: int = 1, layers: int = 2) -> list[Gate]:
    """The gates of a merge block on ``2 * qubits`` wires.

    Each layer: ``Rz Ry Rz`` on every qubit, then ``XX``, ``YY`` and ``ZZ``
    interactions between neighbouring qubits, so one layer on two qubits
    is a general two-qubit unitary up to a last single-qubit layer, and
    all angles zero is the identity (a block starts close to "keep the
    hidden state", which lets long chains train).

    >>> len(merge_gates(1, 1)), n_merge_angles(1, 1)
    (29, 9)
    """
    width = 2 * qubits
    gates: list[Gate] = []
    index = 0
    for _ in range(layers):
        for wire in range(width):
            for name in ('Rz', 'Ry', 'Rz'):
                gates.append((name, (wire,), index))
                index += 1
        for wire in range(width - 1):
            for axis in 'xyz':
                gates += _interaction(axis, wire, wire + 1, index)
                index += 1
    return gates


def n_merge_angles(qubits: int = 1, layers: int = 2) -> int:
    """Number of trainable angles of one merge block."""
    width = 2 * qubits
    return layers * (3 * width + 3 * (width - 1))


def _gate_diagram(name: str, wires: tuple, phase, width: int) -> q.Diagram:
    if name == 'CX':
        gate = q.CX
    elif name in ('H', 'S', 'Z'):
        gate = getattr(q, name)
    else:
        gate = getattr(q, name)(phase)
    first = min(wires)
    return (q.Id(q.qubit ** first) @ gate
            @ q.Id(q.qubit ** (width - first - len(gate.dom))))


def merge_block(name: str, layers: int, qubits: int = 1) -> q.Diagram:
    """Two wires of ``qubits`` qubits to one: the gates of
    :func:`merge_gates` (symbols ``{name}_{i}``), then the right wire is
    discarded."""
    width = 2 * qubits
    block = q.Id(q.qubit ** width)
    for gate, wires, angle in merge_gates(qubits, layers):
        phase = Symbol(f'{name}_{angle}') if isinstance(angle, int) \
            else angle
        block = block >> _gate_diagram(gate, wires, phase, width)
    discard = q.Id(q.qubit ** 0)
    for _ in range(qubits):
        discard = discard @ q.Discard()
    return block >> q.Id(q.qubit ** qubits) @ discard


def _check(tokens: Sequence[str], layers: int) -> None:
    if not tokens:
        raise ConfigError("empty sequence")
    if layers < 1:
        raise ConfigError(f"layers must be positive, got {layers}")


def chain_circuit(tokens: Sequence[str], layers: int = 2,
                  sharing: str = 'uniform', block: int = 128,
                  qubits: int = 1) -> q.Diagram:
    """The RNN-style circuit: a hidden wire merged with each token."""
    _check(tokens, layers)
    circuit = q.Ket(*[0] * qubits)
    for position, token in enumerate(tokens):
        name = merge_name(sharing, position // block, 'B')
        circuit = ((circuit @ token_state(token, qubits))
                   >> merge_block(name, layers, qubits))
    return circuit


def tree_circuit(tokens: Sequence[str], layers: int = 2,
                 sharing: str = 'uniform', qubits: int = 1) -> q.Diagram:
    """The CNN-style circuit: neighbours merged level by level."""
    _check(tokens, layers)
    circuit = token_state(tokens[0], qubits)
    for token in tokens[1:]:
        circuit = circuit @ token_state(token, qubits)
    width, level = len(tokens), 0
    while width > 1:
        block = merge_block(merge_name(sharing, level, 'L'), layers, qubits)
        layer = q.Id(q.qubit ** 0)
        for _ in range(width // 2):
            layer = layer @ block
        if width % 2:
            layer = layer @ q.Id(q.qubit ** qubits)
        circuit = circuit >> layer
        width, level = (width + 1) // 2, level + 1
    return circuit


def merge_name(sharing: str, index: int, kind: str) -> str:
    """Symbol prefix of a merge block under a sharing scheme."""
    if sharing == 'uniform':
        return 'merge'
    if sharing == 'hierarchical':
        return f'merge@{kind}{index}'
    raise ConfigError(f"unknown sharing {sharing!r}: uniform or "
                      "hierarchical")
