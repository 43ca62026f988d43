"""Sentences: parse, compile to circuits, train a DisCoCat classifier.

    python examples/sentences.py

Trains on the bundled *meaning* corpus (cooking versus computing) and
prints test accuracy and a prediction.
"""
from pathlib import Path

from qnlp.tasks import train
from qnlp.tasks.sentences import SentenceSettings

ROOT = Path(__file__).resolve().parents[1]

if __name__ == '__main__':
    import tempfile
    out = Path(tempfile.mkdtemp()) / 'meaning'
    metrics = train('sentences', ROOT / 'corpora' / 'meaning', out,
                                    SentenceSettings(epochs=60), progress=False)
    print(f"test accuracy {metrics['test_accuracy']:.3f} "
          f"({metrics['n_parameters']} parameters, "
          f"{metrics['train_seconds']:.1f} s); run in {out}")
