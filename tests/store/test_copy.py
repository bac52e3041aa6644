"""`store.copy.copy_database` keeps every value of every table exactly: one synthetic row per
table (awkward text, big integers, booleans, microsecond UTC timestamps) goes from a fresh
migrated database of the test kind (SQLite, or PostgreSQL with LICENTIA_TEST_DATABASE_URL) to
a fresh SQLite file and on to another fresh database of the test kind, and all three compare
equal, row for row.

The source is never the worker's shared test database: its synthetic rows (a signing key and
app secrets that no master key decrypts) would make every later test on that worker refuse to
start with a master-key error."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import BigInteger, Boolean, Integer, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from licentia.store.copy import CopyError, copied_tables, copy_database
from licentia.store.tables import audit_log, metadata
from licentia.store.types import UTCDateTime
from tests.conftest import fresh_database

WHEN = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _value(table: Table, column: Any, parents: dict[str, dict[str, Any]], tag: str) -> Any:
    for fk in column.foreign_keys:
        return parents[fk.column.table.name][fk.column.name]
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return WHEN
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, BigInteger):
        return 2**40 + 7
    if isinstance(kind, Integer):
        return 7
    if isinstance(kind, String | Text):
        length = getattr(kind, "length", None) or 64
        text = f"{tag}-{table.name}-{column.name}-ü'\"\\n"
        return text[:length] if len(text) > length else text
    raise AssertionError(f"no sample value for {table.name}.{column.name}: {kind!r}")


async def _fill(engine: AsyncEngine, tag: str) -> None:
    parents: dict[str, dict[str, Any]] = {}
    async with engine.begin() as conn:
        for table in metadata.sorted_tables:
            row = {
                c.name: _value(table, c, parents, tag)
                for c in table.columns
                if not (c.primary_key and c.autoincrement is True and isinstance(c.type, Integer))
            }
            result = await conn.execute(table.insert().values(**row))
            parents[table.name] = {
                **row,
                **dict(
                    zip(
                        [c.name for c in table.primary_key.columns],
                        result.inserted_primary_key or (),
                        strict=False,
                    )
                ),
            }


async def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return {
                t.name: sorted((tuple(r) for r in await conn.execute(select(t))), key=repr)
                for t in metadata.sorted_tables
            }
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the test kind (not migrated: the copy migrates it)."""
    with fresh_database("licentia_copy", tmp_path, migrate=False) as url:
        yield url


@pytest.fixture
def source_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of the test kind, private to this test."""
    with fresh_database("licentia_copysrc", tmp_path) as url:
        yield url


async def test_every_value_survives_both_directions(
    source_url: str, fresh_url: str, tmp_path: Path
) -> None:
    database_url = source_url
    source = create_async_engine(database_url, poolclass=NullPool)
    try:
        await _fill(source, secrets.token_hex(3))
    finally:
        await source.dispose()
    middle = f"sqlite+aiosqlite:///{tmp_path / 'middle.db'}"
    there = await copy_database(database_url, middle, with_sessions=True)
    back = await copy_database(middle, fresh_url, with_sessions=True)
    assert there.tables == back.tables and there.skipped == [] and there.rows > 0
    assert all(n >= 1 for n in there.tables.values())  # every table took part
    original = await _dump(database_url)
    assert await _dump(middle) == original
    assert await _dump(fresh_url) == original

    # New rows continue after the copied ids (PostgreSQL sequences were moved on).
    engine = create_async_engine(fresh_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            top = max(r[0] for r in await conn.execute(select(audit_log.c.id)))
            new_id = (
                await conn.execute(
                    audit_log.insert()
                    .values(
                        {
                            c.name: _value(audit_log, c, {}, "new")
                            for c in audit_log.columns
                            if c.name != "id"
                        }
                    )
                    .returning(audit_log.c.id)
                )
            ).scalar_one()
        assert new_id > top
    finally:
        await engine.dispose()

    # A filled target is refused, and --replace copies again.
    with pytest.raises(CopyError) as refused:
        await copy_database(middle, fresh_url)
    assert refused.value.code == "TARGET_NOT_EMPTY"
    again = await copy_database(middle, fresh_url, replace=True)
    skipped = copied_tables(False)[1]
    assert again.skipped == skipped == ["sessions", "dashboard_sessions", "portal_sessions"]
    assert again.replaced > 0
    assert await _dump(fresh_url) == {**original, **{name: [] for name in skipped}}
