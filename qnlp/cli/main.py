"""The ``qnlp`` command line.

Bad input (a malformed corpus, an unparsable sentence, a broken run
directory) prints one line ``qnlp: error: ...`` and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from qnlp import __version__
from qnlp.errors import ConfigError, QnlpError

#: ``--model`` choices of ``--task images`` (kept in step with
#: ``qnlp.models.images.MODELS``, which is not imported here to keep the
#: command fast to start).
IMAGE_MODELS = ('hqnn-parallel', 'hqnn-quanv', 'cnn', 'cnn-large',
                'cnn-quanv', 'cnn-quanv-large')

#: Settings of ``qnlp train`` that a config file may give, with defaults.
TRAIN_DEFAULTS: dict[str, Any] = {
    'seed': 0, 'epochs': 120, 'batch_size': 0, 'lr': 0.1,
    'optimizer': 'adam', 'schedule': 'constant', 'patience': 0,
    'ansatz': 'iqp', 'layers': 1, 'tagger': 'lexicon', 'frobenius': False,
    'split': None, 'unparsable': 'error', 'dtype': 'float64',
}


def _fractions(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected fractions like 0.7,0.15,0.15, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError("give three fractions: train,dev,test")
    return values


def _integer_at_least(minimum: int, rule: str) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum`` (else "must
    ``rule``")."""
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must {rule}, got {value}")
        return value
    return parse


_positive = _integer_at_least(1, 'be positive')
_non_negative = _integer_at_least(0, 'not be negative')


def _add_train_options(train: argparse.ArgumentParser) -> None:
    # Defaults are None so that a --config file can fill them in.
    train.add_argument('--seed', type=int,
                       help='seed for initialisation, shuffling and splits '
                            '(default 0)')
    train.add_argument('--epochs', type=_positive,
                       help='training epochs (default 120)')
    train.add_argument('--batch-size', type=int,
                       help='minibatch size; 0 = whole training set '
                            '(default 0)')
    train.add_argument('--lr', type=float,
                       help='learning rate, or the step of cobyla and '
                            'nelder-mead (default 0.1)')
    train.add_argument('--optimizer',
                       choices=('adam', 'sgd', 'spsa', 'cobyla',
                                'nelder-mead', 'aqgd'),
                       help='optimiser (default adam)')
    train.add_argument('--schedule', choices=('constant', 'cosine', 'step',
                                              'onecycle'),
                       help='learning-rate schedule (default constant; '
                            'images: onecycle; step: not for images)')
    train.add_argument('--patience', type=int,
                       help='stop after this many epochs without a better '
                            'dev score; 0 = never (default 0)')
    train.add_argument('--ansatz',
                       help='iqp, sim4, sim14, sim15, strongly-entangling, '
                            'tensor, spider or mps (default iqp)')
    train.add_argument('--layers', type=_positive,
                       help='ansatz layers (default 1)')
    train.add_argument('--split', type=_fractions, metavar='TRAIN,DEV,TEST',
                       help='split a single corpus file by these fractions '
                            '(stratified, seeded)')
    train.add_argument('--tagger', choices=('lexicon', 'spacy'),
                       help='part-of-speech tagger of the parser '
                            '(default lexicon; spacy needs qnlp[spacy])')
    train.add_argument('--frobenius', action='store_const', const=True,
                       help='relative pronouns as spiders (DisCoCat) rather '
                            'than trainable word boxes')
    train.add_argument('--unparsable', choices=('error', 'skip'),
                       help='a sentence the parser cannot reduce: stop with '
                            'its file and line, or leave it out and count '
                            'it in metrics.json (default error)')
    train.add_argument('--dtype', choices=('float64', 'float32'),
                       help='floating precision of weights and amplitudes '
                            '(complex64 with float32; default float64, '
                            'images float32)')


def _add_device_option(command: argparse.ArgumentParser) -> None:
    command.add_argument('--device', metavar='DEVICE',
                         help='cpu, cuda or cuda:N (default cpu); cuda '
                              'without a CUDA device is an error, never a '
                              'silent fallback')


