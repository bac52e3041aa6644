"""Replay rules (0.7): timestamp window, nonce memory, stored responses for SDK retries.

The nonce tests run on every replay backend the server offers (process memory, the database,
and Redis when `LICENTIA_TEST_REDIS_URL` names one).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from sqlalchemy import func, select

from licentia.services import admin_licenses
from licentia.store.tables import sessions
from tests.api.conftest import Api, expect_error, expect_ok, new_nonce

REDIS_URL = os.environ.get("LICENTIA_TEST_REDIS_URL", "")
BACKENDS = [
    pytest.param({"replay_backend": "memory"}, id="memory"),
    pytest.param({"replay_backend": "database"}, id="database"),
    pytest.param(
        {"replay_backend": "redis", "redis_url": REDIS_URL},
        id="redis",
        marks=pytest.mark.skipif(not REDIS_URL, reason="LICENTIA_TEST_REDIS_URL not set"),
    ),
]


@pytest.fixture(params=BACKENDS)
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.param)


def now_ms(api: Api) -> int:
    return int(api.clock.now.timestamp() * 1000)


def init_body(api: Api, **extra: Any) -> dict[str, Any]:
    return {**api.creds(), "version": "1.0.0", **extra}


async def session_count(api: Api) -> int:
    async with api.rt.db.read() as conn:
        query = select(func.count()).select_from(sessions).where(sessions.c.app_id == api.app_id)
        return int((await conn.execute(query)).scalar_one())


# -- timestamp window --------------------------------------------------------------------


class TestTimestamp:
    """The window does not depend on the replay backend: one backend is enough."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"replay_backend": "memory"}

    @pytest.mark.parametrize(
        "offset_s", [-301, 301, -3600, 86400], ids=["past", "future", "hour-old", "day-ahead"]
    )
    async def test_timestamp_outside_the_window(self, api: Api, offset_s: int) -> None:
        body = init_body(
            api, timestamp=now_ms(api) + offset_s * 1000, request_id="rid-t", nonce=new_nonce()
        )
        expect_error(await api.post("init", body), "REQUEST_EXPIRED")

    @pytest.mark.parametrize(
        "offset_ms", [-300_000, 300_000, 0], ids=["window-past-edge", "window-future-edge", "now"]
    )
    async def test_timestamp_inside_the_window(self, api: Api, offset_ms: int) -> None:
        body = init_body(api, timestamp=now_ms(api) + offset_ms)
        expect_ok(await api.post("init", body), "init")

    async def test_timestamp_follows_the_server_clock(self, api: Api) -> None:
        stamp = now_ms(api)
        api.clock.advance(301)
        expect_error(await api.post("init", init_body(api, timestamp=stamp)), "REQUEST_EXPIRED")

    async def test_header_timestamp_is_checked(self, api: Api) -> None:
        headers = {"x-v2-timestamp": str(now_ms(api) - 400_000), "x-v2-nonce": new_nonce()}
        expect_error(await api.post("init", init_body(api), headers=headers), "REQUEST_EXPIRED")

    async def test_no_timestamp_no_check(self, api: Api) -> None:
        api.clock.advance(10**7)
        expect_ok(await api.post("init", init_body(api, nonce=new_nonce())), "init")

    async def test_expired_request_does_not_burn_its_nonce(self, api: Api) -> None:
        # Step 6 comes before step 7: an expired request never records its nonce.
        nonce = new_nonce()
        body = init_body(api)
        stale = {"x-v2-nonce": nonce, "x-v2-timestamp": str(now_ms(api) - 400_000)}
        expect_error(await api.post("init", body, headers=stale), "REQUEST_EXPIRED")
        fresh = {"x-v2-nonce": nonce, "x-v2-timestamp": str(now_ms(api))}
        expect_ok(await api.post("init", body, headers=fresh), "init")


class TestCustomWindow:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"replay_window": 60}

    async def test_window_is_the_setting(self, api: Api) -> None:
        expect_ok(await api.post("init", init_body(api, timestamp=now_ms(api) - 60_000)), "init")
        r = await api.post("init", init_body(api, timestamp=now_ms(api) - 61_000))
        expect_error(r, "REQUEST_EXPIRED")


# -- nonces ------------------------------------------------------------------------------


async def test_identical_retry_gets_the_stored_response(api: Api) -> None:
    body = init_body(api, request_id="rid-retry", nonce=new_nonce())
    first = await api.post("init", body)
    expect_ok(first, "init")
    await asyncio.sleep(0.005)  # so that a fresh signature has a new timestamp
    second = await api.post("init", body)
    assert second.status_code == first.status_code == 200
    assert second.content == first.content  # same session id: no second session
    assert second.headers["x-v2-signature-ts"] != first.headers["x-v2-signature-ts"]
    assert second.headers["x-v2-signature"] != first.headers["x-v2-signature"]
    assert second.headers["x-v2-request-id"] == "rid-retry"
    assert second.headers["x-v2-nonce"] == body["nonce"]
    assert await session_count(api) == 1


