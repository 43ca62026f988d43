"""Parser coverage and speed: MC, RP and SST-2, lexicon and spaCy taggers.

Coverage is the share of sentences that reduce (MC to ``s``, RP to ``n``,
SST-2 to ``s`` or ``n``) with no fallback. Speed is measured on one core,
cold (a fresh parser, so caches start empty), beside lambeq's
``cups_reader`` (which ignores grammar) on the same sentences.

    python benchmarks/bench_parser.py [--data ../shared/data] [--sst2-limit N]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from multiprocessing import Pool
from pathlib import Path

from qnlp.errors import ParseError

ROOT = Path(__file__).resolve().parents[1]


def sentences(path: Path) -> list[str]:
    return [line.split(None, 1)[1].strip()
            for line in path.read_text().splitlines() if line.strip()]


def make_parser(tagger: str):
    from qnlp.parsing import Parser
    if tagger == 'spacy':
        from qnlp.parsing.spacy_tagger import SpacyTagger
        return Parser(tagger=SpacyTagger())
    return Parser()


def coverage_chunk(job: tuple[str, str | None, list[str]]) -> list[bool]:
    tagger, target, chunk = job
    parser = make_parser(tagger)
    results = []
    for sentence in chunk:
        try:
            diagram = parser.parse(sentence, target)
            results.append(target is None or str(diagram.cod) == target)
        except ParseError:
            results.append(False)
    return results


def coverage(tagger: str, target: str | None, items: list[str],
             workers: int) -> tuple[float, float]:
    chunks = [items[i::workers] for i in range(workers)]
    start = time.perf_counter()
    with Pool(workers) as pool:
        parsed = pool.map(coverage_chunk,
                          [(tagger, target, c) for c in chunks])
    seconds = time.perf_counter() - start
    return sum(map(sum, parsed)) / len(items), seconds


def throughput(parse, items: list[str], repeats: int = 3) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        for sentence in items:
            parse(sentence)
    return repeats * len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=Path(os.environ.get(
        'QNLP_DATA_DIR', ROOT.parent / 'shared' / 'data')))
    parser.add_argument('--sst2-limit', type=int, default=0,
                        help='only the first N SST-2 train sentences')
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args()
    text = args.data / 'text'
    mc = [s for f in sorted((text / 'mc').glob('*.txt'))
          for s in sentences(f)]
    rp = [s for f in sorted((text / 'rp').glob('*.txt'))
          for s in sentences(f)]
    sst2 = sentences(text / 'sst2' / 'stsa.binary.train')
    if args.sst2_limit:
        sst2 = sst2[:args.sst2_limit]
    figures: dict = {'benchmark': 'bench_parser',
                     'machine': f'{platform.machine()} {os.cpu_count()} cores'}

    for name, items, target in (('mc', mc, 's'), ('rp', rp, 'n')):
        share, _ = coverage('lexicon', target, items, 1)
        figures[f'{name}_coverage_lexicon'] = share
        print(f"{name.upper()}: {share:.1%} of {len(items)} reduce to "
              f"{target} with the lexicon tagger, no fallback")

    try:
        make_parser('spacy')
        taggers = ['lexicon', 'spacy']
    except Exception as error:  # spaCy or its English pipeline missing
        print(f"spaCy tagger unavailable ({error}); lexicon only")
        taggers = ['lexicon']
    for tagger in taggers:
        share, seconds = coverage(tagger, None, sst2, args.workers)
        figures[f'sst2_coverage_{tagger}'] = share
        figures[f'sst2_seconds_{tagger}'] = seconds
        print(f"SST-2 train ({len(sst2)} sentences): {share:.1%} parse "
              f"without fallback with the {tagger} tagger "
              f"({seconds:.0f} s on {args.workers} processes)", flush=True)

    from lambeq import cups_reader
    from qnlp.parsing import Parser
    from qnlp.data.generate import generate_meaning
    novel = [s for split in generate_meaning(seed=1) for _, s in split]
    ours_mc = throughput(Parser().parse, mc, repeats=1)
    ours_novel = throughput(Parser().parse, novel, repeats=1)
    cups = throughput(cups_reader.sentence2diagram, mc, repeats=1)
    figures.update({'mc_sentences_per_second_cold': ours_mc,
                    'novel_mc_length_sentences_per_second_cold': ours_novel,
                    'lambeq_cups_reader_sentences_per_second': cups,
                    'ratio_vs_cups_reader': ours_mc / cups})
    print(f"speed, one core, fresh parser: MC {ours_mc:,.0f} sentences/s, "
          f"{len(novel)} generated MC-length sentences {ours_novel:,.0f}/s; "
          f"lambeq cups_reader (no grammar) {cups:,.0f}/s on MC "
          f"(ratio {ours_mc / cups:.1f})")
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
