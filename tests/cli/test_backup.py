"""`licentia backup --to FILE` and `licentia restore --from FILE` (SQLite and PostgreSQL).

The backup is one standalone SQLite file; restore refuses a database that holds rows unless
`--replace`, and puts back exactly what the backup held (same ids, secrets, signing key).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store.tables import apps, licenses
from tests.cli.conftest import Installation, install  # noqa: F401 - fixture


def _keys(inst: Installation) -> list[str]:
    async def go(conn: AsyncConnection) -> list[str]:
        return sorted((await conn.execute(select(licenses.c.key))).scalars())

    result: list[str] = inst.query(go)
    return result


def _apps(inst: Installation) -> list[tuple[str, str, str]]:
    async def go(conn: AsyncConnection) -> list[tuple[str, str, str]]:
        rows = await conn.execute(select(apps.c.id, apps.c.name, apps.c.secret_enc))
        return sorted((r.id, r.name, str(r.secret_enc)) for r in rows)

    result: list[tuple[str, str, str]] = inst.query(go)
    return result


def _setup(inst: Installation) -> tuple[str, str]:
    owner = inst.json(
        "owner", "create", "--username", f"b{secrets.token_hex(3)}", "--password", "pw"
    )["owner_id"]
    app_id = inst.json("app", "create", "--owner", owner, "--name", "Saved")["app_id"]
    inst.json("subscription", "create", "--app", app_id, "--name", "Default")
    inst.json("license", "add", "--app", app_id, "--key", "KEEP-1", "--subscription", "Default")
    return owner, app_id


def test_backup_then_restore(install: Installation, tmp_path: Path) -> None:  # noqa: F811
    owner, app_id = _setup(install)
    kid = install.json("signing-key", "show")["kid"]
    saved_apps = _apps(install)
    target = tmp_path / "backup.db"
    made = install.json("backup", "--to", str(target))
    assert made["file"] == str(target) and made["tables"]["licenses"] == 1, made
    assert made["bytes"] == target.stat().st_size
    # One standalone file, in rollback-journal mode, that SQLite itself finds sound.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("backup")) == [
        "backup.db"
    ]
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)

    # Changes after the backup ...
    install.json("license", "delete", "KEEP-1", "--app", app_id)
    install.json("app", "create", "--owner", owner, "--name", "Later")
    changed = (_keys(install), _apps(install))
    # ... stay while restore is refused (the database holds rows) ...
    body = install.fails("restore", "--from", str(target), code="TARGET_NOT_EMPTY")
    assert "--replace" in body["message"]
    assert (_keys(install), _apps(install)) == changed
    # ... and are undone by --replace: the same ids, secrets and signing key as before.
    restored = install.json("restore", "--from", str(target), "--replace")
    assert restored["verified"] is True and restored["tables"]["licenses"] == 1
    assert _keys(install) == ["KEEP-1"]
    assert _apps(install) == saved_apps
    assert install.json("signing-key", "show")["kid"] == kid
    info = install.json("license", "info", "KEEP-1", "--app", app_id)
    assert info["subscription"] == "Default"


def test_restore_into_a_fresh_installation(install: Installation, tmp_path: Path) -> None:  # noqa: F811
    _setup(install)
    target = tmp_path / "b.db"
    install.json("backup", "--to", str(target))
    fresh_dir = tmp_path / "fresh"
    fresh = Installation(
        data_dir=fresh_dir,
        database_url=None,
        env={**install.env, "LICENTIA_DATA_DIR": str(fresh_dir)},
    )
    fresh.env.pop("LICENTIA_DATABASE_URL", None)
    # Without the master key the restored secrets would be unreadable: refused, unchanged.
    fresh.fails("restore", "--from", str(target), code="MASTER_KEY")
    assert not (fresh_dir / "licentia.db").exists() or _keys(fresh) == []
    fresh_dir.mkdir(exist_ok=True)
    (fresh_dir / "master.key").write_bytes((install.data_dir / "master.key").read_bytes())
    assert fresh.json("restore", "--from", str(target))["tables"]["licenses"] == 1
    assert _keys(fresh) == ["KEEP-1"] and _apps(fresh) == _apps(install)


def test_bad_files_are_refused(install: Installation, tmp_path: Path) -> None:  # noqa: F811
    _setup(install)
    body = install.fails("backup", "--to", str(tmp_path / "no" / "b.db"), code="OUTPUT_PATH")
    assert "does not exist" in body["message"]
    install.fails("restore", "--from", str(tmp_path / "missing.db"), code="BACKUP_INVALID")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    install.fails("restore", "--from", str(junk), code="BACKUP_INVALID")
    assert _keys(install) == ["KEEP-1"]


def test_sqlite_backup_is_consistent_while_writes_go_on(
    install: Installation,  # noqa: F811
    tmp_path: Path,
) -> None:
    if install.database_url is not None:
        return  # the SQLite backup API; PostgreSQL is read in one REPEATABLE READ snapshot
    _setup(install)
    db_path = install.data_dir / "licentia.db"
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:  # every transaction adds two rows: a snapshot holds an even count
        conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
        n = 0
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(2):
                n += 1
                conn.execute(
                    "INSERT INTO replay_cache (nonce, request_id, body_sha256, expires_at) "
                    "VALUES (?, '', '', '2099-01-01 00:00:00')",
                    (f"n{n}",),
                )
            conn.execute("COMMIT")
            written.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            stop.wait(0.01)
        counts: list[Any] = []
        for i in range(3):
            made = install.json("backup", "--to", str(tmp_path / f"b{i}.db"))
            counts.append(made["tables"]["replay_cache"])
    finally:
        stop.set()
        thread.join()
    assert all(c % 2 == 0 for c in counts), counts
    assert counts == sorted(counts) and counts[-1] <= written[-1]
