"""Cron schedules: the ScheduleService, its ScheduleStore port and the TaskManager methods."""

from pyworker.application.schedules.admin import ScheduleAdmin
from pyworker.application.schedules.model import Factory, ScheduleInfo, Tick
from pyworker.application.schedules.service import ScheduleService
from pyworker.application.schedules.store import ScheduleStore, ScheduleStoreProvider

__all__ = [
    "Factory",
    "ScheduleAdmin",
    "ScheduleInfo",
    "ScheduleService",
    "ScheduleStore",
    "ScheduleStoreProvider",
    "Tick",
]
