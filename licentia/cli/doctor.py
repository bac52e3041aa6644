"""`licentia doctor`: check an installation and say what to fix (issue #12 item 6).

Checks configuration, database, migrations, master key, signing key, Redis, clock skew, proxy
settings and file permissions. It only reads: no migration, no new database file, no
generated master key. Each check is `ok`, `warn` or `fail`; the exit status is 1 when any
check fails. `--json` prints `{"ok", "problems", "warnings", "checks": [...]}`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import stat
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from licentia.cli._support import CliState, _describe, console, emit_json
from licentia.cli.groups import JsonOpt, app
from licentia.config import Settings
from licentia.configcheck import describe_database, unknown_variables
from licentia.crypto.secretbox import MasterKeyError, SecretBox, parse_master_key
from licentia.services.runtime import sample_secret
from licentia.store.tables import signing_keys

#: Clock difference (seconds) to the database or Redis server that is worth a warning.
SKEW_WARN = 5.0


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _settings(ctx: typer.Context) -> tuple[Settings | None, list[Check]]:
    state = ctx.find_root().obj
    data_dir = state.data_dir if isinstance(state, CliState) else None
    checks = [
        Check(
            "config",
            "warn",
            f"unknown setting {name} is ignored",
            f"rename it to {close}" if close else "remove it",
        )
        for name, close in unknown_variables(os.environ)
    ]
    try:
        settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    except ValidationError as exc:
        checks.append(Check("config", "fail", _describe(exc)[1], "fix the named variables"))
        return None, checks
    note = f"LICENTIA_ENV={settings.env}, data folder {settings.data_dir.resolve()}"
    checks.append(Check("config", "ok", note))
    if settings.is_sqlite and settings.workers > 1:
        checks.append(
            Check(
                "config",
                "warn",
                f"SQLite with LICENTIA_WORKERS={settings.workers}",
                "use one worker on SQLite, or PostgreSQL for more",
            )
        )
    return settings, checks


def _sqlite_path(settings: Settings) -> Path | None:
    database = make_url(settings.resolved_database_url).database or ""
    if not database or database.startswith((":memory:", "file:")):
        return None
    return Path(database)


def _master_key(settings: Settings) -> tuple[bytes | None, Check]:
    path = settings.data_dir / "master.key"
    source = "LICENTIA_MASTER_KEY" if settings.master_key else str(path.resolve())
    try:
        if settings.master_key:
            return parse_master_key(settings.master_key), Check("master key", "ok", source)
        if path.exists():
            return parse_master_key(path.read_text()), Check("master key", "ok", source)
    except (MasterKeyError, OSError) as exc:
        return None, Check("master key", "fail", f"{source}: {exc}", "restore the right key")
    if settings.env == "production":
        fix = "set LICENTIA_MASTER_KEY or restore master.key (production never generates one)"
        return None, Check("master key", "fail", f"no master key ({source} is missing)", fix)
    detail = f"no master key yet: {source} is generated at first use"
    return None, Check("master key", "warn", detail, "back it up with the database")


async def _secrets_check(conn: AsyncConnection, key: bytes | None) -> Check | None:
    """Whether the key decrypts the database's secrets (None: nothing to compare)."""
    sample = await sample_secret(conn)
    if sample is None:
        return None
    if key is None:
        fix = "restore master.key or set LICENTIA_MASTER_KEY"
        return Check("master key", "fail", "the database holds secrets but no key is set", fix)
    try:
        SecretBox(key).decrypt(*sample)
    except MasterKeyError:
        detail = "the master key does not decrypt this database's secrets"
        return Check("master key", "fail", detail, "restore the master key they were made with")
    return Check("master key", "ok", "decrypts the database's secrets")


