"""Owner-level dashboard pages: team (roles, staff), resellers (rate plans, resellers, coins),
API access (tokens, Elite Key), audit, and the reseller's own page."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select, update

from licentia.services import admin, admin_resellers, admin_staff, credentials
from licentia.services import admin_resellers as resellers_t
from licentia.store.tables import accounts, audit_log, licenses, staff_roles
from tests.web.conftest import PASSWORD, Browser, Dash, csrf_of

NEW_PASSWORD = "member-password-1"


async def _member(dash: Dash, prefix: str = "member") -> admin.Owner:
    """An account that is nobody's owner (added as staff or reseller by public id)."""
    account = await dash.new_owner(prefix)
    async with dash.rt.db.write() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == account.id).values(owner_id=None)
        )
    return account


async def _signed_in_as(dash: Dash, username: str) -> Browser:
    browser = dash.browser()
    assert (await browser.sign_in(username, PASSWORD)).status_code == 303
    return browser


async def _staff(dash: Dash, permissions: list[str], apps: list[str] | None = None) -> Browser:
    assert dash.owner is not None
    role = await admin_staff.create_role(
        dash.rt, dash.owner.owner_id, f"r{len(permissions)}{id(permissions)}", permissions, apps
    )
    member = await _member(dash, "staff")
    await admin_staff.add_staff(
        dash.rt, dash.owner.owner_id, type="existing", role_id=role.id, public_id=member.public_id
    )
    return await _signed_in_as(dash, member.username)


async def _dashboard_entries(dash: Dash, capability: str) -> list[Any]:
    assert dash.owner is not None
    return [e for e in await dash.audit(capability, dash.owner.id) if e.face == "dashboard"]


async def _count(dash: Dash, table: Any) -> int:
    async with dash.rt.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# -- team ---------------------------------------------------------------------------------