async def test_retry_with_metadata_in_headers_only(api: Api) -> None:
    # The C++ SDK: request id and nonce only in headers.
    headers = {
        "x-v2-request-id": "rid-h",
        "x-v2-nonce": new_nonce(),
        "x-v2-timestamp": str(now_ms(api)),
    }
    first = await api.post("init", init_body(api), headers=headers)
    second = await api.post("init", init_body(api), headers=headers)
    expect_ok(first, "init")
    assert second.content == first.content
    assert await session_count(api) == 1


async def test_retry_without_request_id_counts_as_same(api: Api) -> None:
    body = init_body(api, nonce=new_nonce())
    first = await api.post("init", body)
    second = await api.post("init", body)
    assert (second.status_code, second.content) == (first.status_code, first.content)


async def test_requests_without_nonce_are_never_replay_checked(api: Api) -> None:
    body = init_body(api, request_id="same-rid")
    first = expect_ok(await api.post("init", body), "init")
    second = expect_ok(await api.post("init", body), "init")
    assert first["session_id"] != second["session_id"]


async def test_same_nonce_different_body(api: Api) -> None:
    nonce = new_nonce()
    expect_ok(await api.post("init", init_body(api, nonce=nonce, request_id="r1")), "init")
    r = await api.post("init", init_body(api, nonce=nonce, request_id="r1", ip="198.51.100.1"))
    expect_error(r, "REPLAY_DETECTED")


async def test_same_body_bytes_differently_serialized_is_a_different_body(api: Api) -> None:
    nonce = new_nonce()
    body = init_body(api, nonce=nonce)
    expect_ok(await api.post("init", body), "init")
    spaced = json.dumps(body, indent=2).encode()
    expect_error(await api.post("init", body, content=spaced), "REPLAY_DETECTED")


@pytest.mark.parametrize(
    ("first_rid", "second_rid"),
    [("rid-a", "rid-b"), ("rid-a", None), (None, "rid-b")],
    ids=["changed", "dropped", "added"],
)
async def test_same_nonce_different_request_id(
    api: Api, first_rid: str | None, second_rid: str | None
) -> None:
    nonce = new_nonce()
    body = init_body(api)
    h1 = {"x-v2-nonce": nonce} | ({"x-v2-request-id": first_rid} if first_rid else {})
    h2 = {"x-v2-nonce": nonce} | ({"x-v2-request-id": second_rid} if second_rid else {})
    expect_ok(await api.post("init", body, headers=h1), "init")
    expect_error(await api.post("init", body, headers=h2), "REPLAY_DETECTED")


async def test_nonce_is_checked_before_fields(api: Api) -> None:
    nonce = new_nonce()
    expect_error(await api.post("login", {"nonce": nonce}), "MISSING_FIELDS")
    expect_error(await api.post("login", {"nonce": nonce, "username": "x"}), "REPLAY_DETECTED")


async def test_errors_are_stored_too(api: Api) -> None:
    session = await api.init()
    body = {"session_id": session, "license_key": "LATER-KEY-1", "sid": "S1", "nonce": new_nonce()}
    first = await api.post("licenses", body)
    expect_error(first, "LICENSE_NOT_FOUND")
    await admin_licenses.add_license(api.rt, api.app_id, "LATER-KEY-1", "Premium", days=3)
    second = await api.post("licenses", body)
    assert (second.status_code, second.content) == (first.status_code, first.content)
    body["nonce"] = new_nonce()
    expect_ok(await api.post("licenses", body), "licenses")


async def test_stored_rate_limited_answer_keeps_retry_after(api: Api) -> None:
    await api.channel("general", send_delay=30)
    session, _, _ = await api.register()
    send = {"session_id": session, "channel_name": "general", "message": "one"}
    expect_ok(await api.post("chats/send", send), "chats/send")
    api.clock.advance(10)
    body = {**send, "message": "two", "nonce": new_nonce()}
    first = await api.post("chats/send", body)
    assert expect_error(first, "RATE_LIMITED")["retry_after"] == 20
    api.clock.advance(25)
    second = await api.post("chats/send", body)  # the retry gets the stored answer
    assert (second.status_code, second.content) == (429, first.content)
    assert second.headers["retry-after"] == "20"


async def test_concurrent_identical_requests_get_one_answer(api: Api) -> None:
    body = init_body(api, request_id="rid-c", nonce=new_nonce())
    first, second = await asyncio.gather(api.post("init", body), api.post("init", body))
    assert (first.status_code, first.content) == (second.status_code, second.content)
    expect_ok(first, "init")
    assert await session_count(api) == 1


class TestNonceMemory:
    """Nonces are remembered for 2 x replay_window (the database backend follows the clock)."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"replay_backend": "database", "replay_window": 300}

    async def test_nonce_remembered_for_twice_the_window(self, api: Api) -> None:
        nonce = new_nonce()
        expect_ok(await api.post("init", init_body(api, nonce=nonce)), "init")
        api.clock.advance(599)
        expect_error(await api.post("init", init_body(api, nonce=nonce, ip="x")), "REPLAY_DETECTED")

    async def test_nonce_forgotten_after_twice_the_window(self, api: Api) -> None:
        nonce = new_nonce()
        expect_ok(await api.post("init", init_body(api, nonce=nonce)), "init")
        api.clock.advance(601)
        expect_ok(await api.post("init", init_body(api, nonce=nonce, ip="x")), "init")
