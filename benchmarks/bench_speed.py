"""Speed yardsticks: qnlp against the fastest simulators, side by side.

Four workloads, the same inputs on both sides, outputs checked equal
before anything is timed, one thread each (torch, OpenMP for qulacs, XLA
for JAX), repetitions interleaved (ours, peer, ours, peer, ...), best of
each kept; the ratio is qnlp time / peer time (below 1: qnlp faster).

1. ``statevector``: one 20-qubit state (``--qubits``), 13n gates:
   Hadamards, then 3 layers of RX, RY, RZ on every qubit and a CX ring
   (``qnlp.engine.statevector.Statevector``, no gradient) against qulacs
   (``QuantumCircuit.update_quantum_state``, no gate fusion) and
   tensorcircuit-ng (JAX, jit). Also the effective bandwidth, state bytes
   read and written per gate over time per gate, beside the measured
   ``torch.Tensor.copy_`` bandwidth of a state of the same size.
2. ``vqc``: loss (binary cross-entropy) and gradient of the VQC
   (angle encoding, EfficientSU2 reps 2 linear, parity) on 200 samples
   of 5 qubits, encodings computed once, against tensorcircuit-ng
   (jit of ``value_and_grad`` over ``vmap``).
3. ``gram``: the 1000 x 1000 fidelity Gram matrix of the ZZ feature map
   (5 qubits, 2 reps, full), ``QuantumKernel.evaluate``, against
   tensorcircuit-ng (states by ``vmap``, ``|S S^H|^2``, one jit).
4. ``hqnn``: HQNN-Parallel's quantum layer (4 circuits x 5 qubits x 3
   layers, RY encoding, ZYZ rotations, CX ring, <Z>), float32, batch 128:
   forward, MSE loss and gradient, against tensorcircuit-ng.

Also here, timed by ``bench_mc.py`` (which trains it beside qnlp and
lambeq, epochs interleaved): :class:`EinsumPeer`, the hand-batched peer
for DisCoCat circuits (lambeq circuits stacked by shape, one opt_einsum
expression per shape).

A peer that is not installed is skipped (``pip install qnlp[bench]``
installs both).

    python benchmarks/bench_speed.py [--qubits 20] [--repeats 5]

Prints times and ratios, best wall and median CPU (the process's CPU
seconds, which other processes on a loaded machine do not inflate:
:func:`side_by_side`); the last line is
one JSON object whose keys name workload and peer
(``"statevector/qulacs": ratio``, ``"statevector/qulacs_cpu": ratio``,
...).
"""
from __future__ import annotations

import os

