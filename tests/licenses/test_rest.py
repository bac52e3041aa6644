"""Subscriptions (B.5) and licenses (B.6) through the management REST API: edit, delete (one
and bulk), extend/shorten, reset HWID, end sessions, idempotent generation, export, import,
audit entries and isolation (foreign owner 404, missing scope 403)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licentia.services import admin, admin_licenses
from licentia.store.tables import licenses, sessions
from tests.conftest import FakeClock
from tests.licenses.conftest import (
    add_binding,
    add_session,
    count_rows,
    license_row,
    set_row,
)
from tests.manage.conftest import Manage, assert_error, changes_of


async def ok_entries(m: Manage) -> list[Any]:
    """The owner's REST audit entries of successful calls (refused calls are logged too)."""
    return [e for e in await m.audit() if e.result == "ok"]


def lic(m: Manage, rest: str = "") -> str:
    return f"/apps/{m.app_id}/licenses{rest}"


def sub(m: Manage, rest: str = "") -> str:
    return f"/apps/{m.app_id}/subscriptions{rest}"


async def test_subscription_edit_and_delete(m: Manage) -> None:
    created = await m.post(sub(m), {"name": "Gold", "level": 3})
    assert created.status_code == 201, created.text
    edited = await m.call("PATCH", sub(m, "/gold"), json_body={"new_name": "Platinum", "level": 5})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["level"]) == ("Platinum", 5)
    assert_error(
        await m.call("PATCH", sub(m, "/Platinum"), json_body={"new_name": "premium"}),
        409,
        "ALREADY_EXISTS",
    )
    assert_error(await m.call("PATCH", sub(m, "/Platinum"), json_body={}), 400, "MISSING_FIELDS")
    assert_error(
        await m.call("PATCH", sub(m, "/Nope"), json_body={"level": 1}),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )

    await admin.add_license(m.rt, m.app_id, "SUB-KEY", "Platinum")
    before = await m.snapshot()
    assert_error(await m.call("DELETE", sub(m, "/Platinum")), 409, "IN_USE")
    assert_error(
        await m.call("DELETE", sub(m, "/Platinum"), params={"reassign_to": "Nope"}),
        404,
        "SUBSCRIPTION_NOT_FOUND",
        ["reassign_to"],
    )
    assert_error(
        await m.call("DELETE", sub(m, "/Platinum"), params={"reassign_to": "platinum"}),
        400,
        "INVALID_INPUT",
        ["reassign_to"],
    )
    assert await m.snapshot() == before  # refused calls change nothing
    gone = await m.call("DELETE", sub(m, "/Platinum"), params={"reassign_to": "Premium"})
    assert gone.status_code == 204, gone.text
    assert (await m.get(lic(m, "/SUB-KEY"))).json()["subscription"] == "Premium"
    names = [s["name"] for s in (await m.get(sub(m))).json()["items"]]
    assert names == ["Premium"]

    entries = [e for e in await ok_entries(m) if e.capability.startswith("subscription.")]
    assert [(e.capability, e.target) for e in entries] == [
        ("subscription.create", "Gold"),
        ("subscription.edit", "Gold"),
        ("subscription.delete", "Platinum"),
    ]
    assert changes_of(entries[1]) == {"name": ["Gold", "Platinum"], "level": [3, 5]}
    assert changes_of(entries[2])["reassigned_to"] == [None, "Premium"]


