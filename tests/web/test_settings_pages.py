"""App settings pages: general settings and lifecycle, subscriptions, variables, versions,
hashes, network and SID rules, custom responses."""

from __future__ import annotations

import html
import json
import secrets
from typing import Any

import pytest
from sqlalchemy import update

from licentia.services import admin, admin_apps, admin_staff
from licentia.store.tables import accounts
from licentia.web import routes_settings
from tests.web.conftest import PASSWORD, Browser, Dash

HASH = "ab" * 32


async def _app(dash: Dash, name: str = "Configured") -> str:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, name)
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    return app.app_id


async def _staff(dash: Dash, permissions: list[str]) -> Browser:
    """A signed-in staff member whose role grants `permissions` on every app."""
    assert dash.owner is not None
    role = await admin_staff.create_role(
        dash.rt, dash.owner.owner_id, f"settings-{secrets.token_hex(3)}", permissions, None
    )
    member = await dash.new_owner("staff")
    async with dash.rt.db.write() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == member.id).values(owner_id=None))
    await admin_staff.add_staff(
        dash.rt, dash.owner.owner_id, type="existing", role_id=role.id, public_id=member.public_id
    )
    browser = dash.browser()
    assert (await browser.sign_in(member.username, PASSWORD)).status_code == 303
    return browser


async def _entries(dash: Dash, capability: str) -> list[Any]:
    assert dash.owner is not None
    entries = await dash.audit(capability, dash.owner.id)
    assert all(e.face == "dashboard" for e in entries)
    return entries


def _changes(entry: Any) -> dict[str, Any]:
    value = entry.changes
    return dict(json.loads(value) if isinstance(value, str) else value)


def _text(response: Any) -> str:
    return html.unescape(response.text)


# -- the form is generated from the service's definitions --------------------------------


def test_general_form_follows_the_setting_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {f.name for _, group in routes_settings.setting_fields() for f in group}
    assert names == set(admin_apps.APP_SETTINGS) - set(routes_settings.ELSEWHERE)
    # A setting added to the service appears in the form, typed and limited as validated.
    monkeypatch.setattr(admin_apps, "APP_SETTINGS", (*admin_apps.APP_SETTINGS, "portal_x"))
    monkeypatch.setattr(admin_apps, "INT_SETTINGS", {**admin_apps.INT_SETTINGS, "portal_x": (2, 9)})
    fields = {f.name: (g, f) for g, group in routes_settings.setting_fields() for f in group}
    group, extra = fields["portal_x"]
    assert group == "Other" and extra.kind == "int" and (extra.low, extra.high) == (2, 9)
    assert extra.label == "Portal x"
    assert fields["session_idle_timeout"][1].unit == "seconds"


# -- pages -------------------------------------------------------------------------------


async def test_every_settings_page_renders(dash: Dash) -> None:
    app_id = await _app(dash)
    rt = dash.rt
    await admin.set_variable(rt, app_id, "motd", "hello")
    await admin.add_version_rule(rt, app_id, "1.0.0", "block")
    await admin.add_allowed_hash(rt, app_id, HASH, "v1")
    await admin.add_ip_rule(rt, app_id, "203.0.113.0/24", "deny", "office")
    browser = await dash.signed_in()
    base = f"/apps/{app_id}/settings"
    expected = {
        "": ["Idle timeout", "session_max_lifetime", "HWID lock", "Danger zone", "Enabled"],
        "/subscriptions": ["Gold", "New subscription"],
        "/variables": ["motd", "hello"],
        "/versions": ["1.0.0", "Test a version", "Version control"],
        "/hashes": [HASH, "Register a hash"],
        "/network": ["203.0.113.0/24", "VPN block", "Bulk import"],
        "/responses": ["INVALID_PASSWORD", "Reset every message"],
    }
    for path, needles in expected.items():
        page = await browser.get(base + path)
        assert page.status_code == 200, (path, page.text[:500])
        assert '<a href="/dashboard/apps/' + app_id + '/settings" aria-current="page">' in (
            page.text
        )
        assert "style=" not in page.text and "<script>" not in page.text
        for needle in needles:
            assert needle in _text(page), (path, needle)
    # Unknown sections are 404 pages.
    assert (await browser.get(base + "/nothing")).status_code == 404
    assert (await browser.get(base + "/general/extra")).status_code == 404


