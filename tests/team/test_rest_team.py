"""REST team routes: roles, staff, rate plans, resellers, coins, the reseller's own view, and
who may do what (staff role rights, app scope, bans, reseller isolation, foreign owners)."""

from __future__ import annotations

from typing import Any

import pytest

from licentia.services import admin_licenses, credentials
from tests.manage.conftest import assert_error, changes_of

from .conftest import Team, uniq


async def test_roles_and_staff_through_rest(team: Team) -> None:
    created = await team.post(
        "/roles", {"name": "Support", "permissions": ["license.ban", "user:read"]}
    )
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["permissions"] == ["license.ban", "user:read"]
    assert role["apps"] is None and role["members"] == 0

    assert_error(await team.post("/roles", {"name": "support"}), 409, "ALREADY_EXISTS")
    assert_error(
        await team.post("/roles", {"name": "x", "permissions": ["nope"]}),
        400,
        "INVALID_INPUT",
        ["permissions"],
    )
    assert_error(
        await team.post("/roles", {"name": "y", "apps": ["not-an-app"]}), 404, "APP_NOT_FOUND"
    )

    name = uniq("alice")
    added = await team.post(
        "/staff",
        {"type": "new", "username": name, "email": "a@example.com", "role_id": role["id"]},
    )
    assert added.status_code == 201, added.text
    member = added.json()
    assert member["username"] == name and member["role_name"] == "Support"
    assert len(member["temporary_password"]) == 16 and member["is_active"] is True
    assert_error(
        await team.post(
            "/staff",
            {"type": "new", "username": name, "email": "a@example.com", "role_id": role["id"]},
        ),
        409,
        "ALREADY_EXISTS",
    )
    assert_error(
        await team.post("/staff", {"type": "new", "username": "z", "role_id": role["id"]}),
        400,
        "MISSING_FIELDS",
        ["email"],
    )
    assert_error(
        await team.post("/staff", {"type": "existing", "public_id": "ZZZZ", "role_id": "1"}),
        404,
        "ROLE_NOT_FOUND",
    )

    # Deleting an assigned role is refused; another role, then the old one can go.
    assert_error(await team.call("DELETE", f"/roles/{role['id']}"), 409, "IN_USE")
    other = (await team.post("/roles", {"name": "Viewer", "permissions": ["app:read"]})).json()
    edited = await team.call(
        "PATCH", f"/staff/{member['public_id']}", json_body={"role_id": other["id"]}
    )
    assert edited.status_code == 200 and edited.json()["role_name"] == "Viewer"
    assert (await team.call("DELETE", f"/roles/{role['id']}")).status_code == 204

    banned = await team.post(f"/staff/{name.upper()}/ban")
    assert banned.status_code == 200 and banned.json()["is_active"] is False
    again = await team.post(f"/staff/{name}/ban")  # idempotent
    assert again.status_code == 200 and again.json()["is_active"] is False
    listed = (await team.get("/staff", params={"active": "false"})).json()
    assert [m["username"] for m in listed["items"]] == [name]
    assert (await team.post(f"/staff/{name}/unban")).json()["is_active"] is True

    renamed = await team.call(
        "PATCH", f"/roles/{other['id']}", json_body={"name": "Viewers", "apps": [team.app_id]}
    )
    assert renamed.json()["name"] == "Viewers" and renamed.json()["apps"] == [team.app_id]
    await team.post("/roles", {"name": "Third"})
    first = (await team.get("/roles", params={"limit": 1})).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = (await team.get("/roles", params={"limit": 5, "cursor": first["next_cursor"]})).json()
    names = [r["name"] for r in first["items"] + rest["items"]]
    assert sorted(names) == ["Third", "Viewers"] and rest["next_cursor"] is None

    assert (await team.call("DELETE", f"/staff/{name}")).status_code == 204
    assert_error(await team.get(f"/staff/{name}"), 404, "STAFF_NOT_FOUND")

    entries = [(e.capability, e.target) for e in await team.audit()]
    assert ("staff.add", member["public_id"]) in entries
    assert ("staff.ban", member["public_id"]) in entries
    assert ("staff.remove", member["public_id"]) in entries
    assert ("role.delete", role["id"]) in entries
    ban = next(e for e in await team.audit() if e.capability == "staff.ban")
    assert changes_of(ban) == {"is_active": [True, False]}
    assert entries.count(("staff.ban", member["public_id"])) == 1  # the repeat left none
    add = next(e for e in await team.audit() if e.capability == "staff.add")
    assert changes_of(add)["temporary_password"] == "changed"


