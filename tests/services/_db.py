"""Fresh, migrated databases for service tests: SQLite files, or PostgreSQL databases.

PostgreSQL is used when `LICENTIA_TEST_DATABASE_URL` names one (for example
`postgresql+asyncpg://postgres@127.0.0.1:5432/test`): a template database is migrated once
per session and each test gets `CREATE DATABASE licentia_t_<hex> TEMPLATE ...`, dropped at
teardown. SQLite: a migrated file is copied for each test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from licentia.store.migrate import upgrade

TEST_DATABASE_URL_ENV = "LICENTIA_TEST_DATABASE_URL"


def postgres_admin_url() -> str | None:
    url = os.environ.get(TEST_DATABASE_URL_ENV, "").strip()
    if url and urlsplit(url).scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return url
    return None


def _dsn(url: str) -> str:
    return urlunsplit(("postgresql", *urlsplit(url)[1:]))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _pg_execute(admin_url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_dsn(admin_url), timeout=15)
    try:
        for statement in statements:
            await conn.execute(statement, timeout=60)
    finally:
        await conn.close()


def pg_execute(admin_url: str, *statements: str) -> None:
    asyncio.run(_pg_execute(admin_url, *statements))


class DatabaseFactory:
    """Hands out fresh migrated database URLs; `close()` drops what it made."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.admin_url = postgres_admin_url()
        self._made: list[str] = []
        self._template: str | None = None
        if self.admin_url is not None:
            self._template = f"licentia_tpl_{secrets.token_hex(5)}"
            pg_execute(self.admin_url, f'CREATE DATABASE "{self._template}"')
            upgrade(_with_database(self.admin_url, self._template))
        else:
            self._template_file = workdir / "template.db"
            upgrade(f"sqlite+aiosqlite:///{self._template_file}")

    @property
    def is_postgres(self) -> bool:
        return self.admin_url is not None

    def new(self, directory: Path) -> str:
        if self.admin_url is not None:
            name = f"licentia_t_{secrets.token_hex(6)}"
            pg_execute(self.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
            self._made.append(name)
            return _with_database(self.admin_url, name)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "licentia.db"
        shutil.copyfile(self._template_file, target)
        wal = self._template_file.with_name(self._template_file.name + "-wal")
        if wal.exists():
            shutil.copyfile(wal, target.with_name(target.name + "-wal"))
        return f"sqlite+aiosqlite:///{target}"

    def drop(self, url: str) -> None:
        if self.admin_url is None:
            return
        name = urlsplit(url).path.lstrip("/")
        if name in self._made:
            self._made.remove(name)
            pg_execute(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.admin_url is None:
            return
        statements = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self._made]
        if self._template is not None:
            statements.append(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
        pg_execute(self.admin_url, *statements)
        self._made.clear()


@contextmanager
def database_factory(workdir: Path) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(workdir)
    try:
        yield factory
    finally:
        factory.close()
