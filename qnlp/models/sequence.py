"""Chain (RNN-style) and tree (CNN-style) quantum sequence classifiers.

The same maps as :func:`qnlp.parsing.protein.chain_circuit` and
:func:`~qnlp.parsing.protein.tree_circuit`, evaluated for a whole batch
as one-qubit density matrices: the chain is a scan of ``L`` batched merges,
the tree ``log2 L`` levels of batched merges, so a 1,000-residue sequence
costs 1,000 (or 10) small batched products, never one giant network.
Padding is exact: a merge with a padded position carries the other wire
unchanged, which is what the circuits do with an odd wire out.

Read-out: ``z = P(0) - P(1)`` of the first qubit of the last wire, ``P(class 1) =
sigmoid(w z + b)`` with two trainable read-out numbers (counted).

>>> import torch
>>> model = SequenceClassifier(['A', 'K'], mode='tree', layers=1, seed=0)
>>> model(torch.tensor([[0, 1, 1], [1, 0, -1]])).shape
torch.Size([2, 2])
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from qnlp.errors import ConfigError
from qnlp.parsing.protein import merge_name

_CX = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]],
                   dtype=torch.complex128)
#: CX with the control on the right qubit (lambeq ``Controlled(X, -1)``).
_XC = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]],
                   dtype=torch.complex128)


def _rotation(kind: str, phase: torch.Tensor) -> torch.Tensor:
    """Operator of lambeq's Rx/Ry/Rz(phase) (phase in half turns)."""
    half = math.pi * phase
    c, s = torch.cos(half).to(torch.complex128), \
        torch.sin(half).to(torch.complex128)
    zero = torch.zeros_like(c)
    if kind == 'x':
        rows = [[c, -1j * s], [-1j * s, c]]
    elif kind == 'y':
        rows = [[c, -s], [s, c]]
    else:
        rows = [[torch.exp(-1j * half.to(torch.complex128)), zero],
                [zero, torch.exp(1j * half.to(torch.complex128))]]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def _kron_all(matrices: Sequence[torch.Tensor]) -> torch.Tensor:
    result = matrices[0]
    for matrix in matrices[1:]:
        result = torch.kron(result, matrix)
    return result


def _cx_ladder(width: int) -> torch.Tensor:
    """CX(0,1), CX(1,2), ... then back up CX(i+1 -> i), as one operator."""
    ladder = torch.eye(2 ** width, dtype=torch.complex128)
    steps = [(i, _CX) for i in range(width - 1)] + [
        (i, _XC) for i in reversed(range(width - 1))]
    for i, gate in steps:
        step = _kron_all([torch.eye(2 ** i, dtype=torch.complex128), gate,
                          torch.eye(2 ** (width - i - 2),
                                    dtype=torch.complex128)])
        ladder = step @ ladder
    return ladder


def merge_unitary(angles: torch.Tensor, qubits: int = 1) -> torch.Tensor:
    """The operator of a merge block from its ``4 * qubits * layers``
    angles (per layer: Ry on each of the ``2 * qubits`` qubits, Rz on each,
    then the CX ladder)."""
    width = 2 * qubits
    unitary = torch.eye(2 ** width, dtype=torch.complex128)
    ladder = _cx_ladder(width)
    for layer in angles.view(-1, 2 * width):
        ry = _kron_all([_rotation('y', a) for a in layer[:width]])
        rz = _kron_all([_rotation('z', a) for a in layer[width:]])
        unitary = ladder @ rz @ ry @ unitary
    return unitary


def merge(first: torch.Tensor, second: torch.Tensor,
          unitary: torch.Tensor) -> torch.Tensor:
    """``Tr_2[U (a (x) b) U^dag]`` for batches of wire states."""
    d = first.shape[-1]
    u = unitary.reshape(d, d, d, d)
    return torch.einsum('ijkl,...km,...lo,pjmo->...ip', u, first, second,
                        u.conj())


