"""Periodic clean-up: purged sessions (client protocol 1.2), old logs, stale nonces, old
audit entries.

Sessions stay 24 hours after they stop being live (ended, idle-expired or past their absolute
lifetime), then go. Client logs and auth events are kept `log_retention_days` per app; audit
entries `LICENTIA_AUDIT_RETENTION_DAYS` (B.20, default 365); outbox events 30 days once no
delivery of theirs is pending (docs/webhooks.md).

Every worker process runs the purge loop, but only one purges at a time (`purge_exclusive`):
on PostgreSQL a transaction-level advisory lock, on SQLite an exclusive, non-blocking lock on
a file beside the database file (SQLite workers share that file system by definition). A
worker that finds the lock taken skips its round: the other one is doing the work.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, text

from licentia.services import audit, dashboard_auth, portal, webhook_delivery
from licentia.services.runtime import Runtime
from licentia.store.tables import apps, auth_events, client_logs, replay_cache, sessions

SESSION_KEEP = timedelta(hours=24)
#: Key of the PostgreSQL advisory lock that serializes purges ("LICP" + "URGE").
PURGE_LOCK_KEY = 0x4C494350_55524745


@dataclass
class PurgeReport:
    sessions: int = 0
    client_logs: int = 0
    auth_events: int = 0
    nonces: int = 0
    audit_entries: int = 0
    dashboard: int = 0  # ended dashboard sessions and old sign-in failures
    portal: int = 0  # ended portal sessions and old portal sign-in failures
    events: int = 0  # settled outbox events (webhook deliveries and their attempts with them)


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
    report.dashboard = await dashboard_auth.purge(rt)
    report.portal = await portal.purge(rt)
    report.events = await webhook_delivery.purge(rt)
    return report


async def prune_audit(rt: Runtime) -> int:
    """Delete audit entries older than the operator's retention period (B.20)."""
    days = max(1, int(rt.settings.audit_retention_days))
    return await audit.prune_entries(rt, rt.clock() - timedelta(days=days))


def _sqlite_lock_path(rt: Runtime) -> str | None:
    database = rt.db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None  # an in-memory database lives in one process: nothing to coordinate
    return f"{os.path.abspath(database)}.purge-lock"


@contextlib.asynccontextmanager
async def purge_lock(rt: Runtime) -> AsyncIterator[bool]:
    """Yields True when this worker holds the purge lock, False when another one does."""
    if rt.db.is_sqlite:
        path = _sqlite_lock_path(rt)
        if path is None:
            yield True
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return
    # PostgreSQL: the lock lives as long as this connection's transaction; the purge itself
    # runs on other pool connections, so this one only holds the lock.
    async with rt.db.engine.connect() as conn, conn.begin():
        got = (
            await conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PURGE_LOCK_KEY}
            )
        ).scalar_one()
        yield bool(got)


async def purge_exclusive(rt: Runtime) -> PurgeReport | None:
    """One purge round (sessions, logs, nonces, audit entries) unless another worker is
    running one; returns None when it skipped."""
    async with purge_lock(rt) as held:
        if not held:
            return None
        report = await purge(rt)
        report.audit_entries = await prune_audit(rt)
        return report
