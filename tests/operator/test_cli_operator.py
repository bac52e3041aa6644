"""CLI: owner list|info|edit|reset-password|delete|suspend|unsuspend, audit prune, app usage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from licentia.store.tables import accounts, apps, audit_log
from tests.cli.conftest import Installation


def test_owner_commands_audit_prune_and_usage(install: Installation) -> None:
    owner = install.json("owner", "create", "--username", "cli_vendor", "--password", "pw-1234")
    oid = owner["owner_id"]
    app_id = install.json("app", "create", "--owner", oid, "--name", "CliApp")["app_id"]
    listed = install.json("owner", "list", "--search", "cli_vend")
    assert [o["owner_id"] for o in listed["owners"]] == [oid]
    info = install.json("owner", "info", oid)
    assert info["username"] == "cli_vendor" and info["apps"] == 1
    edited = install.json("owner", "edit", oid, "--plan-label", "Gold", "--email", "a@b.example")
    assert edited["plan_label"] == "Gold" and edited["email"] == "a@b.example"
    install.fails("owner", "edit", oid, code="USAGE", exit_code=2)
    install.fails("owner", "edit", oid, "--email", "not an email", code="INVALID_INPUT")
    install.fails("owner", "info", "99999999", code="OWNER_NOT_FOUND")
    reset = install.json("owner", "reset-password", oid, "--generate")
    assert len(reset["password"]) == 20
    assert install.json("owner", "suspend", oid)["status"] == "suspended"
    assert install.json("owner", "suspend", oid)["status"] == "suspended"  # idempotent
    assert install.json("owner", "unsuspend", oid)["status"] == "active"
    series = install.json("app", "usage", "--app", app_id, "--days", "30")
    assert len(series["series"]) == 30 and series["total"] == 0
    install.fails("app", "usage", "--app", app_id, "--days", "0", code="INVALID_INPUT")
    install.fails(
        "app", "usage", "--app", "00000000-0000-0000-0000-000000000000", code="APP_NOT_FOUND"
    )
    pruned = install.json("audit", "prune")
    assert pruned["retention_days"] == 365 and pruned["deleted"] == 0
    human = install.invoke("app", "usage", "--app", app_id)
    assert human.exit_code == 0 and "Client API usage" in human.stdout
    install.fails("owner", "delete", oid, "--confirm", "12345678", code="INVALID_INPUT")
    gone = install.json("owner", "delete", oid, "--confirm", oid)
    assert gone["deleted"] is True and gone["apps"] == 1

    async def check(conn: Any) -> tuple[Any, Any, list[str]]:
        account = (
            await conn.execute(select(accounts.c.id).where(accounts.c.owner_id == oid))
        ).first()
        app = (await conn.execute(select(apps.c.id).where(apps.c.id == app_id))).first()
        caps = (
            await conn.execute(
                select(audit_log.c.capability)
                .where(audit_log.c.face == "cli")
                .order_by(audit_log.c.id)
            )
        ).scalars()
        return account, app, list(caps)

    account, app, caps = install.query(check)
    assert account is None and app is None
    for name in (
        "owner.edit",
        "owner.reset_password",
        "owner.suspend",
        "owner.unsuspend",
        "owner.delete",
    ):
        assert name in caps, name
    assert caps.count("owner.suspend") == 1