def _add_backend_options(evaluate: argparse.ArgumentParser) -> None:
    group = evaluate.add_argument_group(
        'quantum backends (--backend: run the compiled circuits with shots '
        'and report them beside the exact simulation; jobs are kept in '
        'RUN_DIR/backend/NAME/jobs.json, so a rerun after an interruption '
        'reuses every finished job)')
    group.add_argument('--backend', metavar='NAME',
                       help='aer, ibm:DEVICE (token from QISKIT_IBM_TOKEN), '
                            'ibm-emulator:DEVICE, quantinuum:DEVICE, '
                            'braket:DEVICE, qulacs, cirq, or MODULE:CLASS '
                            'of any pytket backend')
    group.add_argument('--shots', type=_positive, default=1024,
                       help='shots per circuit (default 1024)')
    group.add_argument('--batch-size', type=_positive, default=20,
                       help='circuits per submitted job (default 20)')
    group.add_argument('--noise', type=float, metavar='P',
                       help='aer: depolarizing error P after every gate')
    group.add_argument('--backend-option', action='append', default=[],
                       metavar='KEY=VALUE',
                       help='constructor option of the backend (VALUE read '
                            'as JSON when it parses, else as text)')
    group.add_argument('--in-flight', type=_positive, metavar='N',
                       help='batches submitted ahead of retrieval (default: '
                            'all on remote backends, 1 on local simulators)')
    group.add_argument('--optimisation-level', type=int, default=1,
                       choices=(0, 1, 2, 3),
                       help="pytket's compilation for the backend "
                            "(default 1)")
    group.add_argument('--seed', type=int, default=0,
                       help='simulator seed (default 0)')
    group.add_argument('--confirm-above', type=int, metavar='SHOTS',
                       help='ask before submitting more shots than this '
                            '(default 100000 on remote backends, never on '
                            'local simulators)')
    group.add_argument('--yes', action='store_true',
                       help='submit without asking')
    group.add_argument('--resubmit-lost', action='store_true',
                       help='remote backends: submit again the jobs whose '
                            'stored handles cannot be retrieved (they may '
                            'have been paid for)')
    group.add_argument('--quiet', action='store_true',
                       help='no progress bars')


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
                    '--split. RUN_DIR gets config.json, a checkpoint after '
                    'every epoch, history.jsonl, curve.png, run.yaml (to '
                    'replay with --config), weights.safetensors and '
                    'metrics.json.')
    train.add_argument('corpus', metavar='CORPUS', nargs='?',
                       help='corpus (may come from --config instead)')
    train.add_argument('--out', metavar='RUN_DIR',
                       help='run directory to write')
    train.add_argument('--resume', metavar='RUN_DIR',
                       help='continue an interrupted run in RUN_DIR '
                            '(same settings and corpus)')
    train.add_argument('--config', metavar='FILE',
                       help='YAML or TOML file of settings; options given '
                            'on the command line win')
    _add_train_options(train)
    _add_device_option(train)
    train.add_argument('--quiet', action='store_true',
                       help='no progress bar')
    train.add_argument('--nproc', type=_positive,
                       help='sentences: data-parallel training on this many '
                            'local processes (torch.distributed, gloo); '
                            'under torchrun leave it out')
    train.add_argument('--threads', type=_positive,
                       help='torch CPU threads, any task (default: torch '
                            'decides; with --nproc N each process uses '
                            'cores/N)')
    proteins = train.add_argument_group(
        'proteins (--task proteins: CORPUS is a FASTA file or a directory '
        'of them, split 70/10/20 stratified by --seed)')
    proteins.add_argument('--task', choices=('sentences', 'proteins',
                                             'sentiment', 'images'),
                          default='sentences')
    proteins.add_argument('--model', choices=('chain', 'tree', 'vqc',
                                              'qsvc') + IMAGE_MODELS,
                          help='proteins: RNN-style chain or CNN-style tree '
                               '(default chain); sentiment: variational '
                               'classifier or quantum-kernel SVC '
                               '(default vqc); images: see below '
                               '(default hqnn-parallel)')
    proteins.add_argument('--sharing', choices=('uniform', 'hierarchical'),
                          help='one merge block, or one per level/block '
                               '(default hierarchical)')
    proteins.add_argument('--tokens', choices=('residue', 'kmer', 'hp',
                                               'six'),
                          help='residues, k-mers or a reduced alphabet '
                               '(default residue)')
    proteins.add_argument('--kmer', type=_positive, help='k for --tokens kmer')
    proteins.add_argument('--qubits', type=_positive,
                          help='qubits per wire (default 2)')
    proteins.add_argument('--window', type=_non_negative,
                          help='run the circuit on every window of this '
                               'many tokens and pool the read-outs (soft '
                               'maximum and minimum); default 32, 0 = one '
                               'circuit per sequence')
    proteins.add_argument('--stride', type=_positive,
                          help='step between windows (default a quarter of '
                               'the window)')
    proteins.add_argument('--folds', type=_positive,
                          help='stratified cross-validation: FOLDS folds, '
                               'test on fold --fold (default: the 80/20 '
                               'split)')
    proteins.add_argument('--fold', type=int, help='test fold, 0..FOLDS-1')
    proteins.add_argument('--max-length', type=_positive,
                          help='crop sequences to this many residues '
                               '(default: no crop)')
    proteins.add_argument('--crop', choices=('start', 'center', 'ends'),
                          help='which residues a crop keeps (default start)')
    proteins.add_argument('--label-pattern', action='append', default=[],
                          metavar='REGEX=LABEL',
                          help='label = LABEL for headers matching REGEX '
                               '(first match wins; empty LABEL skips); '
                               'default: the second header field')
    images = train.add_argument_group(
        'images (--task images: official train/test split; no CORPUS; '
        '--layers sets the quantum layers; defaults here: 10 epochs, '
        'batch 128, Adam lr 3e-3, onecycle schedule)')
    images.add_argument('--dataset', choices=('mnist', 'fashion-mnist',
                                              'pneumoniamnist', 'cifar10'))
    images.add_argument('--data-dir', metavar='PATH',
                        help='folder of the data set, or of one folder per '
                             'data set (default: $QNLP_DATA_DIR, then '
                             '~/.cache/qnlp)')
    images.add_argument('--shift', type=int,
                        help='augmentation: random shifts of up to this '
                             'many pixels, 0 = none (default 2)')
    images.add_argument('--weight-decay', type=float,
                        help='Adam weight decay (default 0)')
    images.add_argument('--front', choices=('auto', 'small', 'cifar'),
                        help='convolutional front end (default auto: '
                             'cifar for 3x32x32 images)')
    images.add_argument('--reupload', action='store_true',
                        help='re-encode the inputs before every quantum '
                             'layer')

    sentiment = train.add_argument_group(
        'sentiment (--task sentiment: CORPUS is a TSV/CSV of reviews with '
        'text and label columns, split 80/20 stratified per seed; --epochs '
        'are optimiser steps, --layers the ansatz repetitions, optimisers '
        'adam, aqgd, spsa, cobyla)')
    sentiment.add_argument('--features', choices=('embedding', 'tfidf'),
                           help='sentence embeddings (all-MiniLM-L6-v2, '
                                'needs qnlp[embeddings]) or TF-IDF '
                                '(default embedding)')
    sentiment.add_argument('--components', type=_positive,
                           help='PCA components = qubits (default 5)')
    sentiment.add_argument('--angle-max', type=float,
                           help='features are scaled to [0, ANGLE_MAX] '
                                '(default pi)')
    sentiment.add_argument('--seeds', type=_positive,
                           help='seeds (splits and initialisations, '
                                'default 5)')
    sentiment.add_argument('--feature-map', choices=('angle', 'zz'),
                           help='angle encoding or the ZZ feature map '
                                '(default angle)')
    sentiment.add_argument('--feature-reps', type=_positive,
                           help='feature-map repetitions (default 1)')
    sentiment.add_argument('--entanglement',
                           choices=('linear', 'reverse_linear', 'circular',
                                    'full'),
                           help='CX pattern of ansatz and ZZ map '
                                '(default linear)')
    sentiment.add_argument('--readout', choices=('parity', 'z'),
                           help='Z parity of all qubits or Z of qubit 0 '
                                '(default parity)')
    sentiment.add_argument('--no-ceiling', action='store_true',
                           help='skip the classifiers on full features')

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

    compare = commands.add_parser(
        'compare', help='quantum models and classical baselines side by side',
        description='Train the quantum models and the classical baselines '
                    'on the same splits for several seeds; print the table '
                    'and write DIR/comparison.md, comparison.json and '
                    'comparison.png. Quantum runs are kept in DIR/runs and '
                    'resumed if the command is run again.')
    compare.add_argument('corpus', metavar='CORPUS')
    compare.add_argument('--out', required=True, metavar='DIR')
    compare.add_argument('--models', default='discocat',
                         help='comma-separated quantum models '
                              '(default discocat)')
    compare.add_argument('--baselines', default='bow,tfidf,bilstm',
                         help='comma-separated: bow, tfidf, bilstm, '
                              'embedding (default bow,tfidf,bilstm)')
    compare.add_argument('--seeds', type=_positive, default=5)
    compare.add_argument('--jobs', type=_positive, metavar='N',
                         help='run the (model, seed) tasks in N worker '
                              'processes (default 1: one after another in '
                              'this process; with --executor ray: at most '
                              'N tasks at once, default all)')
    compare.add_argument('--executor', choices=('local', 'ray'),
                         default='local',
                         help='local processes, or Ray tasks on the '
                              'cluster at $RAY_ADDRESS (or a local Ray '
                              'instance); ray needs qnlp[ray] '
                              '(default local)')
    compare.add_argument('--threads-per-job', type=_positive, default=1,
                         metavar='T',
                         help='torch threads in each worker (default 1, '
                              'so N jobs use N cores)')
    compare.add_argument('--no-progress', action='store_true',
                         help='no progress bar')
    _add_train_options(compare)

    compile_ = commands.add_parser(
        'compile', help='compile sentences to circuits and export them',
        description='Compile a sentence (or every sentence of CORPUS) into '
                    'a circuit: cup removal, ansatz, then candidate '
                    'pipelines (pytket FullPeepholeOptimise; with bound '
                    'parameters also the post-selection rewrite and pyzx), '
                    'keeping the fewest two-qubit gates. Without --seed or '
                    '--run the symbols are kept. Gate counts are in the '
                    'CX + TK1 basis.')
    compile_.add_argument('input', metavar='SENTENCE|CORPUS',
                          help='a sentence, or a corpus directory/file')
    compile_.add_argument('--format', default='stats',
                          choices=('stats', 'qasm', 'tket', 'qiskit', 'json'),
                          help='what to print for a sentence (default stats)')
    compile_.add_argument('--stats', action='store_true',
                          help='corpus: print per-circuit and summed '
                               'statistics (the default for a corpus)')
    compile_.add_argument('--seed', type=int,
                          help='bind random parameter values in [0, 1) '
                               'drawn with this seed')
    compile_.add_argument('--run', metavar='RUN_DIR',
                          help='bind the trained weights of a qnlp train '
                               'run (its ansatz settings are used)')
    compile_.add_argument('--out', metavar='PATH',
                          help='sentence: write the --format output here; '
                               'corpus: a directory for one .qasm per '
                               'circuit and manifest.json')
    compile_.add_argument('--ansatz', default='iqp')
    compile_.add_argument('--layers', type=_positive, default=1)
    compile_.add_argument('--noun-qubits', type=_positive, default=1)
    compile_.add_argument('--sentence-qubits', type=_positive, default=1)
    compile_.add_argument('--frobenius', action='store_true')
    compile_.add_argument('--tagger', choices=('lexicon', 'spacy'),
                          default='lexicon')
    compile_.add_argument('--candidates', default='tket,zx-postselect,pyzx',
                          help='comma-separated candidate pipelines')
    compile_.add_argument('--shots', type=_positive,
                          help='sentence with bound values: also run this '
                               'many shots on qiskit-aer and print the '
                               'post-selected distribution')
    compile_.add_argument('--quiet', action='store_true',
                          help='no progress bar')

    evaluate = commands.add_parser(
        'evaluate', help='metrics of a trained run on a corpus',
        description='Accuracy, precision, recall, F1, confusion matrix and '
                    'per-class figures of RUN_DIR on the test split of '
                    'CORPUS (a directory) or on all of CORPUS (a file).')
    evaluate.add_argument('run_dir', metavar='RUN_DIR')
    evaluate.add_argument('corpus', metavar='CORPUS')
    evaluate.add_argument('--json', action='store_true',
                          help='print JSON instead of a table')
    _add_backend_options(evaluate)
    _add_device_option(evaluate)

    predict = commands.add_parser(
        'predict', help='label and probabilities of texts',
        description='Predict the label of each TEXT with the run in '
                    'RUN_DIR. Words never seen in training are read as '
                    '<unk> of their category.')
    predict.add_argument('run_dir', metavar='RUN_DIR')
    predict.add_argument('texts', metavar='TEXT', nargs='+')
    predict.add_argument('--json', action='store_true')
    _add_device_option(predict)
    return parser


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Settings from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    try:
        if path.suffix == '.toml':
            import tomllib
            data = tomllib.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except Exception as error:  # both parsers raise their own types
        raise ConfigError(f"{path}: not valid "
                          f"{'TOML' if path.suffix == '.toml' else 'YAML'} "
                          f"({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    known = set(TRAIN_DEFAULTS) | {'corpus'}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown settings {unknown}; known: "
                          f"{sorted(known)}")
    return data


