"""The run directory: one writer, one reader, for every task.

A run directory holds

* ``config.json``: the task, the settings, the data path and SHA-256,
  the labels and what the task needs to read new data the same way
  (vocabulary, symbols, ...);
* ``run.yaml``: the task, the data and the settings, to replay the run
  with ``qnlp train --config run.yaml --out NEW``;
* ``checkpoint.safetensors`` (the whole training state after every
  epoch) and ``history.jsonl`` (one JSON line per epoch);
* at the end ``weights.safetensors``, ``metrics.json`` and ``curve.png``.

Every file is written atomically (temporary file and rename), never as
pickle. Nothing is written before the caller has validated its inputs:
:meth:`RunDirectory.check` refuses a directory that holds a run unless
the caller resumes it or asked to overwrite it, and :meth:`claim` takes a
lock (``.lock``, an advisory ``flock`` that dies with its process) so two
processes never write one run.

>>> import tempfile, pathlib, torch
>>> run = RunDirectory(pathlib.Path(tempfile.mkdtemp()) / 'run')
>>> run.check(resume=False, overwrite=False)
>>> with run.claim():
...     run.start({'task': 'toy', 'settings': {'seed': 0}}, {'seed': 0})
...     run.finish({'weights': torch.ones(2)}, {'test_accuracy': 1.0}, [])
>>> run.read_config()['task'], run.read_weights()['weights'].tolist()
('toy', [1.0, 1.0])
>>> run.check(resume=False, overwrite=False)
Traceback (most recent call last):
...
qnlp.errors.ConfigError: ... holds a finished run; give --resume to continue it or --overwrite to replace it
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from qnlp.errors import CheckpointError, ConfigError
from qnlp.files import (atomic_path, atomic_write_json, atomic_write_text,
                        remove_stale_temporaries)

CONFIG_FILE = 'config.json'
RUN_FILE = 'run.yaml'
CHECKPOINT_FILE = 'checkpoint.safetensors'
HISTORY_FILE = 'history.jsonl'
WEIGHTS_FILE = 'weights.safetensors'
METRICS_FILE = 'metrics.json'
CURVE_FILE = 'curve.png'
LOCK_FILE = '.lock'
#: Every file a run writes (``--overwrite`` removes these and no other).
RUN_FILES = (CONFIG_FILE, RUN_FILE, CHECKPOINT_FILE, HISTORY_FILE,
             WEIGHTS_FILE, METRICS_FILE, CURVE_FILE)


class RunDirectory:
    """Reads and writes one run directory (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: Any = None

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    # --- state ---------------------------------------------------------
    def holds_run(self) -> bool:
        """Whether any file of a run is here."""
        return self.path.is_dir() and any(
            (self.path / name).exists() for name in RUN_FILES)

    def finished(self) -> bool:
        return (self.path / METRICS_FILE).is_file()

    def check(self, resume: bool, overwrite: bool) -> None:
        """Refuse, before anything is written, a target that is not a
        directory, a run to resume that is not there, or a run that
        would be replaced without ``overwrite``."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"{self.path}: exists and is not a directory; "
                              "give a directory for the run")
        if resume and overwrite:
            raise ConfigError("--resume continues a run and --overwrite "
                              "replaces it; give one of them")
        if resume:
            if not (self.path / CONFIG_FILE).is_file():
                raise CheckpointError(f"{self.path}: nothing to resume (no "
                                      f"{CONFIG_FILE}; was the run started "
                                      "with this --out?)")
            return
        if self.holds_run() and not overwrite:
            state = 'a finished run' if self.finished() else \
                'an unfinished run'
            raise ConfigError(f"{self.path}: holds {state}; give --resume to "
                              "continue it or --overwrite to replace it")
        parent = self.path.parent if not self.path.exists() else self.path
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{self.path}: cannot write here "
                              f"({parent} is not writable)")

    @contextlib.contextmanager
    def claim(self) -> Iterator["RunDirectory"]:
        """Create the directory if needed and hold its lock; a directory
        this call created is removed again if the body fails before
        writing anything."""
        created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"{self.path}: cannot create the run "
                              f"directory ({error.strerror})") from None
        handle = open(self.path / LOCK_FILE, 'a+', encoding='utf-8')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or 'another process'
            handle.close()
            raise ConfigError(f"{self.path}: is being written by {owner}; "
                              "wait for it or use another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        self._lock = handle
        try:
            remove_stale_temporaries(self.path)
            yield self
        except BaseException:
            if created and not self.holds_run():
                (self.path / LOCK_FILE).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self.path.rmdir()
            raise
        finally:
            self._lock = None
            handle.close()
            (self.path / LOCK_FILE).unlink(missing_ok=True)

    # --- writing -------------------------------------------------------
    def start(self, config: dict[str, Any], replay: dict[str, Any],
              clear: bool = False) -> None:
        """Write ``config.json`` and ``run.yaml`` of a new run (``clear``:
        first remove the files of the run that was here)."""
        import yaml
        if clear:
            for name in RUN_FILES:
                (self.path / name).unlink(missing_ok=True)
        atomic_write_json(self.path / CONFIG_FILE, config)
        atomic_write_text(self.path / RUN_FILE,
                          yaml.safe_dump(replay, sort_keys=True))

    def finish(self, tensors: dict[str, torch.Tensor],
               metrics: dict[str, Any],
               history: Sequence[dict[str, float]]) -> None:
        """Write the selected weights, the metrics and the curve."""
        with atomic_path(self.path / WEIGHTS_FILE) as temporary:
            save_file({k: v.detach().contiguous().cpu()
                       for k, v in tensors.items()}, str(temporary))
        atomic_write_json(self.path / METRICS_FILE, metrics)
        if history:
            from qnlp.train.plots import plot_history
            plot_history(history, self.path / CURVE_FILE)

    # --- reading -------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        path = self.path / CONFIG_FILE
        if not path.is_file():
            raise CheckpointError(f"{path}: missing; is {self.path} a run "
                                  "directory written by 'qnlp train'?")
        try:
            config = json.loads(path.read_text(encoding='utf-8'))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{path}: corrupt JSON ({error})") from None
        if not isinstance(config, dict) or 'task' not in config:
            raise CheckpointError(f"{path}: not a qnlp run configuration "
                                  "(no 'task')")
        return config

    def read_weights(self) -> dict[str, torch.Tensor]:
        """The selected weights; a run whose weights hold NaN or infinity
        is refused."""
        path = self.path / WEIGHTS_FILE
        if not path.is_file():
            state = 'unfinished (resume it with --resume)' \
                if (self.path / CHECKPOINT_FILE).exists() else 'not a run'
            raise CheckpointError(f"{path}: missing; the run in {self.path} "
                                  f"is {state}")
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise CheckpointError(f"{path}: corrupt weights ({error})") \
                from None
        for name, tensor in tensors.items():
            if tensor.is_floating_point() and not torch.isfinite(
                    tensor).all():
                raise CheckpointError(f"{path}: weights {name!r} hold NaN "
                                      "or infinite values")
        return tensors

    def read_metrics(self) -> dict[str, Any]:
        path = self.path / METRICS_FILE
        try:
            return json.loads(path.read_text(encoding='utf-8'))
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{path}: cannot read ({error})") from None


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN: non-finite figures are stored as null.

    >>> finite_or_none(float('nan')) is None, finite_or_none(0.5)
    (True, 0.5)
    """
    if value is None or not math.isfinite(value):
        return None
    return float(value)
