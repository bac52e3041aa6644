"""The identity and SID buckets per client address (issue #14): guessing a user's password
from one address must not lock the user out from every other address; over all addresses a
much higher ceiling still caps an identity. The protocol's answer stays 429 `RATE_LIMITED`
with `Retry-After` (0.15). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, Caller, expect_error, expect_ok


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_identity": "2/60", "rate_identity_ceiling": "5/60"}


class Address:
    """The client API from one more client address."""

    def __init__(self, api: Api, ip: str) -> None:
        transport = httpx.ASGITransport(app=api.world.app, client=(ip, 5000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.caller = Caller(self.http, api.world.pem)
        self.api = api

    async def login(self, username: str, password: str, sid: str) -> httpx.Response:
        init = await self.caller.post("init", {**self.api.creds(), "version": "1.0.0"})
        assert init.status_code == 200, init.text
        body = {"session_id": init.json()["session_id"], "username": username}
        return await self.caller.post("login", {**body, "password": password, "sid": sid})


@pytest.fixture
async def addresses(api: Api) -> AsyncIterator[list[Address]]:
    found = [Address(api, f"198.51.100.{n}") for n in range(10, 16)]
    yield found
    for address in found:
        await address.http.aclose()


def assert_limited(response: httpx.Response) -> None:
    body = expect_error(response, "RATE_LIMITED")
    assert 1 <= body["retry_after"] <= 60
    assert response.headers["retry-after"] == str(body["retry_after"])


async def test_guessing_from_one_address_does_not_lock_out_another(
    api: Api, addresses: list[Address]
) -> None:
    await api.user("mara", "pw-mara")
    attacker, owner = addresses[0], addresses[1]
    for _ in range(2):
        expect_error(await attacker.login("mara", "wrong", "SID-X"), "INVALID_PASSWORD")
    for _ in range(3):  # refused at the attacker's address: no ceiling token is taken
        assert_limited(await attacker.login("mara", "pw-mara", "SID-X"))
    # Before issue #14 the real user was locked out here too (one bucket per app+username).
    expect_ok(await owner.login("mara", "pw-mara", "SID-A"), "login")


async def test_the_ceiling_caps_an_identity_over_all_addresses(
    api: Api, addresses: list[Address]
) -> None:
    await api.user("mara", "pw-mara")
    for n, address in enumerate(addresses[:5]):
        expect_error(await address.login("mara", "wrong", f"SID-{n}"), "INVALID_PASSWORD")
    assert_limited(await addresses[5].login("mara", "pw-mara", "SID-5"))
    # Another name is not affected.
    await api.user("nina", "pw-nina")
    expect_ok(await addresses[5].login("nina", "pw-nina", "SID-N"), "login")


async def test_the_sid_bucket_is_per_address_too(api: Api, addresses: list[Address]) -> None:
    for name in ("u1", "u2"):
        expect_error(await addresses[0].login(name, "x", "SHARED-SID"), "USER_NOT_FOUND")
    assert_limited(await addresses[0].login("u3", "x", "SHARED-SID"))
    expect_error(await addresses[1].login("u4", "x", "SHARED-SID"), "USER_NOT_FOUND")


async def test_simultaneous_logins_are_counted_before_the_password_is_checked(
    api: Api, addresses: list[Address]
) -> None:
    await api.user("mara", "pw-mara")
    address = addresses[0]
    sessions = []
    for _ in range(12):
        init = await address.caller.post("init", {**api.creds(), "version": "1.0.0"})
        sessions.append(init.json()["session_id"])

    async def one(session: str, n: int) -> str:
        body = {"session_id": session, "username": "mara", "password": f"wrong-{n}", "sid": "S"}
        return str((await address.caller.post("login", body)).json()["code"])

    codes = await asyncio.gather(*(one(s, n) for n, s in enumerate(sessions)))
    assert sorted(codes) == ["INVALID_PASSWORD"] * 2 + ["RATE_LIMITED"] * 10