async def test_team_roles_and_staff(dash: Dash) -> None:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, "Shop")
    owner = await dash.signed_in()
    page = await owner.get("/team")
    assert page.status_code == 200 and "Staff roles" in page.text
    assert 'href="/dashboard/resellers"' in page.text  # the owner's navigation
    roles_before = await _count(dash, staff_roles)  # the database is shared by the session

    # An unknown permission: the field error, what was typed kept, nothing created.
    bad = await owner.submit(
        "/team",
        "/team/roles",
        {"name": "Support", "perm": "license:read", "perm_extra": "nothing.fly"},
    )
    assert bad.status_code == 400 and 'id="e-role_permissions"' in bad.text
    assert 'value="nothing.fly"' in bad.text and 'value="Support"' in bad.text
    assert await _count(dash, staff_roles) == roles_before

    html = (await owner.get("/team")).text

    token = csrf_of(html)
    created = await owner.http.post(
        "/dashboard/team/roles",
        data={
            "csrf_token": token,
            "name": "Support",
            "perm": ["license:read", "user:read"],
            "perm_extra": "license.ban",
            "scope": "some",
            "apps": [app.app_id],
        },
    )
    assert created.status_code == 303
    roles = (await admin_staff.list_roles(dash.rt, dash.owner.owner_id)).items
    assert len(roles) == 1 and roles[0].app_ids == [app.app_id]
    assert roles[0].permissions == ["license.ban", "license:read", "user:read"]
    role = roles[0]
    duplicate = await owner.submit("/team", "/team/roles", {"name": "support"})
    assert duplicate.status_code == 400 and 'id="e-role_' in duplicate.text

    edit_page = await owner.get(f"/team/roles/{role.id}")
    assert edit_page.status_code == 200 and "checked" in edit_page.text
    edited = await owner.submit(
        f"/team/roles/{role.id}",
        f"/team/roles/{role.id}",
        {"name": "Support team", "perm": "license:read", "scope": "all"},
    )
    assert edited.status_code == 303
    role = (await admin_staff.list_roles(dash.rt, dash.owner.owner_id)).items[0]
    assert role.name == "Support team" and role.app_ids is None

    # A new staff account: the temporary password is shown once.
    missing = await owner.submit(
        "/team", "/team/staff", {"type": "new", "username": "alice", "role_id": role.id}
    )
    assert missing.status_code == 400 and 'id="e-staff_email"' in missing.text
    assert 'value="alice"' in missing.text
    added = await owner.submit(
        "/team",
        "/team/staff",
        {"type": "new", "username": "alice", "email": "a@example.com", "role_id": role.id},
    )
    assert added.status_code == 200
    shown = re.search(r'id="temporary-password">([A-Za-z0-9]+)<', added.text)
    assert shown is not None
    assert shown.group(1) not in (await owner.get("/team")).text
    existing = await _member(dash)
    unknown = await owner.submit(
        "/team", "/team/staff", {"type": "existing", "public_id": "nobody", "role_id": role.id}
    )
    assert unknown.status_code == 400 and 'id="e-staff_public_id"' in unknown.text
    assert (
        await owner.submit(
            "/team",
            "/team/staff",
            {"type": "existing", "public_id": existing.public_id, "role_id": role.id},
        )
    ).status_code == 200

    # Deleting a role in use: IN_USE next to it, nothing deleted.
    in_use = await owner.submit("/team", f"/team/roles/{role.id}/delete", {})
    assert in_use.status_code == 400 and "assigned to 2 staff member" in in_use.text

    other = await admin_staff.create_role(dash.rt, dash.owner.owner_id, "Other", [])
    moved = await owner.submit(
        "/team", f"/team/staff/{existing.public_id}/role", {"role_id": other.id}
    )
    assert moved.status_code == 303
    assert (
        await admin_staff.get_staff(dash.rt, dash.owner.owner_id, existing.public_id)
    ).role_name == "Other"
    assert (
        await owner.submit("/team", f"/team/staff/{existing.public_id}/ban", {})
    ).status_code == 303
    banned = await admin_staff.get_staff(dash.rt, dash.owner.owner_id, existing.public_id)
    assert banned.is_active is False
    assert (await owner.get("/team", params={"state": "banned"})).text.count("data-member=") == 1
    assert (
        await owner.submit("/team", f"/team/staff/{existing.public_id}/unban", {})
    ).status_code == 303
    assert (
        await owner.submit("/team", f"/team/staff/{existing.public_id}/remove", {})
    ).status_code == 303
    assert (await owner.submit("/team", f"/team/roles/{other.id}/delete", {})).status_code == 303
    assert (await owner.submit("/team", "/team/staff/nobody/ban", {})).status_code == 404
    assert (await owner.get("/team/roles/nope")).status_code == 404

    for capability in (
        "role.create",
        "role.edit",
        "role.delete",
        "staff.add",
        "staff.edit",
        "staff.ban",
        "staff.unban",
        "staff.remove",
    ):
        entries = await _dashboard_entries(dash, capability)
        assert entries, capability
        assert all(e.actor_kind == "account" and e.actor == dash.owner.id for e in entries)
    # No secret in the audit log.
    async with dash.rt.db.read() as conn:
        texts = [str(r.changes) for r in (await conn.execute(select(audit_log))).all()]
    assert not any(shown.group(1) in t for t in texts)


async def test_team_rights_csrf_and_foreign_objects(dash: Dash) -> None:
    assert dash.owner is not None
    reader = await _staff(dash, ["staff:read", "role:read"])
    page = await reader.get("/team")
    assert page.status_code == 200 and "Add a staff member" not in page.text
    assert 'href="/dashboard/team"' in page.text and 'href="/dashboard/audit"' not in page.text
    refused = await reader.submit("/team", "/team/roles", {"name": "Sneaky"})
    assert refused.status_code == 403
    assert (await reader.get("/resellers")).status_code == 403
    hub = await reader.get("/workspace")
    assert hub.status_code == 200 and 'id="my-pages"' in hub.text
    assert 'href="/dashboard/team"' in hub.text
    nobody = await _staff(dash, [])
    assert (await nobody.get("/team")).status_code == 403

    owner = await dash.signed_in()
    assert (await owner.get("/workspace")).headers["location"] == "/dashboard/apps"
    no_csrf = await owner.post("/team/roles", {"name": "Plain"})
    assert no_csrf.status_code == 403
    assert "Plain" not in {
        r.name for r in (await admin_staff.list_roles(dash.rt, dash.owner.owner_id)).items
    }

    # Another owner's role is not found.
    stranger = await dash.new_owner("stranger")
    theirs = await admin_staff.create_role(dash.rt, stranger.owner_id, "Theirs", [])
    assert (await owner.get(f"/team/roles/{theirs.id}")).status_code == 404
    assert (await owner.submit("/team", f"/team/roles/{theirs.id}/delete", {})).status_code == 404


# -- resellers ----------------------------------------------------------------------------


