"""Typed handler registries (docs/architecture.md#grpc): name required, spec invalid, duplicates, payload type
checks, copies."""

from __future__ import annotations

import inspect
import uuid

import attrs
import pytest

from pyworker.application import (
    DurableHandlerSpec,
    HandlerSpec,
    TypedDurableRegistry,
    TypedHandlerRegistry,
    typed_handler,
)
from pyworker.application.registry import handler_map
from pyworker.domain import (
    HandlerAlreadyRegisteredError,
    HandlerNameRequiredError,
    HandlerPayloadTypeMismatchError,
    HandlerRegistryError,
    HandlerSpecInvalidError,
    TaskContext,
    WorkerError,
)

RegistryType = type[TypedHandlerRegistry] | type[TypedDurableRegistry]
REGISTRIES: list[RegistryType] = [TypedHandlerRegistry, TypedDurableRegistry]


@attrs.define
class Email:
    to: str = ""


@attrs.define
class Sms:
    number: str = ""


def _ctx() -> TaskContext:
    return TaskContext(uuid.uuid4(), 1)


def send(ctx: TaskContext, message: Email) -> str:
    return f"sent to {message.to}"


async def send_async(ctx: TaskContext, message: Email) -> str:
    return f"async sent to {message.to}"


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_empty_registry(registry_type: RegistryType) -> None:
    registry = registry_type()
    assert registry.handlers() == {}
    assert len(registry) == 0


@pytest.mark.parametrize(
    ("registry_type", "spec_type"), [(TypedHandlerRegistry, HandlerSpec), (TypedDurableRegistry, DurableHandlerSpec)]
)
def test_add_stores_a_spec_of_the_registry_kind(
    registry_type: RegistryType, spec_type: type[HandlerSpec] | type[DurableHandlerSpec]
) -> None:
    registry = registry_type()
    registry.add("email", Email, send)
    spec = registry.handlers()["email"]
    assert isinstance(spec, spec_type)
    assert spec.make is Email
    assert spec.fn is send
    assert "email" in registry


@pytest.mark.parametrize("registry_type", REGISTRIES)
@pytest.mark.parametrize("name", ["", "   "])
def test_name_is_required(registry_type: RegistryType, name: str) -> None:
    registry = registry_type()
    with pytest.raises(HandlerNameRequiredError):
        registry.add(name, Email, send)
    with pytest.raises(HandlerNameRequiredError):
        registry.add_typed(name, Email, send)
    assert registry.handlers() == {}


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_names_are_trimmed(registry_type: RegistryType) -> None:
    registry = registry_type()
    registry.add("  email ", Email, send)
    assert list(registry.handlers()) == ["email"]
    with pytest.raises(HandlerAlreadyRegisteredError):
        registry.add("email", Email, send)


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_missing_make_or_fn_is_an_invalid_spec(registry_type: RegistryType) -> None:
    registry = registry_type()
    # Deliberately wrong types: the registry must refuse them at run time, as a caller without mypy would pass them.
    with pytest.raises(HandlerSpecInvalidError):
        registry.add("a", None, send)  # type: ignore[arg-type]
    with pytest.raises(HandlerSpecInvalidError):
        registry.add("b", Email, None)  # type: ignore[arg-type]
    with pytest.raises(HandlerSpecInvalidError):
        registry.add("c", "not callable", send)  # type: ignore[arg-type]
    with pytest.raises(HandlerSpecInvalidError):
        registry.add_typed("d", Email, None)  # type: ignore[arg-type]  # Python validates typed specs too
    assert registry.handlers() == {}


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_duplicate_name_is_refused_and_the_first_kept(registry_type: RegistryType) -> None:
    registry = registry_type()
    registry.add("email", Email, send)
    with pytest.raises(HandlerAlreadyRegisteredError) as info:
        registry.add_typed("email", Sms, send)
    assert info.value.name == "email"
    assert "email" in str(info.value)
    assert registry.handlers()["email"].make is Email


def test_registry_errors_share_a_root() -> None:
    for error in (
        HandlerNameRequiredError(),
        HandlerSpecInvalidError(),
        HandlerAlreadyRegisteredError(name="x"),
        HandlerPayloadTypeMismatchError(expected="A", got="B"),
    ):
        assert isinstance(error, HandlerRegistryError)
        assert isinstance(error, WorkerError)


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_handlers_returns_a_copy(registry_type: RegistryType) -> None:
    registry = registry_type()
    registry.add("email", Email, send)
    copy = registry.handlers()
    copy.clear()
    assert "email" in registry.handlers()


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_typed_handler_accepts_its_type_and_refuses_others(registry_type: RegistryType) -> None:
    registry = registry_type()
    registry.add_typed("email", Email, send)
    spec = registry.handlers()["email"]
    assert spec.make is Email
    assert spec.fn(_ctx(), Email(to="ann")) == "sent to ann"
    with pytest.raises(HandlerPayloadTypeMismatchError, match="handler payload type mismatch") as info:
        spec.fn(_ctx(), Sms(number="1"))
    assert (info.value.expected, info.value.got) == ("Email", "Sms")


async def test_typed_async_handler_stays_a_coroutine_function() -> None:
    registry = TypedDurableRegistry()
    registry.add_typed("email", Email, send_async)
    fn = registry.handlers()["email"].fn
    assert inspect.iscoroutinefunction(fn)
    assert await fn(_ctx(), Email(to="bob")) == "async sent to bob"
    with pytest.raises(HandlerPayloadTypeMismatchError):
        await fn(_ctx(), Sms())


def test_typed_handler_function_on_its_own() -> None:
    fn = typed_handler(Email, send)
    assert not inspect.iscoroutinefunction(fn)
    assert fn(_ctx(), Email(to="cy")) == "sent to cy"
    with pytest.raises(HandlerPayloadTypeMismatchError):
        fn(_ctx(), "plain string")


@pytest.mark.parametrize("registry_type", REGISTRIES)
def test_decorator_registers_and_returns_the_function(registry_type: RegistryType) -> None:
    registry = registry_type()

    @registry.handler("email", Email)
    def handle(ctx: TaskContext, message: Email) -> str:
        return message.to

    assert handle(_ctx(), Email(to="raw")) == "raw"  # the original, undecorated
    spec = registry.handlers()["email"]
    with pytest.raises(HandlerPayloadTypeMismatchError):
        spec.fn(_ctx(), Sms())


def test_handler_map_accepts_registries_and_mappings_and_validates() -> None:
    registry = TypedDurableRegistry()
    registry.add("email", Email, send)
    assert set(handler_map(registry)) == {"email"}
    assert handler_map(None) == {}
    good = {"sms": DurableHandlerSpec(make=Sms, fn=send)}
    assert handler_map(good) == good
    with pytest.raises(HandlerSpecInvalidError):
        handler_map({"bad": DurableHandlerSpec(make=Sms, fn=None)})  # type: ignore[arg-type]
    with pytest.raises(HandlerNameRequiredError):
        handler_map({"": DurableHandlerSpec(make=Sms, fn=send)})
