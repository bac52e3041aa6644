"""Write-behind last-seen times of validate-session (services/session_seen.py): the serving
worker's idle expiry is exact, a flush writes forwards only and never revives an ended
session, and a failed flush keeps its entries for the next one."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from licentia.services.session_seen import SeenBuffer
from licentia.store.tables import sessions
from tests.api.conftest import Api, expect_error, expect_ok


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def _stored_seen(api: Api, session: str):  # type: ignore[no-untyped-def]
    """The row as stored, without flushing the server's buffer first."""
    async with api.rt.db.read() as conn:
        query = select(sessions).where(sessions.c.id_hash == _digest(session))
        return (await conn.execute(query)).first()


async def test_validate_notes_and_flush_writes(api: Api) -> None:
    seen = api.world.app.seen
    assert seen is not None
    await api.set("session_idle_timeout", 60)
    session = await api.init()
    await seen.flush(api.rt.db)
    api.clock.advance(50)
    expect_ok(await api.post("validate-session", {"session_id": session}), "validate-session")
    # (the server's own flusher may or may not have written it by now: either way the next
    # call is 50 s after the last one)
    api.clock.advance(50)  # idle 100 s since init, 50 s since the noted call
    expect_ok(await api.post("validate-session", {"session_id": session}), "validate-session")
    assert await seen.flush(api.rt.db) >= 1
    assert (await _stored_seen(api, session)).last_seen_at == api.clock.now
    api.clock.advance(60)
    expect_error(await api.post("validate-session", {"session_id": session}), "SESSION_EXPIRED")


async def test_flush_never_revives_nor_moves_back(api: Api) -> None:
    ended, live = await api.init(), await api.init()
    buffer = SeenBuffer()
    now = api.clock.now
    async with api.rt.db.write() as conn:
        await conn.execute(
            update(sessions)
            .where(sessions.c.id_hash == _digest(ended))
            .values(ended_at=now, end_reason="logout")
        )
    buffer.note(_digest(ended), now + timedelta(seconds=5))
    buffer.note(_digest(live), now - timedelta(seconds=5))  # older than the stored time
    await buffer.flush(api.rt.db)
    ended_row, live_row = await _stored_seen(api, ended), await _stored_seen(api, live)
    assert ended_row.last_seen_at == now and ended_row.ended_at == now
    assert live_row.last_seen_at == now
    assert len(buffer) == 0


async def test_failed_flush_keeps_entries(api: Api) -> None:
    buffer = SeenBuffer()
    buffer.note("a" * 64, api.clock.now)

    class Broken:
        def write(self) -> object:
            raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await buffer.flush(Broken())  # type: ignore[arg-type]
    assert len(buffer) == 1
    assert buffer.seen_at("a" * 64, api.clock.now - timedelta(1)) == api.clock.now
