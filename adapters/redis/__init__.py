"""Redis adapters: the durable backend, its key names and its Lua scripts."""

from pyworker.adapters.redis.durable import RedisDurableBackend
from pyworker.adapters.redis.keys import RedisKeys, effective_prefix

__all__ = ["RedisDurableBackend", "RedisKeys", "effective_prefix"]
