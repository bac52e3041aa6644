"""The audit log (management B.20): redaction, filters, cursor pagination, export, isolation."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from licentia.services import audit
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, audit_log

from .conftest import AppFixture, FakeClock, make_app


async def write(rt: Runtime, owner_account_id: str | None, **overrides: Any) -> None:
    values: dict[str, Any] = {
        "actor_kind": "cli",
        "actor": "cli",
        "face": "cli",
        "owner_account_id": owner_account_id,
        "capability": "license.ban",
        "target_type": "license",
        "target": "KEY-1",
    }
    values.update(overrides)
    async with rt.db.write() as conn:
        await audit.record(conn, now=rt.clock(), **values)


async def test_record_redacts_secret_fields(rt: Runtime, demo: AppFixture) -> None:
    await write(
        rt,
        demo.owner.id,
        changes={
            "password": ["old", "new"],
            "new_password": [None, "hunter2"],
            "secret": ["a", "b"],
            "app_secret": ["a", "b"],
            "elite_key": [None, "ek_x"],
            "api_token": [None, "lic_x"],
            "note": ["before", "after"],
            "expires_at": [None, rt.clock()],
            "scopes": [None, ["license:read"]],
        },
        actor_ip="192.0.2.1",
        app_id=demo.app_id,
        request_id="req-1",
        result="INVALID_INPUT",
    )
    (entry,), cursor = await audit.list_entries(rt, demo.owner.owner_id)
    assert cursor is None
    assert entry.changes == {
        "password": "changed",
        "new_password": "changed",
        "secret": "changed",
        "app_secret": "changed",
        "elite_key": "changed",
        "api_token": "changed",
        "note": ["before", "after"],
        "expires_at": [None, "2026-04-13T12:00:00Z"],
        "scopes": [None, ["license:read"]],
    }
    async with rt.db.read() as conn:
        raw = (await conn.execute(select(audit_log.c.changes))).scalar_one()
    for secret in ("old", "hunter2", "ek_x", "lic_x"):
        assert secret not in raw
    assert (entry.actor_ip, entry.app_id, entry.request_id, entry.result) == (
        "192.0.2.1",
        demo.app_id,
        "req-1",
        "INVALID_INPUT",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [pytest.param("actor_kind", "robot", id="actor-kind"), pytest.param("face", "fax", id="face")],
)
async def test_record_refuses_unknown_kinds(
    rt: Runtime, demo: AppFixture, field: str, value: str
) -> None:
    with pytest.raises(ValueError):
        await write(rt, demo.owner.id, **{field: value})


async def test_cursor_pagination_newest_first(
    rt: Runtime, demo: AppFixture, clock: FakeClock
) -> None:
    for i in range(7):
        clock.advance(seconds=1)
        await write(rt, demo.owner.id, target=f"K{i}")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = await audit.list_entries(rt, demo.owner.owner_id, cursor=cursor, limit=3)
        pages += 1
        seen.extend(e.target for e in page)
        ids = [e.id for e in page]
        assert ids == sorted(ids, reverse=True)
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"K{i}" for i in reversed(range(7))]
    # exactly one full page: no next cursor
    page, cursor = await audit.list_entries(rt, demo.owner.owner_id, limit=7)
    assert len(page) == 7 and cursor is None


async def test_filters(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    owner = demo.owner.owner_id
    start = clock.now
    await write(rt, demo.owner.id, capability="license.ban", target="A", app_id=demo.app_id)
    clock.advance(minutes=1)
    await write(rt, demo.owner.id, capability="license.unban", target="A", actor="tok-1")
    clock.advance(minutes=1)
    await write(rt, demo.owner.id, capability="user.delete", target="bob", app_id=demo.app_id)
    clock.advance(minutes=1)
    await write(rt, demo.owner.id, capability="licenses.x", target="C")  # not `license.*`

    async def targets(**filters: Any) -> list[str]:
        page, _ = await audit.list_entries(rt, owner, **filters)
        return [e.target for e in page]

    assert await targets(capability="license.ban") == ["A"]
    assert await targets(capability="license") == ["A", "A"]
    assert await targets(capability="license.*") == ["A", "A"]
    assert await targets(actor="tok-1") == ["A"]
    assert await targets(target="bob") == ["bob"]
    assert await targets(app_id=demo.app_id) == ["bob", "A"]
    assert await targets(since=start + timedelta(minutes=1)) == ["C", "bob", "A"]
    assert await targets(until=start + timedelta(minutes=1)) == ["A"]
    assert await targets(
        since=start + timedelta(minutes=1), until=start + timedelta(minutes=2)
    ) == ["A"]


async def test_owners_see_only_their_own_entries(rt: Runtime, demo: AppFixture) -> None:
    other = await make_app(rt, name="Other")
    await write(rt, demo.owner.id, target="mine")
    await write(rt, other.owner.id, target="theirs")
    await write(rt, None, target="system")
    page, _ = await audit.list_entries(rt, demo.owner.owner_id)
    assert [e.target for e in page] == ["mine"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"limit": 0}, "limit", id="limit-zero"),
        pytest.param({"limit": 501}, "limit", id="limit-big"),
        pytest.param({"cursor": "abc"}, "cursor", id="cursor-text"),
        pytest.param({"cursor": "-1"}, "cursor", id="cursor-negative"),
    ],
)
async def test_invalid_list_arguments(
    rt: Runtime, demo: AppFixture, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(AdminError) as caught:
        await audit.list_entries(rt, demo.owner.owner_id, **kwargs)
    assert caught.value.code == "INVALID_INPUT"
    assert caught.value.fields == [field]


async def test_until_before_since_is_refused(
    rt: Runtime, demo: AppFixture, clock: FakeClock
) -> None:
    with pytest.raises(AdminError) as caught:
        await audit.list_entries(rt, demo.owner.owner_id, since=clock.now, until=clock.now)
    assert caught.value.code == "INVALID_INPUT"


async def test_unknown_owner(rt: Runtime) -> None:
    with pytest.raises(AdminError) as caught:
        await audit.list_entries(rt, "99999999")
    assert caught.value.code == "OWNER_NOT_FOUND"


async def test_export_csv_and_json(rt: Runtime, demo: AppFixture) -> None:
    await write(rt, demo.owner.id, target="=HYPERLINK(1)", changes={"note": ["", "x"]})
    await write(rt, demo.owner.id, target="plain", changes={"password": ["a", "b"]})
    text = await audit.export_entries(rt, demo.owner.owner_id)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["target"] for r in rows] == ["plain", "'=HYPERLINK(1)"]
    assert json.loads(rows[0]["changes"]) == {"password": "changed"}
    assert rows[0]["created_at"] == "2026-04-13T12:00:00Z"
    assert list(rows[0]) == list(audit.CSV_COLUMNS)

    data = json.loads(await audit.export_entries(rt, demo.owner.owner_id, fmt="json"))
    assert [d["target"] for d in data] == ["plain", "=HYPERLINK(1)"]
    with pytest.raises(AdminError):
        await audit.export_entries(rt, demo.owner.owner_id, fmt="xml")


async def test_entries_outlive_their_owner(rt: Runtime, demo: AppFixture) -> None:
    await write(rt, demo.owner.id, app_id=demo.app_id)
    async with rt.db.write() as conn:
        await conn.execute(accounts.delete().where(accounts.c.id == demo.owner.id))
        remaining = (await conn.execute(select(audit_log))).all()
    assert len(remaining) == 1
    assert remaining[0].owner_account_id == demo.owner.id


async def test_record_standalone_and_prune(rt: Runtime, demo: AppFixture, clock: FakeClock) -> None:
    who = audit.Actor(
        kind="elite-key",
        name="elite-key",
        face="elite-key",
        ip="198.51.100.4",
        details={"domain": "example.com", "url_prefix": "myapp"},
    )
    await audit.record_standalone(
        rt, who, owner_account_id=demo.owner.id, capability="license.ban", result="IP_BLOCKED"
    )
    (entry,), _ = await audit.list_entries(rt, demo.owner.owner_id)
    assert entry.result == "IP_BLOCKED"
    assert entry.details == {"domain": "example.com", "url_prefix": "myapp"}
    clock.advance(days=400)
    await write(rt, demo.owner.id)
    assert await audit.prune_entries(rt, clock.now - timedelta(days=365)) == 1
    page, _ = await audit.list_entries(rt, demo.owner.owner_id)
    assert len(page) == 1