async def test_staff_rights_follow_the_role(team: Team, other_team: Team) -> None:
    key = await team.world.key()
    member, token = await team.staff(["license.info", "license.list", "role.list"])
    path = f"/apps/{team.app_id}/licenses/{key}"
    assert (await team.get(path, token=token)).status_code == 200
    # The role lacks license.ban: 403, and nothing changed.
    assert_error(await team.post(f"{path}/ban", token=token), 403, "PERMISSION_DENIED")
    state = await admin_licenses.get_license(team.rt, team.app_id, key)
    assert state.banned is False
    # Managing staff is not granted by default.
    assert_error(await team.get("/staff", token=token), 403, "PERMISSION_DENIED")
    assert (await team.get("/roles", token=token)).status_code == 200
    # Another owner's app: 404.
    assert_error(
        await team.get(f"/apps/{other_team.app_id}/licenses", token=token), 404, "APP_NOT_FOUND"
    )

    # An app-scoped role: apps outside the scope are 404, and the app list is filtered.
    second = await _second_app(team)
    _scoped, scoped_token = await team.staff(["license:read", "app:read"], [second])
    assert_error(
        await team.get(f"/apps/{team.app_id}/licenses", token=scoped_token), 404, "APP_NOT_FOUND"
    )
    assert (await team.get(f"/apps/{second}/licenses", token=scoped_token)).status_code == 200
    apps = (await team.get("/apps", token=scoped_token)).json()["items"]
    assert [a["id"] for a in apps] == [second]

    # A role change applies at once.
    grant = await team.call(
        "PATCH",
        f"/roles/{member.role_id}",
        json_body={"permissions": ["license.info", "license.ban"]},
    )
    assert grant.status_code == 200
    _m, ban_token = await _token_for(team, member.public_id, ["license.ban"])
    assert (await team.post(f"{path}/ban", token=ban_token)).status_code == 200

    # A banned staff member's tokens get nothing; a removed one's are invalid.
    assert (await team.post(f"/staff/{member.public_id}/ban")).status_code == 200
    assert_error(await team.get(path, token=token), 403, "PERMISSION_DENIED")
    assert_error(await team.get("/roles", token=token), 403, "PERMISSION_DENIED")
    assert (await team.call("DELETE", f"/staff/{member.public_id}")).status_code == 204
    assert_error(await team.get(path, token=token), 401, "INVALID_TOKEN")


async def _second_app(team: Team) -> str:
    from licentia.services import admin_apps

    created = await admin_apps.create_app(team.rt, team.owner_id, uniq("Second"))
    await admin_apps.create_subscription(team.rt, created.app_id, "Premium", 1)
    return created.app_id


async def _token_for(team: Team, account: str, scopes: list[str]) -> tuple[Any, str]:
    from licentia.services import credentials

    return await credentials.create_token(team.rt, team.owner_id, "t", scopes, account=account)


async def test_member_tokens_never_exceed_the_account(team: Team) -> None:
    from licentia.services import credentials
    from licentia.services.admin_common import AdminError

    member, _token = await team.staff(["license.info"])
    with pytest.raises(AdminError) as refused:
        await credentials.create_token(
            team.rt, team.owner_id, "t", ["license.ban"], account=member.public_id
        )
    assert refused.value.code == "PERMISSION_DENIED"
    with pytest.raises(AdminError) as stranger:
        await credentials.create_token(
            team.rt, team.owner_id, "t", ["license.info"], account="NOSUCHACCOUNT"
        )
    assert stranger.value.code == "ACCOUNT_NOT_FOUND"
    with pytest.raises(AdminError) as shorthand:
        await credentials.create_token(
            team.rt, team.owner_id, "t", ["license:write"], account=member.public_id
        )
    assert shorthand.value.code == "PERMISSION_DENIED"
    # A shorthand the role covers in part is allowed, but only what the role grants works.
    _info, broad = await credentials.create_token(
        team.rt, team.owner_id, "t", ["license:read"], account=member.public_id
    )
    key = await team.world.key()
    path = f"/apps/{team.app_id}/licenses/{key}"
    assert (await team.get(path, token=broad)).status_code == 200
    assert_error(
        await team.get(f"/apps/{team.app_id}/licenses", token=broad), 403, "PERMISSION_DENIED"
    )
    tokens = await credentials.list_tokens(team.rt, team.owner_id)
    assert len([t for t in tokens if t.name == "staff"]) == 1


