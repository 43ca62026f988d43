"""Dev accuracy of sentence-task settings on one corpus file, over seeds.

How the UCI settings of ``benchmarks/README.md`` were chosen: for each
seed, the file is split as ``qnlp compare --split`` splits it, each
configuration (a JSON object of :class:`~qnlp.tasks.sentences.
SentenceSettings` fields) is trained with the library's own
:func:`qnlp.train.fit` (best dev epoch kept), and its dev accuracy is
printed; test sentences are never scored. Parses come from the corpus
parse cache. One JSON line a (seed, configuration), then one with the
mean dev accuracy of each configuration.

    python benchmarks/sweep_text_dev.py FILE [--seeds 0,1,2] \
        [--base JSON] [--configs JSON-LIST]

e.g. ``--configs '[{"word_params": "embedding", "lr": 0.1, "epochs":
150}]'``; ``--base`` holds the fields every configuration shares
(default: the diagonal ansatz with shared types and a bias word, spaCy
tagger, the split 0.72,0.08,0.2).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict

import torch

from qnlp.tasks import get_task
from qnlp.tasks.sentences import SentenceSettings
from qnlp.train import fit

BASE = {'split': [0.72, 0.08, 0.2], 'tagger': 'spacy', 'ansatz': 'diagonal',
        'min_count': 1, 'share_types': True, 'bias': True}


def dev_accuracy(path: str, settings: SentenceSettings) -> float:
    """Dev accuracy of the best dev epoch of one run of ``settings``."""
    task = get_task('sentences')
    loaded = task.load(path, settings, progress=False)
    torch.manual_seed(settings.seed)
    model = task.build(settings, loaded, None)
    fit(model, loaded.train, loaded.dev, settings.train_config(),
        progress=False)
    with torch.no_grad():
        predicted = model(loaded.dev.circuits).argmax(1)
    return (predicted == loaded.dev.labels).double().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('file')
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--base', default=json.dumps(BASE))
    parser.add_argument('--configs', default='[{}]')
    args = parser.parse_args()
    base, configs = json.loads(args.base), json.loads(args.configs)
    found = defaultdict(list)
    for seed in map(int, args.seeds.split(',')):
        for number, config in enumerate(configs):
            fields = {**base, **config, 'seed': seed}
            fields['split'] = tuple(fields['split'])
            start = time.perf_counter()
            dev = dev_accuracy(args.file, SentenceSettings(**fields))
            found[number].append(dev)
            print(json.dumps({'seed': seed, **config, 'dev': dev,
                              'seconds': round(time.perf_counter() - start,
                                               1)}), flush=True)
    print(json.dumps({'file': args.file, 'base': base, 'mean_dev': [
        {**configs[n], 'dev': statistics.mean(v), 'seeds': len(v)}
        for n, v in sorted(found.items())]}))


if __name__ == '__main__':
    main()
