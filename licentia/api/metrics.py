"""Prometheus metrics on `prometheus-client`, one scrape covering every worker process.

`licentia serve` points `PROMETHEUS_MULTIPROC_DIR` at a folder of its own (emptied at start,
see `prepare_multiprocess_dir`) before the workers start; every worker then writes its
counters, histograms and gauges into memory-mapped files there, and whichever worker answers
`GET /metrics` adds them all up (`MultiProcessCollector`). Without the variable (tests, an
app built by hand) the numbers live in this process, in a registry of this `Metrics` object.

Gauges describe the worker that sets them (`refresh`: at start, every `REFRESH_SECONDS` and at
each scrape) and are summed over the live workers (`livesum`), except the start time (the
oldest) and the replay table's row count (the same table for all: the largest reading). A
worker that stops marks itself dead, so its gauges leave the sums.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Latency histogram buckets in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REFRESH_SECONDS = 5.0

_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("licentia_workers", "livesum", "Worker processes serving (each live worker counts 1)."),
    ("licentia_usage_pending_requests", "livesum", "Counted client requests not flushed."),
    ("licentia_db_pool_size", "livesum", "Connections the database pools keep."),
    ("licentia_db_pool_checked_out", "livesum", "Database connections in use."),
    ("licentia_db_pool_overflow", "livesum", "Database connections beyond the pools."),
    ("licentia_app_config_cache_entries", "livesum", "Apps in the workers' config caches."),
    ("licentia_replay_store_entries", "livesum", "Nonces held by in-process replay stores."),
    ("licentia_replay_store_rows", "max", "Rows of the shared replay_cache table."),
    ("process_cpu_seconds_total", "livesum", "User and system CPU time in seconds."),
    ("process_resident_memory_bytes", "livesum", "Resident memory size in bytes."),
    ("process_open_fds", "livesum", "Open file descriptors."),
    ("process_start_time_seconds", "min", "Start time since the epoch in seconds."),
)


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path) -> Path:
    """Create `path` (0700) and remove what an earlier run left in it: stale files of dead
    workers would be added to the new server's numbers."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return path


class Metrics:
    """The metrics of one app: request counters, latency histogram, gauges."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.directory = multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "licentia_http_requests",
            "HTTP requests by face, endpoint, status.",
            ("face", "endpoint", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "licentia_http_request_duration_seconds",
            "Time from request to response, by face and endpoint.",
            ("face", "endpoint"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.gauges = {
            name: Gauge(name, text, registry=self.registry, multiprocess_mode=mode)  # type: ignore[arg-type]
            for name, mode, text in _GAUGES
        }
        self.sources: dict[str, Callable[[], float | None]] = {}
        self._task: asyncio.Task[None] | None = None

    def observe(self, face: str, endpoint: str, status: int, seconds: float) -> None:
        """One finished HTTP request of `face` (`client`, `manage`, `elite-key`, `other`)."""
        self.requests.labels(face, endpoint, str(status)).inc()
        self.latency.labels(face, endpoint).observe(seconds)

    def refresh(self) -> None:
        """Set this worker's gauges from their sources (a failing source is left as it was)."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        values: dict[str, float | None] = {
            "licentia_workers": 1,
            "process_cpu_seconds_total": usage.ru_utime + usage.ru_stime,
            "process_resident_memory_bytes": _resident_bytes(usage.ru_maxrss),
            "process_open_fds": _open_fds(),
            "process_start_time_seconds": _START,
        }
        for name, source in self.sources.items():
            with contextlib.suppress(Exception):
                values[name] = source()
        for name, value in values.items():
            if value is not None:
                self.gauges[name].set(float(value))

    def start(self, replay_rows: Callable[[], Any] | None = None) -> None:
        """Publish the gauges now and every `REFRESH_SECONDS` (call inside the event loop)."""
        self.refresh()
        self._task = asyncio.create_task(self._loop(replay_rows))

    async def _loop(self, replay_rows: Callable[[], Any] | None) -> None:
        while True:
            if replay_rows is not None:
                with contextlib.suppress(Exception):
                    self.gauges["licentia_replay_store_rows"].set(float(await replay_rows()))
            self.refresh()
            await asyncio.sleep(REFRESH_SECONDS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.directory is not None:
            from prometheus_client import multiprocess

            with contextlib.suppress(OSError):
                multiprocess.mark_process_dead(os.getpid(), str(self.directory))  # type: ignore[no-untyped-call]

    def render(self) -> bytes:
        """The text exposition format (0.0.4): every worker's numbers with multiprocess on."""
        from prometheus_client import CollectorRegistry, multiprocess

        self.refresh()
        if self.directory is None:
            return exposition(self.registry.collect())
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.directory))  # type: ignore[no-untyped-call]
        return exposition(registry.collect())


