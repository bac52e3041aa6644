"""Nonce replay cache (client protocol 0.7), shared across workers.

A record holds the request id, the SHA-256 of the raw body and, once answered, the status and
canonical body of the response. Backends: process memory (one worker), the database, Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from licentia.store.engine import Database
from licentia.store.hotsql import HotWrite
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
    """One statement per step: the claim is an upsert that only replaces an expired record,
    so exactly one of any number of concurrent claims of a nonce wins, in any process."""

    def __init__(self, db: Database, clock: Any) -> None:
        self._db = db
        self._clock = clock
        self._next_sweep = 0.0
        dialect_insert = sqlite_insert if db.is_sqlite else pg_insert
        stmt = dialect_insert(replay_cache).values(
            nonce=bindparam("b_nonce"),
            request_id=bindparam("b_rid"),
            body_sha256=bindparam("b_sha"),
            expires_at=bindparam("b_exp"),
        )
        self._claim = HotWrite(
            stmt.on_conflict_do_update(
                index_elements=[replay_cache.c.nonce],
                set_={
                    "request_id": stmt.excluded.request_id,
                    "body_sha256": stmt.excluded.body_sha256,
                    "expires_at": stmt.excluded.expires_at,
                    "status": None,
                    "response_body": None,
                },
                where=replay_cache.c.expires_at < bindparam("b_now"),
            )
        )
        self._store = HotWrite(
            update(replay_cache)
            .where(replay_cache.c.nonce == bindparam("b_nonce"))
            .values(status=bindparam("b_status"), response_body=bindparam("b_body"))
        )
        self._fetch = select(replay_cache).where(replay_cache.c.nonce == bindparam("b_nonce"))

    async def claim(self, nonce: str, request_id: str, body_sha256: str, ttl: int) -> Seen | None:
        now = self._clock()
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + 60
            async with self._db.write() as conn:
                await conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < now))
        params = {
            "b_nonce": nonce,
            "b_rid": request_id,
            "b_sha": body_sha256,
            "b_exp": now + timedelta(seconds=ttl),
            "b_now": now,
        }
        won = (await self._db.quick_execute(self._claim, params)).rowcount == 1
        if won:
            return None
        return await self.fetch(nonce) or Seen(request_id, "", None, None)

    async def store(self, nonce: str, status: int, body: bytes) -> None:
        params = {"b_nonce": nonce, "b_status": status, "b_body": body.decode("utf-8")}
        await self._db.quick_execute(self._store, params)

    async def fetch(self, nonce: str) -> Seen | None:
        async with self._db.quick_read() as conn:
            row = (await conn.execute(self._fetch, {"b_nonce": nonce})).first()
        return _seen(row) if row else None


def _seen(row: Any) -> Seen:
    body = row.response_body.encode("utf-8") if row.response_body is not None else None
    return Seen(row.request_id, row.body_sha256, row.status, body)


class RedisReplayStore:
    """`SET NX EX` makes the claim atomic; the answer is kept under a sibling key."""

    def __init__(self, redis: Any, prefix: str = "licentia:nonce:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = 600  # the claim's TTL, used for the answer key too (one round trip)

    async def claim(self, nonce: str, request_id: str, body_sha256: str, ttl: int) -> Seen | None:
        key = self._prefix + nonce
        meta = f"{request_id}\n{body_sha256}".encode()
        self._ttl = ttl
        if await self._redis.set(key, meta, nx=True, ex=ttl):
            return None
        return await self.fetch(nonce) or Seen("", "", None, None)

    async def store(self, nonce: str, status: int, body: bytes) -> None:
        key = self._prefix + nonce
        await self._redis.set(key + ":r", str(status).encode() + b"\n" + body, ex=self._ttl)

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
