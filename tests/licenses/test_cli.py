"""The `licentia subscription` and `licentia license` commands (in-process CliRunner): every
action once through the CLI on one installation, their JSON output, audit entries (actor
`cli`), idempotent generation, export/import round trip and all-or-nothing import."""

from __future__ import annotations

import csv
import io
import json
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store.tables import audit_log, license_batches, licenses
from tests.cli.conftest import Installation, install  # noqa: F401 - fixture


def _audit(inst: Installation) -> list[tuple[str, str, str]]:
    async def go(conn: AsyncConnection) -> list[tuple[str, str, str]]:
        rows = await conn.execute(
            select(audit_log.c.capability, audit_log.c.target, audit_log.c.face).order_by(
                audit_log.c.id
            )
        )
        return [(r.capability, r.target, r.face) for r in rows]

    result: list[tuple[str, str, str]] = inst.query(go)
    return result


def _count(inst: Installation, table: Any) -> int:
    async def go(conn: AsyncConnection) -> int:
        return len((await conn.execute(select(table.c.id))).all())

    result: int = inst.query(go)
    return result


def test_subscription_and_license_commands(install: Installation, tmp_path: Path) -> None:  # noqa: F811
    owner = install.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )
    app_id = install.json("app", "create", "--owner", owner["owner_id"], "--name", "CliApp")[
        "app_id"
    ]
    app = ("--app", app_id)
    install.json("subscription", "create", *app, "--name", "Default")
    install.json("subscription", "create", *app, "--name", "Gold", "--level", "3")
    edited = install.json("subscription", "edit", *app, "--name", "gold", "--new-name", "Plat")
    assert (edited["name"], edited["level"]) == ("Plat", 3)
    listed = install.json("subscription", "list", *app)["subscriptions"]
    assert [s["name"] for s in listed] == ["Default", "Plat"]

    added = install.json("license", "add", *app, "--key", "CLI-1", "--subscription", "Plat")
    assert added == {
        "key": "CLI-1",
        "app_id": app_id,
        "action": "add",
        "banned": False,
        "paused": False,
        "status": "unused",
    }
    install.fails("subscription", "delete", *app, "--name", "Plat", code="IN_USE")
    moved = install.json(
        "subscription", "delete", *app, "--name", "Plat", "--reassign-to", "Default"
    )
    assert (moved["deleted"], moved["reassigned_to"], moved["moved"]) == ("Plat", "Default", 1)

    info = install.json("license", "info", "CLI-1", *app)
    assert (info["subscription"], info["duration_days"], info["expiry_date"]) == (
        "Default",
        0,
        None,
    )
    edited_key = install.json(
        "license", "edit", "CLI-1", *app, "--note", "vip", "--device-limit", "2", "--days", "10"
    )
    assert (edited_key["note"], edited_key["device_limit"], edited_key["duration_days"]) == (
        "vip",
        2,
        10,
    )
    assert install.json("license", "extend", "CLI-1", *app, "--days", "5")["duration_days"] == 15
    assert install.json("license", "shorten", "CLI-1", *app, "--days", "50")["duration_days"] == 1
    assert install.json("license", "ban", "CLI-1", *app, "--reason", "x")["banned"] is True
    assert install.json("license", "unban", "CLI-1", *app)["banned"] is False
    assert install.json("license", "reset-hwid", "CLI-1", *app)["bindings_removed"] == 0
    assert install.json("license", "end-sessions", "CLI-1", *app)["sessions_ended"] == 0
    install.fails("license", "extend", "NOPE", *app, "--days", "1", code="LICENSE_NOT_FOUND")
    install.invoke("license", "add", *app, "--key", "LIFE", "--subscription", "Default")
    install.fails("license", "extend", "LIFE", *app, "--days", "1", code="INVALID_INPUT")

    # Idempotent generation: the retry returns the same keys and creates nothing.
    gen = ("license", "generate", *app, "--subscription", "Default", "--days", "3")
    first = install.json(*gen, "--count", "4", "--idempotency-key", "order-9")
    rows = _count(install, licenses)
    again = install.json(*gen, "--count", "4", "--idempotency-key", "order-9")
    assert again == first and len(first["keys"]) == 4 and first["keys"] == sorted(first["keys"])
    assert _count(install, licenses) == rows
    install.fails(*gen, "--count", "5", "--idempotency-key", "order-9", code="ALREADY_EXISTS")
    out = tmp_path / "keys.json"
    install.invoke(*gen, "--count", "2", "--format", "json", "--output", str(out))
    written = json.loads(out.read_text())
    assert written["count"] == 2 and len(written["keys"]) == 2 and written["batch_id"]
    assert _count(install, license_batches) == 2

    page = install.json("license", "list", *app, "--batch", written["batch_id"])
    assert sorted(i["key"] for i in page["items"]) == sorted(written["keys"])

    # Export, then import into a second app: a round trip.
    export = tmp_path / "all.csv"
    result = install.json("license", "export", *app, "--format", "csv", "--output", str(export))
    assert result["format"] == "csv"
    exported = list(csv.DictReader(io.StringIO(export.read_text())))
    assert len(exported) == rows + 2
    other_app = install.json("app", "create", "--owner", owner["owner_id"], "--name", "Other")
    other = ("--app", other_app["app_id"])
    install.json("subscription", "create", *other, "--name", "Default")
    bad = tmp_path / "bad.csv"
    bad.write_text("key,subscription\nOK-1,Default\nbad key,Default\n")
    refused = install.fails("license", "import", *other, str(bad), code="INVALID_INPUT")
    assert refused["message"].startswith("line 3:")
    before = _count(install, licenses)
    imported = install.json("license", "import", *other, str(export))
    assert imported["imported"] == rows + 2
    assert _count(install, licenses) == before + rows + 2

    gone = install.json("license", "delete", *app, "--batch", written["batch_id"])
    assert gone["deleted"] == 2
    assert install.json("license", "delete", "CLI-1", *app) == {"deleted": 1, "keys": ["CLI-1"]}
    install.fails("license", "delete", *app, code="USAGE", exit_code=2)

    entries = [e for e in _audit(install) if e[0].startswith(("license.", "subscription."))]
    assert all(face == "cli" for _, _, face in entries)
    capabilities = {cap for cap, _, _ in entries}
    assert {
        "subscription.create",
        "subscription.edit",
        "subscription.delete",
        "license.add",
        "license.edit",
        "license.extend",
        "license.shorten",
        "license.ban",
        "license.unban",
        "license.generate",
        "license.import",
        "license.delete",
    } <= capabilities
    assert [e for e in entries if e[0] == "license.generate"].__len__() == 2  # not the retry
