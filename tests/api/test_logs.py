"""`logs` (2.10): one client log line per call, stored with its context."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from licentia.store.tables import client_logs
from tests.api.conftest import Api, expect_error, expect_ok


async def stored_logs(api: Api) -> list[Any]:
    async with api.rt.db.read() as conn:
        query = (
            select(client_logs).where(client_logs.c.app_id == api.app_id).order_by(client_logs.c.id)
        )
        return list((await conn.execute(query)).all())


async def test_success_shape_and_record(api: Api) -> None:
    session = await api.init()
    api.clock.advance(5)
    text = "Started \U0001f680 with <args> & more = 'x'\n\tdetail"
    r = await api.post("logs", {"session_id": session, "message": text})
    assert set(expect_ok(r, "logs")) == {"code", "message", "success"}
    (row,) = await stored_logs(api)
    assert (row.message, row.session_prefix, row.identity_kind, row.identity_name) == (
        text,
        session[:8],
        "none",
        "",
    )
    assert (row.client_ip, row.created_at) == ("203.0.113.24", api.clock.now)


async def test_reported_ip_is_recorded(api: Api) -> None:
    session = await api.init(ip="198.51.100.8")
    expect_ok(await api.post("logs", {"session_id": session, "message": "m"}), "logs")
    (row,) = await stored_logs(api)
    assert row.reported_ip == "198.51.100.8"


@pytest.mark.parametrize("kind", ["user", "license", "device"])
async def test_identity_is_recorded(api: Api, kind: str) -> None:
    if kind == "user":
        session, _, _ = await api.register("mara")
        name = "mara"
    elif kind == "license":
        name = await api.key()
        session, _ = await api.activate(name)
    else:
        await api.device("motherboard", "MB-LOG")
        session = await api.init()
        r = await api.post(
            "device-auth",
            {"session_id": session, "device_type": "motherboard", "device_id": "mb-log"},
        )
        expect_ok(r, "device-auth")
        name = "MB-LOG"
    expect_ok(await api.post("logs", {"session_id": session, "message": "hello"}), "logs")
    row = (await stored_logs(api))[-1]
    assert (row.identity_kind, row.identity_name) == (kind, name)


async def test_message_limit(api: Api) -> None:
    session = await api.init()
    expect_ok(
        await api.post("logs", {"session_id": session, "message": "\U0001f600" * 2000}), "logs"
    )
    r = await api.post("logs", {"session_id": session, "message": "\U0001f600" * 2001})
    expect_error(r, "INVALID_INPUT", fields=["message"])
    expect_error(
        await api.post("logs", {"session_id": session}), "MISSING_FIELDS", fields=["message"]
    )
    assert len(await stored_logs(api)) == 1
