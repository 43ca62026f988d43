"""Fine-tune en_core_web_sm's tagger and parser on UD EWT dev gold trees.

The gold trees are redrawn as spaCy's English pipelines draw them
(:func:`qnlp.parsing.gold.spacy_doc`, labels the dependency construction
reads) and given as qnlp's spaCy tagger sees a sentence (punctuation
that :func:`qnlp.parsing.tokenise` drops is dropped). The pipeline is
updated from its trained weights (``nlp.resume_training``, fixed seeds);
``ner`` and the lemmatizer are left as they are. Two commands:

``cv``: k-fold cross-validation inside EWT dev (contiguous blocks, so a
document rarely straddles two folds) for each setting of a small grid:
train on k-1 folds, score the held-out fold after every epoch with
bench_parser's measures (share of each construction's sentences parsing
to ``s`` and whose scored word gets its gold type, with
:class:`qnlp.parsing.dependency.DependencyParser` on the raw text), and
spaCy's LAS/UAS/tag accuracy on the held-out gold trees; pooled over the
folds, one JSON line per setting and epoch.

``train``: train on all of EWT dev with one setting and write the
pipeline directory, for ``--spacy-pipeline DIR``.

``guard``: MC (target ``s``) and RP (target ``n``), every sentence, parsed
by the ``spacy`` parser with the stock pipeline and with ``--output DIR``:
how many reduce to their target with each, and how many parses differ.

    python benchmarks/tune_spacy_parser.py cv [--folds 5] [--epochs 6]
        [--learn-rates 0.001] [--dropouts 0.2] [--tune tagger,parser]
        [--rehearse 0] [--out FILE]
    python benchmarks/tune_spacy_parser.py train --output DIR
        [--epochs 2] [--learn-rate 0.0001] [--dropout 0.2] [--tune parser]
        [--rehearse 0]
    python benchmarks/tune_spacy_parser.py guard --output DIR

``--tune tagger,parser`` updates the shared tok2vec, the tagger and the
parser; ``--tune parser`` the parser alone (tok2vec and tagger frozen:
the tags stay the stock pipeline's). ``--rehearse N`` mixes in, after
every update, a rehearsal update (``nlp.rehearse``) on a batch of the
first N SST-2 train sentences against the stock pipeline's own analyses,
against forgetting (of the tagger and parser layers: tok2vec, shared
through listeners, has no rehearse).
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any, Sequence

import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from qnlp.errors import ConfigError, ParseError
from qnlp.parsing import tokenise
from qnlp.parsing.dependency import DependencyParser
from qnlp.parsing.gold import CONSTRUCTIONS, GoldSentence, read_conllu, \
    score, spacy_doc
from qnlp.parsing.spacy_tagger import SpacyTagger
from qnlp.spacy_pipeline import DEFAULT_PIPELINE, locate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data' / 'text'
#: Components the tuned pipeline does not need (as SpacyTagger loads it).
UNUSED = ('ner', 'lemmatizer')


def load_stock(pipeline: str = DEFAULT_PIPELINE) -> Any:
    """The stock pipeline, every component."""
    return spacy.load(locate(pipeline))


def examples(nlp: Any, sentences: Sequence[GoldSentence]) -> list[Example]:
    """Training examples of gold trees as qnlp's tagger sees them; a label
    or tag the pipeline does not know becomes ``dep`` / no tag."""
    deps = set(nlp.get_pipe('parser').labels)
    tags = set(nlp.get_pipe('tagger').labels)
    result = []
    for sentence in sentences:
        reference = spacy_doc(sentence, nlp.vocab, as_tokenised=True)
        for token in reference:
            if token.dep_ not in deps:
                token.dep_ = 'dep'
            if token.tag_ not in tags:
                token.tag_ = ''
        words = [t.text for t in reference]
        result.append(Example(Doc(nlp.vocab, words=words), reference))
    return result


def rehearsal_docs(nlp: Any, count: int) -> list[Example]:
    """The first ``count`` SST-2 train sentences, tokenised as qnlp does,
    as unlabelled examples for ``nlp.rehearse``."""
    if not count:
        return []
    lines = (DATA / 'sst2' / 'stsa.binary.train').read_text().splitlines()
    docs = [Doc(nlp.vocab, words=tokenise(line.split(None, 1)[1]))
            for line in lines[:count]]
    return [Example(doc, doc) for doc in docs if len(doc)]


def train(nlp: Any, train_set: list[Example], epochs: int, learn_rate: float,
          dropout: float, tune: str, rehearse: list[Example], seed: int,
          after_epoch=None) -> None:
    """Update ``nlp`` in place for ``epochs`` passes over ``train_set``
    (batches of 16, shuffled with ``seed``), calling
    ``after_epoch(epoch, losses)`` after each."""
    fix_random_seed(seed)
    shuffle = random.Random(seed)
    optimizer = nlp.resume_training()
    optimizer.learn_rate = learn_rate
    frozen = [name for name in nlp.pipe_names if name not in
              (('tok2vec', 'tagger', 'parser') if tune == 'tagger,parser'
               else ('parser',))]
    tok2vec = nlp.get_pipe('tok2vec')
    for epoch in range(1, epochs + 1):
        order = list(train_set)
        shuffle.shuffle(order)
        rehearsal = itertools.cycle(minibatch(rehearse, 16)) \
            if rehearse else None
        losses: dict[str, float] = {}
        for batch in minibatch(order, 16):
            if 'tok2vec' in frozen:     # the parser reads its tensors
                for example in batch:
                    tok2vec(example.predicted)
            nlp.update(batch, sgd=optimizer, drop=dropout, losses=losses,
                       exclude=frozen)
            if rehearsal is not None:
                # tok2vec has no rehearse: the listeners read its tensors
                extra = next(rehearsal)
                for listener in tok2vec.listeners:
                    listener._batch_id = None
                for example in extra:
                    tok2vec(example.predicted)
                nlp.rehearse(extra, sgd=optimizer, losses=losses,
                             exclude=frozen)
        if after_epoch is not None:
            after_epoch(epoch, losses)


def held_out_scores(nlp: Any, sentences: Sequence[GoldSentence],
                    gold: list[Example]) -> dict[str, Any]:
    """bench_parser's construction scores of ``sentences`` (counts, to
    pool over folds) and spaCy's LAS/UAS/tag accuracy on ``gold``."""
    figures: dict[str, Any] = {}
    with nlp.select_pipes(disable=[n for n in UNUSED if n in nlp.pipe_names]):
        parser = DependencyParser(SpacyTagger(nlp))
        for name in CONSTRUCTIONS:
            try:
                report = score(parser, sentences, name)
            except ParseError:          # no sentence of it in this fold
                continue
            total = report['sentences']
            figures[name] = {
                'sentences': total,
                'parses_to_s': round(report['parses_to_s'] * total),
                'gold_type': round(report['gold_type'] * total)}
        spacy_scores = nlp.evaluate(gold)
    figures['tokens'] = sum(len(e.reference) for e in gold)
    for key in ('dep_las', 'dep_uas', 'tag_acc'):
        figures[key] = spacy_scores[key]
    return figures


