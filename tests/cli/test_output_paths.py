"""Every CLI command that writes a file checks the path before it changes or reads anything:
a bad path exits 1 with one JSON error object (`OUTPUT_PATH`) and nothing was changed; a
write that fails after the check rolls the change back (never "exit 1, but keys were made")."""

from __future__ import annotations

import errno
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.cli import outputs
from licentia.store.tables import audit_log, license_batches, licenses
from tests.cli.conftest import Installation, parse_one_object


def _counts(inst: Installation) -> tuple[int, int, int]:
    async def go(conn: AsyncConnection) -> tuple[int, int, int]:
        found = []
        for table in (licenses, license_batches, audit_log):
            found.append(
                int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            )
        return found[0], found[1], found[2]

    result: tuple[int, int, int] = inst.query(go)
    return result


def _setup(inst: Installation) -> tuple[str, str]:
    owner = inst.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )["owner_id"]
    app_id = inst.json("app", "create", "--owner", owner, "--name", "Files")["app_id"]
    inst.json("subscription", "create", "--app", app_id, "--name", "Default")
    inst.json("license", "add", "--app", app_id, "--key", "FILE-1", "--subscription", "Default")
    return owner, app_id


def _commands(owner: str, app_id: str) -> list[tuple[str, ...]]:
    app = ("--app", app_id)
    return [
        ("license", "generate", *app, "--subscription", "Default", "--days", "3", "--count", "2"),
        ("license", "export", *app),
        ("log", "export", *app),
        ("log", "events-export", *app),
        ("user", "export", *app),
        ("device", "export", *app),
        ("audit", "export", "--owner", owner),
    ]


@pytest.mark.parametrize(
    "bad", [pytest.param("missing", id="no-such-folder"), pytest.param("folder", id="a-folder")]
)
def test_bad_output_path_changes_nothing(install: Installation, tmp_path: Path, bad: str) -> None:
    owner, app_id = _setup(install)
    target = tmp_path / "nonexistent" / "order.csv" if bad == "missing" else tmp_path
    before = _counts(install)
    for command in _commands(owner, app_id):
        for flag in ("--output", "-o") if command[1] == "generate" else ("--output",):
            body = install.fails(*command, flag, str(target), code="OUTPUT_PATH")
            assert str(target) in body["message"], body
            assert _counts(install) == before, command
            # Without --json: one line on stderr, exit 1, nothing on stdout.
            plain = install.invoke(*command, flag, str(target))
            assert plain.exit_code == 1, (command, plain.stdout, plain.stderr)
            assert plain.stdout == "" and plain.stderr.startswith("error: cannot write")
            assert _counts(install) == before, command
    assert not (tmp_path / "nonexistent").exists()


def test_failed_write_rolls_the_batch_back(
    install: Installation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _owner, app_id = _setup(install)
    before = _counts(install)
    target = tmp_path / "order.csv"

    def disk_full(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", disk_full)
    gen = ("license", "generate", "--app", app_id, "--subscription", "Default", "--days", "3")
    body = install.fails(*gen, "--count", "3", "-o", str(target), code="OUTPUT_PATH")
    assert "No space left" in body["message"]
    assert _counts(install) == before  # no keys, no batch, no audit entry
    assert not target.exists() and list(tmp_path.glob(".order.csv.*")) == []

    monkeypatch.undo()
    made = install.json(*gen, "--count", "3", "-o", str(target), "--format", "json")
    written = json.loads(target.read_text())
    assert made == {"keys": written["keys"]} and len(written["keys"]) == 3
    assert _counts(install)[:2] == (before[0] + 3, before[1] + 1)


def test_export_writes_the_whole_file(install: Installation, tmp_path: Path) -> None:
    _owner, app_id = _setup(install)
    target = tmp_path / "keys.csv"
    target.write_text("old content that must be replaced\n")
    result = install.invoke("license", "export", "--app", app_id, "-o", str(target), "--json")
    assert result.exit_code == 0, result.stderr
    assert parse_one_object(result.stdout)["output"] == str(target)
    assert target.read_text().splitlines()[1].startswith("FILE-1,Default,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "keys.csv"]  # no temp file
