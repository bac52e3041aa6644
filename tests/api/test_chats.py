"""`chats/get` (2.11) and `chats/send` (2.12)."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any

import pytest

from licentia.services import admin_content
from tests.api.conftest import Api, expect_error, expect_ok, iso

CURSOR = re.compile(r"^[A-Za-z0-9_-]+$")


async def send(api: Api, session: str, message: str, channel: str = "general") -> dict[str, Any]:
    r = await api.post(
        "chats/send", {"session_id": session, "channel_name": channel, "message": message}
    )
    return expect_ok(r, "chats/send")["data"]  # type: ignore[no-any-return]


async def get(api: Api, session: str, channel: str = "general", **extra: Any) -> dict[str, Any]:
    r = await api.post("chats/get", {"session_id": session, "channel_name": channel, **extra})
    body = expect_ok(r, "chats/get")
    data, chats = body["data"], body["chats"]
    # `chats` mirrors `data` without `pagination`; `pagination` repeats the page state.
    assert chats == {k: v for k, v in data.items() if k != "pagination"}
    assert set(chats) == {"channel_name", "count", "has_more", "messages", "next_cursor"}
    assert data["pagination"]["has_more"] == data["has_more"]
    assert data["pagination"]["next_cursor"] == data["next_cursor"]
    assert data["count"] == len(data["messages"])
    assert data["has_more"] == (data["next_cursor"] != "")
    if data["next_cursor"]:
        assert CURSOR.match(data["next_cursor"]) and len(data["next_cursor"]) <= 128
    for message in data["messages"]:
        assert set(message) == {"created_at", "id", "message", "username"}
    return data  # type: ignore[no-any-return]


async def test_send_success_shape(api: Api) -> None:
    await api.channel("general")
    session, _, _ = await api.register("xela")
    body = expect_ok(
        await api.post(
            "chats/send",
            {"session_id": session, "channel_name": "General", "message": "  hello everyone "},
        ),
        "chats/send",
    )
    assert set(body) == {"code", "data", "message", "success"}
    data = body["data"]
    assert set(data) == {"channel_name", "created_at", "id", "message", "username"}
    assert (data["channel_name"], data["message"], data["username"]) == (
        "general",
        "  hello everyone ",
        "xela",
    )
    assert data["created_at"] == iso(api.clock.now) and isinstance(data["id"], int)


async def test_pagination(api: Api) -> None:
    await api.channel("general", send_delay=0)
    await api.channel("other", send_delay=0)
    mara, _, _ = await api.register("mara")
    xela, _, _ = await api.register("xela", sid="SID-X")
    sent = []
    for index in range(5):
        api.clock.advance(10)
        sent.append(await send(api, mara if index % 2 else xela, f"message {index}"))
        await send(api, mara, "elsewhere", channel="other")
    ids = [m["id"] for m in sent]
    assert ids == sorted(ids) and len(set(ids)) == 5
    plain = await api.init()  # reading needs no login
    page = await get(api, plain, "GENERAL", limit=2)
    assert page["channel_name"] == "general" and page["pagination"]["limit"] == 2
    seen = []
    while True:
        seen.extend(page["messages"])
        assert page["count"] <= 2
        if not page["has_more"]:
            break
        page = await get(api, plain, limit="2", cursor=page["next_cursor"])
    assert [m["id"] for m in seen] == ids[::-1]
    assert [m["message"] for m in seen] == [f"message {i}" for i in range(4, -1, -1)]
    assert seen[0] == {
        "created_at": sent[4]["created_at"],
        "id": sent[4]["id"],
        "message": "message 4",
        "username": "xela",
    }
    assert (page["next_cursor"], page["has_more"], page["pagination"]["next_cursor"]) == (
        "",
        False,
        "",
    )


async def test_exact_last_page_and_default_limit(api: Api) -> None:
    await api.channel("general", send_delay=0)
    session, _, _ = await api.register("mara")
    for index in range(4):
        await send(api, session, f"m{index}")
    first = await get(api, session, limit=2)
    second = await get(api, session, limit=2, cursor=first["next_cursor"])
    assert (second["count"], second["has_more"], second["next_cursor"]) == (2, False, "")
    whole = await get(api, session)
    assert (whole["pagination"]["limit"], whole["count"], whole["has_more"]) == (50, 4, False)


async def test_empty_channel(api: Api) -> None:
    await api.channel("quiet")
    session = await api.init()
    page = await get(api, session, "quiet")
    assert (page["messages"], page["count"], page["has_more"], page["next_cursor"]) == (
        [],
        0,
        False,
        "",
    )


async def test_channel_not_found(api: Api) -> None:
    await api.channel("general")
    other = await api.other_world()
    await other.channel("theirs")
    session, _, _ = await api.register("mara")
    for name in ("generall", "theirs"):
        expect_error(
            await api.post("chats/get", {"session_id": session, "channel_name": name}),
            "CHANNEL_NOT_FOUND",
        )
        r = await api.post(
            "chats/send", {"session_id": session, "channel_name": name, "message": "x"}
        )
        expect_error(r, "CHANNEL_NOT_FOUND")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "MTA0MQ=",
        "abc",
        base64.urlsafe_b64encode(b"-5").decode().rstrip("="),
        base64.urlsafe_b64encode(b"12x").decode().rstrip("="),
        "A" * 129,
        "MTA0MQ\u00e9",
    ],
    ids=[
        "punctuation",
        "padded",
        "not-digits",
        "negative",
        "trailing-text",
        "too-long",
        "non-ascii",
    ],
)
async def test_bad_cursor(api: Api, cursor: str) -> None:
    await api.channel("general")
    session = await api.init()
    r = await api.post(
        "chats/get", {"session_id": session, "channel_name": "general", "cursor": cursor}
    )
    expect_error(r, "INVALID_INPUT", fields=["cursor"])


async def test_bad_cursor_is_a_field_error_before_the_session(api: Api) -> None:
    r = await api.post(
        "chats/get", {"session_id": "0" * 64, "channel_name": "general", "cursor": "!!"}
    )
    expect_error(r, "INVALID_INPUT", fields=["cursor"])


async def test_empty_cursor_is_the_first_page(api: Api) -> None:
    await api.channel("general")
    session, _, _ = await api.register("mara")
    await send(api, session, "hi")
    assert (await get(api, session, cursor=""))["count"] == 1


@pytest.mark.parametrize("kind", ["none", "license", "device"])
async def test_username_not_linked(api: Api, kind: str) -> None:
    await api.channel("general")
    session = await api.init()
    if kind == "license":
        await api.activate(await api.key(), session=session)
    elif kind == "device":
        await api.device("processor", "CPU-C")
        r = await api.post(
            "device-auth", {"session_id": session, "device_type": "processor", "device_id": "CPU-C"}
        )
        expect_ok(r, "device-auth")
    for channel in ("general", "no-such-channel"):  # checked before the channel
        r = await api.post(
            "chats/send", {"session_id": session, "channel_name": channel, "message": "hi"}
        )
        expect_error(r, "USERNAME_NOT_LINKED")


async def test_user_muted_in_channel(api: Api) -> None:
    await api.channel("general", send_delay=0)
    await api.channel("other", send_delay=0)
    session, _, _ = await api.register("mara")
    until = api.clock.now + timedelta(minutes=10)
    await admin_content.mute_user(api.rt, api.app_id, "mara", "general", until)
    r = await api.post(
        "chats/send", {"session_id": session, "channel_name": "general", "message": "hi"}
    )
    body = expect_error(r, "USER_MUTED")
    assert body["muted_until"] == iso(until)
    assert set(body) == {"code", "message", "muted_until", "success"}
    await send(api, session, "fine here", channel="other")
    expect_error(
        await api.post(
            "chats/send", {"session_id": session, "channel_name": "nope", "message": "x"}
        ),
        "CHANNEL_NOT_FOUND",
    )
    api.clock.advance(600)
    await send(api, session, "back")


async def test_user_muted_app_wide_permanently(api: Api) -> None:
    await api.channel("general", send_delay=0)
    await api.channel("other", send_delay=0)
    session, _, _ = await api.register("mara")
    await admin_content.mute_user(api.rt, api.app_id, "mara", None, None)
    for channel in ("general", "other"):
        r = await api.post(
            "chats/send", {"session_id": session, "channel_name": channel, "message": "hi"}
        )
        assert expect_error(r, "USER_MUTED")["muted_until"] == "9999-12-31T23:59:59Z"
    await get(api, session)  # reading is still allowed


async def test_send_delay(api: Api) -> None:
    await api.channel("general")  # default send_delay: 2 seconds
    await api.channel("fast", send_delay=0)
    await api.channel("other")
    mara, _, _ = await api.register("mara")
    tom, _, _ = await api.register("tom", sid="SID-T")
    await send(api, mara, "one")
    r = await api.post(
        "chats/send", {"session_id": mara, "channel_name": "general", "message": "two"}
    )
    assert expect_error(r, "RATE_LIMITED")["retry_after"] == 2
    await send(api, tom, "tom may")  # per user
    await send(api, mara, "other channel", channel="other")  # per channel
    await send(api, mara, "a", channel="fast")
    await send(api, mara, "b", channel="fast")  # 0 disables
    api.clock.advance(1)
    r = await api.post(
        "chats/send", {"session_id": mara, "channel_name": "general", "message": "two"}
    )
    assert expect_error(r, "RATE_LIMITED")["retry_after"] == 1
    api.clock.advance(1)
    await send(api, mara, "two")


async def test_mute_comes_before_the_send_delay(api: Api) -> None:
    await api.channel("general", send_delay=60)
    session, _, _ = await api.register("mara")
    await send(api, session, "one")
    await admin_content.mute_user(
        api.rt, api.app_id, "mara", "general", api.clock.now + timedelta(minutes=5)
    )
    r = await api.post(
        "chats/send", {"session_id": session, "channel_name": "general", "message": "two"}
    )
    expect_error(r, "USER_MUTED")


async def test_message_limits(api: Api) -> None:
    await api.channel("general", send_delay=0)
    session, _, _ = await api.register("mara")
    await send(api, session, "\U0001f600" * 500)
    r = await api.post(
        "chats/send", {"session_id": session, "channel_name": "general", "message": "x" * 501}
    )
    expect_error(r, "INVALID_INPUT", fields=["message"])


async def test_deleted_messages_are_skipped(api: Api) -> None:
    from sqlalchemy import update

    from licentia.store.tables import chat_messages

    await api.channel("general", send_delay=0)
    session, _, _ = await api.register("mara")
    kept = [await send(api, session, f"m{i}") for i in range(3)]
    async with api.rt.db.write() as conn:
        await conn.execute(
            update(chat_messages).where(chat_messages.c.id == kept[1]["id"]).values(deleted=True)
        )
    first = await get(api, session, limit=1)
    second = await get(api, session, limit=1, cursor=first["next_cursor"])
    assert [first["messages"][0]["id"], second["messages"][0]["id"]] == [
        kept[2]["id"],
        kept[0]["id"],
    ]
    assert (second["has_more"], second["next_cursor"]) == (False, "")
