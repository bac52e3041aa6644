"""The work behind `licentia backup --to FILE` and `licentia restore --from FILE`.

Backup: the output path is checked first; the file is written beside its final name, checked,
then renamed into place (`cli.outputs.StagedOutput`). Restore: the backup is copied to a
working file, migrated to the current schema and checked against the configured master key
before the configured database is touched; a database that holds rows is overwritten only
with `--replace`. A SQLite database is overwritten with the backup API in one step; a
PostgreSQL one is filled by `store.copy` in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from licentia.cli._support import CliFailure, mask_url
from licentia.cli.outputs import StagedOutput
from licentia.config import Settings
from licentia.services.runtime import Runtime
from licentia.store import backup as files
from licentia.store.copy import CopyError, copy_database
from licentia.store.migrate import alembic_config, upgrade

KEEP_KEY_NOTE = (
    "the backup's secrets are encrypted under the master key: keep master.key (or "
    "LICENTIA_MASTER_KEY) with it, stored apart from the backup"
)


async def check_master_key(settings: Settings, url: str) -> None:
    """The configured master key must read `url`'s secrets (else the data is no use to it)."""
    rt = Runtime.build(settings.model_copy(update={"database_url": url}))
    try:
        await rt.check_master_key()
    finally:
        await rt.close()


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


def _fail_from(exc: files.BackupError | CopyError) -> CliFailure:
    return CliFailure(exc.code, exc.message)


def _temp_beside(path: Path, label: str) -> Path:
    folder = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{label}.", suffix=".tmp", dir=folder)
    os.close(fd)
    return Path(name)


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()


def backup(settings: Settings, to_file: Path) -> dict[str, Any]:
    staged = StagedOutput(to_file)
    url = settings.resolved_database_url
    temp = _temp_beside(staged.path, "backup")
    try:
        try:
            if settings.is_sqlite:
                files.copy_sqlite(files.sqlite_path(url), temp)
            else:
                asyncio.run(copy_database(url, files.sqlite_url(temp), with_sessions=True))
                files.finish_file(temp)
            info = files.inspect_file(temp, known_revisions=known_revisions())
        except (files.BackupError, CopyError) as exc:
            raise _fail_from(exc) from None
        except OSError as exc:
            raise CliFailure(
                "OUTPUT_PATH", f"cannot write {to_file}: {exc.strerror or exc}"
            ) from None
        staged.adopt(temp)
        staged.commit()
    finally:
        staged.discard()
        _remove(temp)  # nothing left after the rename; the partial file after a failure
    return {
        "file": str(to_file),
        "bytes": to_file.stat().st_size,
        "from": mask_url(url),
        "revision": info.revision,
        "rows": info.rows,
        "tables": info.tables,
        "note": KEEP_KEY_NOTE,
    }


def restore(settings: Settings, from_file: Path, replace: bool) -> dict[str, Any]:
    try:
        files.inspect_file(from_file, known_revisions=known_revisions())
    except files.BackupError as exc:
        raise _fail_from(exc) from None
    target_url = settings.resolved_database_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    work_dir = files.sqlite_path(target_url).parent if settings.is_sqlite else settings.data_dir
    work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = _temp_beside(work_dir / "licentia-restore", "work")
    try:
        files.copy_sqlite(from_file, work)
        upgrade(files.sqlite_url(work))  # a backup from an older version gets the new schema
        files.finish_file(work)
        asyncio.run(check_master_key(settings, files.sqlite_url(work)))
        info = files.inspect_file(work, known_revisions=known_revisions())
        if settings.is_sqlite:
            _restore_sqlite(work, files.sqlite_path(target_url), replace, info.tables)
        else:
            asyncio.run(
                copy_database(
                    files.sqlite_url(work), target_url, with_sessions=True, replace=replace
                )
            )
    except (files.BackupError, CopyError) as exc:
        raise _fail_from(exc) from None
    finally:
        _remove(work)
    return {
        "file": str(from_file),
        "to": mask_url(target_url),
        "revision": info.revision,
        "rows": info.rows,
        "tables": info.tables,
        "verified": True,
    }


def _restore_sqlite(work: Path, target: Path, replace: bool, expected: dict[str, int]) -> None:
    if target.exists():
        upgrade(files.sqlite_url(target))
        held = {t: n for t, n in files.table_counts(target).items() if n}
        if held and not replace:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(held.items()))
            raise CliFailure(
                "TARGET_NOT_EMPTY",
                f"the database {target} already holds rows: {listed}; give --replace to "
                "overwrite it with the backup",
            )
    files.restore_sqlite(work, target)
    found = files.table_counts(target)
    if found != expected:
        raise CliFailure("VERIFY_FAILED", f"restored row counts differ: {found} != {expected}")
