"""pyworker: prioritized background tasks for asyncio, in-process or durable on Redis.

The layers install under this package (``pyworker.domain``, ``pyworker.application``,
``pyworker.adapters``, ``pyworker.entrypoints``, ``pyworker.protos``); the names a quick
start needs are re-exported here and imported on first use, so ``import pyworker`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pyworker.application import BlockingTaskManager, TaskHooks, TaskManager, TypedDurableRegistry
    from pyworker.domain import DurableTask, RetentionPolicy, Task, TaskContext, TaskStatus, WorkerError

#: name -> the module that defines it.
_EXPORTS = {
    "BlockingTaskManager": "pyworker.application",
    "TaskHooks": "pyworker.application",
    "TaskManager": "pyworker.application",
    "TypedDurableRegistry": "pyworker.application",
    "DurableTask": "pyworker.domain",
    "RetentionPolicy": "pyworker.domain",
    "Task": "pyworker.domain",
    "TaskContext": "pyworker.domain",
    "TaskStatus": "pyworker.domain",
    "WorkerError": "pyworker.domain",
}

__all__ = [
    "BlockingTaskManager",
    "DurableTask",
    "RetentionPolicy",
    "Task",
    "TaskContext",
    "TaskHooks",
    "TaskManager",
    "TaskStatus",
    "TypedDurableRegistry",
    "WorkerError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyworker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
