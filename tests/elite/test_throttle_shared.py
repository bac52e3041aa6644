"""A.4 step 1 across workers (issue #14): two app instances on one database (and, when the
PostgreSQL pass gives a Redis, through Redis) share one failed-key count per address, so the
first 429 comes after 10 wrong keys whichever worker answers, not after 10 per worker."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from licentia.api.app import LicentiaApp, create_app
from licentia.api.elite import router
from licentia.config import Settings
from licentia.services import admin_apps, credentials, elite_throttle
from licentia.services.runtime import Runtime
from tests.conftest import FakeClock, make_settings

REDIS_URL = os.environ.get("LICENTIA_TEST_REDIS_URL", "")


@pytest.fixture(params=["database", "redis"])
async def workers(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[list[LicentiaApp]]:
    overrides: dict[str, str] = {}
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("LICENTIA_TEST_REDIS_URL is not set")
        overrides = {"redis_url": REDIS_URL, "redis_prefix": f"lt{secrets.token_hex(4)}:"}
    settings: Settings = make_settings(database_url, tmp_path / "data", **overrides)
    apps = [create_app(settings, Runtime.build(settings, clock=clock)) for _ in range(2)]
    for app in apps:
        await app.startup()
    yield apps
    for app in apps:
        await app.shutdown()


def _client(app: LicentiaApp, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_two_workers_share_the_failed_key_count(
    workers: list[LicentiaApp], clock: FakeClock
) -> None:
    ip = f"100.64.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    clients = [_client(app, ip) for app in workers]
    try:
        statuses = []
        for n in range(elite_throttle.LIMIT + 1):
            response = await clients[n % 2].get(
                "/api/elite-key/ping", headers={"x-elite-key": f"ek_wrong_{n}"}
            )
            statuses.append(response.status_code)
        assert statuses == [401] * elite_throttle.LIMIT + [429]
        refused = await clients[0].get("/api/elite-key/ping", headers={"x-elite-key": "ek_x"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["code"] == "RATE_LIMITED"
        # Another address is not affected; for this one the window slides on.
        other = _client(workers[1], f"100.65.{secrets.randbelow(250)}.{secrets.randbelow(250)}")
        clients.append(other)
        elsewhere = await other.get("/api/elite-key/ping", headers={"x-elite-key": "ek_z"})
        assert elsewhere.status_code == 401
        clock.advance(seconds=61)
        again = await clients[1].get("/api/elite-key/ping", headers={"x-elite-key": "ek_y"})
        assert again.status_code == 401
    finally:
        for client in clients:
            await client.aclose()


async def test_a_flood_of_wrong_keys_is_counted_before_any_lookup(
    workers: list[LicentiaApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simultaneous wrong keys from one address (issue #14 leftover): the attempt is counted
    before the key is looked at, so only `LIMIT` of them reach a key lookup; before, every
    request passed the check before any failure was counted and got its lookup."""
    lookups: list[str] = []
    real = router.authenticate_elite_key

    async def counting(rt: Runtime, plaintext: str, *, ip: str = "") -> Any:
        lookups.append(plaintext)
        return await real(rt, plaintext, ip=ip)

    monkeypatch.setattr(router, "authenticate_elite_key", counting)
    ip = f"100.66.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    clients = [_client(app, ip) for app in workers]
    flood = 2 * elite_throttle.LIMIT
    try:
        responses = await asyncio.gather(
            *(
                clients[n % 2].get(
                    "/api/elite-key/ping",
                    headers={"x-elite-key": "ek_" + secrets.token_urlsafe(32)[:43]},
                )
                for n in range(flood)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * elite_throttle.LIMIT + [429] * (flood - elite_throttle.LIMIT)
    assert len(lookups) == elite_throttle.LIMIT


async def test_the_owners_right_key_is_not_counted(
    workers: list[LicentiaApp], clock: FakeClock
) -> None:
    """A right key gives its reserved attempt back; a flooded address does not lock the key."""
    rt = workers[0].runtime
    owner = await admin_apps.create_owner(rt, f"ek{secrets.token_hex(4)}", "owner-password")
    key = await credentials.rotate_elite_key(rt, owner.owner_id)
    ip = f"100.67.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    client = _client(workers[0], ip)
    other = _client(workers[1], f"100.68.{secrets.randbelow(250)}.{secrets.randbelow(250)}")
    try:
        for _ in range(elite_throttle.LIMIT + 2):
            ok = await client.get("/api/elite-key/ping", headers={"x-elite-key": key})
            assert ok.status_code == 200, ok.text
        for n in range(elite_throttle.LIMIT):
            wrong = await client.get("/api/elite-key/ping", headers={"x-elite-key": f"ek_w{n}"})
            assert wrong.status_code == 401
        refused = await client.get("/api/elite-key/ping", headers={"x-elite-key": key})
        assert refused.status_code == 429
        elsewhere = await other.get("/api/elite-key/ping", headers={"x-elite-key": key})
        assert elsewhere.status_code == 200
        clock.advance(seconds=61)
        again = await client.get("/api/elite-key/ping", headers={"x-elite-key": key})
        assert again.status_code == 200
    finally:
        await client.aclose()
        await other.aclose()