async def _schema_checks(conn: AsyncConnection, settings: Settings) -> list[Check]:
    from alembic.script import ScriptDirectory

    from licentia.store.migrate import alembic_config

    heads = set(
        ScriptDirectory.from_config(alembic_config(settings.resolved_database_url)).get_heads()
    )
    current: set[str] = set()
    if await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        current = {row[0] for row in rows}
    label = describe_database(settings.resolved_database_url)
    if current != heads:
        shown = ", ".join(sorted(current)) or "none"
        return [Check("database", "ok", label),
                Check("migrations", "fail", f"at {shown}, head is {', '.join(sorted(heads))}",
                      "run licentia migrate")]  # fmt: skip
    active = (
        await conn.execute(
            select(func.count()).select_from(signing_keys).where(signing_keys.c.status == "active")
        )
    ).scalar_one()
    signing = (
        Check("signing key", "ok", "one active key")
        if active == 1
        else Check(
            "signing key",
            "warn",
            "no active signing key yet",
            "licentia signing-key show creates one (serve does too)",
        )
    )
    return [
        Check("database", "ok", label),
        Check("migrations", "ok", f"at head {', '.join(sorted(heads))}"),
        signing,
    ]


async def _database_checks(settings: Settings, key: bytes | None) -> list[Check]:
    label = describe_database(settings.resolved_database_url)
    path = _sqlite_path(settings) if settings.is_sqlite else None
    if path is not None and not path.exists():
        fix = (
            "run in the folder that holds the server's data folder, set LICENTIA_DATA_DIR or "
            "LICENTIA_DATABASE_URL; or licentia migrate to create a new database"
        )
        return [Check("database", "fail", f"no database: {label} does not exist", fix)]
    engine = create_async_engine(settings.resolved_database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            checks = await _schema_checks(conn, settings)
            if checks[-1].name == "signing key":  # the schema is current
                found = await _secrets_check(conn, key)
                checks += [found] if found is not None else []
            if not settings.is_sqlite:
                server_now = (await conn.execute(text("SELECT now()"))).scalar_one()
                checks.append(_skew("database server", server_now))
            return checks
    except Exception as exc:
        from licentia.cli import diagnose

        explained = diagnose.explain(exc, settings)
        message = explained.message if explained is not None else _describe(exc)[1]
        return [Check("database", "fail", message, "start the database or fix its URL")]
    finally:
        await engine.dispose()


def _skew(source: str, server_now: datetime) -> Check:
    if server_now.tzinfo is None:
        server_now = server_now.replace(tzinfo=UTC)
    skew = abs((datetime.now(UTC) - server_now).total_seconds())
    detail = f"{skew:.1f} s from the {source}"
    if skew > SKEW_WARN:
        fix = "synchronise the clocks with NTP (SDKs reject responses more than 300 s off)"
        return Check("clock", "warn", detail, fix)
    return Check("clock", "ok", detail)


def _ntp_check() -> Check | None:
    if shutil.which("timedatectl") is None:
        return None
    try:
        done = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    if done.returncode != 0 or value not in ("yes", "no"):
        return None
    if value == "yes":
        return Check("clock", "ok", "NTP synchronised")
    return Check("clock", "warn", "the system clock is not NTP-synchronised", "enable NTP")


async def _redis_checks(settings: Settings) -> list[Check]:
    if not settings.redis_url:
        if settings.replay_backend == "redis":
            return [Check("redis", "fail", "LICENTIA_REPLAY_BACKEND=redis without a Redis URL",
                          "set LICENTIA_REDIS_URL")]  # fmt: skip
        if settings.workers > 1:
            detail = f"not configured; {settings.workers} workers keep rate limits apart"
            return [Check("redis", "warn", detail, "set LICENTIA_REDIS_URL to share them")]
        return [Check("redis", "ok", "not configured (one worker)")]
    import redis.asyncio as aioredis

    client: Any = aioredis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    shown = make_url(settings.redis_url.replace("redis://", "redis+x://", 1))
    where = f"{shown.host or 'localhost'}:{shown.port or 6379}"
    try:
        await client.ping()
        seconds, micros = await client.time()
        server_now = datetime.fromtimestamp(int(seconds) + int(micros) / 1e6, UTC)
        return [Check("redis", "ok", f"answers at {where}"), _skew("Redis server", server_now)]
    except Exception as exc:
        detail = f"no answer at {where}: {type(exc).__name__}: {exc}"
        return [Check("redis", "fail", detail, "start Redis or fix LICENTIA_REDIS_URL")]
    finally:
        await client.aclose()


def _proxy_checks(settings: Settings) -> list[Check]:
    bad = []
    for entry in settings.trusted_proxy_list():
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            bad.append(entry)
    if bad:
        fix = "give IP addresses or CIDR ranges, comma-separated"
        return [Check("proxy", "fail", f"invalid LICENTIA_TRUSTED_PROXIES: {', '.join(bad)}", fix)]
    proxies = settings.trusted_proxy_list()
    if proxies:
        detail = f"trusting {settings.forwarded_header} from {', '.join(proxies)}"
        return [Check("proxy", "ok", detail)]
    if settings.country_header:
        return [Check("proxy", "warn", "LICENTIA_COUNTRY_HEADER is ignored without a trusted "
                      "proxy", "set LICENTIA_TRUSTED_PROXIES")]  # fmt: skip
    detail = "no trusted proxy: client IPs are the connecting peers"
    if settings.host not in ("127.0.0.1", "::1", "localhost"):
        return [Check("proxy", "ok", f"{detail} (listening on {settings.host})")]
    return [Check("proxy", "ok", detail)]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _permission_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    folder = settings.data_dir
    for label, path in (("GeoIP database", settings.geoip_db), ("VPN list", settings.vpn_list)):
        if path and not Path(path).is_file():
            checks.append(Check("files", "fail", f"{label} {path} does not exist", "fix the path"))
    if not folder.exists():
        return checks
    if not os.access(folder, os.W_OK | os.X_OK):
        checks.append(Check("files", "fail", f"{folder.resolve()} is not writable",
                            "give the server's user write access"))  # fmt: skip
    if _mode(folder) & 0o077:
        checks.append(Check("files", "warn", f"{folder.resolve()} is open to other users "
                            f"({_mode(folder):o})", f"chmod 700 {folder}"))  # fmt: skip
    key = folder / "master.key"
    if key.exists() and _mode(key) & 0o077:
        checks.append(Check("files", "fail", f"{key.resolve()} is readable by other users "
                            f"({_mode(key):o})", f"chmod 600 {key}"))  # fmt: skip
    database = _sqlite_path(settings) if settings.is_sqlite else None
    if database is not None and database.exists() and _mode(database) & 0o007:
        checks.append(Check("files", "warn", f"{database} is readable by every user "
                            f"({_mode(database):o})", f"chmod 600 {database}"))  # fmt: skip
    if not checks:
        checks.append(Check("files", "ok", f"{folder.resolve()} private"))
    return checks


async def _all_checks(settings: Settings) -> list[Check]:
    key, key_check = _master_key(settings)
    checks = [key_check]
    checks += await _database_checks(settings, key)
    checks += await _redis_checks(settings)
    ntp = _ntp_check()
    checks += [ntp] if ntp is not None else []
    checks += _proxy_checks(settings)
    checks += _permission_checks(settings)
    return checks


def _print(checks: list[Check]) -> None:
    table = Table("check", "status", "detail", "fix", title="licentia doctor")
    colour = {"ok": "green", "warn": "yellow", "fail": "red"}
    for c in checks:
        status = f"[{colour[c.status]}]{c.status}[/]"
        table.add_row(c.name, status, escape(c.detail), escape(c.fix or "-"))
    out = console()
    out.print(table)
    problems = sum(c.status == "fail" for c in checks)
    warnings = sum(c.status == "warn" for c in checks)
    out.print(f"{problems} problem(s), {warnings} warning(s)", markup=False)


@app.command("doctor")
def doctor(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Check configuration, database, migrations, keys, Redis, clock, proxy and files."""
    settings, checks = _settings(ctx)
    if settings is not None:
        checks += asyncio.run(_all_checks(settings))
    order = ["config", "database", "migrations", "master key", "signing key", "redis", "clock"]
    checks.sort(key=lambda c: order.index(c.name) if c.name in order else len(order))
    problems = sum(c.status == "fail" for c in checks)
    if json_out:
        emit_json(
            {
                "ok": problems == 0,
                "problems": problems,
                "warnings": sum(c.status == "warn" for c in checks),
                "checks": [asdict(c) for c in checks],
            }
        )
    else:
        _print(checks)
    if problems:
        raise typer.Exit(1)
