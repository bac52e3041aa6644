"""The Elite Key failed-key throttle (management A.4 step 1), shared by every worker.

Every call is counted against its client address *before* its key is looked at: one
attempt is reserved in the address's budget (`limit` attempts within `window` seconds) in one
atomic step, and a right key then releases its attempt again. An address whose budget is full
is refused (429 `RATE_LIMITED`, `Retry-After` until its oldest failure leaves the window)
without any key lookup or digest work, so a flood of simultaneous wrong keys gets `limit`
lookups, not one per request (before this, the check and the count were two steps, and 100
simultaneous wrong keys got 100 lookups). The budget is per address and holds only unknown
keys: the owner's right key costs nothing (its reservation is released), and a stranger's
flood from its own address never locks the key itself, which keeps working from every other
address. The failures are kept where every worker (and every server in front of one
database) sees them: in Redis when `LICENTIA_REDIS_URL` is set (a sorted set per address,
updated by one script), else in the database (rows of scope `elite` in
`dashboard_signin_failures`, reserved like the sign-in lockout: `services.attempts`, pruned
by the periodic purge).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from licentia.services import attempts
from licentia.services.attempts import Bucket, Reservation
from licentia.services.runtime import Runtime
from licentia.store.tables import dashboard_signin_failures

SCOPE = "elite"
LIMIT = 10
WINDOW = 60.0

# KEYS[1] the address's set; ARGV: now, window, limit, member. Reserves one attempt (0) or,
# when the budget is full, writes nothing and returns the seconds to wait.
_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(window) + 1)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local wait = math.ceil(tonumber(oldest[2]) + window - now)
if wait < 1 then wait = 1 end
return wait
"""


@dataclass(frozen=True)
class Attempt:
    """One reserved attempt: `wait` > 0 when refused (nothing reserved)."""

    wait: int
    ip: str = ""
    member: str = ""  # the Redis set member
    rows: Reservation | None = None  # the database rows


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

    def _key(self, ip: str) -> str:
        return f"{self._runtime().settings.redis_prefix}elite-fail:{ip[:128]}"

    async def _redis_reserve(self, redis: Any, ip: str) -> Attempt:
        script = self._scripts.get(id(redis))
        if script is None:
            script = self._scripts[id(redis)] = redis.register_script(_LUA)
        member = secrets.token_hex(8)
        wait = await script(
            keys=[self._key(ip)],
            args=[self._runtime().clock().timestamp(), self.window, self.limit, member],
        )
        return Attempt(int(wait)) if int(wait) else Attempt(0, ip, member=member)

    async def reserve(self, ip: str) -> Attempt:
        """Count one attempt of the address before its key is checked (atomic: simultaneous
        attempts each see those before them); `wait` > 0 and nothing counted when full."""
        redis = self._get_redis()
        if redis is not None:
            return await self._redis_reserve(redis, ip)
        rt = self._runtime()
        window = timedelta(seconds=self.window)
        bucket = self._bucket(ip)
        rows = await attempts.reserve(rt, dashboard_signin_failures, [bucket], window)
        if rows is not None:
            return Attempt(0, ip, rows=rows)
        first = await attempts.oldest(rt, dashboard_signin_failures, bucket, window)
        if first is None:  # the window moved on meanwhile
            return Attempt(1)
        left = (first + window - rt.clock()).total_seconds()
        return Attempt(max(1, math.ceil(left)))

    async def release(self, attempt: Attempt) -> None:
        """The key was right: its attempt is no failure."""
        redis = self._get_redis()
        if attempt.member and redis is not None:
            await redis.zrem(self._key(attempt.ip), attempt.member)
        elif attempt.rows is not None:
            async with self._runtime().db.write() as conn:
                await attempts.release(conn, attempt.rows)
