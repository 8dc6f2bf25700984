"""pyworker's application layer: the TaskManager, its services and its ports."""

from pyworker.application.admin import DurableAdmin
from pyworker.application.attempt import Interrupt
from pyworker.application.blocking import BlockingResults, BlockingTaskManager
from pyworker.application.clock import LoopClock
from pyworker.application.codec import ProtoDurableCodec
from pyworker.application.config import DurableConfig, ManagerConfig
from pyworker.application.dispatch import Dispatcher
from pyworker.application.durable import DurableDispatcher
from pyworker.application.events import AttemptInfo, LifecycleListener
from pyworker.application.hooks import TaskHooks
from pyworker.application.outcomes import DurableResults, DurableResultsProvider
from pyworker.application.ports import (
    Clock,
    DurableBackend,
    DurableCodec,
    DurableInspector,
    DurableQueue,
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
    "AttemptInfo",
    "Dispatcher",
    "DurableConfig",
    "DurableQueue",
    "LifecycleListener",
    "ManagerConfig",
    "ProtoDurableCodec",
    "BlockingResults",
    "BlockingTaskManager",
    "Clock",
    "DurableAdmin",
    "DurableBackend",
    "DurableCodec",
    "DurableHandlerSpec",
    "DurableDispatcher",
    "DurableInspector",
    "DurableResults",
    "DurableResultsProvider",
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
