"""In-memory adapters: the embedded durable backend."""

from pyworker.adapters.memory.durable import InMemoryDurableBackend

__all__ = ["InMemoryDurableBackend"]
