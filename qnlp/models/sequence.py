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

from qnlp.engine import gates
from qnlp.engine.density import (circuit_unitary, merge_map, pauli_basis,
                                 small_matmul)
from qnlp.engine.device import (Device, complex_dtype, resolve_device,
                                resolve_dtype)
from qnlp.errors import ConfigError
from qnlp.limits import MAX_LAYERS, MAX_SEQUENCE_QUBITS, at_most
from qnlp.parsing.protein import merge_gates, merge_name, n_merge_angles

#: Radians in a turn: token and merge angles are lambeq phases (in turns,
#: ``Rx(a) = RX(2 pi a)``), the gate library takes radians.
TURN = 2 * math.pi


def merge_unitary(angles: torch.Tensor, qubits: int = 1) -> torch.Tensor:
    """The operator of a merge block (the gates of
    :func:`qnlp.parsing.protein.merge_gates`) from its angles (complex of
    their precision, on their device)."""
    layers = angles.numel() // n_merge_angles(qubits, 1)
    return circuit_unitary(merge_gates(qubits, layers), TURN * angles,
                           2 * qubits)


class SequenceClassifier(torch.nn.Module):
    """Binary classifier over token sequences, chain or tree.

    Parameters
    ----------
    vocabulary:
        Token strings; input tensors hold their indices (``-1`` = padding).
    mode, sharing, layers, block, qubits:
        As in :mod:`qnlp.parsing.protein`; ``max_length`` bounds how many
        hierarchical merge blocks are made.
    init_scale:
        Standard deviation of the initial merge angles (half turns); near
        zero every merge starts near "keep the left wire".
    window, stride:
        ``window = 0`` (default): one circuit over the whole sequence, read
        out once. Otherwise the circuit runs on every window of ``window``
        tokens (every ``stride``, default ``window // 4``: a stretch of
        up to ``3 * window / 4`` tokens lies whole in some window) and the
        windows' read-outs are pooled classically by a soft maximum and a
        soft minimum with a trained temperature: a quantum convolution
        with global max pooling, which can find one telling stretch (say
        a transmembrane helix) anywhere.
    dtype, device:
        Real type of the parameters (density matrices in the matching
        complex type) and where they live; initial values are drawn on
        the CPU in float64 from ``seed``, so every device and dtype starts
        from the same numbers. ``model.to(...)`` moves everything (the
        Pauli bases are cached per type and device).
    """

    def __init__(self, vocabulary: Sequence[str], mode: str = 'tree',
                 sharing: str = 'uniform', layers: int = 2,
                 block: int = 128, max_length: int = 1024,
                 seed: int = 0, qubits: int = 1,
                 init_scale: float = 0.1, window: int = 0,
                 stride: int = 0, dtype: torch.dtype = torch.float64,
                 device: Device = None) -> None:
        super().__init__()
        if mode not in ('chain', 'tree'):
            raise ConfigError(f"unknown model {mode!r}: chain or tree")
        merge_name(sharing, 0, 'L')  # validates the sharing name
        at_most(qubits, MAX_SEQUENCE_QUBITS, 'qubits per token wire')
        at_most(layers, MAX_LAYERS, 'merge layers')
        self.vocabulary = list(vocabulary)
        self.mode, self.sharing, self.layers = mode, sharing, layers
        self.block = block
        self.qubits = qubits
        if window < 0 or stride < 0:
            raise ConfigError("window and stride must not be negative")
        self.window, self.stride = window, stride or max(1, window // 4)
        span = min(window, max_length) if window else max_length
        if sharing == 'uniform':
            n_blocks = 1
        elif mode == 'tree':
            n_blocks = max(1, math.ceil(math.log2(max(2, span))))
        else:
            n_blocks = math.ceil(span / block)
        generator = torch.Generator().manual_seed(seed)
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        token_angles = torch.rand(len(self.vocabulary), 2 * qubits,
                                  generator=generator, dtype=torch.float64)
        angles = init_scale * torch.randn(
            n_blocks, n_merge_angles(qubits, layers), generator=generator,
            dtype=torch.float64)
        # Start every merge as a partial swap exp(-i pi t (XX+YY+ZZ)) in its
        # first layer: half a swap (t = 1/8) makes a tree level average its
        # two wires, t = 1/20 makes the chain a moving average with a memory
        # of about ten tokens. Training starts from "pool the tokens".
        width = 2 * qubits
        start = 3 * width
        angles[:, start:start + 3 * (width - 1)] += (
            0.125 if mode == 'tree' else 0.05)
        self.token_angles = torch.nn.Parameter(token_angles.to(device,
                                                               dtype))
        self.merge_angles = torch.nn.Parameter(angles.to(device, dtype))
        # weight, bias; with windows: weight of the soft maximum, bias,
        # log temperature, weight of the soft minimum. Both pooled weights
        # start positive, so a telling stretch can be learnt as high or as
        # low read-outs, whichever class it marks.
        self.readout = torch.nn.Parameter(torch.tensor(
            [4.0, 0.0, math.log(0.1), 4.0] if window else [8.0, 0.0],
            dtype=dtype, device=device))

    @property
    def _complex(self) -> torch.dtype:
        return complex_dtype(self.token_angles.dtype)

    def _basis(self) -> tuple[torch.Tensor, torch.Tensor]:
        return pauli_basis(self.qubits, self._complex,
                           self.token_angles.device)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def token_states(self) -> torch.Tensor:
        """Density matrices ``[V, d, d]`` of ``(x)_i Rz(b_i) Rx(a_i) |0>``."""
        ket = torch.tensor([1, 0], dtype=self._complex,
                           device=self.token_angles.device)
        psi = None
        for i in range(self.qubits):
            rx = gates.rx(TURN * self.token_angles[:, 2 * i])
            rz = gates.rz(TURN * self.token_angles[:, 2 * i + 1])
            single = rz @ rx @ ket                           # [V, 2]
            psi = single if psi is None else (
                psi.unsqueeze(-1) * single.unsqueeze(-2)).flatten(1)
        return psi.unsqueeze(-1) * psi.conj().unsqueeze(-2)

    def _pauli_maps(self) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Token states ``[V, n]`` and merge maps ``[n, n, n]`` in the real
        Pauli basis (``n = 4 ** qubits``); merges are trace preserving, so
        every vector keeps ``r_0 = 1``."""
        d = 2 ** self.qubits
        to_pauli, from_pauli = self._basis()
        states = (self.token_states().reshape(-1, d * d) @ to_pauli.T).real
        maps = [torch.einsum('ax,xyz,yb,zc->abc', to_pauli,
                             merge_map(merge_unitary(a, self.qubits)),
                             from_pauli, from_pauli).real
                for a in self.merge_angles]
        return states, maps

    def pauli_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final states ``[B, 4 ** qubits]`` as real Pauli vectors."""
        states, maps = self._pauli_maps()
        if self.mode == 'chain':
            return self._chain(tokens, states, maps)
        return self._tree(tokens, states, maps)

    def density(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final density matrices ``[B, d, d]`` (``d = 2 ** qubits``)."""
        d = 2 ** self.qubits
        _, from_pauli = self._basis()
        vectors = self.pauli_vectors(tokens).to(self._complex)
        return (vectors @ from_pauli.T).reshape(-1, d, d)

    def _chain(self, tokens, states, maps) -> torch.Tensor:
        """The scan as a product of per-token transfer matrices.

        Merging the hidden state ``h`` with token ``v`` is linear in ``h``:
        ``h' = T[v] h`` with ``T[v] = map . (I (x) state_v)``, computed once
        per vocabulary entry and block (padding is the identity), then once
        per pair of tokens. A batch with at least as many rows as pairs
        (windows: thousands of rows, 16 pairs) is scanned, ``h`` through
        one batched matrix-vector product per pair; a few long rows are
        reduced pairwise instead, ``T[v_L] ... T[v_1]`` in ``log2 L``
        batched matrix products (``n`` times the arithmetic of the scan,
        but few steps).
        """
        n = states.shape[1]
        eye = torch.eye(n, dtype=states.dtype, device=states.device)
        transfer = torch.stack([
            torch.cat([torch.einsum('xyz,vz->vxy', m, states), eye[None]])
            for m in maps])                           # [blocks, V+1, n, n]
        vocab = transfer.shape[1]
        length = tokens.shape[1] + tokens.shape[1] % 2
        padded = torch.full((tokens.shape[0], length), vocab - 1,
                            device=tokens.device)
        padded[:, :tokens.shape[1]] = torch.where(tokens >= 0, tokens,
                                                  vocab - 1)
        blocks = (torch.arange(length, device=tokens.device)
                  // self.block).clamp_max(
            len(maps) - 1)
        if self.block % 2:   # pairs could straddle blocks: no pair table
            steps = transfer.reshape(-1, n, n)
            index = blocks * vocab + padded             # [B, L]
        else:                # pairs[b, v, w] = T[w] T[v]: v, then w
            steps = small_matmul(transfer[:, None],
                            transfer[:, :, None]).reshape(-1, n, n)
            index = ((blocks[0::2] * vocab + padded[:, 0::2]) * vocab
                     + padded[:, 1::2])                # [B, L/2]
        start = self._basis()[0][:, 0].real   # |0...0><0...0|
        if tokens.shape[0] >= index.shape[1]:
            state = start.expand(tokens.shape[0], n)
            for step in index.T:
                state = (steps[step] * state.unsqueeze(-2)).sum(-1)
            return state
        mats = steps[index]                            # [B, steps, n, n]
        while mats.shape[1] > 1:
            if mats.shape[1] % 2:
                mats = torch.cat([mats, eye.expand(mats.shape[0], 1, n, n)],
                                 dim=1)
            mats = small_matmul(mats[:, 1::2], mats[:, 0::2])
        return mats[:, 0] @ start

    def _tree(self, tokens, states, maps) -> torch.Tensor:
        """Level-by-level merges; an odd or padded wire is carried up."""
        if tokens.shape[1] == 1:   # a single token
            return states[tokens[:, 0]]
        level_states, valid = self._tree_leaves(tokens, states, maps)
        return self._tree_levels(level_states, valid, maps, 1)[0][:, 0]

    @staticmethod
    def _merge(first, second, maps, level) -> torch.Tensor:
        """Pauli vectors of wires ``first`` and ``second`` merged by the
        block of ``level`` (the last block for higher levels)."""
        n = first.shape[-1]
        flat = maps[min(level, len(maps) - 1)].reshape(n, n * n).T
        return (first.unsqueeze(-1) * second.unsqueeze(-2)).flatten(-2) @ flat

    def _tree_leaves(self, tokens, states, maps
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """The first level, ``([B, L/2, n], valid [B, L/2])``: a lookup in
        a table of merged token pairs."""
        vocab = states.shape[0]
        length = tokens.shape[1] + tokens.shape[1] % 2
        padded = torch.full((tokens.shape[0], length), -1,
                            device=tokens.device)
        padded[:, :tokens.shape[1]] = tokens
        valid = padded >= 0
        # table[v, w]: tokens v and w merged; table[v, vocab]: v alone
        table = torch.cat([self._merge(states[:, None], states[None], maps,
                                       0), states[:, None]], dim=1)
        index = padded[:, 0::2].clamp_min(0) * (vocab + 1) + torch.where(
            valid[:, 1::2], padded[:, 1::2], vocab)
        return table.reshape(-1, states.shape[1])[index], valid[:, 0::2]

    def _tree_levels(self, level_states, valid, maps, level: int,
                     stop: int | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Merge neighbours from ``level`` on until one wire is left (or
        level ``stop`` is reached); a padded second wire carries the
        first up."""
        while level_states.shape[1] > 1 and (stop is None or level < stop):
            if level_states.shape[1] % 2:
                level_states = torch.cat([level_states,
                                          level_states[:, -1:]], dim=1)
                valid = torch.cat([valid, torch.zeros_like(valid[:, -1:])],
                                  dim=1)
            first, second = level_states[:, 0::2], level_states[:, 1::2]
            merged = self._merge(first, second, maps, level)
            level_states = torch.where(valid[:, 1::2, None], merged, first)
            valid = valid[:, 0::2]
            level += 1
        return level_states, valid

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
        """Class probabilities ``[B, 2]`` for padded token indices (moved
        to the model's device if they are elsewhere)."""
        tokens = tokens.to(self.token_angles.device)
        if self.window:
            logit = self.pooled_logit(*self.window_readouts(tokens))
        else:
            logit = self.readout[0] * self._readout(tokens)
        p1 = torch.sigmoid(logit + self.readout[1])
        return torch.stack([1 - p1, p1], dim=1)

    def pooled_logit(self, z: torch.Tensor, valid: torch.Tensor
                     ) -> torch.Tensor:
        """Window read-outs ``z`` ``[B, W]`` pooled into one logit per
        sequence (bias not added): weighted soft maximum minus weighted
        soft minimum over the windows that hold tokens."""
        return self.readout[0] * self._soft_max(z, valid) \
            - self.readout[3] * self._soft_max(-z, valid)

    def _soft_max(self, z: torch.Tensor, valid: torch.Tensor
                  ) -> torch.Tensor:
        temperature = self.readout[2].exp()
        return temperature * torch.logsumexp(
            (z / temperature).masked_fill(~valid, -torch.inf), dim=1)

    @property
    def _z_component(self) -> int:
        """Index of ``Z (x) I ...`` (first qubit) in a Pauli vector."""
        return 3 * 4 ** (self.qubits - 1)

    def _readout(self, tokens: torch.Tensor) -> torch.Tensor:
        """``<Z>`` of the first qubit of the final wire."""
        return self.pauli_vectors(tokens)[:, self._z_component]

    def _padded_for_windows(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` padded (-1) to ``(W - 1) * stride + window``."""
        length = tokens.shape[1]
        count = max(1, math.ceil(max(0, length - self.window)
                                 / self.stride) + 1)
        padded = torch.full((tokens.shape[0],
                             (count - 1) * self.stride + self.window), -1,
                            device=tokens.device)
        padded[:, :length] = tokens
        return padded

    def windows(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, W, window]``: the windows of each padded sequence."""
        return self._padded_for_windows(tokens).unfold(1, self.window,
                                                       self.stride)

    def window_readouts(self, tokens: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, valid)``, each ``[B, W]``: the read-out of every window
        that holds tokens (one batched evaluation of them all: a batch
        padded to its longest sequence costs what its tokens cost) and
        whether it holds tokens (``z = 0`` where not)."""
        padded = self._padded_for_windows(tokens)
        windows = padded.unfold(1, self.window, self.stride)
        valid = windows[:, :, 0] >= 0
        if self.mode == 'tree' and self._shared_levels():
            z = self._tree_window_vectors(padded)[:, self._z_component]
        else:
            z = self._readout(windows[valid])
        return z.new_zeros(valid.shape).masked_scatter(valid, z), valid

    def _shared_levels(self) -> int:
        """Tree levels that overlapping windows share: with window and
        stride multiples of ``2 ** k``, the subtrees of the first ``k``
        levels start at multiples of ``2 ** k`` in every window."""
        levels = 0
        while (self.window % 2 ** (levels + 1) == 0
               and self.stride % 2 ** (levels + 1) == 0):
            levels += 1
        return levels

    def _tree_window_vectors(self, padded: torch.Tensor) -> torch.Tensor:
        """Final Pauli vectors ``[windows holding tokens, n]`` of the tree
        on every window of ``padded`` (tokens padded by
        :meth:`_padded_for_windows`): the shared levels once per aligned
        chunk of
        ``2 ** shared`` tokens that holds tokens, the rest window by
        window (the same numbers as running the tree on each window
        alone)."""
        states, maps = self._pauli_maps()
        shared = self._shared_levels()
        chunks = padded.reshape(padded.shape[0], -1, 1 << shared)
        filled = chunks[:, :, 0] >= 0                       # [B, units]
        leaves, valid = self._tree_leaves(chunks[filled], states, maps)
        merged, _ = self._tree_levels(leaves, valid, maps, 1, stop=shared)
        units = merged.new_zeros(*filled.shape, merged.shape[-1])
        units = units.masked_scatter(filled.unsqueeze(-1), merged[:, 0])
        size, step = self.window >> shared, self.stride >> shared
        units = units.unfold(1, size, step).transpose(-1, -2)
        filled = filled.unfold(1, size, step)               # [B, W, size]
        holds_tokens = filled[:, :, 0]
        vectors, _ = self._tree_levels(units[holds_tokens],
                                       filled[holds_tokens], maps, shared)
        return vectors[:, 0]

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
