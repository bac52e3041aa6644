"""Token buckets (client protocol 0.15): in process, or shared through Redis."""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

from licentia.config import RateSpec


class RateLimiter(Protocol):
    async def hit(self, bucket: str, key: str, spec: RateSpec) -> int:
        """Take one token; return 0 when allowed, else whole seconds until one would pass."""
        ...


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 200_000) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._max_keys = max_keys

    async def hit(self, bucket: str, key: str, spec: RateSpec) -> int:
        if not spec.enabled:
            return 0
        now = time.monotonic()
        rate = spec.capacity / spec.period
        tokens, last = self._buckets.get((bucket, key), (float(spec.capacity), now))
        tokens = min(float(spec.capacity), tokens + (now - last) * rate)
        if tokens >= 1.0:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()  # bounded memory; a reset only ever lets more through
            self._buckets[(bucket, key)] = (tokens - 1.0, now)
            return 0
        self._buckets[(bucket, key)] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))


_LUA = """
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local state = redis.call('HMGET', key, 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + (now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
  if wait < 1 then wait = 1 end
end
redis.call('HSET', key, 't', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', key, ttl)
return wait
"""


class RedisRateLimiter:
    def __init__(self, redis: Any, prefix: str = "licentia:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_LUA)

    async def hit(self, bucket: str, key: str, spec: RateSpec) -> int:
        if not spec.enabled:
            return 0
        rate = spec.capacity / spec.period
        ttl = max(1, math.ceil(spec.period * 2))
        wait = await self._script(
            keys=[f"{self._prefix}{bucket}:{key}"],
            args=[spec.capacity, rate, time.time(), ttl],
        )
        return int(wait)
