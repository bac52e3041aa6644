"""Backup files: one SQLite database file, whatever database it was taken from.

A SQLite database is copied with SQLite's online backup API (`sqlite3.Connection.backup`):
consistent while the server keeps running, since each step holds a read transaction and the
copy restarts by itself when another connection writes in between. A PostgreSQL database is
copied into a fresh SQLite file by `store.copy` (one REPEATABLE READ snapshot). The file is
switched to the rollback journal (no `-wal` file beside it) and checked
(`PRAGMA integrity_check`, the migration revision, the row count of every table).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from licentia.store.tables import metadata

BUSY_TIMEOUT_MS = 10_000


class BackupError(Exception):
    """A backup file is unusable (not SQLite, damaged, not a Licentia database)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FileInfo:
    revision: str
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("USAGE", "an in-memory SQLite database cannot be backed up")
    return Path(database)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path.resolve()}"


@contextlib.contextmanager
def _open(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    target = f"file:{path.resolve()}?mode=ro" if read_only else str(path)
    conn = sqlite3.connect(target, uri=read_only, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        yield conn
    finally:
        conn.close()


def copy_sqlite(source: Path, target: Path, *, read_only_source: bool = True) -> None:
    """Copy the database `source` into `target` (a file that is empty or a database) with the
    backup API, then leave `target` in rollback-journal mode."""
    with _open(source, read_only=read_only_source) as src, _open(target) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")


def restore_sqlite(source: Path, target: Path) -> None:
    """Overwrite the live database `target` with `source` (backup API: WAL-safe), back in WAL."""
    with _open(source, read_only=True) as src, _open(target) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")


def finish_file(path: Path) -> None:
    """A file written through SQLAlchemy (WAL mode): fold the WAL in, one standalone file."""
    with _open(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")


def inspect_file(path: Path, *, known_revisions: set[str]) -> FileInfo:
    """Check a backup file; its revision and the row count of every Licentia table."""
    if not path.is_file():
        raise BackupError("BACKUP_INVALID", f"no backup file at {path}")
    try:
        with _open(path, read_only=True) as conn:
            check = conn.execute("PRAGMA integrity_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError("BACKUP_INVALID", f"{path} is damaged: {check}")
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "alembic_version" not in names:
                raise BackupError("BACKUP_INVALID", f"{path} is not a Licentia database")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = str(row[0]) if row else ""
            tables = {
                t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # noqa: S608
                for t in metadata.tables
                if t in names
            }
    except sqlite3.DatabaseError as exc:
        raise BackupError("BACKUP_INVALID", f"{path} is not a SQLite database: {exc}") from None
    if revision not in known_revisions:
        raise BackupError(
            "BACKUP_INVALID",
            f"{path} is at migration {revision or 'none'}, which this Licentia does not know "
            "(a newer version wrote it)",
        )
    return FileInfo(revision=revision, tables=tables)


def table_counts(path: Path) -> dict[str, int]:
    with _open(path, read_only=True) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        return {
            t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # noqa: S608
            for t in metadata.tables
            if t in names
        }
