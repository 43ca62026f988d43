"""Train a DisCoCat sentence classifier on a corpus and save the run.

>>> import tempfile
>>> metrics = train_text_classifier('corpora/meaning', tempfile.mkdtemp(),
...                                 epochs=2, progress=False)
>>> sorted(k for k in metrics if k.endswith('accuracy'))
['dev_accuracy', 'test_accuracy', 'train_accuracy']
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import torch

from qnlp.data import Corpus, load_corpus
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.parsing import Parser, make_tagger
from qnlp.train.checkpoint import METRICS_FILE, atomic_write_json, save_run
from qnlp.train.trainer import Split, TrainConfig, evaluate, fit


def _split(pipeline: SentencePipeline, corpus: Corpus, examples) -> Split:
    circuits = pipeline.circuits([e.text for e in examples])
    labels = torch.tensor([corpus.label_index(e.label) for e in examples])
    return Split(circuits, labels)


def train_text_classifier(corpus_path: str | Path, out: str | Path,
                          seed: int = 0, epochs: int = 120,
                          batch_size: int = 0, lr: float = 0.1,
                          ansatz: str = 'iqp', layers: int = 1,
                          split: Sequence[float] | None = None,
                          tagger: str = 'lexicon', frobenius: bool = False,
                          progress: bool = True) -> dict[str, Any]:
    """Train on ``corpus_path``, write ``out``, return the metrics."""
    torch.manual_seed(seed)
    corpus = load_corpus(corpus_path, split=split, seed=seed)
    n_classes = len(corpus.labels)
    sentence_qubits = max(1, (n_classes - 1).bit_length())
    pipeline = SentencePipeline(Parser(make_tagger(tagger)), ansatz=ansatz,
                                layers=layers,
                                sentence_qubits=sentence_qubits,
                                frobenius=frobenius)
    pipeline.fit_vocabulary([e.text for e in corpus.train])
    train = _split(pipeline, corpus, corpus.train)
    dev = _split(pipeline, corpus, corpus.dev)
    test = _split(pipeline, corpus, corpus.test)

    model = DisCoCatClassifier.from_circuits(train.circuits, n_classes, seed)
    # Dev and test may use <unk> of categories absent from train.
    for circuits in (dev.circuits, test.circuits):
        model.extend_symbols(circuits)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                         seed=seed)
    start = time.perf_counter()
    history = fit(model, train, dev, config, progress=progress)
    train_seconds = time.perf_counter() - start

    metrics: dict[str, Any] = {'train_seconds': train_seconds,
                               'epochs': epochs,
                               'n_parameters': model.engine.n_weights,
                               'n_circuit_shapes': model.engine.n_plans}
    for name, data in (('train', train), ('dev', dev), ('test', test)):
        loss, accuracy = evaluate(model, model.prepare(data.circuits),
                                  data.labels)
        metrics[f'{name}_accuracy'] = accuracy
        metrics[f'{name}_loss'] = loss
    run_config = {
        'task': 'sentences', 'corpus': str(corpus_path),
        'corpus_sha256': corpus.fingerprint, 'labels': corpus.labels,
        'seed': seed, 'epochs': epochs, 'batch_size': batch_size, 'lr': lr,
        'ansatz': ansatz, 'layers': layers, 'tagger': tagger,
        'frobenius': frobenius,
        'sentence_qubits': sentence_qubits, 'split': list(split or []),
        'symbols': model.engine.symbols,
        'vocabulary': sorted(map(list, pipeline.vocabulary or ())),
    }
    out = Path(out)
    save_run(out, run_config, {'weights': model.weights})
    atomic_write_json(out / METRICS_FILE, metrics)
    atomic_write_json(out / 'history.json', history)
    return metrics
