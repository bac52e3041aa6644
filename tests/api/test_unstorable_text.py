"""Client input never makes a write fail (issue #14): lone surrogates, NUL, non-characters.

Regression: a failed call whose recorded fields held a lone surrogate (`"\\ud800"` in the JSON
body) logged `UnicodeEncodeError` under "could not record the failed call" and lost its auth
event; PostgreSQL also refuses NUL in text. What can be stored is stored: a lone surrogate and
NUL become U+FFFD, non-characters such as U+FFFF are kept. The bodies are sent with
`json.dumps` (ASCII escapes), so the server's JSON parser produces the lone surrogates itself.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import pytest
from sqlalchemy import select

from licentia.store.tables import auth_events, chat_messages, client_logs, variables
from licentia.store.textsafe import storable

from .conftest import Api

BAD = {"surrogate": "\ud800", "nul": "\x00", "nonchar": "\uffff"}
STORED = {"\ud800": "\ufffd", "\x00": "\ufffd", "\uffff": "\uffff"}


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: "\ud800" travels as an escape


async def post(api: Api, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.send(
        "POST", f"/api/v2/{endpoint}", content=raw(body), endpoint=endpoint, signed=False
    )
    assert response.status_code < 500, response.text
    return response.json()  # type: ignore[no-any-return]


async def rows(api: Api, table: Any, where: Any = None) -> list[Any]:
    async with api.rt.db.read() as conn:
        query = select(table)
        if where is not None:
            query = query.where(where)
        return list((await conn.execute(query.order_by(table.c.id))).all())


def no_recording_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


@pytest.mark.parametrize("ch", list(BAD.values()), ids=list(BAD))
async def test_every_recorded_auth_event_field(
    api: Api, ch: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    key = await api.key()
    await api.user("mara", "pw-mara")
    session = await api.init()
    sent: list[tuple[str, str, dict[str, Any]]] = [
        ("login", f"mara{ch}", {"username": f"mara{ch}", "password": f"pw{ch}", "sid": f"S{ch}"}),
        ("login", "mara", {"username": "mara", "password": f"pw{ch}", "hwid": f"S{ch}"}),
        ("licenses", f"K{ch}", {"license_key": f"K{ch}", "sid": f"S{ch}"}),
        (
            "register",
            f"new{ch}",
            {"username": f"new{ch}", "password": f"p{ch}", "key": key, "email": f"a{ch}@b.c"},
        ),
        ("register", "new2", {"username": "new2", "password": "p", "key": f"K{ch}"}),
        ("extend", f"mara{ch}", {"username": f"mara{ch}", "license_key": f"K{ch}"}),
        ("device-auth", f"MB{ch}", {"device_type": "motherboard", "device_id": f"MB{ch}"}),
    ]
    for endpoint, _, fields in sent:
        await post(api, endpoint, {"session_id": session, **fields})
    app_name = f"App{secrets.token_hex(4)}{ch}"
    await post(api, "init", {**api.creds(), "app_name": app_name, "version": "1.0.0"})
    await post(api, "init", {**api.creds(), "version": f"1.0{ch}"})
    no_recording_errors(caplog)
    events = await rows(api, auth_events, auth_events.c.app_id == api.app_id)
    recorded = [(e.endpoint, e.identity) for e in events if e.endpoint != "init"]
    assert recorded == [(e, i.replace(ch, STORED[ch])) for e, i, _ in sent]
    unresolved = await rows(api, auth_events, auth_events.c.identity == storable(app_name))
    assert [e.endpoint for e in unresolved] == ["init"]  # the app name did not resolve
    for event in events:
        for value in event._mapping.values():
            assert not isinstance(value, str) or ("\x00" not in value and "\ud800" not in value)


@pytest.mark.parametrize("ch", list(BAD.values()), ids=list(BAD))
async def test_stored_content_from_client_input(
    api: Api, ch: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    await api.user("mara", "pw-mara")
    await api.channel("general")
    session = await api.login("mara", "pw-mara")
    await post(api, "logs", {"session_id": session, "message": f"log {ch} line"})
    await post(
        api, "chats/send", {"session_id": session, "channel_name": "general", "message": f"hi{ch}"}
    )
    await post(
        api, "variables/set", {"session_id": session, "var_key": "v1", "var_value": f"x{ch}"}
    )
    await post(api, "variables/set", {"session_id": session, "var_key": f"v{ch}", "var_value": "x"})
    await post(api, "chats/get", {"session_id": session, "channel_name": f"general{ch}"})
    await post(api, "variables", {"session_id": session, "var_key": f"v{ch}"})
    no_recording_errors(caplog)
    texts = [r.message for r in await rows(api, client_logs, client_logs.c.app_id == api.app_id)]
    texts += [
        r.message for r in await rows(api, chat_messages, chat_messages.c.app_id == api.app_id)
    ]
    texts += [r.value for r in await rows(api, variables, variables.c.app_id == api.app_id)]
    for text in texts:
        assert "\x00" not in text and "\ud800" not in text
    if ch == "\uffff":  # a non-character is valid UTF-8 and kept as sent
        assert texts and all(ch in t for t in texts), texts