async def test_license_edit(m: Manage) -> None:
    await admin.add_license(m.rt, m.app_id, "ED-1", "Premium", days=10)
    await admin_apps_sub(m, "Basic")
    response = await m.call(
        "PATCH",
        lic(m, "/ED-1"),
        json_body={"note": "vip", "device_limit": 3, "email": "a@b.io", "subscription": "basic"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["note"], body["device_limit"], body["email"], body["subscription"]) == (
        "vip",
        3,
        "a@b.io",
        "Basic",
    )
    term = await m.call("PATCH", lic(m, "/ED-1"), json_body={"duration_days": None})
    assert (term.json()["duration_days"], term.json()["expiry_date"]) == (0, None)  # lifetime
    fixed = await m.call(
        "PATCH", lic(m, "/ED-1"), json_body={"expiry_date": "2031-05-06T07:08:09Z"}
    )
    assert fixed.json()["expiry_date"] == "2031-05-06T07:08:09Z"
    await set_row(m.rt, m.app_id, "ED-1", status="active")
    assert_error(
        await m.call("PATCH", lic(m, "/ED-1"), json_body={"duration_days": 5}),
        400,
        "INVALID_INPUT",
        ["expiry_date"],
    )
    assert_error(await m.call("PATCH", lic(m, "/ED-1"), json_body={}), 400, "MISSING_FIELDS")
    assert_error(
        await m.call("PATCH", lic(m, "/ED-1"), json_body={"subscription": "Gone"}),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )
    assert_error(
        await m.call("PATCH", lic(m, "/NOPE"), json_body={"note": "x"}), 404, "LICENSE_NOT_FOUND"
    )
    entries = [e for e in await ok_entries(m) if e.capability == "license.edit"]
    assert len(entries) == 3
    assert changes_of(entries[0]) == {
        "note": ["", "vip"],
        "device_limit": [1, 3],
        "email": [None, "a@b.io"],
        "subscription": ["Premium", "Basic"],
    }


async def admin_apps_sub(m: Manage, name: str) -> None:
    await admin.create_subscription(m.rt, m.app_id, name, 1)


async def test_extend_and_shorten(m: Manage, clock: FakeClock) -> None:
    await admin.add_license(m.rt, m.app_id, "DUR", "Premium", days=10)
    await admin.add_license(m.rt, m.app_id, "LIFE", "Premium")
    await admin.add_license(m.rt, m.app_id, "ACT", "Premium", days=10)
    end = clock.now + timedelta(days=10)
    await set_row(m.rt, m.app_id, "ACT", status="active", expires_at=end)

    assert (await m.post(lic(m, "/DUR/extend"), {"days": 5})).json()["duration_days"] == 15
    assert (await m.post(lic(m, "/DUR/shorten"), {"days": 100})).json()["duration_days"] == 1
    extended = await m.post(lic(m, "/ACT/extend"), {"days": 2})
    assert extended.json()["expiry_date"] == (end + timedelta(days=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    dated = await m.post(lic(m, "/ACT/shorten"), {"expiry_date": "2030-01-01T00:00:00Z"})
    assert dated.json()["expiry_date"] == "2030-01-01T00:00:00Z"
    before = await m.snapshot()
    assert_error(await m.post(lic(m, "/LIFE/extend"), {"days": 1}), 400, "INVALID_INPUT", ["days"])
    assert_error(await m.post(lic(m, "/DUR/extend"), {}), 400, "MISSING_FIELDS", ["days"])
    assert_error(
        await m.post(lic(m, "/DUR/extend"), {"days": 1, "expiry_date": "2030-01-01T00:00:00Z"}),
        400,
        "INVALID_INPUT",
    )
    assert_error(await m.post(lic(m, "/DUR/extend"), {"days": 0}), 400, "INVALID_INPUT")
    assert await m.snapshot() == before
    entries = [
        e for e in await ok_entries(m) if e.capability in ("license.extend", "license.shorten")
    ]
    assert [(e.capability, e.target) for e in entries] == [
        ("license.extend", "DUR"),
        ("license.shorten", "DUR"),
        ("license.extend", "ACT"),
        ("license.shorten", "ACT"),
    ]
    assert changes_of(entries[0]) == {"duration_days": [10, 15]}


async def test_reset_hwid_and_end_sessions(m: Manage, clock: FakeClock) -> None:
    await admin.add_license(m.rt, m.app_id, "HW-1", "Premium", days=10)
    await set_row(m.rt, m.app_id, "HW-1", status="active", last_ip="10.0.0.1", last_sid="SID1")
    row = await license_row(m.rt, m.app_id, "HW-1")
    await add_binding(m.rt, m.app_id, "license", row.id, clock.now)
    session = await add_session(m.rt, m.app_id, row.id, clock.now)

    reset = await m.post(lic(m, "/HW-1/reset-hwid"))
    assert reset.status_code == 200, reset.text
    assert (reset.json()["hwid"], reset.json()["ip_address"]) == ("", "")
    ended = await m.post(lic(m, "/HW-1/end-sessions"))
    assert ended.json() == {"ended": 1}
    assert (await m.post(lic(m, "/HW-1/end-sessions"))).json() == {"ended": 0}
    async with m.rt.db.read() as conn:
        reason = (
            await conn.execute(select(sessions.c.end_reason).where(sessions.c.id_hash == session))
        ).scalar_one()
    assert reason == "ended"
    entries = [e for e in await ok_entries(m) if e.target == "HW-1"]
    assert [e.capability for e in entries] == ["license.reset_hwid", "license.end_sessions"]
    assert changes_of(entries[0])["bindings_removed"] == [None, 1]
    assert changes_of(entries[0])["hwid"] == ["SID1", ""]


async def test_generate_is_idempotent(m: Manage, clock: FakeClock) -> None:
    body = {"subscription": "Premium", "amount": 3, "duration_days": 7, "idempotency_key": "ord-1"}
    first = await m.post(lic(m, "/generate"), body)
    assert first.status_code == 201, first.text
    counts = await count_rows(m.rt, m.app_id)
    again = await m.post(lic(m, "/generate"), body)
    assert again.status_code == 200, again.text
    assert (again.json()["keys"], again.json()["batch_id"]) == (
        first.json()["keys"],
        first.json()["batch_id"],
    )
    assert again.json()["replayed"] is True and first.json()["replayed"] is False
    assert await count_rows(m.rt, m.app_id) == counts  # no keys, no batch row

    different = await m.post(lic(m, "/generate"), {**body, "amount": 4})
    err = assert_error(different, 409, "ALREADY_EXISTS", ["idempotency_key"])
    assert "different parameters" in err["message"]
    assert await count_rows(m.rt, m.app_id) == counts

    clock.advance(hours=25)
    later = await m.post(lic(m, "/generate"), body)
    assert later.status_code == 201, later.text
    assert later.json()["batch_id"] != first.json()["batch_id"]
    assert set(later.json()["keys"]).isdisjoint(first.json()["keys"])
    assert await count_rows(m.rt, m.app_id) == (counts[0] + 3, counts[1] + 1)

    batches = [e for e in await ok_entries(m) if e.capability == "license.generate"]
    assert [e.target for e in batches] == [first.json()["batch_id"], later.json()["batch_id"]]
    listed = await m.get(lic(m), params={"batch": first.json()["batch_id"]})
    assert sorted(i["key"] for i in listed.json()["items"]) == first.json()["keys"]


async def test_a_mask_that_cannot_yield_enough_keys_creates_nothing(
    m: Manage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def constant(mask: Any, alphabet: str, count: int) -> list[str]:
        return ["SAME-KEY-00000"] * count

    monkeypatch.setattr(admin_licenses, "draw_keys", constant)
    before = await m.snapshot()
    counts = await count_rows(m.rt, m.app_id)
    response = await m.post(lic(m, "/generate"), {"subscription": "Premium", "amount": 2})
    assert_error(response, 409, "ALREADY_EXISTS")
    assert await m.snapshot() == before and await count_rows(m.rt, m.app_id) == counts


async def test_bulk_delete_by_filter(m: Manage, clock: FakeClock) -> None:
    batch = (
        await m.post(lic(m, "/generate"), {"subscription": "Premium", "amount": 3, "note": "b"})
    ).json()
    await admin.add_license(m.rt, m.app_id, "KEEP-1", "Premium", days=3)
    await set_row(m.rt, m.app_id, "KEEP-1", status="active", expires_at=clock.now + timedelta(1))
    row = await license_row(m.rt, m.app_id, batch["keys"][0])
    session = await add_session(m.rt, m.app_id, row.id, clock.now)
    assert_error(await m.call("DELETE", lic(m)), 400, "MISSING_FIELDS")
    gone = await m.call("DELETE", lic(m), params={"batch": batch["batch_id"]})
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"count": 3, "keys": sorted(batch["keys"])}
    assert (await m.call("DELETE", lic(m), params={"state": "unused"})).json()["count"] == 0
    assert (await m.get(lic(m, "/KEEP-1"))).status_code == 200
    async with m.rt.db.read() as conn:
        ended = (
            await conn.execute(select(sessions.c.end_reason).where(sessions.c.id_hash == session))
        ).scalar_one()
        left = (
            await conn.execute(select(licenses.c.key).where(licenses.c.app_id == m.app_id))
        ).all()
    assert ended == "deleted" and [r.key for r in left] == ["KEEP-1"]
    entry = [e for e in await ok_entries(m) if e.capability == "license.delete"]
    assert len(entry) == 1 and changes_of(entry[0]) == {"deleted": [None, 3]}


async def test_export_and_import(m: Manage) -> None:
    await admin.add_license(m.rt, m.app_id, "EXP-1", "Premium", days=5, note="=HYPERLINK(1)")
    await admin.add_license(m.rt, m.app_id, "-EXP-2", "Premium", note="plain")
    text = await m.get(lic(m, "/export"), params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert sorted(text.text.split()) == ["-EXP-2", "EXP-1"]
    exported = await m.get(lic(m, "/export"), params={"format": "csv", "search": "EXP"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["key"], r["note"], r["duration_days"]) for r in rows] == [
        ("EXP-1", "'=HYPERLINK(1)", "5")
    ]
    as_json = await m.get(lic(m, "/export"), params={"format": "json", "note": "plain"})
    data = json.loads(as_json.text)
    assert data["count"] == 1 and data["licenses"][0]["key"] == "-EXP-2"
    assert_error(await m.get(lic(m, "/export"), params={"format": "xml"}), 400, "INVALID_INPUT")

    before = await m.snapshot()
    bad = "key,subscription,duration_days\nIMP-1,Premium,3\nIMP-2,Premium,-4\n"
    refused = await m.call(
        "POST", lic(m, "/import"), content=bad, headers={"Content-Type": "text/csv"}
    )
    err = assert_error(refused, 400, "INVALID_INPUT")
    assert err["message"].startswith("line 3:")
    taken = "key,subscription\nIMP-1,Premium\nEXP-1,Premium\n"
    refused = await m.call(
        "POST", lic(m, "/import"), content=taken, headers={"Content-Type": "text/csv"}
    )
    assert assert_error(refused, 409, "ALREADY_EXISTS")["message"].startswith("line 3:")
    assert await m.snapshot() == before  # one bad row: nothing created

    good = "key,subscription,duration_days,note\nIMP-1,Premium,3,'=x\nIMP-2,premium,,\n"
    done = await m.call(
        "POST", lic(m, "/import"), content=good, headers={"Content-Type": "text/csv"}
    )
    assert done.status_code == 201, done.text
    assert done.json()["count"] == 2
    one = (await m.get(lic(m, "/IMP-1"))).json()
    assert (one["duration_days"], one["note"], one["batch_id"]) == (
        3,
        "=x",
        done.json()["batch_id"],
    )
    assert (await m.get(lic(m, "/IMP-2"))).json()["duration_days"] == 0
    entry = [e for e in await ok_entries(m) if e.capability == "license.import"]
    assert len(entry) == 1 and changes_of(entry[0])["count"] == [None, 2]


# -- isolation ---------------------------------------------------------------------------

ROUTES: list[tuple[str, str, str, Any]] = [
    ("GET", "/subscriptions", "subscription:read", None),
    ("POST", "/subscriptions", "subscription:write", {"name": "X1"}),
    ("PATCH", "/subscriptions/Premium", "subscription:write", {"level": 9}),
    ("DELETE", "/subscriptions/Premium", "subscription:write", None),
    ("GET", "/licenses", "license:read", None),
    ("POST", "/licenses", "license:write", {"key": "ISO-1", "subscription": "Premium"}),
    ("POST", "/licenses/generate", "license:write", {"subscription": "Premium"}),
    ("GET", "/licenses/export", "license:read", None),
    ("POST", "/licenses/import", "license:write", "key,subscription\nISO-2,Premium\n"),
    ("DELETE", "/licenses?state=unused", "license:write", None),
    ("GET", "/licenses/ISO-KEY", "license:read", None),
    ("PATCH", "/licenses/ISO-KEY", "license:write", {"note": "x"}),
    ("DELETE", "/licenses/ISO-KEY", "license:write", None),
    ("POST", "/licenses/ISO-KEY/ban", "license:write", None),
    ("POST", "/licenses/ISO-KEY/unban", "license:write", None),
    ("POST", "/licenses/ISO-KEY/pause", "license:write", None),
    ("POST", "/licenses/ISO-KEY/unpause", "license:write", None),
    ("POST", "/licenses/ISO-KEY/extend", "license:write", {"days": 1}),
    ("POST", "/licenses/ISO-KEY/shorten", "license:write", {"days": 1}),
    ("POST", "/licenses/ISO-KEY/reset-hwid", "license:write", None),
    ("POST", "/licenses/ISO-KEY/end-sessions", "license:write", None),
]


async def _send(m: Manage, token: str, app_id: str, route: tuple[str, str, str, Any]) -> Any:
    method, path, _scope, body = route
    url = f"/apps/{app_id}{path}"
    if isinstance(body, str):
        return await m.call(
            method, url, token=token, content=body, headers={"Content-Type": "text/csv"}
        )
    return await m.call(method, url, token=token, json_body=body)


async def test_isolation_and_scopes(m: Manage, other: Manage) -> None:
    """Another owner's token gets 404 on every route; a token without the scope gets 403;
    neither changes anything."""
    await admin.add_license(m.rt, m.app_id, "ISO-KEY", "Premium", days=5)
    before = await m.snapshot()
    for route in ROUTES:
        method, path, scope, _body = route
        foreign = await _send(m, other.token, m.app_id, route)
        assert_error(foreign, 404, "APP_NOT_FOUND")
        resource = scope.split(":")[0]
        wrong = "license:read" if resource == "subscription" else "subscription:read"
        opposite = scope.replace(":read", ":w").replace(":write", ":read").replace(":w", ":write")
        token = await m.make_token([wrong, opposite])
        denied = await _send(m, token, m.app_id, route)
        assert denied.status_code == 403, (method, path, denied.text)
        assert_error(denied, 403, "PERMISSION_DENIED")
    assert await m.snapshot() == before