def _train_proteins(args: argparse.Namespace) -> int:
    from qnlp.train.proteins import (ProteinSettings, parse_label_patterns,
                                     train_protein_classifier)
    if args.corpus is None or (args.out or args.resume) is None:
        raise ConfigError("give a FASTA CORPUS and --out RUN_DIR")
    values = {key: getattr(args, key) for key in
              ('seed', 'epochs', 'batch_size', 'lr', 'optimizer', 'schedule',
               'patience', 'model', 'sharing', 'layers', 'tokens',
               'max_length', 'crop', 'qubits', 'window', 'stride', 'folds',
               'fold', 'dtype')
              if getattr(args, key, None) is not None}
    if args.kmer is not None:
        values['k'] = args.kmer
    values['label_patterns'] = parse_label_patterns(args.label_pattern)
    metrics = train_protein_classifier(args.corpus, args.resume or args.out,
                                       ProteinSettings(**values),
                                       resume=bool(args.resume),
                                       progress=not args.quiet,
                                       device=_device(args))
    print(f"dev accuracy  {metrics['dev_accuracy']:.4f}")
    print(f"test accuracy {metrics['test_accuracy']:.4f}  "
          f"(F1 {metrics['test_f1']:.4f})")
    print(f"trained {metrics['epochs_run']} epochs in "
          f"{metrics['train_seconds']:.2f} s "
          f"({metrics['n_parameters']} parameters)")
    return 0


