"""Building diagrams and circuits of real sentences: lambeq's calls against
qnlp's linear-time ones, side by side.

Between parsing and training, every sentence becomes a pregroup diagram
(lambeq: ``Diagram.create_pregroup_diagram``; qnlp:
:func:`qnlp.parsing.diagrams.pregroup_diagram`) and then a circuit
(lambeq: ``ansatz(diagram)``, its functor; qnlp:
:func:`qnlp.compiler.apply_ansatz`). On corpora where nearly every
sentence has its own grammar both lambeq calls grow with the square of
the sentence's length.

The sentences are SST-2 dev sentences parsed once with the spaCy tagger
(not timed). Each diagram is taken apart into its words and cups, and
both sides rebuild it; every result is checked equal (``==``) to
lambeq's before anything is timed. Then the two sides run in turns
(``--repeats`` rounds, alternating which goes first), each over all
sentences; a fresh ansatz each round, so qnlp's per-box pieces are built
again (as in a new run). Prints seconds per side and the ratios, by
sentence length, and ends with one JSON line.

    python benchmarks/bench_diagrams.py [--sst2 DIR] [--limit N]
        [--repeats N] [--ansatz iqp|sim14|diagonal]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from lambeq import RemoveCupsRewriter
from lambeq.backend.grammar import Cup, Diagram, Swap, Word

from qnlp.compiler import apply_ansatz, make_ansatz
from qnlp.parsing import parse_many
from qnlp.parsing.diagrams import pregroup_diagram

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('QNLP_DATA_DIR', ROOT.parent / 'shared' / 'data'))


def words_and_morphisms(diagram: Diagram) -> tuple[list[Any], list[tuple]]:
    """The words and ``(Cup or Swap, left, right)`` morphisms (positions
    in the words' joint type) that ``create_pregroup_diagram`` takes to
    make ``diagram``: the inverse of that call, read off its layers."""
    words, morphisms, alive = [], [], []
    for layer in diagram.layers:
        left, box, _ = layer.unpack()
        if isinstance(box, Word):
            alive.extend(range(len(alive), len(alive) + len(box.cod)))
            words.append(box)
            continue
        kind = Cup if isinstance(box, Cup) else Swap
        offset = len(left)
        morphisms.append((kind, alive[offset], alive[offset + 1]))
        if kind is Cup:
            del alive[offset:offset + 2]
    return words, morphisms


def sentences(sst2: Path, limit: int) -> list[str]:
    lines = (sst2 / 'stsa.binary.dev').read_text().splitlines()
    return [line.split(' ', 1)[1] for line in lines[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sst2', type=Path, default=DATA / 'text' / 'sst2')
    parser.add_argument('--limit', type=int, default=300)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--ansatz', default='iqp',
                        choices=('iqp', 'sim14', 'diagonal'))
    args = parser.parse_args()
    load = os.getloadavg()[0]

    texts = sentences(args.sst2, args.limit)
    parsed = parse_many(texts, tagger='spacy', target='s').diagrams
    pieces = [words_and_morphisms(d) for d in parsed]
    keeps_cups = args.ansatz == 'diagonal'
    rewrite = (lambda d: d) if keeps_cups else RemoveCupsRewriter()
    rewritten = [rewrite(d) for d in parsed]
    lengths = [len(words) for words, _ in pieces]

    # outputs first: both sides give equal diagrams and circuits
    check = make_ansatz(args.ansatz)
    for diagram, (words, cups), ready in zip(parsed, pieces, rewritten):
        assert Diagram.create_pregroup_diagram(words, cups) == diagram
        assert pregroup_diagram(words, cups) == diagram
        assert apply_ansatz(check, ready) == make_ansatz(args.ansatz)(ready)
    print(f"{len(parsed)} SST-2 dev sentences, {min(lengths)}-{max(lengths)} "
          f"words (median {statistics.median(lengths)}); diagrams and "
          f"{args.ansatz} circuits equal to lambeq's", flush=True)

    def time_side(side: str) -> dict[str, float]:
        ansatz = make_ansatz(args.ansatz)    # fresh: no cached pieces
        diagram_call = (Diagram.create_pregroup_diagram if side == 'lambeq'
                        else pregroup_diagram)
        circuit_call = ansatz if side == 'lambeq' else \
            (lambda d: apply_ansatz(ansatz, d))
        start = time.perf_counter()
        for words, cups in pieces:
            diagram_call(words, cups)
        middle = time.perf_counter()
        for ready in rewritten:
            circuit_call(ready)
        return {'diagrams': middle - start,
                'circuits': time.perf_counter() - middle}

    times: dict[str, list[dict[str, float]]] = {'lambeq': [], 'qnlp': []}
    for round_ in range(args.repeats):
        for side in (('lambeq', 'qnlp') if round_ % 2 == 0
                     else ('qnlp', 'lambeq')):
            times[side].append(time_side(side))
    best = {side: {step: min(t[step] for t in rows)
                   for step in ('diagrams', 'circuits')}
            for side, rows in times.items()}
    figures: dict[str, Any] = {
        'sentences': len(parsed), 'ansatz': args.ansatz,
        'median_words': statistics.median(lengths),
        'repeats': args.repeats, 'load_1min': round(load, 2),
        'machine': f"{platform.machine()}, {os.cpu_count()} cores"}
    for step in ('diagrams', 'circuits'):
        theirs, ours = best['lambeq'][step], best['qnlp'][step]
        figures[f'{step}_lambeq_s'] = round(theirs, 4)
        figures[f'{step}_qnlp_s'] = round(ours, 4)
        figures[f'{step}_speedup'] = round(theirs / ours, 1)
        print(f"{step:9s} lambeq {theirs:8.3f} s   qnlp {ours:8.3f} s   "
              f"{theirs / ours:6.1f}x  (best of {args.repeats})")
    # by length: where the square shows
    bands = [(0, 10), (10, 20), (20, 30), (30, 1000)]
    for low, high in bands:
        chosen = [i for i, n in enumerate(lengths) if low <= n < high]
        if not chosen:
            continue
        ratio = {}
        for side in ('lambeq', 'qnlp'):
            start = time.perf_counter()
            for i in chosen:
                words, cups = pieces[i]
                (Diagram.create_pregroup_diagram if side == 'lambeq'
                 else pregroup_diagram)(words, cups)
            ratio[side] = time.perf_counter() - start
        print(f"  {low:>2}-{high - 1:<3} words: {len(chosen):4d} sentences, "
              f"diagrams {ratio['lambeq'] / ratio['qnlp']:6.1f}x")
        figures[f'diagrams_speedup_{low}_{high - 1}_words'] = round(
            ratio['lambeq'] / ratio['qnlp'], 1)
    figures['load_1min_end'] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
