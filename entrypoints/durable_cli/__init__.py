"""`workerctl durable`: the operator's commands for durable queues on Redis (docs/workerctl.md)."""

from __future__ import annotations

import click

from pyworker.domain import BackendUnavailableError
from pyworker.entrypoints.errors import EXIT_ERROR, CliError

__all__ = ["durable"]


class DurableGroup(click.Group):
    """go-worker's workerctl exits 1 on an operational error: Redis down is one too (exit 1, not 3)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BackendUnavailableError as exc:
            raise CliError(str(exc), EXIT_ERROR) from exc


@click.group(cls=DurableGroup)
def durable() -> None:
    """Inspect and operate durable queues on Redis (dry-run unless --apply).

    Connection flags go on each command, or in the environment: PYWORKER_REDIS_URL,
    PYWORKER_REDIS_ADDR, PYWORKER_REDIS_PASSWORD, PYWORKER_REDIS_PREFIX,
    PYWORKER_REDIS_TLS, PYWORKER_REDIS_TLS_INSECURE, PYWORKER_REDIS_TIMEOUT.
    """


@durable.group()
def dlq() -> None:
    """The dead-letter queue."""


def _register() -> None:
    from pyworker.entrypoints.durable_cli import (
        audit,
        cancel,
        control,
        enqueue,
        moves,
        nodes,
        read,
        schedules,
        snapshot,
    )

    for command in (read.inspect, read.queues, read.stats, read.get, read.dump, read.paused,
                    enqueue.enqueue, moves.retry, moves.requeue, moves.delete, moves.purge,
                    control.pause, control.resume):
        durable.add_command(command)
    dlq.add_command(read.dlq_list)
    dlq.add_command(moves.replay)
    durable.add_command(snapshot.snapshot)
    durable.add_command(schedules.schedules)
    durable.add_command(nodes.nodes)
    durable.add_command(audit.audit)
    durable.add_command(cancel.cancel)


_register()
