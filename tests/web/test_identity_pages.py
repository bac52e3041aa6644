"""Dashboard pages of one app's identities: licenses (detail, bulk, export, large generation),
users (create, detail, bound devices, sessions), hardware devices and client sessions."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from licentia.services import admin, admin_staff, views_licenses, views_users
from licentia.store.tables import accounts, bindings, license_batches, licenses, sessions
from tests.web.conftest import PASSWORD, Browser, Dash, csrf_of


async def _app(dash: Dash, name: str = "Shop") -> str:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, name)
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    await admin.create_subscription(dash.rt, app.app_id, "Silver", 0)
    return app.app_id


async def _entries(dash: Dash, capability: str) -> list[Any]:
    assert dash.owner is not None
    return [e for e in await dash.audit(capability, dash.owner.id) if e.face == "dashboard"]


async def _staff(dash: Dash, permissions: list[str]) -> Browser:
    assert dash.owner is not None
    role = await admin_staff.create_role(
        dash.rt, dash.owner.owner_id, f"r{secrets.token_hex(3)}", permissions, None
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


async def _live_session(
    dash: Dash, app_id: str, kind: str, identity_id: str, *, sid: str = "SID-1"
) -> str:
    """A live client session row; returns its full id (the page shows the first 8)."""
    session_id = secrets.token_hex(32)
    now = dash.rt.clock()
    async with dash.rt.db.write() as conn:
        await conn.execute(
            sessions.insert().values(
                id_hash=hashlib.sha256(session_id.encode()).hexdigest(),
                prefix=session_id[:8],
                app_id=app_id,
                identity_kind=kind,
                identity_id=identity_id,
                created_at=now,
                last_seen_at=now,
                ended_at=None,
                end_reason="",
                client_ip="203.0.113.9",
                reported_ip="",
                client_version="1.0",
                client_hash="",
                sid=sid,
            )
        )
    return session_id


async def _bind(dash: Dash, app_id: str, kind: str, holder_id: str, sid: str) -> None:
    now = dash.rt.clock()
    async with dash.rt.db.write() as conn:
        await conn.execute(
            bindings.insert().values(
                id=str(uuid.uuid4()),
                app_id=app_id,
                holder_kind=kind,
                holder_id=holder_id,
                sid=sid,
                sid_norm=sid.lower(),
                first_seen_at=now,
                last_seen_at=now,
                last_ip="203.0.113.9",
            )
        )


# -- licenses ----------------------------------------------------------------------------


async def test_license_detail_actions_and_audit(dash: Dash) -> None:
    app_id = await _app(dash)
    key = (await admin.generate_licenses(dash.rt, app_id, "Gold", days=30, note="first"))[0]
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/license/{key}"
    act = f"/apps/{app_id}/licenses/{key}"
    detail = await browser.get(page)
    assert detail.status_code == 200
    assert f'id="license-key">{key}<' in detail.text and 'id="license-state">unused<' in detail.text
    listing = await browser.get(f"/apps/{app_id}/licenses")
    assert f'href="/dashboard/apps/{app_id}/license/{key}"' in listing.text
    assert f'name="key" value="{key}" form="bulk"' in listing.text

    # A refused edit: the message next to the field, what was typed kept, nothing changed.
    bad = await browser.submit(
        page,
        f"{act}/edit",
        {"from": "detail", "note": "typed", "device_limit": "lots", "subscription": "Gold"},
    )
    assert bad.status_code == 400
    assert 'id="e-device_limit"' in bad.text and 'value="typed"' in bad.text
    bad_email = await browser.submit(
        page,
        f"{act}/edit",
        {"from": "detail", "note": "first", "device_limit": "1", "email": "not an email"},
    )
    assert bad_email.status_code == 400 and 'id="e-email"' in bad_email.text
    assert (await views_licenses.get_license(dash.rt, app_id, key)).note == "first"
    assert await _entries(dash, "license.edit") == []

    edited = await browser.submit(
        page,
        f"{act}/edit",
        {
            "from": "detail",
            "note": "vip",
            "device_limit": "3",
            "subscription": "Silver",
            "email": "a@example.com",
        },
    )
    assert edited.status_code == 303 and edited.headers["location"] == f"/dashboard{page}"
    lic = await views_licenses.get_license(dash.rt, app_id, key)
    assert (lic.note, lic.device_limit, lic.subscription, lic.email) == (
        "vip",
        3,
        "Silver",
        "a@example.com",
    )
    (entry,) = await _entries(dash, "license.edit")
    assert entry.target == key and entry.actor_kind == "account"
    assert json.loads(entry.changes)["note"] == ["first", "vip"]
    # Saving the unchanged form changes nothing and writes no entry.
    same = await browser.submit(
        page,
        f"{act}/edit",
        {
            "from": "detail",
            "note": "vip",
            "device_limit": "3",
            "subscription": "Silver",
            "email": "a@example.com",
        },
    )
    assert same.status_code == 303 and len(await _entries(dash, "license.edit")) == 1

    # Extend (days), shorten (neither days nor date is a field error).
    extended = await browser.submit(page, f"{act}/extend", {"from": "detail", "shift_days": "5"})
    assert extended.status_code == 303
    assert (await views_licenses.get_license(dash.rt, app_id, key)).duration_days == 35
    empty = await browser.submit(page, f"{act}/shorten", {"from": "detail"})
    assert empty.status_code == 400 and 'id="e-shift_days"' in empty.text
    both = await browser.submit(
        page, f"{act}/shorten", {"from": "detail", "shift_days": "1", "to_date": "2030-01-01"}
    )
    assert both.status_code == 400 and 'value="2030-01-01"' in both.text
    shortened = await browser.submit(page, f"{act}/shorten", {"from": "detail", "shift_days": "3"})
    assert shortened.status_code == 303
    assert (await views_licenses.get_license(dash.rt, app_id, key)).duration_days == 32
    assert len(await _entries(dash, "license.extend")) == 1
    assert len(await _entries(dash, "license.shorten")) == 1

    # Pause, unpause, ban with a reason, unban.
    for action, data in (
        ("pause", {}),
        ("unpause", {}),
        ("ban", {"reason": "chargeback"}),
    ):
        done = await browser.submit(page, f"{act}/{action}", {"from": "detail", **data})
        assert done.status_code == 303 and done.headers["location"] == f"/dashboard{page}"
    lic = await views_licenses.get_license(dash.rt, app_id, key)
    assert lic.banned and lic.ban_reason == "chargeback" and not lic.paused
    again = await browser.submit(page, f"{act}/ban", {"from": "detail", "reason": "x"})
    assert again.status_code == 303
    assert len(await _entries(dash, "license.ban")) == 1  # the repeat changed nothing
    assert "chargeback" in (await browser.get(page)).text
    await browser.submit(page, f"{act}/unban", {"from": "detail"})
    assert not (await views_licenses.get_license(dash.rt, app_id, key)).banned

    # Reset HWID removes bindings; end sessions ends the live ones.
    lic = await views_licenses.get_license(dash.rt, app_id, key)
    await _bind(dash, app_id, "license", lic.id, "SID-A")
    session_id = await _live_session(dash, app_id, "license", lic.id)
    shown = await browser.get(page)
    assert 'data-sid="SID-A"' in shown.text and f'data-session="{session_id[:8]}"' in shown.text
    reset = await browser.submit(page, f"{act}/reset_hwid", {"from": "detail"})
    assert reset.status_code == 303
    assert await views_users.list_bindings(dash.rt, app_id, "license", key) == []
    ended = await browser.submit(page, f"{act}/end_sessions", {"from": "detail"})
    assert ended.status_code == 303
    (end_entry,) = await _entries(dash, "license.end_sessions")
    assert json.loads(end_entry.changes) == {"sessions_ended": [None, 1]}
    assert len(await _entries(dash, "license.reset_hwid")) == 1

    # Delete needs the confirmation box.
    unconfirmed = await browser.submit(page, f"{act}/delete", {"from": "detail"})
    assert unconfirmed.status_code == 400 and 'id="e-delete"' in unconfirmed.text
    await views_licenses.get_license(dash.rt, app_id, key)
    deleted = await browser.submit(page, f"{act}/delete", {"from": "detail", "confirm": "yes"})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == f"/dashboard/apps/{app_id}/licenses"
    assert (await browser.get(page)).status_code == 404
    assert {e.target for e in await _entries(dash, "license.delete")} == {key}


async def test_license_generation_idempotent_large_and_download(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/licenses"
    html = (await browser.get(page)).text
    idem = re.search(r'name="idem" value="([^"]+)"', html)
    assert idem is not None
    form = {
        "csrf_token": csrf_of(html),
        "idem": idem.group(1),
        "subscription": "Gold",
        "count": "4",
        "days": "30",
        "mask": "ID-XXXXXXXX",
    }
    first = await browser.post(f"{page}/generate", form)
    second = await browser.post(f"{page}/generate", form)  # the double submit
    assert first.status_code == 200 and second.status_code == 200
    keys_of = re.compile(r'<textarea id="new-keys"[^>]*>([^<]*)</textarea>')
    first_keys = keys_of.search(first.text)
    second_keys = keys_of.search(second.text)
    assert first_keys and second_keys and first_keys.group(1) == second_keys.group(1)
    assert "already sent" in second.text
    async with dash.rt.db.read() as conn:
        count = (
            await conn.execute(
                select(func.count()).select_from(licenses).where(licenses.c.app_id == app_id)
            )
        ).scalar_one()
        batches = (
            await conn.execute(
                select(license_batches.c.id).where(license_batches.c.app_id == app_id)
            )
        ).all()
    assert count == 4 and len(batches) == 1
    (entry,) = await _entries(dash, "license.generate")
    assert entry.target == batches[0].id and entry.target_type == "license-batch"

    # Past 1,000 keys: no list on the page, the .txt download has them all.
    big = await browser.submit(
        page,
        f"{page}/generate",
        {"subscription": "Gold", "count": "1200", "days": "7", "mask": "BIG-XXXXXXXXXX"},
    )
    assert big.status_code == 200 and 'id="new-keys"' not in big.text
    link = re.search(r'id="batch-download" href="/dashboard([^"]+)"', big.text)
    assert link is not None
    download = await browser.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert "attachment" in download.headers["content-disposition"]
    lines = download.text.split()
    assert len(lines) == 1200 and all(k.startswith("BIG-") for k in lines)
    assert (await browser.get(f"{page}/batches/{uuid.uuid4()}.txt")).status_code == 404

    too_many = await browser.submit(
        page, f"{page}/generate", {"subscription": "Gold", "count": "100001", "days": "1"}
    )
    assert too_many.status_code == 400 and 'id="e-count"' in too_many.text
    bad_date = await browser.submit(
        page, f"{page}/generate", {"subscription": "Gold", "count": "1", "expiry_date": "soon"}
    )
    assert bad_date.status_code == 400 and 'id="e-expiry_date"' in bad_date.text
    assert len(await _entries(dash, "license.generate")) == 2

    # CSV export of the current filter.
    export = await browser.get(f"{page}/export", params={"q": "ID-", "format": "csv"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    body = export.text
    assert all(k in body for k in first_keys.group(1).split("\n")) and "BIG-" not in body


async def test_license_bulk_ban_and_delete(dash: Dash) -> None:
    app_id = await _app(dash)
    keys = await admin.generate_licenses(dash.rt, app_id, "Gold", days=30, count=4)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/licenses"
    html = (await browser.get(page)).text
    token = csrf_of(html)

    async def bulk(data: dict[str, str], picked: list[str]) -> Any:
        body: dict[str, Any] = {"csrf_token": token, **data, "key": picked}
        return await browser.http.post(f"/dashboard{page}/bulk", data=body)

    banned = await bulk({"do": "ban", "reason": "fraud", "q": "", "state": ""}, keys[:2])
    assert banned.status_code == 303
    for key in keys[:2]:
        lic = await views_licenses.get_license(dash.rt, app_id, key)
        assert lic.banned and lic.ban_reason == "fraud"
    assert {e.target for e in await _entries(dash, "license.ban")} == set(keys[:2])

    none = await bulk({"do": "ban"}, [])
    assert none.status_code == 400 and 'id="e-bulk"' in none.text
    unconfirmed = await bulk({"do": "delete"}, keys[2:])
    assert unconfirmed.status_code == 400 and "confirm" in unconfirmed.text
    # One unknown key refuses the whole selection: nothing is deleted.
    mixed = await bulk({"do": "delete", "confirm": "yes"}, [keys[2], "NO-SUCH-KEY"])
    assert mixed.status_code == 400 and "Nothing was changed" in mixed.text
    await views_licenses.get_license(dash.rt, app_id, keys[2])
    deleted = await bulk({"do": "delete", "confirm": "yes"}, keys[2:])
    assert deleted.status_code == 303
    assert {e.target for e in await _entries(dash, "license.delete")} == set(keys[2:])

    # Delete every match of a filter (the REST bulk delete): a filter and the box are needed.
    no_filter = await browser.submit(page, f"{page}/delete-matching", {"confirm": "yes"})
    assert no_filter.status_code == 400
    matching = await browser.submit(
        f"{page}?state=banned", f"{page}/delete-matching", {"state": "banned", "confirm": "yes"}
    )
    assert matching.status_code == 303
    async with dash.rt.db.read() as conn:
        left = (
            await conn.execute(
                select(func.count()).select_from(licenses).where(licenses.c.app_id == app_id)
            )
        ).scalar_one()
    assert left == 0
    assert (await _entries(dash, "license.delete"))[-1].target == "2 licenses"


# -- users -------------------------------------------------------------------------------


async def test_user_create_detail_and_actions(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/users"
    missing = await browser.submit(
        page,
        f"{page}/create",
        {"username": "mara", "password": "", "subscription": "Gold", "note": "kept"},
    )
    assert missing.status_code == 400 and 'id="e-password"' in missing.text
    assert 'value="kept"' in missing.text and 'value="mara"' in missing.text
    unknown_sub = await browser.submit(
        page, f"{page}/create", {"username": "mara", "password": "pw-123456", "subscription": "X"}
    )
    assert unknown_sub.status_code == 400 and 'id="e-subscription"' in unknown_sub.text
    created = await browser.submit(
        page,
        f"{page}/create",
        {"username": "mara", "password": "pw-123456", "subscription": "Gold", "days": "10"},
    )
    assert created.status_code == 303
    detail_path = f"/apps/{app_id}/user/mara"
    assert created.headers["location"] == f"/dashboard{detail_path}"
    (entry,) = await _entries(dash, "user.create")
    assert entry.target == "mara" and "pw-123456" not in (entry.changes or "")
    detail = await browser.get(detail_path)
    assert detail.status_code == 200 and 'id="user-state">active<' in detail.text
    act = f"/apps/{app_id}/users/mara"

    shown_expiry = (await views_users.get_user(dash.rt, app_id, "mara")).expiry_date
    assert shown_expiry is not None
    bad = await browser.submit(
        detail_path,
        f"{act}/edit",
        {
            "from": "detail",
            "email": "nope",
            "subscription": "Gold",
            "expiry_date": shown_expiry.strftime("%Y-%m-%d"),
            "note": "n1",
        },
    )
    assert bad.status_code == 400
    assert 'id="e-email"' in bad.text and 'value="n1"' in bad.text
    user = await views_users.get_user(dash.rt, app_id, "mara")
    assert user.email is None and user.note == ""
    expiry = user.expiry_date
    assert expiry is not None
    edited = await browser.submit(
        detail_path,
        f"{act}/edit",
        {
            "from": "detail",
            "email": "m@example.com",
            "subscription": "Silver",
            "device_limit": "2",
            "expiry_date": expiry.strftime("%Y-%m-%d"),
            "note": "n1",
        },
    )
    assert edited.status_code == 303
    user = await views_users.get_user(dash.rt, app_id, "mara")
    assert (user.email, user.subscription, user.device_limit, user.note) == (
        "m@example.com",
        "Silver",
        2,
        "n1",
    )
    assert user.expiry_date == expiry  # the unchanged date field keeps the time of day
    extended = await browser.submit(
        detail_path, f"{act}/extend", {"from": "detail", "to_date": "2031-02-03"}
    )
    assert extended.status_code == 303
    user = await views_users.get_user(dash.rt, app_id, "mara")
    assert user.expiry_date == datetime(2031, 2, 3, tzinfo=UTC)

    for action in ("pause", "unpause", "ban", "unban"):
        done = await browser.submit(detail_path, f"{act}/{action}", {"from": "detail"})
        assert done.status_code == 303, action
        assert len(await _entries(dash, f"user.{action}")) == 1

    short = await browser.submit(detail_path, f"{act}/reset_password", {"from": "detail"})
    assert short.status_code == 400 and 'id="e-new_password"' in short.text
    reset = await browser.submit(
        detail_path, f"{act}/reset_password", {"from": "detail", "new_password": "new-pw-789"}
    )
    assert reset.status_code == 303
    await admin.verify_user_password(dash.rt, app_id, "mara", "new-pw-789")
    (pw_entry,) = await _entries(dash, "user.reset_password")
    assert "new-pw-789" not in (pw_entry.changes or "")

    # Bound SIDs with unbind; live sessions with end one and end all.
    await _bind(dash, app_id, "user", user.id, "SID-1")
    await _bind(dash, app_id, "user", user.id, "SID-2")
    first = await _live_session(dash, app_id, "user", user.id)
    await _live_session(dash, app_id, "user", user.id)
    shown = await browser.get(detail_path)
    assert 'data-sid="SID-1"' in shown.text and f'data-session="{first[:8]}"' in shown.text
    unbound = await browser.submit(detail_path, f"{act}/unbind", {"from": "detail", "sid": "SID-1"})
    assert unbound.status_code == 303
    assert [b.sid for b in await views_users.list_bindings(dash.rt, app_id, "user", "mara")] == [
        "SID-2"
    ]
    ended_one = await browser.submit(
        detail_path, f"/apps/{app_id}/sessions/{first[:8]}/end", {"back": detail_path}
    )
    assert (
        ended_one.status_code == 303 and ended_one.headers["location"] == f"/dashboard{detail_path}"
    )
    outside = await browser.submit(
        detail_path, f"/apps/{app_id}/sessions/{first[:8]}/end", {"back": "https://evil.example/"}
    )
    assert outside.headers["location"] == f"/dashboard/apps/{app_id}/sessions"
    assert len(await _entries(dash, "session.end")) == 1  # ending it again changed nothing
    ended = await browser.submit(detail_path, f"{act}/end_sessions", {"from": "detail"})
    assert ended.status_code == 303
    (end_entry,) = await _entries(dash, "user.end_sessions")
    assert json.loads(end_entry.changes) == {"live_sessions": [1, 0]}
    hwid = await browser.submit(detail_path, f"{act}/reset_hwid", {"from": "detail"})
    assert hwid.status_code == 303
    assert await views_users.list_bindings(dash.rt, app_id, "user", "mara") == []

    export = await browser.get(f"{page}/export")
    assert export.status_code == 200 and "mara" in export.text
    assert "argon2" not in export.text

    unconfirmed = await browser.submit(detail_path, f"{act}/delete", {"from": "detail"})
    assert unconfirmed.status_code == 400
    deleted = await browser.submit(
        detail_path, f"{act}/delete", {"from": "detail", "confirm": "yes"}
    )
    assert deleted.status_code == 303
    assert (await browser.get(detail_path)).status_code == 404


async def test_odd_usernames_route_and_redirect(dash: Dash) -> None:
    app_id = await _app(dash)
    await admin.create_user(dash.rt, app_id, "a/b c?", "pw-123456", "Gold")
    browser = await dash.signed_in()
    listing = await browser.get(f"/apps/{app_id}/users")
    link = re.search(r'href="/dashboard(/apps/[^"]+/user/[^"]+)"', listing.text)
    assert link is not None
    detail = await browser.get(link.group(1).replace("&amp;", "&"))
    assert detail.status_code == 200 and 'id="user-name">a/b c?<' in detail.text
    action = re.search(r'action="/dashboard(/apps/[^"]+/users/[^"]+)/edit"', detail.text)
    assert action is not None
    done = await browser.submit(link.group(1), action.group(1) + "/pause", {"from": "detail"})
    assert done.status_code == 303
    assert (await views_users.get_user(dash.rt, app_id, "a/b c?")).paused
    assert (
        await browser.get(done.headers["location"].removeprefix("/dashboard"))
    ).status_code == 200


# -- devices -----------------------------------------------------------------------------


async def test_devices_pages(dash: Dash) -> None:
    app_id = await _app(dash)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/devices"
    listing = await browser.get(page)
    assert listing.status_code == 200 and "No devices match." in listing.text
    bad = await browser.submit(
        page,
        page,
        {"device_type": "gpu", "device_id": "BOARD-1", "subscription": "Gold", "name": "kept"},
    )
    assert (
        bad.status_code == 400 and 'id="e-device_type"' in bad.text and 'value="kept"' in bad.text
    )
    created = await browser.submit(
        page,
        page,
        {
            "device_type": "motherboard",
            "device_id": "BOARD-1",
            "subscription": "Gold",
            "days": "30",
        },
    )
    assert created.status_code == 303
    detail_path = f"/apps/{app_id}/device/motherboard/BOARD-1"
    assert created.headers["location"] == f"/dashboard{detail_path}"
    await admin.create_device(dash.rt, app_id, "processor", "CPU-9", "Silver", days=5)
    found = await browser.get(page, params={"q": "board"})
    assert 'data-device="motherboard:BOARD-1"' in found.text and "CPU-9" not in found.text
    typed = await browser.get(page, params={"type": "processor"}, headers={"HX-Request": "true"})
    assert typed.text.lstrip().startswith('<div id="rows">') and "CPU-9" in typed.text
    assert "BOARD-1" not in typed.text
    detail = await browser.get(detail_path)
    assert detail.status_code == 200 and 'id="device-state">' in detail.text
    act = f"/apps/{app_id}/devices/motherboard/BOARD-1"

    edited = await browser.submit(
        detail_path,
        f"{act}/edit",
        {"from": "detail", "name": "Front desk", "email": "", "subscription": "Gold",
         "expiry_date": "", "lifetime": "on", "note": ""},
    )  # fmt: skip
    assert edited.status_code == 303
    device = await views_users.get_device(dash.rt, app_id, "motherboard", "BOARD-1")
    assert device.name == "Front desk" and device.expiry_date is None
    lifetime_extend = await browser.submit(
        detail_path, f"{act}/extend", {"from": "detail", "shift_days": "3"}
    )
    assert lifetime_extend.status_code == 400 and "lifetime" in lifetime_extend.text
    for action, data in (
        ("ban", {"reason": "stolen"}),
        ("unban", {}),
        ("pause", {}),
        ("unpause", {}),
    ):
        done = await browser.submit(detail_path, f"{act}/{action}", {"from": "detail", **data})
        assert done.status_code == 303, action
        assert len(await _entries(dash, f"device.{action}")) == 1
    assert (
        await browser.submit(detail_path, f"{act}/reset", {"from": "detail"})
    ).status_code == 303
    session_id = await _live_session(dash, app_id, "device", device.id)
    assert f'data-session="{session_id[:8]}"' in (await browser.get(detail_path)).text
    assert (
        await browser.submit(detail_path, f"{act}/end_sessions", {"from": "detail"})
    ).status_code == 303
    assert len(await _entries(dash, "device.end_sessions")) == 1
    export = await browser.get(f"{page}/export")
    assert export.status_code == 200 and "BOARD-1" in export.text
    deleted = await browser.submit(
        detail_path, f"{act}/delete", {"from": "detail", "confirm": "yes"}
    )
    assert deleted.status_code == 303
    assert (await browser.get(detail_path)).status_code == 404
    assert (await browser.get(f"/apps/{app_id}/device/gpu/X")).status_code == 404


# -- sessions ----------------------------------------------------------------------------


async def test_sessions_page(dash: Dash) -> None:
    app_id = await _app(dash)
    state = await admin.create_user(dash.rt, app_id, "mara", "pw-123456", "Gold")
    other = await admin.create_user(dash.rt, app_id, "olaf", "pw-123456", "Gold")
    mine = await _live_session(dash, app_id, "user", state.id)
    theirs = await _live_session(dash, app_id, "user", other.id)
    browser = await dash.signed_in()
    page = f"/apps/{app_id}/sessions"
    listing = await browser.get(page)
    assert listing.status_code == 200
    assert (
        f'data-session="{mine[:8]}"' in listing.text
        and f'data-session="{theirs[:8]}"' in listing.text
    )
    one = await browser.get(page, params={"kind": "user", "q": "mara"})
    assert f'data-session="{mine[:8]}"' in one.text and theirs[:8] not in one.text
    unknown = await browser.get(page, params={"kind": "user", "q": "nobody"})
    assert unknown.status_code == 200 and 'id="e-q"' in unknown.text
    no_kind = await browser.get(page, params={"q": "mara"})
    assert 'id="e-q"' in no_kind.text

    ended = await browser.submit(page, f"{page}/{mine[:8]}/end", {"back": page})
    assert ended.status_code == 303
    assert f'data-session="{mine[:8]}"' not in (await browser.get(page)).text
    assert f'data-session="{mine[:8]}"' in (await browser.get(page, params={"state": "ended"})).text
    assert (await browser.submit(page, f"{page}/zzzzzzzz/end", {})).status_code in (400, 404)

    unconfirmed = await browser.submit(page, f"{page}/end-all", {})
    assert unconfirmed.status_code == 400 and 'id="e-end_all"' in unconfirmed.text
    assert f'data-session="{theirs[:8]}"' in (await browser.get(page)).text
    all_ended = await browser.submit(page, f"{page}/end-all", {"confirm": "yes"})
    assert all_ended.status_code == 303
    assert "No sessions match." in (await browser.get(page)).text
    (entry,) = await _entries(dash, "session.end_all")
    assert entry.target == app_id and json.loads(entry.changes) == {"live_sessions": [1, 0]}


# -- rights, CSRF, foreign apps ----------------------------------------------------------


async def test_rights_csrf_and_foreign_apps(dash: Dash) -> None:
    app_id = await _app(dash)
    key = (await admin.generate_licenses(dash.rt, app_id, "Gold", days=3))[0]
    await admin.create_user(dash.rt, app_id, "mara", "pw-123456", "Gold")
    await admin.create_device(dash.rt, app_id, "processor", "CPU-1", "Gold")
    other = await dash.new_owner("other")
    foreign = await admin.create_app(dash.rt, other.owner_id, "Theirs")
    await admin.create_subscription(dash.rt, foreign.app_id, "Gold", 1)
    fkey = (await admin.generate_licenses(dash.rt, foreign.app_id, "Gold", days=3))[0]
    await admin.create_user(dash.rt, foreign.app_id, "mara", "pw-123456", "Gold")

    browser = await dash.signed_in()
    token = csrf_of((await browser.get("/apps")).text)
    for path in (
        f"/apps/{foreign.app_id}/license/{fkey}",
        f"/apps/{foreign.app_id}/user/mara",
        f"/apps/{foreign.app_id}/devices",
        f"/apps/{foreign.app_id}/sessions",
        f"/apps/{foreign.app_id}/licenses/export",
        f"/apps/{app_id}/license/NO-SUCH",
        f"/apps/{app_id}/user/nobody",
    ):
        assert (await browser.get(path)).status_code == 404, path
    for path in (
        f"/apps/{foreign.app_id}/licenses/{fkey}/ban",
        f"/apps/{foreign.app_id}/users/mara/delete",
        f"/apps/{foreign.app_id}/sessions/end-all",
        f"/apps/{app_id}/licenses/{key}/explode",
    ):
        assert (
            await browser.post(path, {"csrf_token": token, "confirm": "yes"})
        ).status_code == 404
    assert not (await views_licenses.get_license(dash.rt, foreign.app_id, fkey)).banned

    # No CSRF token: 403 and nothing changes.
    for path in (
        f"/apps/{app_id}/licenses/{key}/ban",
        f"/apps/{app_id}/users/mara/ban",
        f"/apps/{app_id}/devices/processor/CPU-1/ban",
        f"/apps/{app_id}/sessions/end-all",
        f"/apps/{app_id}/licenses/bulk",
    ):
        assert (await browser.post(path, {"do": "ban", "key": key})).status_code == 403, path
    assert not (await views_licenses.get_license(dash.rt, app_id, key)).banned
    assert not (await views_users.get_user(dash.rt, app_id, "mara")).banned

    # A staff member reads what the role grants and is refused (403) the rest.
    staff = await _staff(dash, ["license.list", "license.info", "user.list", "user.info"])
    assert (await staff.get(f"/apps/{app_id}/license/{key}")).status_code == 200
    user_page = await staff.get(f"/apps/{app_id}/user/mara")
    assert user_page.status_code == 200 and 'id="live-sessions"' not in user_page.text
    for path in (f"/apps/{app_id}/devices", f"/apps/{app_id}/sessions"):
        assert (await staff.get(path)).status_code == 403, path
    assert (await staff.get(f"/apps/{app_id}/licenses/export")).status_code == 403
    refused = await staff.submit(
        f"/apps/{app_id}/license/{key}",
        f"/apps/{app_id}/licenses/{key}/edit",
        {"from": "detail", "note": "x"},
    )
    assert refused.status_code == 403 and "403 · Not allowed" in refused.text
    refused_user = await staff.submit(
        f"/apps/{app_id}/user/mara", f"/apps/{app_id}/users/mara/pause", {"from": "detail"}
    )
    assert refused_user.status_code == 403
    assert (await views_licenses.get_license(dash.rt, app_id, key)).note == ""
    assert not (await views_users.get_user(dash.rt, app_id, "mara")).paused


async def test_list_paging_and_search(dash: Dash) -> None:
    app_id = await _app(dash)
    for n in range(55):
        await admin.create_device(dash.rt, app_id, "processor", f"CPU-{n:03d}", "Gold")
    browser = await dash.signed_in()
    first = await browser.get(f"/apps/{app_id}/devices")
    assert first.text.count('data-device="processor:') == 50
    link = re.search(r'class="next" href="/dashboard([^"]+)"', first.text)
    assert link is not None
    second = await browser.get(link.group(1).replace("&amp;", "&"))
    assert second.text.count('data-device="processor:') == 5
    bad_cursor = await browser.get(f"/apps/{app_id}/devices", params={"cursor": "garbage"})
    assert bad_cursor.status_code == 400


async def test_staff_who_only_generates(dash: Dash) -> None:
    app_id = await _app(dash)
    existing = (await admin.generate_licenses(dash.rt, app_id, "Gold", days=3))[0]
    staff = await _staff(dash, ["license.generate"])
    form_only = await staff.get(f"/apps/{app_id}/licenses")
    assert form_only.status_code == 200 and 'id="generate"' in form_only.text
    assert existing not in form_only.text and 'id="licenses"' not in form_only.text
    token = csrf_of(form_only.text)
    made = await staff.post(
        f"/apps/{app_id}/licenses/generate",
        {"csrf_token": token, "subscription": "Gold", "count": "2", "days": "3"},
    )
    assert made.status_code == 200 and 'id="new-keys"' in made.text
    assert existing not in made.text  # the list stays hidden without license.list
    link = re.search(r'id="batch-download" href="/dashboard([^"]+)"', made.text)
    assert link is not None
    assert len((await staff.get(link.group(1))).text.split()) == 2
