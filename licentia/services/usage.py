"""Client API usage per app, UTC day and endpoint (management B.12), and Prometheus metrics.

Usage is counted on the client hot path, so a request must not wait for the database: each
process counts in memory (`UsageCounter.hit`, a dictionary increment) and a background task
flushes the counts every `usage_flush_interval` seconds, and once more on shutdown, with one
upsert per (app, day, endpoint) that *adds* to the stored count. Several worker processes
therefore add up correctly: each adds only what it counted since its last flush.

`Metrics` holds the per-process numbers `GET /metrics` exposes in the Prometheus text format
(counters by endpoint and status, a latency histogram, database pool and process basics). It
is written here rather than with `prometheus_client` because the handful of series needs no
new dependency; each worker process reports its own numbers (Prometheus sums them).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import resource
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

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
    while True:
        await asyncio.sleep(interval)
        try:
            await counter.flush(rt)
        except Exception:
            log.exception("could not flush client usage counts (kept for the next flush)")


# -- Prometheus metrics ------------------------------------------------------------------

#: Latency histogram buckets in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class _Histogram:
    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.count += 1
        self.total += seconds


class Metrics:
    """Counters and a latency histogram of this process, rendered for Prometheus."""

    def __init__(self) -> None:
        self.started = time.time()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}

    def observe(self, face: str, endpoint: str, status: int, seconds: float) -> None:
        """One finished HTTP request of `face` (`client`, `manage`, `elite-key`, `other`)."""
        key = (face, endpoint, str(status))
        self._requests[key] = self._requests.get(key, 0) + 1
        histogram = self._latency.get((face, endpoint))
        if histogram is None:
            histogram = self._latency[(face, endpoint)] = _Histogram()
        histogram.observe(seconds)

    def render(self, *, pool: Any = None, usage_pending: int = 0) -> str:
        """The text exposition format (version 0.0.4)."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family(
            "licentia_http_requests_total", "counter", "HTTP requests by face, endpoint, status."
        )
        for (face, endpoint, status), value in sorted(self._requests.items()):
            labels = _labels((("face", face), ("endpoint", endpoint), ("status", status)))
            out.append(f"licentia_http_requests_total{labels} {value}")
        family(
            "licentia_http_request_duration_seconds",
            "histogram",
            "Time from request to response, by face and endpoint.",
        )
        for (face, endpoint), hist in sorted(self._latency.items()):
            base = (("face", face), ("endpoint", endpoint))
            running = 0
            for bound, hits in zip((*BUCKETS, float("inf")), hist.buckets, strict=True):
                running += hits
                labels = _labels((*base, ("le", _number(bound))))
                out.append(f"licentia_http_request_duration_seconds_bucket{labels} {running}")
            out.append(
                f"licentia_http_request_duration_seconds_sum{_labels(base)} {_number(hist.total)}"
            )
            out.append(f"licentia_http_request_duration_seconds_count{_labels(base)} {hist.count}")
        family("licentia_usage_pending_requests", "gauge", "Counted client requests not flushed.")
        out.append(f"licentia_usage_pending_requests {usage_pending}")
        for name, method, help_text in (
            ("licentia_db_pool_size", "size", "Connections the database pool keeps."),
            ("licentia_db_pool_checked_out", "checkedout", "Database connections in use."),
            ("licentia_db_pool_overflow", "overflow", "Database connections beyond the pool."),
        ):
            getter = getattr(pool, method, None)
            if callable(getter):
                family(name, "gauge", help_text)
                out.append(f"{name} {_number(float(getter()))}")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        family("process_cpu_seconds_total", "counter", "User and system CPU time in seconds.")
        out.append(f"process_cpu_seconds_total {_number(usage.ru_utime + usage.ru_stime)}")
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        out.append(f"process_resident_memory_bytes {_resident_bytes(usage.ru_maxrss)}")
        family("process_start_time_seconds", "gauge", "Start time since the epoch in seconds.")
        out.append(f"process_start_time_seconds {_number(round(self.started, 3))}")
        family("process_open_fds", "gauge", "Open file descriptors.")
        out.append(f"process_open_fds {_open_fds()}")
        return "\n".join(out) + "\n"


def _resident_bytes(max_rss_kib: int) -> int:
    """Current RSS from /proc when there is one, else the peak from getrusage."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return max_rss_kib * 1024


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0