async def test_foreign_app_unknown_app_and_csrf(dash: Dash) -> None:
    other = await dash.new_owner("other")
    foreign = await admin.create_app(dash.rt, other.owner_id, "Foreign")
    browser = await dash.signed_in()
    for path in ("", "/subscriptions", "/variables", "/versions", "/hashes", "/network"):
        assert (await browser.get(f"/apps/{foreign.app_id}/settings{path}")).status_code == 404
    assert (await browser.get("/apps/nope/settings/responses")).status_code == 404
    own = await _app(dash)
    refused = await browser.submit(
        f"/apps/{own}/settings", f"/apps/{foreign.app_id}/settings/disable", {}
    )
    assert refused.status_code == 404
    assert (await admin.get_app_settings(dash.rt, foreign.app_id))["is_enabled"] is True
    # Without the CSRF token: 403, nothing changes.
    no_token = await browser.post(f"/apps/{own}/settings/disable", {})
    assert no_token.status_code == 403
    assert (await admin.get_app_settings(dash.rt, own))["is_enabled"] is True


async def test_staff_need_the_capability(dash: Dash) -> None:
    app_id = await _app(dash)
    staff = await _staff(dash, ["app.info", "subscription.list"])
    page = await staff.get(f"/apps/{app_id}/settings")
    assert page.status_code == 200
    assert "Save settings" not in page.text and "Danger zone" not in page.text
    assert "Subscriptions" in page.text and "/settings/variables" not in page.text
    subs = await staff.get(f"/apps/{app_id}/settings/subscriptions")
    assert subs.status_code == 200 and "New subscription" not in subs.text
    for path in ("/variables", "/versions", "/hashes", "/network", "/responses"):
        assert (await staff.get(f"/apps/{app_id}/settings{path}")).status_code == 403
    for action, data in (
        ("", {"session_idle_timeout": "60"}),
        ("/disable", {}),
        ("/delete", {"confirm": "Configured"}),
        ("/subscriptions/create", {"name": "Silver"}),
    ):
        refused = await staff.submit(
            f"/apps/{app_id}/settings", f"/apps/{app_id}/settings{action}", data
        )
        assert refused.status_code == 403, action
    settings = await admin.get_app_settings(dash.rt, app_id)
    assert settings["is_enabled"] is True and settings["session_idle_timeout"] == 3600
    assert await admin.get_subscription(dash.rt, app_id, "Silver") is None
    # Without app.info the Settings tab opens the first section the role may read.
    lister = await _staff(dash, ["variable.list"])
    landed = await lister.get(f"/apps/{app_id}/settings")
    assert landed.status_code == 303
    assert landed.headers["location"].endswith(f"/apps/{app_id}/settings/variables")
    # A version test needs version.test besides version.list.
    tester = await _staff(dash, ["version.list"])
    assert (await tester.get(f"/apps/{app_id}/settings/versions")).status_code == 200
    assert (await tester.get(f"/apps/{app_id}/settings/versions?test=1.0")).status_code == 403


# -- general -----------------------------------------------------------------------------


