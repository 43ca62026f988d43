"""Command-line options made from the tasks' ``Settings`` dataclasses.

Every settings field of every task becomes one option (``batch_size`` ->
``--batch-size``), with the field's help, choices and bounds; the option
name *is* the field name, so nothing is translated by hand. After
parsing, :func:`given_settings` keeps the options the user gave and
refuses, in one line, an option the chosen task does not take.

>>> parser = argparse.ArgumentParser()
>>> add_settings_options(parser)
>>> args = parser.parse_args(['--layers', '2', '--tagger', 'spacy'])
>>> given_settings(args, 'sentences')
{'layers': '2', 'tagger': 'spacy'}
>>> given_settings(args, 'proteins')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: --tagger is not an option of --task proteins (it is one of sentences)
"""
from __future__ import annotations

import argparse
import shlex
from dataclasses import fields
from typing import Any

from qnlp.errors import ConfigError


def _tasks() -> dict[str, Any]:
    from qnlp.tasks import REGISTRY
    return REGISTRY


def option_name(field_name: str) -> str:
    """``batch_size`` -> ``--batch-size`` (or the field's own ``option``)."""
    for task in _tasks().values():
        for spec in fields(task.Settings):
            if spec.name == field_name and spec.metadata.get('option'):
                return spec.metadata['option']
    return '--' + field_name.replace('_', '-')


def _owners() -> dict[str, list[str]]:
    """Field name -> the tasks whose settings have it."""
    owners: dict[str, list[str]] = {}
    for name, task in _tasks().items():
        for spec in fields(task.Settings):
            owners.setdefault(spec.name, []).append(name)
    return owners


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """One option per settings field of any task (no defaults: a value
    appears in the namespace only when given)."""
    tasks = _tasks()
    group = parser.add_argument_group(
        'settings (which tasks take an option is in brackets; the '
        'defaults are those of the task; a config file may give them too)')
    for field_name, owners in _owners().items():
        spec = next(s for s in fields(tasks[owners[0]].Settings)
                    if s.name == field_name)
        meta = spec.metadata
        defaults = {t: tasks[t].Settings.defaults()[field_name]
                    for t in owners}
        shown = ', '.join(f"{t} {_shown(v)}" for t, v in defaults.items())
        where = ('all tasks' if len(owners) == len(tasks)
                 else ', '.join(owners))
        help_text = (f"{meta.get('help', '')} [{where}; default {shown}]"
                     .replace('%', '%%'))
        kwargs: dict[str, Any] = {'dest': field_name,
                                  'default': argparse.SUPPRESS,
                                  'help': help_text}
        if spec.type in (bool, 'bool'):
            kwargs['action'] = 'store_const'
            kwargs['const'] = True
        elif meta.get('parse') is not None:
            kwargs['action'] = 'append'
            kwargs['metavar'] = meta.get('metavar') or field_name.upper()
        else:
            if meta.get('choices'):
                kwargs['metavar'] = '{' + ','.join(
                    map(str, meta['choices'])) + '}'
            else:
                kwargs['metavar'] = meta.get('metavar') or \
                    field_name.upper()
        group.add_argument(option_name(field_name), **kwargs)


def _shown(value: Any) -> str:
    if value in ((), None):
        return 'none'
    return str(value)


def given_settings(args: argparse.Namespace, task: str) -> dict[str, Any]:
    """The settings options given on the command line, as the task's
    field names (texts; :meth:`Settings.from_dict` converts and checks
    them); an option of another task is an error."""
    tasks = _tasks()
    settings_cls = tasks[task].Settings
    own = {spec.name: spec for spec in fields(settings_cls)}
    given: dict[str, Any] = {}
    for field_name, owners in _owners().items():
        if field_name not in vars(args):
            continue
        if field_name not in own:
            raise ConfigError(f"{option_name(field_name)} is not an option "
                              f"of --task {task} (it is one of "
                              f"{', '.join(owners)})")
        value = getattr(args, field_name)
        parse = own[field_name].metadata.get('parse')
        if parse is not None:
            value = parse(value)
        given[field_name] = value
    return given


