"""In-memory adapters: the embedded durable backend."""

from adapters.memory.durable import InMemoryDurableBackend

__all__ = ["InMemoryDurableBackend"]