async def _priced_app(dash: Dash) -> tuple[str, resellers_t.RatePlan]:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, "Game")
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    plan = await admin_resellers.create_rate_plan(dash.rt, dash.owner.owner_id, "Basic")
    return app.app_id, plan


async def test_rate_plans_resellers_and_coins(dash: Dash) -> None:
    assert dash.owner is not None
    app_id, plan = await _priced_app(dash)
    owner = await dash.signed_in()
    home = await owner.get("/resellers")
    assert home.status_code == 200 and "Basic" in home.text

    blank = await owner.submit("/resellers", "/resellers/plans", {"name": " ", "allow_ban": "on"})
    assert blank.status_code == 400 and 'id="e-plan_name"' in blank.text
    made = await owner.submit("/resellers", "/resellers/plans", {"name": "Pro", "allow_ban": "on"})
    assert made.status_code == 303
    pro = next(
        p
        for p in (await admin_resellers.list_rate_plans(dash.rt, dash.owner.owner_id)).items
        if p.name == "Pro"
    )
    assert pro.allow_ban and not pro.allow_reset_hwid
    plan_page = f"/resellers/plans/{pro.id}"
    assert (await owner.get(plan_page)).status_code == 200

    wrong_sub = await owner.submit(
        plan_page,
        f"{plan_page}/prices",
        {
            "app_id": app_id,
            "subscription": "Silver",
            "term_kind": "duration",
            "term_days": "30",
            "price": "5",
        },
    )
    assert wrong_sub.status_code == 400 and 'id="e-price_subscription"' in wrong_sub.text
    assert 'value="Silver"' in wrong_sub.text
    bad_price = await owner.submit(
        plan_page,
        f"{plan_page}/prices",
        {
            "app_id": app_id,
            "subscription": "Gold",
            "term_kind": "duration",
            "term_days": "30",
            "price": "-1",
        },
    )
    assert bad_price.status_code == 400 and 'id="e-price_price"' in bad_price.text
    priced = await owner.submit(
        plan_page,
        f"{plan_page}/prices",
        {
            "app_id": app_id,
            "subscription": "Gold",
            "term_kind": "duration",
            "term_days": "30",
            "price": "5",
        },
    )
    assert priced.status_code == 303
    pro = await admin_resellers_plan(dash, pro.id)
    assert len(pro.prices) == 1 and pro.prices[0].price == 5
    edited = await owner.submit(
        plan_page, plan_page, {"name": "Pro plus", "allow_reset_hwid": "on"}
    )
    assert edited.status_code == 303
    pro = await admin_resellers_plan(dash, pro.id)
    assert pro.name == "Pro plus" and pro.allow_reset_hwid and not pro.allow_ban

    # Add a reseller (a new account: the temporary password once).
    added = await owner.submit(
        "/resellers",
        "/resellers/add",
        {"type": "new", "username": "rita", "email": "r@example.com", "rate_plan_id": pro.id},
    )
    assert added.status_code == 200 and 'id="temporary-password"' in added.text
    rita = await admin_resellers.get_reseller(dash.rt, dash.owner.owner_id, "rita")
    assert rita.rate_plan_id == pro.id
    dup = await owner.submit(
        "/resellers",
        "/resellers/add",
        {"type": "new", "username": "Rita", "email": "x@example.com"},
    )
    assert dup.status_code == 400 and 'id="e-add_username"' in dup.text

    in_use = await owner.submit(plan_page, f"{plan_page}/delete", {})
    assert in_use.status_code == 400 and "IN_USE" not in in_use.text and "reseller" in in_use.text

    detail = f"/resellers/r/{rita.public_id}"
    assert (await owner.get(detail)).status_code == 200
    take = await owner.submit(detail, f"{detail}/coins", {"amount": "-5", "description": "x"})
    assert take.status_code == 400 and 'id="e-coins_amount"' in take.text
    assert "not enough coins" in take.text and 'value="-5"' in take.text
    give = await owner.submit(detail, f"{detail}/coins", {"amount": "100", "description": "top"})
    assert give.status_code == 303
    page = await owner.get(detail)
    assert 'id="balance">100<' in page.text and "+100" in page.text
    moved = await owner.submit(
        detail, detail, {"rate_plan_id": plan.id, "scope": "some", "apps": app_id}
    )
    assert moved.status_code == 303
    rita = await admin_resellers.get_reseller(dash.rt, dash.owner.owner_id, "rita")
    assert rita.rate_plan_id == plan.id and rita.app_ids == [app_id]
    assert (await owner.submit(detail, f"{detail}/ban", {})).status_code == 303
    assert not (await admin_resellers.get_reseller(dash.rt, dash.owner.owner_id, "rita")).is_active
    assert (await owner.submit(detail, f"{detail}/unban", {})).status_code == 303

    price_id = pro.prices[0].id
    removed = await owner.submit(plan_page, f"{plan_page}/prices/{price_id}/remove", {})
    assert removed.status_code == 303
    assert (await owner.submit(plan_page, f"{plan_page}/delete", {})).status_code == 303
    assert (await owner.get(plan_page)).status_code == 404
    assert (await owner.get("/resellers/r/nobody")).status_code == 404

    for capability in (
        "rate-plan.create",
        "rate-plan.edit",
        "rate-plan.delete",
        "reseller.add",
        "reseller.coins",
        "reseller.edit",
        "reseller.ban",
        "reseller.unban",
    ):
        assert await _dashboard_entries(dash, capability), capability

    # Another owner's plan is not found; a staff member without the right is refused.
    stranger = await dash.new_owner("stranger")
    theirs = await admin_resellers.create_rate_plan(dash.rt, stranger.owner_id, "Theirs")
    assert (await owner.get(f"/resellers/plans/{theirs.id}")).status_code == 404
    viewer = await _staff(dash, ["reseller:read"])
    assert (await viewer.get("/resellers")).status_code == 200
    assert (
        await viewer.submit("/resellers", f"{detail}/coins", {"amount": "5"})
    ).status_code == 403
    assert (await owner.post(f"{detail}/coins", {"amount": "5"})).status_code == 403  # no CSRF


