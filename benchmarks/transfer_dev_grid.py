"""The dev-split grid behind the transfer part of bench_robust.py
(issue 21 item 2): heads on one frozen autoencoder's 64-d latent (seed
0), trained in plain torch on cached features (Adam one-cycle, batch
128, the features of the training images in a seeded order), each
scored by its best dev accuracy over the epochs. Dev only: the test
set is never read. Candidates (``HEAD:EPOCHS:LR``, any number):

* ``classical``, ``dressed``, ``reupload``: as in
  :mod:`qnlp.models.transfer`; ``classical-W`` the classical head with
  W units in its first layer (64 in ``classical``: a classical head as
  large as a hybrid);
* ``plin-Q``: ``transfer-linear`` on Q qubits (linear 64 -> Q, sigmoid,
  the paper's circuit, its 2**Q probabilities into the classical head);
  ``plinbn-Q`` with batch norm before the sigmoid;
* ``dbn-Q-L``: linear 64 -> Q, batch norm, tanh, a trained Q-qubit
  circuit of L layers (as the dressed head), the classical head;
  ``dlin-Q-L`` the same with a linear map to the classes;
* ``ham-Q-L``: ``transfer-hamiltonian`` on Q qubits with L layers (the
  latent as an 8 x 8 Hamiltonian on 3 qubits, else through a linear map
  64 -> 4**Q); ``hamlin-3-L`` with a trained map 64 -> 64 before the
  8 x 8 matrix all the same; ``hampar-K`` K such 4-qubit, 4-layer
  circuits side by side (each its own map), their 16 K probabilities
  into the classical head (as ``transfer-hamiltonian`` now; ``ham-4-4``
  was its first version).

    python benchmarks/transfer_dev_grid.py FOLDER HEAD:EPOCHS:LR ...

FOLDER is an IDX folder with ``val-*`` files (bench_robust.py writes
one: ``OUT/mnist-transfer``). Ends with one JSON line.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

import torch
from torch import nn

from qnlp.data.images import load_idx_dataset
from qnlp.models.creep import QuantumDense
from qnlp.models.quantum_layers import ParallelQuantumLayer
from qnlp.models.transfer import (LatentHamiltonian, Parallel, PaperCircuit,
                                  count_parameters, make_transfer_model,
                                  mlp_head, pretrain_encoder)


def features(folder: str) -> tuple[torch.Tensor, ...]:
    """Frozen seed-0 latent features and labels of train and dev."""
    found = load_idx_dataset(folder)
    def pixels(images):
        return torch.as_tensor(images).float().div(255).view(
            len(images), 1, 28, 28)
    train, dev = pixels(found.train_images), pixels(found.val_images)
    mean, std = train.mean(), train.std()
    net = make_transfer_model('transfer-classical', 784, 10, seed=0)
    pretrain_encoder(net, (train - mean) / std, 20, seed=0)
    with torch.no_grad():
        return (net.encoder((train - mean) / std),
                torch.as_tensor(found.train_labels).long(),
                net.encoder((dev - mean) / std),
                torch.as_tensor(found.val_labels).long())


def head(name: str) -> nn.Module:
    """The candidate head ``name`` (see the module docstring)."""
    torch.manual_seed(0)
    kind, *sizes = name.split('-')
    if kind == 'classical':
        return mlp_head(64, 10, width=int(sizes[0]) if sizes else 64)
    if kind == 'dressed':
        return make_transfer_model('transfer-dressed', 784, 10).head
    if kind == 'reupload':
        return nn.Sequential(QuantumDense(64, 16), mlp_head(16, 10))
    q = int(sizes[0])
    if kind == 'hampar':
        return nn.Sequential(Parallel([LatentHamiltonian(4, 4, seed=k)
                                        for k in range(q)]),
                             mlp_head(16 * q, 10))
    if kind in ('ham', 'hamlin'):
        circuit = LatentHamiltonian(q, int(sizes[1]))
        if kind == 'hamlin':   # a trained map even where a reshape fits
            circuit.map = nn.Linear(64, 4 ** q)
        return nn.Sequential(circuit, mlp_head(2 ** q, 10))
    if kind in ('plin', 'plinbn'):
        norm = [nn.BatchNorm1d(q)] if kind == 'plinbn' else []
        return nn.Sequential(nn.Linear(64, q), *norm, nn.Sigmoid(),
                             PaperCircuit(q), mlp_head(2 ** q, 10))
    circuit = ParallelQuantumLayer(1, q, int(sizes[1]), entangler='linear',
                                   input_scale=math.pi / 2)
    last = mlp_head(q, 10) if kind == 'dbn' else nn.Linear(q, 10)
    return nn.Sequential(nn.Linear(64, q), nn.BatchNorm1d(q), nn.Tanh(),
                         circuit, last)


def fit(name: str, epochs: int, lr: float, data: tuple) -> dict:
    """Train one candidate; its best and last dev accuracy."""
    train, labels, dev, dev_labels = data
    model = head(name)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, lr, total_steps=epochs * math.ceil(len(train) / 128))
    generator = torch.Generator().manual_seed(0)
    best, start = 0.0, time.perf_counter()
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(train), generator=generator
                                    ).split(128):
            loss = nn.functional.cross_entropy(model(train[batch]),
                                               labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            last = (model(dev).argmax(1) == dev_labels).float().mean().item()
        best = max(best, last)
    row = {'head': name, 'epochs': epochs, 'lr': lr,
           'parameters': count_parameters(model), 'dev_best': round(best, 3),
           'dev_last': round(last, 3),
           'seconds': round(time.perf_counter() - start, 1)}
    print(f"{name:<14} ep {epochs:>3} lr {lr:<6} params "
          f"{row['parameters']:>6} dev best {best:.3f} last {last:.3f} "
          f"{row['seconds']}s", flush=True)
    return row


def main() -> None:
    torch.set_num_threads(1)
    folder, specs = sys.argv[1], sys.argv[2:]
    data = features(folder)
    rows = [fit(name, int(epochs), float(lr), data)
            for name, epochs, lr in (spec.split(':') for spec in specs)]
    print(json.dumps({'benchmark': 'transfer_dev_grid', 'data': folder,
                      'load': [round(x, 2) for x in os.getloadavg()],
                      'rows': rows}))


if __name__ == '__main__':
    main()