class SequenceClassifier(torch.nn.Module):
    """Binary classifier over token sequences, chain or tree.

    Parameters
    ----------
    vocabulary:
        Token strings; input tensors hold their indices (``-1`` = padding).
    mode, sharing, layers, block, qubits:
        As in :mod:`qnlp.parsing.protein`; ``max_length`` bounds how many
        hierarchical merge blocks are made.
    """

    def __init__(self, vocabulary: Sequence[str], mode: str = 'tree',
                 sharing: str = 'uniform', layers: int = 2,
                 block: int = 128, max_length: int = 1024,
                 seed: int = 0, qubits: int = 1) -> None:
        super().__init__()
        if mode not in ('chain', 'tree'):
            raise ConfigError(f"unknown model {mode!r}: chain or tree")
        merge_name(sharing, 0, 'L')  # validates the sharing name
        self.vocabulary = list(vocabulary)
        self.mode, self.sharing, self.layers = mode, sharing, layers
        self.block = block
        self.qubits = qubits
        if sharing == 'uniform':
            n_blocks = 1
        elif mode == 'tree':
            n_blocks = max(1, math.ceil(math.log2(max(2, max_length))))
        else:
            n_blocks = math.ceil(max_length / block)
        generator = torch.Generator().manual_seed(seed)
        self.token_angles = torch.nn.Parameter(torch.rand(
            len(self.vocabulary), 2 * qubits, generator=generator,
            dtype=torch.float64))
        self.merge_angles = torch.nn.Parameter(0.1 * torch.randn(
            n_blocks, 4 * qubits * layers, generator=generator,
            dtype=torch.float64))
        self.readout = torch.nn.Parameter(torch.tensor(
            [2.0, 0.0], dtype=torch.float64))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def token_states(self) -> torch.Tensor:
        """Density matrices ``[V, d, d]`` of ``(x)_i Rz(b_i) Rx(a_i) |0>``."""
        ket = torch.tensor([1, 0], dtype=torch.complex128)
        psi = None
        for i in range(self.qubits):
            rx = _rotation('x', self.token_angles[:, 2 * i])
            rz = _rotation('z', self.token_angles[:, 2 * i + 1])
            single = rz @ rx @ ket                           # [V, 2]
            psi = single if psi is None else (
                psi.unsqueeze(-1) * single.unsqueeze(-2)).flatten(1)
        return psi.unsqueeze(-1) * psi.conj().unsqueeze(-2)

    def density(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final density matrices ``[B, d, d]`` (``d = 2 ** qubits``)."""
        valid = tokens >= 0
        states = self.token_states()[tokens.clamp_min(0)]
        unitaries = [merge_unitary(a, self.qubits)
                     for a in self.merge_angles]
        if self.mode == 'chain':
            return self._chain(states, valid, unitaries)
        return self._tree(states, valid, unitaries)

    def _chain(self, states, valid, unitaries) -> torch.Tensor:
        d = states.shape[-1]
        hidden = torch.zeros(states.shape[0], d, d, dtype=torch.complex128)
        hidden[:, 0, 0] = 1
        for position in range(states.shape[1]):
            unitary = unitaries[min(position // self.block,
                                    len(unitaries) - 1)]
            new = merge(hidden, states[:, position], unitary)
            hidden = torch.where(valid[:, position, None, None], new, hidden)
        return hidden

    def _tree(self, states, valid, unitaries) -> torch.Tensor:
        level = 0
        while states.shape[1] > 1:
            if states.shape[1] % 2:
                states = torch.cat([states, states[:, -1:]], dim=1)
                valid = torch.cat([valid, torch.zeros_like(valid[:, -1:])],
                                  dim=1)
            first, second = states[:, 0::2], states[:, 1::2]
            unitary = unitaries[min(level, len(unitaries) - 1)]
            merged = merge(first, second, unitary)
            states = torch.where(valid[:, 1::2, None, None], merged, first)
            valid = valid[:, 0::2]
            level += 1
        return states[:, 0]

    def prepare(self, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
        """Pad lists of token indices into one ``[B, L]`` tensor (-1 pads)."""
        width = max((len(s) for s in sequences), default=1)
        batch = torch.full((len(sequences), max(1, width)), -1,
                           dtype=torch.long)
        for row, sequence in enumerate(sequences):
            batch[row, :len(sequence)] = torch.as_tensor(sequence,
                                                         dtype=torch.long)
        return batch

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[B, 2]`` for padded token indices."""
        diagonal = self.density(tokens).diagonal(dim1=1, dim2=2).real
        half = diagonal.shape[1] // 2       # first qubit 0 | first qubit 1
        z = diagonal[:, :half].sum(1) - diagonal[:, half:].sum(1)
        p1 = torch.sigmoid(self.readout[0] * z + self.readout[1])
        return torch.stack([1 - p1, p1], dim=1)

    def symbol_values(self) -> dict[str, float]:
        """Parameter values by circuit symbol name (for the lambeq circuits)."""
        values = {}
        for index, token in enumerate(self.vocabulary):
            for i in range(2 * self.qubits):
                values[f'{token}__tok_{i}'] = float(
                    self.token_angles[index, i].detach())
        kind = 'L' if self.mode == 'tree' else 'B'
        for index, angles in enumerate(self.merge_angles):
            name = merge_name(self.sharing, index, kind)
            for i, value in enumerate(angles.detach().tolist()):
                values[f'{name}_{i}'] = value
        return values