async def test_rate_plans_resellers_and_coins(team: Team) -> None:
    plan = await team.post("/rate-plans", {"name": "Gold", "allow_ban": True})
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["id"]
    priced = await team.call(
        "PUT",
        f"/rate-plans/{plan_id}/prices",
        json_body={
            "app_id": team.app_id,
            "subscription": "premium",
            "term_kind": "duration",
            "term_days": 30,
            "price": 5,
        },
    )
    assert priced.status_code == 200, priced.text
    prices = priced.json()["prices"]
    assert [(p["subscription"], p["term_days"], p["price"]) for p in prices] == [("Premium", 30, 5)]
    assert_error(
        await team.call(
            "PUT",
            f"/rate-plans/{plan_id}/prices",
            json_body={
                "app_id": team.app_id,
                "subscription": "Premium",
                "term_kind": "fixed",
                "price": 1,
            },
        ),
        400,
        "MISSING_FIELDS",
        ["term_days"],
    )

    name = uniq("rob")
    added = await team.post(
        "/resellers",
        {"type": "new", "username": name, "email": "r@example.com", "rate_plan_id": plan_id},
    )
    assert added.status_code == 201, added.text
    assert added.json()["rate_plan_name"] == "Gold" and added.json()["points_balance"] == 0
    assert len(added.json()["temporary_password"]) == 16

    coins = await team.post(f"/resellers/{name}/coins", {"amount": 20, "description": "top-up"})
    assert coins.status_code == 200 and coins.json()["points_balance"] == 20
    assert_error(
        await team.post(f"/resellers/{name}/coins", {"amount": -21}), 422, "INSUFFICIENT_BALANCE"
    )
    assert_error(await team.post(f"/resellers/{name}/coins", {"amount": 0}), 400, "INVALID_INPUT")
    assert (await team.post(f"/resellers/{name}/coins", {"amount": -5})).json()[
        "points_balance"
    ] == 15
    ledger = (await team.get(f"/resellers/{name}/ledger")).json()["items"]
    assert [(e["amount"], e["balance_after"]) for e in ledger] == [(-5, 15), (20, 20)]
    assert ledger[1]["description"] == "top-up"

    assert_error(await team.call("DELETE", f"/rate-plans/{plan_id}"), 409, "IN_USE")
    cleared = await team.call("PATCH", f"/resellers/{name}", json_body={"rate_plan_id": None})
    assert cleared.json()["rate_plan_id"] is None
    assert (await team.post(f"/resellers/{name}/ban")).json()["is_active"] is False
    assert (await team.post(f"/resellers/{name}/ban")).json()["is_active"] is False
    assert (await team.post(f"/resellers/{name}/unban")).json()["is_active"] is True
    listed = (await team.get("/resellers")).json()["items"]
    assert [r["username"] for r in listed] == [name]
    assert (await team.call("DELETE", f"/rate-plans/{plan_id}")).status_code == 204
    assert_error(await team.get(f"/resellers/{uniq('x')}"), 404, "RESELLER_NOT_FOUND")

    audit = [(e.capability, changes_of(e)) for e in await team.audit()]
    assert ("reseller.coins", {"points_balance": [0, 20]}) in audit
    assert any(c == "rate-plan.delete" for c, _ in audit)
    assert [c for c, _ in audit].count("reseller.ban") == 1


