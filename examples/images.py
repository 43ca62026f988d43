"""Images: HQNN-Parallel's quantum layer, and parameter counts.

    python examples/images.py

Trains the parallel quantum layer with a linear head on a toy task
(which half of a 20-pixel strip is brighter), then prints the parameter
counts of every image model. Real data: ``qnlp train --task images DATA
--out RUN`` (or ``qnlp.tasks.train('images', DATA, RUN, ImageSettings())``).
"""
import torch

from qnlp.models.images import parameter_table
from qnlp.models.quantum_layers import ParallelQuantumLayer

if __name__ == '__main__':
    torch.manual_seed(0)
    x = torch.rand(512, 20)
    y = (x[:, :10].sum(1) > x[:, 10:].sum(1)).long()
    model = torch.nn.Sequential(
        ParallelQuantumLayer(n_circuits=4, n_qubits=5, n_layers=3,
                             encoding='ry', rotations='zyz',
                             entangler='ring'),
        torch.nn.Linear(20, 2))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(60):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimiser.step()
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    print(f"toy task: loss {loss.item():.3f}, accuracy {accuracy:.3f}")
    print(parameter_table())
