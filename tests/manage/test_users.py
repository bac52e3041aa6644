"""Users (B.7) through the management API: create, list with filters and cursors, info,
delete, ban/unban/pause/unpause, with their audit entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licentia.services import admin
from licentia.store.tables import users
from tests.conftest import FakeClock
from tests.manage.conftest import Manage, assert_error, changes_of


def usr(m: Manage, rest: str = "") -> str:
    return f"/apps/{m.app_id}/users{rest}"


async def test_create_a_user(m: Manage, clock: FakeClock) -> None:
    response = await m.post(
        usr(m),
        {
            "username": "Mara",
            "password": "hunter2-secret",
            "subscription": "premium",
            "email": "mara@example.com",
            "duration_days": 30,
            "device_limit": 0,
            "note": "vip",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["username"], body["subscription"], body["state"]) == ("Mara", "Premium", "active")
    assert body["expiry_date"] == (clock.now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (body["device_limit"], body["email"], body["linked_license_key"]) == (
        0,
        "mara@example.com",
        None,
    )
    assert "password" not in response.text and "hunter2" not in response.text
    async with m.rt.db.read() as conn:
        stored = (
            await conn.execute(
                select(users.c.password_hash).where(
                    users.c.app_id == m.app_id, users.c.username == "Mara"
                )
            )
        ).scalar_one()
    assert await m.rt.passwords.verify(stored, "hunter2-secret")
    [entry] = await m.audit()
    assert (entry.capability, entry.target_type, entry.target) == ("user.create", "user", "Mara")
    assert changes_of(entry)["password"] == "changed"
    assert "hunter2" not in (entry.changes or "")
    lifetime = (
        await m.post(usr(m), {"username": "x2", "password": "p", "subscription": "Premium"})
    ).json()
    assert lifetime["expiry_date"] is None and lifetime["email"] is None


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        pytest.param(
            {"username": "mara", "password": "p", "subscription": "Premium"},
            409,
            "ALREADY_EXISTS",
            None,
            id="dup",
        ),
        pytest.param(
            {"username": "a<b", "password": "p", "subscription": "Premium"},
            400,
            "INVALID_INPUT",
            ["username"],
            id="name",
        ),
        pytest.param(
            {"username": "n1", "password": "", "subscription": "Premium"},
            400,
            "INVALID_INPUT",
            ["password"],
            id="pw",
        ),
        pytest.param(
            {"username": "n1", "password": "p"},
            400,
            "MISSING_FIELDS",
            ["subscription"],
            id="missing",
        ),
        pytest.param(
            {"username": "n1", "password": "p", "subscription": "Gold"},
            404,
            "SUBSCRIPTION_NOT_FOUND",
            ["subscription"],
            id="sub",
        ),
        pytest.param(
            {"username": "n1", "password": "p", "subscription": "Premium", "email": "bad"},
            400,
            "INVALID_INPUT",
            ["email"],
            id="email",
        ),
        pytest.param(
            {"username": "n1", "password": "p", "subscription": "Premium", "device_limit": -1},
            400,
            "INVALID_INPUT",
            ["device_limit"],
            id="limit",
        ),
        pytest.param(
            {"username": "n1", "password": "p", "subscription": "Premium", "admin": True},
            400,
            "INVALID_INPUT",
            ["admin"],
            id="extra",
        ),
    ],
)
async def test_create_refusals_change_nothing(
    m: Manage, body: dict[str, Any], status: int, code: str, fields: list[str] | None
) -> None:
    await admin.create_user(m.rt, m.app_id, "Mara", "pw", "Premium")
    before = await m.snapshot()
    assert_error(await m.post(usr(m), body), status, code, fields)
    assert await m.snapshot() == before


async def test_list_filters_and_cursor_walk(m: Manage, clock: FakeClock) -> None:
    await admin.create_subscription(m.rt, m.app_id, "Basic", 1)
    names = ["alice", "Albert", "bob", "banned1", "paused1", "expired1", "basic1"]
    for name in names:
        sub = "Basic" if name == "basic1" else "Premium"
        email = "zed@example.com" if name == "bob" else ""
        await admin.create_user(m.rt, m.app_id, name, "pw", sub, email=email, days=1)
        clock.advance(1)
    await admin.ban_user(m.rt, m.app_id, "banned1")
    await admin.pause_user(m.rt, m.app_id, "paused1")
    # Expire one: move the clock past everyone's day, then give the others more time.
    clock.advance(days=2)
    for name in names:
        if name != "expired1":
            async with m.rt.db.write() as conn:
                await conn.execute(
                    users.update()
                    .where(users.c.app_id == m.app_id, users.c.username == name)
                    .values(expires_at=clock.now + timedelta(days=5))
                )

    async def found(**params: Any) -> list[str]:
        response = await m.get(usr(m), params=params)
        assert response.status_code == 200, response.text
        return sorted(u["username"] for u in response.json()["items"])

    assert await found(state="banned") == ["banned1"]
    assert await found(state="paused") == ["paused1"]
    assert await found(state="expired") == ["expired1"]
    assert await found(state="active") == sorted(["alice", "Albert", "bob", "basic1"])
    assert await found(subscription="BASIC") == ["basic1"]
    assert await found(search="al") == sorted(["alice", "Albert"])  # username, any case
    assert await found(search="ZED@") == ["bob"]  # or email prefix
    assert await found(search="%") == []

    seen: list[str] = []
    cursor = None
    while True:
        page = (
            await m.get(usr(m), params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        ).json()
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(names))
    assert_error(await m.get(usr(m), params={"state": "unused"}), 400, "INVALID_INPUT", ["state"])
    assert_error(await m.get(usr(m), params={"cursor": "e30"}), 400, "INVALID_INPUT", ["cursor"])


async def test_info_delete_and_state_changes(m: Manage) -> None:
    await admin.create_user(m.rt, m.app_id, "Mara", "pw", "Premium")
    assert (await m.get(usr(m, "/mara"))).json()["username"] == "Mara"  # case-insensitive
    assert (await m.post(usr(m, "/mara/ban"), {"reason": "abuse"})).json()["state"] == "banned"
    assert (await m.post(usr(m, "/mara/ban"))).json()["ban_reason"] == "abuse"  # idempotent
    assert (await m.post(usr(m, "/mara/unban"))).json()["state"] == "active"
    assert (await m.post(usr(m, "/mara/pause"))).json()["state"] == "paused"
    assert (await m.post(usr(m, "/mara/unpause"))).json()["state"] == "active"
    assert (await m.call("DELETE", usr(m, "/MARA"))).status_code == 204
    assert_error(await m.get(usr(m, "/mara")), 404, "USER_NOT_FOUND", ["username"])
    assert_error(await m.post(usr(m, "/mara/ban")), 404, "USER_NOT_FOUND")
    entries = await m.audit()
    assert [(e.capability, e.target, e.result) for e in entries] == [
        ("user.ban", "Mara", "ok"),
        ("user.unban", "Mara", "ok"),
        ("user.pause", "Mara", "ok"),
        ("user.unpause", "Mara", "ok"),
        ("user.delete", "Mara", "ok"),
        ("user.ban", "mara", "USER_NOT_FOUND"),
    ]
    assert all(e.face == "rest" and e.actor == m.last_token_id for e in entries)
