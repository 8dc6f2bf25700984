"""In-memory adapters: the embedded durable backend."""

from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.memory.schedules import InMemoryScheduleStore

__all__ = ["InMemoryDurableBackend", "InMemoryScheduleStore"]
