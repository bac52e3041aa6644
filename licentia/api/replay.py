"""Nonce replay cache (client protocol 0.7), shared across workers.

A record holds the request id, the SHA-256 of the raw body and, once answered, the status and
canonical body of the response. Backends: process memory (one worker), the database, Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from licentia.store.engine import Database
from licentia.store.tables import replay_cache


@dataclass
class Seen:
    request_id: str
    body_sha256: str
    status: int | None
    body: bytes | None


class ReplayStore(Protocol):
    async def claim(self, nonce: str, request_id: str, body_sha256: str, ttl: int) -> Seen | None:
        """Record a new nonce and return None, or return what was recorded before."""
        ...

    async def store(self, nonce: str, status: int, body: bytes) -> None: ...

    async def fetch(self, nonce: str) -> Seen | None: ...


class MemoryReplayStore:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Seen]] = {}
        self._next_sweep = 0.0

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 30
        for key in [k for k, (exp, _) in self._items.items() if exp < now]:
            del self._items[key]

    async def claim(self, nonce: str, request_id: str, body_sha256: str, ttl: int) -> Seen | None:
        now = time.monotonic()
        self._sweep(now)
        current = self._items.get(nonce)
        if current is not None and current[0] >= now:
            return current[1]
        self._items[nonce] = (now + ttl, Seen(request_id, body_sha256, None, None))
        return None

    async def store(self, nonce: str, status: int, body: bytes) -> None:
        current = self._items.get(nonce)
        if current is not None:
            current[1].status = status
            current[1].body = body

    async def fetch(self, nonce: str) -> Seen | None:
        current = self._items.get(nonce)
        return current[1] if current else None


class DatabaseReplayStore:
    def __init__(self, db: Database, clock: Any) -> None:
        self._db = db
        self._clock = clock
        self._next_sweep = 0.0

    async def claim(self, nonce: str, request_id: str, body_sha256: str, ttl: int) -> Seen | None:
        now = self._clock()
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + 60
            async with self._db.write() as conn:
                await conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < now))
        try:
            async with self._db.write() as conn:
                row = (
                    await conn.execute(select(replay_cache).where(replay_cache.c.nonce == nonce))
                ).first()
                if row is not None and row.expires_at >= now:
                    return _seen(row)
                if row is not None:
                    await conn.execute(delete(replay_cache).where(replay_cache.c.nonce == nonce))
                await conn.execute(
                    replay_cache.insert().values(
                        nonce=nonce,
                        request_id=request_id,
                        body_sha256=body_sha256,
                        expires_at=now + timedelta(seconds=ttl),
                    )
                )
        except IntegrityError:
            # Another worker recorded the same nonce at the same moment.
            return await self.fetch(nonce) or Seen(request_id, "", None, None)
        return None

    async def store(self, nonce: str, status: int, body: bytes) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                update(replay_cache)
                .where(replay_cache.c.nonce == nonce)
                .values(status=status, response_body=body.decode("utf-8"))
            )

    async def fetch(self, nonce: str) -> Seen | None:
        async with self._db.read() as conn:
            row = (
                await conn.execute(select(replay_cache).where(replay_cache.c.nonce == nonce))
            ).first()
        return _seen(row) if row else None


def _seen(row: Any) -> Seen:
    body = row.response_body.encode("utf-8") if row.response_body is not None else None
    return Seen(row.request_id, row.body_sha256, row.status, body)


class RedisReplayStore:
    """`SET NX EX` makes the claim atomic; the answer is kept under a sibling key."""

    def __init__(self, redis: Any, prefix: str = "licentia:nonce:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl: dict[str, int] = {}

    async def claim(self, nonce: str, request_id: str, body_sha256: str, ttl: int) -> Seen | None:
        key = self._prefix + nonce
        meta = f"{request_id}\n{body_sha256}".encode()
        if await self._redis.set(key, meta, nx=True, ex=ttl):
            return None
        return await self.fetch(nonce) or Seen("", "", None, None)

    async def store(self, nonce: str, status: int, body: bytes) -> None:
        key = self._prefix + nonce
        ttl = await self._redis.ttl(key)
        await self._redis.set(key + ":r", str(status).encode() + b"\n" + body, ex=max(1, ttl))

    async def fetch(self, nonce: str) -> Seen | None:
        key = self._prefix + nonce
        meta, answer = await self._redis.mget([key, key + ":r"])
        if meta is None:
            return None
        request_id, _, sha = meta.decode().partition("\n")
        status: int | None = None
        body: bytes | None = None
        if answer is not None:
            head, _, body = answer.partition(b"\n")
            status = int(head)
        return Seen(request_id, sha, status, body)
