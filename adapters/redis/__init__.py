"""Redis adapters: the durable ports, their shared store, key names, Lua scripts and client."""

from pyworker.adapters.redis.client import (
    RedisClient,
    new_redis_client,
    redact_url,
    redis_client,
    validate_redis_url,
)
from pyworker.adapters.redis.durable import RedisDurableBackend
from pyworker.adapters.redis.inspector import RedisDurableInspector
from pyworker.adapters.redis.keys import RedisKeys, effective_prefix
from pyworker.adapters.redis.limits import RedisLimitStore
from pyworker.adapters.redis.nodes import RedisNodeRegistry
from pyworker.adapters.redis.queue import RedisDurableQueue
from pyworker.adapters.redis.store import RedisDurableStore

__all__ = [
    "RedisClient",
    "RedisDurableBackend",
    "RedisDurableInspector",
    "RedisDurableQueue",
    "RedisDurableStore",
    "RedisKeys",
    "RedisLimitStore",
    "RedisNodeRegistry",
    "effective_prefix",
    "new_redis_client",
    "redis_client",
    "redact_url",
    "validate_redis_url",
]