def _train_sentiment(args: argparse.Namespace) -> int:
    from qnlp.train.sentiment import SentimentSettings, train_sentiment
    if args.corpus is None or args.out is None:
        raise ConfigError("give a reviews CORPUS and --out RUN_DIR")
    options = {'model': 'model', 'features': 'features',
               'components': 'k', 'angle_max': 'angle_max',
               'seeds': 'seeds',
               'feature_map': 'feature_map', 'feature_reps': 'feature_reps',
               'layers': 'reps', 'entanglement': 'entanglement',
               'readout': 'readout', 'optimizer': 'optimizer',
               'epochs': 'max_iter', 'lr': 'lr', 'device': 'device',
               'dtype': 'dtype'}
    values = {key: getattr(args, option) for option, key in options.items()
              if getattr(args, option, None) is not None}
    values['ceiling'] = not args.no_ceiling
    _device(args)   # an unavailable device fails before any work
    result = train_sentiment(args.corpus, args.out,
                             SentimentSettings(**values),
                             progress=not args.quiet)
    print((Path(args.out) / 'comparison.md').read_text(), end='')
    row = result['summary'][result['settings']['model']]
    print(f"{result['settings']['model']}: accuracy "
          f"{row['accuracy_mean']:.4f} ± {row['accuracy_std']:.4f}, F1 "
          f"{row['f1_mean']:.4f} ± {row['f1_std']:.4f} "
          f"({result['settings']['seeds']} seeds)")
    print(f"run written to {args.out}")
    return 0


