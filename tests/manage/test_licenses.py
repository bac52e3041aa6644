"""Licenses (B.6) through the management API: add, generate, list with filters and cursors,
info, delete, ban/unban/pause/unpause, with their audit entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, update

from licentia.services import admin
from licentia.store.tables import licenses
from tests.conftest import FakeClock
from tests.manage.conftest import Manage, assert_error, changes_of


def lic(m: Manage, rest: str = "") -> str:
    return f"/apps/{m.app_id}/licenses{rest}"


async def set_row(m: Manage, key: str, **values: Any) -> None:
    async with m.rt.db.write() as conn:
        await conn.execute(
            update(licenses)
            .where(and_(licenses.c.app_id == m.app_id, licenses.c.key == key))
            .values(**values)
        )


async def test_add_a_key_with_each_kind_of_term(m: Manage, clock: FakeClock) -> None:
    lifetime = await m.post(lic(m), {"key": "LIFE-1", "subscription": "premium", "note": "n"})
    assert lifetime.status_code == 201, lifetime.text
    body = lifetime.json()
    assert (body["key"], body["subscription"], body["state"]) == ("LIFE-1", "Premium", "unused")
    assert (body["expiry_date"], body["duration_days"], body["device_limit"]) == (None, 0, 1)
    assert body["created_by"] == f"token:{m.last_token_id}"

    days = (
        await m.post(lic(m), {"key": "DAYS-1", "subscription": "Premium", "duration_days": 30})
    ).json()
    assert days["duration_days"] == 30
    assert days["expiry_date"] == (clock.now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")

    fixed = await m.post(
        lic(m),
        {"key": "FIX-1", "subscription": "Premium", "expiry_date": "2031-01-02T03:04:05.678+02:00"},
    )
    assert fixed.json()["expiry_date"] == "2031-01-02T01:04:05Z"
    assert fixed.json()["duration_days"] is None

    entries = await m.audit()
    assert [(e.capability, e.target) for e in entries] == [
        ("license.add", "LIFE-1"),
        ("license.add", "DAYS-1"),
        ("license.add", "FIX-1"),
    ]
    assert changes_of(entries[1])["duration_days"] == [None, 30]


@pytest.mark.parametrize(
    ("body", "status", "code", "fields"),
    [
        pytest.param(
            {"key": "A B", "subscription": "Premium"}, 400, "INVALID_INPUT", ["key"], id="key"
        ),
        pytest.param(
            {"key": "K" * 65, "subscription": "Premium"}, 400, "INVALID_INPUT", ["key"], id="long"
        ),
        pytest.param({"subscription": "Premium"}, 400, "MISSING_FIELDS", ["key"], id="missing"),
        pytest.param(
            {"key": "K-2", "subscription": "Nope"},
            404,
            "SUBSCRIPTION_NOT_FOUND",
            ["subscription"],
            id="sub",
        ),
        pytest.param(
            {
                "key": "K-2",
                "subscription": "Premium",
                "duration_days": 3,
                "expiry_date": "2031-01-01T00:00:00Z",
            },
            400,
            "INVALID_INPUT",
            ["duration_days", "expiry_date"],
            id="both-terms",
        ),
        pytest.param(
            {"key": "K-2", "subscription": "Premium", "duration_days": -1},
            400,
            "INVALID_INPUT",
            ["duration_days"],
            id="days",
        ),
        pytest.param(
            {"key": "K-2", "subscription": "Premium", "device_limit": "x"},
            400,
            "INVALID_INPUT",
            ["device_limit"],
            id="limit",
        ),
        pytest.param(
            {"key": "K-2", "subscription": "Premium", "expiry_date": "soon"},
            400,
            "INVALID_INPUT",
            ["expiry_date"],
            id="date",
        ),
        pytest.param(
            {"key": "K-2", "subscription": "Premium", "email": "no-at"},
            400,
            "INVALID_INPUT",
            ["email"],
            id="email",
        ),
        pytest.param(
            {"key": "K-2", "subscription": "Premium", "note": "x" * 501},
            400,
            "INVALID_INPUT",
            ["note"],
            id="note",
        ),
        pytest.param(
            {"key": "KEY-1", "subscription": "Premium"}, 409, "ALREADY_EXISTS", None, id="duplicate"
        ),
    ],
)
async def test_add_refusals_change_nothing(
    m: Manage, body: dict[str, Any], status: int, code: str, fields: list[str] | None
) -> None:
    await admin.add_license(m.rt, m.app_id, "KEY-1", "Premium")
    before = await m.snapshot()
    assert_error(await m.post(lic(m), body), status, code, fields)
    assert await m.snapshot() == before
    assert [e.result for e in await m.audit()] == [code]


async def test_generate_a_masked_batch(m: Manage) -> None:
    response = await m.post(
        lic(m, "/generate"),
        {
            "subscription": "Premium",
            "amount": 5,
            "mask": "GIFT-XXXXXXXX",
            "use_capital": False,
            "note": "Giveaway",
            "duration_days": 7,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["count"] == 5 and len(set(body["keys"])) == 5
    assert all(k.startswith("GIFT-") and k[5:].isdigit() and len(k) == 13 for k in body["keys"])
    page = (await m.get(lic(m), params={"batch": body["batch_id"]})).json()
    assert sorted(i["key"] for i in page["items"]) == sorted(body["keys"])
    assert {i["note"] for i in page["items"]} == {"Giveaway"}
    [entry] = await m.audit()
    assert (entry.capability, entry.target_type, entry.target) == (
        "license.generate",
        "license-batch",
        body["batch_id"],
    )
    assert changes_of(entry)["count"] == [None, 5]
    assert not any(k in (entry.changes or "") for k in body["keys"])


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        pytest.param(
            {"subscription": "Premium", "amount": 0}, "INVALID_INPUT", ["amount"], id="zero"
        ),
        pytest.param(
            {"subscription": "Premium", "amount": 100_001}, "INVALID_INPUT", ["amount"], id="big"
        ),
        pytest.param(
            {"subscription": "Premium", "mask": "XXXX"}, "INVALID_INPUT", ["mask"], id="mask"
        ),
        pytest.param(
            {"subscription": "Premium", "mask": "XXXXXXXX!"},
            "INVALID_INPUT",
            ["mask"],
            id="literal",
        ),
        pytest.param(
            {"subscription": "Premium", "use_capital": False, "use_numbers": False},
            "INVALID_INPUT",
            ["use_capital", "use_lowercase", "use_numbers"],
            id="charset",
        ),
        pytest.param(
            {"subscription": "Premium", "idempotency_key": "k" * 129},
            "INVALID_INPUT",
            ["idempotency_key"],
            id="idem",
        ),
        pytest.param({"amount": 2}, "MISSING_FIELDS", ["subscription"], id="missing"),
        pytest.param(
            {"subscription": "Gold"}, "SUBSCRIPTION_NOT_FOUND", ["subscription"], id="sub"
        ),
    ],
)
async def test_generate_refusals_create_nothing(
    m: Manage, body: dict[str, Any], code: str, fields: list[str]
) -> None:
    before = await m.snapshot()
    response = await m.post(lic(m, "/generate"), body)
    assert_error(response, 404 if code.endswith("_NOT_FOUND") else 400, code, fields)
    assert await m.snapshot() == before


async def test_cursor_walk_visits_every_key_once(m: Manage, clock: FakeClock) -> None:
    made: list[str] = []
    for i in range(4):  # two timestamps, several keys per timestamp
        made += await admin.generate_licenses(m.rt, m.app_id, "Premium", lifetime=True, count=2)
        if i % 2:
            clock.advance(5)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await m.get(lic(m), params=params)).json()
        seen += [i["key"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(made) and len(seen) == 8
    first = (await m.get(lic(m), params={"limit": 8})).json()
    assert [i["key"] for i in first["items"]] == seen and first["next_cursor"] is None
    created = [i["created_at"] for i in first["items"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"cursor": "garbage!"}, id="cursor"),
        pytest.param(
            {"cursor": "WyJ1c2VyIiwiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsIngiXQ"}, id="user-cursor"
        ),
        pytest.param({"limit": 0}, id="limit0"),
        pytest.param({"limit": 501}, id="limit-big"),
        pytest.param({"limit": "ten"}, id="limit-text"),
        pytest.param({"state": "lost"}, id="state"),
    ],
)
async def test_list_parameter_errors(m: Manage, params: dict[str, Any]) -> None:
    body = assert_error(await m.get(lic(m), params=params), 400, "INVALID_INPUT")
    assert body["fields"] == [next(iter(params))]


async def test_list_filters(m: Manage, clock: FakeClock) -> None:
    await admin.create_subscription(m.rt, m.app_id, "Basic", 1)
    for key in ("UNUSED-1", "ACTIVE-1", "USED-1", "BANNED-1", "PAUSED-1", "EXPIRED-1", "OLDFIX-1"):
        await admin.add_license(m.rt, m.app_id, key, "Premium", note="batch-a")
    await admin.add_license(m.rt, m.app_id, "basic-1", "Basic", note="batch-b")
    past = clock.now - timedelta(days=1)
    future = clock.now + timedelta(days=1)
    await set_row(m, "ACTIVE-1", status="active", expires_at=future)
    await set_row(m, "USED-1", status="used", used_by_username="mara")
    await admin.ban_license(m.rt, m.app_id, "BANNED-1")
    await admin.pause_license(m.rt, m.app_id, "PAUSED-1")
    await set_row(m, "EXPIRED-1", status="active", expires_at=past)
    await set_row(m, "OLDFIX-1", duration_days=None, fixed_expiry=past)

    async def keys(**params: Any) -> list[str]:
        response = await m.get(lic(m), params=params)
        assert response.status_code == 200, response.text
        return sorted(i["key"] for i in response.json()["items"])

    assert await keys(state="unused") == ["UNUSED-1", "basic-1"]
    assert await keys(state="active") == ["ACTIVE-1"]
    assert await keys(state="used") == ["USED-1"]
    assert await keys(state="banned") == ["BANNED-1"]
    assert await keys(state="paused") == ["PAUSED-1"]
    assert await keys(state="expired") == ["EXPIRED-1", "OLDFIX-1"]
    assert await keys(subscription="basic") == ["basic-1"]
    assert await keys(subscription="Gold") == []
    assert await keys(note="batch-b") == ["basic-1"]
    assert len(await keys(note="batch-a")) == 7
    assert await keys(search="B") == ["BANNED-1"]  # prefix, case-sensitive
    assert await keys(search="b") == ["basic-1"]
    assert await keys(search="%") == []
    assert await keys(state="unused", subscription="Premium", search="UN") == ["UNUSED-1"]
    info = (await m.get(lic(m, "/USED-1"))).json()
    assert (info["state"], info["used_by"]) == ("used", "mara")
    assert (await m.get(lic(m, "/OLDFIX-1"))).json()["expired"] is True


async def test_info_and_delete(m: Manage) -> None:
    await admin.add_license(m.rt, m.app_id, "KEY-1", "Premium")
    assert (await m.get(lic(m, "/KEY-1"))).json()["key"] == "KEY-1"
    assert_error(await m.get(lic(m, "/key-1")), 404, "LICENSE_NOT_FOUND", ["key"])
    deleted = await m.call("DELETE", lic(m, "/KEY-1"))
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await m.get(lic(m, "/KEY-1")), 404, "LICENSE_NOT_FOUND")
    assert_error(await m.call("DELETE", lic(m, "/KEY-1")), 404, "LICENSE_NOT_FOUND")
    entries = await m.audit()
    assert [(e.capability, e.target, e.result) for e in entries] == [
        ("license.delete", "KEY-1", "ok"),
        ("license.delete", "KEY-1", "LICENSE_NOT_FOUND"),
    ]


async def test_ban_pause_and_their_reversals(m: Manage, clock: FakeClock) -> None:
    await admin.add_license(m.rt, m.app_id, "KEY-1", "Premium")
    await set_row(m, "KEY-1", status="active", expires_at=clock.now + timedelta(days=10))
    banned = await m.post(lic(m, "/KEY-1/ban"), {"reason": "chargeback"})
    assert banned.status_code == 200, banned.text
    assert (banned.json()["state"], banned.json()["ban_reason"]) == ("banned", "chargeback")
    again = await m.post(lic(m, "/KEY-1/ban"))  # idempotent: no change, no entry
    assert again.json()["banned"] is True
    assert (await m.post(lic(m, "/KEY-1/unban"))).json()["state"] == "active"
    assert (await m.post(lic(m, "/KEY-1/pause"))).json()["state"] == "paused"
    clock.advance(days=2)
    unpaused = (await m.post(lic(m, "/KEY-1/unpause"))).json()
    assert unpaused["state"] == "active"
    assert unpaused["expiry_date"] == (clock.now + timedelta(days=10)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert_error(
        await m.post(lic(m, "/KEY-1/ban"), {"reason": "x" * 501}), 400, "INVALID_INPUT", ["reason"]
    )
    assert_error(await m.post(lic(m, "/KEY-1/ban"), {"why": "x"}), 400, "INVALID_INPUT", ["why"])
    entries = [e for e in await m.audit() if e.result == "ok"]
    assert [e.capability for e in entries] == [
        "license.ban",
        "license.unban",
        "license.pause",
        "license.unpause",
    ]
    assert changes_of(entries[0])["banned"] == [False, True]
    assert "expiry_date" in changes_of(entries[3])
    assert all(e.target_type == "license" and e.target == "KEY-1" for e in entries)
