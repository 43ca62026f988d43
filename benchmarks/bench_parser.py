"""Parse quality against UD EWT gold trees and parser speed, per tagger.

For each tagger available (``lexicon``; ``spacy``: spaCy's dependency
tree turned into DisCoCat types by the dependency construction,
:class:`qnlp.parsing.dependency.DependencyParser`; ``spacy-tree``: the
same without its fallback beam search, so a tree the construction
rejects is an error;
``spacy-search``: spaCy's tags as preferences of the beam search, the
previous spaCy path; ``gold-tree``: the same construction run on the
gold trees themselves, :class:`qnlp.parsing.gold.GoldTrees`, what the
conversion scores when the tree is right: quality only) it prints the six constructions of
:mod:`qnlp.parsing.gold` on EWT dev and test (share parsing to ``s``,
share whose scored word gets its gold type), then speed on one core
(processor time of one process, a fresh parser so caches start empty,
``analyse_many`` on the raw text): all EWT test sentences, the construction sentences, and
the first SST-2 train sentences; then the ``spacy`` parser and spaCy's
own ``nlp.pipe`` on the same tokens in turns (``--repeats``), with the
ratio of their speeds, and why the declarative root verbs the ``spacy``
parser misses miss: (b) the conversion, when it misses on the gold tree
too, else (a) spaCy's tree, read off it. Ends with one JSON line
holding every figure.

    python benchmarks/bench_parser.py [--ud DIR] [--sst2 DIR] [--limit N]
        [--taggers LIST] [--repeats N] [--speed-only] [--parts LIST]
        [--spacy-pipeline NAME|PATH]

``--spacy-pipeline`` is the spaCy pipeline of every spaCy tagger (an
installed package such as ``en_core_web_trf``, or a trained pipeline
directory; default ``en_core_web_sm``).

``--speed-only`` skips the quality tables (the same on every run of the
same code) for timing runs: EWT test is then read for its raw texts
only. ``--parts dev`` scores EWT dev alone, for choosing changes
without looking at test (the speed sets are the same).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from qnlp import parsing as parsers
from qnlp.errors import ConfigError
from qnlp.parsing import Parser, make_tagger, tokenise
from qnlp.parsing.gold import CONSTRUCTIONS, GoldTrees, read_conllu, \
    score, select, word_type
from qnlp.spacy_pipeline import DEFAULT_PIPELINE, checked

ROOT = Path(__file__).resolve().parents[1]
#: The stages of :class:`qnlp.parsing.dependency.DependencyParser`.
STAGES = ('tree', 'narrow', 'fallback', 'unparsed')
DATA = ROOT.parent / 'shared' / 'data' / 'text'


def make_parser(tagger: str, pipeline: str = DEFAULT_PIPELINE
                ) -> Parser | GoldTrees:
    """A fresh parser: the library's own for ``lexicon`` and ``spacy``;
    ``spacy-tree`` is ``spacy`` without the fallback searches;
    ``spacy-search`` is spaCy's tags as preferences of the beam search;
    ``gold-tree`` converts the gold trees. The spaCy taggers read spaCy
    pipeline ``pipeline``."""
    if tagger == 'gold-tree':
        return GoldTrees()
    if tagger == 'spacy-tree':
        from qnlp.parsing.dependency import DependencyParser
        return DependencyParser(make_tagger('spacy', pipeline),
                                fallback_widths=())
    if tagger == 'spacy-search':
        return Parser(make_tagger('spacy', pipeline))
    return parsers.make_parser(tagger, pipeline if tagger == 'spacy'
                               else DEFAULT_PIPELINE)


def available_taggers(pipeline: str) -> list[str]:
    """Every tagger when spaCy and ``pipeline`` are there; else lexicon
    only, or, for a pipeline other than the default, the one-line
    error naming it."""
    try:
        checked('spacy', pipeline)
    except ConfigError as error:
        if pipeline != DEFAULT_PIPELINE:
            raise
        print(f"spaCy unavailable ({error}); lexicon only")
        return ['lexicon', 'gold-tree']
    return ['lexicon', 'spacy', 'spacy-tree', 'spacy-search', 'gold-tree']


def sst2_sentences(directory: Path, limit: int) -> list[str]:
    """The first ``limit`` sentences of ``stsa.binary.train`` (lines
    ``label sentence``)."""
    lines = (directory / 'stsa.binary.train').read_text().splitlines()
    return [line.split(None, 1)[1] for line in lines[:limit]]


def per_second(run: Callable[[list[str]], Any], items: list[str]) -> float:
    """Sentences per second of processor time: a fair per-core figure
    on a machine shared with other jobs."""
    start = time.process_time()
    run(items)
    return len(items) / (time.process_time() - start)


def spacy_pipe_speed(items: list[str], pipeline: str) -> float:
    """spaCy's ``nlp.pipe`` (of ``pipeline``) alone on the tokens the
    parser would see."""
    tagger = make_tagger('spacy', pipeline)
    tokens = [tokenise(s) for s in items]
    tokens = [t for t in tokens if t]
    return per_second(tagger.docs, tokens)


def declarative_misses(sentences: list, pipeline: str) -> Counter[str]:
    """Why the ``spacy`` parser's root verb misses its gold type, per
    declarative sentence it misses: (b) the conversion, when the
    construction on the gold tree misses too (:class:`GoldTrees`); else
    (a) spaCy's tree, read off it: the word is not spaCy's root, not a
    verb, has other complements than the gold tree (objects, clauses),
    or the tree differs elsewhere."""
    instance = make_parser('spacy-tree', pipeline)
    picked = select(sentences, 'declarative')
    results = instance.analyse_many([s.text for s, _, _ in picked], 's')
    docs = instance.tagger.docs([tokenise(s.text) for s, _, _ in picked])
    reasons: Counter[str] = Counter()
    for (sentence, index, gold), result, doc in zip(picked, results, docs):
        if not isinstance(result, Exception) \
                and word_type(result, sentence, index) == gold:
            continue
        converted = GoldTrees().analyse_gold(sentence, 's')
        if isinstance(converted, Exception) \
                or word_type(converted, sentence, index) != gold:
            reasons['(b) conversion: misses on the gold tree too'] += 1
            continue
        form = sentence.tokens[index].form.lower()
        occurrence = sum(t.form.lower() == form
                         for t in sentence.tokens[:index])
        same = [t for t in doc if t.lower_ == form]
        if len(same) <= occurrence:
            reasons['(a) spaCy: tokenised otherwise'] += 1
            continue
        token = same[occurrence]
        complements = sum(c.dep_ in ('dobj', 'attr', 'oprd', 'ccomp',
                                     'xcomp', 'acomp', 'dative')
                          for c in token.children)
        if token.dep_ != 'ROOT':
            reasons["(a) spaCy: not its root"] += 1
        elif token.pos_ not in ('VERB', 'AUX'):
            reasons[f"(a) spaCy: root tagged {token.pos_}"] += 1
        elif complements != gold.count('n.l'):
            reasons['(a) spaCy: other complements'] += 1
        else:
            reasons['(a) spaCy: tree differs elsewhere'] += 1
    return reasons


def pipe_ratios(ewt: list[str], sst2: list[str], repeats: int,
                pipeline: str) -> dict[str, Any]:
    """The ``spacy`` parser beside spaCy's ``nlp.pipe`` alone, run in
    turns ``repeats`` times on each set (load changes slowly, so
    neighbouring runs share it): median speeds and the median of the
    per-turn ratios (the parser's share of spaCy's own speed)."""
    figures: dict[str, Any] = {}
    for label, items in (('ewt_test', ewt), ('sst2', sst2)):
        parser_speeds, pipe_speeds = [], []
        for _ in range(repeats):
            instance = make_parser('spacy', pipeline)
            parser_speeds.append(per_second(
                lambda batch: instance.analyse_many(batch, None), items))
            pipe_speeds.append(spacy_pipe_speed(items, pipeline))
        ratios = [a / b for a, b in zip(parser_speeds, pipe_speeds)]
        figures[f'interleaved/{label}'] = {
            'spacy': round(statistics.median(parser_speeds), 1),
            'nlp_pipe': round(statistics.median(pipe_speeds), 1),
            'ratio': round(statistics.median(ratios), 2),
            'ratios': [round(r, 2) for r in ratios]}
        print(f"{label}, {repeats} turns: spacy parser "
              f"{statistics.median(parser_speeds):,.1f}/s, nlp.pipe alone "
              f"{statistics.median(pipe_speeds):,.1f}/s; the parser runs at "
              f"{statistics.median(ratios):.2f} of spaCy's speed "
              f"(turns {', '.join(f'{r:.2f}' for r in ratios)})", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ud', type=Path, default=DATA / 'ud_ewt',
                        help='directory of en_ewt-ud-{dev,test}.conllu')
    parser.add_argument('--sst2', type=Path, default=DATA / 'sst2',
                        help='directory of stsa.binary.train')
    parser.add_argument('--limit', type=int, default=0,
                        help='at most N sentences in each speed set '
                             '(default: all EWT test, first 1,000 SST-2)')
    parser.add_argument('--taggers', default='',
                        help='comma-separated subset of lexicon,spacy,'
                             'spacy-tree,spacy-search,gold-tree')
    parser.add_argument('--repeats', type=int, default=3,
                        help='turns of the spacy parser and nlp.pipe alone '
                             '(default 3)')
    parser.add_argument('--speed-only', action='store_true',
                        help='speed only: no quality tables (for timing '
                             'runs; EWT test labels are not scored)')
    parser.add_argument('--parts', default='dev,test',
                        help='comma-separated EWT parts to score: dev, '
                             'test or both (default dev,test); dev alone '
                             'chooses changes without reading test')
    parser.add_argument('--spacy-pipeline', default=DEFAULT_PIPELINE,
                        metavar='NAME|PATH',
                        help='spaCy pipeline of the spaCy taggers: an '
                             'installed package or a trained pipeline '
                             f'directory (default {DEFAULT_PIPELINE})')
    args = parser.parse_args()
    try:
        taggers = available_taggers(args.spacy_pipeline)
    except ConfigError as error:
        parser.error(str(error))
    if args.repeats < 1:
        parser.error(f"--repeats: {args.repeats} is not a positive number")
    parts = args.parts.split(',')
    if not parts or set(parts) - {'dev', 'test'}:
        parser.error(f"--parts: {args.parts!r} is not a list of dev, test")
    gold = {split: read_conllu(args.ud / f'en_ewt-ud-{split}.conllu')
            for split in ('dev', 'test')}
    ewt = [s.text for s in gold['test'] if s.text.strip()]
    sst2 = sst2_sentences(args.sst2, args.limit or 1000)
    ewt = ewt[:args.limit or None]
    constructed = [sentence.text for split in gold
                   for name in CONSTRUCTIONS
                   for sentence, _, _ in select(gold[split], name)]
    if args.taggers:
        wanted = args.taggers.split(',')
        unknown = [t for t in wanted if t not in taggers]
        if unknown:
            parser.error(f"--taggers: {', '.join(unknown)} not among "
                         f"the available {','.join(taggers)}")
        taggers = wanted
    figures: dict[str, Any] = {
        'benchmark': 'bench_parser',
        'machine': f'{platform.machine()} {os.cpu_count()} cores',
        'spacy_pipeline': args.spacy_pipeline,
        'quality': {}, 'speed': {}, 'fallback': {}}

    for tagger in taggers:
        figures['quality'][tagger] = {}
        if args.speed_only:
            print(f"\n== {tagger}")
        else:
            print(f"\n== {tagger}: construction, sentences, parses to s, "
                  f"gold type ({' | '.join(parts)})")
        for split in () if args.speed_only else parts:
            instance = make_parser(tagger, args.spacy_pipeline)
            for name in CONSTRUCTIONS:
                report = score(instance, gold[split], name)
                figures['quality'][tagger][f'{split}/{name}'] = report
        for name in () if args.speed_only else CONSTRUCTIONS:
            reports = [figures['quality'][tagger][f'{split}/{name}']
                       for split in parts]
            # four places: 175 / 206 = 0.8495 is not 0.85
            print(f"{name:<13} " + ' | '.join(
                f"{r['sentences']:>4} {r['parses_to_s']:6.4f} "
                f"{r['gold_type']:6.4f}" for r in reports))
        if tagger == 'gold-tree':
            continue        # no text to parse: no speed
        speed = {}
        for label, items in (('constructions', constructed),
                             ('ewt_test', ewt), ('sst2', sst2)):
            instance = make_parser(tagger, args.spacy_pipeline)
            results: list = []
            speed[label] = round(per_second(
                lambda batch: results.extend(
                    instance.analyse_many(batch, None)), items), 1)
            counts = getattr(instance, 'counts', None)
            if counts:
                figures['fallback'][f'{tagger}/{label}'] = {
                    key: counts[key] for key in STAGES}
                figures['fallback'][f'{tagger}/{label}']['failed'] = sum(
                    isinstance(r, Exception) for r in results)
        figures['speed'][tagger] = speed
        print(f"speed, one core, sentences/s: EWT test ({len(ewt)}) "
              f"{speed['ewt_test']:,.1f}, construction sentences "
              f"({len(constructed)}) {speed['constructions']:,.1f}, SST-2 train ({len(sst2)}) "
              f"{speed['sst2']:,.1f}", flush=True)
        for key, counts in figures['fallback'].items():
            if key.startswith(f'{tagger}/'):
                print(f"  {key.split('/')[1]}: {counts}")

    if 'spacy' in taggers and not args.speed_only:
        figures['speed'].update(pipe_ratios(ewt, sst2, args.repeats,
                                            args.spacy_pipeline))
        for split in parts:
            reasons = declarative_misses(gold[split], args.spacy_pipeline)
            figures[f'declarative_misses/{split}'] = dict(reasons)
            print(f"declarative {split}, why the root verb misses its gold "
                  f"type: {dict(reasons.most_common())}")
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
