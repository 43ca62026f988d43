"""HQNN-Parallel's quantum layer: qnlp against PennyLane's TorchLayer.

The same layer both ways: four 5-qubit circuits, RY angle encoding
(``AngleEmbedding(rotation='Y')``), 3 layers of ``Rot`` = RZ-RY-RZ and a
CNOT ring (``StronglyEntanglingLayers`` with ``ranges=[1] * L``; its default
CNOT range grows with the layer), <Z> of every qubit, with the
same weights (checked: outputs and gradients agree). PennyLane runs one
``qml.qnn.TorchLayer`` per circuit on ``default.qubit`` with parameter
broadcasting (the whole batch in one call, backprop), and, as public
reimplementations do, one sample at a time (timed on fewer samples).

Timed: a training step (forward, backward, Adam step) on the same batch
of 20 inputs per image, for the quantum layer alone and for the whole
HQNN-Parallel network (28x28 images); images per second and ratios.
With ``--mnist DIR`` also one full MNIST training epoch (60,000 images)
of HQNN-Parallel with ``qnlp`` (``qnlp.tasks.train('images', ...)``,
batch 128).

    python benchmarks/bench_images.py [--batch 128] [--threads 1]
        [--mnist ../shared/data/images]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import torch

from qnlp.models.images import make_image_model
from qnlp.models.quantum_layers import ParallelQuantumLayer

K, N, L = 4, 5, 3


def pennylane_layer(weights: torch.Tensor) -> torch.nn.Module:
    """The same K circuits as K TorchLayers (broadcasting over the batch)."""
    import pennylane as qml

    class Parallel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers = []
            for k in range(K):
                device = qml.device('default.qubit', wires=N)

                @qml.qnode(device, interface='torch', diff_method='backprop')
                def circuit(inputs, weights):
                    qml.AngleEmbedding(inputs, wires=range(N), rotation='Y')
                    qml.StronglyEntanglingLayers(weights, wires=range(N),
                                                 ranges=[1] * L)
                    return [qml.expval(qml.PauliZ(q)) for q in range(N)]

                layer = qml.qnn.TorchLayer(circuit, {'weights': (L, N, 3)})
                with torch.no_grad():
                    layer.weights.copy_(weights[k])
                layers.append(layer)
            self.circuits = torch.nn.ModuleList(layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([layer(x[..., k * N:(k + 1) * N])
                              for k, layer in enumerate(self.circuits)], -1)

    return Parallel()


class PerSample(torch.nn.Module):
    """Loop over samples, as the public reimplementations do."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.layer(row) for row in x])