async def test_general_settings_save_and_refuse(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings"
    before = await admin.get_app_settings(dash.rt, app_id)
    form = {
        "session_idle_timeout": "120",
        "session_max_lifetime": str(before["session_max_lifetime"]),
        "hwid_reset_cooldown": str(before["hwid_reset_cooldown"]),
        "hwid_reset_max_per_30_days": "3",
        "log_retention_days": "90",
        "url_prefix": "",
        "allow_password_change": "on",
        # hwid_lock left unchecked: turned off
    }
    # Every field of the page says it is there; a field missing (a page older than the
    # setting) is left as it is.
    form.update({f"has_{name}": "1" for name in [*form, "hwid_lock"]})
    saved = await browser.submit(page, page, form)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?ok=saved")
    after = await admin.get_app_settings(dash.rt, app_id)
    assert after["session_idle_timeout"] == 120 and after["hwid_lock"] is False
    [entry] = await _entries(dash, "app.edit")
    assert _changes(entry) == {"session_idle_timeout": [3600, 120], "hwid_lock": [True, False]}
    assert "Saved." in (await browser.get(page + "?ok=saved")).text

    # A refused value: the message next to its field, typed values kept, nothing saved.
    bad = await browser.submit(
        page, page, {**form, "session_idle_timeout": "0", "hwid_lock": "on", "url_prefix": "x"}
    )
    assert bad.status_code == 400
    assert 'id="e-session_idle_timeout"' in bad.text and "between 1 and" in bad.text
    assert 'name="session_idle_timeout" type="text" value="0"' in bad.text
    assert (await admin.get_app_settings(dash.rt, app_id)) == after
    assert len(await _entries(dash, "app.edit")) == 1
    junk = await browser.submit(page, page, {**form, "log_retention_days": "many"})
    assert junk.status_code == 400 and "must be an integer" in junk.text

    # A form without the field markers changes nothing.
    stale = await browser.submit(page, page, {"session_idle_timeout": "5"})
    assert stale.headers["location"].endswith("?ok=nochange")

    # Nothing changed: no entry.
    same = await browser.submit(page, page, form)
    assert same.headers["location"].endswith("?ok=nochange")
    assert len(await _entries(dash, "app.edit")) == 1


async def test_enable_rename_secret_and_delete(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings"
    assert (await browser.submit(page, page + "/disable", {})).status_code == 303
    assert (await admin.get_app_settings(dash.rt, app_id))["is_enabled"] is False
    assert "Disabled" in (await browser.get(page)).text
    await browser.submit(page, page + "/disable", {})  # a repeat leaves no entry
    assert len(await _entries(dash, "app.disable")) == 1
    await browser.submit(page, page + "/enable", {})
    [enabled] = await _entries(dash, "app.enable")
    assert _changes(enabled) == {"is_enabled": [False, True]}

    renamed = await browser.submit(page, page + "/rename", {"name": "Renamed"})
    assert renamed.status_code == 200 and "deployed clients still send" in _text(renamed)
    assert (await admin.get_app(dash.rt, app_id)).app_name == "Renamed"
    [entry] = await _entries(dash, "app.rename")
    assert _changes(entry) == {"name": ["Configured", "Renamed"]}
    await _app(dash, "Taken")
    taken = await browser.submit(page, page + "/rename", {"name": "Taken"})
    assert taken.status_code == 400 and 'id="e-name"' in taken.text
    assert 'value="Taken"' in taken.text
    assert (await admin.get_app(dash.rt, app_id)).app_name == "Renamed"

    old = await admin.get_app_secret(dash.rt, app_id)
    fresh = await browser.submit(page, page + "/regenerate-secret", {})
    new = await admin.get_app_secret(dash.rt, app_id)
    assert fresh.status_code == 200 and new != old and new in fresh.text
    assert new not in (await browser.get(page)).text  # shown once
    assert len(await _entries(dash, "app.regenerate_secret")) == 1

    wrong = await browser.submit(page, page + "/delete", {"confirm": "renamed"})
    assert wrong.status_code == 400 and 'id="e-confirm"' in wrong.text
    assert (await admin.get_app(dash.rt, app_id)).app_name == "Renamed"
    gone = await browser.submit(page, page + "/delete", {"confirm": "Renamed"})
    assert gone.status_code == 303 and gone.headers["location"] == "/dashboard/apps"
    assert (await browser.get(page)).status_code == 404
    [deleted] = await _entries(dash, "app.delete")
    assert _changes(deleted) == {"name": ["Renamed", None]}


# -- subscriptions -----------------------------------------------------------------------


async def test_subscriptions(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings/subscriptions"
    made = await browser.submit(page, page + "/create", {"name": "Silver", "level": "2"})
    assert made.status_code == 303
    assert (await admin.get_subscription(dash.rt, app_id, "Silver")).level == 2  # type: ignore[union-attr]
    [entry] = await _entries(dash, "subscription.create")
    assert _changes(entry) == {"name": [None, "Silver"], "level": [None, 2]}
    duplicate = await browser.submit(page, page + "/create", {"name": "silver", "level": "x"})
    assert duplicate.status_code == 400 and 'id="e-level"' in duplicate.text
    assert 'value="silver"' in duplicate.text

    edited = await browser.submit(
        page, page + "/edit", {"name": "Silver", "new_name": "Platinum", "level": "5"}
    )
    assert edited.status_code == 303
    assert (await admin.get_subscription(dash.rt, app_id, "Platinum")).level == 5  # type: ignore[union-attr]
    [edit] = await _entries(dash, "subscription.edit")
    assert _changes(edit) == {"name": ["Silver", "Platinum"], "level": [2, 5]}
    clash = await browser.submit(
        page, page + "/edit", {"name": "Platinum", "new_name": "Gold", "level": "5"}
    )
    assert clash.status_code == 400 and "already has a subscription" in _text(clash)

    await admin.create_user(dash.rt, app_id, "mara", "pw-123456", "Gold", days=30)
    in_use = await browser.submit(page, page + "/delete", {"name": "Gold", "reassign_to": ""})
    assert in_use.status_code == 400 and "give reassign_to" in in_use.text
    assert await admin.get_subscription(dash.rt, app_id, "Gold") is not None
    missing = await browser.submit(page, page + "/delete", {"name": "Gold", "reassign_to": "Nope"})
    assert missing.status_code == 400 and "no subscription named" in _text(missing)
    moved = await browser.submit(
        page, page + "/delete", {"name": "Gold", "reassign_to": "Platinum"}
    )
    assert moved.status_code == 303
    assert await admin.get_subscription(dash.rt, app_id, "Gold") is None
    [deleted] = await _entries(dash, "subscription.delete")
    assert _changes(deleted)["reassigned_to"] == [None, "Platinum"]
    assert _changes(deleted)["moved"] == [None, 1]
    unknown = await browser.submit(page, page + "/delete", {"name": "Ghost"})
    assert unknown.status_code == 404


# -- variables ---------------------------------------------------------------------------


async def test_variables(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings/variables"
    made = await browser.submit(
        page, page + "/set", {"key": "motd", "value": "hi", "writable": "on"}
    )
    assert made.status_code == 303 and made.headers["location"].endswith("ok=created")
    var = await admin.get_variable(dash.rt, app_id, "motd")
    assert (var.value, var.writable, var.auth_required) == ("hi", True, False)
    updated = await browser.submit(
        page, page + "/set", {"key": "motd", "value": "hello", "auth_required": "on"}
    )
    assert updated.headers["location"].endswith("ok=updated")
    var = await admin.get_variable(dash.rt, app_id, "motd")
    assert (var.value, var.writable, var.auth_required) == ("hello", False, True)
    entries = await _entries(dash, "variable.set")
    assert _changes(entries[1]) == {
        "value": ["hi", "hello"],
        "writable": [True, False],
        "auth_required": [False, True],
    }
    edit = await browser.get(page + "?edit=motd")
    assert "hello</textarea>" in edit.text
    bad = await browser.submit(page, page + "/set", {"key": "bad key!", "value": "kept"})
    assert bad.status_code == 400 and 'id="e-key"' in bad.text and "kept</textarea>" in bad.text
    assert len(await admin.list_variables(dash.rt, app_id)) == 1
    assert "motd" not in (await browser.get(page + "?q=zzz")).text.split("<tbody>")[1]
    deleted = await browser.submit(page, page + "/delete", {"key": "motd"})
    assert deleted.status_code == 303 and await admin.list_variables(dash.rt, app_id) == []
    assert len(await _entries(dash, "variable.delete")) == 1
    assert (await browser.submit(page, page + "/delete", {"key": "motd"})).status_code == 404


# -- versions ----------------------------------------------------------------------------


async def test_versions(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings/versions"
    settings = {
        "latest_version": "2.0.0",
        "download_url": "https://example.com/app",
        "reminder_message": "",
        "changelog": "",
    }
    saved = await browser.submit(page, page + "/settings", settings)
    assert saved.status_code == 303
    current = await admin.get_version_settings(dash.rt, app_id)
    assert current["latest_version"] == "2.0.0"
    [entry] = await _entries(dash, "version.settings")
    assert _changes(entry)["latest_version"] == ["", "2.0.0"]
    too_long = await browser.submit(
        page, page + "/settings", {**settings, "latest_version": "9" * 40}
    )
    assert too_long.status_code == 400 and "9" * 40 in too_long.text
    assert (await admin.get_version_settings(dash.rt, app_id)) == current

    grace = await browser.submit(page, page + "/add", {"version": "1.5.0", "mode": "grace"})
    assert grace.status_code == 400 and "needs allowed_until" in grace.text
    assert 'value="1.5.0"' in grace.text
    bad_date = await browser.submit(
        page, page + "/add", {"version": "1.5.0", "mode": "grace", "allowed_until": "soon"}
    )
    assert bad_date.status_code == 400 and 'id="e-allowed_until"' in bad_date.text
    added = await browser.submit(page, page + "/add", {"version": "1.0.0", "mode": "block"})
    assert added.status_code == 303
    assert [r.mode for r in await admin.list_version_rules(dash.rt, app_id)] == ["block"]
    assert len(await _entries(dash, "version.add")) == 1
    again = await browser.submit(page, page + "/add", {"version": "1.0", "mode": "allow"})
    assert again.status_code == 400 and "already exists" in again.text

    tested = await browser.get(page + "?test=1.0.0")
    assert tested.status_code == 200 and "UPDATE_REQUIRED" in tested.text
    invalid = await browser.get(page + "?test=")
    assert invalid.status_code == 400 and 'id="e-test"' in invalid.text

    edited = await browser.submit(
        page,
        page + "/edit",
        {"version": "1.0.0", "mode": "grace", "allowed_until": "2099-01-01T12:00", "note": "n"},
    )
    assert edited.status_code == 303
    [rule] = await admin.list_version_rules(dash.rt, app_id)
    assert rule.mode == "grace" and rule.allowed_until is not None
    assert rule.allowed_until.year == 2099 and rule.note == "n"
    [edit] = await _entries(dash, "version.edit")
    assert _changes(edit)["mode"] == ["block", "grace"]
    missing = await browser.submit(
        page, page + "/edit", {"version": "1.0.0", "mode": "grace", "allowed_until": ""}
    )
    assert missing.status_code == 200 or missing.status_code == 303  # keeps the stored end
    removed = await browser.submit(page, page + "/remove", {"version": "1.0.0"})
    assert removed.status_code == 303 and await admin.list_version_rules(dash.rt, app_id) == []
    assert len(await _entries(dash, "version.remove")) == 1
    assert (await browser.submit(page, page + "/remove", {"version": "1.0.0"})).status_code == 404


# -- hashes ------------------------------------------------------------------------------


async def test_hashes(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings/hashes"
    bad = await browser.submit(page, page + "/register", {"hash": "xyz", "note": "kept"})
    assert bad.status_code == 400 and 'id="e-hash"' in bad.text and 'value="kept"' in bad.text
    added = await browser.submit(page, page + "/register", {"hash": HASH.upper(), "note": "v1"})
    assert added.status_code == 303
    check, items = await admin.list_allowed_hashes(dash.rt, app_id)
    assert check is False and [h.hash for h in items] == [HASH]
    assert len(await _entries(dash, "hash.register")) == 1
    await browser.submit(page, page + "/enable", {})
    assert (await admin.list_allowed_hashes(dash.rt, app_id))[0] is True
    [on] = await _entries(dash, "hash.enable")
    assert _changes(on) == {"hash_check": [False, True]}
    assert "hash check off" in (await browser.get(page)).text
    removed = await browser.submit(page, page + "/remove", {"hash": HASH})
    assert removed.status_code == 303
    assert (await admin.list_allowed_hashes(dash.rt, app_id))[1] == []
    assert len(await _entries(dash, "hash.remove")) == 1
    assert (await browser.submit(page, page + "/remove", {"hash": HASH})).status_code == 404
    await browser.submit(page, page + "/disable", {})
    assert (await admin.list_allowed_hashes(dash.rt, app_id))[0] is False


# -- network and SID rules ---------------------------------------------------------------


async def test_network_rules(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings/network"
    added = await browser.submit(
        page, page + "/add", {"kind": "ip", "list": "deny", "value": "203.0.113.0/24", "note": "x"}
    )
    assert added.status_code == 303
    repeat = await browser.submit(
        page, page + "/add", {"kind": "ip", "list": "deny", "value": "203.0.113.0/24"}
    )
    assert repeat.headers["location"].endswith("ok=exists")
    assert len(await _entries(dash, "rule.add")) == 1
    bad = await browser.submit(
        page, page + "/add", {"kind": "ip", "list": "deny", "value": "1.2.3"}
    )
    assert bad.status_code == 400 and 'id="e-value"' in bad.text and 'value="1.2.3"' in bad.text

    refused = await browser.submit(
        page, page + "/import", {"entries": "sid deny HW-1\n\nip allow 10.0.0.1\nip deny nope"}
    )
    assert refused.status_code == 400 and "line 4:" in refused.text
    assert "nothing was imported" in refused.text
    assert len(await admin.list_rules(dash.rt, app_id)) == 1
    imported = await browser.submit(
        page, page + "/import", {"entries": "# comment\nsid deny HW-1 cheater\nip allow 10.0.0.1"}
    )
    assert imported.status_code == 200 and "2 added, 0 already present" in imported.text
    assert len(await admin.list_rules(dash.rt, app_id)) == 3
    assert len(await _entries(dash, "rule.import")) == 1
    short = await browser.submit(page, page + "/import", {"entries": "ip 1.2.3.4"})
    assert short.status_code == 400 and "line 1" in short.text

    await browser.submit(page, page + "/vpn", {"enabled": "on"})
    assert (await admin.get_app_settings(dash.rt, app_id))["vpn_block"] is True
    assert len(await _entries(dash, "rule.set_vpn_block")) == 1
    countries = await browser.submit(page, page + "/countries", {"countries": "kp, ru"})
    assert countries.status_code == 303
    assert (await admin.get_app_settings(dash.rt, app_id))["blocked_countries"] == "KP,RU"
    [entry] = await _entries(dash, "rule.set_countries")
    assert _changes(entry) == {"blocked_countries": [[], ["KP", "RU"]]}
    wrong = await browser.submit(page, page + "/countries", {"countries": "KP, Narnia"})
    assert wrong.status_code == 400 and 'id="e-countries"' in wrong.text
    assert (await admin.get_app_settings(dash.rt, app_id))["blocked_countries"] == "KP,RU"

    blocked = await browser.get(page + "?check_ip=203.0.113.9&check_sid=")
    assert blocked.status_code == 200 and "Refused" in blocked.text
    by_sid = await browser.get(page + "?check_ip=&check_sid=HW-1")
    assert "Refused" in by_sid.text
    # 10.0.0.1 is allow-listed: it skips the country check.
    fine = await browser.get(page + "?check_ip=10.0.0.1&check_country=KP")
    assert "Allowed" in fine.text
    outside = await browser.get(page + "?check_ip=198.51.100.1&check_country=DE")
    assert "IP_BLOCKED" in outside.text
    nonsense = await browser.get(page + "?check_ip=not-an-ip")
    assert nonsense.status_code == 400 and "is not an IP address" in _text(nonsense)

    filtered = (await browser.get(page + "?kind=sid")).text.split('id="rules"')[1]
    assert "HW-1" in filtered and "203.0.113.0/24" not in filtered
    removed = await browser.submit(
        page, page + "/remove", {"kind": "ip", "list": "deny", "value": "203.0.113.0/24"}
    )
    assert removed.status_code == 303 and len(await admin.list_rules(dash.rt, app_id)) == 2
    assert len(await _entries(dash, "rule.remove")) == 1
    gone = await browser.submit(
        page, page + "/remove", {"kind": "ip", "list": "deny", "value": "203.0.113.0/24"}
    )
    assert gone.status_code == 404


# -- responses ---------------------------------------------------------------------------


async def test_responses(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/settings/responses"
    listing = await browser.get(page + "?category=Auth")
    assert listing.status_code == 200 and "INVALID_PASSWORD" in listing.text
    code = "INVALID_PASSWORD"
    set_ = await browser.submit(page, page + "/set", {"code": code, "message": "Nope, sorry"})
    assert set_.status_code == 303
    assert (await admin.get_custom_message(dash.rt, app_id, code)).message == "Nope, sorry"
    [entry] = await _entries(dash, "response.set")
    assert _changes(entry)["message"][1] == "Nope, sorry"
    too_long = await browser.submit(page, page + "/set", {"code": code, "message": "x" * 201})
    assert too_long.status_code == 400 and "x" * 201 + "</textarea>" in too_long.text
    assert (await admin.get_custom_message(dash.rt, app_id, code)).message == "Nope, sorry"
    assert (
        await browser.submit(page, page + "/set", {"code": "OK", "message": "x"})
    ).status_code == 404
    reset = await browser.submit(page, page + "/reset", {"code": code})
    assert reset.status_code == 303
    assert (await admin.get_custom_message(dash.rt, app_id, code)).is_default
    assert len(await _entries(dash, "response.reset")) == 1
    await browser.submit(page, page + "/set", {"code": code, "message": "Again"})
    await browser.submit(page, page + "/set", {"code": "APP_DISABLED", "message": "Closed"})
    all_reset = await browser.submit(page, page + "/reset-all", {"category": "Auth"})
    assert all_reset.status_code == 303 and "category=Auth" in all_reset.headers["location"]
    assert all(m.is_default for m in await admin.list_custom_messages(dash.rt, app_id))
    [entry] = await _entries(dash, "response.reset_all")
    assert _changes(entry) == {"overrides": [2, 0]}
