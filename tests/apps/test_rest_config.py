"""Chat (B.11), logs and auth events (B.12), versions (B.14), hashes (B.15) and rules (B.16)
through the management API, and what clients see after a change."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from licentia.services import admin
from licentia.store.tables import auth_events, chat_messages, client_logs
from tests.apps.conftest import Manage, assert_error, audit_rows, changes_of, config_rev


def _init(m: Manage, **extra: Any) -> dict[str, Any]:
    return {
        "owner_id": m.world.owner_id,
        "app_name": m.world.app_name,
        "secret": m.world.secret,
        "version": "1.0.0",
        **extra,
    }


async def _code(m: Manage, endpoint: str, body: dict[str, Any]) -> str:
    return str((await m.world.post(endpoint, body, check_signature=False)).json()["code"])


# -- chat --------------------------------------------------------------------------------


async def _messages(m: Manage, channel_id: str, user_id: str, name: str, count: int) -> None:
    now = m.rt.clock()
    async with m.rt.db.write() as conn:
        for i in range(count):
            await conn.execute(
                chat_messages.insert().values(
                    channel_id=channel_id,
                    app_id=m.app_id,
                    user_id=user_id,
                    username=name,
                    message=f"{name} {i}",
                    client_ip="198.51.100.1",
                    created_at=now + timedelta(seconds=i),
                )
            )


async def test_channels_messages_and_mutes(fm: Manage) -> None:
    base = f"/apps/{fm.app_id}"
    made = await fm.post(base + "/channels", {"name": "general", "send_delay": 3})
    assert made.status_code == 201, made.text
    channel = made.json()
    assert (channel["name"], channel["send_delay"], channel["message_count"]) == ("general", 3, 0)
    assert_error(await fm.post(base + "/channels", {"name": "GENERAL"}), 409, "ALREADY_EXISTS")
    assert_error(
        await fm.post(base + "/channels", {"name": "bad name"}), 400, "INVALID_INPUT", ["name"]
    )
    await fm.post(base + "/channels", {"name": "other"})
    edited = await fm.call(
        "PATCH", base + "/channels/general", json_body={"name": "main", "max_messages": 50}
    )
    assert (edited.json()["name"], edited.json()["max_messages"]) == ("main", 50)
    assert_error(
        await fm.call("PATCH", base + "/channels/main", json_body={"name": "OTHER"}),
        409,
        "ALREADY_EXISTS",
    )
    assert_error(
        await fm.call("PATCH", base + "/channels/main", json_body={"name": "a b"}),
        400,
        "INVALID_INPUT",
        ["name"],
    )
    assert_error(
        await fm.call("PATCH", base + "/channels/nope", json_body={"send_delay": 1}),
        404,
        "CHANNEL_NOT_FOUND",
    )
    [entry] = await audit_rows(fm, "channel.edit")
    assert changes_of(entry) == {"name": ["general", "main"], "max_messages": [10000, 50]}
    names = [c["name"] for c in (await fm.get(base + "/channels")).json()["items"]]
    assert names == ["main", "other"]

    user = await admin.create_user(fm.rt, fm.app_id, "chatty", "pw", "Premium", lifetime=True)
    await admin.create_user(fm.rt, fm.app_id, "quiet", "pw", "Premium", lifetime=True)
    await _messages(fm, channel["id"], user.id, "chatty", 3)
    await _messages(fm, channel["id"], "someone", "quiet", 1)
    page = (await fm.get(base + "/channels/main/messages", params={"limit": 2})).json()
    assert [i["message"] for i in page["items"]] == ["quiet 0", "chatty 2"]
    rest = (
        await fm.get(
            base + "/channels/main/messages", params={"limit": 2, "cursor": page["next_cursor"]}
        )
    ).json()
    assert [i["message"] for i in rest["items"]] == ["chatty 1", "chatty 0"]
    assert rest["next_cursor"] is None
    assert_error(
        await fm.get(base + "/channels/main/messages", params={"cursor": "x"}),
        400,
        "INVALID_INPUT",
        ["cursor"],
    )
    one = page["items"][1]["id"]
    deleted = (await fm.call("DELETE", f"{base}/messages/{one}")).json()
    assert deleted["deleted"] is True and deleted["message"] == "chatty 2"
    assert (await fm.call("DELETE", f"{base}/messages/{one}")).status_code == 200
    assert len(await audit_rows(fm, "channel.delete_message")) == 1
    assert_error(await fm.call("DELETE", f"{base}/messages/999999999"), 404, "MESSAGE_NOT_FOUND")
    by_user = await fm.post(base + "/messages/delete-by-user", {"username": "CHATTY"})
    assert by_user.json() == {"count": 2}
    visible = (await fm.get(base + "/channels/main/messages")).json()["items"]
    assert [i["username"] for i in visible] == ["quiet"]
    assert_error(
        await fm.post(base + "/messages/delete-by-user", {"username": "ghost"}),
        404,
        "USER_NOT_FOUND",
    )
    assert (await fm.post(base + "/channels/main/clear")).json() == {"count": 4}

    mute = await fm.post(
        base + "/mutes",
        {"username": "chatty", "channel": "main", "reason": "spam"},
    )
    assert mute.status_code == 201, mute.text
    assert (mute.json()["channel"], mute.json()["expires_at"]) == ("main", None)
    past = (fm.rt.clock() - timedelta(days=1)).isoformat()
    await fm.post(base + "/mutes", {"username": "quiet", "expires_at": past})
    mutes = (await fm.get(base + "/mutes")).json()["items"]
    assert [(i["username"], i["reason"]) for i in mutes] == [("chatty", "spam")]
    assert_error(
        await fm.post(base + "/mutes", {"username": "chatty", "channel": "nope"}),
        404,
        "CHANNEL_NOT_FOUND",
    )
    unmuted = await fm.call("DELETE", base + "/mutes/chatty", params={"channel": "main"})
    assert unmuted.json() == {"count": 1}
    assert (await fm.get(base + "/mutes")).json()["items"] == []
    assert (await fm.call("DELETE", base + "/channels/main")).status_code == 204
    assert_error(await fm.call("DELETE", base + "/channels/main"), 404, "CHANNEL_NOT_FOUND")
    [entry] = await audit_rows(fm, "channel.delete")
    assert changes_of(entry)["name"] == ["main", None]


# -- logs and auth events ----------------------------------------------------------------


async def test_logs_and_auth_events(fm: Manage) -> None:
    base = f"/apps/{fm.app_id}"
    now = fm.rt.clock()
    async with fm.rt.db.write() as conn:
        for i in range(3):
            await conn.execute(
                client_logs.insert().values(
                    app_id=fm.app_id,
                    session_prefix="abcd1234",
                    identity_kind="user",
                    identity_name="mara" if i else "=cmd",
                    client_ip="203.0.113.9" if i == 2 else "198.51.100.1",
                    message=f"Started step {i}",
                    created_at=now - timedelta(days=10 - i),
                )
            )
            await conn.execute(
                auth_events.insert().values(
                    app_id=fm.app_id,
                    endpoint="login",
                    code="OK" if i else "INVALID_PASSWORD",
                    identity="mara",
                    client_ip="198.51.100.1",
                    created_at=now - timedelta(days=10 - i),
                )
            )
    logs = (await fm.get(base + "/logs")).json()
    assert [i["message"] for i in logs["items"]] == [f"Started step {i}" for i in (2, 1, 0)]
    assert (await fm.get(base + "/logs", params={"ip": "203.0.113.9"})).json()["items"][0][
        "message"
    ] == "Started step 2"
    assert len((await fm.get(base + "/logs", params={"text": "STEP 1"})).json()["items"]) == 1
    assert len((await fm.get(base + "/logs", params={"identity": "MARA"})).json()["items"]) == 2
    since = (now - timedelta(days=9, hours=1)).isoformat()
    assert len((await fm.get(base + "/logs", params={"since": since})).json()["items"]) == 2
    page = (await fm.get(base + "/logs", params={"limit": 2})).json()
    more = (await fm.get(base + "/logs", params={"cursor": page["next_cursor"]})).json()
    assert [i["message"] for i in more["items"]] == ["Started step 0"]
    assert_error(
        await fm.get(base + "/auth-events", params={"cursor": page["next_cursor"]}),
        400,
        "INVALID_INPUT",
        ["cursor"],
    )
    events = (await fm.get(base + "/auth-events", params={"code": "invalid_password"})).json()
    assert [e["code"] for e in events["items"]] == ["INVALID_PASSWORD"]

    exported = await fm.get(base + "/logs/export", params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["x-total-count"] == "3"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[0]["identity"] == "'=cmd" and rows[0]["message"] == "Started step 0"
    as_json = json.loads((await fm.get(base + "/auth-events/export?format=json")).text)
    assert [e["code"] for e in as_json] == ["INVALID_PASSWORD", "OK", "OK"]
    assert_error(
        await fm.get(base + "/logs/export", params={"format": "xml"}), 400, "INVALID_INPUT"
    )

    assert_error(await fm.post(base + "/logs/purge", {}), 400, "INVALID_INPUT")
    cut = (now - timedelta(days=8, hours=12)).isoformat()
    assert (await fm.post(base + "/logs/purge", {"before": cut})).json() == {"count": 2}
    assert (await fm.post(base + "/auth-events/purge", {"all": True})).json() == {"count": 3}
    assert (await fm.get(base + "/auth-events")).json()["items"] == []
    assert len((await fm.get(base + "/logs")).json()["items"]) == 1
    entries = await audit_rows(fm, "log.purge")
    assert [changes_of(e)["purged"][1] for e in entries] == [2, 3]


# -- versions ----------------------------------------------------------------------------


async def test_version_rules_settings_and_test(fm: Manage) -> None:
    base = f"/apps/{fm.app_id}"
    patched = await fm.call(
        "PATCH",
        base + "/version-settings",
        json_body={"latest_version": "2.0.0", "changelog": "a < b"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["latest_version"] == "2.0.0" and patched.json()["warnings"]
    assert_error(
        await fm.call("PATCH", base + "/version-settings", json_body={"reminder_message": "x=y"}),
        400,
        "INVALID_INPUT",
        ["reminder_message"],
    )
    # Seen by clients at once: 1.0.0 is now too old.
    body = _init(fm)
    assert await _code(fm, "init", body) == "UPDATE_REQUIRED"

    async def test(version: str) -> dict[str, Any]:
        response = await fm.get(base + "/versions/test", params={"version": version})
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert (await test("1.0.0"))["outcome"] == "UPDATE_REQUIRED"
    assert (await test("2.0.0"))["outcome"] == "pass"
    assert (await test("3.0"))["http_status"] == 426

    until = (fm.rt.clock() + timedelta(days=3)).isoformat()
    added = await fm.post(
        base + "/versions", {"version": "1.0.0", "mode": "temporary", "allowed_until": until}
    )
    assert added.status_code == 201, added.text
    assert added.json()["mode"] == "grace"
    assert await _code(fm, "init", body) == "OK"
    graced = await test("1.0")
    assert (graced["outcome"], graced["rule"], graced["code"]) == ("grace", "1.0.0", "OK")
    assert graced["allowed_until"] is not None
    assert_error(await fm.post(base + "/versions", {"version": "1.0"}), 409, "ALREADY_EXISTS")
    assert_error(
        await fm.post(base + "/versions", {"version": "1.1", "mode": "grace"}),
        400,
        "INVALID_INPUT",
        ["allowed_until"],
    )
    edited = await fm.call("PATCH", base + "/versions/1.0", json_body={"mode": "reminder"})
    assert (edited.json()["mode"], edited.json()["allowed_until"]) == ("reminder", None)
    assert (await test("1.0.0"))["outcome"] == "reminder"
    assert_error(
        await fm.call("PATCH", base + "/versions/9.9", json_body={"mode": "block"}),
        404,
        "VERSION_NOT_FOUND",
    )
    listed = (await fm.get(base + "/versions")).json()
    assert [v["version"] for v in listed["items"]] == ["1.0.0"]
    assert listed["settings"]["latest_version"] == "2.0.0"
    assert (await fm.call("DELETE", base + "/versions/1.0.0")).status_code == 204
    assert_error(await fm.call("DELETE", base + "/versions/1.0.0"), 404, "VERSION_NOT_FOUND")
    [entry] = await audit_rows(fm, "version.edit")
    assert changes_of(entry)["mode"] == ["grace", "reminder"]


# -- hashes ------------------------------------------------------------------------------


async def test_hashes(fm: Manage) -> None:
    base = f"/apps/{fm.app_id}"
    value = "AB" * 32
    added = await fm.post(base + "/hashes", {"hash": value, "note": "v1"})
    assert added.status_code == 201, added.text
    assert (added.json()["hash"], added.json()["note"]) == ("ab" * 32, "v1")
    assert_error(await fm.post(base + "/hashes", {"hash": value}), 409, "ALREADY_EXISTS")
    assert_error(await fm.post(base + "/hashes", {"hash": "xyz"}), 400, "INVALID_INPUT", ["hash"])
    assert (await fm.post(base + "/hash-check/enable")).json() == {"hash_check": True}
    assert await _code(fm, "init", _init(fm)) == "HASH_REQUIRED"
    assert await _code(fm, "init", _init(fm, hash="ab" * 32)) == "OK"
    listed = (await fm.get(base + "/hashes")).json()
    assert listed["hash_check"] is True and [h["hash"] for h in listed["items"]] == ["ab" * 32]
    assert (await fm.post(base + "/hash-check/enable")).json() == {"hash_check": True}
    assert len(await audit_rows(fm, "hash.enable")) == 1
    assert (await fm.call("DELETE", base + f"/hashes/{value}")).status_code == 204
    assert await _code(fm, "init", _init(fm, hash="ab" * 32)) == "INVALID_HASH"
    assert_error(await fm.call("DELETE", base + f"/hashes/{value}"), 404, "HASH_NOT_FOUND")
    assert (await fm.post(base + "/hash-check/disable")).json() == {"hash_check": False}
    assert await _code(fm, "init", _init(fm)) == "OK"


# -- rules -------------------------------------------------------------------------------


async def test_rules_are_seen_by_clients_at_once(fm: Manage) -> None:
    base = f"/apps/{fm.app_id}"
    assert await _code(fm, "init", _init(fm)) == "OK"
    rev = await config_rev(fm)
    added = await fm.post(base + "/rules", {"kind": "ip", "value": "203.0.113.0/24"})
    assert added.status_code == 201 and added.json()["created"] is True
    assert await config_rev(fm) == rev + 1
    assert await _code(fm, "init", _init(fm)) == "IP_BLOCKED"
    again = await fm.post(base + "/rules", {"kind": "ip", "value": "203.0.113.9/24"})
    assert again.json()["created"] is False and await config_rev(fm) == rev + 1
    assert len(await audit_rows(fm, "rule.add")) == 1
    check = (await fm.get(base + "/rules/check", params={"ip": "203.0.113.24"})).json()
    assert (check["blacklisted"], check["reason"]) == (True, "IP_BLOCKED")
    removed = await fm.call(
        "DELETE", base + "/rules", params={"kind": "ip", "value": "203.0.113.0/24"}
    )
    assert removed.status_code == 204
    assert await _code(fm, "init", _init(fm)) == "OK"
    assert_error(
        await fm.call("DELETE", base + "/rules", params={"kind": "ip", "value": "1.2.3.4"}),
        404,
        "RULE_NOT_FOUND",
    )


async def test_rule_import_vpn_countries_and_check(fm: Manage) -> None:
    base = f"/apps/{fm.app_id}"
    entries = [
        {"kind": "ip", "value": "10.0.0.0/8"},
        {"kind": "sid", "value": "SID-BAD", "list": "deny", "note": "abuse"},
        {"kind": "ip", "value": "not-an-ip"},
    ]
    refused = await fm.post(base + "/rules/import", {"entries": entries})
    assert_error(refused, 400, "INVALID_INPUT", ["entries.2"])
    assert (await fm.get(base + "/rules")).json()["items"] == []
    imported = await fm.post(base + "/rules/import", {"entries": entries[:2] * 2})
    assert imported.json() == {"added": 2, "existing": 2}
    again = await fm.post(base + "/rules/import", {"entries": entries[:1]})
    assert again.json() == {"added": 0, "existing": 1}
    listed = (await fm.get(base + "/rules")).json()
    assert [(r["kind"], r["value"]) for r in listed["items"]] == [
        ("ip", "10.0.0.0/8"),
        ("sid", "SID-BAD"),
    ]
    sids = (await fm.get(base + "/rules", params={"kind": "sid"})).json()["items"]
    assert [r["note"] for r in sids] == ["abuse"]

    check = (await fm.get(base + "/rules/check", params={"sid": "sid-bad"})).json()
    assert (check["blacklisted"], check["reason"]) == (True, "SID_BLOCKED")
    clean = (await fm.get(base + "/rules/check", params={"ip": "192.0.2.1"})).json()
    assert (clean["blacklisted"], clean["reason"]) == (False, None)
    assert_error(
        await fm.get(base + "/rules/check", params={"ip": "nope"}), 400, "INVALID_INPUT", ["ip"]
    )

    countries = await fm.call("PUT", base + "/rules/countries", json_body={"countries": ["us"]})
    assert countries.json() == {"vpn_block": False, "blocked_countries": ["US"]}
    assert_error(
        await fm.call("PUT", base + "/rules/countries", json_body={"countries": ["USA"]}),
        400,
        "INVALID_INPUT",
    )
    blocked = (
        await fm.get(base + "/rules/check", params={"ip": "192.0.2.1", "country": "us"})
    ).json()
    assert (blocked["blacklisted"], blocked["reason"]) == (True, "COUNTRY_BLOCKED")
    vpn = await fm.call("PUT", base + "/rules/vpn", json_body={"enabled": True})
    assert vpn.json()["vpn_block"] is True
    assert (await fm.get(base + "/rules")).json()["vpn_block"] is True
    [entry] = await audit_rows(fm, "rule.set_countries")
    assert changes_of(entry) == {"blocked_countries": [[], ["US"]]}
    # blacklist/check on a live session gives the same verdict as rule check.
    session = await fm.world.init()
    body = {"session_id": session, "hwid": "SID-BAD"}
    response = await fm.world.post("blacklist/check", body, check_signature=False)
    assert response.json()["reason"] == "SID_BLOCKED"
