"""Nested transactions: a face's `write()` around a service call commits or undoes both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, insert, select

from licentia.domain.timeutil import utcnow
from licentia.store.engine import Database
from licentia.store.tables import audit_log


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url, pool_size=2)
    yield database
    await database.dispose()


def _entry(marker: str) -> dict[str, object]:
    return {
        "created_at": utcnow(),
        "actor_kind": "system",
        "face": "cli",
        "capability": "test.engine",
        "target": marker,
    }


async def _count(db: Database, marker: str) -> int:
    async with db.read() as conn:
        query = select(func.count()).select_from(audit_log).where(audit_log.c.target == marker)
        return int((await conn.execute(query)).scalar_one())


async def _cleanup(db: Database, marker: str) -> None:
    async with db.write() as conn:
        await conn.execute(delete(audit_log).where(audit_log.c.target == marker))


async def test_nested_write_commits_with_the_outer_block(db: Database) -> None:
    marker = uuid.uuid4().hex
    try:
        async with db.write() as outer:
            assert db.in_write
            await outer.execute(insert(audit_log).values(_entry(marker)))
            async with db.write() as inner:
                assert inner is outer
                await inner.execute(insert(audit_log).values(_entry(marker)))
            async with db.read() as reader:  # sees the uncommitted rows
                query = select(func.count()).where(audit_log.c.target == marker)
                assert (await reader.execute(query)).scalar_one() == 2
        assert not db.in_write
        assert await _count(db, marker) == 2
    finally:
        await _cleanup(db, marker)


async def test_outer_failure_undoes_the_nested_work(db: Database) -> None:
    marker = uuid.uuid4().hex
    with pytest.raises(RuntimeError):
        async with db.write():
            async with db.write() as inner:
                await inner.execute(insert(audit_log).values(_entry(marker)))
            raise RuntimeError("refused")
    assert await _count(db, marker) == 0


async def test_nested_failure_undoes_only_its_own_work(db: Database) -> None:
    marker = uuid.uuid4().hex
    try:
        async with db.write() as outer:
            await outer.execute(insert(audit_log).values(_entry(marker)))
            with pytest.raises(RuntimeError):
                async with db.write() as inner:
                    await inner.execute(insert(audit_log).values(_entry(marker)))
                    raise RuntimeError("inner refused")
        assert await _count(db, marker) == 1
    finally:
        await _cleanup(db, marker)
