"""Client sessions (B.13) and bound devices (B.8): end one session, end all of an identity or
an app; list, remove and reset the SIDs bound to a user or a license.

A session is named by its id prefix (the first 8 characters, what lists show) or by its full
id; the full id is never stored, only its SHA-256. Ending is idempotent: an already ended
session stays as it was (its first end reason is kept).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import events
from licentia.services.admin_common import AdminError, invalid, load_app, norm, trim
from licentia.services.client import session_digest
from licentia.services.runtime import Runtime
from licentia.services.views_users import (
    SESSION_QUERY,
    BindingView,
    SessionView,
    holder_row,
    identity_id,
    list_bindings,
    session_limits,
    session_view,
)
from licentia.store.tables import bindings, licenses, sessions, users

#: The end reason recorded when the vendor ends sessions from management.
MANAGEMENT_REASON = "ended"
_HEX = frozenset("0123456789abcdef")

__all__ = [
    "BindingView",
    "SessionView",
    "end_all_sessions",
    "end_identity_sessions",
    "end_session",
    "list_bindings",
    "remove_binding",
    "reset_bindings",
]


def _check_session_ref(session: str) -> str:
    text = trim(session).lower()
    if not 8 <= len(text) <= 64 or not set(text) <= _HEX:
        raise invalid("session", "give the session id or its first 8 or more hex characters")
    return text


async def end_session(rt: Runtime, app_id: str, session: str) -> tuple[SessionView, bool]:
    """End one session of the app, named by its id prefix (8+ characters, unique within the
    app) or its full id. SESSION_NOT_FOUND when none matches; INVALID_INPUT when the prefix
    names more than one session. Returns the session and whether this call ended it."""
    ref = _check_session_ref(session)
    now = rt.clock()
    async with rt.db.write() as conn:
        limits = await session_limits(conn, app_id)
        query = SESSION_QUERY.where(sessions.c.app_id == app_id)
        if len(ref) == 64:
            query = query.where(sessions.c.id_hash == session_digest(ref))
        else:
            # Only 8 characters are stored: a longer prefix narrows nothing further.
            query = query.where(sessions.c.prefix == ref[:8])
        rows = (await conn.execute(query.limit(2))).all()
        if not rows:
            raise AdminError(
                "SESSION_NOT_FOUND", "no session with this id in this app", ["session"]
            )
        if len(rows) > 1:
            raise invalid("session", "this prefix names more than one session: give the full id")
        row = rows[0]
        changed = row.ended_at is None
        if changed:
            await conn.execute(
                update(sessions)
                .where(and_(sessions.c.id_hash == row.id_hash, sessions.c.ended_at.is_(None)))
                .values(ended_at=now, end_reason=MANAGEMENT_REASON)
            )
            row = (await conn.execute(SESSION_QUERY.where(sessions.c.id_hash == row.id_hash))).one()
            data = {"kind": row.identity_kind, "identity_id": row.identity_id, "count": 1}
            data["reason"] = MANAGEMENT_REASON
            await events.emit(conn, app_id, "session.ended", data, now=now)
    return session_view(row, now, limits), changed


async def _end(
    conn: AsyncConnection, clauses: list[object], now: datetime, app_id: str, **data: Any
) -> int:
    result = await conn.execute(
        update(sessions)
        .where(and_(*clauses, sessions.c.ended_at.is_(None)))  # type: ignore[arg-type]
        .values(ended_at=now, end_reason=MANAGEMENT_REASON)
    )
    ended = int(result.rowcount or 0)
    if ended:
        data.update(reason=MANAGEMENT_REASON, count=ended)
        await events.emit(conn, app_id, "session.ended", data, now=now)
    return ended


async def end_identity_sessions(rt: Runtime, app_id: str, kind: str, name: str) -> int:
    """End every live session of one user (`name` = username), license (key) or device
    (`type:id`); returns how many ended. Unknown identity: *_NOT_FOUND."""
    now = rt.clock()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        ident = await identity_id(conn, app_id, kind, name)
        return await _end(
            conn,
            [
                sessions.c.app_id == app_id,
                sessions.c.identity_kind == kind,
                sessions.c.identity_id == ident,
            ],
            now,
            app_id,
            kind=kind,
            identity_id=ident,
        )


async def end_all_sessions(
    rt: Runtime, app_id: str, *, identity_kind: str | None = None, identity: str | None = None
) -> int:
    """End every session of one identity, or (no identity given) of the whole app."""
    if identity_kind or identity:
        if not (identity_kind and identity):
            raise AdminError(
                "INVALID_INPUT",
                "give both identity_kind and identity, or neither (the whole app)",
                ["identity_kind", "identity"],
            )
        return await end_identity_sessions(rt, app_id, identity_kind, identity)
    now = rt.clock()
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        return await _end(conn, [sessions.c.app_id == app_id], now, app_id, kind="all")


# -- bound devices -----------------------------------------------------------------------


async def _holder(conn: AsyncConnection, app_id: str, kind: str, name: str) -> tuple[str, str]:
    row = await holder_row(conn, app_id, kind, name)
    return str(row.id), str(row.name)


async def remove_binding(rt: Runtime, app_id: str, kind: str, name: str, sid: str) -> BindingView:
    """Unbind one SID (compared case-insensitively) from a user or license; BINDING_NOT_FOUND
    when it is not bound. The holder's last SID is cleared when it was this one."""
    text = trim(sid)
    if not text:
        raise invalid("sid", "give the SID to remove")
    async with rt.db.write() as conn:
        holder_id, holder_name = await _holder(conn, app_id, kind, name)
        row = (
            await conn.execute(
                select(bindings).where(
                    and_(
                        bindings.c.holder_kind == kind,
                        bindings.c.holder_id == holder_id,
                        bindings.c.sid_norm == norm(text),
                    )
                )
            )
        ).first()
        if row is None:
            raise AdminError("BINDING_NOT_FOUND", "this SID is not bound to it", ["sid"])
        await conn.execute(delete(bindings).where(bindings.c.id == row.id))
        table = users if kind == "user" else licenses
        await conn.execute(
            update(table)
            .where(and_(table.c.id == holder_id, table.c.last_sid == row.sid))
            .values(last_sid="")
        )
    return BindingView(
        holder_kind=kind,
        holder=holder_name,
        sid=row.sid,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        last_ip=row.last_ip,
    )