def _train_images(args: argparse.Namespace) -> int:
    from qnlp.data.images import load_image_dataset
    from qnlp.train.images import ImageSettings, train_image_classifier
    if args.dataset is None or (args.out or args.resume) is None:
        raise ConfigError("give --dataset and --out RUN_DIR")
    values = {key: getattr(args, key) for key in
              ('model', 'epochs', 'batch_size', 'lr', 'weight_decay',
               'schedule', 'seed', 'shift', 'front', 'layers', 'dtype')
              if getattr(args, key, None) is not None}
    if args.reupload:
        values['reupload'] = True
    settings = ImageSettings(**values)
    device = _device(args)
    data = load_image_dataset(args.dataset, args.data_dir)
    metrics = train_image_classifier(data, args.resume or args.out,
                                     settings, resume=bool(args.resume),
                                     progress=not args.quiet, device=device)
    if 'val_accuracy' in metrics:
        print(f"val accuracy  {metrics['val_accuracy']:.4f}")
    print(f"test accuracy {metrics['test_accuracy']:.4f}  "
          f"(F1 {metrics['test_f1']:.4f})")
    print(f"{settings.model}: {metrics['n_parameters']} parameters "
          f"({metrics['n_quantum_parameters']} quantum); "
          f"{metrics['epochs_run']} epochs in "
          f"{metrics['train_seconds']:.1f} s")
    return 0