def pooled(per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts summed over folds as shares; LAS/UAS/tags token-weighted."""
    result: dict[str, Any] = {}
    tokens = sum(f['tokens'] for f in per_fold)
    for key in ('dep_las', 'dep_uas', 'tag_acc'):
        result[key] = round(sum(f[key] * f['tokens'] for f in per_fold)
                            / tokens, 4)
    for name in CONSTRUCTIONS:
        parts = [f[name] for f in per_fold if name in f]
        total = sum(p['sentences'] for p in parts)
        result[name] = {'sentences': total,
                        'parses_to_s': round(sum(p['parses_to_s']
                                                 for p in parts) / total, 4),
                        'gold_type': round(sum(p['gold_type']
                                               for p in parts) / total, 4),
                        'right': sum(p['gold_type'] for p in parts)}
    return result


def folds(count: int, k: int) -> list[range]:
    """``k`` contiguous blocks of ``range(count)``."""
    edges = [round(count * i / k) for i in range(k + 1)]
    return [range(edges[i], edges[i + 1]) for i in range(k)]


def cross_validate(args: argparse.Namespace) -> None:
    dev = [s for s in read_conllu(args.ud / 'en_ewt-ud-dev.conllu')
           if s.tokens]
    grid = list(itertools.product(
        [float(x) for x in args.learn_rates.split(',')],
        [float(x) for x in args.dropouts.split(',')],
        args.tune.split(';'), [int(x) for x in args.rehearse.split(',')]))
    out = open(args.out, 'a') if args.out else None
    for learn_rate, dropout, tune, rehearse in grid:
        setting = {'learn_rate': learn_rate, 'dropout': dropout,
                   'tune': tune, 'rehearse': rehearse}
        per_epoch: dict[int, list] = {e: [] for e in range(args.epochs + 1)}
        for number, block in enumerate(folds(len(dev), args.folds)):
            start = time.time()
            nlp = load_stock()
            held = [dev[i] for i in block]
            rest = [s for i, s in enumerate(dev) if i not in block]
            train_set, gold = examples(nlp, rest), examples(nlp, held)
            per_epoch[0].append(held_out_scores(nlp, held, gold))

            def after(epoch: int, losses: dict[str, float]) -> None:
                per_epoch[epoch].append(held_out_scores(nlp, held, gold))
                print(f"  fold {number} epoch {epoch} losses "
                      f"{ {k: round(v, 1) for k, v in losses.items()} } "
                      f"declarative {per_epoch[epoch][-1]['declarative']} "
                      f"LAS {per_epoch[epoch][-1]['dep_las']:.4f} "
                      f"({time.time() - start:.0f} s)", flush=True)

            train(nlp, train_set, args.epochs, learn_rate, dropout, tune,
                  rehearsal_docs(nlp, rehearse), args.seed, after)
        for epoch, figures in per_epoch.items():
            line = json.dumps({**setting, 'epochs': epoch, 'folds': args.folds,
                               'pooled': pooled(figures)})
            print(line, flush=True)
            if out:
                print(line, file=out, flush=True)


def train_final(args: argparse.Namespace) -> None:
    dev = [s for s in read_conllu(args.ud / 'en_ewt-ud-dev.conllu')
           if s.tokens]
    nlp = load_stock()
    start = time.time()

    def after(epoch: int, losses: dict[str, float]) -> None:
        print(f"epoch {epoch} losses "
              f"{ {k: round(v, 1) for k, v in losses.items()} } "
              f"({time.time() - start:.0f} s)", flush=True)

    train(nlp, examples(nlp, dev), args.epochs, args.learn_rate,
          args.dropout, args.tune, rehearsal_docs(nlp, args.rehearse),
          args.seed, after)
    nlp.meta['name'] = 'core_web_sm_ewt_dev'
    nlp.meta['description'] = (
        f"en_core_web_sm {nlp.meta.get('version')} tagger and parser "
        "fine-tuned on UD English EWT dev (CC BY-SA 4.0) gold trees by "
        f"qnlp benchmarks/tune_spacy_parser.py: epochs {args.epochs}, "
        f"learn rate {args.learn_rate}, dropout {args.dropout}, tune "
        f"{args.tune}, rehearse {args.rehearse}, seed {args.seed}")
    nlp.to_disk(args.output)
    print(f"wrote {args.output}")


def guard(args: argparse.Namespace) -> None:
    corpora = {'mc': ('s', 'mc_train_data.txt', 'mc_dev_data.txt',
                      'mc_test_data.txt'),
               'rp': ('n', 'rp_train_data.txt', 'rp_test_data.txt')}
    for name, (target, *files) in corpora.items():
        sentences = [line.split(None, 1)[1] for file in files
                     for line in (DATA / name / file).read_text().splitlines()
                     if line.strip()]
        results = {}
        for pipeline in (DEFAULT_PIPELINE, str(args.output)):
            parser = DependencyParser(SpacyTagger(pipeline))
            results[pipeline] = [
                None if isinstance(r, Exception) else
                (r.words, r.categories, str(r.diagram.cod))
                for r in parser.analyse_many(sentences, target)]
        stock, tuned = results.values()
        print(f"{name}: {len(sentences)} sentences to {target}: stock "
              f"{sum(r is not None and r[2] == target for r in stock)}, "
              f"tuned {sum(r is not None and r[2] == target for r in tuned)}"
              f"; parses differing {sum(a != b for a, b in zip(stock, tuned))}",
              flush=True)


#: The settings ``train`` uses unless told: the choice of the 5-fold CV
#: inside EWT dev of 2026-12-02 (benchmarks/README.md, session 18).
CHOSEN = {'epochs': 2, 'learn_rate': 0.0001, 'dropout': 0.2,
          'tune': 'parser', 'rehearse': 0}
#: What ``cv`` tries unless told.
GRID = {'epochs': 6, 'learn_rates': '0.001', 'dropouts': '0.2',
        'tune': 'tagger,parser', 'rehearse': '0'}
TUNES = ('tagger,parser', 'parser')


def checked_arguments(parser: argparse.ArgumentParser,
                      args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with each command's defaults filled in, or one
    ``error:`` line naming the option and exit status 2."""
    defaults = GRID if args.command == 'cv' else CHOSEN
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if not (args.ud / 'en_ewt-ud-dev.conllu').is_file() \
            and args.command != 'guard':
        parser.error(f"--ud {args.ud}: no en_ewt-ud-dev.conllu there")
    tunes = args.tune.split(';') if args.command == 'cv' else [args.tune]
    if set(tunes) - set(TUNES):
        parser.error(f"--tune {args.tune}: not {' or '.join(TUNES)}"
                     + (" (';'-separated)" if args.command == 'cv' else ''))
    if args.epochs < 1 or args.folds < 2:
        parser.error(f"--epochs {args.epochs} / --folds {args.folds}: "
                     "need at least 1 epoch and 2 folds")
    try:
        numbers = [float(x) for x in ','.join(
            [args.learn_rates, args.dropouts, args.rehearse]
            if args.command == 'cv' else [str(args.rehearse)]).split(',')]
    except ValueError:
        parser.error("--learn-rates / --dropouts / --rehearse: not "
                     "comma-separated numbers")
    if any(x < 0 for x in numbers):
        parser.error("--learn-rates / --dropouts / --rehearse: negative")
    if args.command == 'cv':
        return args
    if args.output is None:
        parser.error(f"{args.command} needs --output DIR")
    if args.command == 'guard':
        try:
            locate(str(args.output))
        except ConfigError as error:
            parser.error(str(error).replace('--spacy-pipeline', '--output'))
    elif args.output.exists() and any(args.output.iterdir()):
        parser.error(f"--output {args.output}: exists and is not empty "
                     "(nothing is overwritten: remove it or name another)")
    return args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=('cv', 'train', 'guard'))
    parser.add_argument('--ud', type=Path, default=DATA / 'ud_ewt',
                        help='directory of en_ewt-ud-dev.conllu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--epochs', type=int,
                        help=f"cv: scored after each up to this many "
                             f"(default {GRID['epochs']}); train: default "
                             f"{CHOSEN['epochs']}")
    parser.add_argument('--folds', type=int, default=5)
    parser.add_argument('--learn-rates', help='cv: comma-separated '
                        f"(default {GRID['learn_rates']})")
    parser.add_argument('--dropouts', help='cv: comma-separated '
                        f"(default {GRID['dropouts']})")
    parser.add_argument('--tune', help="'tagger,parser' or 'parser'; cv: "
                        f"a ';'-separated list (default {GRID['tune']}); "
                        f"train: default {CHOSEN['tune']}")
    parser.add_argument('--rehearse', help='SST-2 sentences for rehearsal '
                        f"(cv: comma-separated, default {GRID['rehearse']}; "
                        f"train: default {CHOSEN['rehearse']})")
    parser.add_argument('--learn-rate', type=float,
                        help=f"train (default {CHOSEN['learn_rate']})")
    parser.add_argument('--dropout', type=float,
                        help=f"train (default {CHOSEN['dropout']})")
    parser.add_argument('--out', help='cv: append the JSON lines here')
    parser.add_argument('--output', type=Path,
                        help='train: the pipeline directory to write; guard: '
                             'the one to check')
    args = checked_arguments(parser, parser.parse_args())
    if args.command == 'cv':
        cross_validate(args)
    elif args.command == 'guard':
        guard(args)
    else:
        args.rehearse = int(args.rehearse)
        train_final(args)


if __name__ == '__main__':
    main()
