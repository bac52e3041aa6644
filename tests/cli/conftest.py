"""CLI-test fixtures: an empty installation per test (a data folder, plus a fresh empty
PostgreSQL database when `LICENTIA_TEST_DATABASE_URL` names a server), settings passed the
way operators pass them (environment variables), and helpers to run the CLI in-process
(`CliRunner`) or as a real `python -m licentia` subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from licentia.cli.main import app
from tests.conftest import TEST_ARGON2_ENV

TEST_DATABASE_URL_ENV = "LICENTIA_TEST_DATABASE_URL"


def _postgres_admin_url() -> str | None:
    url = os.environ.get(TEST_DATABASE_URL_ENV, "").strip()
    if url and urlsplit(url).scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return url
    return None


async def _pg(admin_url: str, statement: str) -> None:
    import asyncpg

    dsn = urlunsplit(("postgresql", *urlsplit(admin_url)[1:]))
    conn = await asyncpg.connect(dsn, timeout=15)
    try:
        await conn.execute(statement, timeout=60)
    finally:
        await conn.close()


@dataclass
class Installation:
    """One Licentia installation under test and ways to drive its CLI."""

    data_dir: Path
    database_url: str | None  # None: the SQLite file inside data_dir
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'licentia.db')}"

    # -- in-process ----------------------------------------------------------------------

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.env, catch_exceptions=False)

    def json(self, *args: str) -> dict[str, Any]:
        result = self.invoke(*args, "--json")
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return parse_one_object(result.stdout)

    def fails(self, *args: str, code: str, exit_code: int = 1) -> dict[str, Any]:
        result = self.invoke(*args, "--json")
        assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
        body = parse_one_object(result.stdout)
        assert body["error"] == code, body
        assert "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        return body

    # -- subprocess ----------------------------------------------------------------------

    def subprocess(self, *args: str) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LICENTIA_")}
        environ.update(self.env)
        return subprocess.run(
            [sys.executable, "-m", "licentia", *args],
            env=environ,
            cwd=self.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    # -- database ------------------------------------------------------------------------

    def query(self, fn: Callable[[AsyncConnection], Any]) -> Any:
        async def go() -> Any:
            engine = create_async_engine(self.url, poolclass=NullPool)
            try:
                async with engine.begin() as conn:
                    return await fn(conn)
            finally:
                await engine.dispose()

        return asyncio.run(go())


def parse_one_object(stdout: str) -> dict[str, Any]:
    """stdout must be exactly one JSON object (and a newline)."""
    text = stdout.strip()
    assert text.count("\n") == 0, stdout
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    # Nothing from the developer's own environment may leak in; every LICENTIA_* variable the
    # CLI sets for its workers (serve) is restored afterwards as well.
    for name in list(os.environ):
        if name.startswith("LICENTIA_") and name != TEST_DATABASE_URL_ENV:
            monkeypatch.delenv(name)
    for name in ("LICENTIA_DATA_DIR", "LICENTIA_HOST", "LICENTIA_PORT", "LICENTIA_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    admin_url = _postgres_admin_url()
    database_url: str | None = None
    db_name: str | None = None
    if admin_url is not None:
        db_name = f"licentia_t_{secrets.token_hex(6)}"
        asyncio.run(_pg(admin_url, f'CREATE DATABASE "{db_name}"'))
        parts = urlsplit(admin_url)
        database_url = urlunsplit((parts.scheme, parts.netloc, f"/{db_name}", parts.query, ""))
    env = {
        "LICENTIA_DATA_DIR": str(data_dir),
        **TEST_ARGON2_ENV,
    }
    if database_url is not None:
        env["LICENTIA_DATABASE_URL"] = database_url
    try:
        yield Installation(data_dir=data_dir, database_url=database_url, env=env)
    finally:
        if admin_url is not None and db_name is not None:
            asyncio.run(_pg(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
