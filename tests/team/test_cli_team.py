"""`licentia role|staff|rate-plan|reseller` in-process (CliRunner) on a fresh installation:
one broad walk through every command, JSON and people output, errors and the audit."""

from __future__ import annotations

import json
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.store import tables as t
from tests.cli.conftest import Installation


def test_team_commands(install: Installation) -> None:
    owner = install.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )["owner_id"]
    app = install.json("app", "create", "--owner", owner, "--name", "MyApp")["app_id"]
    install.json("subscription", "create", "--app", app, "--name", "Premium")
    o = ("--owner", owner)

    # roles
    role = install.json(
        "role",
        "create",
        *o,
        "Support",
        "--permission",
        "license.ban",
        "--permission",
        "user:read",
    )
    assert role["permissions"] == ["license.ban", "user:read"] and role["apps"] is None
    edited = install.json("role", "edit", *o, role["id"], "--name", "Helpers", "--app", app)
    assert edited["name"] == "Helpers" and edited["apps"] == [app]
    assert [r["name"] for r in install.json("role", "list", *o)["roles"]] == ["Helpers"]
    install.fails("role", "create", *o, "x", "--permission", "bogus", code="INVALID_INPUT")

    # staff
    added = install.json(
        "staff", "add", *o, "--role", role["id"], "--username", "kim", "--email", "k@x.io"
    )
    assert added["username"] == "kim" and len(added["temporary_password"]) == 16
    install.fails(
        "staff",
        "add",
        *o,
        "--role",
        role["id"],
        "--username",
        "kim",
        "--email",
        "k@x.io",
        code="ALREADY_EXISTS",
    )
    install.fails("role", "delete", *o, role["id"], code="IN_USE")
    other = install.json("role", "create", *o, "Viewers")
    assert install.json("staff", "edit", *o, "kim", "--role", other["id"])["role_name"] == (
        "Viewers"
    )
    assert install.json("staff", "ban", *o, "kim")["is_active"] is False
    assert install.json("staff", "unban", *o, "KIM")["is_active"] is True
    staff = install.json("staff", "list", *o)["staff"]
    assert [(s["username"], s["role_name"]) for s in staff] == [("kim", "Viewers")]
    people = install.invoke("staff", "list", *o)
    assert people.exit_code == 0 and "kim" in people.stdout and "Viewers" in people.stdout
    assert install.json("role", "delete", *o, role["id"])["deleted"] is True
    assert install.json("staff", "remove", *o, "kim")["removed"] is True
    install.fails("staff", "remove", *o, "kim", code="STAFF_NOT_FOUND")

    # rate plans
    plan = install.json("rate-plan", "create", *o, "Gold", "--allow-ban")
    assert plan["allow_ban"] is True and plan["prices"] == []
    priced = install.json(
        "rate-plan",
        "price-set",
        *o,
        plan["id"],
        "--app",
        app,
        "--subscription",
        "Premium",
        "--term",
        "duration",
        "--days",
        "30",
        "--price",
        "4",
    )
    price = priced["prices"][0]
    assert (price["subscription"], price["term_days"], price["price"]) == ("Premium", 30, 4)
    install.fails(
        "rate-plan",
        "price-set",
        *o,
        plan["id"],
        "--app",
        app,
        "--subscription",
        "Nope",
        "--price",
        "1",
        "--days",
        "3",
        code="SUBSCRIPTION_NOT_FOUND",
    )
    plan = install.json("rate-plan", "edit", *o, plan["id"], "--no-allow-ban", "--name", "Gold2")
    assert plan["allow_ban"] is False and plan["name"] == "Gold2"
    listed = install.json("rate-plan", "list", *o)["rate_plans"]
    assert [p["name"] for p in listed] == ["Gold2"]
    people = install.invoke("rate-plan", "list", *o)
    assert people.exit_code == 0 and "Gold2" in people.stdout and "Premium" in people.stdout

    # resellers and coins
    seller = install.json(
        "reseller",
        "add",
        *o,
        "--username",
        "rae",
        "--email",
        "r@x.io",
        "--rate-plan",
        plan["id"],
    )
    assert seller["rate_plan_name"] == "Gold2" and len(seller["temporary_password"]) == 16
    install.fails("rate-plan", "delete", *o, plan["id"], code="IN_USE")
    assert install.json("reseller", "coins", *o, "rae", "--amount", "12")["points_balance"] == 12
    install.fails("reseller", "coins", *o, "rae", "--amount", "-13", code="INSUFFICIENT_BALANCE")
    install.fails("reseller", "coins", *o, "rae", "--amount", "0", code="INVALID_INPUT")
    install.json("reseller", "coins", *o, "rae", "--amount", "-2", "--description", "fee")
    ledger = install.json("reseller", "ledger", *o, "rae")["ledger"]
    assert [(e["amount"], e["balance_after"], e["description"]) for e in ledger] == [
        (-2, 10, "fee"),
        (12, 12, ""),
    ]
    assert install.json("reseller", "ban", *o, "rae")["is_active"] is False
    assert install.json("reseller", "unban", *o, "rae")["is_active"] is True
    edited = install.json("reseller", "edit", *o, "rae", "--no-rate-plan", "--app", app)
    assert edited["rate_plan_id"] is None and edited["apps"] == [app]
    resellers = install.json("reseller", "list", *o)["resellers"]
    assert [(r["username"], r["points_balance"]) for r in resellers] == [("rae", 10)]
    assert install.json("rate-plan", "price-remove", *o, plan["id"], price["id"])["prices"] == []
    assert install.json("rate-plan", "delete", *o, plan["id"])["deleted"] is True

    async def audit(conn: AsyncConnection) -> list[tuple[str, str]]:
        rows = await conn.execute(
            select(t.audit_log.c.capability, t.audit_log.c.face).where(
                t.audit_log.c.capability.in_(
                    ["role.create", "staff.add", "staff.ban", "reseller.coins", "rate-plan.edit"]
                )
            )
        )
        return [(r.capability, r.face) for r in rows]

    entries = install.query(audit)
    assert all(face == "cli" for _, face in entries)
    caps = [c for c, _ in entries]
    assert caps.count("role.create") == 2 and caps.count("reseller.coins") == 2
    assert "staff.ban" in caps and "rate-plan.edit" in caps

    # One JSON object even on failure, and nothing else on stdout.
    result = install.invoke("reseller", "coins", *o, "ghost", "--amount", "1", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "RESELLER_NOT_FOUND"


def test_token_for_a_staff_member(install: Installation) -> None:
    owner = install.json(
        "owner", "create", "--username", f"v{secrets.token_hex(3)}", "--password", "pw"
    )["owner_id"]
    o = ("--owner", owner)
    role = install.json("role", "create", *o, "Support", "--permission", "license.ban")
    install.json("staff", "add", *o, "--role", role["id"], "--username", "kim", "--email", "k@x")
    created = install.json(
        "token", "create", *o, "--account", "kim", "--scope", "license.ban", "--name", "kim"
    )
    assert created["token"].startswith("lic_") and created["scopes"] == ["license.ban"]
    # Outside the role, or for an unknown account: refused, nothing stored. (A shorthand the
    # role has one action of is accepted; the token's rights are scopes AND role, per call.)
    install.fails(
        "token", "create", *o, "--account", "kim", "--scope", "user:write",
        code="PERMISSION_DENIED",
    )  # fmt: skip
    install.fails(
        "token", "create", *o, "--account", "nobody", "--scope", "license.ban",
        code="ACCOUNT_NOT_FOUND",
    )  # fmt: skip

    async def holders(conn: AsyncConnection) -> list[tuple[str, str | None]]:
        rows = await conn.execute(
            select(t.accounts.c.username, t.api_tokens.c.owner_account_id).join(
                t.accounts, t.accounts.c.id == t.api_tokens.c.account_id
            )
        )
        return [(r.username, r.owner_account_id) for r in rows]

    [(holder, on_behalf_of)] = install.query(holders)
    assert holder == "kim" and on_behalf_of is not None
