"""Chat (channels, messages, mutes) and logs (client logs, auth events) dashboard pages."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from licentia.services import admin, admin_content, admin_staff
from licentia.store.tables import (
    accounts,
    auth_events,
    chat_channels,
    chat_messages,
    chat_mutes,
    client_logs,
)
from tests.conftest import FakeClock
from tests.web.conftest import PASSWORD, Browser, Dash


async def _app(dash: Dash, name: str = "Chatty") -> str:
    assert dash.owner is not None
    app = await admin.create_app(dash.rt, dash.owner.owner_id, name)
    await admin.create_subscription(dash.rt, app.app_id, "Gold", 1)
    for user in ("mara", "olek"):
        await admin.create_user(dash.rt, app.app_id, user, "pw-123456", "Gold", days=30)
    return app.app_id


async def _say(dash: Dash, app_id: str, channel: str, username: str, *texts: str) -> list[int]:
    """Messages as the client API stores them."""
    view = await admin_content.get_channel(dash.rt, app_id, channel)
    user = await admin.get_user(dash.rt, app_id, username)
    ids: list[int] = []
    async with dash.rt.db.write() as conn:
        for text in texts:
            result = await conn.execute(
                chat_messages.insert().values(
                    channel_id=view.id,
                    app_id=app_id,
                    user_id=user.id,
                    username=username,
                    message=text,
                    client_ip="198.51.100.7",
                    created_at=dash.rt.clock(),
                )
            )
            assert result.inserted_primary_key is not None
            ids.append(int(result.inserted_primary_key[0]))
    return ids


async def _log(dash: Dash, app_id: str, identity: str, message: str, at: datetime) -> None:
    async with dash.rt.db.write() as conn:
        await conn.execute(
            client_logs.insert().values(
                app_id=app_id,
                session_prefix="abcd1234",
                identity_kind="user",
                identity_name=identity,
                client_ip="203.0.113.9",
                reported_ip="10.0.0.2",
                message=message,
                created_at=at,
            )
        )


async def _event(dash: Dash, app_id: str, endpoint: str, code: str, at: datetime) -> None:
    async with dash.rt.db.write() as conn:
        await conn.execute(
            auth_events.insert().values(
                app_id=app_id,
                endpoint=endpoint,
                code=code,
                identity="mara",
                client_ip="203.0.113.9",
                country="DE",
                sid="sid-1",
                client_version="1.0",
                created_at=at,
            )
        )


async def _count(dash: Dash, table: Any, app_id: str, *where: Any) -> int:
    async with dash.rt.db.read() as conn:
        query = select(func.count()).select_from(table).where(table.c.app_id == app_id, *where)
        return int((await conn.execute(query)).scalar_one())


async def _entries(dash: Dash, capability: str) -> list[Any]:
    assert dash.owner is not None
    return [e for e in await dash.audit(capability, dash.owner.id) if e.face == "dashboard"]


async def _staff(dash: Dash, permissions: list[str]) -> Browser:
    """A signed-in staff member whose role grants `permissions` on every app."""
    assert dash.owner is not None
    role = await admin_staff.create_role(
        dash.rt, dash.owner.owner_id, f"r{len(permissions)}{id(permissions)}", permissions, None
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


# -- chat --------------------------------------------------------------------------------


async def test_channels_create_edit_clear_delete(dash: Dash) -> None:
    app_id = await _app(dash)
    owner = await dash.signed_in()
    chat = f"/apps/{app_id}/chat"
    page = await owner.get(chat)
    assert page.status_code == 200 and "No channels yet." in page.text
    assert 'aria-current="page">Chat<' in page.text

    # Bad input: the field error, what was typed kept, nothing created.
    bad = await owner.submit(
        chat, chat + "/channels", {"name": "bad name!", "send_delay": "3", "max_messages": "50"}
    )
    assert bad.status_code == 400 and 'id="e-name"' in bad.text
    assert 'value="bad name!"' in bad.text and 'value="50"' in bad.text
    notnum = await owner.submit(
        chat, chat + "/channels", {"name": "general", "send_delay": "x", "max_messages": "50"}
    )
    assert notnum.status_code == 400 and 'id="e-send_delay"' in notnum.text
    huge = await owner.submit(
        chat, chat + "/channels", {"name": "general", "send_delay": "999999", "max_messages": "5"}
    )
    assert huge.status_code == 400 and 'id="e-send_delay"' in huge.text
    assert await _count(dash, chat_channels, app_id) == 0

    made = await owner.submit(
        chat, chat + "/channels", {"name": "general", "send_delay": "3", "max_messages": "50"}
    )
    assert made.status_code == 303
    assert made.headers["location"] == f"/dashboard{chat}/channels/general"
    dup = await owner.submit(
        chat, chat + "/channels", {"name": "GENERAL", "send_delay": "3", "max_messages": "50"}
    )
    assert dup.status_code == 400 and 'id="e-name"' in dup.text and "already" in dup.text
    [entry] = await _entries(dash, "channel.create")
    assert entry.target == "general" and entry.app_id == app_id
    assert json.loads(entry.changes)["send_delay"] == [None, 3]

    ids = await _say(dash, app_id, "general", "mara", "msg one", "msg two")
    await _say(dash, app_id, "general", "olek", "hi mara")
    channel_page = await owner.get(chat + "/channels/general")
    assert channel_page.status_code == 200
    body = channel_page.text
    assert body.index("hi mara") < body.index("msg two") < body.index("msg one")  # newest first
    listing = await owner.get(chat)
    assert re.search(r'data-channel="general">.*?class="count">3<', listing.text, re.S)

    # Edit: a refused rename keeps the typed values; a good one renames and is audited.
    other = await admin_content.create_channel(dash.rt, app_id, "trade")
    clash = await owner.submit(
        chat + "/channels/general",
        chat + "/channels/general/edit",
        {"name": "trade", "send_delay": "9", "max_messages": "50"},
    )
    assert clash.status_code == 400 and 'id="e-name"' in clash.text and 'value="9"' in clash.text
    assert (await admin_content.get_channel(dash.rt, app_id, "general")).send_delay == 3
    renamed = await owner.submit(
        chat + "/channels/general",
        chat + "/channels/general/edit",
        {"name": "lobby", "send_delay": "5", "max_messages": "50"},
    )
    assert renamed.status_code == 303 and renamed.headers["location"].endswith("/channels/lobby")
    [edit] = await _entries(dash, "channel.edit")
    assert json.loads(edit.changes) == {"name": ["general", "lobby"], "send_delay": [3, 5]}
    assert (await owner.get(chat + "/channels/general")).status_code == 404

    # Delete one message, then clear (needs the confirm box), then delete the channel.
    deleted = await owner.submit(
        chat + "/channels/lobby", f"/apps/{app_id}/chat/messages/{ids[0]}/delete", {}
    )
    assert deleted.status_code == 303
    assert "msg one" not in (await owner.get(chat + "/channels/lobby")).text
    assert "msg one" in (await owner.get(chat + "/channels/lobby?deleted=1")).text
    [gone] = await _entries(dash, "channel.delete_message")
    assert gone.target == str(ids[0])
    assert (
        await owner.submit(chat, f"/apps/{app_id}/chat/messages/99999999/delete", {})
    ).status_code == 404

    unconfirmed = await owner.submit(chat + "/channels/lobby", chat + "/channels/lobby/clear", {})
    assert unconfirmed.status_code == 400 and 'id="e-clear_confirm"' in unconfirmed.text
    assert await _count(dash, chat_messages, app_id) == 3
    cleared = await owner.submit(
        chat + "/channels/lobby", chat + "/channels/lobby/clear", {"confirm": "yes"}
    )
    assert cleared.status_code == 303 and await _count(dash, chat_messages, app_id) == 0
    [clear] = await _entries(dash, "channel.clear")
    assert json.loads(clear.changes) == {"cleared": [None, 3]}

    nodelete = await owner.submit(chat + "/channels/lobby", chat + "/channels/lobby/delete", {})
    assert nodelete.status_code == 400 and 'id="e-delete_confirm"' in nodelete.text
    removed = await owner.submit(
        chat + "/channels/lobby", chat + "/channels/lobby/delete", {"confirm": "yes"}
    )
    assert removed.status_code == 303 and removed.headers["location"] == f"/dashboard{chat}"
    names = [c.name for c in await admin_content.list_channels(dash.rt, app_id)]
    assert names == [other.name]
    assert len(await _entries(dash, "channel.delete")) == 1
    assert (await owner.get(chat + "/channels/nothere")).status_code == 404


async def test_messages_paging_and_user_filter(dash: Dash) -> None:
    app_id = await _app(dash)
    await admin_content.create_channel(dash.rt, app_id, "general")
    await _say(dash, app_id, "general", "mara", *[f"m{n:03d}" for n in range(60)])
    await _say(dash, app_id, "general", "olek", "from olek")
    owner = await dash.signed_in()
    path = f"/apps/{app_id}/chat/channels/general"
    first = await owner.get(path)
    assert "from olek" in first.text and "m059" in first.text and "m010" not in first.text
    more = re.search(r'class="next" href="/dashboard([^"]+)"', first.text)
    assert more is not None
    second = await owner.get(more.group(1).replace("&amp;", "&"))
    assert "m010" in second.text and "m059" not in second.text
    rows = await owner.get(path, params={"username": "olek"}, headers={"HX-Request": "true"})
    assert rows.text.lstrip().startswith('<div id="rows">') and "<html" not in rows.text
    assert "from olek" in rows.text and "m001" not in rows.text
    bad = await owner.get(path, params={"cursor": "nope"})
    assert bad.status_code == 400


async def test_mutes_and_delete_by_user(dash: Dash, clock: FakeClock) -> None:
    app_id = await _app(dash)
    await admin_content.create_channel(dash.rt, app_id, "general")
    await _say(dash, app_id, "general", "mara", "spam", "spam again")
    owner = await dash.signed_in()
    mutes = f"/apps/{app_id}/chat/mutes"
    page = await owner.get(mutes)
    assert page.status_code == 200 and "No active mutes" in page.text

    unknown = await owner.submit(
        mutes, mutes, {"username": "ghost", "duration": "1d", "reason": "kept reason"}
    )
    assert unknown.status_code == 400 and 'id="e-username"' in unknown.text
    assert 'value="kept reason"' in unknown.text
    past = await owner.submit(
        mutes, mutes, {"username": "mara", "duration": "until", "until": "2001-01-01T00:00"}
    )
    assert past.status_code == 400 and 'id="e-until"' in past.text
    garbled = await owner.submit(
        mutes, mutes, {"username": "mara", "duration": "until", "until": "soon"}
    )
    assert garbled.status_code == 400 and 'id="e-until"' in garbled.text
    nochannel = await owner.submit(
        mutes, mutes, {"username": "mara", "duration": "1h", "channel": "nothere"}
    )
    assert nochannel.status_code == 400 and 'id="e-channel"' in nochannel.text
    assert await _count(dash, chat_mutes, app_id) == 0

    muted = await owner.submit(
        mutes, mutes, {"username": "mara", "duration": "1d", "channel": "general", "reason": "spam"}
    )
    assert muted.status_code == 303
    forever = await owner.submit(mutes, mutes, {"username": "olek", "duration": "forever"})
    assert forever.status_code == 303
    until = (clock.now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    dated = await owner.submit(
        mutes, mutes, {"username": "olek", "duration": "until", "until": until}
    )
    assert dated.status_code == 303
    active = await admin_content.list_mutes(dash.rt, app_id)
    assert len(active) == 3
    mara = next(m for m in active if m.username == "mara")
    assert mara.channel == "general" and mara.expires_at == clock.now + timedelta(days=1)
    listing = (await owner.get(mutes)).text
    assert 'data-username="mara" data-channel="general"' in listing and "permanent" in listing
    entries = await _entries(dash, "channel.mute")
    assert len(entries) == 3 and json.loads(entries[0].changes)["muted"] == [None, "general"]

    # The mute link of a message prefills the form.
    prefilled = await owner.get(mutes, params={"username": "mara", "channel": "general"})
    assert (
        'value="mara"' in prefilled.text and '<option value="general" selected>' in prefilled.text
    )

    unmuted = await owner.submit(
        mutes, f"/apps/{app_id}/chat/unmute", {"username": "mara", "channel": "general"}
    )
    assert unmuted.status_code == 303
    assert [m.username for m in await admin_content.list_mutes(dash.rt, app_id)] == [
        "olek",
        "olek",
    ]
    [entry] = await _entries(dash, "channel.unmute")
    assert json.loads(entry.changes) == {"muted": ["general", None], "removed": [None, 1]}

    # Delete every message of a user.
    nobody = await owner.submit(mutes, f"/apps/{app_id}/chat/delete-by-user", {"username": ""})
    assert nobody.status_code == 400 and 'id="e-purge_username"' in nobody.text
    ghost = await owner.submit(mutes, f"/apps/{app_id}/chat/delete-by-user", {"username": "ghost"})
    assert ghost.status_code == 400 and 'id="e-purge_username"' in ghost.text
    assert 'value="ghost"' in ghost.text
    purged = await owner.submit(mutes, f"/apps/{app_id}/chat/delete-by-user", {"username": "mara"})
    assert purged.status_code == 303
    assert "Deleted+2+messages" in purged.headers["location"]
    assert await _count(dash, chat_messages, app_id, chat_messages.c.deleted.is_(False)) == 0
    [by_user] = await _entries(dash, "channel.delete_by_user")
    assert json.loads(by_user.changes) == {"messages_deleted": [None, 2]}


async def test_chat_refusals(dash: Dash) -> None:
    """Foreign apps are 404, missing capabilities 403, POSTs without CSRF 403."""
    assert dash.owner is not None
    app_id = await _app(dash)
    await admin_content.create_channel(dash.rt, app_id, "general")
    [message] = await _say(dash, app_id, "general", "mara", "keep me")

    stranger = await dash.new_owner("other")
    foreign = dash.browser()
    assert (await foreign.sign_in(stranger.username)).status_code == 303
    for path in ("/chat", "/chat/channels/general", "/chat/mutes", "/logs", "/logs/auth-events"):
        assert (await foreign.get(f"/apps/{app_id}{path}")).status_code == 404, path
    refused = await foreign.submit("/apps", f"/apps/{app_id}/chat/messages/{message}/delete", {})
    assert refused.status_code == 404

    reader = await _staff(dash, ["channel.list", "channel.messages"])
    page = await reader.get(f"/apps/{app_id}/chat")
    assert page.status_code == 200 and "New channel" not in page.text
    channel = await reader.get(f"/apps/{app_id}/chat/channels/general")
    assert channel.status_code == 200 and "keep me" in channel.text
    assert "/delete" not in channel.text and "Edit channel" not in channel.text
    assert (await reader.get(f"/apps/{app_id}/chat/mutes")).status_code == 403
    assert (await reader.get(f"/apps/{app_id}/logs")).status_code == 403
    for action, data in (
        (f"/apps/{app_id}/chat/channels", {"name": "x", "send_delay": "1", "max_messages": "5"}),
        (f"/apps/{app_id}/chat/messages/{message}/delete", {}),
        (f"/apps/{app_id}/chat/channels/general/delete", {"confirm": "yes"}),
        (f"/apps/{app_id}/chat/mutes", {"username": "mara", "duration": "1d"}),
    ):
        response = await reader.submit(f"/apps/{app_id}/chat", action, data)
        assert response.status_code == 403, action
    owner = await dash.signed_in()
    nocsrf = await owner.post(f"/apps/{app_id}/chat/channels/general/delete", {"confirm": "yes"})
    assert nocsrf.status_code == 403
    forged = await owner.post(
        f"/apps/{app_id}/chat/messages/{message}/delete", {"csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert await _count(dash, chat_channels, app_id) == 1
    assert await _count(dash, chat_messages, app_id, chat_messages.c.deleted.is_(False)) == 1
    assert (await owner.post(f"/apps/{app_id}/chat/channels/general/fly", {})).status_code in (
        403,
        404,
    )


# -- logs --------------------------------------------------------------------------------


async def test_client_logs_filters_paging_export_and_purge(dash: Dash, clock: FakeClock) -> None:
    app_id = await _app(dash)
    start = clock.now - timedelta(days=10)
    for n in range(55):
        await _log(dash, app_id, "mara", f"line {n:03d}", start + timedelta(minutes=n))
    await _log(dash, app_id, "olek", "=HYPERLINK(evil) boom", clock.now - timedelta(days=1))
    owner = await dash.signed_in()
    logs = f"/apps/{app_id}/logs"
    page = await owner.get(logs)
    assert page.status_code == 200 and 'aria-current="page">Logs<' in page.text
    text = page.text
    assert text.index("HYPERLINK") < text.index("line 054") < text.index("line 010")
    assert "line 004" not in text
    more = re.search(r'class="next" href="/dashboard([^"]+)"', text)
    assert more is not None
    older = (await owner.get(more.group(1).replace("&amp;", "&"))).text
    assert "line 004" in older and "line 054" not in older

    only = await owner.get(logs, params={"identity": "olek"}, headers={"HX-Request": "true"})
    assert only.text.lstrip().startswith('<div id="rows">')
    assert "HYPERLINK" in only.text and "line 0" not in only.text
    found = await owner.get(logs, params={"text": "LINE 05"})
    assert "line 054" in found.text and "line 049" not in found.text
    since = (start + timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M")
    until = (start + timedelta(minutes=52)).strftime("%Y-%m-%dT%H:%M")
    ranged = await owner.get(logs, params={"since": since, "until": until})
    assert "line 050" in ranged.text and "line 051" in ranged.text
    assert "line 052" not in ranged.text and "line 049" not in ranged.text
    bad = await owner.get(logs, params={"since": "yesterday"})
    assert bad.status_code == 400 and 'id="e-since"' in bad.text and 'value="yesterday"' in bad.text
    typing = await owner.get(logs, params={"since": "2030-1"}, headers={"HX-Request": "true"})
    assert typing.status_code == 200 and 'id="e-since"' in typing.text  # htmx swaps 2xx only
    backwards = await owner.get(logs, params={"since": "2030-01-02", "until": "2030-01-01"})
    assert backwards.status_code == 400 and 'id="e-until"' in backwards.text

    # Export: the current filter, as a download.
    csv_export = await owner.get(logs + "/export", params={"identity": "olek", "format": "csv"})
    assert csv_export.status_code == 200
    assert 'filename="client-logs.csv"' in csv_export.headers["content-disposition"]
    assert csv_export.text.startswith("id,created_at,")
    assert "'=HYPERLINK" in csv_export.text and "line 0" not in csv_export.text
    json_export = await owner.get(logs + "/export", params={"text": "line 00", "format": "json"})
    assert [r["message"] for r in json_export.json()][:2] == ["line 000", "line 001"]
    assert len(json_export.json()) == 10
    assert (await owner.get(logs + "/export", params={"format": "xml"})).status_code == 400

    # Purge: a date or everything, with the confirm box.
    neither = await owner.submit(logs, logs + "/purge", {"confirm": "yes"})
    assert neither.status_code == 400 and 'id="e-before"' in neither.text
    garbled = await owner.submit(logs, logs + "/purge", {"before": "soon", "confirm": "yes"})
    assert garbled.status_code == 400 and 'value="soon"' in garbled.text
    cutoff = (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    unconfirmed = await owner.submit(logs, logs + "/purge", {"before": cutoff})
    assert unconfirmed.status_code == 400 and 'id="e-confirm"' in unconfirmed.text
    assert f'value="{cutoff}"' in unconfirmed.text
    assert await _count(dash, client_logs, app_id) == 56
    purged = await owner.submit(logs, logs + "/purge", {"before": cutoff, "confirm": "yes"})
    assert purged.status_code == 303 and "Purged+30+entries" in purged.headers["location"]
    assert await _count(dash, client_logs, app_id) == 26
    [entry] = await _entries(dash, "log.purge")
    assert entry.target_type == "client-logs" and entry.target == "before"
    assert json.loads(entry.changes)["purged"] == [None, 30]
    everything = await owner.submit(logs, logs + "/purge", {"all": "yes", "confirm": "yes"})
    assert everything.status_code == 303 and await _count(dash, client_logs, app_id) == 0


async def test_follow_live_returns_only_newer_lines(dash: Dash, clock: FakeClock) -> None:
    app_id = await _app(dash)
    await _log(dash, app_id, "mara", "old line", clock.now - timedelta(minutes=1))
    owner = await dash.signed_in()
    logs = f"/apps/{app_id}/logs"
    page = await owner.get(logs, params={"identity": "mara", "follow": "1"})
    poller = re.search(
        r'<tbody id="live" hx-get="/dashboard([^"]+)" hx-trigger="every 3s" hx-swap="outerHTML">',
        page.text,
    )
    assert poller is not None and 'id="live-pause"' in page.text
    live = poller.group(1).replace("&amp;", "&")
    assert "identity=mara" in live
    nothing = await owner.get(live, headers={"HX-Request": "true"})
    assert nothing.status_code == 204

    clock.advance(seconds=5)
    await _log(dash, app_id, "mara", "new line", clock.now)
    await _log(dash, app_id, "olek", "other user", clock.now)
    fresh = await owner.get(live, headers={"HX-Request": "true"})
    assert fresh.status_code == 200 and "<html" not in fresh.text
    assert fresh.text.lstrip().startswith('<tbody id="live"')
    assert "new line" in fresh.text and "old line" not in fresh.text
    assert "other user" not in fresh.text
    following = re.search(r'hx-get="/dashboard([^"]+)"', fresh.text)
    assert following is not None
    again = await owner.get(following.group(1).replace("&amp;", "&"))
    assert again.status_code == 204
    # After an hour the poll stops (htmx stops polling on status 286) and offers to resume.
    clock.advance(minutes=61)
    ended = await owner.get(following.group(1).replace("&amp;", "&"))
    assert ended.status_code == 286 and 'id="live-ended"' in ended.text
    assert "follow=1" in ended.text and "hx-trigger" not in ended.text
    # Without follow=1 (paused) there is no poller; a garbled poll is refused.
    assert 'id="live"' not in (await owner.get(logs)).text
    assert (await owner.get(logs + "/live?after=x&at=y")).status_code == 400


async def test_auth_events_filters_export_purge_and_rights(dash: Dash, clock: FakeClock) -> None:
    app_id = await _app(dash)
    await _event(dash, app_id, "login", "OK", clock.now - timedelta(hours=3))
    await _event(dash, app_id, "login", "INVALID_CREDENTIALS", clock.now - timedelta(hours=2))
    await _event(dash, app_id, "register", "OK", clock.now - timedelta(hours=1))
    owner = await dash.signed_in()
    events = f"/apps/{app_id}/logs/auth-events"
    page = await owner.get(events)
    assert page.status_code == 200 and "INVALID_CREDENTIALS" in page.text
    assert page.text.index("register") < page.text.index("INVALID_CREDENTIALS")
    failed = await owner.get(events, params={"code": "invalid_credentials"})
    assert "INVALID_CREDENTIALS" in failed.text and "<td>register</td>" not in failed.text
    registered = await owner.get(events, params={"endpoint": "register"})
    assert "<td>register</td>" in registered.text and "INVALID_CREDENTIALS" not in registered.text
    exported = await owner.get(events + "/export", params={"endpoint": "login", "format": "json"})
    assert [r["code"] for r in exported.json()] == ["OK", "INVALID_CREDENTIALS"]
    assert 'filename="auth-events.json"' in exported.headers["content-disposition"]

    # Follow live works for auth events too.
    live_page = await owner.get(events, params={"follow": "1"})
    poller = re.search(r'<tbody id="live" hx-get="/dashboard([^"]+)"', live_page.text)
    assert poller is not None
    clock.advance(seconds=3)
    await _event(dash, app_id, "init", "APP_DISABLED", clock.now)
    fresh = await owner.get(poller.group(1).replace("&amp;", "&"))
    assert "APP_DISABLED" in fresh.text and "INVALID_CREDENTIALS" not in fresh.text

    purged = await owner.submit(events, events + "/purge", {"all": "yes", "confirm": "yes"})
    assert purged.status_code == 303 and await _count(dash, auth_events, app_id) == 0
    [entry] = await _entries(dash, "log.purge")
    assert entry.target_type == "auth-events" and entry.target == "all"

    # Rights: reading without export or purge; no CSRF, no purge.
    reader = await _staff(dash, ["log.list"])
    assert (await reader.get(events)).status_code == 200
    assert 'id="export-csv"' not in (await reader.get(events)).text
    assert (await reader.get(events + "/export")).status_code == 403
    assert (
        await reader.submit(events, events + "/purge", {"all": "yes", "confirm": "yes"})
    ).status_code == 403
    await _event(dash, app_id, "login", "OK", clock.now)
    assert (
        await owner.post(events + "/purge", {"all": "yes", "confirm": "yes"})
    ).status_code == 403
    assert await _count(dash, auth_events, app_id) == 1
    assert (await owner.get(f"/apps/{app_id}/logs/auth-events?since=never")).status_code == 400