async def test_reseller_own_view(team: Team) -> None:
    plan = await team.plan(price=3)
    product = plan.prices[0].id
    me, token = await team.reseller(plan.id, coins=10)
    _rival, rival_token = await team.reseller(plan.id, coins=10)

    products = (await team.get("/reseller/products", token=token)).json()["items"]
    assert [(p["id"], p["price"]) for p in products] == [(product, 3)]
    base = f"/reseller/apps/{team.app_id}/licenses"
    made = await team.post(f"{base}/generate", {"product_id": product, "amount": 3}, token=token)
    assert made.status_code == 201, made.text
    batch = made.json()
    assert batch["count"] == 3 and batch["cost"] == 9 and batch["points_balance"] == 1
    # Not enough coins: nothing is created or debited.
    assert_error(
        await team.post(f"{base}/generate", {"product_id": product, "amount": 1}, token=token),
        422,
        "INSUFFICIENT_BALANCE",
    )
    assert (await team.get("/reseller/balance", token=token)).json()["points_balance"] == 1
    mine = (await team.get("/reseller/licenses", token=token)).json()["items"]
    assert sorted(k["key"] for k in mine) == sorted(batch["keys"])
    assert all(k["duration_days"] == 30 and k["status"] == "unused" for k in mine)
    ledger = (await team.get("/reseller/ledger", token=token)).json()["items"]
    assert ledger[0]["amount"] == -9 and ledger[0]["batch_id"] == batch["batch_id"]
    exported = await team.get("/reseller/licenses/export", params={"format": "csv"}, token=token)
    assert exported.status_code == 200 and exported.text.count("\n") == 4
    assert exported.headers["content-type"].startswith("text/csv")

    # The rival sees none of these keys and cannot act on them.
    assert (await team.get("/reseller/licenses", token=rival_token)).json()["items"] == []
    key = batch["keys"][0]
    assert_error(await team.post(f"{base}/{key}/ban", token=rival_token), 404, "LICENSE_NOT_FOUND")
    banned = await team.post(f"{base}/{key}/ban", token=token)
    assert banned.status_code == 200 and banned.json()["banned"] is True
    reset = await team.post(f"{base}/{key}/reset-hwid", token=token)
    assert reset.status_code == 200 and reset.json()["key"] == key
    audit = {(e.capability, e.target) for e in await team.audit()}
    assert {("license.ban", key), ("license.reset_hwid", key)} <= audit
    assert ("license.generate", batch["batch_id"]) in audit

    # An unpriced product, another app: refused.
    assert_error(
        await team.post(f"{base}/generate", {"product_id": "nope", "amount": 1}, token=token),
        404,
        "PRICE_NOT_FOUND",
    )
    second = await _second_app(team)
    assert_error(
        await team.post(
            f"/reseller/apps/{second}/licenses/generate",
            {"product_id": product, "amount": 1},
            token=token,
        ),
        404,
        "APP_NOT_FOUND",
    )
    # Owner routes are closed to a reseller's token; reseller routes to an owner's.
    assert_error(
        await team.get(f"/apps/{team.app_id}/licenses", token=token), 403, "PERMISSION_DENIED"
    )
    assert_error(await team.get("/reseller/balance"), 403, "PERMISSION_DENIED")

    # A plan without ban rights: 403 on ban.
    strict = await team.plan(price=0, allow_ban=False, allow_reset_hwid=False)
    _free, free_token = await team.reseller(strict.id)
    made = await team.post(
        f"{base}/generate", {"product_id": strict.prices[0].id, "amount": 1}, token=free_token
    )
    assert made.status_code == 201 and made.json()["cost"] == 0
    for action in ("ban", "reset-hwid"):
        assert_error(
            await team.post(f"{base}/{made.json()['keys'][0]}/{action}", token=free_token),
            403,
            "PERMISSION_DENIED",
        )
    # A banned reseller gets nothing.
    assert (await team.post(f"/resellers/{me.public_id}/ban")).status_code == 200
    assert_error(await team.get("/reseller/balance", token=token), 403, "PERMISSION_DENIED")


