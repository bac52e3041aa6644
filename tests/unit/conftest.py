"""Fixtures of the unit suite: a real Redis connection with a key prefix of its own per test.

Redis tests are skipped (with the reason) when no server answers at `LICENTIA_TEST_REDIS_URL`
(default `redis://127.0.0.1:6379/0`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

REDIS_URL = os.environ.get("LICENTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class RedisHandle:
    client: Any
    prefix: str


@asynccontextmanager
async def open_redis() -> AsyncIterator[RedisHandle]:
    """A connected client and a fresh key prefix; every key under it is deleted afterwards."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    prefix = f"licentia-unit:{secrets.token_hex(6)}:"
    try:
        yield RedisHandle(client, prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_handle() -> AsyncIterator[RedisHandle]:
    async with open_redis() as handle:
        yield handle