async def admin_resellers_plan(dash: Dash, plan_id: str) -> resellers_t.RatePlan:
    assert dash.owner is not None
    plans = (await admin_resellers.list_rate_plans(dash.rt, dash.owner.owner_id)).items
    return next(p for p in plans if p.id == plan_id)


async def test_reseller_own_page(dash: Dash) -> None:
    assert dash.owner is not None
    app_id, plan = await _priced_app(dash)
    await admin_resellers.edit_rate_plan(dash.rt, dash.owner.owner_id, plan.id, allow_ban=True)
    plan = await admin_resellers.set_price(
        dash.rt,
        dash.owner.owner_id,
        plan.id,
        app_id=app_id,
        subscription="Gold",
        term_kind="duration",
        term_days=30,
        price=10,
    )
    account = await _member(dash, "seller")
    await admin_resellers.add_reseller(
        dash.rt,
        dash.owner.owner_id,
        type="existing",
        public_id=account.public_id,
        rate_plan_id=plan.id,
    )
    await admin_resellers.adjust_coins(dash.rt, dash.owner.owner_id, account.public_id, 25)
    seller = dash.browser()
    landed = await seller.sign_in(account.username, PASSWORD)
    # A reseller lands on /workspace, which sends an account that only resells to its keys.
    assert landed.status_code == 303 and landed.headers["location"] == "/dashboard/workspace"
    home = await seller.get("/reseller")
    assert home.status_code == 200 and "25 coins" in home.text
    assert 'href="/dashboard/reseller"' in home.text and 'href="/dashboard/team"' not in home.text
    assert (await seller.get("/workspace")).headers["location"] == "/dashboard/reseller"
    assert (await seller.get("/team")).status_code == 403

    product = plan.prices[0].id
    before = await _count(dash, licenses)
    poor = await seller.submit(
        "/reseller", "/reseller/generate", {"product_id": product, "amount": "3", "note": "n1"}
    )
    assert poor.status_code == 400 and 'id="e-gen_amount"' in poor.text
    assert "not enough coins" in poor.text and 'value="n1"' in poor.text
    assert await _count(dash, licenses) == before
    made = await seller.submit(
        "/reseller", "/reseller/generate", {"product_id": product, "amount": "2"}
    )
    assert made.status_code == 200
    box = re.search(r'<textarea id="new-keys"[^>]*>([^<]*)</textarea>', made.text)
    assert box is not None
    keys = box.group(1).split("\n")
    assert len(keys) == 2 and "5 coins" in made.text
    entries = await _dashboard_entries(dash, "license.generate")
    assert entries and entries[-1].actor == account.id

    banned = await seller.submit("/reseller", f"/reseller/keys/{app_id}/{keys[0]}/ban", {})
    assert banned.status_code == 303
    assert (await admin.get_license(dash.rt, app_id, keys[0])).banned is True
    assert await _dashboard_entries(dash, "license.ban")
    # The plan does not allow HWID resets; a key of someone else is not found.
    refused = await seller.submit("/reseller", f"/reseller/keys/{app_id}/{keys[1]}/reset-hwid", {})
    assert refused.status_code == 403
    other = (await admin.generate_licenses(dash.rt, app_id, "Gold", days=5))[0]
    assert (
        await seller.submit("/reseller", f"/reseller/keys/{app_id}/{other}/ban", {})
    ).status_code == 404
    export = await seller.get("/reseller/export", params={"format": "csv"})
    assert export.status_code == 200 and keys[1] in export.text and other not in export.text
    assert "attachment" in export.headers["content-disposition"]
    assert (await seller.post("/reseller/generate", {"product_id": product})).status_code == 403

    # Someone who is no reseller gets 403.
    owner = await dash.signed_in()
    assert (await owner.get("/reseller")).status_code == 403


