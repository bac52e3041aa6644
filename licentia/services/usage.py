"""Client API usage per app, UTC day and endpoint (management B.12).

Usage is counted on the client hot path, so a request must not wait for the database: each
process counts in memory (`UsageCounter.hit`, a dictionary increment) and a background task
flushes the counts every `usage_flush_interval` seconds, and once more on shutdown, with one
upsert per (app, day, endpoint) that *adds* to the stored count. Several worker processes
therefore add up correctly: each adds only what it counted since its last flush.

Prometheus metrics (`GET /metrics`) live in `licentia.api.metrics`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import background
from licentia.services.admin_common import invalid
from licentia.services.runtime import Runtime
from licentia.store.tables import apps, usage_daily

log = logging.getLogger("licentia.usage")

#: Day counts the management faces accept for a usage series.
MAX_DAYS = 366

UsageKey = tuple[str, str, str]  # (app_id, day "YYYY-MM-DD", endpoint)


class UsageCounter:
    """In-memory client request counts of this process since its last flush."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._counts: dict[UsageKey, int] = {}
        self._day_of: date | None = None
        self._day_text = ""
        self._lock = asyncio.Lock()

    def _day(self) -> str:
        today = self._clock().date()
        if today != self._day_of:  # one strftime per day, not per request
            self._day_of = today
            self._day_text = today.isoformat()
        return self._day_text

    def hit(self, app_id: str, endpoint: str) -> None:
        """Count one request (no I/O: called on the client hot path)."""
        key = (app_id, self._day(), endpoint)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

    @property
    def pending(self) -> int:
        """Requests counted but not yet flushed."""
        return sum(self._counts.values())

    def pending_for(self, app_id: str) -> dict[tuple[str, str], int]:
        """This process's unflushed counts of one app, by (day, endpoint)."""
        return {(day, ep): n for (aid, day, ep), n in list(self._counts.items()) if aid == app_id}

    async def flush(self, rt: Runtime) -> int:
        """Add the counts to `usage_daily`; returns how many requests were written.

        The counts are swapped out first so requests keep counting during the write; when the
        write fails they are merged back and go with the next flush.
        """
        async with self._lock:
            counts, self._counts = self._counts, {}
            if not counts:
                return 0
            try:
                return await add_counts(rt, counts)
            except BaseException:
                for key, value in counts.items():
                    self._counts[key] = self._counts.get(key, 0) + value
                raise


#: The counter of the server process using a runtime (see `attach`), by `id(runtime)`.
_ATTACHED: dict[int, UsageCounter] = {}


def attach(rt: Runtime, counter: UsageCounter) -> None:
    """Make reports on `rt` include `counter`'s unflushed counts, so a request shows up in
    `app usage` at once on the worker that served it rather than after the next flush."""
    _ATTACHED[id(rt)] = counter


def detach(rt: Runtime) -> None:
    _ATTACHED.pop(id(rt), None)


def _upsert(conn: AsyncConnection) -> Any:
    """`INSERT ... ON CONFLICT (app_id, day, endpoint) DO UPDATE SET count = count + new`."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(usage_daily)
    return stmt.on_conflict_do_update(
        index_elements=[usage_daily.c.app_id, usage_daily.c.day, usage_daily.c.endpoint],
        set_={"count": usage_daily.c["count"] + stmt.excluded["count"]},
    )


async def add_counts(rt: Runtime, counts: Mapping[UsageKey, int]) -> int:
    """Add request counts to the stored daily counts in one transaction.

    Counts of an app deleted since they were taken are dropped (its usage went with it).
    Rows are written in key order so two flushing workers never deadlock on PostgreSQL.
    """
    if not counts:
        return 0
    app_ids = sorted({key[0] for key in counts})
    async with rt.db.write() as conn:
        alive = {
            row.id
            for row in (await conn.execute(select(apps.c.id).where(apps.c.id.in_(app_ids)))).all()
        }
        rows: list[dict[str, Any]] = [
            {"app_id": app_id, "day": day, "endpoint": endpoint[:32], "count": value}
            for (app_id, day, endpoint), value in sorted(counts.items())
            if app_id in alive and value > 0
        ]
        if rows:
            await conn.execute(_upsert(conn), rows)
    return sum(int(row["count"]) for row in rows)


def check_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise invalid("days", f"days must be between 1 and {MAX_DAYS}")
    return days


@dataclass(frozen=True)
class UsageDay:
    date: str
    count: int
    endpoints: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date, "count": self.count, "endpoints": dict(self.endpoints)}


async def usage_report(rt: Runtime, app_id: str, days: int = 7) -> list[UsageDay]:
    """The last `days` UTC days ending today (runtime clock), oldest first; a day without
    requests is there with count 0. Each day carries its per-endpoint counts. The stored
    counts plus this process's unflushed ones (other workers' show after their next flush)."""
    check_days(days)
    today = rt.clock().date()
    first = today - timedelta(days=days - 1)
    names = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    async with rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(usage_daily.c.day, usage_daily.c.endpoint, usage_daily.c["count"]).where(
                    and_(
                        usage_daily.c.app_id == app_id,
                        usage_daily.c.day >= names[0],
                        usage_daily.c.day <= names[-1],
                    )
                )
            )
        ).all()
    per_day: dict[str, dict[str, int]] = {name: {} for name in names}
    for day, endpoint, count in rows:
        if day in per_day:
            per_day[day][endpoint] = int(count)
    counter = _ATTACHED.get(id(rt))
    if counter is not None:
        for (day, endpoint), count in counter.pending_for(app_id).items():
            if day in per_day:
                per_day[day][endpoint] = per_day[day].get(endpoint, 0) + count
    return [
        UsageDay(
            date=name,
            count=sum(per_day[name].values()),
            endpoints=dict(sorted(per_day[name].items())),
        )
        for name in names
    ]


async def daily_series(rt: Runtime, app_id: str, days: int = 7) -> list[dict[str, Any]]:
    """`[{date: "YYYY-MM-DD", count}]`, oldest first, ending today (what `app usage` reports)."""
    return [{"date": d.date, "count": d.count} for d in await usage_report(rt, app_id, days)]


async def run_flusher(rt: Runtime, counter: UsageCounter, interval: float) -> None:
    """Flush every `interval` seconds until cancelled (the caller flushes once more after)."""
    failure = "could not flush client usage counts (kept for the next flush)"
    await background.every(interval, lambda: counter.flush(rt), log, failure)
