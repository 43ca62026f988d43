"""The ``qnlp`` command line.

``qnlp train``, ``evaluate``, ``predict`` and ``compare`` serve every
task (``--task sentences|proteins|sentiment|images``); their settings
options come from the tasks' ``Settings`` (see :mod:`qnlp.cli.options`),
so an option the chosen task does not take is an error, never silently
ignored. ``--json`` and ``--quiet`` mean the same on every subcommand.

Bad input (a malformed corpus, an unparsable sentence, a broken run
directory, a bad option value) prints one line ``qnlp: error: ...`` and
exits with status 2; a traceback means a bug.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from qnlp import __version__
from qnlp.cli.options import (add_run_options, add_settings_options,
                              add_tensorboard_option, given_settings,
                              run_directory)
from qnlp.errors import ConfigError, QnlpError
from qnlp.files import check_readable_data
from qnlp.spacy_pipeline import DEFAULT_PIPELINE

#: Keys of a config file besides the settings.
CONFIG_KEYS = ('task', 'data')


def _integer_at_least(minimum: int, rule: str) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum`` (else "must
    ``rule``")."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must {rule}, got {value}")
        return value
    return parse


_positive = _integer_at_least(1, 'be positive')


def _seeds(text: str) -> int | list[int]:
    """``--seeds``: a count N (seeds 0..N-1) or a comma list of seeds.

    >>> _seeds('3'), _seeds('0,2')
    (3, [0, 2])
    """
    if ',' not in text:
        return _positive(text)
    parse = _integer_at_least(0, 'be non-negative')
    return [parse(part) for part in text.split(',') if part.strip()]


def _add_common(command: argparse.ArgumentParser, quiet: str) -> None:
    """``--json`` and ``--quiet``, the same on every subcommand."""
    command.add_argument('--json', action='store_true',
                         help='print the result as JSON')
    command.add_argument('--quiet', action='store_true', help=quiet)


def _add_task(command: argparse.ArgumentParser) -> None:
    from qnlp.tasks import REGISTRY
    command.add_argument('--task', choices=sorted(REGISTRY),
                         help='what to train (default sentences, or the '
                              'task of --config / --resume)')


def _add_run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument('--config', metavar='FILE',
                         help='YAML or TOML file of settings (and task, '
                              'data); options given on the command line '
                              'win')
    command.add_argument('--threads', type=_positive,
                         help='torch CPU threads (default: torch decides; '
                              'with --nproc N each process uses cores/N)')
    _add_device_option(command)
    add_settings_options(command)


def _add_device_option(command: argparse.ArgumentParser) -> None:
    command.add_argument('--device', metavar='DEVICE',
                         help='cpu, cuda or cuda:N (default cpu); cuda '
                              'without a CUDA device is an error, never a '
                              'silent fallback')


def _add_tagger_options(command: argparse.ArgumentParser) -> None:
    """``--tagger`` and ``--spacy-pipeline`` of the commands that parse
    one sentence (the tasks take them as settings)."""
    command.add_argument('--tagger', choices=('lexicon', 'spacy'),
                         default='lexicon')
    command.add_argument('--spacy-pipeline', metavar='NAME|PATH',
                         default=DEFAULT_PIPELINE,
                         help='the spaCy pipeline of --tagger spacy: an '
                              'installed pipeline package or a trained '
                              f'pipeline directory (default '
                              f'{DEFAULT_PIPELINE})')


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
    group.add_argument('--noise', metavar='MODEL',
                       help='without --backend: exact density-matrix '
                            'evaluation under P (two-qubit depolarizing P, '
                            'one-qubit P/10) or p1=,p2=,amplitude=,phase=,'
                            'readout= strengths; fake:NAME (e.g. '
                            'fake:brisbane): shots on aer with that '
                            "device's calibrated noise; with --backend aer: "
                            'the same P or strengths, on native gates')
    group.add_argument('--mitigate', choices=('zne', 'zne-nn'),
                       help='with --noise P: zero-noise extrapolation '
                            '(zne-nn: the neural extrapolator, trained on '
                            "the run's training split); zne also on shots "
                            '(--backend, --noise fake:NAME) by folding')
    group.add_argument('--extrapolator', default='richardson',
                       choices=('richardson', 'poly', 'exponential',
                                'linear'),
                       help='--mitigate zne: the fit (default richardson)')
    group.add_argument('--amplify', choices=('channels', 'gates', 'global'),
                       help='--mitigate: scale channel strengths 1, 2, 3 '
                            '(default on the exact engine) or fold gates '
                            '(default on shots) / the circuit 1, 3, 5 times')
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
    from qnlp.tasks import REGISTRY
    parser = argparse.ArgumentParser(
        prog='qnlp',
        description='Quantum natural language processing: parse sentences '
                    'into DisCoCat diagrams, compile them to circuits and '
                    'train quantum classifiers of sentences, proteins, '
                    'reviews and images.')
    parser.add_argument('--version', action='version',
                        version=f'qnlp {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True
    data_help = '; '.join(f"{name}: {task.data_help}"
                          for name, task in REGISTRY.items())

    train = commands.add_parser(
        'train', help='train a quantum classifier of any task',
        description='Train the quantum model of --task on DATA. RUN_DIR '
                    'gets config.json, run.yaml (replay with --config), a '
                    'checkpoint after every epoch, history.jsonl, and at '
                    'the end weights.safetensors, metrics.json and '
                    'curve.png. A RUN_DIR that holds a run is refused '
                    'unless --resume or --overwrite.')
    train.add_argument('data', metavar='DATA', nargs='?',
                       help=f'the data ({data_help}); may come from '
                            '--config or --resume instead')
    add_run_options(train, 'continue an interrupted run in RUN_DIR (its '
                           'own task, data and settings)')
    train.add_argument('--nproc', type=_positive,
                       help='data-parallel training on this many local '
                            'processes (tasks that support it: sentences); '
                            'under torchrun leave it out')
    add_tensorboard_option(train)
    _add_task(train)
    _add_common(train, 'no progress bar')
    _add_run_options(train)

    from qnlp.cli.federate import add_federate_parser
    federate = add_federate_parser(commands, data_help)
    _add_task(federate)
    _add_common(federate, 'no progress output')
    _add_run_options(federate)

    for name, summary in (('parse', 'parse a sentence and print its '
                                    'pregroup types and diagram'),
                          ('draw', 'parse a sentence and draw its diagram '
                                   'to an image file')):
        command = commands.add_parser(name, help=summary,
                                      description=summary[0].upper()
                                      + summary[1:] + '.')
        command.add_argument('sentence')
        _add_tagger_options(command)
        command.add_argument('--target', choices=('s', 'n'),
                             help='type the sentence must reduce to '
                                  '(default: the cheaper of s and n)')
        if name == 'draw':
            command.add_argument('-o', '--output', required=True,
                                 help='image file (.png, .pdf, .svg)')


    compare = commands.add_parser(
        'compare', help='quantum model and classical baselines side by side',
        description='Train the quantum model of --task and its classical '
                    'baselines on the same splits for several seeds; print '
                    'the table and write DIR/comparison.md, '
                    'comparison.json and comparison.png. Quantum runs are '
                    'kept in DIR/runs and resumed if the command is run '
                    'again.')
    compare.add_argument('data', metavar='DATA', nargs='?',
                         help=f'the data ({data_help})')
    compare.add_argument('--out', required=True, metavar='DIR')
    baselines = '; '.join(f"{name}: {', '.join(task.baselines)}"
                          for name, task in REGISTRY.items())
    compare.add_argument('--baselines', metavar='NAMES',
                         help='comma-separated baselines (default: the '
                              f"task's usual ones; {baselines})")
    compare.add_argument('--seeds', type=_seeds, default=5,
                         help='seeds (splits and initialisations): N for '
                              '0..N-1, or a comma list such as 0,1,2 '
                              '(default 5)')
    compare.add_argument('--variant', action='append', default=[],
                         metavar='NAME=OPTIONS',
                         help="a quantum model of the table: the command's "
                              'settings with the settings OPTIONS of qnlp '
                              "train applied, e.g. q1='--qubits 1'; "
                              'repeatable (then the variants are the '
                              'quantum rows; NAME= with no options is the '
                              "command's own settings)")
    compare.add_argument('--ensemble', action='store_true',
                         help='also a row NAME xN for each quantum model: '
                              'its N seeds as one model averaging their '
                              'class probabilities on each test part (the '
                              'same for every seed: --split-seed, or data '
                              'with its own splits)')
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
    _add_task(compare)
    _add_common(compare, 'no progress bar')
    _add_run_options(compare)

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
    _add_tagger_options(compile_)
    compile_.add_argument('--candidates', default='tket,zx-postselect,pyzx',
                          help='comma-separated candidate pipelines')
    compile_.add_argument('--shots', type=_positive,
                          help='sentence with bound values: also run this '
                               'many shots on qiskit-aer and print the '
                               'post-selected distribution')
    compile_.add_argument('--quiet', action='store_true',
                          help='no progress bar')


    evaluate = commands.add_parser(
        'evaluate', help='metrics of a trained run on new data',
        description='Accuracy, precision, recall, F1, confusion matrix and '
                    'per-class figures of RUN_DIR (any task) on DATA, read '
                    'with the run\'s own settings: the test split of a '
                    'directory with its own splits, or all of a file.')
    evaluate.add_argument('run_dir', metavar='RUN_DIR')
    evaluate.add_argument('data', metavar='DATA')
    evaluate.add_argument('--json', action='store_true',
                          help='print the result as JSON')
    _add_backend_options(evaluate)
    _add_device_option(evaluate)

    predict = commands.add_parser(
        'predict', help='label and probabilities of inputs',
        description='Predict the label of each INPUT with the run in '
                    'RUN_DIR: sentences, protein sequences, reviews or '
                    'image files, as the run\'s task takes. Words never '
                    'seen in training are read as <unk> of their '
                    'category, or, in a run trained with --word-params '
                    'embedding, get parameters from their word vectors.')
    predict.add_argument('run_dir', metavar='RUN_DIR')
    predict.add_argument('inputs', metavar='INPUT', nargs='+')
    _add_common(predict, 'print only the labels')
    _add_device_option(predict)
    return parser


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Settings (and ``task``, ``data``) from a YAML (``.yaml``/``.yml``)
    or TOML (``.toml``) file; a run's ``run.yaml`` replays it."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
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
                          f"({' '.join(str(error).split())})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    if 'corpus' in data:   # the name of earlier versions
        data.setdefault('data', data.pop('corpus'))
    return data


def _device(args: argparse.Namespace) -> Any:
    """The ``--device`` of ``args`` as a torch device (DeviceError, exit
    status 2, if it is not on this machine)."""
    from qnlp.engine.device import resolve_device
    return resolve_device(getattr(args, 'device', None))


def _task_and_settings(args: argparse.Namespace,
                       saved: dict[str, Any] | None = None
                       ) -> tuple[str, Any, Any]:
    """``(task, data, settings)`` from a run to resume (``saved``), a
    config file and the command line, in rising priority."""
    from qnlp.tasks import get_task
    values: dict[str, Any] = {}
    task, data = 'sentences', None
    if saved is not None:
        task, data = saved['task'], saved.get('data')
        values.update(saved['settings'])
    if args.config:
        from_file = read_config_file(args.config)
        task = from_file.pop('task', task)
        data = from_file.pop('data', data)
        try:
            kind = get_task(task)
        except ConfigError as error:
            raise ConfigError(f"{args.config}: {error}") from None
        try:
            kind.Settings.from_dict(from_file)   # names and values checked
        except ConfigError as error:
            raise ConfigError(f"{args.config}: {error}") from None
        values.update(from_file)
    if args.task is not None:
        if saved is not None and args.task != saved['task']:
            raise ConfigError(f"--task {args.task}: the run to resume is a "
                              f"{saved['task']} run")
        task = args.task
    values.update(given_settings(args, task))
    data = args.data if args.data is not None else data
    settings = get_task(task).Settings.from_dict(values)
    return task, data, settings


def _threads(args: argparse.Namespace) -> None:
    """One thread policy: ``--threads`` sets torch's CPU threads for the
    whole command (worker processes set their own)."""
    from qnlp.engine.device import set_threads
    set_threads(getattr(args, 'threads', None))


def _train(args: argparse.Namespace) -> int:
    from qnlp.tasks import get_task, train
    out, saved = run_directory(args)
    task, data, settings = _task_and_settings(args, saved)
    if data is None:
        raise ConfigError("no DATA given (argument, 'data' in --config, or "
                          "--resume of a run)")
    check_readable_data(data)
    kind = get_task(task)
    if args.nproc and not getattr(kind, 'distributed', False):
        raise ConfigError(f"--nproc: --task {task} trains in one process")
    if args.tensorboard:
        from qnlp.train.trainer import summary_writer_class
        summary_writer_class()   # before any process starts
    device = _device(args)
    _threads(args)
    if args.nproc and args.nproc > 1:
        from qnlp.train.distributed import launch
        from qnlp.train.run import RunDirectory
        launch(_train_rank, args.nproc, task, str(data), str(out),
               settings.to_dict(), bool(args.resume), args.overwrite,
               not args.quiet, str(device.type), args.tensorboard)
        metrics = RunDirectory(out).read_metrics()
    else:
        from qnlp.train.distributed import world_from_environment
        world = world_from_environment(device)
        metrics = train(kind, data, out, settings, resume=bool(args.resume),
                        overwrite=args.overwrite, progress=not args.quiet,
                        device=world.device, world=world,
                        tensorboard=args.tensorboard)
        if not world.is_main:
            return 0
    _report_metrics(metrics, out, args.json)
    return 0


def _train_rank(task: str, data: str, out: str, settings: dict[str, Any],
                resume: bool, overwrite: bool, progress: bool,
                device: str, tensorboard: str | None = None) -> None:
    """One rank of ``qnlp train --nproc N`` (see
    :func:`qnlp.train.distributed.launch`)."""
    from qnlp.tasks import train
    from qnlp.train.distributed import world_from_environment
    world = world_from_environment(device)
    train(task, data, out, settings, resume=resume, overwrite=overwrite,
          progress=progress, device=world.device, world=world,
          tensorboard=tensorboard)


def _report_metrics(metrics: dict[str, Any], out: str | Path,
                    as_json: bool) -> None:
    if as_json:
        print(json.dumps(metrics, indent=2))
        return
    for split in ('dev', 'test'):
        if metrics.get(f'{split}_accuracy') is not None:
            print(f"{split} accuracy {metrics[f'{split}_accuracy']:.4f}  "
                  f"(F1 {metrics[f'{split}_f1']:.4f})")
    print(f"trained {metrics['epochs_run']} epochs in "
          f"{metrics['train_seconds']:.2f} s "
          f"({metrics['n_parameters']} parameters)")
    zx = metrics.get('task_metrics', {}).get('compile_zx')
    if zx:
        print(f"--compile zx: {zx['circuits']} circuits, two-qubit gates "
              f"{zx['two_qubit_gates_before']} -> "
              f"{zx['two_qubit_gates_after']}")
    print(f"run written to {out}")


def _compare(args: argparse.Namespace) -> int:
    from qnlp.tasks.compare import compare
    from qnlp.cli.options import variant_settings
    task, data, settings = _task_and_settings(args)
    if data is None:
        raise ConfigError("no DATA given (argument or 'data' in --config)")
    if 'fold' in vars(args):
        raise ConfigError("--fold: compare trains on every fold of --folds")
    variants = variant_settings(args.variant, task, settings)
    check_readable_data(data)
    _device(args)
    _threads(args)
    baselines = None if args.baselines is None else \
        [b for b in args.baselines.split(',') if b]
    result = compare(data, args.out, baselines=baselines, seeds=args.seeds,
                     settings=settings, task=task, variants=variants,
                     ensemble=args.ensemble,
                     report=lambda line: print(line, file=sys.stderr),
                     jobs=args.jobs, executor=args.executor,
                     threads=args.threads_per_job,
                     progress=not args.quiet)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print((Path(args.out) / 'comparison.md').read_text(), end='')
    return 0


def _parse(args: argparse.Namespace) -> int:
    from lambeq.backend.drawing.drawing import render_as_str

    from qnlp.parsing import CATEGORY_TYPES, default_parser
    analysis = default_parser(args.tagger, args.spacy_pipeline).analyse(
        args.sentence, args.target)
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
    if args.backend or args.noise or args.mitigate:
        from qnlp.cli.backend import run_backend
        return run_backend(args)
    from qnlp.tasks import load_trained
    from qnlp.train.metrics import format_report
    trained = load_trained(args.run_dir, _device(args))
    report = trained.evaluate(args.data)
    print(json.dumps(report, indent=2) if args.json
          else format_report(report))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from qnlp.tasks import load_trained
    trained = load_trained(args.run_dir, _device(args))
    rows = trained.predict(args.inputs)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if args.quiet:
            print(row['label'])
            continue
        shown = '  '.join(f'{label}: {p:.3f}'
                          for label, p in row['probabilities'].items())
        print(f"{row['label']}\t{shown}\t{row['input']}")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from qnlp.cli.compile import run_compile
    return run_compile(args)


def _federate(args: argparse.Namespace) -> int:
    from qnlp.cli.federate import run_federate
    return run_federate(args)


def _one_line(error: BaseException) -> str:
    """An error message on one line (messages quoting a file's text may
    hold newlines)."""
    return ' '.join(str(error).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qnlp`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {'train': _train, 'parse': _parse, 'draw': _draw,
                'evaluate': _evaluate, 'predict': _predict,
                'compare': _compare, 'compile': _compile,
                'federate': _federate}
    try:
        return handlers[args.command](args)
    except QnlpError as error:
        print(f"qnlp: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `qnlp train ... | head`
        sys.stderr.close()
        return 0
    except OSError as error:   # a file or folder the system refuses
        where = f"{error.filename}: " if error.filename else ''
        print(f"qnlp: error: {where}{error.strerror or error}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qnlp: interrupted", file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