def step_time(module: torch.nn.Module, inputs: torch.Tensor,
              target: torch.Tensor, repeats: int, loss_fn) -> float:
    """Seconds per training step (forward, backward, Adam step)."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(module(inputs), target).backward()
        optimizer.step()
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--loop-samples', type=int, default=16,
                        help='samples for the one-at-a-time PennyLane run')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--mnist', metavar='DIR',
                        help='also time one MNIST epoch (folder of mnist/)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    import pennylane as qml

    ours = ParallelQuantumLayer(K, N, L, encoding='ry', rotations='zyz',
                                entangler='ring', seed=0)
    theirs = pennylane_layer(ours.weights.detach())
    x = torch.rand(args.batch, K * N) * 3
    check = torch.rand(8, K * N, dtype=torch.float64)
    ours64 = ParallelQuantumLayer(K, N, L, seed=0).double()
    theirs64 = pennylane_layer(ours64.weights.detach()).double()
    a, b = ours64(check), theirs64(check)
    a.sum().backward()
    b.sum().backward()
    grad_theirs = torch.stack([layer.weights.grad
                               for layer in theirs64.circuits])
    output_error = (a - b).abs().max().item()
    grad_error = (ours64.weights.grad - grad_theirs).abs().max().item()
    print(f"same layer: max |output difference| {output_error:.2e}, "
          f"max |gradient difference| {grad_error:.2e} (float64)")

    def mse(out, target):
        return ((out - target) ** 2).mean()
    target = torch.rand(args.batch, K * N)
    t_ours = step_time(ours, x, target, args.repeats, mse)
    t_pl = step_time(theirs, x, target, max(2, args.repeats // 5), mse)
    n_loop = args.loop_samples
    t_loop = step_time(PerSample(theirs), x[:n_loop], target[:n_loop], 1,
                       mse) * args.batch / n_loop
    layer = {'qnlp_images_per_s': args.batch / t_ours,
             'pennylane_broadcast_images_per_s': args.batch / t_pl,
             'pennylane_loop_images_per_s': args.batch / t_loop,
             'speedup_vs_broadcast': t_pl / t_ours,
             'speedup_vs_loop': t_loop / t_ours}
    print(f"\nquantum layer alone, training step on {args.batch} images "
          f"({K} circuits x {N} qubits x {L} layers):")
    print(f"  qnlp                          {t_ours * 1e3:9.2f} ms  "
          f"{layer['qnlp_images_per_s']:10.0f} images/s")
    print(f"  PennyLane TorchLayer, batch   {t_pl * 1e3:9.2f} ms  "
          f"{layer['pennylane_broadcast_images_per_s']:10.0f} images/s  "
          f"(qnlp {layer['speedup_vs_broadcast']:.1f}x faster)")
    print(f"  PennyLane, one sample a time  {t_loop * 1e3:9.2f} ms  "
          f"{layer['pennylane_loop_images_per_s']:10.0f} images/s  "
          f"(qnlp {layer['speedup_vs_loop']:.0f}x faster; from "
          f"{n_loop} samples)")

    model = make_image_model('hqnn-parallel', 1, 28, seed=0)
    hybrid_pl = make_image_model('hqnn-parallel', 1, 28, seed=0)
    hybrid_pl.middle = pennylane_layer(model.middle.weights.detach())
    images = torch.randn(args.batch, 1, 28, 28)
    labels = torch.randint(0, 10, (args.batch,))
    ce = torch.nn.functional.cross_entropy
    m_ours = step_time(model, images, labels, args.repeats, ce)
    m_pl = step_time(hybrid_pl, images, labels, max(2, args.repeats // 5),
                     ce)
    network = {'qnlp_images_per_s': args.batch / m_ours,
               'pennylane_broadcast_images_per_s': args.batch / m_pl,
               'speedup': m_pl / m_ours}
    print(f"\nwhole HQNN-Parallel network (28x28), training step on "
          f"{args.batch} images:")
    print(f"  qnlp                          {m_ours * 1e3:9.2f} ms  "
          f"{network['qnlp_images_per_s']:10.0f} images/s")
    print(f"  with PennyLane TorchLayer     {m_pl * 1e3:9.2f} ms  "
          f"{network['pennylane_broadcast_images_per_s']:10.0f} images/s  "
          f"(qnlp {network['speedup']:.1f}x faster)")

    epoch = None
    if args.mnist:
        from qnlp.data.images import locate_dataset
        from qnlp.tasks import train
        from qnlp.tasks.images import ImageSettings
        with tempfile.TemporaryDirectory() as run:
            metrics = train('images', locate_dataset('mnist', args.mnist),
                            f'{run}/run', ImageSettings(epochs=1,
                                                        batch_size=128),
                            progress=False)
        epoch = {'seconds': metrics['train_seconds'],
                 'test_accuracy_after_1_epoch': metrics['test_accuracy']}
        print(f"\none MNIST epoch (60,000 images, batch 128, augmentation "
              f"on): {epoch['seconds']:.1f} s, test accuracy "
              f"{epoch['test_accuracy_after_1_epoch']:.4f}")

    print(json.dumps({
        'benchmark': 'images', 'batch': args.batch,
        'threads': args.threads, 'torch': torch.__version__,
        'pennylane': qml.__version__, 'machine': platform.machine(),
        'cpus': os.cpu_count(), 'load_average': os.getloadavg(),
        'output_error': output_error, 'gradient_error': grad_error,
        'quantum_layer': layer, 'network': network, 'mnist_epoch': epoch}))


if __name__ == '__main__':
    main()