# -- API access and audit -----------------------------------------------------------------


async def test_tokens_and_elite_key(dash: Dash) -> None:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, "Tool")
    owner = await dash.signed_in()
    assert (await owner.get("/access")).status_code == 200

    no_scope = await owner.submit("/access", "/access/tokens", {"name": "ci"})
    assert no_scope.status_code == 400 and 'id="e-token_scopes"' in no_scope.text
    assert 'value="ci"' in no_scope.text
    bad_date = await owner.submit(
        "/access",
        "/access/tokens",
        {"name": "ci", "perm": "license:read", "expires_at": "soon"},
    )
    assert bad_date.status_code == 400 and 'id="e-token_expires_at"' in bad_date.text
    made = await owner.submit(
        "/access",
        "/access/tokens",
        {
            "name": "ci",
            "perm": "license:read",
            "perm_extra": "license.generate",
            "scope": "some",
            "apps": app.app_id,
            "expires_at": "30",
        },
    )
    assert made.status_code == 200
    shown = re.search(r'id="new-token">(lic_[A-Za-z0-9]+)<', made.text)
    assert shown is not None
    secret = shown.group(1)
    principal = await credentials.authenticate_token(dash.rt, secret)
    assert principal is not None and principal.app_ids == frozenset({app.app_id})
    listing = await owner.get("/access")
    assert secret not in listing.text and secret[:8] in listing.text
    tokens = await credentials.list_tokens(dash.rt, dash.owner.owner_id)
    revoked = await owner.submit("/access", f"/access/tokens/{tokens[0].id}/revoke", {})
    assert revoked.status_code == 303
    assert await credentials.authenticate_token(dash.rt, secret) is None
    assert "revoked" in (await owner.get("/access", params={"status": "revoked"})).text
    assert (await owner.submit("/access", "/access/tokens/nope/revoke", {})).status_code == 404

    rotated = await owner.submit("/access", "/access/elite/rotate", {})
    key = re.search(r'id="new-elite-key">(ek_[A-Za-z0-9_-]+)<', rotated.text)
    assert rotated.status_code == 200 and key is not None
    assert key.group(1) not in (await owner.get("/access")).text
    # Untick license.ban: it becomes disabled, everything else stays enabled.
    enabled = sorted(credentials.ELITE_CAPABILITIES - {"license.ban"})
    html = (await owner.get("/access")).text
    saved = await owner.http.post(
        "/dashboard/access/elite/capabilities",
        data={"csrf_token": csrf_of(html), "enabled": enabled},
    )
    assert saved.status_code == 303
    settings = await credentials.get_elite_settings(dash.rt, dash.owner.owner_id)
    assert settings.disabled_capabilities == ["license.ban"]
    bad_ip = await owner.submit("/access", "/access/elite/rules/ip_allow/add", {"value": "x.y"})
    assert bad_ip.status_code == 400 and 'id="e-rule_ip_allow"' in bad_ip.text
    ok_ip = await owner.submit(
        "/access", "/access/elite/rules/ip_allow/add", {"value": "10.0.0.0/8"}
    )
    assert ok_ip.status_code == 303
    assert "10.0.0.0/8" in (await owner.get("/access")).text
    gone = await owner.submit(
        "/access", "/access/elite/rules/ip_allow/remove", {"value": "10.0.0.0/8"}
    )
    assert gone.status_code == 303
    assert (await owner.submit("/access", "/access/elite/delete", {})).status_code == 303
    assert not (await credentials.get_elite_settings(dash.rt, dash.owner.owner_id)).has_key
    for capability in (
        "token.create",
        "token.revoke",
        "elite-key.rotate",
        "elite-key.set_capabilities",
        "elite-key.add_rule",
        "elite-key.remove_rule",
        "elite-key.delete",
    ):
        assert await _dashboard_entries(dash, capability), capability
    async with dash.rt.db.read() as conn:
        texts = [str(r.changes) for r in (await conn.execute(select(audit_log))).all()]
    assert not any(secret in t or key.group(1) in t for t in texts)
    assert (await owner.post("/access/elite/rotate", {})).status_code == 403  # no CSRF

    # A staff member's token is its own and stays within its role.
    member = await _staff(dash, ["token:read", "token.create", "license:read"])
    page = await member.get("/access")
    assert page.status_code == 200 and "Elite Key" not in page.text
    beyond = await member.submit(
        "/access", "/access/tokens", {"name": "more", "perm": "license:write"}
    )
    assert beyond.status_code == 400 and 'id="e-token_scopes"' in beyond.text
    mine = await member.submit(
        "/access", "/access/tokens", {"name": "mine", "perm": "license:read"}
    )
    assert mine.status_code == 200
    found = re.search(r'id="new-token">(lic_[A-Za-z0-9]+)<', mine.text)
    assert found is not None
    held = await credentials.authenticate_token(dash.rt, found.group(1))
    assert held is not None and held.account_id != dash.owner.id
    assert (await member.submit("/access", "/access/elite/rotate", {})).status_code == 403


