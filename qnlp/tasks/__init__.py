"""Tasks: what to train on what, behind one contract.

Each module of this package defines one task (a :class:`~qnlp.tasks.base.Task`
subclass with its :class:`~qnlp.tasks.base.Settings`); importing the
package imports them all, so adding a task is adding one module.
:func:`train`, :func:`load_trained` and :func:`compare` serve every task.

>>> {'sentences', 'proteins'} <= set(task_names())
True
"""
from __future__ import annotations

import importlib
import pkgutil

from qnlp.tasks.base import REGISTRY, Loaded, Settings, Task, setting

_NOT_TASKS = {'base', 'runner', 'compare', 'backend'}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _NOT_TASKS:
        importlib.import_module(f'{__name__}.{_module.name}')

from qnlp.tasks.runner import (Trained, get_task, load_trained,  # noqa: E402
                               train)


def task_names() -> list[str]:
    """Names of the registered tasks."""
    return list(REGISTRY)


__all__ = ["Loaded", "REGISTRY", "Settings", "Task", "Trained", "get_task",
           "load_trained", "setting", "task_names", "train"]