#: Labels come out in this order (then any other, sorted): the order the series always had.
_LABEL_ORDER = {"face": 0, "endpoint": 1, "status": 2, "le": 9}


def exposition(families: Iterable[Any]) -> bytes:
    """Text format 0.0.4, as Licentia always wrote it: labels in a fixed order, integral
    values without `.0`, no `_created` series (prometheus-client's own writer sorts labels)."""
    out: list[str] = []
    for family in sorted(families, key=lambda f: _FAMILY_ORDER.get(f.name, 99)):
        name = family.name + ("_total" if family.type == "counter" else "")
        out.append(f"# HELP {name} {_escape_help(family.documentation)}")
        out.append(f"# TYPE {name} {family.type}")
        for sample in sorted(family.samples, key=_sample_key):
            if sample.name.endswith("_created"):
                continue
            labels = sorted(
                sample.labels.items(), key=lambda kv: (_LABEL_ORDER.get(kv[0], 5), kv[0])
            )
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            out.append(
                f"{sample.name}{{{inner}}} {_number(sample.value)}"
                if inner
                else f"{sample.name} {_number(sample.value)}"
            )
    return ("\n".join(out) + "\n").encode()


_FAMILY_ORDER = {"licentia_http_requests": 0, "licentia_http_request_duration_seconds": 1} | {
    name: 2 + i for i, (name, _mode, _text) in enumerate(_GAUGES)
}


def _sample_key(sample: Any) -> tuple[Any, ...]:
    """Series by labels; within a histogram: buckets by bound, then _sum, then _count."""
    labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
    part = next(
        (n for n, end in enumerate(("_bucket", "_sum", "_count")) if sample.name.endswith(end)), 0
    )
    bound = sample.labels.get("le")
    return (labels, part, float(bound) if bound is not None else 0.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def pool_sources(pool: Any) -> dict[str, Callable[[], float | None]]:
    def reader(method: str) -> Callable[[], float | None]:
        def read() -> float | None:
            getter = getattr(pool, method, None)
            return float(getter()) if callable(getter) else None

        return read

    return {
        "licentia_db_pool_size": reader("size"),
        "licentia_db_pool_checked_out": reader("checkedout"),
        "licentia_db_pool_overflow": reader("overflow"),
    }


def sized(holder: Any, attribute: str = "_items") -> Callable[[], float | None]:
    """The number of entries `holder` keeps in `attribute` (None when it keeps none)."""

    def read() -> float | None:
        items = getattr(holder, attribute, None)
        return float(len(items)) if items is not None else None

    return read


_START = round(time.time(), 3)


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


def serve_environment(data_dir: Path, port: int, enabled: bool) -> dict[str, str]:
    """What `licentia serve` hands its workers: a multiprocess folder of this server's own
    (`<data dir>/prometheus/<port>`, or `PROMETHEUS_MULTIPROC_DIR` when the operator set
    one), emptied now; a fresh temporary folder when that one cannot be written. Nothing when
    metrics are off."""
    if not enabled:
        return {}
    chosen = multiprocess_dir() or data_dir.resolve() / "prometheus" / str(port)
    try:
        folder = prepare_multiprocess_dir(chosen)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix=f"licentia-metrics-{port}-"))
    return {MULTIPROC_ENV: str(folder)}
