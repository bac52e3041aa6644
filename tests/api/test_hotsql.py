"""The hot path's raw-driver reads (store/hotsql.py) return what SQLAlchemy returns: the same
values with the same types (aware UTC datetimes, booleans) under the same names, on the
SQLite quick connection and on PostgreSQL's autocommit connection alike."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from sqlalchemy import text

from licentia.services import client
from licentia.store import engine
from licentia.store.engine import Database
from licentia.store.hotsql import HotRow
from tests.api.conftest import Api


async def _both(api: Api, query: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    async with api.rt.db.quick_read() as conn:
        hot = await query.first(conn, params)
    async with api.rt.db.read() as conn:  # a transaction: SQLAlchemy's own path
        plain = await query.first(conn, params)
    return hot, plain


def _same(hot: Any, plain: Any) -> None:
    assert isinstance(hot, HotRow)  # the raw path was taken
    assert not isinstance(plain, HotRow)
    assert tuple(hot) == tuple(plain)
    assert [type(v) for v in hot] == [type(v) for v in plain]
    for name, value in plain._mapping.items():
        assert getattr(hot, name) == value, name
    assert hot._mapping == dict(plain._mapping)


async def test_session_identity_and_init_reads_match(api: Api) -> None:
    key = await api.key()
    session, _ = await api.activate(key, sid="SID-H")
    id_hash = hashlib.sha256(session.encode()).hexdigest()
    hot, plain = await _both(api, client._SESSION_LOOKUP, {"id_hash": id_hash})
    _same(hot, plain)
    assert hot.ended_at is None and hot.last_seen_at.tzinfo is not None
    assert hot.is_enabled is True and hot.owner_status == "active"
    query = client._IDENTITY_WITH_DEVICES["license"]
    hot, plain = await _both(api, query, {"ident": hot.identity_id})
    _same(hot, plain)
    assert hot.devices_bound == 1 and hot.key == key
    params = {"owner_id": api.owner_id, "app_name": api.app_name}
    _same(*(await _both(api, client._INIT_LOOKUP, params)))
    found = await _both(api, client._LICENSE_BY_KEY, {"app": api.app_id, "key": key})
    _same(*found)


async def test_missing_rows_and_unstorable_text(api: Api) -> None:
    hot, plain = await _both(api, client._SESSION_LOOKUP, {"id_hash": "0" * 64})
    assert hot is None and plain is None
    params = {"owner_id": api.owner_id, "app_name": "no\ud800such\x00app"}
    hot, plain = await _both(api, client._INIT_LOOKUP, params)  # cleaned, never a driver error
    _same(hot, plain)
    assert hot.id is None


async def test_idle_pooled_connection_that_died_is_replaced(database_url: str) -> None:
    """PostgreSQL pings a pooled connection only after it sat idle (no pre-ping round trip
    per checkout), and a connection that died meanwhile is replaced, not handed out."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL pool only")
    import asyncpg

    db = Database.from_url(database_url, pool_size=1)
    try:
        async with db.quick_read() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
        killer = await asyncpg.connect(plain)
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        await asyncio.sleep(engine.IDLE_PING_SECONDS + 0.1)
        async with db.quick_read() as conn:
            again = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert again != pid
    finally:
        await db.dispose()
