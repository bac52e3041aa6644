"""The client hot path's few reads on the raw driver: compiled once, no SQLAlchemy per call.

A profile of validate-session showed about a third of the worker's time in SQLAlchemy's
execution layer (execution context, parameter processing, cursor result, row) around two
primary-key reads that SQLite or PostgreSQL answer in tens of microseconds. `HotSelect`
compiles a Core `select()` once per dialect, keeping its SQL text, the order of its bind
parameters with their bind processors and, per result column, its result processor (the
same `UTCDateTime`, `Boolean` conversions SQLAlchemy applies). `first()` then runs it:

* on the SQLite quick connection (`store/quick.py`): straight on the `sqlite3` connection;
* on a PostgreSQL connection in AUTOCOMMIT mode (`Database.quick_read`): on the asyncpg
  connection, whose own statement cache prepares it once per connection;
* anywhere else (inside a transaction, the threaded SQLite fallback): through SQLAlchemy as
  before, so a statement never runs outside the transaction it was meant for.

Rows have the same attribute names as SQLAlchemy's (`tests/unit/test_hotsql.py` compares
both on both databases). Only plain reads with named bind parameters belong here; writes keep
SQLAlchemy (defaults, rowcounts). String parameters get the same `textsafe` cleaning as on
the engines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from licentia.store import textsafe
from licentia.store.quick import SyncConn

Processor = Callable[[Any], Any] | None


class HotRow(tuple[Any, ...]):
    """A result row with attribute access by column label (what the hot path uses)."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    @property
    def _mapping(self) -> dict[str, Any]:
        return {name: self[i] for name, i in type(self)._index.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self[type(self)._index[name]]
        except KeyError:
            raise AttributeError(name) from None


class _Form:
    """One statement compiled for one dialect."""

    __slots__ = ("binds", "fixed", "names", "procs", "row", "sql")

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        bind_procs = compiled._bind_processors
        #: Values bound in the statement itself (a literal compared in a subquery, a NULL set).
        self.fixed: dict[str, Any] = {
            k: v for k, v in compiled.params.items() if not compiled.binds[k].required
        }
        self.binds: tuple[Processor, ...] = tuple(
            cast(Processor, bind_procs.get(n)) for n in self.names
        )
        labels = [entry.keyname for entry in compiled._result_columns]
        self.procs: tuple[Processor, ...] = tuple(
            entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns
        )
        index = {label: i for i, label in reversed(list(enumerate(labels)))}
        self.row = type("HotRow", (HotRow,), {"__slots__": (), "_index": index})

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, proc in zip(self.names, self.binds, strict=True):
            value = params[name] if name in params else self.fixed[name]
            out.append(proc(value) if proc is not None and value is not None else value)
        return textsafe.clean_parameters(out, False)  # type: ignore[no-any-return]

    def make(self, raw: Any) -> HotRow:
        values = [
            proc(value) if proc is not None else value
            for value, proc in zip(raw, self.procs, strict=True)
        ]
        return self.row(values)  # type: ignore[no-any-return]


class HotSelect:
    """A Core `select()` run on the raw driver where that is safe (see the module doc)."""

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def form(self, dialect: Dialect) -> _Form:
        key = f"{dialect.name}:{dialect.paramstyle}"
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = _Form(self.statement, dialect)
        return found

    async def first(self, conn: Any, params: Mapping[str, Any]) -> Any:
        """The first row (a `HotRow` or SQLAlchemy `Row`), or None."""
        if isinstance(conn, SyncConn):
            sync = conn.sync
            form = self.form(sync.dialect)
            raw = sync.connection.dbapi_connection
            assert raw is not None
            found = raw.execute(form.sql, form.args(params)).fetchone()
            return None if found is None else form.make(found)
        if isinstance(conn, AsyncConnection) and _autocommit_pg(conn):
            form = self.form(conn.dialect)
            fairy = await conn.get_raw_connection()
            driver = fairy.driver_connection
            assert driver is not None
            found = await driver.fetchrow(form.sql, *form.args(params))
            return None if found is None else form.make(found)
        return (await conn.execute(self.statement, params)).first()


class HotWrite:
    """One INSERT/UPDATE whose every value is a named bind parameter (no column defaults to
    fill in), run on the SQLite quick writer's `sqlite3` connection by `Database.quick_execute`
    (the replay-nonce claim and answer: two writes per call with several SQLite workers).
    Elsewhere, and on the threaded fallback, the SQLAlchemy `statement` runs as before."""

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def form(self, dialect: Dialect) -> _Form:
        key = f"{dialect.name}:{dialect.paramstyle}"
        found = self._forms.get(key)
        if found is None:
            found = self._forms[key] = _Form(self.statement, dialect)
        return found


def _autocommit_pg(conn: AsyncConnection) -> bool:
    return (
        conn.dialect.name == "postgresql"
        and conn.dialect.driver == "asyncpg"
        and conn.sync_connection is not None
        and conn.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    )
