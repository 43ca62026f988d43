"""Chain (RNN-style) and tree (CNN-style) quantum sequence classifiers.

The same maps as :func:`qnlp.parsing.protein.chain_circuit` and
:func:`~qnlp.parsing.protein.tree_circuit`, evaluated for a whole batch
as one-qubit density matrices: the chain is a scan of ``L`` batched merges,
the tree ``log2 L`` levels of batched merges, so a 1,000-residue sequence
costs 1,000 (or 10) small batched products, never one giant network. In
the chain's scan the rows (windows) that merge the same token at a step
share one matrix product (:func:`grouped_scan`).
Padding is exact: a merge with a padded position carries the other wire
unchanged, which is what the circuits do with an odd wire out.

Read-out: ``z = P(0) - P(1)`` of the first qubit of the last wire, ``P(class 1) =
sigmoid(w z + b)`` with two trainable read-out numbers (counted); with
``axes='xyz'`` also that qubit's ``<X>`` and ``<Y>``, each with weights of
its own: three read-outs of one circuit.

>>> import torch
>>> model = SequenceClassifier(['A', 'K'], mode='tree', layers=1, seed=0)
>>> model(torch.tensor([[0, 1, 1], [1, 0, -1]])).shape
torch.Size([2, 2])
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from qnlp.choices import POOLINGS, READOUT_AXES
from qnlp.data.fasta import hydropathy_scan
from qnlp.engine import gates
from qnlp.engine.density import (PAULI_ORDER, merge_map, pauli_basis,
                                  small_matmul)
from qnlp.engine.device import (Device, complex_dtype, resolve_device,
                                resolve_dtype)
from qnlp.errors import ConfigError
from qnlp.limits import MAX_LAYERS, MAX_SEQUENCE_QUBITS, at_most
from qnlp.models.fingerprint import Fingerprinted
from qnlp.parsing.protein import merge_name, n_merge_angles

#: Radians in a turn: token and merge angles are lambeq phases (in turns,
#: ``Rx(a) = RX(2 pi a)``), the gate library takes radians.
TURN = 2 * math.pi


def merge_unitary(angles: torch.Tensor, qubits: int = 1) -> torch.Tensor:
    """The operators ``[..., 4 ** qubits, 4 ** qubits]`` of merge blocks
    (the gates of :func:`qnlp.parsing.protein.merge_gates`) from their
    angles ``[..., n_merge_angles]`` in turns (complex of their precision,
    on their device), in closed form: a layer is one tensor product of
    ``Rz Ry Rz`` rotations, then ``RXX RYY RZZ`` on each neighbouring pair
    of qubits (the basis change, ``CX``, ``Rz``, ``CX`` sandwich of
    ``merge_gates`` is ``exp(-i t/2 P (x) P)``): a few batched products
    instead of one per gate.

    >>> from qnlp.engine.density import circuit_unitary
    >>> from qnlp.parsing.protein import merge_gates
    >>> angles = torch.rand(3, n_merge_angles(1, 2), dtype=torch.float64)
    >>> gate_by_gate = circuit_unitary(merge_gates(1, 2), TURN * angles[2], 2)
    >>> torch.allclose(merge_unitary(angles)[2], gate_by_gate, atol=1e-12)
    True
    """
    width = 2 * qubits
    radians = (TURN * angles).unflatten(-1, (-1, n_merge_angles(qubits, 1)))
    unitary = None
    for layer in radians.unbind(-2):
        step = gates.kron(gates.rotation(
            layer[..., :3 * width].unflatten(-1, (width, 3)), 'zyz'))
        x, y, z = layer[..., 3 * width:].unflatten(
            -1, (width - 1, 3)).unbind(-1)           # [..., width - 1] each
        pairs = gates.rzz(z) @ gates.ryy(y) @ gates.rxx(x)
        for wire in range(width - 1):
            step = _on_wires(pairs[..., wire, :, :], wire, width) @ step
        unitary = step if unitary is None else step @ unitary
    return unitary


def _on_wires(pair: torch.Tensor, wire: int, width: int) -> torch.Tensor:
    """A batch of two-qubit gates ``[..., 4, 4]`` on wires ``wire,
    wire + 1`` of ``width``."""
    def eye(qubits: int) -> torch.Tensor:
        return torch.eye(2 ** qubits, dtype=pair.dtype, device=pair.device)
    return torch.kron(torch.kron(eye(wire), pair), eye(width - wire - 2))


def grouped_scan(tables: torch.Tensor, blocks: torch.Tensor,
                 keys: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """States ``[R, n]`` of ``R`` rows that each start at ``start`` (a
    constant: no gradient) and step through ``h <- tables[blocks[s],
    keys[r, s]] @ h`` for ``s = 0, ..., S - 1`` (``tables [K, G, n, n]``,
    ``blocks [S]``, ``keys [R, S]`` in ``0..G-1``).

    The rows that take the same matrix at a step are laid out together,
    in chunks of equal size (zero rows fill a group's last chunk), so a
    step is one batched product of each chunk with its matrix: no copy of
    a matrix per row (forward or backward), and only vectors move between
    steps (:func:`chunk_layout`).

    >>> tables = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    >>> keys, blocks = torch.tensor([[0, 2], [1, 2], [0, 0]]), torch.tensor([1, 0])
    >>> start = torch.rand(4, dtype=torch.float64)
    >>> states = grouped_scan(tables, blocks, keys, start)
    >>> torch.allclose(states[1], tables[0, 2] @ tables[1, 1] @ start)
    True
    """
    slots, chunk_keys, size = chunk_layout(keys, tables.shape[1])
    width = chunk_keys.shape[1] * size
    rows = start.new_zeros(width, start.shape[-1])
    rows[slots[0]] = start
    # moves[s, slot]: the slot at step s - 1 of the row in ``slot`` at step
    # s; back[s]: the other way round (an empty slot, so a zero row or a
    # zero gradient, where there is no row)
    moves = torch.full((len(slots), width), size - 1, dtype=torch.long,
                       device=keys.device)
    back = moves.clone()
    moves[1:].scatter_(1, slots[1:], slots[:-1])
    back[1:].scatter_(1, slots[:-1], slots[1:])
    matrices = blocks[:, None] * tables.shape[1] + chunk_keys     # [S, C]
    out = _GroupedSteps.apply(tables, rows, matrices, moves, back, size)
    return out[slots[-1]]


class _GroupedSteps(torch.autograd.Function):
    """The steps of :func:`grouped_scan` in its chunk layout, with a
    backward pass of its own: one batched product for the gradient of
    the rows and one for that of the chunks' matrices a step, and a
    single scatter-add of the latter into the tables (autograd's graph of
    the same steps costs a copy of the tables a step)."""

    @staticmethod
    def forward(ctx, tables: torch.Tensor, rows: torch.Tensor,
                matrices: torch.Tensor, moves: torch.Tensor,
                back: torch.Tensor, size: int) -> torch.Tensor:
        n = rows.shape[-1]
        flat = tables.reshape(-1, n, n)
        saved = []
        for step in range(len(matrices)):
            if step:
                rows = out.index_select(0, moves[step])
            saved.append(rows)
            out = torch.bmm(rows.view(-1, size, n), flat.index_select(
                0, matrices[step]).transpose(1, 2)).view(-1, n)
        ctx.size = size
        ctx.save_for_backward(tables, matrices, back, *saved)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        tables, matrices, back, *saved = ctx.saved_tensors
        n, size = tables.shape[-1], ctx.size
        flat = tables.reshape(-1, n, n)
        grad_matrices = []
        for step in range(len(matrices) - 1, -1, -1):
            chunks = grad.view(-1, size, n)
            grad_matrices.append(torch.bmm(
                chunks.transpose(1, 2), saved[step].view(-1, size, n)))
            if step:
                grad = torch.bmm(chunks, flat.index_select(
                    0, matrices[step])).view(-1, n).index_select(
                    0, back[step])
        grad_tables = torch.zeros_like(flat).index_add_(
            0, matrices.flip(0).flatten(), torch.cat(grad_matrices))
        return grad_tables.view_as(tables), None, None, None, None, None


def chunk_layout(keys: torch.Tensor, groups: int
                 ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Where each row of ``keys [R, S]`` (values ``0..groups-1``) sits at
    each step when the rows of one key are put together in chunks of
    ``size`` (at most 64 rows: batched products of fewer rows are slow):
    ``(slots [S, R], chunk_keys [S, C], size)``, row ``r`` at step ``s`` in
    slot ``slots[s, r]`` of chunk ``slots[s, r] // size``, whose key is
    ``chunk_keys[s, chunk]``. Chunk 0 of every step is empty (key 0).

    >>> slots, chunk_keys, size = chunk_layout(torch.tensor([[2], [0], [2]]), 3)
    >>> size, slots.tolist(), chunk_keys.tolist()
    (1, [[2, 1, 3]], [[0, 0, 2, 2]])
    """
    rows = keys.shape[0]
    keys = keys.T.contiguous()                                # [S, R]
    size = max(1, min(64, rows // groups))
    counts = torch.zeros(len(keys), groups, dtype=torch.long,
                         device=keys.device).scatter_add_(
        1, keys, torch.ones_like(keys))
    chunks = (counts + size - 1) // size                      # [S, G]
    first_chunk = 1 + chunks.cumsum(1) - chunks     # chunk 0 stays empty
    sorted_keys, order = torch.sort(keys, dim=1, stable=True)
    rank = (torch.arange(rows, device=keys.device)
            - (counts.cumsum(1) - counts).gather(1, sorted_keys))
    slots = torch.empty_like(keys).scatter_(
        1, order, first_chunk.gather(1, sorted_keys) * size + rank)
    chunk_keys = keys.new_zeros(len(keys), 1 + int(chunks.sum(1).max()))
    chunk_keys.scatter_(1, slots // size, keys)
    return slots, chunk_keys, size


class SequenceClassifier(Fingerprinted, torch.nn.Module):
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
    pooling:
        How the windows' read-outs become one logit: ``'max-min'``
        (default) the weighted soft maximum and soft minimum above;
        ``'max-min-mean'`` adds a trained weight (starting at zero) times
        the mean read-out over the windows: how much of the sequence
        looks like the telling stretch, beside whether one does (the
        hydropathy model's count of hydrophobic windows). Windows only.
    axes:
        Which components of the read-out qubit's Bloch vector are read:
        ``'z'`` (default) or ``'xyz'``. With ``'xyz'`` each window gives
        three read-outs, ``<Z>``, ``<X>``, ``<Y>``, pooled each with a soft
        maximum and soft minimum of its own (weights of ``<X>`` and
        ``<Y>`` start at zero, so training starts from the ``'z'``
        model): three detectors for the cost of one circuit, as a
        convolution has several filters. Without windows each is a
        linear read-out.
    ends:
        Also add trained weights (starting at zero) times the read-outs
        of the first and the last window, an entry per axis: the pooled
        read-outs do not say where a stretch lies, and some signals sit
        at a terminus (an N-terminal lipid anchor such as ``MGC...``, a
        C-terminal ``CaaX`` box or polybasic tail). Windows only.
    n_terminus:
        ``K > 0``: also read the first ``K`` tokens with a circuit of their
        own (merge angles of its own, the same token states and
        re-uploaded features), a chain read from token ``K`` down to token
        1, so the terminus is merged last, next to the read-out; its
        ``<Z>`` times a trained weight (starting at zero) is added to the
        logit. Position-aware where the windows are not: an N-terminal
        lipid anchor (``MG`` then ``C`` within a few residues) marks a
        membrane protein that has no hydrophobic stretch. Chain or tree.
    dtype, device:
        Real type of the parameters (density matrices in the matching
        complex type) and where they live; initial values are drawn on
        the CPU in float64 from ``seed``, so every device and dtype starts
        from the same numbers. ``model.to(...)`` moves everything (the
        Pauli bases are cached per type and device).
    composition:
        Add a trained linear read-out of the token composition (the share
        of each vocabulary entry in the sequence, one weight each,
        starting at zero) to the logit: the global half of the classical
        hydropathy model, beside the quantum windows' local half. A
        hybrid; off by default.
    features:
        Fixed properties of each vocabulary entry, ``[V, F]`` (say
        hydropathy, charge, size: :func:`qnlp.data.fasta.residue_features`),
        re-uploaded into every layer of the chain's merge blocks: merging
        token ``v`` uses the block's angles plus ``W @ features[v]``, with
        ``W`` ``[angles of a block, F]`` trained (shared by the blocks,
        starting at zero, so training starts from the plain model). Chain
        only; the scan costs the same (one transfer matrix a token and
        block either way).
    scan_values:
        A value per vocabulary entry (the Kyte-Doolittle hydropathy of
        each residue) to scan as the classical hydropathy model does
        (:func:`qnlp.data.fasta.hydropathy_scan`: the largest mean
        over 19 consecutive tokens, the log count of such windows above
        1.6); a trained linear read-out of these two numbers (starting at
        zero) is added to the logit. A hybrid, beside ``composition``:
        with both and no quantum part this is the hydropathy model's
        logistic regression. Off by default.

    >>> model = SequenceClassifier(['A', 'K'], mode='chain', window=4,
    ...                            composition=True)
    >>> model.composition_weights.tolist()
    [0.0, 0.0]
    >>> model.token_composition(torch.tensor([[0, 1, 1, -1]])).tolist()
    [[0.3333333333333333, 0.6666666666666666]]
    """

    def __init__(self, vocabulary: Sequence[str], mode: str = 'tree',
                 sharing: str = 'uniform', layers: int = 2,
                 block: int = 128, max_length: int = 1024,
                 seed: int = 0, qubits: int = 1,
                 init_scale: float = 0.1, window: int = 0,
                 stride: int = 0, dtype: torch.dtype = torch.float64,
                 device: Device = None, composition: bool = False,
                 features: Sequence[Sequence[float]] | None = None,
                 pooling: str = 'max-min',
                 scan_values: Sequence[float] | None = None,
                 axes: str = 'z', ends: bool = False,
                 n_terminus: int = 0) -> None:
        super().__init__()
        if ends and not window:
            raise ConfigError("ends read the first and last windows: give "
                              "a window (> 0)")
        if axes not in READOUT_AXES:
            raise ConfigError(f"unknown read-out axes {axes!r}: "
                              f"{' or '.join(READOUT_AXES)}")
        self.axes = axes
        if mode not in ('chain', 'tree'):
            raise ConfigError(f"unknown model {mode!r}: chain or tree")
        merge_name(sharing, 0, 'L')  # validates the sharing name
        at_most(qubits, MAX_SEQUENCE_QUBITS, 'qubits per token wire')
        at_most(layers, MAX_LAYERS, 'merge layers')
        self.vocabulary = list(vocabulary)
        self.mode, self.sharing, self.layers = mode, sharing, layers
        self.block = block
        self.qubits = qubits
        # indices of P (x) I ... (first qubit) in a Pauli vector for each
        # read-out axis P, Z first
        self._axis_components = [
            PAULI_ORDER.index(axis.upper()) * 4 ** (qubits - 1)
            for axis in 'z' + axes.replace('z', '')]
        if window < 0 or stride < 0:
            raise ConfigError("window and stride must not be negative")
        self.window, self.stride = window, stride or max(1, window // 4)
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}: "
                              f"{' or '.join(POOLINGS)}")
        if pooling != 'max-min' and not window:
            raise ConfigError(f"pooling {pooling!r} pools windows: give a "
                              "window (> 0)")
        self.pooling = pooling
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
        self.composition_weights = torch.nn.Parameter(torch.zeros(
            len(self.vocabulary), dtype=dtype, device=device)) \
            if composition else None
        # <X> and <Y>: weight of the soft maximum, log temperature, weight
        # of the soft minimum; no windows: a linear weight
        self.axis_readout = torch.nn.Parameter(torch.tensor(
            [[0.0, math.log(0.1), 0.0] if window else [0.0]]
            * (len(axes) - 1), dtype=dtype, device=device)) \
            if len(axes) > 1 else None
        self.mean_weight = torch.nn.Parameter(torch.zeros(
            len(axes), dtype=dtype, device=device)) \
            if pooling == 'max-min-mean' else None
        # first window's, last window's weight for each axis
        self.end_weights = torch.nn.Parameter(torch.zeros(
            2, len(axes), dtype=dtype, device=device)) if ends else None
        self.scan_values = self.scan_weights = None
        if scan_values is not None:
            if len(scan_values) != len(self.vocabulary):
                raise ConfigError(f"scan_values: one a vocabulary entry "
                                  f"({len(self.vocabulary)}), got "
                                  f"{len(scan_values)}")
            self.scan_values = [float(v) for v in scan_values]
            self._scan_table = torch.tensor(self.scan_values,
                                            dtype=torch.float64)
            self.scan_weights = torch.nn.Parameter(torch.zeros(
                2, dtype=dtype, device=device))
        self.feature_weights = None
        if features is not None:
            if mode != 'chain':
                raise ConfigError("residue features are re-uploaded into "
                                  "the chain's merges: use the chain model")
            table = torch.as_tensor(features, dtype=dtype, device=device)
            if table.shape[0] != len(self.vocabulary) or table.ndim != 2:
                raise ConfigError(f"features: one row a vocabulary entry "
                                  f"({len(self.vocabulary)}), got "
                                  f"{tuple(table.shape)}")
            self.register_buffer('features', table)
            self.feature_weights = torch.nn.Parameter(torch.zeros(
                angles.shape[1], table.shape[1], dtype=dtype,
                device=device))
        if n_terminus < 0:
            raise ConfigError("n_terminus must not be negative")
        self.n_terminus = n_terminus
        self.terminus_angles = self.terminus_weight = None
        if n_terminus:
            # drawn last, so the other parameters are those of the model
            # without it; started as the chain's merges are
            terminus = init_scale * torch.randn(
                1, angles.shape[1], generator=generator,
                dtype=torch.float64)
            terminus[:, start:start + 3 * (width - 1)] += 0.05
            self.terminus_angles = torch.nn.Parameter(terminus.to(device,
                                                                  dtype))
            self.terminus_weight = torch.nn.Parameter(torch.zeros(
                (), dtype=dtype, device=device))

    @property
    def _complex(self) -> torch.dtype:
        return complex_dtype(self.token_angles.dtype)

    def _basis(self) -> tuple[torch.Tensor, torch.Tensor]:
        return pauli_basis(self.qubits, self._complex,
                           self.token_angles.device)

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must match (:mod:`qnlp.models.fingerprint`)."""
        return {'vocabulary': ' '.join(self.vocabulary), 'mode': self.mode,
                'sharing': self.sharing, 'layers': self.layers,
                'block': self.block, 'qubits': self.qubits,
                'window': self.window, 'stride': self.stride,
                **({'composition': True} if self.composition_weights
                   is not None else {}),
                **({'pooling': self.pooling} if self.pooling != 'max-min'
                   else {}),
                **({'axes': self.axes} if self.axes != 'z' else {}),
                **({'ends': True} if self.end_weights is not None else {}),
                **({'n_terminus': self.n_terminus} if self.n_terminus
                   else {}),
                **({'features': self.features.tolist()}
                   if self.feature_weights is not None else {}),
                **({'scan_values': self.scan_values}
                   if self.scan_values is not None else {})}

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

    def _pauli_maps(self, merge_angles: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states ``[V, n]`` and merge maps ``[blocks, n, n, n]`` in
        the real Pauli basis (``n = 4 ** qubits``) of ``merge_angles``
        (default the model's); merges are trace preserving, so every
        vector keeps ``r_0 = 1``."""
        d = 2 ** self.qubits
        to_pauli, from_pauli = self._basis()
        states = (self.token_states().reshape(-1, d * d) @ to_pauli.T).real
        unitaries = merge_unitary(
            self.merge_angles if merge_angles is None else merge_angles,
            self.qubits)
        maps = torch.stack([merge_map(u) for u in unitaries])
        maps = torch.einsum('ax,kxyz,yb,zc->kabc', to_pauli, maps,
                            from_pauli, from_pauli).real
        return states, maps

    def _transfers(self, merge_angles: torch.Tensor) -> torch.Tensor:
        """The chain's transfer matrices ``[blocks, V, n, n]`` (Pauli
        basis) of the blocks of ``merge_angles``: merging token ``v`` is
        ``h -> T[v] h``."""
        if self.feature_weights is not None:
            return self._reuploaded_transfers(merge_angles)
        states, maps = self._pauli_maps(merge_angles)
        return torch.einsum('kxyz,vz->kvxy', maps, states)

    def _reuploaded_transfers(self, merge_angles: torch.Tensor
                              ) -> torch.Tensor:
        """The transfer matrices when features are re-uploaded: merging
        token ``v`` in block ``k`` is ``h -> Tr_2[U (h (x) rho_v)
        U^dag]`` with ``U`` from the block's angles plus ``W @
        features[v]``."""
        d = 2 ** self.qubits
        angles = merge_angles[:, None] \
            + self.features @ self.feature_weights.T
        u = merge_unitary(angles, self.qubits).unflatten(
            -1, (d, d)).unflatten(-3, (d, d))       # [k, v, i, j, a, l]
        superop = torch.einsum('kvijal,vln,kvpjmn->kvipam', u,
                               self.token_states(), u.conj())
        to_pauli, from_pauli = self._basis()
        return (to_pauli @ superop.reshape(*u.shape[:2], d * d, d * d)
                @ from_pauli).real

    def pauli_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final states ``[B, 4 ** qubits]`` as real Pauli vectors."""
        if self.mode == 'chain':
            return self._chain(tokens, self._transfers(self.merge_angles))
        return self._tree(tokens, *self._pauli_maps())

    def density(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final density matrices ``[B, d, d]`` (``d = 2 ** qubits``)."""
        d = 2 ** self.qubits
        _, from_pauli = self._basis()
        vectors = self.pauli_vectors(tokens).to(self._complex)
        return (vectors @ from_pauli.T).reshape(-1, d, d)

    def _chain(self, tokens, transfer) -> torch.Tensor:
        """The scan as a product of per-token transfer matrices.

        Merging the hidden state ``h`` with token ``v`` is linear in ``h``:
        ``h' = T[v] h`` with ``T[v] = map . (I (x) state_v)``, computed once
        per vocabulary entry and block (padding is the identity). A batch
        with at least half as many rows as tokens (windows: thousands of
        rows of 32 tokens) is scanned by :func:`grouped_scan`, one batched
        product per token; a few long rows are reduced pairwise instead,
        ``T[v_L] ... T[v_1]`` in ``log2 L`` batched matrix products of a
        table of token pairs (``n`` times the arithmetic of the scan, but
        few steps). ``transfer`` ``[blocks, V, n, n]``: the blocks'
        :meth:`_transfers`.
        """
        n = transfer.shape[-1]
        eye = torch.eye(n, dtype=transfer.dtype, device=transfer.device)
        transfer = torch.cat([transfer, eye.expand(len(transfer), 1, n, n)],
                             dim=1)
        vocab = transfer.shape[1]                   # [blocks, V+1, n, n]
        length = tokens.shape[1] + tokens.shape[1] % 2
        padded = torch.full((tokens.shape[0], length), vocab - 1,
                            device=tokens.device)
        padded[:, :tokens.shape[1]] = torch.where(tokens >= 0, tokens,
                                                  vocab - 1)
        blocks = (torch.arange(length, device=tokens.device)
                  // self.block).clamp_max(len(transfer) - 1)
        start = self._basis()[0][:, 0].real   # |0...0><0...0|
        if 2 * tokens.shape[0] >= length:
            return grouped_scan(transfer, blocks, padded, start)
        if self.block % 2:   # pairs could straddle blocks: no pair table
            mats = transfer[blocks, padded]            # [B, L, n, n]
        else:                # pairs[k, v, w] = T[w] T[v]: v, then w
            pairs = torch.einsum('kwxy,kvyz->kvwxz', transfer, transfer)
            mats = pairs[blocks[0::2], padded[:, 0::2], padded[:, 1::2]]
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
            z = self._readout(tokens)
            logit = sum(weight * z[:, axis] for axis, (weight,)
                        in enumerate(self._axis_weights()))
        if self.terminus_weight is not None:
            logit = logit + self.terminus_weight \
                * self.terminus_readout(tokens)
        if self.composition_weights is not None:
            logit = logit + self.token_composition(tokens) \
                @ self.composition_weights
        if self.scan_weights is not None:
            logit = logit + self.scan_features(tokens) @ self.scan_weights
        p1 = torch.sigmoid(logit + self.readout[1])
        return torch.stack([1 - p1, p1], dim=1)

    def terminus_readout(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B]``: ``<Z>`` of the ``n_terminus`` circuit, a chain of its
        own over each row's first ``n_terminus`` tokens read from the last
        of them to the first (a shorter row's padding comes first and is
        the identity).

        >>> model = SequenceClassifier(['M', 'G', 'C'], 'chain',
        ...                            n_terminus=3, seed=1)
        >>> rows = torch.tensor([[0, 1, 2, 2, 2], [0, 1, -1, -1, -1]])
        >>> z = model.terminus_readout(rows)
        >>> bool(torch.isclose(z[0], model.terminus_readout(rows[:1, :3])[0]))
        True
        """
        head = tokens[:, :self.n_terminus].flip(1)
        return self._chain(head, self._transfers(self.terminus_angles))[
            :, self._axis_components[0]]

    def token_composition(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, V]``: the share of each vocabulary entry among each
        row's tokens (padding ``-1`` not counted)."""
        valid = tokens >= 0
        counts = torch.zeros(tokens.shape[0], len(self.vocabulary),
                             dtype=self.token_angles.dtype,
                             device=tokens.device)
        counts.scatter_add_(1, tokens.clamp_min(0),
                            valid.to(counts.dtype))
        return counts / valid.sum(1, keepdim=True).clamp_min(1)

    def scan_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, 2]``: the classical hydropathy scan
        (:func:`qnlp.data.fasta.hydropathy_scan`) of each row's
        ``scan_values`` (padding ``-1`` not counted); constants, no
        gradient. Below, the one window (3 tokens) has mean
        ``(4.5 + 4.5 - 3.9) / 3 = 1.7``, above 1.6:

        >>> model = SequenceClassifier(['I', 'K'], 'chain', window=4,
        ...                            scan_values=[4.5, -3.9])
        >>> model.scan_features(torch.tensor([[0, 0, 1, -1]])).tolist()
        [[0.3777777777777778, 0.6931471805599453]]
        """
        rows = tokens.cpu()
        scans = hydropathy_scan([self._scan_table[row[row >= 0]].numpy()
                                 for row in rows])
        return torch.as_tensor(scans, dtype=self.token_angles.dtype,
                               device=tokens.device)

    def _axis_weights(self) -> list[tuple[torch.Tensor, ...]]:
        """The read-out weights of each axis, ``Z`` first: with windows
        ``(weight of the soft maximum, log temperature, weight of the soft
        minimum)``, without ``(weight,)``."""
        first = (self.readout[0], self.readout[2], self.readout[3]) \
            if self.window else (self.readout[0],)
        rest = [] if self.axis_readout is None else self.axis_readout
        return [first, *(tuple(row) for row in rest)]

    def pooled_logit(self, z: torch.Tensor, valid: torch.Tensor
                     ) -> torch.Tensor:
        """Window read-outs ``z`` ``[B, W, A]`` (an entry per read-out
        axis) pooled into one logit per sequence (bias not added): for
        each axis, a weighted soft maximum minus a weighted soft minimum
        over the windows that hold tokens (``valid``), plus the weighted
        mean read-out with ``pooling='max-min-mean'``; summed over the
        axes; with ``ends``, plus the weighted read-outs of the first and
        the last valid window.

        >>> model = SequenceClassifier(['A'], 'chain', window=4,
        ...                            pooling='max-min-mean')
        >>> with torch.no_grad():
        ...     model.readout[:] = torch.tensor([0.0, 0.0, 0.0, 0.0])
        ...     model.mean_weight[:] = 2.0
        >>> z = torch.tensor([[[0.5], [-0.1], [0.9]]], dtype=torch.float64)
        >>> round(model.pooled_logit(z, torch.tensor([[True, True, False]])).item(), 12)
        0.4
        """
        logit, windows = 0, valid.sum(1)
        for axis, (w_max, log_t, w_min) in enumerate(self._axis_weights()):
            read = z[..., axis]
            logit = logit + w_max * self._soft_max(read, valid, log_t) \
                - w_min * self._soft_max(-read, valid, log_t)
            if self.mean_weight is not None:
                logit = logit + self.mean_weight[axis] * (
                    read.masked_fill(~valid, 0).sum(1)
                    / windows.clamp_min(1))
        if self.end_weights is not None:
            last = (windows - 1).clamp_min(0)
            ends = torch.stack([z[:, 0], z[torch.arange(len(z)), last]], 1)
            logit = logit + (ends * self.end_weights).sum((1, 2))
        return logit

    @staticmethod
    def _soft_max(z: torch.Tensor, valid: torch.Tensor,
                  log_temperature: torch.Tensor) -> torch.Tensor:
        temperature = log_temperature.exp()
        return temperature * torch.logsumexp(
            (z / temperature).masked_fill(~valid, -torch.inf), dim=1)

    def _readout(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, A]``: ``<Z>`` (then ``<X>``, ``<Y>`` with
        ``axes='xyz'``) of the first qubit of the final wire."""
        return self.pauli_vectors(tokens)[:, self._axis_components]

    def window_counts(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B]``: how many windows each sequence of ``L`` tokens has
        alone (padding is at the end), ``ceil(max(0, L - window) /
        stride) + 1``, whatever its batch-mates.

        >>> model = SequenceClassifier(['A'], 'chain', window=4, stride=2)
        >>> rows = torch.tensor([[0] * 5 + [-1] * 3, [0] * 8])
        >>> model.window_counts(rows).tolist()
        [2, 3]
        """
        beyond = (tokens >= 0).sum(1) - self.window
        return beyond.clamp_min(0).add(self.stride - 1).div(
            self.stride, rounding_mode='floor') + 1

    def _padded_for_windows(self, tokens: torch.Tensor,
                            counts: torch.Tensor) -> torch.Tensor:
        """``tokens`` padded (-1) to ``(max(counts) - 1) * stride +
        window``, the span of the longest sequence's windows (columns
        beyond it hold only padding)."""
        width = (int(counts.max()) - 1) * self.stride + self.window
        padded = torch.full((tokens.shape[0], width), -1,
                            device=tokens.device)
        kept = min(width, tokens.shape[1])
        padded[:, :kept] = tokens[:, :kept]
        return padded

    def windows(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, W, window]``: the windows of each padded sequence."""
        return self._padded_for_windows(
            tokens, self.window_counts(tokens)).unfold(1, self.window,
                                                       self.stride)

    def window_readouts(self, tokens: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, valid)``, ``[B, W, A]`` and ``[B, W]``: the read-outs
        (one per axis) of every window
        of each sequence (one batched evaluation of them all: a batch
        padded to its longest sequence costs what its tokens cost) and
        whether it is one of that sequence's windows (``z = 0`` where
        not): the :meth:`window_counts` it has alone, not also the
        windows that start inside it after its last full one, as a
        longer batch-mate's padding would allow.

        >>> model = SequenceClassifier(['A'], 'chain', window=4, stride=2)
        >>> model.window_readouts(torch.tensor([[0, 0, 0, 0, 0, -1, -1],
        ...                                     [0] * 7]))[1].tolist()
        [[True, True, False], [True, True, True]]
        """
        counts = self.window_counts(tokens)
        padded = self._padded_for_windows(tokens, counts)
        windows = padded.unfold(1, self.window, self.stride)
        holds_tokens = windows[:, :, 0] >= 0
        valid = holds_tokens & (torch.arange(windows.shape[1],
                                             device=tokens.device)
                                < counts[:, None])
        if self.mode == 'tree' and self._shared_levels():
            z = self._tree_window_vectors(padded)[:, self._axis_components]
            z = z.new_zeros(*valid.shape, z.shape[-1]).masked_scatter(
                holds_tokens.unsqueeze(-1), z)
            return z.masked_fill(~valid.unsqueeze(-1), 0), valid
        z = self._readout(windows[valid])
        return z.new_zeros(*valid.shape, z.shape[-1]).masked_scatter(
            valid.unsqueeze(-1), z), valid

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
