"""The dashboard over HTTP: sign-in, lockout, TOTP, CSRF, cookies, pages, forms and audit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from licentia.services import admin, dashboard_auth, maintenance
from licentia.store.tables import accounts, apps, audit_log, licenses
from tests.conftest import FakeClock
from tests.web.conftest import PASSWORD, Dash, csrf_of


def _cookie_header(response_headers: list[str], name: str) -> str:
    found = [h for h in response_headers if h.startswith(name + "=")]
    assert found, f"no {name} cookie set"
    return found[0]


async def test_sign_in_cookie_flags_and_generic_errors(dash: Dash) -> None:
    browser = dash.browser()
    first = await browser.get("/apps/x/licenses?q=A")
    assert first.status_code == 303
    assert (
        first.headers["location"]
        == "/dashboard/signin?next=%2Fdashboard%2Fapps%2Fx%2Flicenses%3Fq%3DA"
    )

    wrong = await browser.sign_in(dash.username, "not-the-password")
    unknown = await browser.sign_in("nobody_" + dash.username, "not-the-password")
    for response, name in ((wrong, dash.username), (unknown, "nobody_" + dash.username)):
        assert response.status_code == 400
        assert dashboard_auth.BAD_CREDENTIALS in response.text
        assert f'value="{name}"' in response.text  # the typed name is kept
        assert "not-the-password" not in response.text  # the password never is

    ok = await browser.sign_in(dash.username)
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard/apps"
    cookie = _cookie_header(ok.headers.get_list("set-cookie"), "licentia_dash").lower()
    for flag in ("secure", "httponly", "samesite=lax", "path=/dashboard"):
        assert flag in cookie, cookie
    page = await browser.get("/apps")
    assert page.status_code == 200 and dash.username in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/dashboard/static/htmx.min.js"' in page.text
    js = await browser.get("/static/htmx.min.js")
    assert js.status_code == 200 and js.text.startswith("/*! htmx 2.0.4")

    # The stored session id is a SHA-256 of the cookie, never the cookie itself.
    token = browser.http.cookies["licentia_dash"]
    assert len(token) >= 43
    async with dash.rt.db.read() as conn:
        hashes = (
            (
                await conn.execute(
                    select(dashboard_auth.dashboard_sessions.c.id_hash).where(
                        dashboard_auth.dashboard_sessions.c.account_id == dash.owner.id  # type: ignore[union-attr]
                    )
                )
            )
            .scalars()
            .all()
        )
    assert hashes == [dashboard_auth._digest(token)]

    assert dash.owner is not None
    entries = await dash.audit("owner.sign_in", dash.owner.id)
    assert [(e.result, e.face, e.actor_kind, e.actor) for e in entries] == [
        ("INVALID_CREDENTIALS", "dashboard", "account", dash.owner.id),
        ("ok", "dashboard", "account", dash.owner.id),
    ]


async def test_cookies_are_not_secure_on_local_plain_http(dash: Dash) -> None:
    browser = dash.browser(base_url="http://127.0.0.1:8000")
    response = await browser.sign_in(dash.username)
    assert response.status_code == 303
    cookie = _cookie_header(response.headers.get_list("set-cookie"), "licentia_dash").lower()
    assert "secure" not in cookie and "httponly" in cookie
    assert (await browser.get("/apps")).status_code == 200


async def test_lockout_per_account_and_per_address(dash: Dash, clock: FakeClock) -> None:
    browser = dash.browser()
    for _ in range(dashboard_auth.LOCK_FAILURES):
        assert (await browser.sign_in(dash.username, "wrong-password")).status_code == 400
    locked = await browser.sign_in(dash.username)  # the right password, but locked
    assert locked.status_code == 429 and dashboard_auth.LOCKED in locked.text
    # Not from another address: a stranger's guesses lock only the stranger (issue #14).
    assert (await dash.browser().sign_in(dash.username)).status_code == 303
    ghost = "ghost_" + dash.username
    for _ in range(dashboard_auth.LOCK_FAILURES):
        await browser.sign_in(ghost, "wrong-password")
    assert (await browser.sign_in(ghost, "wrong-password")).status_code == 429
    clock.advance(minutes=16)
    assert (await browser.sign_in(dash.username)).status_code == 303

    # One address failing for many names is locked for every name.
    address = dash.browser(ip="192.0.2.77")
    for n in range(dashboard_auth.LOCK_FAILURES_IP):
        assert (await address.sign_in(f"guess{n}_{dash.username}", "x")).status_code == 400
    assert (await address.sign_in(dash.username)).status_code == 429
    assert (await dash.browser().sign_in(dash.username)).status_code == 303


async def test_every_post_needs_the_csrf_token(dash: Dash) -> None:
    assert dash.owner is not None
    anonymous = dash.browser()
    refused = await anonymous.post("/signin", {"username": dash.username, "password": PASSWORD})
    assert refused.status_code == 403 and "Request refused" in refused.text
    assert "licentia_dash=" not in refused.headers.get("set-cookie", "")

    browser = await dash.signed_in()
    for data in ({"name": "NoToken"}, {"name": "BadToken", "csrf_token": "forged"}):
        response = await browser.post("/apps", data)
        assert response.status_code == 403
        assert "did not come from this dashboard" in response.text
    # The htmx way: the token in the X-CSRF-Token header.
    token = csrf_of((await browser.get("/apps")).text)
    created = await browser.post("/apps", {"name": "ViaHeader"}, headers={"X-CSRF-Token": token})
    assert created.status_code == 200
    async with dash.rt.db.read() as conn:
        names = (
            (
                await conn.execute(
                    select(apps.c.name).where(apps.c.owner_account_id == dash.owner.id)
                )
            )
            .scalars()
            .all()
        )
    assert names == ["ViaHeader"]
    # A session cookie stolen without its page cannot sign out either.
    assert (await browser.post("/signout", {})).status_code == 403
    assert (await browser.get("/apps")).status_code == 200


async def test_apps_licenses_users_and_audit(dash: Dash) -> None:
    assert dash.owner is not None
    browser = await dash.signed_in()
    empty = await browser.submit("/apps", "/apps", {"name": "   "})
    assert empty.status_code == 400 and 'class="error" id="e-name"' in empty.text
    created = await browser.submit("/apps", "/apps", {"name": "Shop"})
    assert created.status_code == 200
    secret = re.search(r'id="app-secret">([0-9a-f]+)<', created.text)
    assert secret is not None
    duplicate = await browser.submit("/apps", "/apps", {"name": "shop"})
    assert duplicate.status_code == 400 and 'value="shop"' in duplicate.text
    app = await admin.find_app(dash.rt, dash.owner.owner_id, "Shop")
    assert app is not None
    app_id = app.app_id
    await admin.create_subscription(dash.rt, app_id, "Gold", 1)

    bad = await browser.submit(
        f"/apps/{app_id}/licenses",
        f"/apps/{app_id}/licenses/generate",
        {"subscription": "Gold", "count": "3", "days": "30", "mask": "XX", "note": "kept note"},
    )
    assert bad.status_code == 400
    assert (
        'id="e-mask"' in bad.text and 'value="kept note"' in bad.text and 'value="XX"' in bad.text
    )
    toomany = await browser.submit(
        f"/apps/{app_id}/licenses",
        f"/apps/{app_id}/licenses/generate",
        {"subscription": "Gold", "count": "100001", "days": "30"},
    )
    assert toomany.status_code == 400 and 'id="e-count"' in toomany.text

    made = await browser.submit(
        f"/apps/{app_id}/licenses",
        f"/apps/{app_id}/licenses/generate",
        {"subscription": "Gold", "count": "3", "days": "30", "mask": "TEST-XXXXXXXX"},
    )
    assert made.status_code == 200
    box = re.search(r'<textarea id="new-keys"[^>]*>([^<]*)</textarea>', made.text)
    assert box is not None
    keys = box.group(1).split("\n")
    assert len(keys) == 3 and all(re.fullmatch(r"TEST-[A-Z0-9]{8}", k) for k in keys)
    listing = await browser.get(f"/apps/{app_id}/licenses", params={"q": keys[0]})
    assert keys[0] in listing.text and keys[1] not in listing.text
    # htmx asks for the rows only.
    rows = await browser.get(f"/apps/{app_id}/licenses", headers={"HX-Request": "true"})
    assert rows.text.lstrip().startswith('<div id="rows">') and "<html" not in rows.text

    banned = await browser.submit(
        f"/apps/{app_id}/licenses", f"/apps/{app_id}/licenses/{keys[0]}/ban", {"q": "TEST"}
    )
    assert banned.status_code == 303
    assert banned.headers["location"] == f"/dashboard/apps/{app_id}/licenses?q=TEST"
    only_banned = await browser.get(f"/apps/{app_id}/licenses", params={"state": "banned"})
    assert keys[0] in only_banned.text and keys[1] not in only_banned.text
    # A delete needs its confirmation (the row's link opens the confirmation page, #13).
    unconfirmed = await browser.submit(
        f"/apps/{app_id}/licenses", f"/apps/{app_id}/licenses/{keys[1]}/delete", {}
    )
    assert unconfirmed.status_code == 400
    deleted = await browser.submit(
        f"/apps/{app_id}/licenses",
        f"/apps/{app_id}/licenses/{keys[1]}/delete",
        {"confirm": "yes"},
    )
    assert deleted.status_code == 303
    async with dash.rt.db.read() as conn:
        left = dict(
            (
                await conn.execute(
                    select(licenses.c.key, licenses.c.banned).where(licenses.c.app_id == app_id)
                )
            ).all()
        )
    assert left == {keys[0]: True, keys[2]: False}
    async with dash.rt.db.read() as conn:
        batch_id = (
            await conn.execute(select(licenses.c.batch_id).where(licenses.c.key == keys[0]))
        ).scalar_one()

    await admin.create_user(dash.rt, app_id, "mara", "pw-123456", "Gold")
    users = await browser.get(f"/apps/{app_id}/users", params={"q": "ma"})
    assert 'data-username="mara"' in users.text
    ban = await browser.submit(f"/apps/{app_id}/users", f"/apps/{app_id}/users/mara/ban", {})
    assert ban.status_code == 303
    assert (await admin.get_user(dash.rt, app_id, "mara")).banned is True
    overview = await browser.get(f"/apps/{app_id}")
    assert re.search(r'id="count-licenses">2<', overview.text)
    assert re.search(r'id="count-users">1<', overview.text)

    async with dash.rt.db.read() as conn:
        entries = (
            await conn.execute(
                select(
                    audit_log.c.capability,
                    audit_log.c.target,
                    audit_log.c.face,
                    audit_log.c.actor_kind,
                    audit_log.c.app_id,
                )
                .where(
                    audit_log.c.owner_account_id == dash.owner.id,
                    audit_log.c.capability != "owner.sign_in",
                )
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [(e.capability, e.target) for e in entries] == [
        ("app.create", "Shop"),
        ("license.generate", batch_id),
        ("license.ban", keys[0]),
        ("license.delete", keys[1]),
        ("user.ban", "mara"),
    ]
    assert {(e.face, e.actor_kind) for e in entries} == {("dashboard", "account")}
    assert {e.app_id for e in entries[1:]} == {app_id}


async def test_error_pages(dash: Dash, monkeypatch: pytest.MonkeyPatch) -> None:
    other = await dash.new_owner("other")
    foreign = await admin.create_app(dash.rt, other.owner_id, "Theirs")
    browser = await dash.signed_in()
    for path in (
        f"/apps/{foreign.app_id}",
        f"/apps/{foreign.app_id}/licenses",
        "/apps/nope",
        "/no/such/page",
    ):
        response = await browser.get(path)
        assert response.status_code == 404, path
        assert "404 · Not found" in response.text and "Traceback" not in response.text
    # Acting on another owner's app is refused the same way and changes nothing.
    await admin.create_subscription(dash.rt, foreign.app_id, "Basic", 1)
    await admin.create_user(dash.rt, foreign.app_id, "mara", "pw-123456", "Basic")
    token = csrf_of((await browser.get("/apps")).text)
    response = await browser.post(f"/apps/{foreign.app_id}/users/mara/ban", {"csrf_token": token})
    assert response.status_code == 404
    assert (await admin.get_user(dash.rt, foreign.app_id, "mara")).banned is False
    unknown_action = await browser.post(
        f"/apps/{foreign.app_id}/licenses/K/explode", {"csrf_token": token}
    )
    assert unknown_action.status_code == 404

    # An account that is no owner and nobody's staff sees no app: 404, not a trace.
    loner = await dash.new_owner("loner")
    async with dash.rt.db.write() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == loner.id).values(owner_id=None))
    staff = dash.browser()
    assert (await staff.sign_in(loner.username)).status_code == 303
    assert "This account manages no apps." in (await staff.get("/apps")).text
    assert (await staff.get(f"/apps/{foreign.app_id}")).status_code == 404
    forbidden = await staff.submit("/apps", "/apps", {"name": "Nope"})
    assert forbidden.status_code == 403 and "403 · Not allowed" in forbidden.text

    from licentia.web import lists

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database password=hunter2 exploded")

    monkeypatch.setattr(lists, "apps_of", broken)
    crashed = await browser.get("/apps")
    assert crashed.status_code == 500
    assert "Something went wrong" in crashed.text
    assert "hunter2" not in crashed.text and "RuntimeError" not in crashed.text


async def test_totp_enable_sign_in_and_disable(dash: Dash, clock: FakeClock) -> None:
    assert dash.owner is not None
    browser = await dash.signed_in()
    start = await browser.submit("/account", "/account/totp/start", {})
    assert start.status_code == 303
    page = await browser.get("/account")
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert found is not None
    secret = found.group(1)
    now = dash.rt.clock()
    step = dashboard_auth.totp_step(now)
    wrong = await browser.submit(
        "/account",
        "/account/totp/enable",
        {"code": "000000" if dashboard_auth.totp_at(secret, step) != "000000" else "111111"},
    )
    assert wrong.status_code == 400 and 'id="e-code"' in wrong.text
    assert secret in wrong.text  # the same secret is offered again
    on = await browser.submit(
        "/account", "/account/totp/enable", {"code": dashboard_auth.totp_at(secret, step)}
    )
    assert on.status_code == 200 and "Two-factor sign-in is on." in on.text
    async with dash.rt.db.read() as conn:
        stored = (
            await conn.execute(
                select(accounts.c.totp_secret_enc).where(accounts.c.id == dash.owner.id)
            )
        ).scalar_one()
    assert stored and secret not in stored

    second = dash.browser()
    first_step = await second.sign_in(dash.username)
    assert (
        first_step.status_code == 303 and first_step.headers["location"] == "/dashboard/signin/totp"
    )
    # Half-signed-in is not signed in.
    assert (await second.get("/apps")).status_code == 303
    # The code already used to turn TOTP on cannot be used again.
    reused = await second.submit(
        "/signin/totp", "/signin/totp", {"code": dashboard_auth.totp_at(secret, step)}
    )
    assert reused.status_code == 400 and "Wrong or expired code." in reused.text
    clock.advance(30)
    pending_cookie = second.http.cookies["licentia_dash"]
    done = await second.submit(
        "/signin/totp", "/signin/totp", {"code": dashboard_auth.totp_at(secret, step + 1)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/apps"
    assert second.http.cookies["licentia_dash"] != pending_cookie  # a new id once signed in
    assert (await second.get("/apps")).status_code == 200

    clock.advance(30)
    off = await second.submit(
        "/account", "/account/totp/disable", {"code": dashboard_auth.totp_at(secret, step + 2)}
    )
    assert off.status_code == 200 and "Two-factor sign-in is off." in off.text
    caps = [e.capability for e in await dash.audit("owner.enable_2fa", dash.owner.id)]
    caps += [e.capability for e in await dash.audit("owner.disable_2fa", dash.owner.id)]
    assert caps == ["owner.enable_2fa", "owner.disable_2fa"]


def test_totp_matches_rfc_6238_vectors() -> None:
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890"
    # RFC 6238 appendix B (SHA-1), last 6 digits.
    assert dashboard_auth.totp_at(secret, 59 // 30) == "287082"
    assert dashboard_auth.totp_at(secret, 1111111109 // 30) == "081804"
    assert dashboard_auth.totp_at(secret, 20000000000 // 30) == "353130"


async def test_forced_password_change_and_sign_out_everywhere(dash: Dash) -> None:
    assert dash.owner is not None
    other_device = await dash.signed_in()
    async with dash.rt.db.write() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == dash.owner.id).values(must_change_password=True)
        )
    browser = dash.browser()
    signed = await browser.sign_in(dash.username)
    assert signed.headers["location"] == "/dashboard/account"
    blocked = await browser.get("/apps")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/dashboard/account"
    mismatch = await browser.submit(
        "/account",
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "new-password-1",
            "confirm_password": "other",
        },
    )
    assert mismatch.status_code == 400 and 'id="e-confirm_password"' in mismatch.text
    short = await browser.submit(
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert short.status_code == 400 and 'id="e-new_password"' in short.text
    wrong = await browser.submit(
        "/account",
        "/account/password",
        {
            "current_password": "nope-nope",
            "new_password": "new-password-1",
            "confirm_password": "new-password-1",
        },
    )
    assert wrong.status_code == 400 and 'id="e-current_password"' in wrong.text
    done = await browser.submit(
        "/account",
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "new-password-1",
            "confirm_password": "new-password-1",
        },
    )
    assert done.status_code == 200 and "Password changed." in done.text
    assert (await browser.get("/apps")).status_code == 200
    # The change ended the account's other sessions.
    assert (await other_device.get("/apps")).status_code == 303
    entries = await dash.audit("owner.change_password", dash.owner.id)
    assert len(entries) == 1 and "new-password-1" not in (entries[0].changes or "")

    third = dash.browser()
    assert (await third.sign_in(dash.username, "new-password-1")).status_code == 303
    out = await browser.submit("/account", "/account/signout-everywhere", {})
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/signin"
    assert (await browser.get("/apps")).status_code == 303
    assert (await third.get("/apps")).status_code == 303
    assert len(await dash.audit("owner.sign_out_everywhere", dash.owner.id)) == 1


async def test_staff_see_their_role_scope_only(dash: Dash) -> None:
    """Rights come from services/principals: a role's capabilities within its app scope."""
    import json
    import uuid

    from licentia.store.tables import staff_members, staff_roles

    assert dash.owner is not None
    inside = await admin.create_app(dash.rt, dash.owner.owner_id, "Inside")
    outside = await admin.create_app(dash.rt, dash.owner.owner_id, "Outside")
    await admin.create_subscription(dash.rt, inside.app_id, "Gold", 1)
    key = (await admin.generate_licenses(dash.rt, inside.app_id, "Gold", days=5))[0]
    member = await dash.new_owner("staff")
    role_id = str(uuid.uuid4())
    async with dash.rt.db.write() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == member.id).values(owner_id=None))
        await conn.execute(
            staff_roles.insert().values(
                id=role_id,
                owner_account_id=dash.owner.id,
                name="Support",
                name_norm="support",
                permissions=json.dumps(["license.list", "app.info"]),
                app_ids=json.dumps([inside.app_id]),
                created_at=dash.rt.clock(),
            )
        )
        await conn.execute(
            staff_members.insert().values(
                id=str(uuid.uuid4()),
                owner_account_id=dash.owner.id,
                account_id=member.id,
                role_id=role_id,
                created_at=dash.rt.clock(),
            )
        )
    staff = dash.browser()
    assert (await staff.sign_in(member.username)).status_code == 303
    apps_page = await staff.get("/apps")
    assert f"Apps of {dash.owner.username}" in apps_page.text
    assert "Inside" in apps_page.text and "Outside" not in apps_page.text
    assert 'action="/dashboard/apps"' not in apps_page.text  # no create form for staff
    assert (await staff.get(f"/apps/{outside.app_id}")).status_code == 404
    listing = await staff.get(f"/apps/{inside.app_id}/licenses")
    assert listing.status_code == 200 and key in listing.text
    assert (await staff.get(f"/apps/{inside.app_id}/users")).status_code == 403
    refused = await staff.submit(
        f"/apps/{inside.app_id}/licenses", f"/apps/{inside.app_id}/licenses/{key}/ban", {}
    )
    assert refused.status_code == 403 and "403 · Not allowed" in refused.text
    assert (await admin.get_license(dash.rt, inside.app_id, key)).banned is False


async def test_suspended_owner_cannot_sign_in_and_purge(dash: Dash, clock: FakeClock) -> None:
    assert dash.owner is not None
    browser = await dash.signed_in()
    async with dash.rt.db.write() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == dash.owner.id).values(status="suspended")
        )
    # The open session stops working at once, and a new sign-in is refused.
    assert (await browser.get("/apps")).status_code == 303
    refused = await dash.browser().sign_in(dash.username)
    assert refused.status_code == 403 and "This account is suspended." in refused.text
    # A wrong password still gets only the generic answer.
    wrong = await dash.browser().sign_in(dash.username, "wrong-password")
    assert wrong.status_code == 400 and "suspended" not in wrong.text

    clock.advance(hours=13)  # the periodic maintenance round removes the ended sessions
    report = await maintenance.purge_exclusive(dash.rt)
    assert report is not None and report.dashboard >= 1
    async with dash.rt.db.read() as conn:
        left = (
            await conn.execute(
                select(dashboard_auth.dashboard_sessions.c.id_hash).where(
                    dashboard_auth.dashboard_sessions.c.account_id == dash.owner.id
                )
            )
        ).all()
    assert left == []
