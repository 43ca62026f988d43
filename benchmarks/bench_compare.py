"""Time `qnlp compare` on MC: DisCoCat and every baseline, 5 seeds.

    python benchmarks/bench_compare.py [--data ../shared/data/text/mc]

Prints the comparison table, the wall-clock time, and one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from qnlp.baselines import load_sentence_encoder
from qnlp.errors import ConfigError
from qnlp.tasks.compare import compare

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=Path(os.environ.get(
        'QNLP_DATA_DIR', ROOT.parent / 'shared' / 'data')) / 'text' / 'mc')
    parser.add_argument('--seeds', type=int, default=5)
    args = parser.parse_args()
    baselines = ['bow', 'tfidf', 'bilstm']
    try:
        load_sentence_encoder()
        baselines.append('embedding')
    except ConfigError as error:
        print(f"embedding baseline skipped: {error}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = compare(args.data, out, baselines=baselines,
                         seeds=args.seeds)
        print((Path(out) / 'comparison.md').read_text())
    seconds = time.perf_counter() - start
    print(f"compare: {seconds:.1f} s for {len(baselines) + 1} models x "
          f"{args.seeds} seeds (target: under 120 s)")
    print(json.dumps({'benchmark': 'bench_compare', 'corpus': str(args.data),
                      'machine': f'{platform.machine()} {os.cpu_count()} '
                      'cores', 'seconds': seconds, 'seeds': args.seeds,
                      'accuracy': {k: v['accuracy_mean'] for k, v in
                                   result['models'].items()}}))


if __name__ == '__main__':
    main()
