"""`licentia token`, `licentia elite-key` and `licentia audit` on a fresh installation."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store import tables as t

from .conftest import Installation

TOKEN_RE = re.compile(r"lic_[A-Za-z0-9]{40}")
ELITE_RE = re.compile(r"ek_[A-Za-z0-9_-]{43}")


def make_owner(install: Installation) -> str:
    owner = install.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )
    return str(owner["owner_id"])


def every_value(install: Installation) -> str:
    async def go(conn: AsyncConnection) -> str:
        parts: list[str] = []
        for table in t.metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                parts.extend(str(v) for v in row)
        return "\n".join(parts)

    return str(install.query(go))


def test_token_create_list_revoke(install: Installation) -> None:
    owner = make_owner(install)
    app = install.json("app", "create", "--owner", owner, "--name", "MyApp")
    body = install.json(
        "token",
        "create",
        "--owner",
        owner,
        "--scope",
        "license:write",
        "--scope",
        "user.ban",
        "--app",
        app["app_id"],
        "--expires",
        "2999-01-01T00:00:00.000+02:00",
    )
    assert TOKEN_RE.fullmatch(body["token"])
    assert body["name"] == "cli"
    assert body["scopes"] == ["license:write", "user.ban"]
    assert body["apps"] == [app["app_id"]]
    assert body["expires_at"] == "2998-12-31T22:00:00Z"
    assert body["token"] not in every_value(install)

    minimal = install.json("token", "create", "--owner", owner, "--scope", "app:read")
    assert TOKEN_RE.fullmatch(minimal["token"]) and minimal["apps"] is None

    listed = install.json("token", "list", "--owner", owner)["tokens"]
    assert {x["id"] for x in listed} == {body["id"], minimal["id"]}
    assert all("token" not in x and x["status"] == "active" for x in listed)
    assert body["token"][:8] in {x["prefix"] for x in listed}

    revoked = install.json("token", "revoke", "--owner", owner, body["id"])
    assert revoked["id"] == body["id"] and revoked["revoked_at"]
    listed = install.json("token", "list", "--owner", owner)["tokens"]
    assert {x["id"]: x["status"] for x in listed}[body["id"]] == "revoked"

    entries = install.json("audit", "list", "--owner", owner, "--capability", "token")["entries"]
    assert [e["capability"] for e in entries] == ["token.revoke", "token.create", "token.create"]
    assert all(e["actor_kind"] == "cli" and e["face"] == "cli" for e in entries)


def test_token_errors(install: Installation) -> None:
    owner = make_owner(install)
    other = make_owner(install)
    created = install.json("token", "create", "--owner", owner, "--scope", "app:read")
    install.fails("token", "revoke", "--owner", other, created["id"], code="TOKEN_NOT_FOUND")
    install.fails("token", "create", "--owner", owner, "--scope", "nope.x", code="INVALID_INPUT")
    install.fails(
        "token", "create", "--owner", "99999999", "--scope", "app:read", code="OWNER_NOT_FOUND"
    )
    install.fails(
        "token",
        "create",
        "--owner",
        owner,
        "--scope",
        "app:read",
        "--expires",
        "yesterday",
        code="USAGE",
        exit_code=2,
    )
    install.fails(
        "token",
        "create",
        "--owner",
        owner,
        "--scope",
        "app:read",
        "--expires",
        "2000-01-01",
        code="INVALID_INPUT",
    )
    done = install.subprocess("token", "create", "--owner", owner, "--json")  # no --scope
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"] == "USAGE"

    async def tokens(conn: AsyncConnection) -> list[Any]:
        return list((await conn.execute(select(t.api_tokens.c.id))).all())

    assert len(install.query(tokens)) == 1


def test_elite_key_commands(install: Installation) -> None:
    owner = make_owner(install)
    first = install.json("elite-key", "rotate", "--owner", owner)
    assert ELITE_RE.fullmatch(first["elite_key"])
    second = install.json("elite-key", "rotate", "--owner", owner)
    assert second["elite_key"] != first["elite_key"]
    stored = every_value(install)
    assert first["elite_key"] not in stored and second["elite_key"] not in stored

    shown = install.json("elite-key", "show", "--owner", owner)
    assert shown["has_key"] is True and shown["prefix"] == second["elite_key"][:8]
    assert "elite_key" not in shown

    body = install.json("elite-key", "disable", "--owner", owner, "license.ban", "user.delete")
    assert body["disabled_capabilities"] == ["license.ban", "user.delete"]
    body = install.json("elite-key", "enable", "--owner", owner, "user.delete")
    assert body["disabled_capabilities"] == ["license.ban"]
    install.fails("elite-key", "disable", "--owner", owner, "ping.ping", code="INVALID_INPUT")

    body = install.json(
        "elite-key", "rule-add", "--owner", owner, "--list", "ip_allow", "--value", "10.1.0.0/16"
    )
    assert body["ip_allow"] == ["10.1.0.0/16"]
    body = install.json(
        "elite-key", "rule-add", "--owner", owner, "--list", "domain_deny", "--value", "*.Evil.io"
    )
    assert body["domain_deny"] == ["*.evil.io"]
    install.fails(
        "elite-key",
        "rule-add",
        "--owner",
        owner,
        "--list",
        "ip_allow",
        "--value",
        "not-an-ip",
        code="INVALID_INPUT",
    )
    install.fails(
        "elite-key",
        "rule-remove",
        "--owner",
        owner,
        "--list",
        "ip_deny",
        "--value",
        "1.2.3.4",
        code="RULE_NOT_FOUND",
    )
    body = install.json(
        "elite-key", "rule-remove", "--owner", owner, "--list", "ip_allow", "--value", "10.1.0.0/16"
    )
    assert body["ip_allow"] == []

    assert install.json("elite-key", "delete", "--owner", owner)["deleted"] is True
    assert install.json("elite-key", "delete", "--owner", owner)["deleted"] is False
    assert install.json("elite-key", "show", "--owner", owner)["has_key"] is False

    entries = install.json("audit", "list", "--owner", owner, "--limit", "500")["entries"]
    assert [e["capability"] for e in reversed(entries)] == [
        "elite-key.rotate",
        "elite-key.rotate",
        "elite-key.set_capabilities",
        "elite-key.set_capabilities",
        "elite-key.add_rule",
        "elite-key.add_rule",
        "elite-key.remove_rule",
        "elite-key.delete",
    ]
    assert entries[-1]["changes"] == {"elite_key": "changed"}


def test_audit_list_pages_and_export(install: Installation) -> None:
    owner = make_owner(install)
    for _ in range(3):
        install.json("token", "create", "--owner", owner, "--scope", "app:read")
    page = install.json("audit", "list", "--owner", owner, "--limit", "2")
    assert len(page["entries"]) == 2 and page["next_cursor"]
    rest = install.json("audit", "list", "--owner", owner, "--cursor", page["next_cursor"])
    assert len(rest["entries"]) == 1 and rest["next_cursor"] is None
    install.fails("audit", "list", "--owner", owner, "--limit", "0", code="INVALID_INPUT")
    install.fails("audit", "list", "--owner", "99999999", code="OWNER_NOT_FOUND")

    result = install.invoke("audit", "export", "--owner", owner, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3 and {r["capability"] for r in rows} == {"token.create"}

    body = install.json("audit", "export", "--owner", owner, "--format", "json")
    assert body["format"] == "json" and body["data"].startswith("[")
    install.fails("audit", "export", "--owner", owner, "--format", "xml", code="INVALID_INPUT")


def test_token_create_as_a_real_process(install: Installation) -> None:
    owner = make_owner(install)
    done = install.subprocess(
        "token", "create", "--owner", owner, "--scope", "license:read", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN_RE.fullmatch(json.loads(done.stdout)["token"])
    done = install.subprocess("elite-key", "rotate", "--owner", owner, "--json")
    assert done.returncode == 0, done.stderr
    assert ELITE_RE.fullmatch(json.loads(done.stdout)["elite_key"])
