"""Write-behind `sessions.last_seen_at` for validate-session and blacklist/check (and the
read-only `ticket` call, which marks its session the same way).

The first two calls are what a running program repeats all day; their only write was one
`UPDATE sessions SET last_seen_at` per call (on SQLite a turn of the file's write lock, on
PostgreSQL a commit with its WAL flush). Each worker now notes the time in memory
(`SeenBuffer.note`, a dictionary store) and writes every noted session in one transaction every
`FLUSH_SECONDS` (and once more at shutdown), each row only forwards and only while the session
is live (`ended_at IS NULL`), so a flush never revives an ended session nor moves a newer
last-seen back.

What this costs, and its bound:

* The worker that served a call takes its own unwritten time into account (`seen_at`), so its
  idle expiry is exact. Another worker reads the stored value, which is at most
  `FLUSH_SECONDS` (plus the flush's own duration) old: across workers a session can be judged
  idle at most that much early, and only when a call came within that window of its idle
  timeout.
* A worker that is killed (SIGKILL, power loss) loses the last-seen times of at most its last
  `FLUSH_SECONDS`; nothing else (no answer, no session end, no identity change) is deferred.
  A clean stop (SIGTERM, SIGINT) flushes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update

from licentia.services import background
from licentia.store.engine import Database
from licentia.store.tables import sessions

log = logging.getLogger("licentia.sessions")

#: Seconds between two flushes of a worker's noted last-seen times (the staleness bound).
FLUSH_SECONDS = 1.0

_FLUSH = (
    update(sessions)
    .where(
        sessions.c.id_hash == bindparam("b_id_hash"),
        sessions.c.ended_at.is_(None),
        sessions.c.last_seen_at < bindparam("b_now"),
    )
    .values(last_seen_at=bindparam("b_now"))
)


class SeenBuffer:
    """The last-seen times this worker noted and has not written yet, by session hash."""

    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def note(self, id_hash: str, now: datetime) -> None:
        """Remember a successful call's time (no I/O: called on the hot path)."""
        self._pending[id_hash] = now

    def seen_at(self, id_hash: str, stored: datetime) -> datetime:
        """The later of the stored last-seen time and this worker's unwritten one."""
        noted = self._pending.get(id_hash)
        return stored if noted is None or noted <= stored else noted

    async def flush(self, db: Database) -> int:
        """Write the noted times in one transaction; returns how many were written.

        The buffer is swapped out first so calls keep noting during the write; on failure the
        taken entries go back (unless a newer time was noted meanwhile) for the next flush.
        """
        async with self._lock:
            taken, self._pending = self._pending, {}
            if not taken:
                return 0
            rows: list[dict[str, Any]] = [
                {"b_id_hash": key, "b_now": taken[key]} for key in sorted(taken)
            ]  # one order in every worker: no lock-order deadlock between two flushes
            try:
                async with db.write() as conn:
                    await conn.execute(_FLUSH, rows)
            except BaseException:
                for key, value in taken.items():
                    if key not in self._pending:
                        self._pending[key] = value
                raise
            return len(rows)


async def run_flusher(db: Database, buffer: SeenBuffer, interval: float = FLUSH_SECONDS) -> None:
    """Flush every `interval` seconds until cancelled (the caller flushes once more after)."""
    failure = "could not write session last-seen times (kept for the next flush)"
    await background.every(interval, lambda: buffer.flush(db), log, failure)