for _name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_name, '1')
os.environ.setdefault('XLA_FLAGS', '--xla_cpu_multi_thread_eigen=false '
                      'intra_op_parallelism_threads=1')

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qnlp.engine.statevector import Statevector  # noqa: E402
from qnlp.models.kernel import QuantumKernel  # noqa: E402
from qnlp.models.quantum_layers import ParallelQuantumLayer  # noqa: E402
from qnlp.models.vqc import VQCModel  # noqa: E402
from qnlp.train.estimators import binary_cross_entropy  # noqa: E402


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def side_by_side(functions: dict[str, Callable[[], object]],
                 repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall seconds and median CPU seconds (the process's, all its
    threads) of each function, repetitions interleaved. CPU time leaves
    out the time other processes hold the core, so under load it
    compares the work where wall time also compares the scheduler's
    luck. The median, not the least: XLA computes on worker threads whose
    CPU time is booked when they next sleep, after the result is back,
    so one repetition's reading can be short (and the next one's long);
    nor the mean, which one recompilation inflates."""
    wall = {name: float('inf') for name in functions}
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name] = min(wall[name], time.perf_counter() - start)
    return wall, {name: float(np.median(c)) for name, c in cpu.items()}


def tensorcircuit():
    """tensorcircuit-ng on JAX in double precision, or None."""
    if not (installed('tensorcircuit') and installed('jax')):
        return None
    import jax
    jax.config.update('jax_enable_x64', True)
    import tensorcircuit as tc
    backend = tc.set_backend('jax')
    tc.set_dtype('complex128')
    return tc, backend


def report(out: dict, workload: str,
           times: tuple[dict[str, float], dict[str, float]]) -> None:
    """Print and record qnlp's wall time and its ratio to every peer's,
    wall (``workload/peer``) and CPU (``workload/peer_cpu``)."""
    wall, cpu = (dict(t) for t in times)
    ours, ours_cpu = wall.pop('qnlp'), cpu.pop('qnlp')
    out[f'{workload}/qnlp_s'] = ours
    out[f'{workload}/qnlp_cpu_s'] = ours_cpu
    line = (f"{workload}: qnlp {ours * 1e3:.2f} ms (median CPU "
            f"{ours_cpu * 1e3:.2f})")
    for peer, seconds in wall.items():
        out[f'{workload}/{peer}'] = ours / seconds
        out[f'{workload}/{peer}_cpu'] = ours_cpu / cpu[peer]
        line += (f"; {peer} {seconds * 1e3:.2f} ms (CPU "
                 f"{cpu[peer] * 1e3:.2f}), qnlp/{peer} {ours / seconds:.2f}"
                 f" (CPU {ours_cpu / cpu[peer]:.2f})")
    print(line)


# 1. statevector --------------------------------------------------------------
def circuit_angles(n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 2 * math.pi, (3, n, 3))


def statevector_bench(n: int, repeats: int, tcb, out: dict) -> None:
    angles = circuit_angles(n)
    n_gates = n + 3 * 4 * n

    def ours() -> np.ndarray:
        with torch.no_grad():
            state = Statevector.zeros(1, n)
            for q in range(n):
                state.h(q)
            for layer in angles:
                for q, (a, b, c) in enumerate(layer):
                    state.rx(a, q).ry(b, q).rz(c, q)
                for q in range(n):
                    state.cx(q, (q + 1) % n)
            return state.amplitudes[0].numpy()

    functions: dict[str, Callable[[], object]] = {'qnlp': ours}
    reference = ours()
    if installed('qulacs'):
        from qulacs import QuantumCircuit, QuantumState
        register, circuit = QuantumState(n), QuantumCircuit(n)
        for q in range(n):
            circuit.add_H_gate(q)
        for layer in angles:      # qulacs rotates by exp(+i theta P / 2)
            for q, (a, b, c) in enumerate(layer):
                circuit.add_RX_gate(q, -a)
                circuit.add_RY_gate(q, -b)
                circuit.add_RZ_gate(q, -c)
            for q in range(n):
                circuit.add_CNOT_gate(q, (q + 1) % n)

        def qulacs() -> np.ndarray:
            register.set_zero_state()
            circuit.update_quantum_state(register)
            return register.get_vector()
        check('statevector', 'qulacs', reference, qulacs())
        functions['qulacs'] = qulacs
    if tcb is not None:
        tc, backend = tcb

        def build(theta):
            c = tc.Circuit(n)
            for q in range(n):            # tc's qubit 0 is the top bit
                c.h(n - 1 - q)
            for layer in range(3):
                for q in range(n):
                    w = n - 1 - q
                    c.rx(w, theta=theta[layer, q, 0])
                    c.ry(w, theta=theta[layer, q, 1])
                    c.rz(w, theta=theta[layer, q, 2])
                for q in range(n):
                    c.cnot(n - 1 - q, n - 1 - (q + 1) % n)
            return c.state()
        jitted = backend.jit(build)
        theta = backend.convert_to_tensor(angles)
        check('statevector', 'tensorcircuit',
              reference, np.asarray(jitted(theta)))
        functions['tensorcircuit'] = lambda: jitted(theta).block_until_ready()
    times = side_by_side(functions, repeats)
    source = torch.zeros(2 ** n, dtype=torch.complex128)
    target = torch.empty_like(source)
    copy_s = side_by_side({'copy': lambda: target.copy_(source)},
                          20)[0]['copy']
    state_bytes = source.numel() * source.element_size()
    copy_gbs = 2 * state_bytes / copy_s / 1e9
    effective = 2 * state_bytes / (times[0]['qnlp'] / n_gates) / 1e9
    out['statevector/effective_GBps'] = effective
    out['statevector/copy_GBps'] = copy_gbs
    out['statevector/effective_over_copy'] = effective / copy_gbs
    print(f"statevector, {n} qubits, {n_gates} gates: effective "
          f"{effective:.1f} GB/s, copy {copy_gbs:.1f} GB/s "
          f"({effective / copy_gbs:.0%})")
    for peer in ('qulacs', 'tensorcircuit'):
        if peer in times[0]:
            out[f'statevector/{peer}_effective_GBps'] = (
                2 * state_bytes / (times[0][peer] / n_gates) / 1e9)
    report(out, 'statevector', times)


def check(workload: str, peer: str, ours, theirs, atol: float = 1e-9
          ) -> None:
    """Stop unless the outputs agree."""
    difference = float(np.abs(np.asarray(ours) - np.asarray(theirs)).max())
    if difference > atol:
        raise SystemExit(f"{workload}: qnlp and {peer} disagree by "
                         f"{difference:.2e}")
    print(f"{workload}: qnlp and {peer} agree (max |diff| "
          f"{difference:.1e})")


# 2. VQC loss + gradient ---------------------------------------------------
def vqc_bench(repeats: int, tcb, out: dict) -> None:
    n, samples = 5, 200
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(samples, n, generator=generator,
                   dtype=torch.float64) * math.pi
    labels = torch.randint(0, 2, (samples,), generator=generator)
    model = VQCModel(n, feature_map='angle', reps=2, entanglement='linear',
                     readout='parity')       # VQCClassifier's: [1 - p, p]
    states = model.encode(x)

    def ours() -> tuple[float, np.ndarray]:
        model.zero_grad()
        loss = binary_cross_entropy(model(states), labels)
        loss.backward()
        return loss.item(), model.weights.grad.numpy().copy()

    functions: dict[str, Callable[[], object]] = {'qnlp': ours}
    reference = ours()
    if tcb is not None:
        tc, backend = tcb
        import jax.numpy as jnp
        pairs = [(q, q + 1) for q in range(n - 1)]

        def probability(state, weights):
            c = tc.Circuit(n, inputs=state)
            for layer in range(3):
                block = weights[2 * n * layer: 2 * n * (layer + 1)]
                for q in range(n):
                    c.ry(n - 1 - q, theta=block[q])
                for q in range(n):
                    c.rz(n - 1 - q, theta=block[n + q])
                if layer < 2:
                    for a, b in pairs:
                        c.cnot(n - 1 - a, n - 1 - b)
            parity = backend.real(c.expectation_ps(z=list(range(n))))
            return jnp.clip((1 - parity) / 2, 0.0, 1.0)

        batched = backend.vmap(probability, vectorized_argnums=0)
        y = jnp.asarray(labels.numpy(), dtype=jnp.float64)

        def loss(weights, encoded):
            p = jnp.clip(batched(encoded, weights), 1e-9, 1 - 1e-9)
            return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))
        step = backend.jit(backend.value_and_grad(loss))
        weights = jnp.asarray(model.weights.detach().numpy())
        encoded = jnp.asarray(states.numpy())
        value, grad = step(weights, encoded)
        check('vqc', 'tensorcircuit', [reference[0], *reference[1]],
              [float(value), *np.asarray(grad)])
        functions['tensorcircuit'] = lambda: step(
            weights, encoded)[1].block_until_ready()
    report(out, 'vqc', side_by_side(functions, repeats))


# 3. Gram matrix -----------------------------------------------------------
def gram_bench(repeats: int, tcb, out: dict) -> None:
    n, samples = 5, 1000
    x = np.random.default_rng(0).uniform(0, math.pi, (samples, n))
    kernel = QuantumKernel('zz', n, reps=2, entanglement='full')
    functions: dict[str, Callable[[], object]] = {
        'qnlp': lambda: kernel.evaluate(x)}
    reference = kernel.evaluate(x)
    if tcb is not None:
        tc, backend = tcb
        import jax.numpy as jnp

        def state(row):
            c = tc.Circuit(n)
            for _ in range(2):
                for q in range(n):
                    c.h(n - 1 - q)
                for q in range(n):       # RZ: P up to a global phase
                    c.rz(n - 1 - q, theta=2 * row[q])
                for i in range(n):
                    for j in range(i + 1, n):
                        c.cnot(n - 1 - i, n - 1 - j)
                        c.rz(n - 1 - j, theta=2 * (math.pi - row[i])
                             * (math.pi - row[j]))
                        c.cnot(n - 1 - i, n - 1 - j)
            return c.state()
        states = backend.vmap(state, vectorized_argnums=0)

        def gram(rows):
            s = states(rows)
            overlaps = s @ jnp.conj(s).T
            return jnp.real(overlaps) ** 2 + jnp.imag(overlaps) ** 2
        jitted = backend.jit(gram)
        rows = jnp.asarray(x)
        check('gram', 'tensorcircuit', reference, np.asarray(jitted(rows)))
        functions['tensorcircuit'] = lambda: np.asarray(jitted(rows))
    report(out, 'gram', side_by_side(functions, repeats))


# 4. HQNN-Parallel quantum layer -------------------------------------------
def hqnn_bench(repeats: int, tcb, out: dict) -> None:
    k, n, layers, batch = 4, 5, 3, 128
    layer = ParallelQuantumLayer(k, n, layers, encoding='ry',
                                 rotations='zyz', entangler='ring', seed=0)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(batch, k * n, generator=generator) * 3
    target = torch.rand(batch, k * n, generator=generator)

    def ours() -> tuple[float, np.ndarray]:
        layer.zero_grad()
        loss = ((layer(inputs) - target) ** 2).mean()
        loss.backward()
        return loss.item(), layer.weights.grad.numpy().copy()

    functions: dict[str, Callable[[], object]] = {'qnlp': ours}
    reference = ours()
    if tcb is not None:
        tc, backend = tcb
        import jax.numpy as jnp
        tc.set_dtype('complex64')

        signs = jnp.asarray(1 - 2 * ((np.arange(2 ** n)[:, None]
                                      >> (n - 1 - np.arange(n))) & 1),
                            dtype=jnp.float32)           # <Z_q> per state

        def one(x, weights):            # one circuit on one sample
            c = tc.Circuit(n)
            for q in range(n):
                c.ry(q, theta=x[q])
            for l_index in range(layers):
                for q in range(n):
                    c.rz(q, theta=weights[l_index, q, 0])
                    c.ry(q, theta=weights[l_index, q, 1])
                    c.rz(q, theta=weights[l_index, q, 2])
                for q in range(n):
                    c.cnot(q, (q + 1) % n)
            state = c.state()
            return (jnp.real(state) ** 2 + jnp.imag(state) ** 2) @ signs

        circuits = backend.vmap(one, vectorized_argnums=(0, 1))

        def circuit(x, weights):        # one sample, all k circuits
            return circuits(x.reshape(k, n), weights).reshape(-1)
        batched = backend.vmap(circuit, vectorized_argnums=0)
        y = jnp.asarray(target.numpy())

        def loss(weights, x):
            return jnp.mean((batched(x, weights) - y) ** 2)
        step = backend.jit(backend.value_and_grad(loss))
        weights = jnp.asarray(layer.weights.detach().numpy())
        x = jnp.asarray(inputs.numpy())
        value, grad = step(weights, x)
        tc.set_dtype('complex128')
        check('hqnn', 'tensorcircuit', [reference[0], *reference[1].ravel()],
              [float(value), *np.asarray(grad).ravel()], atol=1e-4)
        functions['tensorcircuit'] = lambda: step(
            weights, x)[1].block_until_ready()
    report(out, 'hqnn', side_by_side(functions, repeats))


# 5. MC: DisCoCat training steps against a hand-batched einsum peer -------
def _gate(kind: str, phases: torch.Tensor) -> torch.Tensor:
    """lambeq's ``Rx``, ``Ry``, ``Rz`` (``[B, in, out]``) or ``CRz``
    (``Cd``: distance ``d`` = +1 / -1, ``[B, in0, in1, out0, out1]``) at
    ``phases`` in turns, as lambeq defines them."""
    c, s = torch.cos(math.pi * phases), torch.sin(math.pi * phases)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if kind == 'Rx':
        m = [[c, -1j * s], [-1j * s, c]]
    elif kind == 'Ry':
        m = [[c, s], [-s, c]]
    elif kind in ('Rz', 'C1', 'C-1'):
        m = [[c - 1j * s, zero], [zero, c + 1j * s]]
    else:
        raise NotImplementedError(kind)
    gate = torch.stack([torch.stack(row, -1) for row in m], -2).to(
        torch.complex128)
    if kind in ('Rx', 'Ry', 'Rz'):
        return gate
    # Controlled Rz: identity unless the control (left for +1) is 1.
    out = torch.zeros(len(phases), 2, 2, 2, 2, dtype=torch.complex128)
    diagonal = torch.diagonal(gate, dim1=-2, dim2=-1)       # [B, 2]
    for a in (0, 1):
        for b in (0, 1):
            control, target = (a, b) if kind == 'C1' else (b, a)
            out[:, a, b, a, b] = diagonal[:, target] if control else 1
    return out


class EinsumPeer:
    """The fastest peer a user could write for lambeq circuits: circuits
    stacked by shape, every parametrised gate of a shape built batched
    from its angles, one opt_einsum expression per shape and batch size
    (order found once, constants folded by opt_einsum), in torch.
    ``peer(weights, circuits)`` returns normalised probabilities."""

    def __init__(self, symbols: list[str]) -> None:
        self.column = {name: i for i, name in enumerate(symbols)}
        self.shapes: dict[tuple, tuple] = {}   # key -> equation, constants
        self.circuits: dict[int, tuple] = {}   # id -> key, columns, scales
        self.expressions: dict[tuple, object] = {}

    def _compile(self, circuit) -> tuple:
        import opt_einsum
        symbol = (opt_einsum.get_symbol(i) for i in itertools.count(1))
        wires: list[str] = []
        terms, constants, key, columns, scales = [], [], [], [], []
        for layer in circuit.layers:
            left, box, _ = layer.unpack()
            at, width = len(left), len(box.dom)
            ins, outs = wires[at:at + width], [next(symbol) for _ in box.cod]
            wires[at:at + width] = outs
            if box.free_symbols:
                core = box.controlled if hasattr(box, 'controlled') else box
                kind = (f'C{box.distance}' if hasattr(box, 'controlled')
                        else type(box).__name__)
                key.append((kind, at))
                columns.append(self.column[core.data.name])
                scales.append(float(core.data.scale))
                terms.append('a' + ''.join(ins + outs))
            else:
                array = np.asarray(box.array, dtype=complex)
                key.append((array.tobytes(), at, width, len(box.cod)))
                constants.append((len(terms), array))
                terms.append(''.join(ins + outs))
        key = tuple(key)
        if key not in self.shapes:
            self.shapes[key] = (','.join(terms) + '->a' + ''.join(wires),
                                constants, [k for k in key if len(k) == 2])
        entry = (key, columns, scales)
        self.circuits[id(circuit)] = (circuit, entry)
        return entry

    def __call__(self, weights: torch.Tensor, circuits) -> torch.Tensor:
        import opt_einsum
        groups: dict[tuple, tuple[list, list, list]] = {}
        for position, circuit in enumerate(circuits):
            cached = self.circuits.get(id(circuit))
            key, columns, scales = (cached[1] if cached and cached[0]
                                    is circuit else self._compile(circuit))
            group = groups.setdefault(key, ([], [], scales))
            group[0].append(position)
            group[1].append(columns)
        results, order = [], []
        for key, (positions, columns, scales) in groups.items():
            equation, constants, gates = self.shapes[key]
            phases = weights[torch.tensor(columns)] * torch.tensor(scales)
            operands = [_gate(kind, phases[:, n])
                        for n, (kind, _) in enumerate(gates)]
            expression = self.expressions.get((key, len(positions)))
            if expression is None:
                shapes = [tuple(o.shape) for o in operands]
                for place, array in constants:
                    shapes.insert(place, array)
                expression = self.expressions[key, len(positions)] = \
                    opt_einsum.contract_expression(
                        equation, *shapes,
                        constants=[place for place, _ in constants])
            amplitudes = expression(*operands, backend='torch')
            probabilities = amplitudes.real.square() + amplitudes.imag.square()
            results.append(probabilities / probabilities.sum(1, keepdim=True))
            order += positions
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return torch.cat(results)[inverse]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--qubits', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--only', nargs='*',
                        choices=('statevector', 'vqc', 'gram', 'hqnn'))
    args = parser.parse_args()
    torch.set_num_threads(1)
    tcb = tensorcircuit()
    out: dict = {'machine': f"{platform.machine()}, {os.cpu_count()} cores",
                 'torch': torch.__version__,
                 'load_average_start': os.getloadavg()[0]}
    print(f"load average {os.getloadavg()}; peers: qulacs "
          f"{'yes' if installed('qulacs') else 'not installed'}, "
          f"tensorcircuit-ng {'yes' if tcb else 'not installed'}")
    benches = {'statevector': lambda: statevector_bench(
        args.qubits, max(2, args.repeats // 2), tcb, out),
        'vqc': lambda: vqc_bench(10 * args.repeats, tcb, out),
        'gram': lambda: gram_bench(2 * args.repeats, tcb, out),
        'hqnn': lambda: hqnn_bench(10 * args.repeats, tcb, out)}
    for name, bench in benches.items():
        if not args.only or name in args.only:
            bench()
    out['load_average_end'] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == '__main__':
    main()
