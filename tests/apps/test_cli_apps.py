"""The `app`, `variable`, `channel`, `rule`, `version`, `hash`, `response` and `log` commands,
in-process (CliRunner), on one installation shared by this module (each test uses its own
owner and app): JSON output, errors, audit entries with actor `cli`."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store.tables import audit_log, auth_events, chat_channels, chat_messages, client_logs
from tests.cli.conftest import TEST_DATABASE_URL_ENV, Installation, _pg, _postgres_admin_url


@pytest.fixture(scope="module")
def inst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("LICENTIA_") and name != TEST_DATABASE_URL_ENV:
                mp.delenv(name)
        data_dir = tmp_path_factory.mktemp("apps-cli") / "data"
        admin_url = _postgres_admin_url()
        database_url: str | None = None
        db_name: str | None = None
        env = {
            "LICENTIA_DATA_DIR": str(data_dir),
            "LICENTIA_ARGON2_MEMORY_KIB": "8192",
            "LICENTIA_ARGON2_TIME_COST": "1",
        }
        if admin_url is not None:
            db_name = f"licentia_t_{secrets.token_hex(6)}"
            asyncio.run(_pg(admin_url, f'CREATE DATABASE "{db_name}"'))
            parts = urlsplit(admin_url)
            database_url = urlunsplit((parts.scheme, parts.netloc, f"/{db_name}", parts.query, ""))
            env["LICENTIA_DATABASE_URL"] = database_url
        try:
            yield Installation(data_dir=data_dir, database_url=database_url, env=env)
        finally:
            if admin_url is not None and db_name is not None:
                asyncio.run(_pg(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))


def make_app(inst: Installation) -> tuple[str, str]:
    """(owner_id, app_id) of a new owner and app with a `Default` subscription."""
    owner = inst.json(
        "owner", "create", "--username", f"v{secrets.token_hex(4)}", "--password", "pw"
    )
    created = inst.json("app", "create", "--owner", owner["owner_id"], "--name", "MyApp")
    inst.json("subscription", "create", "--app", created["app_id"], "--name", "Default")
    return owner["owner_id"], created["app_id"]


def cli_audit(inst: Installation, app_id: str) -> list[Any]:
    async def go(conn: AsyncConnection) -> list[Any]:
        rows = await conn.execute(
            select(audit_log).where(audit_log.c.app_id == app_id).order_by(audit_log.c.id)
        )
        return list(rows.all())

    rows: list[Any] = inst.query(go)
    assert all((r.actor_kind, r.face) == ("cli", "cli") for r in rows)
    return rows


def capabilities(inst: Installation, app_id: str) -> list[str]:
    return [r.capability for r in cli_audit(inst, app_id)]


def test_app_commands(inst: Installation) -> None:
    owner_id, app_id = make_app(inst)
    listed = inst.json("app", "list", "--owner", owner_id)
    assert [a["name"] for a in listed["apps"]] == ["MyApp"] and listed["count"] == 1
    shown = inst.json("app", "show", app_id)
    assert (shown["app_name"], shown["total_subscriptions"], shown["plan_name"]) == (
        "MyApp",
        1,
        "Licentia",
    )
    assert inst.json("app", "disable", app_id) == {
        "app_id": app_id,
        "is_enabled": False,
        "changed": True,
    }
    assert inst.json("app", "disable", app_id)["changed"] is False
    assert inst.json("app", "enable", app_id)["is_enabled"] is True
    renamed = inst.json("app", "rename", app_id, "--name", "Renamed")
    assert (renamed["old_name"], renamed["app_name"]) == ("MyApp", "Renamed")
    assert renamed["warnings"]
    old = inst.json("app", "secret", app_id)["secret"]
    new = inst.json("app", "regenerate-secret", app_id)["secret"]
    assert new != old and inst.json("app", "secret", app_id)["secret"] == new
    text = inst.invoke("app", "show", app_id)
    assert text.exit_code == 0 and "Renamed" in text.stdout
    inst.fails("app", "rename", app_id, "--name", "a<b", code="INVALID_INPUT")
    inst.fails("app", "enable", "no-such-app", code="APP_NOT_FOUND")
    inst.fails("app", "delete", app_id, "--confirm", "renamed", code="INVALID_INPUT")
    inst.fails("app", "delete", app_id, code="USAGE", exit_code=2)
    caps = [c for c in capabilities(inst, app_id) if c.startswith("app.")]
    assert caps == [
        "app.create",
        "app.disable",
        "app.enable",
        "app.rename",
        "app.regenerate_secret",
    ]
    gone = inst.json("app", "delete", app_id, "--confirm", "Renamed")
    assert gone == {"app_id": app_id, "app_name": "Renamed", "deleted": True}
    inst.fails("app", "show", app_id, code="APP_NOT_FOUND")
    assert capabilities(inst, app_id)[-1] == "app.delete"
    assert inst.json("app", "list", "--owner", owner_id)["apps"] == []


def test_variable_and_response_commands(inst: Installation) -> None:
    _, app_id = make_app(inst)
    inst.json("variable", "set", "--app", app_id, "--key", "motd", "--value", "hi")
    inst.json("variable", "set", "--app", app_id, "--key", "motd", "--value", "bye")
    got = inst.json("variable", "get", "--app", app_id, "--key", "motd")
    assert (got["value"], got["writable"], got["updated_by"]) == ("bye", True, "cli")
    assert [v["key"] for v in inst.json("variable", "list", "--app", app_id)["variables"]] == [
        "motd"
    ]
    inst.fails("variable", "get", "--app", app_id, "--key", "nope", code="VARIABLE_NOT_FOUND")
    assert inst.json("variable", "delete", "--app", app_id, "--key", "motd")["deleted"] is True
    inst.fails("variable", "delete", "--app", app_id, "--key", "motd", code="VARIABLE_NOT_FOUND")
    entries = [r for r in cli_audit(inst, app_id) if r.capability.startswith("variable.")]
    assert [json.loads(r.changes) for r in entries][1] == {"value": ["hi", "bye"]}

    responses = inst.json("response", "list", "--app", app_id, "--category", "auth")
    assert responses["count"] > 5 and {r["category"] for r in responses["responses"]} == {"Auth"}
    inst.json("response", "set", "--app", app_id, "--code", "USER_BANNED", "--message", "No")
    reset = inst.json("response", "reset", "--app", app_id, "--code", "user_banned")
    assert reset["is_default"] is True and reset["message"] != "No"
    inst.json("response", "set", "--app", app_id, "--code", "OK.init", "--message", "Hi")
    assert inst.json("response", "reset-all", "--app", app_id)["reset"] == 1
    inst.fails("response", "reset", "--app", app_id, "--code", "INTERNAL", code="INVALID_INPUT")
    assert "response.reset_all" in capabilities(inst, app_id)


def test_channel_commands(inst: Installation) -> None:
    _, app_id = make_app(inst)
    inst.json("channel", "create", "--app", app_id, "--name", "general")
    edited = inst.json("channel", "edit", "--app", app_id, "--channel", "general", "--name", "main")
    assert edited["name"] == "main"
    inst.json(
        "user",
        "create",
        "--app",
        app_id,
        "--username",
        "chatty",
        "--password",
        "pw",
        "--subscription",
        "Default",
    )

    async def seed(conn: AsyncConnection) -> None:
        channel = (
            await conn.execute(select(chat_channels.c.id).where(chat_channels.c.app_id == app_id))
        ).scalar_one()
        now = datetime.now(UTC)
        for i in range(3):
            await conn.execute(
                chat_messages.insert().values(
                    channel_id=channel,
                    app_id=app_id,
                    user_id="u1",
                    username="chatty" if i < 2 else "other",
                    message=f"m{i}",
                    created_at=now + timedelta(seconds=i),
                )
            )

    inst.query(seed)
    page = inst.json("channel", "messages", "--app", app_id, "--channel", "main", "--limit", "2")
    assert [m["message"] for m in page["messages"]] == ["m2", "m1"] and page["next_cursor"]
    rest = inst.json(
        "channel", "messages", "--app", app_id, "--channel", "main", "--cursor", page["next_cursor"]
    )
    assert [m["message"] for m in rest["messages"]] == ["m0"]
    first = page["messages"][0]["id"]
    assert inst.json("channel", "delete-message", "--app", app_id, "--id", str(first))["deleted"]
    assert (
        inst.json(
            "channel",
            "delete-by-user",
            "--app",
            app_id,
            "--username",
            "chatty",
            "--channel",
            "main",
        )["deleted"]
        == 2
    )
    inst.json("channel", "mute", "--app", app_id, "--username", "chatty", "--reason", "spam")
    mutes = inst.json("channel", "mutes", "--app", app_id)["mutes"]
    assert [(m["username"], m["channel"], m["reason"]) for m in mutes] == [("chatty", None, "spam")]
    assert inst.json("channel", "unmute", "--app", app_id, "--username", "chatty")["removed"] == 1
    listed = inst.json("channel", "list", "--app", app_id)["channels"]
    assert [(c["name"], c["message_count"]) for c in listed] == [("main", 0)]
    inst.json("channel", "clear", "--app", app_id, "--channel", "main")
    assert inst.json("channel", "delete", "--app", app_id, "--channel", "main")["deleted"]
    inst.fails("channel", "clear", "--app", app_id, "--channel", "main", code="CHANNEL_NOT_FOUND")
    caps = set(capabilities(inst, app_id))
    assert {"channel.edit", "channel.delete_message", "channel.mute", "channel.delete"} <= caps


def test_rule_hash_and_version_commands(inst: Installation, tmp_path: Path) -> None:
    _, app_id = make_app(inst)
    inst.json("rule", "ip-add", "--app", app_id, "--value", "10.0.0.0/8")
    entries = tmp_path / "rules.txt"
    entries.write_text("# bulk\nsid SID-1 deny abuse\nip 192.0.2.1 allow\nip 10.0.0.0/8\n")
    assert inst.json("rule", "import", "--app", app_id, str(entries)) == {
        "app_id": app_id,
        "added": 2,
        "existing": 1,
    }
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "ip", "value": "1.2.3.4"}, {"kind": "ip", "value": "x"}]))
    inst.fails("rule", "import", "--app", app_id, str(bad), code="INVALID_INPUT")
    listed = inst.json("rule", "list", "--app", app_id)
    assert [(r["kind"], r["value"], r["list"]) for r in listed["rules"]] == [
        ("ip", "10.0.0.0/8", "deny"),
        ("ip", "192.0.2.1", "allow"),
        ("sid", "SID-1", "deny"),
    ]
    assert (listed["vpn_block"], listed["blocked_countries"]) == (False, [])
    check = inst.json("rule", "check", "--app", app_id, "--ip", "10.1.2.3")
    assert (check["blacklisted"], check["reason"]) == (True, "IP_BLOCKED")
    check = inst.json("rule", "check", "--app", app_id, "--ip", "192.0.2.1", "--sid", "sid-1")
    assert check["reason"] == "SID_BLOCKED"
    inst.json("rule", "remove", "--app", app_id, "--sid", "SID-1")
    inst.fails("rule", "remove", "--app", app_id, "--sid", "SID-1", code="RULE_NOT_FOUND")
    inst.fails("rule", "remove", "--app", app_id, code="USAGE", exit_code=2)
    assert inst.json("rule", "vpn", "--app", app_id, "on")["vpn_block"] is True
    assert inst.json("rule", "countries", "--app", app_id, "de,us")["blocked_countries"] == [
        "DE",
        "US",
    ]
    inst.fails("rule", "countries", "--app", app_id, "xyz", code="INVALID_INPUT")

    value = "CD" * 32
    inst.json("hash", "add", "--app", app_id, value)
    assert inst.json("hash", "enable", "--app", app_id)["changed"] is True
    hashes = inst.json("hash", "list", "--app", app_id)
    assert hashes["hash_check"] is True and hashes["hashes"][0]["hash"] == value.lower()
    inst.json("hash", "remove", "--app", app_id, value)
    inst.fails("hash", "remove", "--app", app_id, value, code="HASH_NOT_FOUND")
    assert inst.json("hash", "disable", "--app", app_id)["hash_check"] is False

    settings = inst.json("version", "settings", "--app", app_id, "--latest", "2.0")
    assert settings["latest_version"] == "2.0"
    assert inst.json("version", "test", "--app", app_id, "--version", "1.0")["outcome"] == (
        "UPDATE_REQUIRED"
    )
    inst.json("version", "add", "--app", app_id, "--version", "1.0", "--mode", "reminder")
    assert inst.json("version", "test", "--app", app_id, "--version", "1.0.0")["outcome"] == (
        "reminder"
    )
    edited = inst.json("version", "edit", "--app", app_id, "--version", "1.0", "--mode", "block")
    assert edited["mode"] == "block"
    versions = inst.json("version", "list", "--app", app_id)
    assert versions["settings"]["latest_version"] == "2.0" and versions["count"] == 1
    inst.json("version", "remove", "--app", app_id, "--version", "1.0")
    inst.fails("version", "remove", "--app", app_id, "--version", "1.0", code="VERSION_NOT_FOUND")
    caps = set(capabilities(inst, app_id))
    assert {"rule.import", "rule.set_vpn_block", "hash.enable", "version.settings"} <= caps
    assert "rule.check" not in caps and "version.test" not in caps


def test_log_commands(inst: Installation, tmp_path: Path) -> None:
    _, app_id = make_app(inst)
    old = datetime.now(UTC) - timedelta(days=5)

    async def seed(conn: AsyncConnection) -> None:
        for i in range(3):
            await conn.execute(
                client_logs.insert().values(
                    app_id=app_id,
                    identity_name="mara",
                    message=f"line {i}",
                    created_at=old + timedelta(days=i),
                )
            )
            await conn.execute(
                auth_events.insert().values(
                    app_id=app_id, endpoint="init", code="OK", created_at=old + timedelta(days=i)
                )
            )

    inst.query(seed)
    logs = inst.json("log", "list", "--app", app_id, "--text", "LINE")
    assert [entry["message"] for entry in logs["logs"]] == ["line 2", "line 1", "line 0"]
    out = tmp_path / "logs.csv"
    summary = inst.json("log", "export", "--app", app_id, "--output", str(out))
    assert summary["count"] == 3 and out.read_text().startswith("id,created_at,")
    exported = inst.json("log", "events-export", "--app", app_id, "--format", "json")
    assert exported["count"] == 3 and len(json.loads(exported["content"])) == 3
    raw = inst.invoke("log", "export", "--app", app_id, "--format", "csv")
    assert raw.exit_code == 0 and raw.stdout.count("\n") == 4
    events = inst.json("log", "events", "--app", app_id, "--limit", "1")
    assert len(events["events"]) == 1 and events["next_cursor"]
    inst.fails("log", "purge", "--app", app_id, code="INVALID_INPUT")
    cut = (old + timedelta(days=1, hours=12)).isoformat()
    assert inst.json("log", "purge", "--app", app_id, "--before", cut)["purged"] == 2
    assert inst.json("log", "events-purge", "--app", app_id, "--all")["purged"] == 3
    assert inst.json("log", "events", "--app", app_id)["events"] == []
    assert capabilities(inst, app_id).count("log.purge") == 2
