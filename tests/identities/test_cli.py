"""`licentia user|binding|device|session ...` in process (CliRunner) on the shared test
database: every command's happy path, its errors, and its audit entries (face `cli`)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from licentia.cli.main import app
from licentia.store.tables import audit_log, sessions
from tests.conftest import TEST_MASTER_KEY


class Cli:
    """Drives the CLI against the session database, one owner and app per test."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.url = database_url
        self.env = {
            "LICENTIA_DATABASE_URL": database_url,
            "LICENTIA_DATA_DIR": str(data_dir),
            "LICENTIA_MASTER_KEY": TEST_MASTER_KEY,
            "LICENTIA_ARGON2_MEMORY_KIB": "8192",
            "LICENTIA_ARGON2_TIME_COST": "1",
        }
        self.app_id = ""

    def invoke(self, *args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(app, list(args), env=self.env, input=stdin)

    def json(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        result = self.invoke(*args, "--json", stdin=stdin)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout.strip().count("\n") == 0, result.stdout
        value: dict[str, Any] = json.loads(result.stdout)
        return value

    def fails(self, *args: str, code: str, exit_code: int = 1, stdin: str | None = None) -> str:
        result = self.invoke(*args, "--json", stdin=stdin)
        assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
        assert json.loads(result.stdout)["error"] == code, result.stdout
        assert "Traceback" not in result.stderr
        return str(result.stderr)

    def setup(self) -> Cli:
        owner = self.json(
            "owner", "create", "--username", f"cli_{secrets.token_hex(4)}", "--password", "pw"
        )
        created = self.json("app", "create", "--owner", owner["owner_id"], "--name", "CliApp")
        self.app_id = created["app_id"]
        self.json("subscription", "create", "--app", self.app_id, "--name", "Default")
        return self

    def query(self, fn: Callable[[AsyncConnection], Any]) -> Any:
        async def go() -> Any:
            engine = create_async_engine(self.url, poolclass=NullPool)
            try:
                async with engine.begin() as conn:
                    return await fn(conn)
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def audit(self, capability: str) -> list[Any]:
        async def read(conn: AsyncConnection) -> list[Any]:
            rows = await conn.execute(
                select(audit_log)
                .where(audit_log.c.app_id == self.app_id, audit_log.c.capability == capability)
                .order_by(audit_log.c.id)
            )
            return list(rows)

        entries: list[Any] = self.query(read)
        assert all((e.actor_kind, e.face) == ("cli", "cli") for e in entries)
        return entries


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(database_url, tmp_path / "data").setup()


def changes(entry: Any) -> dict[str, Any]:
    return json.loads(entry.changes) if entry.changes else {}


def test_user_commands(cli: Cli, tmp_path: Path) -> None:
    a = ("--app", cli.app_id)
    # The password comes from stdin (never an option in the process list).
    created = cli.json(
        "user",
        "create",
        *a,
        "--username",
        "Mara",
        "--subscription",
        "default",
        "--days",
        "10",
        stdin="first-pw\n",
    )
    assert created["username"] == "Mara" and created["expiry_date"].endswith("Z")
    [entry] = cli.audit("user.create")
    assert changes(entry)["password"] == "changed"
    assert "first-pw" not in (entry.changes or "")

    info = cli.json("user", "info", "mara", *a)
    assert (info["username"], info["state"], info["current_devices"]) == ("Mara", "active", 0)
    edited = cli.json("user", "edit", "mara", *a, "--email", "m@example.com", "--device-limit", "0")
    assert (edited["email"], edited["device_limit"]) == ("m@example.com", 0)
    assert changes(cli.audit("user.edit")[0])["device_limit"] == [1, 0]
    cli.fails("user", "edit", "mara", *a, code="MISSING_FIELDS")
    cli.fails("user", "edit", "ghost", *a, "--note", "x", code="USER_NOT_FOUND")

    extended = cli.json("user", "extend", "mara", *a, "--days", "5")
    shortened = cli.json("user", "shorten", "mara", *a, "--days", "5")
    assert extended["expiry_date"] > shortened["expiry_date"] == created["expiry_date"]
    cli.fails("user", "extend", "mara", *a, code="USAGE", exit_code=2)
    assert cli.json("user", "edit", "mara", *a, "--lifetime")["expiry_date"] is None
    cli.fails("user", "extend", "mara", *a, "--days", "1", code="INVALID_INPUT")

    for action, banned, paused in [
        ("ban", True, False),
        ("ban", True, False),
        ("unban", False, False),
        ("pause", False, True),
        ("unpause", False, False),
    ]:
        body = cli.json("user", action, *a, "mara")
        assert (body["action"], body["banned"], body["paused"]) == (action, banned, paused)
    assert len(cli.audit("user.ban")) == 1  # the idempotent repeat left no entry

    reset = cli.json("user", "reset-password", "mara", *a, stdin="second-pw\n")
    assert reset["action"] == "reset-password"
    assert "second-pw" not in (cli.audit("user.reset_password")[0].changes or "")
    assert cli.json("user", "verify-password", "mara", *a, stdin="second-pw\n")["valid"] is True
    cli.fails("user", "verify-password", "mara", *a, code="INVALID_PASSWORD", stdin="first-pw\n")
    cli.fails("user", "verify-password", "ghost", *a, code="USER_NOT_FOUND", stdin="x\n")

    assert cli.json("user", "reset-hwid", "mara", *a)["current_devices"] == 0
    cli.fails("user", "remove-device", "mara", *a, "--sid", "S-1", code="BINDING_NOT_FOUND")
    assert cli.json("user", "sessions", "mara", *a) == {"items": [], "next_cursor": None}
    assert cli.json("user", "end-sessions", "mara", *a)["ended"] == 0
    listed = cli.json("user", "list", *a, "--state", "active")
    assert [u["username"] for u in listed["items"]] == ["Mara"]
    cli.fails("user", "list", *a, "--state", "odd", code="INVALID_INPUT")

    # Export, then an import with one bad row (nothing created), then a good one.
    out = tmp_path / "users.csv"
    assert cli.json("user", "export", *a, "--output", str(out))["output"] == str(out)
    assert out.read_text().splitlines()[1].startswith("Mara,m@example.com,Default")
    bad = tmp_path / "bad.csv"
    bad.write_text("username,password,subscription\nn1,pw,Default\nn2,pw,Nope\n")
    assert "line 3" in cli.fails("user", "import", str(bad), *a, code="INVALID_INPUT")
    assert [u["username"] for u in cli.json("user", "list", *a)["items"]] == ["Mara"]
    good = tmp_path / "good.csv"
    good.write_text("username,password,subscription\nn1,pw,Default\nn2,pw,default\n")
    assert cli.json("user", "import", str(good), *a)["created"] == 2
    assert changes(cli.audit("user.import")[0]) == {"created": [None, 2]}
    exported = cli.json("user", "export", *a, "--format", "json")
    assert json.loads(exported["data"])["count"] == 3

    cli.json("user", "delete", *a, "MARA")
    cli.fails("user", "info", "mara", *a, code="USER_NOT_FOUND")


def test_device_commands(cli: Cli, tmp_path: Path) -> None:
    a = ("--app", cli.app_id)
    mb = ("--type", "motherboard", "--id", "MB-1")
    body = cli.json("device", "create", *a, *mb, "--subscription", "Default", "--days", "10")
    assert (body["device_type"], body["device_id"]) == ("motherboard", "MB-1")
    cli.json(
        "device",
        "create",
        *a,
        "--type",
        "processor",
        "--id",
        "CPU",
        "--subscription",
        "Default",
        "--lifetime",
    )
    cli.fails(
        "device",
        "create",
        *a,
        *mb,
        "--subscription",
        "Default",
        "--lifetime",
        code="ALREADY_EXISTS",
    )
    assert cli.json("device", "info", *a, "--type", "MOTHERBOARD", "--id", "mb-1")["state"] == (
        "unactivated"
    )
    listed = cli.json("device", "list", *a, "--type", "processor")
    assert [d["device_id"] for d in listed["items"]] == ["CPU"]
    assert cli.json("device", "edit", *a, *mb, "--name", "rig")["name"] == "rig"
    assert changes(cli.audit("device.edit")[0]) == {"name": ["", "rig"]}
    assert cli.json("device", "ban", *a, *mb)["banned"] is True
    assert cli.json("device", "pause", *a, *mb)["paused"] is True
    assert cli.json("device", "unpause", *a, *mb)["paused"] is False
    assert cli.json("device", "unban", *a, *mb)["banned"] is False
    ext = cli.json("device", "extend", *a, *mb, "--expires", "2031-01-01T00:00:00Z")
    assert ext["expiry_date"] == "2031-01-01T00:00:00Z"
    assert cli.json("device", "shorten", *a, *mb, "--days", "1")["expiry_date"] == (
        "2030-12-31T00:00:00Z"
    )
    cli.fails(
        "device",
        "extend",
        *a,
        "--type",
        "processor",
        "--id",
        "CPU",
        "--days",
        "1",
        code="INVALID_INPUT",
    )
    assert cli.json("device", "reset", *a, *mb)["hwid"] == ""
    assert cli.json("device", "end-sessions", *a, *mb)["ended"] == 0
    text = cli.json("device", "export", *a)["data"]
    assert text.splitlines()[0].startswith("device_type,device_id")
    csv = tmp_path / "devices.csv"
    csv.write_text("device_type,device_id,subscription\nprocessor,cpu,Default\n")
    cli.fails("device", "import", str(csv), *a, code="ALREADY_EXISTS")
    csv.write_text("device_type,device_id,subscription,name\nprocessor,CPU-2,Default,=cmd\n")
    assert cli.json("device", "import", str(csv), *a)["created"] == 1
    assert "'=cmd" in cli.json("device", "export", *a, "--type", "processor")["data"]
    assert cli.json("device", "delete", *a, *mb)["deleted"] is True
    cli.fails("device", "info", *a, *mb, code="DEVICE_NOT_FOUND")
    cli.fails("device", "info", *a, "--type", "gpu", "--id", "x", code="INVALID_INPUT")


def test_session_and_binding_commands(cli: Cli) -> None:
    a = ("--app", cli.app_id)
    cli.json(
        "user", "create", *a, "--username", "sam", "--subscription", "Default", "--password", "pw"
    )
    # A client session of the user, made directly in the store (the CLI test has no server).
    ids = [secrets.token_hex(32), secrets.token_hex(32)]

    async def seed(conn: AsyncConnection) -> None:
        from datetime import UTC, datetime

        from licentia.services.client import session_digest
        from licentia.store.tables import bindings, users

        user_id = (
            await conn.execute(select(users.c.id).where(users.c.app_id == cli.app_id))
        ).scalar_one()
        now = datetime.now(UTC)
        for sid, kind, ident in ((ids[0], "user", user_id), (ids[1], "none", None)):
            await conn.execute(
                sessions.insert().values(
                    id_hash=session_digest(sid),
                    prefix=sid[:8],
                    app_id=cli.app_id,
                    identity_kind=kind,
                    identity_id=ident,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        await conn.execute(
            bindings.insert().values(
                id=secrets.token_hex(8),
                app_id=cli.app_id,
                holder_kind="user",
                holder_id=user_id,
                sid="SID-1",
                sid_norm="sid-1",
                first_seen_at=now,
                last_seen_at=now,
            )
        )

    cli.query(seed)
    listed = cli.json("session", "list", *a, "--user", "SAM")
    assert [(s["id"], s["state"]) for s in listed["items"]] == [(ids[0][:8], "live")]
    assert len(cli.json("session", "list", *a, "--state", "live")["items"]) == 2
    cli.fails("session", "list", *a, "--user", "a", "--license", "b", code="USAGE", exit_code=2)
    ended = cli.json("session", "end", ids[0][:12], *a)
    assert (ended["id"], ended["state"]) == (ids[0][:8], "ended")
    assert changes(cli.audit("session.end")[0]) == {"state": ["live", "ended"]}
    cli.fails("session", "end", "abc", *a, code="INVALID_INPUT")
    cli.fails("session", "end", "ffffffff", *a, code="SESSION_NOT_FOUND")
    cli.fails("session", "end-all", *a, code="USAGE", exit_code=2)
    assert cli.json("session", "end-all", *a, "--all")["ended"] == 1
    assert cli.json("session", "list", *a, "--state", "live")["items"] == []

    bound = cli.json("binding", "list", *a, "--user", "sam")
    assert [b["sid"] for b in bound["items"]] == ["SID-1"]
    cli.fails("binding", "list", *a, code="USAGE", exit_code=2)
    removed = cli.json("binding", "remove", *a, "--user", "sam", "--sid", "sid-1")
    assert removed["sid"] == "SID-1"
    assert cli.json("binding", "reset", *a, "--user", "sam")["removed"] == 0
    cli.fails("binding", "reset", *a, "--license", "NOPE", code="LICENSE_NOT_FOUND")
    assert [e.target for e in cli.audit("binding.remove")] == ["sam"]
