"""Engine and transactions.

`Database.read()` and `Database.write()` give a connection inside one transaction, committed
when the block ends without an exception and rolled back otherwise.

SQLite: WAL mode, `foreign_keys=ON`, a busy timeout, and write transactions start with
`BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade; in-process writers also
queue on an asyncio lock rather than on SQLite's sleeping busy handler.
PostgreSQL: READ COMMITTED; races are closed with conditional UPDATEs and row locks.

Nesting: inside a `write()` block, a nested `write()` of the same task joins the open
transaction through a SAVEPOINT (an exception inside the nested block undoes only its own
work), and a nested `read()` reads through the same connection, so it sees the uncommitted
changes. A management face opens one `write()` around a service call and its audit entry:
the entry commits exactly when the change does. The client hot path never nests.

The client hot path uses `quick_read()` and `quick_write()`: the same statements without the
per-statement thread hops of aiosqlite (see `store/quick.py`), and on PostgreSQL reads
without `BEGIN`/`COMMIT` round trips (one statement is its own snapshot).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from licentia.store import textsafe
from licentia.store.quick import QuickSqlite, SyncConn


def _plain(statement: Any) -> Any:
    """The SQLAlchemy statement of a `hotsql.HotWrite`, or the statement itself."""
    return statement.statement if hasattr(statement, "form") else statement


class HotConn(Protocol):
    """What `quick_read()` / `quick_write()` yield: an `AsyncConnection` or a `SyncConn`."""

    async def execute(self, statement: Any, parameters: Any = None, /) -> Any: ...


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """`hide_parameters`: SQL parameters (hashes, secrets) never appear in errors or logs.
    Every string parameter is made storable first (`textsafe`: lone surrogates, NUL)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, hide_parameters=True)
        _configure_sqlite(engine)
    elif pool_size <= 0:
        engine = create_async_engine(url, poolclass=NullPool, hide_parameters=True)
    else:
        engine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, hide_parameters=True
        )
        _ping_when_idle(engine)
    textsafe.install(engine)
    return engine


#: A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """`pool_pre_ping`, but only for a connection that sat idle in the pool.

    SQLAlchemy's pre-ping costs every checkout a round trip (with asyncpg outside autocommit
    three: BEGIN, `;`, ROLLBACK), the largest single cost of a validate-session on PostgreSQL.
    A connection checked in less than `IDLE_PING_SECONDS` ago was working then; one that sat
    longer (the server may have restarted meanwhile) is pinged, and a dead one is replaced
    before anyone uses it, as with pre-ping."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["licentia_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("licentia_idle_since")
        if since is not None and time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise DisconnectionError(str(error)) from error


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("licentia_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    def __init__(self, engine: AsyncEngine, *, quick: bool = True) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        database = engine.url.database or ""
        self._quick = (
            QuickSqlite(str(engine.url.render_as_string(hide_password=False)))
            if quick
            and self.is_sqlite
            and database not in ("", ":memory:")
            and not database.startswith("file:")
            else None
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # The write transaction open in the current task (tasks copy it when spawned: a task
        # started inside a write block must not use the database before the block ends).
        self._open_write: ContextVar[AsyncConnection | None] = ContextVar(
            "licentia_open_write", default=None
        )

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10) -> Database:
        return cls(make_engine(url, pool_size=pool_size))

    @property
    def in_write(self) -> bool:
        """True inside a `write()` block of the current task."""
        return self._open_write.get() is not None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        joined = self._open_write.get()
        if joined is not None:
            yield joined
            return
        async with self.engine.connect() as conn:
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        joined = self._open_write.get()
        if joined is not None:
            async with joined.begin_nested():
                yield joined
            return
        if self._write_lock is None:
            async with self.engine.connect() as conn:
                async with conn.begin():
                    async with self._opened(conn):
                        yield conn
            return
        async with self._write_lock:
            async with self._locked_write() as conn:
                yield conn

    @asynccontextmanager
    async def _locked_write(self) -> AsyncIterator[AsyncConnection]:
        """A SQLite write transaction on the threaded driver; the caller holds the lock."""
        async with self.engine.connect() as raw:
            conn = await raw.execution_options(licentia_write=True)
            async with conn.begin():
                async with self._opened(conn):
                    yield conn

    @asynccontextmanager
    async def _opened(self, conn: AsyncConnection) -> AsyncIterator[None]:
        token = self._open_write.set(conn)
        try:
            yield
        finally:
            self._open_write.reset(token)

    @asynccontextmanager
    async def quick_read(self) -> AsyncIterator[HotConn]:
        """A connection for a few short reads, each statement its own committed snapshot."""
        joined = self._open_write.get()
        if joined is not None:
            yield joined
            return
        if self._quick is not None:
            with self._quick.reader() as sync:
                yield SyncConn(sync)
            return
        async with self.engine.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def quick_write(self) -> AsyncIterator[HotConn]:
        """`write()` for short hot-path transactions. On SQLite, after the in-process write
        lock, on the loop thread when the file's write lock is free at once; when another
        process holds it, on the threaded driver, which waits. Elsewhere exactly `write()`."""
        quick, lock = self._quick, self._write_lock
        if quick is None or lock is None or self.in_write:
            async with self.write() as conn:
                yield conn
            return
        async with lock:
            if not quick.try_begin():
                async with self._locked_write() as conn:
                    yield conn
                return
            try:
                yield SyncConn(quick.writer())
            except BaseException:
                quick.end(commit=False)
                raise
            quick.end(commit=True)

    async def quick_execute(
        self, statement: Any, parameters: Any = None, *, via: HotConn | None = None
    ) -> Any:
        """One write statement, committed on its own (autocommit on PostgreSQL).

        `via`: the open `quick_read()` connection of this task; on PostgreSQL it is in
        autocommit mode already, so the statement runs there (no second pool checkout)."""
        quick, lock = self._quick, self._write_lock
        if quick is not None and lock is not None and not self.in_write:
            async with lock:
                result = quick.try_execute(statement, parameters)
                if result is None:  # another process writes: wait on the threaded driver
                    async with self._locked_write() as conn:
                        result = await conn.execute(_plain(statement), parameters)
            return result
        statement = _plain(statement)
        if self.is_sqlite or self.in_write:
            async with self.write() as conn:
                return await conn.execute(statement, parameters)
        if via is not None and isinstance(via, AsyncConnection):
            return await via.execute(statement, parameters)
        async with self.engine.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.execute(statement, parameters)

    async def dispose(self) -> None:
        if self._quick is not None:
            self._quick.dispose()
        await self.engine.dispose()
