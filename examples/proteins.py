"""Proteins: a chain (RNN-style) quantum tensor network on FASTA data.

    python examples/proteins.py [FASTA_OR_DIR]

Default: the bundled synthetic corpus (membrane-like sequences carry a
hydrophobic stretch). Prints test accuracy, then the lambeq circuit of a
short sequence, which qnlp can draw, compile and export.
"""
import sys
import tempfile
from pathlib import Path

from qnlp.parsing.protein import chain_circuit, tokenise_protein
from qnlp.tasks import train
from qnlp.tasks.proteins import ProteinSettings

ROOT = Path(__file__).resolve().parents[1]

if __name__ == '__main__':
    corpus = sys.argv[1] if len(sys.argv) > 1 else ROOT / 'corpora' / 'proteins'
    out = Path(tempfile.mkdtemp()) / 'proteins'
    settings = ProteinSettings(model='chain', sharing='hierarchical',
                               epochs=15, batch_size=16)
    metrics = train('proteins', corpus, out, settings, progress=False)
    print(f"test accuracy {metrics['test_accuracy']:.3f} "
          f"({metrics['n_parameters']} parameters, "
          f"{metrics['train_seconds']:.1f} s); run in {out}")
    circuit = chain_circuit(tokenise_protein('MKLV'), layers=1)
    print(f"chain circuit of MKLV: {len(circuit.boxes)} boxes, "
          f"{len(circuit.free_symbols)} parameters")
