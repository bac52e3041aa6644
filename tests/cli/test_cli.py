"""The `licentia` CLI on a fresh installation (SQLite, or PostgreSQL via
LICENTIA_TEST_DATABASE_URL): JSON contracts, errors, and what each command leaves behind."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.cli._support import mask_url
from licentia.store import tables as t

from .conftest import Installation, parse_one_object

HEX64 = re.compile(r"[0-9a-f]{64}")
DEFAULT_KEY = re.compile(r"[A-Z0-9]{5}(-[A-Z0-9]{5}){4}")


def count(install: Installation, table: Any, *where: Any) -> int:
    async def go(conn: AsyncConnection) -> int:
        query = select(func.count()).select_from(table)
        for clause in where:
            query = query.where(clause)
        return int((await conn.execute(query)).scalar_one())

    return int(install.query(go))


def app_row(install: Installation, app_id: str) -> Any:
    async def go(conn: AsyncConnection) -> Any:
        return (await conn.execute(select(t.apps).where(t.apps.c.id == app_id))).one()

    return install.query(go)


def make_app(install: Installation, name: str = "MyApp") -> tuple[str, str, str]:
    """(owner_id, app_id, secret) of a new app with a `Default` subscription."""
    owner = install.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )
    created = install.json("app", "create", "--owner", owner["owner_id"], "--name", name)
    install.json("subscription", "create", "--app", created["app_id"], "--name", "Default")
    return owner["owner_id"], created["app_id"], created["secret"]


# -- basics ------------------------------------------------------------------------------


def test_migrate_on_fresh_data_dir(install: Installation) -> None:
    body = install.json("migrate")
    assert body["migrated"] is True
    assert body["database"] == mask_url(install.url)
    if install.database_url is None:
        assert (install.data_dir / "licentia.db").exists()
    assert count(install, t.accounts) == 0


def test_mask_url_hides_password() -> None:
    masked = mask_url("postgresql+asyncpg://lic:s3cret@db:5432/licentia")
    assert "s3cret" not in masked and "lic:***@db" in masked


def test_data_dir_option_overrides_env(install: Installation, tmp_path: Any) -> None:
    other = tmp_path / "elsewhere"
    result = install.invoke("--data-dir", str(other), "signing-key", "show", "--json")
    assert result.exit_code == 0, result.stderr
    assert (other / "master.key").exists()
    assert not (install.data_dir / "master.key").exists()


def test_owner_and_app_create(install: Installation) -> None:
    owner = install.json(
        "owner", "create", "--username", "Vendor", "--password", "pw", "--email", "v@x.io"
    )
    assert set(owner) >= {"owner_id", "id", "username"}
    assert re.fullmatch(r"\d{8}", owner["owner_id"])
    assert owner["username"] == "Vendor"
    created = install.json("app", "create", "--owner", owner["owner_id"], "--name", "MyApp")
    assert set(created) >= {"app_id", "owner_id", "app_name", "secret"}
    assert created["owner_id"] == owner["owner_id"] and created["app_name"] == "MyApp"
    assert HEX64.fullmatch(created["secret"])
    row = app_row(install, created["app_id"])
    assert created["secret"] not in row.secret_enc
    shown = install.json("app", "secret", created["app_id"])
    assert shown["secret"] == created["secret"]


def test_errors_are_one_json_object_and_one_stderr_line(install: Installation) -> None:
    owner = install.json("owner", "create", "--username", "dup", "--password", "pw")
    body = install.fails(
        "owner", "create", "--username", "DUP", "--password", "pw", code="ALREADY_EXISTS"
    )
    assert "already exists" in body["message"]
    install.fails("app", "create", "--owner", "00000000", "--name", "X", code="OWNER_NOT_FOUND")
    install.fails(
        "app", "create", "--owner", owner["owner_id"], "--name", "a<b", code="INVALID_INPUT"
    )
    install.fails("app", "set", "nope", "hwid_lock", "off", code="APP_NOT_FOUND")


def test_errors_without_json(install: Installation) -> None:
    install.json("owner", "create", "--username", "dup", "--password", "pw")
    result = install.invoke("owner", "create", "--username", "dup", "--password", "pw")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_usage_errors_exit_2(install: Installation) -> None:
    result = install.invoke("owner", "create", "--username", "x", "--json")
    assert result.exit_code == 2
    result = install.invoke("serve", "--port", "0")
    assert result.exit_code == 2


# -- apps --------------------------------------------------------------------------------


def test_app_set(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    body = install.json("app", "set", app_id, "hwid_lock", "off")
    assert body == {"app_id": app_id, "setting": "hwid_lock", "value": False, "warnings": []}
    body = install.json("app", "set", app_id, "blocked-countries", "us,de")
    assert body["setting"] == "blocked_countries" and body["value"] == "US,DE"
    body = install.json("app", "set", app_id, "changelog", "a < b")
    assert body["warnings"]
    assert app_row(install, app_id).config_rev == 4
    body = install.fails("app", "set", app_id, "colour", "red", code="INVALID_INPUT")
    assert "session_idle_timeout" in body["message"]
    install.fails("app", "set", app_id, "session_idle_timeout", "0", code="INVALID_INPUT")
    install.fails("app", "set", app_id, "reminder_message", "x=y", code="INVALID_INPUT")
    row = app_row(install, app_id)
    assert row.config_rev == 4 and row.hwid_lock is False and row.session_idle_timeout == 3600
    shown = install.json("app", "show", app_id)
    assert shown["hwid_lock"] is False and shown["config_rev"] == 4


def test_app_set_human_output_shows_warning(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    result = install.invoke("app", "set", app_id, "download_url", "https://x/?a=1&b=2")
    assert result.exit_code == 0
    assert "download_url" in result.stdout
    assert "warning" in result.stderr


def test_secret_regenerate(install: Installation) -> None:
    _, app_id, secret = make_app(install)
    body = install.json("app", "secret", app_id, "--regenerate")
    assert body["secret"] != secret and HEX64.fullmatch(body["secret"])
    assert install.json("app", "secret", app_id)["secret"] == body["secret"]


# -- licenses ----------------------------------------------------------------------------


def test_license_generate(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    body = install.json(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "default",
        "--days",
        "30",
        "--count",
        "3",
    )
    assert list(body) == ["keys"]
    assert len(body["keys"]) == 3 and all(DEFAULT_KEY.fullmatch(k) for k in body["keys"])
    masked = install.json(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Default",
        "--lifetime",
        "--mask",
        "pre-****-XXXX",
        "--lowercase",
        "--no-capital",
        "--no-numbers",
    )
    [key] = masked["keys"]
    assert re.fullmatch(r"pre-[a-z]{4}-[a-z]{4}", key)
    fixed = install.json(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Default",
        "--expires",
        "2027-01-01T00:00:00Z",
        "--device-limit",
        "0",
        "--note",
        "promo",
    )

    async def rows(conn: AsyncConnection) -> Any:
        return (
            await conn.execute(select(t.licenses).where(t.licenses.c.key == fixed["keys"][0]))
        ).one()

    row = install.query(rows)
    assert row.fixed_expiry == datetime(2027, 1, 1, tzinfo=UTC)
    assert (row.duration_days, row.device_limit, row.note) == (None, 0, "promo")


def test_license_generate_many(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    started = time.perf_counter()
    body = install.json(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Default",
        "--days",
        "1",
        "--count",
        "5000",
    )
    assert time.perf_counter() - started < 30
    assert len(set(body["keys"])) == 5000
    assert count(install, t.licenses) == 5000


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(["--mask", "XXXX-XXX"], id="short-mask"),
        pytest.param(["--mask", "XXXXXXXX!"], id="bad-char"),
        pytest.param(["--count", "0"], id="count-zero"),
        pytest.param(["--count", "100001"], id="count-big"),
        pytest.param(["--no-capital", "--no-numbers"], id="no-charset"),
    ],
)
def test_license_generate_refused_creates_nothing(install: Installation, extra: list[str]) -> None:
    _, app_id, _ = make_app(install)
    install.fails(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Default",
        "--days",
        "1",
        *extra,
        code="INVALID_INPUT",
    )
    assert count(install, t.licenses) == 0


def test_license_generate_term_is_a_usage_error(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    base = ("license", "generate", "--app", app_id, "--subscription", "Default")
    install.fails(*base, code="USAGE", exit_code=2)
    install.fails(*base, "--days", "1", "--lifetime", code="USAGE", exit_code=2)
    install.fails(*base, "--expires", "soon", code="USAGE", exit_code=2)
    install.fails(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Gold",
        "--days",
        "1",
        code="SUBSCRIPTION_NOT_FOUND",
    )
    assert count(install, t.licenses) == 0


def test_license_generate_human_output_is_plain_keys(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    result = install.invoke(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Default",
        "--days",
        "1",
        "--count",
        "4",
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(DEFAULT_KEY.fullmatch(k) for k in lines)
    assert "4 key(s) generated" in result.stderr


def test_license_ban_cycle_ends_sessions(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    [key] = install.json(
        "license", "generate", "--app", app_id, "--subscription", "Default", "--days", "1"
    )["keys"]

    async def add_session(conn: AsyncConnection) -> str:
        license_id = (
            await conn.execute(select(t.licenses.c.id).where(t.licenses.c.key == key))
        ).scalar_one()
        id_hash = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
        now = datetime.now(UTC)
        await conn.execute(
            t.sessions.insert().values(
                id_hash=id_hash,
                prefix="abcdef01",
                app_id=app_id,
                identity_kind="license",
                identity_id=license_id,
                created_at=now,
                last_seen_at=now,
            )
        )
        return id_hash

    id_hash = install.query(add_session)
    body = install.json("license", "ban", "--app", app_id, key, "--reason", "fraud")
    assert {k: body[k] for k in ("key", "app_id", "action", "banned", "paused")} == {
        "key": key,
        "app_id": app_id,
        "action": "ban",
        "banned": True,
        "paused": False,
    }
    assert install.json("license", "ban", "--app", app_id, key)["banned"] is True

    async def session(conn: AsyncConnection) -> Any:
        return (await conn.execute(select(t.sessions).where(t.sessions.c.id_hash == id_hash))).one()

    ended = install.query(session)
    assert ended.ended_at is not None and ended.end_reason == "banned"
    assert install.json("license", "unban", "--app", app_id, key)["banned"] is False
    assert install.json("license", "unban", "--app", app_id, key)["banned"] is False
    assert install.json("license", "pause", "--app", app_id, key)["paused"] is True
    assert install.json("license", "pause", "--app", app_id, key)["paused"] is True
    body = install.json("license", "unpause", "--app", app_id, key)
    assert body["paused"] is False and body["action"] == "unpause"
    install.fails("license", "ban", "--app", app_id, "NOPE", code="LICENSE_NOT_FOUND")


def test_license_add(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    body = install.json(
        "license", "add", "--app", app_id, "--key", "VIP-0001", "--subscription", "Default"
    )
    assert body["key"] == "VIP-0001" and body["status"] == "unused"
    install.fails(
        "license",
        "add",
        "--app",
        app_id,
        "--key",
        "VIP-0001",
        "--subscription",
        "Default",
        code="ALREADY_EXISTS",
    )
    install.fails(
        "license",
        "add",
        "--app",
        app_id,
        "--key",
        "bad key",
        "--subscription",
        "Default",
        code="INVALID_INPUT",
    )


# -- users, devices, variables, channels -------------------------------------------------


def test_user_commands(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    created = install.json(
        "user",
        "create",
        "--app",
        app_id,
        "--username",
        "Mara",
        "--password",
        "pw",
        "--subscription",
        "Default",
        "--days",
        "10",
    )
    assert created["username"] == "Mara" and created["expiry_date"].endswith("Z")
    for action, banned, paused in [
        ("ban", True, False),
        ("ban", True, False),
        ("unban", False, False),
        ("pause", False, True),
        ("unpause", False, False),
    ]:
        body = install.json("user", action, "--app", app_id, "mara")
        assert (body["action"], body["banned"], body["paused"]) == (action, banned, paused)
    install.fails("user", "ban", "--app", app_id, "ghost", code="USER_NOT_FOUND")
    install.json("user", "delete", "--app", app_id, "MARA")
    assert count(install, t.users) == 0


def test_device_commands(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    body = install.json(
        "device",
        "create",
        "--app",
        app_id,
        "--type",
        "motherboard",
        "--id",
        "MB-1",
        "--subscription",
        "Default",
        "--days",
        "10",
        "--name",
        "rig",
    )
    assert set(body) >= {"id", "device_type", "device_id", "expiry_date"}
    assert body["device_type"] == "motherboard" and body["device_id"] == "MB-1"
    assert body["expiry_date"].endswith("Z")
    life = install.json(
        "device",
        "create",
        "--app",
        app_id,
        "--type",
        "processor",
        "--id",
        "CPU-1",
        "--subscription",
        "Default",
        "--lifetime",
    )
    assert life["expiry_date"] is None
    install.fails(
        "device",
        "create",
        "--app",
        app_id,
        "--type",
        "gpu",
        "--id",
        "G",
        "--subscription",
        "Default",
        "--lifetime",
        code="INVALID_INPUT",
    )
    install.fails(
        "device",
        "create",
        "--app",
        app_id,
        "--type",
        "motherboard",
        "--id",
        "mb-1",
        "--subscription",
        "Default",
        "--lifetime",
        code="ALREADY_EXISTS",
    )
    install.fails(
        "device",
        "create",
        "--app",
        app_id,
        "--type",
        "motherboard",
        "--id",
        "M2",
        "--subscription",
        "Default",
        code="USAGE",
        exit_code=2,
    )
    ban = install.json("device", "ban", "--app", app_id, "--type", "motherboard", "--id", "mb-1")
    assert ban["banned"] is True and ban["device_id"] == "MB-1"
    assert install.json(
        "device", "pause", "--app", app_id, "--type", "motherboard", "--id", "MB-1"
    )["paused"]
    assert not install.json(
        "device", "unpause", "--app", app_id, "--type", "motherboard", "--id", "MB-1"
    )["paused"]
    assert not install.json(
        "device", "unban", "--app", app_id, "--type", "motherboard", "--id", "MB-1"
    )["banned"]


def test_variable_and_channel(install: Installation) -> None:
    _, app_id, _ = make_app(install)
    var = install.json(
        "variable",
        "set",
        "--app",
        app_id,
        "--key",
        "motd",
        "--value",
        "hi",
        "--read-only",
        "--auth-required",
    )
    assert {k: var[k] for k in ("app_id", "key", "value", "writable", "auth_required")} == {
        "app_id": app_id,
        "key": "motd",
        "value": "hi",
        "writable": False,
        "auth_required": True,
    }
    kept = install.json("variable", "set", "--app", app_id, "--key", "motd", "--value", "bye")
    assert (kept["value"], kept["writable"], kept["auth_required"]) == ("bye", False, True)
    assert install.json(
        "variable", "set", "--app", app_id, "--key", "motd", "--value", "x", "--writable"
    )["writable"]
    install.fails(
        "variable", "set", "--app", app_id, "--key", "bad key", "--value", "v", code="INVALID_INPUT"
    )
    channel = install.json(
        "channel", "create", "--app", app_id, "--name", "general", "--send-delay", "5"
    )
    assert set(channel) >= {"id", "app_id", "name", "send_delay"}
    assert (channel["name"], channel["send_delay"]) == ("general", 5)
    install.fails("channel", "create", "--app", app_id, "--name", "GENERAL", code="ALREADY_EXISTS")
    install.json(
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
    mute = install.json(
        "channel", "mute", "--app", app_id, "--username", "chatty", "--channel", "general"
    )
    assert mute["expires_at"] is None


# -- rules -------------------------------------------------------------------------------


def test_rule_commands_bump_config_rev(install: Installation) -> None:
    owner_id, app_id, _ = make_app(install)
    assert (
        install.json("rule", "ip-add", "--app", app_id, "--value", "10.0.0.7/8", "--list", "deny")[
            "value"
        ]
        == "10.0.0.0/8"
    )
    assert (
        install.json("rule", "sid-add", "--app", app_id, "--sid", "S-1-5", "--list", "allow")[
            "list"
        ]
        == "allow"
    )
    grace = install.json(
        "version",
        "add",
        "--app",
        app_id,
        "--version",
        "1.0.0",
        "--mode",
        "grace",
        "--until",
        "2030-01-01",
    )
    assert grace["allowed_until"] == "2030-01-01T00:00:00Z"
    install.fails(
        "version",
        "add",
        "--app",
        app_id,
        "--version",
        "2.0",
        "--mode",
        "grace",
        code="INVALID_INPUT",
    )
    assert install.json("hash", "add", "--app", app_id, "AB" * 32)["hash"] == "ab" * 32
    msg = install.json(
        "response", "set", "--app", app_id, "--code", "USER_BANNED", "--message", "Banned, sorry"
    )
    assert msg["is_default"] is False
    install.fails(
        "response",
        "set",
        "--app",
        app_id,
        "--code",
        "INTERNAL",
        "--message",
        "x",
        code="INVALID_INPUT",
    )
    install.fails("rule", "ip-add", "--app", app_id, "--value", "999.1.1.1", code="INVALID_INPUT")
    assert app_row(install, app_id).config_rev == 6
    assert install.json("owner", "suspend", owner_id)["status"] == "suspended"
    assert app_row(install, app_id).config_rev == 7
    assert install.json("owner", "unsuspend", owner_id)["status"] == "active"


# -- signing keys ------------------------------------------------------------------------


def test_signing_key_show_and_rotate(install: Installation) -> None:
    first = install.json("signing-key", "show")
    assert set(first) == {"kid", "pem", "der_base64"}
    assert re.fullmatch(r"[0-9a-f]{16}", first["kid"])
    assert install.json("signing-key", "show")["kid"] == first["kid"]
    pem = install.invoke("signing-key", "show", "--pem")
    assert pem.exit_code == 0 and pem.stdout == first["pem"]
    human = install.invoke("signing-key", "show")
    assert first["kid"] in human.stdout and "BEGIN PUBLIC KEY" in human.stdout
    rotated = install.json("signing-key", "rotate")
    assert rotated["kid"] != first["kid"] and rotated["previous_kid"] == first["kid"]
    assert rotated["warnings"]
    assert install.json("signing-key", "show")["kid"] == rotated["kid"]
    result = install.invoke("signing-key", "rotate")
    assert result.exit_code == 0 and "stop" in result.stderr


# -- quickstart and serve ----------------------------------------------------------------


def test_quickstart_twice(install: Installation) -> None:
    first = install.json("quickstart", "--no-serve")
    assert set(first) >= {"owner_id", "app_id", "app_name", "secret", "public_key_pem", "keys"}
    assert first["app_name"] == "DemoApp" and HEX64.fullmatch(first["secret"])
    assert first["owner_password"] and len(first["keys"]) == 5
    assert first["public_key_pem"] == install.json("signing-key", "show")["pem"]
    second = install.json("quickstart", "--no-serve")
    for name in ("owner_id", "app_id", "app_name", "secret", "public_key_pem"):
        assert second[name] == first[name]
    assert second["owner_password"] is None
    assert sorted(second["keys"]) == sorted(first["keys"])  # unused keys left: no new ones
    assert count(install, t.licenses) == 5
    for key in first["keys"]:
        install.json("license", "ban", "--app", first["app_id"], key)
    third = install.json("quickstart", "--no-serve")
    assert len(third["keys"]) == 5 and not set(third["keys"]) & set(first["keys"])
    assert count(install, t.licenses) == 10
    assert count(install, t.accounts) == 1 and count(install, t.apps) == 1


def test_quickstart_human_output(install: Installation) -> None:
    result = install.invoke("quickstart", "--no-serve", "--port", "9090")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "from authlyx_api import Auth" in out
    assert 'api="http://127.0.0.1:9090/api/v2"' in out
    assert "requireSignedResponses=True" in out and "BEGIN PUBLIC KEY" in out
    assert "shown only this once" in out
    assert "http://127.0.0.1:9090/dashboard/" in out and "sign in as demo" in out
    again = install.invoke("quickstart", "--no-serve")
    assert "existing owner" in again.stdout and "reset-password" in again.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_runs_uvicorn(install: Installation, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from licentia.cli import serving

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    seen_env: dict[str, str | None] = {}
    port = _free_port()

    def fake_run(sock: Any, *args: Any, **kwargs: Any) -> None:
        # uvicorn gets a socket the CLI bound before it announced anything.
        assert sock.getsockname() == ("127.0.0.1", port)
        sock.close()
        calls.append((args, kwargs))
        for name in ("LICENTIA_DATA_DIR", "LICENTIA_HOST", "LICENTIA_PORT", "LICENTIA_WORKERS"):
            seen_env[name] = os.environ.get(name)

    monkeypatch.setattr(serving, "run", fake_run)
    result = install.invoke(
        "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--json"
    )
    assert result.exit_code == 0, result.stderr
    body = parse_one_object(result.stdout)
    assert body["url"] == f"http://127.0.0.1:{port}" and body["workers"] == 2
    [(args, kwargs)] = calls
    assert args == ("licentia.api.app:create_app_from_env",)
    assert kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", port, 2)
    assert (kwargs["loop"], kwargs["http"]) == (
        "uvloop",
        "licentia.server.protocols:HttpToolsProtocol",  # httptools with the #14 limits
    )
    assert kwargs["timeout_keep_alive"] == 5.0
    assert kwargs["proxy_headers"] is False
    assert kwargs["server_header"] is False and kwargs["date_header"] is False
    assert seen_env["LICENTIA_PORT"] == str(port) and seen_env["LICENTIA_WORKERS"] == "2"
    assert seen_env["LICENTIA_DATA_DIR"] == str(install.data_dir.resolve())
    # The signing key exists before any worker starts.
    assert count(install, t.signing_keys, t.signing_keys.c.status == "active") == 1


def test_quickstart_serves_unless_told_not_to(
    install: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from licentia.cli import serving

    calls: list[dict[str, Any]] = []

    def fake_run(sock: Any, *args: Any, **kwargs: Any) -> None:
        sock.close()
        calls.append(kwargs)

    monkeypatch.setattr(serving, "run", fake_run)
    port = _free_port()
    body = install.json("quickstart", "--port", str(port))
    assert body["api_url"] == f"http://127.0.0.1:{port}/api/v2"
    assert body["dashboard_url"] == f"http://127.0.0.1:{port}/dashboard/"
    assert [c["port"] for c in calls] == [port]


# -- real subprocesses -------------------------------------------------------------------


def test_subprocess_json_round_trip(install: Installation) -> None:
    proc = install.subprocess("owner", "create", "--username", "proc", "--password", "pw", "--json")
    assert proc.returncode == 0, proc.stderr
    owner = parse_one_object(proc.stdout)
    proc = install.subprocess(
        "app", "create", "--owner", owner["owner_id"], "--name", "ProcApp", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    created = parse_one_object(proc.stdout)
    assert HEX64.fullmatch(created["secret"])
    proc = install.subprocess("quickstart", "--no-serve", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(parse_one_object(proc.stdout)["keys"]) == 5


def test_subprocess_errors(install: Installation) -> None:
    proc = install.subprocess("app", "create", "--owner", "12345678", "--name", "X", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {
        "error": "OWNER_NOT_FOUND",
        "message": "no owner with owner id '12345678'",
    }
    assert proc.stderr.strip().startswith("error: ") and "Traceback" not in proc.stderr
    proc = install.subprocess("license", "generate", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"] == "USAGE"
    assert "Traceback" not in proc.stderr
    proc = install.subprocess("signing-key", "show", "--pem")
    assert proc.returncode == 0 and proc.stdout.startswith("-----BEGIN PUBLIC KEY-----")