async def reset_bindings(rt: Runtime, app_id: str, kind: str, name: str) -> int:
    """Unbind every SID of a user or license and clear its last SID and IP (`reset_hwid`).
    For a `used` key the account that redeemed it is reset too (A.6). Returns how many SIDs
    were unbound."""
    async with rt.db.write() as conn:
        holder_id, _ = await _holder(conn, app_id, kind, name)
        count = await _reset(conn, kind, holder_id)
        if kind == "license":
            row = (
                await conn.execute(
                    select(licenses.c.status, licenses.c.used_by_user_id).where(
                        licenses.c.id == holder_id
                    )
                )
            ).one()
            if row.status == "used" and row.used_by_user_id:
                count += await _reset(conn, "user", row.used_by_user_id)
        await events.emit(
            conn,
            app_id,
            "hwid.reset",
            {"kind": kind, "identity": name, "removed": count},
            now=rt.clock(),
        )
    return count


async def _reset(conn: AsyncConnection, kind: str, holder_id: str) -> int:
    result = await conn.execute(
        delete(bindings).where(
            and_(bindings.c.holder_kind == kind, bindings.c.holder_id == holder_id)
        )
    )
    table = users if kind == "user" else licenses
    await conn.execute(update(table).where(table.c.id == holder_id).values(last_sid="", last_ip=""))
    return int(result.rowcount or 0)
