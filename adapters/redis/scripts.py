"""The durable backend's Lua scripts: loaded from ``lua/`` and registered on a client."""

from __future__ import annotations

import importlib.resources
from typing import Any

import attrs
from redis.commands.core import AsyncScript

_NAMES = (
    "enqueue", "dequeue", "ack", "nack", "fail", "extend", "release", "pause", "stats", "list",
    "requeue", "delete", "replay", "restore", "cancel", "limits", "ack_capped", "fail_capped",
)  # fmt: skip
#: Scripts that are a variant of another script's body (lua/<body>.lua) with other includes.
_BODIES = {"ack_capped": "ack", "fail_capped": "fail"}
#: Shared helpers a script needs besides the prelude (lua/<name>.lua, prepended in order); each
#: helper defined costs every run of the script that includes it, so a script takes only its own.
_INCLUDES = {
    "dequeue": ("ranks", "cancel_text"), "ack": ("uncapped", "outcome"), "fail": ("uncapped", "outcome"),
    "ack_capped": ("capped", "outcome"), "fail_capped": ("capped", "outcome"),
    "nack": ("ranks", "cancel_text", "outcome"), "release": ("ranks",), "list": ("ranks",),
    "requeue": ("ranks", "move"), "delete": ("ranks", "move"), "replay": ("ranks", "move"),
    "restore": ("ranks", "move"), "cancel": ("ranks", "cancel_text", "outcome"),
}  # fmt: skip


def script_source(name: str) -> str:
    """A script's full text: the shared prelude, then the script itself."""
    lua = importlib.resources.files("pyworker.adapters.redis") / "lua"
    parts = ["prelude", *_INCLUDES.get(name, ()), _BODIES.get(name, name)]
    return "\n".join((lua / f"{part}.lua").read_text() for part in parts)


@attrs.frozen
class RedisScripts:
    """Every state change is one of these scripts, so it is atomic and one round trip.

    redis-py's ``register_script`` sends EVALSHA and loads the text on NOSCRIPT
    (after a server restart, or on a cluster node that has not seen it yet).
    """

    enqueue: AsyncScript
    dequeue: AsyncScript
    ack: AsyncScript
    nack: AsyncScript
    fail: AsyncScript
    extend: AsyncScript
    release: AsyncScript
    pause: AsyncScript
    stats: AsyncScript
    list: AsyncScript
    requeue: AsyncScript
    delete: AsyncScript
    replay: AsyncScript
    restore: AsyncScript
    cancel: AsyncScript
    limits: AsyncScript
    ack_capped: AsyncScript
    fail_capped: AsyncScript

    @classmethod
    def register(cls, client: Any) -> RedisScripts:
        return cls(**{name: client.register_script(script_source(name)) for name in _NAMES})
