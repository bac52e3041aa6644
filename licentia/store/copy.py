"""Copy a whole Licentia database to another one (SQLite <-> PostgreSQL), row for row.

Everything keeps its identity: ids, owner ids, app secrets and every other secret (still
encrypted under the same master key: the target needs the same `master.key` or
`LICENTIA_MASTER_KEY`), signing keys, audit entries with their numbers. Client, dashboard and
portal sessions are copied only when asked (`with_sessions`); without them, clients simply
start a new session.

The source is read in one snapshot (one read transaction; REPEATABLE READ on PostgreSQL), so a
running server may keep serving while it is copied; writes after the snapshot are not copied.
The target is migrated to the current schema first, then filled in ONE transaction: rows in
foreign-key order, PostgreSQL sequences moved past the copied ids, and the row count of every
table compared with the source before the commit. Any problem rolls the whole copy back, so
the target is never left half filled. A target that already holds rows is refused unless
`replace` is given (its rows are then deleted inside the same transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Integer, Table, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from licentia.store.engine import make_engine
from licentia.store.migrate import alembic_config, upgrade_async
from licentia.store.tables import metadata

#: Tables that hold live sign-ins; copied only with `with_sessions`.
SESSION_TABLES = ("sessions", "dashboard_sessions", "portal_sessions")
#: Alembic's own bookkeeping: the target gets it from its migration.
IGNORED_TABLES = frozenset({"alembic_version"})
CHUNK = 1000


class CopyError(Exception):
    """The copy was refused or failed; nothing was committed to the target."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class CopyReport:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows copied (= verified)
    skipped: list[str] = field(default_factory=list)  # session tables left out
    replaced: int = 0  # rows deleted from the target first (`replace`)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return str(head)


async def _revision(conn: AsyncConnection) -> str | None:
    def read(sync_conn: object) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()  # type: ignore[arg-type]

    return await conn.run_sync(read)


async def _table_names(conn: AsyncConnection) -> set[str]:
    def read(sync_conn: object) -> set[str]:
        return set(inspect(sync_conn).get_table_names())

    return await conn.run_sync(read)


def copied_tables(with_sessions: bool) -> tuple[list[Table], list[str]]:
    """(tables to copy in foreign-key order, session tables skipped)."""
    tables = [t for t in metadata.sorted_tables if with_sessions or t.name not in SESSION_TABLES]
    skipped = [] if with_sessions else [t for t in SESSION_TABLES if t in metadata.tables]
    return tables, skipped


async def count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _check_source(conn: AsyncConnection) -> None:
    revision, head = await _revision(conn), head_revision()
    if revision != head:
        raise CopyError(
            "SCHEMA_MISMATCH",
            f"the source database is at migration {revision or 'none'}, this Licentia expects "
            f"{head}: upgrade it first (`licentia migrate` with the source's settings)",
        )
    unknown = sorted(await _table_names(conn) - set(metadata.tables) - IGNORED_TABLES)
    if unknown:
        raise CopyError(
            "SCHEMA_MISMATCH",
            f"the source database has tables this Licentia does not know: {', '.join(unknown)}",
        )


async def _empty_target(conn: AsyncConnection, tables: list[Table], replace: bool) -> int:
    """Rows deleted (with `replace`); otherwise refuse a target that holds any row."""
    every = list(metadata.sorted_tables)
    held = {t.name: n for t in every if (n := await count(conn, t))}
    if not held:
        return 0
    if not replace:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(held.items()))
        raise CopyError(
            "TARGET_NOT_EMPTY",
            f"the target database already holds rows: {listed}; "
            "give --replace to delete them (in the same transaction as the copy)",
        )
    for table in reversed(every):
        await conn.execute(table.delete())
    return sum(held.values())


async def _copy_table(
    src: AsyncConnection, dst: AsyncConnection, table: Table, progress: Callable[[int], None]
) -> None:
    result = await src.stream(select(table))
    async for chunk in result.partitions(CHUNK):
        await dst.execute(table.insert(), [dict(row._mapping) for row in chunk])
        progress(len(chunk))


async def _reset_sequences(dst: AsyncConnection, tables: list[Table]) -> None:
    """PostgreSQL: serial ids continue after the copied ones (SQLite follows max(rowid))."""
    if dst.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True and isinstance(column.type, Integer):
                top = (await dst.execute(select(func.max(column)))).scalar()
                await dst.execute(
                    text("SELECT setval(pg_get_serial_sequence(:t, :c), :v, false)"),
                    {"t": table.name, "c": column.name, "v": int(top or 0) + 1},
                )


async def copy_database(
    source_url: str,
    target_url: str,
    *,
    with_sessions: bool = False,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CopyReport:
    """Copy every row of `source_url` into `target_url` (see the module docstring)."""
    tables, skipped = copied_tables(with_sessions)
    report = CopyReport(skipped=skipped)
    tick = progress or (lambda _n: None)
    source, target = make_engine(source_url, pool_size=1), make_engine(target_url, pool_size=1)
    try:
        await upgrade_async(target_url)
        async with source.connect() as raw_src, target.connect() as raw_dst:
            src = await _snapshot(source, raw_src)
            dst = await raw_dst.execution_options(licentia_write=True)  # SQLite: IMMEDIATE
            async with src.begin(), dst.begin():
                await _check_source(src)
                report.replaced = await _empty_target(dst, tables, replace)
                expected = {t.name: await count(src, t) for t in tables}
                for table in tables:
                    await _copy_table(src, dst, table, tick)
                await _reset_sequences(dst, tables)
                for table in tables:
                    found = await count(dst, table)
                    if found != expected[table.name]:
                        raise CopyError(
                            "VERIFY_FAILED",
                            f"table {table.name}: {expected[table.name]} row(s) in the source, "
                            f"{found} in the target; nothing was committed",
                        )
                report.tables = expected
    finally:
        await source.dispose()
        await target.dispose()
    return report


async def _snapshot(engine: AsyncEngine, conn: AsyncConnection) -> AsyncConnection:
    """The source connection, reading one consistent snapshot for the whole copy."""
    if engine.dialect.name == "postgresql":
        return await conn.execution_options(isolation_level="REPEATABLE READ")
    return conn