class _RaisingParser(argparse.ArgumentParser):
    """A parser whose errors are :class:`ConfigError` (not an exit)."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ConfigError(message)


def variant_settings(items: list[str], task: str, base: Any
                     ) -> dict[str, Any]:
    """The settings of each ``qnlp compare --variant NAME=OPTIONS``:
    ``base`` (the command's own settings) with OPTIONS applied, OPTIONS
    read by the settings options of ``qnlp train``; a bad option or
    value is one :class:`ConfigError` naming the variant.

    >>> from qnlp.tasks.proteins import ProteinSettings
    >>> found = variant_settings(['q1=--qubits 1 --composition', 'same='],
    ...                          'proteins', ProteinSettings(epochs=3))
    >>> [(s.qubits, s.composition, s.epochs) for s in found.values()]
    [(1, True, 3), (2, False, 3)]
    >>> variant_settings(['q1=--qubits 9'], 'proteins', ProteinSettings())
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --variant q1: qubits must be at most 4, got 9
    >>> variant_settings(['q1=--folds 5'], 'proteins', ProteinSettings())
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --variant q1: --folds is set by the command for every model, not by a variant
    """
    from qnlp.tasks import REGISTRY
    from qnlp.tasks.compare import SHARED
    parser = _RaisingParser(prog='--variant', add_help=False)
    add_settings_options(parser)
    variants: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition('=')
        if not sep or not name:
            raise ConfigError(f"--variant {item!r}: expected NAME=OPTIONS, "
                              "e.g. q1='--qubits 1'")
        if name in variants:
            raise ConfigError(f"--variant {name}: given twice")
        try:
            given = given_settings(parser.parse_args(shlex.split(text)),
                                   task)
            shared = [key for key in SHARED if key in given]
            if shared:
                raise ConfigError(f"{option_name(shared[0])} is set by the "
                                  "command for every model, not by a "
                                  "variant")
            variants[name] = REGISTRY[task].Settings.from_dict(
                {**base.to_dict(), **given})
        except (ConfigError, ValueError) as error:   # shlex: ValueError
            raise ConfigError(f"--variant {name}: {error}") from None
    return variants


def add_tensorboard_option(command: argparse.ArgumentParser) -> None:
    """``--tensorboard DIR`` of ``qnlp train`` (off by default): every
    task's per-epoch losses, dev accuracy and learning rate as TensorBoard
    scalars (needs ``pip install tensorboard``).

    >>> parser = argparse.ArgumentParser()
    >>> add_tensorboard_option(parser)
    >>> parser.parse_args([]).tensorboard, parser.parse_args(
    ...     ['--tensorboard', 'logs']).tensorboard
    (None, 'logs')
    """
    command.add_argument(
        '--tensorboard', metavar='DIR',
        help='write TensorBoard logs of every epoch (training and dev '
             'loss, dev accuracy, learning rate) to DIR; view them with '
             "'tensorboard --logdir DIR' (needs: pip install tensorboard)")


def add_run_options(command: argparse.ArgumentParser, resume_help: str
                    ) -> None:
    """``--out``, ``--resume`` and ``--overwrite`` of a command that
    writes a run directory (``train``, ``federate``)."""
    command.add_argument('--out', metavar='RUN_DIR',
                         help='run directory to write')
    command.add_argument('--resume', metavar='RUN_DIR', help=resume_help)
    command.add_argument('--overwrite', action='store_true',
                         help='replace the run that --out holds')


def run_directory(args: argparse.Namespace
                  ) -> tuple[str, dict[str, Any] | None]:
    """The run directory of :func:`add_run_options`' options, and with
    ``--resume`` the config of the run there (checked resumable).

    >>> parser = argparse.ArgumentParser()
    >>> add_run_options(parser, 'continue a run')
    >>> run_directory(parser.parse_args(['--out', 'runs/a']))
    ('runs/a', None)
    >>> run_directory(parser.parse_args(['--out', 'a', '--resume', 'b']))
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --resume and --out name different run directories
    """
    from pathlib import Path
    if args.resume and args.out and Path(args.resume) != Path(args.out):
        raise ConfigError("--resume and --out name different run "
                          "directories")
    out = args.resume or args.out
    if out is None:
        raise ConfigError("give --out RUN_DIR (or --resume RUN_DIR)")
    if not args.resume:
        return out, None
    from qnlp.train.run import RunDirectory
    RunDirectory(out).check(resume=True, overwrite=args.overwrite)
    return out, RunDirectory(out).read_config()
