"""The client hot path's short transactions on SQLite, run on the event loop thread.

aiosqlite runs every DBAPI call (cursor, execute, fetch, close, BEGIN, COMMIT) as a hop to
its own thread: five to ten hops per statement-and-transaction, which cost more than the
SQLite work itself (a primary-key read or a one-row write in WAL mode takes tens of
microseconds). `QuickSqlite` keeps one plain `sqlite3` connection per process for the hot
path and runs the same SQLAlchemy statements on it synchronously:

* reads run outside an explicit transaction (each statement is its own WAL snapshot, which
  never waits for a writer);
* a write transaction starts with `BEGIN IMMEDIATE` under a zero busy timeout: when another
  connection (this process's pool or another worker) holds the write lock, the attempt fails
  at once and the caller falls back to the ordinary threaded path, which waits. The event
  loop therefore never sleeps in SQLite's busy handler.

Only short, bounded work belongs here (the client endpoints); bulk writes keep the threaded
path so a long statement never blocks the loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from licentia.store import textsafe


class SyncConn:
    """The `await conn.execute(...)` surface of an `AsyncConnection` over a sync connection."""

    __slots__ = ("sync",)

    def __init__(self, sync: Connection) -> None:
        self.sync = sync

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.sync.execute(statement, parameters)


class QuickSqlite:
    """Connections kept open for the hot path: readers on a free list, one writer.

    The writer is only used under the `Database` write lock; a reader is never shared by two
    tasks at once (a task that awaits inside a read block keeps its reader meanwhile)."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(
            url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1),
            poolclass=NullPool,
            hide_parameters=True,
            connect_args={"check_same_thread": False},
        )
        event.listen(self.engine, "connect", _on_connect)
        textsafe.install(self.engine)  # the same parameter cleaning as the main engine
        self._readers: list[Connection] = []
        self._writer: Connection | None = None

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        conn = self._readers.pop() if self._readers else self.engine.connect()
        try:
            yield conn
        finally:
            conn.rollback()  # ends SQLAlchemy's autobegun state; no SQL transaction is open
            if len(self._readers) < MAX_IDLE_READERS:
                self._readers.append(conn)
            else:
                conn.close()

    def writer(self) -> Connection:
        if self._writer is None:
            self._writer = self.engine.connect()
        return self._writer

    def try_begin(self) -> bool:
        """Take the write lock now (True) or report it busy (False), never waiting."""
        try:
            _raw(self.writer()).execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                return False
            raise
        return True

    def end(self, *, commit: bool) -> None:
        writer = self.writer()
        raw = _raw(writer)
        if raw.in_transaction:
            raw.execute("COMMIT" if commit else "ROLLBACK")
        writer.rollback()  # resets SQLAlchemy's state only

    def try_execute(self, statement: Any, parameters: Any) -> Any:
        """One statement in autocommit mode, or None when the write lock is busy.

        A `hotsql.HotWrite` runs straight on the `sqlite3` connection (its cursor has the
        same `rowcount`); anything else through SQLAlchemy."""
        writer = self.writer()
        form = getattr(statement, "form", None)
        if form is not None:
            compiled = form(writer.dialect)
            try:
                return _raw(writer).execute(compiled.sql, compiled.args(parameters))
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    return None
                raise
        try:
            result = writer.execute(statement, parameters)
        except OperationalError as exc:
            writer.rollback()
            if _is_busy(exc.orig):
                return None
            raise
        writer.rollback()
        return result

    def dispose(self) -> None:
        for conn in [*self._readers, *([self._writer] if self._writer else [])]:
            conn.close()
        self._readers.clear()
        self._writer = None
        self.engine.dispose()


MAX_IDLE_READERS = 8


def _raw(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def _is_busy(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN: statements autocommit
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
