"""The license and user lists for daily support work (#13 items 3, 4, 5, 8): filters, search
fields and sort; confirmation pages and flash messages; bulk user actions with a preview;
CSV import; the theme switch. In-process (httpx ASGITransport), on both databases."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from licentia.services import admin, views_users
from licentia.store.tables import audit_log, bindings, licenses, users
from tests.web.conftest import Browser, Dash, csrf_of


async def _app(dash: Dash) -> str:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, f"L{uuid.uuid4().hex[:6]}")
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    await admin.create_subscription(dash.rt, app.app_id, "Silver", 0)
    return app.app_id


def _keys(html: str) -> list[str]:
    return re.findall(r'<tr data-key="([^"]+)"', html)


def _names(html: str) -> list[str]:
    return re.findall(r'<tr data-username="([^"]+)"', html)


def _flash(html: str) -> str:
    found = re.search(r'id="flash"><p>(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


async def _bind(dash: Dash, app_id: str, kind: str, holder_id: str, sid: str) -> None:
    now = dash.rt.clock()
    async with dash.rt.db.write() as conn:
        await conn.execute(
            bindings.insert().values(
                id=str(uuid.uuid4()), app_id=app_id, holder_kind=kind, holder_id=holder_id,
                sid=sid, sid_norm=sid.lower(), first_seen_at=now, last_seen_at=now,
            )
        )  # fmt: skip


async def test_license_filters_search_fields_and_sort(dash: Dash) -> None:
    app_id = await _app(dash)
    assert dash.owner is not None
    rt, now = dash.rt, dash.rt.clock()
    soon = await admin.add_license(rt, app_id, "AAA-SOON", "Gold", days=30, email="a@x.io")
    later = await admin.add_license(rt, app_id, "BBB-LATER", "Silver", days=30, created_by="cli")
    await admin.add_license(rt, app_id, "CCC-LIFE", "Gold", lifetime=True, created_by="register")
    async with rt.db.write() as conn:
        for key, days, who, ip in (
            ("AAA-SOON", 3, "mara", "198.51.100.7"),
            ("BBB-LATER", 60, "", ""),
        ):
            await conn.execute(
                update(licenses)
                .where(licenses.c.app_id == app_id, licenses.c.key == key)
                .values(status="used", expires_at=now + timedelta(days=days),
                        used_by_username=who or None, last_ip=ip,
                        created_by=f"account:{dash.owner.id}" if key == "AAA-SOON" else "cli")
            )  # fmt: skip
        row = (
            await conn.execute(select(licenses.c.id).where(licenses.c.key == "BBB-LATER"))
        ).scalar_one()
    await _bind(dash, app_id, "license", row, "HW-Later-01")
    assert soon and later
    browser = await dash.signed_in()
    base = f"/apps/{app_id}/licenses"

    async def shown(query: str) -> list[str]:
        page = await browser.get(f"{base}?{query}")
        assert page.status_code == 200, page.text
        return _keys(page.text)

    assert await shown("exp=7") == ["AAA-SOON"]
    assert await shown("sub=Silver") == ["BBB-LATER"]
    assert await shown("by=cli") == ["BBB-LATER"]
    assert await shown(f"by=account:{dash.owner.id}") == ["AAA-SOON"]
    assert await shown("q=hw-later&in=hwid") == ["BBB-LATER"]
    assert await shown("q=198.51&in=ip") == ["AAA-SOON"]
    assert await shown("q=MAR&in=used_by") == ["AAA-SOON"]
    assert await shown("q=a@x&in=email") == ["AAA-SOON"]
    assert await shown("q=CCC") == ["CCC-LIFE"]
    # Sorted by expiry: soonest first, lifetime last; the header link reverses exactly.
    assert await shown("sort=expiry&dir=asc") == ["AAA-SOON", "BBB-LATER", "CCC-LIFE"]
    assert await shown("sort=expiry") == ["CCC-LIFE", "BBB-LATER", "AAA-SOON"]
    assert await shown("sort=key&dir=asc") == ["AAA-SOON", "BBB-LATER", "CCC-LIFE"]
    page = (await browser.get(f"{base}?sort=expiry&dir=asc")).text
    assert 'aria-sort="ascending"' in page and "sort=expiry&amp;dir=desc" in page
    # The used-by column links the user; the creator shows by name.
    assert f"/apps/{app_id}/user/mara" in page and f"{dash.owner.username} (owner)" in page
    # Unknown values fall back to the plain list (never an error page).
    assert sorted(await shown("sort=nope&exp=99&in=zzz")) == ["AAA-SOON", "BBB-LATER", "CCC-LIFE"]
    # The export follows the same filter.
    export = await browser.get(f"{base}/export?exp=7&format=text")
    assert export.text.split() == ["AAA-SOON"]


async def test_sorted_pages_follow_each_other(dash: Dash) -> None:
    app_id = await _app(dash)
    for i in range(55):
        await admin.create_user(dash.rt, app_id, f"pager{i:02d}", "pw-123456", "Gold", days=i + 1)
    browser = await dash.signed_in()
    first = await browser.get(f"/apps/{app_id}/users?sort=username&dir=asc")
    names = _names(first.text)
    assert names == [f"pager{i:02d}" for i in range(50)]
    nxt = re.search(r'class="next" href="/dashboard([^"]+)"', first.text)
    assert nxt is not None
    second = await browser.get(nxt.group(1).replace("&amp;", "&"))
    assert _names(second.text) == [f"pager{i:02d}" for i in range(50, 55)]
    by_expiry = _names((await browser.get(f"/apps/{app_id}/users?sort=expiry")).text)
    assert by_expiry[:2] == ["pager54", "pager53"]
    # A cursor of another sort is refused as a bad request, not a 500.
    bad = await browser.get(
        f"/apps/{app_id}/users?sort=expiry&cursor=" + nxt.group(1).split("cursor=")[1]
    )
    assert bad.status_code == 400


async def test_user_filters_hwid_search_and_columns(dash: Dash) -> None:
    app_id = await _app(dash)
    rt = dash.rt
    await admin.create_user(rt, app_id, "ana", "pw-123456", "Gold", days=5, email="ana@x.io")
    await admin.create_user(rt, app_id, "bo", "pw-123456", "Silver", days=200)
    await admin.create_user(rt, app_id, "cy", "pw-123456", "Gold")
    ana = await views_users.get_user(rt, app_id, "ana")
    await _bind(dash, app_id, "user", ana.id, "MB-ANA-1")
    await _bind(dash, app_id, "user", ana.id, "MB-ANA-2")
    async with rt.db.write() as conn:
        await conn.execute(update(users).where(users.c.id == ana.id).values(last_ip="203.0.113.4"))
    browser = await dash.signed_in()
    base = f"/apps/{app_id}/users"
    assert _names((await browser.get(f"{base}?q=mb-ana&in=hwid")).text) == ["ana"]
    assert _names((await browser.get(f"{base}?q=203.0&in=ip")).text) == ["ana"]
    assert _names((await browser.get(f"{base}?exp=7")).text) == ["ana"]
    assert _names((await browser.get(f"{base}?sub=Gold&sort=username&dir=asc")).text) == [
        "ana",
        "cy",
    ]
    assert sorted(_names((await browser.get(f"{base}?sort=hwids")).text)) == ["ana", "bo", "cy"]
    page = (await browser.get(f"{base}?q=ana")).text
    assert '<td class="num hwids">2 / 1</td>' in page
    csv = (await browser.get(f"{base}/export?sub=Silver")).text
    assert "bo" in csv and "ana" not in csv


async def test_row_delete_and_ban_ask_first_and_flash(dash: Dash) -> None:
    app_id = await _app(dash)
    key = (await admin.generate_licenses(dash.rt, app_id, "Gold", days=30))[0]
    browser = await dash.signed_in()
    listing = (await browser.get(f"/apps/{app_id}/licenses?state=unused")).text
    link = f"/apps/{app_id}/confirm?kind=license&amp;do=delete&amp;name={key}&amp;state=unused"
    assert link in listing
    # Posting the delete without the confirmation changes nothing.
    refused = await browser.post(
        f"/apps/{app_id}/licenses/{key}/delete", {"csrf_token": csrf_of(listing)}
    )
    assert refused.status_code == 400
    assert key in _keys((await browser.get(f"/apps/{app_id}/licenses")).text)
    confirm = await browser.get(link.replace("&amp;", "&"))
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    form = re.search(
        r'<form method="post" action="/dashboard([^"]+)" id="confirm-form">', confirm.text
    )
    assert form is not None
    done = await browser.post(
        form.group(1), {"csrf_token": csrf_of(confirm.text), "confirm": "yes", "state": "unused"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/dashboard/apps/{app_id}/licenses?state=unused"
    after = (await browser.get(f"/apps/{app_id}/licenses?state=unused")).text
    assert _flash(after) == f"Deleted license {key}." and key not in _keys(after)
    assert _flash((await browser.get(f"/apps/{app_id}/licenses")).text) == ""  # shown once

    # A ban from the row asks for the reason, stores it and says what changed.
    await admin.create_user(dash.rt, app_id, "rowban", "pw-123456", "Gold", days=3)
    ban = await browser.get(f"/apps/{app_id}/confirm?kind=user&do=ban&name=rowban")
    assert 'name="reason"' in ban.text
    banned = await browser.post(
        f"/apps/{app_id}/users/rowban/ban",
        {"csrf_token": csrf_of(ban.text), "confirm": "yes", "reason": "chargeback"},
    )
    assert banned.status_code == 303
    flash = _flash((await browser.get(f"/apps/{app_id}/users")).text)
    assert flash.startswith("Banned user rowban: banned: no → yes") and "chargeback" in flash
    assert (await views_users.get_user(dash.rt, app_id, "rowban")).ban_reason == "chargeback"
    unknown = await browser.get(f"/apps/{app_id}/confirm?kind=user&do=explode&name=rowban")
    assert unknown.status_code == 404


async def _audit_targets(dash: Dash, capability: str, app_id: str) -> list[tuple[str, Any]]:
    async with dash.rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.target, audit_log.c.changes).where(
                    audit_log.c.app_id == app_id, audit_log.c.capability == capability
                )
            )
        ).all()
    return sorted((r.target, r.changes) for r in rows)


async def test_bulk_user_actions_preview_then_one_transaction(dash: Dash) -> None:
    app_id = await _app(dash)
    rt = dash.rt
    for name, sub, days in (
        ("g1", "Gold", 10),
        ("g2", "Gold", 20),
        ("g3", "Gold", None),
        ("s1", "Silver", 5),
    ):
        await admin.create_user(rt, app_id, name, "pw-123456", sub, days=days)
    before = {
        u: (await views_users.get_user(rt, app_id, u)).expiry_date for u in ("g1", "g2", "s1")
    }
    browser = await dash.signed_in()
    page = (await browser.get(f"/apps/{app_id}/users?sub=Gold")).text
    token = csrf_of(page)
    extend = {"csrf_token": token, "do": "extend", "scope": "matching", "sub": "Gold", "days": "7"}
    preview = await browser.post(f"/apps/{app_id}/users/bulk", extend)
    assert preview.status_code == 200
    assert (
        'id="bulk-count">2<' in preview.text
        and "1 would stay as they are (lifetime)" in preview.text
    )
    assert (await views_users.get_user(rt, app_id, "g1")).expiry_date == before["g1"]  # not yet
    done = await browser.post(f"/apps/{app_id}/users/bulk", {**extend, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("/users?sub=Gold")
    flash = _flash((await browser.get(f"/apps/{app_id}/users")).text)
    assert flash == "Extended 2 users by 7 days; 1 left as they were."
    for name in ("g1", "g2"):
        got = (await views_users.get_user(rt, app_id, name)).expiry_date
        assert got == before[name] + timedelta(days=7)
    assert (await views_users.get_user(rt, app_id, "s1")).expiry_date == before["s1"]
    entries = await _audit_targets(dash, "user.extend", app_id)
    assert [t for t, _ in entries] == ["g1", "g2"] and all("bulk" in c for _, c in entries)

    # A ticked selection: ban two with a reason (preview first), then delete with one unknown
    # name in the selection: everything rolls back.
    ban = {"csrf_token": token, "do": "ban"}
    preview = await browser.http.post(
        f"/dashboard/apps/{app_id}/users/bulk", data={**ban, "name": ["g1", "s1"]}
    )
    assert 'id="bulk-count">2<' in preview.text and 'name="reason"' in preview.text
    await browser.http.post(
        f"/dashboard/apps/{app_id}/users/bulk",
        data={**ban, "name": ["g1", "s1"], "confirm": "yes", "reason": "fraud"},
    )
    for name in ("g1", "s1"):
        user = await views_users.get_user(rt, app_id, name)
        assert user.banned and user.ban_reason == "fraud"
    gone = await browser.http.post(
        f"/dashboard/apps/{app_id}/users/bulk",
        data={"csrf_token": token, "do": "delete", "name": ["g2", "nobody"], "confirm": "yes"},
    )
    assert gone.status_code == 303
    assert _flash((await browser.get(f"/apps/{app_id}/users")).text).startswith(
        "Nothing was changed"
    )
    assert (await views_users.get_user(rt, app_id, "g2")).username == "g2"
    assert await _audit_targets(dash, "user.delete", app_id) == []
    # Bad input: no days, nothing ticked.
    bad = await browser.post(f"/apps/{app_id}/users/bulk", {**extend, "days": "x"})
    assert bad.status_code == 400 and 'id="e-extend"' in bad.text
    none = await browser.post(f"/apps/{app_id}/users/bulk", {"csrf_token": token, "do": "unban"})
    assert none.status_code == 303


async def test_csv_import_from_the_dashboard(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = (await browser.get(f"/apps/{app_id}/licenses")).text
    token = csrf_of(page)
    good = "key,subscription,duration_days,note\nIMP-1,Gold,30,a\nIMP-2,Silver,,b\n"
    done = await browser.http.post(
        f"/dashboard/apps/{app_id}/licenses/import",
        data={"csrf_token": token},
        files={"csv": ("keys.csv", good.encode(), "text/csv")},
    )
    assert done.status_code == 303
    listing = (await browser.get(f"/apps/{app_id}/licenses")).text
    assert _flash(listing).startswith("Imported 2 licenses as unused keys")
    assert sorted(_keys(listing)) == ["IMP-1", "IMP-2"]
    bad = await browser.http.post(
        f"/dashboard/apps/{app_id}/licenses/import",
        data={"csrf_token": token},
        files={"csv": ("keys.csv", b"key,subscription\nIMP-3,Gold\nIMP-1,Nope\n", "text/csv")},
    )
    assert bad.status_code == 400 and 'id="e-import"' in bad.text and "line 3" in bad.text
    assert sorted(_keys(bad.text)) == ["IMP-1", "IMP-2"]  # all rows or none
    users_csv = "username,subscription,password,email\nimp_a,Gold,pw-123456,a@x.io\n"
    made = await browser.http.post(
        f"/dashboard/apps/{app_id}/users/import",
        data={"csrf_token": token},
        files={"csv": ("users.csv", users_csv.encode(), "text/csv")},
    )
    assert made.status_code == 303
    assert (await views_users.get_user(dash.rt, app_id, "imp_a")).email == "a@x.io"
    assert [t for t, _ in await _audit_targets(dash, "user.import", app_id)] == [
        "import of 1 users"
    ]
    empty = await browser.http.post(
        f"/dashboard/apps/{app_id}/users/import", data={"csrf_token": token}
    )
    assert empty.status_code == 400 and "choose a CSV file" in empty.text


async def test_theme_switch_sticks_and_back_stays_inside(dash: Dash) -> None:
    browser: Browser = await dash.signed_in()
    page = (await browser.get("/apps")).text
    assert "data-theme" not in page.split(">", 2)[1]
    assert 'name="back" value="/apps"' in page
    set_dark = await browser.post("/theme", {"theme": "dark", "back": "/apps"})
    assert set_dark.status_code == 303 and set_dark.headers["location"] == "/dashboard/apps"
    assert '<html lang="en" data-theme="dark">' in (await browser.get("/apps")).text
    outside = await browser.post("/theme", {"theme": "light", "back": "//evil.example/"})
    assert outside.headers["location"] == "/dashboard/apps"
    assert '<html lang="en" data-theme="light">' in (await browser.get("/apps")).text
    await browser.post("/theme", {"theme": "bogus", "back": "/apps"})
    assert 'data-theme="light"' in (await browser.get("/apps")).text
    await browser.post("/theme", {"theme": "auto", "back": "/apps"})
    assert "data-theme" not in (await browser.get("/apps")).text.split(">", 2)[1]


async def test_a_forged_or_broken_flash_cookie_is_no_message(dash: Dash) -> None:
    browser = await dash.signed_in()
    for value in ("%%%", "bm90IGpzb24", "WzEsMl0", "x" * 3000):
        browser.http.cookies.set(
            "licentia_dash_flash", value, domain="testserver.local", path="/dashboard"
        )
        page = await browser.get("/apps")
        assert page.status_code == 200 and 'id="flash"' not in page.text
    # The control: a well-formed value is shown (escaped) once, so the cookie did arrive.
    good = base64.urlsafe_b64encode(b'["<b>hi</b>",false]').decode().rstrip("=")
    browser.http.cookies.set(
        "licentia_dash_flash", good, domain="testserver.local", path="/dashboard"
    )
    assert _flash((await browser.get("/apps")).text) == "&lt;b&gt;hi&lt;/b&gt;"
