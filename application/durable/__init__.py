"""Durable mode: the dispatcher over a DurableQueue and its parts (handlers, leases, acks)."""

from pyworker.application.durable.dispatcher import DurableDispatcher
from pyworker.application.durable.handlers import DurableHandlers

__all__ = ["DurableDispatcher", "DurableHandlers"]
