"""Sign-in attempts counted first, then checked (issue #14): the lockout buckets of the
dashboard, the portal and the Elite Key failure throttle.

Terms:

* **bucket**: a `scope` and a `subject` (an address, a name, a name at an address) and a
  `limit` of rows within a window. Rows live in a failures table with the columns `scope`,
  `subject` and `created_at` (`dashboard_signin_failures`, `portal_signin_failures`).
* **reservation**: before a password (or code) is checked, one row per bucket is written in
  a write transaction that first counts each bucket and writes nothing when one is full. The
  transactions are serialized (SQLite's write lock; on PostgreSQL a transaction-level
  advisory lock per table), so N simultaneous guesses can never all pass a limit: each sees
  the rows of those before it. A right answer then *releases* its rows; a wrong one leaves
  them as the failure they are. A crash between the two leaves a counted failure, never a
  free guess.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services.runtime import Runtime


@dataclass(frozen=True)
class Bucket:
    scope: str
    subject: str
    limit: int


@dataclass(frozen=True)
class Reservation:
    """The rows one attempt wrote; `release` deletes them when the attempt succeeds."""

    table: Table
    ids: tuple[int, ...]


def subject_of(*parts: str) -> str:
    """A fixed-size subject for a combination (a name at an address): its SHA-256."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _lock_key(table: Table) -> int:
    """A signed 64-bit advisory lock key per table (PostgreSQL)."""
    digest = hashlib.sha256(f"licentia-attempts:{table.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _serialize(conn: AsyncConnection, table: Table) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(table)})


async def count(conn: AsyncConnection, table: Table, bucket: Bucket, since: datetime) -> int:
    found = (
        await conn.execute(
            select(func.count())
            .select_from(table)
            .where(
                and_(
                    table.c.scope == bucket.scope,
                    table.c.subject == bucket.subject,
                    table.c.created_at > since,
                )
            )
        )
    ).scalar_one()
    return int(found)


async def reserve(
    rt: Runtime, table: Table, buckets: Sequence[Bucket], window: timedelta
) -> Reservation | None:
    """Count, then write one row per bucket; None (nothing written) when a bucket is full."""
    now = rt.clock()
    ids: list[int] = []
    async with rt.db.write() as conn:
        await _serialize(conn, table)
        for bucket in buckets:
            if await count(conn, table, bucket, now - window) >= bucket.limit:
                return None
        for bucket in buckets:
            row = await conn.execute(
                table.insert()
                .values(scope=bucket.scope, subject=bucket.subject, created_at=now)
                .returning(table.c.id)
            )
            ids.append(int(row.scalar_one()))
    return Reservation(table=table, ids=tuple(ids))


async def release(conn: AsyncConnection, reservation: Reservation) -> None:
    """The attempt succeeded: its rows are not failures."""
    if reservation.ids:
        table = reservation.table
        await conn.execute(delete(table).where(table.c.id.in_(reservation.ids)))


async def clear(conn: AsyncConnection, table: Table, bucket: Bucket) -> None:
    """Forget a bucket's failures (a right password clears the typos made at that address)."""
    await conn.execute(
        delete(table).where(and_(table.c.scope == bucket.scope, table.c.subject == bucket.subject))
    )


async def full(rt: Runtime, table: Table, bucket: Bucket, window: timedelta) -> int:
    """How many rows the bucket holds when it is at its limit, else 0 (a read, no reservation)."""
    async with rt.db.read() as conn:
        found = await count(conn, table, bucket, rt.clock() - window)
    return found if found >= bucket.limit else 0


async def oldest(rt: Runtime, table: Table, bucket: Bucket, window: timedelta) -> datetime | None:
    """The oldest row of the bucket still within the window."""
    since = rt.clock() - window
    async with rt.db.read() as conn:
        value = (
            await conn.execute(
                select(func.min(table.c.created_at)).where(
                    and_(
                        table.c.scope == bucket.scope,
                        table.c.subject == bucket.subject,
                        table.c.created_at > since,
                    )
                )
            )
        ).scalar_one_or_none()
    return value  # type: ignore[no-any-return]


async def add(rt: Runtime, table: Table, bucket: Bucket) -> None:
    """Record one failure without a reservation (a limit that is counted after the check)."""
    async with rt.db.write() as conn:
        await conn.execute(
            table.insert().values(scope=bucket.scope, subject=bucket.subject, created_at=rt.clock())
        )