def _device(args: argparse.Namespace) -> Any:
    """The ``--device`` of ``args`` as a torch device (DeviceError, exit
    status 2, if it is not on this machine)."""
    from qnlp.engine.device import resolve_device
    return resolve_device(getattr(args, 'device', None))


#: The --model values each --task accepts.
TASK_MODELS = {'sentences': (), 'proteins': ('chain', 'tree'),
               'sentiment': ('vqc', 'qsvc'), 'images': IMAGE_MODELS}


def _train(args: argparse.Namespace) -> int:
    import yaml
    task = getattr(args, 'task', 'sentences')
    if args.model is not None and args.model not in TASK_MODELS[task]:
        accepted = ', '.join(TASK_MODELS[task]) or 'no --model'
        raise ConfigError(f"--model {args.model} is not a {task} model; "
                          f"--task {task} takes {accepted}")
    if args.nproc and task != 'sentences':
        raise ConfigError(f"--nproc trains sentence classifiers; --task "
                          f"{task} runs in one process")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.task == 'proteins':
        return _train_proteins(args)
    if args.task == 'sentiment':
        return _train_sentiment(args)
    if args.task == 'images':
        return _train_images(args)

    import torch

    from qnlp.train.distributed import world_from_environment
    from qnlp.train.text import (TextSettings, train_text_classifier,
                                 train_text_parallel)
    values = dict(TRAIN_DEFAULTS)
    corpus = args.corpus
    if args.config:
        from_file = read_config_file(args.config)
        corpus = corpus or from_file.pop('corpus', None)
        from_file.pop('corpus', None)
        values.update(from_file)
    for key in TRAIN_DEFAULTS:
        given = getattr(args, key)
        if given is not None:
            values[key] = given
    if corpus is None:
        raise ConfigError("no CORPUS given (argument or 'corpus' in "
                          "--config)")
    if args.resume and args.out and Path(args.resume) != Path(args.out):
        raise ConfigError("--resume and --out name different run "
                          "directories")
    out = args.resume or args.out
    if out is None:
        raise ConfigError("give --out RUN_DIR (or --resume RUN_DIR)")
    settings = TextSettings.from_dict(values)
    device = _device(args)
    Path(out).mkdir(parents=True, exist_ok=True)
    from qnlp.files import atomic_write_text
    if os.environ.get('RANK', '0') == '0':  # one writer under torchrun
        atomic_write_text(Path(out) / 'run.yaml', yaml.safe_dump(
            {'corpus': str(corpus), **values}, sort_keys=True))
    if args.nproc and args.nproc > 1:
        if device.type == 'cuda' and torch.cuda.device_count() < args.nproc:
            raise ConfigError(f"--nproc {args.nproc} --device cuda needs "
                              f"{args.nproc} GPUs, this machine has "
                              f"{torch.cuda.device_count()}")
        metrics = train_text_parallel(corpus, out, settings, args.nproc,
                                      resume=bool(args.resume),
                                      progress=not args.quiet, device=device)
    else:
        # A rank under torchrun (cuda: GPU LOCAL_RANK), or alone.
        world = world_from_environment(device)
        metrics = train_text_classifier(corpus, out, settings,
                                        resume=bool(args.resume),
                                        progress=not args.quiet, world=world,
                                        device=world.device)
        if not world.is_main:
            return 0
    print(f"dev accuracy  {metrics['dev_accuracy']:.4f}")
    print(f"test accuracy {metrics['test_accuracy']:.4f}  "
          f"(F1 {metrics['test_f1']:.4f})")
    print(f"trained {metrics['epochs_run']} epochs in "
          f"{metrics['train_seconds']:.2f} s "
          f"({metrics['n_parameters']} parameters, "
          f"{metrics['n_circuit_shapes']} circuit shapes)")
    print(f"run written to {out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from qnlp.train.compare import compare
    from qnlp.train.text import TextSettings
    values = dict(TRAIN_DEFAULTS)
    values.update({k: getattr(args, k) for k in TRAIN_DEFAULTS
                   if getattr(args, k) is not None})
    result = compare(args.corpus, args.out,
                     models=[m for m in args.models.split(',') if m],
                     baselines=[b for b in args.baselines.split(',') if b],
                     seeds=args.seeds,
                     settings=TextSettings.from_dict(values),
                     report=lambda line: print(line, file=sys.stderr),
                     jobs=args.jobs,
                     executor=args.executor, threads=args.threads_per_job,
                     progress=not args.no_progress)
    print((Path(args.out) / 'comparison.md').read_text(), end='')
    del result
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
    from qnlp.cli.draw import run_draw
    return run_draw(args)


def _evaluate(args: argparse.Namespace) -> int:
    if args.backend:
        from qnlp.cli.backend import run_backend
        return run_backend(args)
    from qnlp.train.metrics import format_report
    from qnlp.train.text import load_text_classifier
    report = load_text_classifier(args.run_dir,
                                  _device(args)).evaluate(args.corpus)
    print(json.dumps(report, indent=2) if args.json
          else format_report(report))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from qnlp.train.text import load_text_classifier
    classifier = load_text_classifier(args.run_dir, _device(args))
    probabilities = classifier.predict_proba(args.texts)
    rows = []
    for text, probs in zip(args.texts, probabilities.tolist()):
        best = max(range(len(probs)), key=probs.__getitem__)
        rows.append({'text': text, 'label': classifier.labels[best],
                     'probabilities': dict(zip(classifier.labels, probs))})
    if args.json:
        print(json.dumps(rows, indent=2))
    for row in rows if not args.json else []:
        shown = '  '.join(f'{label}: {p:.3f}'
                          for label, p in row['probabilities'].items())
        print(f"{row['label']}\t{shown}\t{row['text']}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from qnlp.cli.compile import run_compile
    return run_compile(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qnlp`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {'train': _train, 'parse': _parse, 'draw': _draw,
                'evaluate': _evaluate, 'predict': _predict,
                'compare': _compare, 'compile': _compile}
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
