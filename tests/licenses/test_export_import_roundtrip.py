"""A full `license export` (every state: unused duration, fixed-date and lifetime keys,
activated and redeemed keys, banned and paused keys, notes a spreadsheet would run) imports
into another app, and that app's export imports again unchanged (docs/cli.md)."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store.tables import licenses
from tests.cli.conftest import Installation, install  # noqa: F401 - fixture

ACTIVATED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _terms(inst: Installation, app_id: str) -> dict[str, tuple[Any, ...]]:
    async def go(conn: AsyncConnection) -> dict[str, tuple[Any, ...]]:
        rows = await conn.execute(select(licenses).where(licenses.c.app_id == app_id))
        return {
            r.key: (r.duration_days, r.fixed_expiry, r.device_limit, r.note, r.email, r.status)
            for r in rows
        }

    result: dict[str, tuple[Any, ...]] = inst.query(go)
    return result


def _activate(inst: Installation, app_id: str, key: str, status: str, expires: Any) -> None:
    async def go(conn: AsyncConnection) -> None:
        await conn.execute(
            update(licenses)
            .where(and_(licenses.c.app_id == app_id, licenses.c.key == key))
            .values(status=status, activated_at=ACTIVATED_AT, expires_at=expires)
        )

    inst.query(go)


def _new_app(inst: Installation, owner: str, name: str) -> tuple[str, str]:
    app_id = inst.json("app", "create", "--owner", owner, "--name", name)["app_id"]
    inst.json("subscription", "create", "--app", app_id, "--name", "Premium")
    return "--app", app_id


def test_full_export_imports_into_another_app(install: Installation, tmp_path: Path) -> None:  # noqa: F811
    owner = install.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )["owner_id"]
    src = _new_app(install, owner, "Source")
    add = ("license", "add", *src, "--subscription", "Premium")
    install.json(*add, "--key", "DUR-UNUSED", "--days", "30", "--note", "=SUM(A1)")
    install.json(*add, "--key", "FIX-UNUSED", "--expires", "2031-05-06T07:08:09Z")
    install.json(*add, "--key", "LIFE-UNUSED", "--device-limit", "3")
    install.json(*add, "--key", "DUR-ACTIVE", "--days", "30", "--email", "a@example.com")
    install.json(*add, "--key", "DUR-USED", "--days", "10")
    install.json(*add, "--key", "LIFE-ACTIVE", "--lifetime")
    install.json(*add, "--key", "DUR-EXPIRED", "--days", "1")
    install.json(*add, "--key", "BANNED", "--days", "7")
    install.json("license", "ban", "BANNED", *src, "--reason", "chargeback")
    install.json(*add, "--key", "PAUSED", "--days", "7")
    install.json("license", "pause", "PAUSED", *src)
    active_until = ACTIVATED_AT + timedelta(days=30)
    _activate(install, src[1], "DUR-ACTIVE", "active", active_until)
    _activate(install, src[1], "DUR-USED", "used", ACTIVATED_AT + timedelta(days=10))
    _activate(install, src[1], "LIFE-ACTIVE", "active", None)
    _activate(install, src[1], "DUR-EXPIRED", "active", ACTIVATED_AT + timedelta(days=1))

    first = tmp_path / "source.csv"
    install.json("license", "export", *src, "--format", "csv", "--output", str(first))
    exported = list(csv.DictReader(io.StringIO(first.read_text())))
    assert len(exported) == 9
    # The activated keys carry both columns: what made the import refuse them.
    active_row = next(r for r in exported if r["key"] == "DUR-ACTIVE")
    assert active_row["duration_days"] == "30" and active_row["expiry_date"]

    dst = _new_app(install, owner, "Target")
    imported = install.json("license", "import", *dst, str(first))
    assert imported["imported"] == 9

    source, target = _terms(install, src[1]), _terms(install, dst[1])
    assert set(target) == set(source)
    assert all(t[5] == "unused" for t in target.values())  # an import adds unused keys
    for key in ("DUR-UNUSED", "FIX-UNUSED", "LIFE-UNUSED", "BANNED", "PAUSED"):
        assert target[key][:5] == source[key][:5], key  # unused keys move unchanged
    assert target["DUR-UNUSED"][3] == "=SUM(A1)"  # the CSV-injection guard is undone
    # Activated keys keep their end date (as a fixed date) or stay lifetime.
    assert target["DUR-ACTIVE"][:2] == (None, active_until)
    assert target["DUR-ACTIVE"][4] == "a@example.com"
    assert target["DUR-USED"][:2] == (None, ACTIVATED_AT + timedelta(days=10))
    assert target["DUR-EXPIRED"][:2] == (None, ACTIVATED_AT + timedelta(days=1))
    assert target["LIFE-ACTIVE"][1] is None and not target["LIFE-ACTIVE"][0]

    # The target's own export imports into a third app unchanged.
    second = tmp_path / "target.csv"
    install.json("license", "export", *dst, "--format", "csv", "--output", str(second))
    third = _new_app(install, owner, "Third")
    assert install.json("license", "import", *third, str(second))["imported"] == 9
    assert _terms(install, third[1]) == target


def test_hand_written_rows_with_both_terms_are_still_refused(
    install: Installation,  # noqa: F811
    tmp_path: Path,
) -> None:
    owner = install.json("owner", "create", "--username", "hand", "--password", "pw")["owner_id"]
    app = _new_app(install, owner, "Hand")
    both = tmp_path / "both.csv"
    both.write_text("key,subscription,duration_days,expiry_date\nK-1,Premium,30,2030-01-01\n")
    body = install.fails("license", "import", *app, str(both), code="INVALID_INPUT")
    assert body["message"] == "line 2: give duration_days or expiry_date, not both"
    unused = tmp_path / "unused.csv"
    unused.write_text(
        "key,subscription,status,duration_days,expiry_date\nK-1,Premium,unused,30,2030-01-01\n"
    )
    install.fails("license", "import", *app, str(unused), code="INVALID_INPUT")