async def test_audit_page_filters_paging_and_export(dash: Dash) -> None:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, "Audited")
    for n in range(55):
        await admin_staff.create_role(dash.rt, dash.owner.owner_id, f"role{n}", [])
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    owner = await dash.signed_in()
    first = await owner.get("/audit", params={"capability": "role"})
    assert first.status_code == 200 and first.text.count('data-capability="role.create"') == 50
    older = re.search(r'class="next" href="/dashboard/audit\?([^"]+)"', first.text)
    assert older is not None
    second = await owner.get("/audit?" + older.group(1).replace("&amp;", "&"))
    assert second.text.count('data-capability="role.create"') == 5
    # Sign-ins are left out unless asked for (they would swamp the list).
    assert 'data-capability="owner.sign_in"' not in (await owner.get("/audit")).text
    everything = await owner.get("/audit", params={"sign_ins": "1"})
    assert 'data-capability="owner.sign_in"' in everything.text
    assert dash.owner.username in everything.text
    signins = await owner.get("/audit", params={"capability": "owner.sign_in"})
    assert 'data-capability="owner.sign_in"' in signins.text
    rows = await owner.get(
        "/audit", params={"capability": "subscription"}, headers={"HX-Request": "true"}
    )
    assert rows.text.lstrip().startswith('<div id="rows">') and "<html" not in rows.text
    assert 'data-capability="role.create"' not in rows.text
    bad_rows = await owner.get("/audit", params={"until": "x"}, headers={"HX-Request": "true"})
    assert bad_rows.status_code == 200 and "until: Enter a date" in bad_rows.text
    none = await owner.get("/audit", params={"capability": "role", "until": "2000-01-01"})
    assert "No entries match." in none.text
    bad = await owner.get("/audit", params={"since": "yesterday"})
    assert bad.status_code == 400 and 'id="e-since"' in bad.text and 'value="yesterday"' in bad.text
    export = await owner.get("/audit/export", params={"capability": "role.create"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.text.count("role.create") == 55
    assert (await owner.get("/audit/export", params={"format": "xml"})).status_code == 400
    assert (await owner.get("/audit", params={"cursor": "garbage"})).status_code == 400
    stranger = await dash.new_owner("stranger")
    foreign = await admin.create_app(dash.rt, stranger.owner_id, "Foreign")
    assert (await owner.get("/audit", params={"app_id": foreign.app_id})).status_code == 404
    assert (await owner.get("/audit", params={"app_id": app.app_id})).status_code == 200

    # Staff: audit.list without audit.export; an app outside the role's scope is 404.
    other = await admin.create_app(dash.rt, dash.owner.owner_id, "Other")
    reader = await _staff(dash, ["audit.list"], [app.app_id])
    assert (await reader.get("/audit")).status_code == 200
    assert (await reader.get("/audit", params={"app_id": other.app_id})).status_code == 404
    assert (await reader.get("/audit/export")).status_code == 403
    assert (await (await _staff(dash, ["license:read"])).get("/audit")).status_code == 403
