"""Handler specs and typed registries for gRPC and durable tasks (docs/architecture.md#grpc)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from pyworker.application.attempt import is_async_function
from pyworker.domain import (
    HandlerAlreadyRegisteredError,
    HandlerNameRequiredError,
    HandlerPayloadTypeMismatchError,
    HandlerSpecInvalidError,
    TaskContext,
)

T = TypeVar("T")

#: A handler body: ``fn(ctx, message)``, async or plain (plain runs in the thread pool).
HandlerFn = Callable[[TaskContext, Any], Awaitable[Any] | Any]


@attrs.frozen
class HandlerSpec:
    """A gRPC task handler: ``make()`` builds an empty payload message; ``fn`` runs it."""

    make: Callable[[], Any]
    fn: HandlerFn


@attrs.frozen
class DurableHandlerSpec:
    """A durable task handler: ``make()`` builds an empty message for the codec; ``fn`` runs it."""

    make: Callable[[], Any]
    fn: HandlerFn


def _check_spec(name: str, make: object, fn: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise HandlerNameRequiredError()
    if not callable(make) or not callable(fn):
        raise HandlerSpecInvalidError()
    return name.strip()


def typed_handler(message_type: type[T], fn: Callable[[TaskContext, T], Any]) -> HandlerFn:
    """Wrap ``fn`` so it refuses payloads that are not ``message_type``."""

    def check(ctx: TaskContext, message: Any) -> Any:
        if not isinstance(message, message_type):
            raise HandlerPayloadTypeMismatchError(
                expected=message_type.__name__, got=type(message).__name__
            )
        return fn(ctx, message)

    check.__name__ = getattr(fn, "__name__", "typed_handler")
    # Keep coroutine functions recognisable so they run on the loop, not in a thread.
    if is_async_function(fn):

        async def check_async(ctx: TaskContext, message: Any) -> Any:
            # The check inlined: one coroutine per delivery, not two.
            if not isinstance(message, message_type):
                raise HandlerPayloadTypeMismatchError(expected=message_type.__name__, got=type(message).__name__)
            return await fn(ctx, message)

        return check_async
    return check


class _Registry(Generic[T]):
    def __init__(self, spec_type: type[Any]) -> None:
        self._spec_type = spec_type
        self._specs: dict[str, Any] = {}

    def add(self, name: str, make: Callable[[], Any], fn: HandlerFn) -> None:
        """Register an untyped handler.

        Raises:
            HandlerNameRequiredError, HandlerSpecInvalidError, HandlerAlreadyRegisteredError.
        """
        key = _check_spec(name, make, fn)
        if key in self._specs:
            raise HandlerAlreadyRegisteredError(name=key)
        self._specs[key] = self._spec_type(make=make, fn=fn)

    def add_typed(self, name: str, message_type: type[T], fn: Callable[[TaskContext, T], Any]) -> None:
        """Register a handler whose payload must be ``message_type`` (also its maker)."""
        _check_spec(name, message_type, fn)
        self.add(name, message_type, typed_handler(message_type, fn))

    def handler(self, name: str, message_type: type[T]) -> Callable[[Any], Any]:
        """Decorator form of ``add_typed``."""

        def register(fn: Callable[[TaskContext, T], Any]) -> Callable[[TaskContext, T], Any]:
            self.add_typed(name, message_type, fn)
            return fn

        return register

    def handlers(self) -> dict[str, Any]:
        """A copy of the name -> spec map."""
        return dict(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)


class TypedHandlerRegistry(_Registry[Any]):
    """Registry of gRPC handlers (``HandlerSpec``)."""

    def __init__(self) -> None:
        super().__init__(HandlerSpec)


class TypedDurableRegistry(_Registry[Any]):
    """Registry of durable handlers (``DurableHandlerSpec``); what ``workerctl worker --app`` loads."""

    def __init__(self) -> None:
        super().__init__(DurableHandlerSpec)


def handler_map(handlers: Mapping[str, DurableHandlerSpec] | TypedDurableRegistry | None) -> dict[str, Any]:
    """Accept a registry or a plain mapping; validate every entry."""
    if handlers is None:
        return {}
    items = handlers.handlers() if isinstance(handlers, _Registry) else dict(handlers)
    for name, spec in items.items():
        _check_spec(name, getattr(spec, "make", None), getattr(spec, "fn", None))
    return items
