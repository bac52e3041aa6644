"""The Elite Key failed-key throttle (management A.4 step 1), shared by every worker.

An address with `limit` failed key checks within the last `window` seconds is refused
(429 `RATE_LIMITED`, `Retry-After` until its oldest failure leaves the window) before its
key is looked at. The failures are kept where every worker (and every server in front of one
database) sees them: in Redis when `LICENTIA_REDIS_URL` is set (a sorted set per address,
updated by one script), else in the database (rows of scope `elite` in
`dashboard_signin_failures`, which the periodic purge prunes). Before issue #14 the count
lived in each worker's memory, so with two workers the first 429 came after 16 wrong keys
instead of 10.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from licentia.services import attempts
from licentia.services.attempts import Bucket
from licentia.services.runtime import Runtime
from licentia.store.tables import dashboard_signin_failures

SCOPE = "elite"
LIMIT = 10
WINDOW = 60.0

# KEYS[1] the address's set; ARGV: now, window, limit, add (1 = record a failure).
_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if ARGV[4] == '1' then
  redis.call('ZADD', key, now, ARGV[5])
  redis.call('EXPIRE', key, math.ceil(window) + 1)
  return 0
end
if redis.call('ZCARD', key) < limit then return 0 end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local wait = math.ceil(tonumber(oldest[2]) + window - now)
if wait < 1 then wait = 1 end
return wait
"""


class SharedFailureThrottle:
    """A.4 step 1 over Redis (when `get_redis()` gives a client) or the database."""

    def __init__(
        self,
        get_runtime: Callable[[], Runtime | None],
        get_redis: Callable[[], Any] = lambda: None,
        *,
        limit: int = LIMIT,
        window: float = WINDOW,
    ) -> None:
        self._get_runtime = get_runtime
        self._get_redis = get_redis
        self.limit = limit
        self.window = window
        self._scripts: dict[int, Any] = {}

    def _runtime(self) -> Runtime:
        rt = self._get_runtime()
        if rt is None:
            raise RuntimeError("the application has not started")
        return rt

    def _bucket(self, ip: str) -> Bucket:
        return Bucket(SCOPE, ip[:128], self.limit)

    async def _redis(self, redis: Any, ip: str, add: bool) -> int:
        script = self._scripts.get(id(redis))
        if script is None:
            script = self._scripts[id(redis)] = redis.register_script(_LUA)
        rt = self._runtime()
        wait = await script(
            keys=[f"{rt.settings.redis_prefix}elite-fail:{ip[:128]}"],
            args=[
                rt.clock().timestamp(),
                self.window,
                self.limit,
                "1" if add else "0",
                secrets.token_hex(8),
            ],
        )
        return int(wait)

    async def retry_after(self, ip: str) -> int:
        """0 when the address may try; else seconds until its oldest failure leaves."""
        redis = self._get_redis()
        if redis is not None:
            return await self._redis(redis, ip, add=False)
        rt = self._runtime()
        window = timedelta(seconds=self.window)
        bucket = self._bucket(ip)
        if not await attempts.full(rt, dashboard_signin_failures, bucket, window):
            return 0
        first = await attempts.oldest(rt, dashboard_signin_failures, bucket, window)
        if first is None:
            return 0
        left = (first + window - rt.clock()).total_seconds()
        return max(1, math.ceil(left))

    async def fail(self, ip: str) -> None:
        redis = self._get_redis()
        if redis is not None:
            await self._redis(redis, ip, add=True)
            return
        await attempts.add(self._runtime(), dashboard_signin_failures, self._bucket(ip))
