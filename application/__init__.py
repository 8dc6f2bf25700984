"""pyworker's application layer: the TaskManager, its services and its ports."""

from application.attempt import Interrupt
from application.blocking import BlockingResults, BlockingTaskManager
from application.clock import LoopClock
from application.durable import DurableRunner
from application.hooks import TaskHooks
from application.ports import (
    Clock,
    DurableBackend,
    DurableCodec,
    Meter,
    MeterFactory,
    TaskSpan,
    TimerHandle,
    Tracer,
)
from application.registry import (
    DurableHandlerSpec,
    HandlerSpec,
    TypedDurableRegistry,
    TypedHandlerRegistry,
    typed_handler,
)
from application.results import ResultBroadcaster, ResultStream
from application.service import (
    LoggerMiddleware,
    Middleware,
    Service,
    ServiceMiddleware,
    logger_middleware,
    register_middleware,
)
from application.task_manager import TaskManager
from application.telemetry import NoopMeter, NoopTracer

__all__ = [
    "BlockingResults",
    "BlockingTaskManager",
    "Clock",
    "DurableBackend",
    "DurableCodec",
    "DurableHandlerSpec",
    "DurableRunner",
    "HandlerSpec",
    "Interrupt",
    "LoggerMiddleware",
    "LoopClock",
    "Meter",
    "MeterFactory",
    "Middleware",
    "NoopMeter",
    "NoopTracer",
    "ResultBroadcaster",
    "ResultStream",
    "Service",
    "ServiceMiddleware",
    "TaskHooks",
    "TaskManager",
    "TaskSpan",
    "TimerHandle",
    "Tracer",
    "TypedDurableRegistry",
    "TypedHandlerRegistry",
    "logger_middleware",
    "register_middleware",
    "typed_handler",
]
