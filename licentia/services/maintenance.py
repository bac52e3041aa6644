"""Periodic clean-up: purged sessions (client protocol 1.2), old logs, stale nonces.

Sessions stay 24 hours after they stop being live (ended, idle-expired or past their absolute
lifetime), then go. Client logs and auth events are kept `log_retention_days` per app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select

from licentia.services.runtime import Runtime
from licentia.store.tables import apps, auth_events, client_logs, replay_cache, sessions

SESSION_KEEP = timedelta(hours=24)


@dataclass
class PurgeReport:
    sessions: int = 0
    client_logs: int = 0
    auth_events: int = 0
    nonces: int = 0


async def purge(rt: Runtime) -> PurgeReport:
    now = rt.clock()
    cut = now - SESSION_KEEP
    report = PurgeReport()
    async with rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(
                    apps.c.id,
                    apps.c.session_idle_timeout,
                    apps.c.session_max_lifetime,
                    apps.c.log_retention_days,
                )
            )
        ).all()
    for row in rows:
        async with rt.db.write() as conn:
            result = await conn.execute(
                delete(sessions).where(
                    sessions.c.app_id == row.id,
                    or_(
                        sessions.c.ended_at < cut,
                        sessions.c.last_seen_at < cut - timedelta(seconds=row.session_idle_timeout),
                        sessions.c.created_at < cut - timedelta(seconds=row.session_max_lifetime),
                    ),
                )
            )
            report.sessions += result.rowcount or 0
            keep_logs = now - timedelta(days=max(1, row.log_retention_days))
            result = await conn.execute(
                delete(client_logs).where(
                    client_logs.c.app_id == row.id, client_logs.c.created_at < keep_logs
                )
            )
            report.client_logs += result.rowcount or 0
            result = await conn.execute(
                delete(auth_events).where(
                    auth_events.c.app_id == row.id, auth_events.c.created_at < keep_logs
                )
            )
            report.auth_events += result.rowcount or 0
    async with rt.db.write() as conn:
        result = await conn.execute(
            delete(auth_events).where(
                auth_events.c.app_id.is_(None), auth_events.c.created_at < now - timedelta(days=90)
            )
        )
        report.auth_events += result.rowcount or 0
        result = await conn.execute(delete(replay_cache).where(replay_cache.c.expires_at < now))
        report.nonces += result.rowcount or 0
    return report
