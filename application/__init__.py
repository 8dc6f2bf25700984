"""pyworker's application layer: the TaskManager, its services and its ports."""

from pyworker.application.attempt import Interrupt
from pyworker.application.blocking import BlockingResults, BlockingTaskManager
from pyworker.application.clock import LoopClock
from pyworker.application.durable import DurableRunner
from pyworker.application.hooks import TaskHooks
from pyworker.application.ports import (
    Clock,
    DurableBackend,
    DurableCodec,
    Meter,
    MeterFactory,
    TaskSpan,
    TimerHandle,
    Tracer,
)
from pyworker.application.registry import (
    DurableHandlerSpec,
    HandlerSpec,
    TypedDurableRegistry,
    TypedHandlerRegistry,
    typed_handler,
)
from pyworker.application.results import ResultBroadcaster, ResultStream
from pyworker.application.service import (
    LoggerMiddleware,
    Middleware,
    Service,
    ServiceMiddleware,
    logger_middleware,
    register_middleware,
)
from pyworker.application.task_manager import TaskManager
from pyworker.application.telemetry import NoopMeter, NoopTracer

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
