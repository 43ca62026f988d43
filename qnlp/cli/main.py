"""The ``qnlp`` command line.

Bad input (a malformed corpus, an unparsable sentence, a broken run
directory) prints one line ``qnlp: error: ...`` and exits with status 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from qnlp import __version__
from qnlp.errors import QnlpError


def _fractions(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected fractions like 0.7,0.15,0.15, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError("give three fractions: train,dev,test")
    return values


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog='qnlp',
        description='Quantum natural language processing: parse sentences '
                    'into DisCoCat diagrams, compile them to circuits and '
                    'train quantum classifiers.')
    parser.add_argument('--version', action='version',
                        version=f'qnlp {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    train = commands.add_parser(
        'train', help='train a DisCoCat sentence classifier on a corpus',
        description='Train a DisCoCat sentence classifier. CORPUS is a '
                    'directory with files named *train*, *dev* (or *valid*) '
                    'and *test* ("label sentence" lines, or CSV/TSV with '
                    'text and label columns), or one such file split with '
                    '--split. Writes config.json, weights.safetensors, '
                    'metrics.json and history.json to --out.')
    train.add_argument('corpus', metavar='CORPUS')
    train.add_argument('--out', required=True, metavar='RUN_DIR',
                       help='run directory to write')
    train.add_argument('--seed', type=int, default=0,
                       help='seed for initialisation, shuffling and splits '
                            '(default 0)')
    train.add_argument('--epochs', type=_positive, default=120,
                       help='training epochs (default 120)')
    train.add_argument('--batch-size', type=int, default=0,
                       help='minibatch size; 0 = whole training set '
                            '(default 0)')
    train.add_argument('--lr', type=float, default=0.1,
                       help='Adam learning rate (default 0.1)')
    train.add_argument('--ansatz', default='iqp',
                       help='iqp, sim4, sim14, sim15, strongly-entangling, '
                            'tensor, spider or mps (default iqp)')
    train.add_argument('--layers', type=_positive, default=1,
                       help='ansatz layers (default 1)')
    train.add_argument('--split', type=_fractions, metavar='TRAIN,DEV,TEST',
                       help='split a single corpus file by these fractions '
                            '(stratified, seeded)')
    train.add_argument('--tagger', choices=('lexicon', 'spacy'),
                       default='lexicon',
                       help='part-of-speech tagger of the parser '
                            '(default lexicon; spacy needs qnlp[spacy])')
    train.add_argument('--frobenius', action='store_true',
                       help='relative pronouns as spiders (DisCoCat) rather '
                            'than trainable word boxes')
    train.add_argument('--quiet', action='store_true',
                       help='no progress bar')

    for name, summary in (('parse', 'parse a sentence and print its '
                                    'pregroup types and diagram'),
                          ('draw', 'parse a sentence and draw its diagram '
                                   'to an image file')):
        command = commands.add_parser(name, help=summary,
                                      description=summary[0].upper()
                                      + summary[1:] + '.')
        command.add_argument('sentence')
        command.add_argument('--tagger', choices=('lexicon', 'spacy'),
                             default='lexicon')
        command.add_argument('--target', choices=('s', 'n'),
                             help='type the sentence must reduce to '
                                  '(default: the cheaper of s and n)')
        if name == 'draw':
            command.add_argument('-o', '--output', required=True,
                                 help='image file (.png, .pdf, .svg)')
    return parser


def _train(args: argparse.Namespace) -> int:
    from qnlp.train.text import train_text_classifier
    metrics = train_text_classifier(
        args.corpus, args.out, seed=args.seed, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, ansatz=args.ansatz,
        layers=args.layers, split=args.split, tagger=args.tagger,
        frobenius=args.frobenius, progress=not args.quiet)
    print(f"dev accuracy  {metrics['dev_accuracy']:.4f}")
    print(f"test accuracy {metrics['test_accuracy']:.4f}")
    print(f"trained {metrics['epochs']} epochs in "
          f"{metrics['train_seconds']:.2f} s "
          f"({metrics['n_parameters']} parameters, "
          f"{metrics['n_circuit_shapes']} circuit shapes)")
    print(f"run written to {args.out}")
    return 0


def _parse(args: argparse.Namespace) -> int:
    from lambeq.backend.drawing.drawing import render_as_str

    from qnlp.parsing import CATEGORY_TYPES, default_parser
    analysis = default_parser(args.tagger).analyse(args.sentence, args.target)
    width = max(len(word) for word in analysis.words)
    for word, category in zip(analysis.words, analysis.categories):
        print(f"{word:<{width}}  {category:<7} {CATEGORY_TYPES[category]}")
    print()
    print(render_as_str(analysis.diagram))
    return 0


def _draw(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use('Agg')

    from qnlp.parsing import default_parser
    diagram = default_parser(args.tagger).parse(args.sentence, args.target)
    diagram.draw(path=args.output)
    print(f"diagram written to {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qnlp`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {'train': _train, 'parse': _parse, 'draw': _draw}
    try:
        return handlers[args.command](args)
    except QnlpError as error:
        print(f"qnlp: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qnlp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `qnlp train ... | head`
        sys.stderr.close()
        return 0


if __name__ == '__main__':
    sys.exit(main())
