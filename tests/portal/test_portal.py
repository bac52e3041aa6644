"""The end-user portal (B.22, issue #4 item 5) over HTTP against the ASGI app, on SQLite and
PostgreSQL: sign-in both ways, lockout, CSRF, the portal switch, self-service HWID resets
within the vendor's limits (audited), concurrency, banned and paused holders, passwords."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from licentia.services import admin_identities, admin_licenses, audit, views_licenses
from licentia.services import portal as portal_service
from licentia.services.admin_common import AdminError
from licentia.store.tables import portal_sessions, portal_signin_failures
from tests.conftest import FakeClock
from tests.portal.conftest import PASSWORD, Portal, csrf_of

# -- the switch --------------------------------------------------------------------------


async def test_portal_is_404_unless_enabled(portal: Portal) -> None:
    await portal.user()
    await portal.set(user_panel_enabled=False)
    browser = portal.browser()
    for tail in ("", "/signin"):
        response = await browser.get(tail)
        assert response.status_code == 404
        assert "There is nothing here" in response.text
    assert (await browser.post("/signin", {"username": "mara"})).status_code == 404
    # An unknown app and a disabled app answer the same; odd paths are 404 pages too.
    http = portal.browser().http
    for path in ("/portal/no-such-app", "/portal/", "/portal/" + "x" * 500, "/portal/a/b/c"):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert "There is nothing here" in response.text
    assert (await http.put(f"/portal/{portal.app_id}/reset")).status_code in (404, 405)
    await portal.set(user_panel_enabled=True, is_enabled=False)
    assert (await browser.get("/signin")).status_code == 404
    await portal.set(is_enabled=True)
    response = await browser.get("/signin")
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-frame-options"] == "DENY"


async def test_signed_in_holder_is_out_once_the_portal_is_off(portal: Portal) -> None:
    await portal.user()
    browser = await portal.signed_in()
    assert (await browser.get()).status_code == 200
    await portal.set(user_panel_enabled=False)
    assert (await browser.get()).status_code == 404


# -- signing in --------------------------------------------------------------------------


async def test_sign_in_with_username_and_password(portal: Portal) -> None:
    await portal.user("mara", sid="SID-A")
    browser = portal.browser()
    page = await browser.get("/signin")
    assert page.status_code == 200
    pre = page.headers["set-cookie"]
    assert "licentia_portal_pre=" in pre and f"Path=/portal/{portal.app_id}" in pre
    response = await browser.sign_in("MARA")  # usernames are case-insensitive
    assert response.status_code == 303
    assert response.headers["location"] == f"/portal/{portal.app_id}"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("licentia_portal=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", f"Path=/portal/{portal.app_id}"):
        assert flag.lower() in cookie.lower()
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    async with portal.rt.db.read() as conn:
        stored = (await conn.execute(select(portal_sessions.c.id_hash))).scalars().all()
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    home = await browser.get()
    assert home.status_code == 200
    assert "Premium" in home.text and "SID-A" in home.text and "Reset my HWID" in home.text
    entries = await portal.audit("portal.sign_in")
    assert [(e.actor_kind, e.face, e.actor, e.target) for e in entries] == [
        ("portal", "portal", "user:mara", "mara")
    ]


async def test_plain_http_to_localhost_drops_secure_flag(portal: Portal) -> None:
    await portal.user()
    browser = portal.browser(base_url="http://127.0.0.1")
    response = await browser.sign_in("mara")
    assert response.status_code == 303
    assert "secure" not in response.headers["set-cookie"].lower()


async def test_sign_in_with_a_license_key(portal: Portal) -> None:
    key, _ = await portal.key_holder(sid="SID-K")
    browser = portal.browser()
    response = await browser.sign_in_key(key)
    assert response.status_code == 303, response.text
    home = await browser.get()
    assert home.status_code == 200
    assert "SID-K" in home.text and "License key" in home.text
    assert key not in home.text  # shown only by its ends
    assert f"{key[:4]}…{key[-4:]}" in home.text


async def test_wrong_key_and_redeemed_key(portal: Portal) -> None:
    _, redeemed = await portal.world.register("mara", PASSWORD, sid="SID-A")
    browser = portal.browser()
    response = await browser.sign_in_key("NOPE-NOPE-NOPE")
    assert response.status_code == 400
    assert portal_service.BAD_KEY in response.text
    response = await browser.sign_in_key(redeemed)
    assert response.status_code == 400
    assert "sign in with its username and password" in response.text


async def test_wrong_password_and_unknown_user_get_the_same_answer(portal: Portal) -> None:
    await portal.user("mara")
    wrong = await portal.browser().sign_in("mara", "not-the-password")
    unknown = await portal.browser().sign_in("nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    for response in (wrong, unknown):
        assert "Wrong username or password." in response.text
        assert (
            "set-cookie" not in response.headers
            or "licentia_portal=" not in response.headers["set-cookie"]
        )
    assert 'value="nobody"' in unknown.text  # what was typed stays
    entries = await portal.audit("portal.sign_in")
    # An unknown name costs the same audit write (issue #14 timing), naming nobody.
    assert [(e.target, e.result) for e in entries] == [
        ("mara", "INVALID_CREDENTIALS"),
        ("", "INVALID_CREDENTIALS"),
    ]


async def test_lockout_per_name_and_address(portal: Portal, clock: FakeClock) -> None:
    await portal.user("mara")
    browser = portal.browser(ip="198.51.100.7")
    for _ in range(portal_service.LOCK_FAILURES):
        assert (await browser.sign_in("mara", "bad-password")).status_code == 400
    locked = await browser.sign_in("mara")  # the right password no longer helps
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    # The same name from another address is not locked (no lock-out of the real user).
    assert (await portal.browser(ip="198.51.100.8").sign_in("mara")).status_code == 303
    clock.advance(minutes=16)
    assert (await browser.sign_in("mara")).status_code == 303


async def test_lockout_per_address(portal: Portal) -> None:
    await portal.user("mara")
    ip = "198.51.100.9"
    for n in range(portal_service.LOCK_FAILURES_IP):
        response = await portal.browser(ip=ip).sign_in(f"name{n}", "bad-password")
        assert response.status_code == 400
    assert (await portal.browser(ip=ip).sign_in("mara")).status_code == 429


# -- CSRF --------------------------------------------------------------------------------


async def test_posts_without_csrf_are_refused(portal: Portal) -> None:
    await portal.user("mara", sid="SID-A")
    browser = portal.browser()
    # Sign-in: without the double-submit token, or with a token that is not the cookie's.
    assert (
        await browser.post("/signin", {"username": "mara", "password": PASSWORD})
    ).status_code == 403
    await browser.get("/signin")
    forged = await browser.post(
        "/signin", {"csrf_token": "x" * 32, "username": "mara", "password": PASSWORD}
    )
    assert forged.status_code == 403
    browser = await portal.signed_in()
    for data in ({}, {"csrf_token": "wrong-token-wrong-token"}):
        response = await browser.post("/reset", data)
        assert response.status_code == 403
        assert "Request refused" in response.text
    assert (await browser.post("/signout", {})).status_code == 403
    assert (await browser.get()).status_code == 200  # still signed in
    assert await portal.bound() == ["SID-A"]
    assert await portal.resets() == []


# -- resets ------------------------------------------------------------------------------


async def test_reset_removes_bindings_ends_sessions_and_is_audited(portal: Portal) -> None:
    client_session = await portal.user("mara", sid="SID-A")
    browser = await portal.signed_in()
    response = await browser.submit("/reset")
    assert response.status_code == 303
    assert response.headers["location"] == f"/portal/{portal.app_id}?done=reset"
    assert await portal.bound() == []
    ended = await portal.client_session(client_session)
    assert ended.ended_at is not None and ended.end_reason == "hwid_reset"
    resets = await portal.resets()
    assert [(r.identity_kind, r.identity_name) for r in resets] == [("user", "mara")]
    entries = await portal.audit("portal.reset_hwid")
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor_kind, entry.face, entry.actor, entry.target_type, entry.target) == (
        "portal",
        "portal",
        "user:mara",
        "user",
        "mara",
    )
    assert '"bound_devices":[1,0]' in entry.changes
    # The vendor finds it by capability, exactly or by resource.
    owner_id = portal.world.owner_id
    for wanted in ("portal.reset_hwid", "portal"):
        found, _ = await audit.list_entries(portal.rt, owner_id, capability=wanted)
        assert entry.id in [e.id for e in found]
    page = (await browser.get("?done=reset")).text
    assert "Your HWID was reset." in page and "No device is bound." in page
    assert 'id="resets"' in page


async def test_key_holder_resets(portal: Portal) -> None:
    key, _ = await portal.key_holder(sid="SID-K")
    browser = portal.browser()
    assert (await browser.sign_in_key(key)).status_code == 303
    assert (await browser.submit("/reset")).status_code == 303
    assert await portal.bound("license") == []
    lic = await views_licenses.get_license(portal.rt, portal.app_id, key)
    assert lic.hwid == ""
    entries = await portal.audit("portal.reset_hwid")
    assert [(e.target_type, e.target) for e in entries] == [("license", key)]


async def rebind(portal: Portal, sid: str) -> None:
    session = await portal.world.init()
    response = await portal.world.post(
        "login", {"session_id": session, "username": "mara", "password": PASSWORD, "sid": sid}
    )
    assert response.status_code == 200, response.text


async def test_cooldown_refuses_with_the_next_time(portal: Portal, clock: FakeClock) -> None:
    await portal.set(hwid_reset_cooldown=3600, hwid_reset_max_per_30_days=5)
    await portal.user("mara", sid="SID-A")
    browser = await portal.signed_in()
    assert (await browser.submit("/reset")).status_code == 303
    await rebind(portal, "SID-B")
    page = await browser.get()
    assert 'id="reset-hwid"' not in page.text  # no button while cooling down
    next_at = (clock() + timedelta(seconds=3600)).strftime("%Y-%m-%d %H:%M")
    assert f"The next reset is possible from {next_at}" in page.text
    refused = await browser.post("/reset", {"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 429
    assert f"The next reset is possible from {next_at}" in refused.text
    assert await portal.bound() == ["SID-B"]
    assert len(await portal.resets()) == 1
    assert len(await portal.audit("portal.reset_hwid")) == 1
    clock.advance(seconds=3600)
    browser = await portal.signed_in()  # the old session went idle meanwhile
    assert (await browser.submit("/reset")).status_code == 303
    assert await portal.bound() == []


async def test_thirty_day_maximum(portal: Portal, clock: FakeClock) -> None:
    await portal.set(hwid_reset_cooldown=0, hwid_reset_max_per_30_days=2)
    await portal.user("mara", sid="SID-A")
    browser = await portal.signed_in()
    first = clock()
    assert (await browser.submit("/reset")).status_code == 303
    clock.advance(days=1)
    browser = await portal.signed_in()
    assert (await browser.submit("/reset")).status_code == 303
    clock.advance(days=1)
    await rebind(portal, "SID-C")
    browser = await portal.signed_in()
    page = await browser.get()
    assert "You used all 2 HWID resets of the last 30 days." in page.text
    refused = await browser.post("/reset", {"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 429
    expected = (first + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    assert f"The next reset is possible from {expected}" in refused.text
    assert await portal.bound() == ["SID-C"]
    assert len(await portal.resets()) == 2
    clock.advance(days=28)  # the first reset is now 30 days old
    browser = await portal.signed_in()
    assert (await browser.submit("/reset")).status_code == 303
    assert len(await portal.resets()) == 3


async def test_zero_maximum_means_no_self_service_resets(portal: Portal) -> None:
    await portal.set(hwid_reset_max_per_30_days=0)
    await portal.user("mara", sid="SID-A")
    browser = await portal.signed_in()
    page = await browser.get()
    assert "This app does not allow self-service HWID resets." in page.text
    assert (await browser.post("/reset", {"csrf_token": csrf_of(page.text)})).status_code == 429
    assert await portal.bound() == ["SID-A"]


async def test_concurrent_resets_do_not_both_pass(portal: Portal) -> None:
    await portal.set(hwid_reset_cooldown=3600, hwid_reset_max_per_30_days=3)
    await portal.user("mara", sid="SID-A")
    app = await portal_service.portal_app(portal.rt, portal.app_id)
    signed = await portal_service.sign_in_user(portal.rt, app, "mara", PASSWORD, ip="198.51.100.1")
    results = await asyncio.gather(
        *(
            portal_service.reset_hwid(portal.rt, portal.app_id, signed.session, ip="198.51.100.1")
            for _ in range(4)
        ),
        return_exceptions=True,
    )
    done = [r for r in results if isinstance(r, portal_service.ResetDone)]
    refused = [r for r in results if isinstance(r, AdminError)]
    assert len(done) == 1 and len(refused) == 3, results
    assert {r.code for r in refused} == {"HWID_RESET_COOLDOWN"}
    assert len(await portal.resets()) == 1
    assert len(await portal.audit("portal.reset_hwid")) == 1


async def test_concurrent_resets_against_the_maximum(portal: Portal) -> None:
    await portal.set(hwid_reset_cooldown=0, hwid_reset_max_per_30_days=2)
    await portal.user("mara", sid="SID-A")
    browser = await portal.signed_in()
    html = (await browser.get()).text
    token = csrf_of(html)
    responses = await asyncio.gather(
        *(browser.post("/reset", {"csrf_token": token}) for _ in range(4))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [303, 303, 429, 429], codes
    assert len(await portal.resets()) == 2
    assert len(await portal.audit("portal.reset_hwid")) == 2


async def test_banned_user_sees_the_state_and_cannot_reset(portal: Portal) -> None:
    await portal.user("mara", sid="SID-A")
    await admin_identities.ban_user(portal.rt, portal.app_id, "mara", "chargeback")
    browser = await portal.signed_in()  # may sign in to see why
    page = await browser.get()
    assert page.status_code == 200
    assert 'id="state">banned' in page.text and "chargeback" in page.text
    assert 'id="reset-hwid"' not in page.text
    refused = await browser.post("/reset", {"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403
    assert "Your access is banned" in refused.text
    assert await portal.bound() == ["SID-A"]
    assert await portal.resets() == []


async def test_banned_meanwhile_blocks_the_reset(portal: Portal) -> None:
    await portal.user("mara", sid="SID-A")
    browser = await portal.signed_in()
    html = (await browser.get()).text
    await admin_identities.pause_user(portal.rt, portal.app_id, "mara")
    refused = await browser.post("/reset", {"csrf_token": csrf_of(html)})
    assert refused.status_code == 403
    assert "Your access is paused" in refused.text
    assert await portal.bound() == ["SID-A"]


async def test_paused_key_cannot_reset(portal: Portal) -> None:
    key, _ = await portal.key_holder(sid="SID-K")
    await admin_licenses.pause_license(portal.rt, portal.app_id, key)
    browser = portal.browser()
    assert (await browser.sign_in_key(key)).status_code == 303
    page = await browser.get()
    assert 'id="state">paused' in page.text and 'id="reset-hwid"' not in page.text
    assert (await browser.post("/reset", {"csrf_token": csrf_of(page.text)})).status_code == 403
    assert await portal.bound("license") == ["SID-K"]


# -- sessions and passwords --------------------------------------------------------------


async def test_idle_session_ends_and_sign_out(portal: Portal, clock: FakeClock) -> None:
    await portal.user("mara")
    browser = await portal.signed_in()
    clock.advance(minutes=29)
    assert (await browser.get()).status_code == 200
    clock.advance(minutes=31)
    response = await browser.get()
    assert response.status_code == 303
    assert response.headers["location"].endswith("/signin")
    browser = await portal.signed_in()
    signed_out = await browser.submit("/signout")
    assert signed_out.status_code == 303
    assert (await browser.get()).status_code == 303
    async with portal.rt.db.read() as conn:
        left = (
            await conn.execute(
                select(func.count())
                .select_from(portal_sessions)
                .where(portal_sessions.c.app_id == portal.app_id)
            )
        ).scalar_one()
    assert left == 0


async def test_password_change(portal: Portal) -> None:
    client_session = await portal.user("mara")
    browser = await portal.signed_in()
    other = await portal.signed_in()
    wrong = await browser.submit(
        "/password", {"current_password": "nope", "new_password": "brand-new-pw"}
    )
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.text
    done = await browser.submit(
        "/password", {"current_password": PASSWORD, "new_password": "brand-new-pw"}
    )
    assert done.status_code == 303
    assert (await other.get()).status_code == 303  # the other portal session ended
    assert (await portal.client_session(client_session)).ended_at is not None
    assert (await portal.browser().sign_in("mara", "brand-new-pw")).status_code == 303
    assert len(await portal.audit("portal.change_password")) == 1


async def test_password_change_off(portal: Portal) -> None:
    await portal.set(allow_password_change=False)
    await portal.user("mara")
    browser = await portal.signed_in()
    page = await browser.get()
    assert "Change my password" not in page.text
    refused = await browser.post(
        "/password",
        {"csrf_token": csrf_of(page.text), "current_password": PASSWORD, "new_password": "x" * 9},
    )
    assert refused.status_code == 403
    assert (await portal.browser().sign_in("mara")).status_code == 303


async def test_purge(portal: Portal, clock: FakeClock) -> None:
    await portal.user("mara")
    await portal.signed_in()
    ip = "198.51.100.77"
    await portal.browser(ip=ip).sign_in("mara", "bad-password")
    clock.advance(hours=1)
    assert await portal_service.purge(portal.rt) >= 3  # a session, two failure rows
    async with portal.rt.db.read() as conn:
        sessions_left = (
            await conn.execute(
                select(func.count())
                .select_from(portal_sessions)
                .where(portal_sessions.c.app_id == portal.app_id)
            )
        ).scalar_one()
        failures_left = (
            await conn.execute(
                select(func.count())
                .select_from(portal_signin_failures)
                .where(portal_signin_failures.c.subject == ip)
            )
        ).scalar_one()
    assert sessions_left == failures_left == 0


def test_mask_ip() -> None:
    assert portal_service.mask_ip("203.0.113.24") == "203.0.113.*"
    assert portal_service.mask_ip("2001:db8:1:2::5") == "2001:db8:1:*"
    assert portal_service.mask_ip("") == ""
    assert portal_service.mask_ip("garbage") == "*"