TEAM_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/roles", None),
    ("POST", "/roles", {"name": "x"}),
    ("PATCH", "/roles/{role}", {"name": "y"}),
    ("DELETE", "/roles/{role}", None),
    ("GET", "/staff", None),
    ("POST", "/staff", {"type": "existing", "public_id": "X", "role_id": "{role}"}),
    ("GET", "/staff/{staff}", None),
    ("PATCH", "/staff/{staff}", {"role_id": "{role}"}),
    ("POST", "/staff/{staff}/ban", None),
    ("POST", "/staff/{staff}/unban", None),
    ("DELETE", "/staff/{staff}", None),
    ("GET", "/rate-plans", None),
    ("POST", "/rate-plans", {"name": "x"}),
    ("PATCH", "/rate-plans/{plan}", {"name": "y"}),
    ("DELETE", "/rate-plans/{plan}", None),
    (
        "PUT",
        "/rate-plans/{plan}/prices",
        {"app_id": "{app}", "subscription": "Premium", "term_kind": "lifetime", "price": 1},
    ),
    ("DELETE", "/rate-plans/{plan}/prices/{price}", None),
    ("GET", "/resellers", None),
    ("POST", "/resellers", {"type": "existing", "public_id": "X"}),
    ("GET", "/resellers/{reseller}", None),
    ("PATCH", "/resellers/{reseller}", {"rate_plan_id": None}),
    ("POST", "/resellers/{reseller}/ban", None),
    ("POST", "/resellers/{reseller}/unban", None),
    ("POST", "/resellers/{reseller}/coins", {"amount": 1}),
    ("GET", "/resellers/{reseller}/ledger", None),
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in names.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def test_isolation_on_every_team_route(team: Team, other_team: Team) -> None:
    """A foreign owner's token finds nothing (404); a token without the capability is 403;
    neither changes anything."""
    role = await team.role(["license.info"])
    member, _t = await team.staff(["license.info"])
    plan = await team.plan()
    reseller, _r = await team.reseller(plan.id, coins=5)
    names = {
        "role": role.id,
        "staff": member.public_id,
        "plan": plan.id,
        "price": plan.prices[0].id,
        "reseller": reseller.public_id,
        "app": team.app_id,
    }
    narrow = await team.make_token(["license:read"])
    before = await _team_rows(team)
    for method, raw_path, body in TEAM_ROUTES:
        path = _fill(raw_path, names)
        json_body = _fill(body, {**names, "app": other_team.app_id})
        foreign = await other_team.call(method, path, json_body=json_body)
        if "{" in raw_path:
            assert foreign.status_code == 404, (method, path, foreign.text)
            assert foreign.json()["code"].endswith("_NOT_FOUND")
        denied = await team.call(method, path, token=narrow, json_body=_fill(body, names))
        assert_error(denied, 403, "PERMISSION_DENIED")
    assert await _team_rows(team) == before


async def _team_rows(team: Team) -> list[Any]:
    from sqlalchemy import select

    from licentia.store.tables import (
        rate_plan_prices,
        rate_plans,
        resellers,
        staff_members,
        staff_roles,
    )

    account = team.account_id
    out: list[Any] = []
    async with team.rt.db.read() as conn:
        for table in (staff_roles, staff_members, rate_plans, resellers):
            rows = await conn.execute(
                select(table).where(table.c.owner_account_id == account).order_by(table.c.id)
            )
            out += [tuple(r) for r in rows]
        out += [
            tuple(r)
            for r in await conn.execute(
                select(rate_plan_prices)
                .where(rate_plan_prices.c.app_id == team.app_id)
                .order_by(rate_plan_prices.c.id)
            )
        ]
    return out


async def test_openapi_lists_team_routes(team: Team) -> None:
    spec = (await team.client.get("/openapi.json")).json()
    assert "/api/manage/v1/resellers/{identifier}/coins" in spec["paths"]
    assert "/api/manage/v1/reseller/apps/{app_id}/licenses/generate" in spec["paths"]
    summary = spec["paths"]["/api/manage/v1/roles"]["get"]["summary"]
    assert summary == "List staff roles"


async def test_members_see_only_their_tokens_and_app_limited_reads(team: Team) -> None:
    owner = await team.make_token(["token:read", "token:write"])
    owner_tokens = (await team.get("/tokens", token=owner)).json()["items"]
    owner_token_id = owner_tokens[0]["id"]
    member, token = await team.staff(["token.list", "token.revoke", "token.create", "audit.list"])
    mine = await credentials.create_token(
        team.rt, team.owner_id, "mine", ["token:read"], account=member.public_id
    )
    listed = (await team.get("/tokens", token=token)).json()["items"]
    # Only the member's own tokens (the one it calls with and `mine`), never the owner's.
    assert owner_token_id not in {t["id"] for t in listed}
    assert mine[0].id in {t["id"] for t in listed}
    assert_error(
        await team.call("DELETE", f"/tokens/{owner_token_id}", token=token), 404, "TOKEN_NOT_FOUND"
    )
    still = (await team.get("/tokens", token=owner)).json()["items"]
    assert {t["id"]: t["status"] for t in still}[owner_token_id] == "active"
    revoked = await team.call("DELETE", f"/tokens/{mine[0].id}", token=token)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    # An app-limited role reads the audit log of its apps only, and no Elite Key calls.
    _limited, limited = await team.staff(["audit.list", "elite-key.view"], [team.app_id])
    assert_error(await team.get("/audit", token=limited), 403, "PERMISSION_DENIED")
    ok = await team.get("/audit", params={"app_id": team.app_id}, token=limited)
    assert ok.status_code == 200, ok.text
    assert all(e["app_id"] == team.app_id for e in ok.json()["items"])
    assert_error(await team.get("/elite-key/calls", token=limited), 403, "PERMISSION_DENIED")
