"""Nonce replay cache (client protocol 0.7): memory, database and Redis backends.

Every backend must: record a new nonce (`claim` -> None), report a seen one with its request id
and body hash, return the stored answer once there is one, and let exactly one of many
concurrent claims of the same nonce win.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from licentia.api import replay
from licentia.api.replay import (
    DatabaseReplayStore,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    Seen,
)
from licentia.store.engine import Database

from .conftest import RedisHandle, open_redis

TTL = 600
BODY_HASH = hashlib.sha256(b'{"session_id":"x"}').hexdigest()
ANSWER = '{"code":"OK","message":"Session is valid – ok","success":true,"valid":true}'.encode()


def new_nonce() -> str:
    return secrets.token_hex(16)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(database_url, pool_size=10)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=["memory", "database", "redis"])
async def store(
    request: pytest.FixtureRequest, clock: Any, database_url: str
) -> AsyncIterator[ReplayStore]:
    # `database_url` is a parameter (not fetched lazily) so that its synchronous session setup,
    # which migrates through asyncio.run(), happens before this coroutine's loop is running.
    if request.param == "memory":
        yield MemoryReplayStore()
    elif request.param == "database":
        db = Database.from_url(database_url, pool_size=10)
        try:
            yield DatabaseReplayStore(db, clock)
        finally:
            await db.dispose()
    else:
        async with open_redis() as handle:
            yield RedisReplayStore(handle.client, prefix=handle.prefix)


async def test_claim_new_then_seen(store: ReplayStore) -> None:
    nonce = new_nonce()
    assert await store.claim(nonce, "req-1", BODY_HASH, TTL) is None
    assert await store.claim(nonce, "req-2", "0" * 64, TTL) == Seen("req-1", BODY_HASH, None, None)
    assert await store.fetch(nonce) == Seen("req-1", BODY_HASH, None, None)


async def test_absent_request_id_is_recorded_as_empty(store: ReplayStore) -> None:
    nonce = new_nonce()
    assert await store.claim(nonce, "", BODY_HASH, TTL) is None
    assert await store.claim(nonce, "", BODY_HASH, TTL) == Seen("", BODY_HASH, None, None)


async def test_store_then_fetch_returns_answer(store: ReplayStore) -> None:
    nonce = new_nonce()
    assert await store.claim(nonce, "req-1", BODY_HASH, TTL) is None
    await store.store(nonce, 401, ANSWER)
    assert await store.fetch(nonce) == Seen("req-1", BODY_HASH, 401, ANSWER)
    assert await store.claim(nonce, "req-1", BODY_HASH, TTL) == Seen(
        "req-1", BODY_HASH, 401, ANSWER
    )


async def test_unknown_nonce(store: ReplayStore) -> None:
    assert await store.fetch(new_nonce()) is None


async def test_nonces_are_independent(store: ReplayStore) -> None:
    first, second = new_nonce(), new_nonce()
    assert await store.claim(first, "a", BODY_HASH, TTL) is None
    assert await store.claim(second, "a", BODY_HASH, TTL) is None
    await store.store(first, 200, b"{}")
    seen = await store.fetch(second)
    assert seen is not None and seen.status is None


async def test_concurrent_claims_one_winner(store: ReplayStore) -> None:
    nonce = new_nonce()
    results = await asyncio.gather(
        *(store.claim(nonce, f"req-{n}", BODY_HASH, TTL) for n in range(20))
    )
    winners = [n for n, result in enumerate(results) if result is None]
    assert len(winners) == 1
    recorded = await store.fetch(nonce)
    assert recorded is not None and recorded.request_id == f"req-{winners[0]}"
    assert all(isinstance(result, Seen) for n, result in enumerate(results) if n != winners[0])


# -- expiry ------------------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_memory_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMonotonic()
    monkeypatch.setattr(replay, "time", fake)
    store = MemoryReplayStore()
    nonce = new_nonce()
    assert await store.claim(nonce, "a", BODY_HASH, 10) is None
    fake.now += 10
    assert await store.claim(nonce, "b", BODY_HASH, 10) is not None  # still remembered at ttl
    fake.now += 0.5
    assert await store.claim(nonce, "b", BODY_HASH, 10) is None  # forgotten after it
    assert await store.claim(nonce, "c", BODY_HASH, 10) == Seen("b", BODY_HASH, None, None)


async def test_memory_sweep_drops_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeMonotonic()
    monkeypatch.setattr(replay, "time", fake)
    store = MemoryReplayStore()
    for _ in range(5):
        await store.claim(new_nonce(), "a", BODY_HASH, 10)
    fake.now += 60
    await store.claim(new_nonce(), "a", BODY_HASH, 10)
    assert len(store._items) == 1


async def test_database_expiry(database: Database, clock: Any) -> None:
    store = DatabaseReplayStore(database, clock)
    nonce = new_nonce()
    assert await store.claim(nonce, "a", BODY_HASH, 10) is None
    await store.store(nonce, 200, b"{}")
    clock.advance(10)
    assert await store.claim(nonce, "b", BODY_HASH, 10) == Seen("a", BODY_HASH, 200, b"{}")
    clock.advance(1)
    assert await store.claim(nonce, "b", BODY_HASH, 10) is None
    assert await store.fetch(nonce) == Seen("b", BODY_HASH, None, None)


async def test_redis_expiry_is_set(redis_handle: RedisHandle) -> None:
    store = RedisReplayStore(redis_handle.client, prefix=redis_handle.prefix)
    nonce = new_nonce()
    assert await store.claim(nonce, "a", BODY_HASH, 100) is None
    await store.store(nonce, 200, b"{}")
    key = redis_handle.prefix + nonce
    assert 0 < await redis_handle.client.ttl(key) <= 100
    assert 0 < await redis_handle.client.ttl(key + ":r") <= 100


async def test_database_stores_share_state(database: Database, clock: Any) -> None:
    """Two workers (two store objects on one database) see each other's nonces."""
    first, second = DatabaseReplayStore(database, clock), DatabaseReplayStore(database, clock)
    nonce = new_nonce()
    assert await first.claim(nonce, "a", BODY_HASH, TTL) is None
    assert await second.claim(nonce, "a", BODY_HASH, TTL) == Seen("a", BODY_HASH, None, None)
    await first.store(nonce, 426, ANSWER)
    assert await second.fetch(nonce) == Seen("a", BODY_HASH, 426, ANSWER)
