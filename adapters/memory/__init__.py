"""In-memory adapters: the embedded durable backend, schedule store and node registry."""

from pyworker.adapters.memory.durable import InMemoryDurableBackend
from pyworker.adapters.memory.nodes import InMemoryNodeRegistry
from pyworker.adapters.memory.schedules import InMemoryScheduleStore

__all__ = ["InMemoryDurableBackend", "InMemoryNodeRegistry", "InMemoryScheduleStore"]
