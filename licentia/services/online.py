"""Who is online now: the users, licenses and devices of an app with a live session.

A session is live while it is not ended, was seen within the app's idle window
(`session_idle_timeout`) and is younger than its maximum lifetime (client protocol 1.2), the
rule the Sessions list's `live` state uses. Sessions that only ran `init` (no identity) are
app starts, not people: they are counted apart and never listed.

One identity with several live sessions (two PCs, a restart) is one row, showing its most
recently seen session; `sessions` says how many it has. The reads go through
`ix_sessions_app_last_seen` (a range of the idle window); a list holds at most `MAX_ROWS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services.runtime import Runtime
from licentia.services.views_users import SessionLimits, session_limits, session_state_sql
from licentia.store.tables import devices, licenses, sessions, users

#: Identities one list shows at most (the most recently seen).
MAX_ROWS = 500


@dataclass(frozen=True)
class OnlineIdentity:
    kind: str  # user, license or device
    name: str  # username, key, or the device id
    ref: str  # what the detail page's path names: username, key, or `type/id`
    last_seen_at: datetime
    opened_at: datetime
    client_ip: str
    reported_ip: str
    country: str
    hwid: str
    client_version: str
    sessions: int


@dataclass(frozen=True)
class Online:
    identities: int  # distinct identities with a live session
    sessions: int  # their live sessions
    app_starts: int  # live sessions that only ran init
    idle_seconds: int
    rows: list[OnlineIdentity]
    truncated: bool  # more identities are online than the list holds


_NAME = func.coalesce(users.c.username, licenses.c.key, devices.c.device_id)
_HWID = func.coalesce(users.c.last_sid, licenses.c.last_sid, devices.c.hwid)
_LIVE_QUERY = (
    select(
        sessions.c.identity_kind,
        sessions.c.identity_id,
        sessions.c.last_seen_at,
        sessions.c.created_at,
        sessions.c.client_ip,
        sessions.c.reported_ip,
        sessions.c.country,
        sessions.c.sid,
        sessions.c.client_version,
        _NAME.label("name"),
        _HWID.label("hwid"),
        devices.c.device_type,
    )
    .outerjoin(
        users, and_(sessions.c.identity_kind == "user", users.c.id == sessions.c.identity_id)
    )
    .outerjoin(
        licenses,
        and_(sessions.c.identity_kind == "license", licenses.c.id == sessions.c.identity_id),
    )
    .outerjoin(
        devices,
        and_(sessions.c.identity_kind == "device", devices.c.id == sessions.c.identity_id),
    )
)


def _live(app_id: str, now: datetime, limits: SessionLimits) -> list[Any]:
    return [sessions.c.app_id == app_id, session_state_sql("live", now, limits)]


async def _counts(conn: AsyncConnection, clauses: list[Any]) -> tuple[int, int, int]:
    identified = sessions.c.identity_kind != "none"
    row = (
        await conn.execute(
            select(
                func.count(distinct(sessions.c.identity_id)).filter(identified),
                func.count().filter(identified),
                func.count().filter(sessions.c.identity_kind == "none"),
            ).where(and_(*clauses))
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


async def online_now(rt: Runtime, app_id: str, *, limit: int = MAX_ROWS) -> Online:
    """The app's identities with a live session, most recently seen first (at most `limit`,
    itself at most `MAX_ROWS`): the `limit` identities seen last are chosen in SQL, then
    their newest live session is read for the row."""
    now = rt.clock()
    size = max(1, min(limit, MAX_ROWS))
    async with rt.db.read() as conn:
        limits = await session_limits(conn, app_id)
        clauses = [*_live(app_id, now, limits), sessions.c.identity_kind != "none"]
        identities, live, starts = await _counts(conn, clauses[:-1])
        seen = func.max(sessions.c.last_seen_at).label("seen")
        top = (
            await conn.execute(
                select(sessions.c.identity_id, func.count().label("n"), seen)
                .where(and_(*clauses))
                .group_by(sessions.c.identity_id)
                .order_by(seen.desc())
                .limit(size)
            )
        ).all()
        per = {str(r.identity_id): int(r.n) for r in top}
        rows: Sequence[Any] = ()
        if per:
            rows = (
                await conn.execute(
                    _LIVE_QUERY.where(
                        and_(*clauses), sessions.c.identity_id.in_(list(per))
                    ).order_by(sessions.c.last_seen_at.desc())
                )
            ).all()
    first: dict[str, OnlineIdentity] = {}
    for row in rows:
        ident = str(row.identity_id)
        if ident in first or row.name is None:
            continue  # an older session of the same identity, or a deleted identity
        ref = row.name if row.identity_kind != "device" else f"{row.device_type}/{row.name}"
        first[ident] = OnlineIdentity(
            kind=row.identity_kind,
            name=row.name,
            ref=ref,
            last_seen_at=row.last_seen_at,
            opened_at=row.created_at,
            client_ip=row.client_ip,
            reported_ip=row.reported_ip,
            country=row.country,
            hwid=row.sid or row.hwid or "",
            client_version=row.client_version,
            sessions=per[ident],
        )
    return Online(
        identities=identities,
        sessions=live,
        app_starts=starts,
        idle_seconds=int(limits.idle.total_seconds()),
        rows=list(first.values()),
        truncated=identities > size,
    )
