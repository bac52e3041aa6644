"""licentia-client against the real server app, in process (httpx transport injection)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from licentia_client import (
    AccountStateError,
    AppError,
    BlockedError,
    CredentialError,
    ForbiddenError,
    NotFoundError,
    OfflineTicketError,
    RequestRejectedError,
    ResponseError,
    SessionError,
    TicketRejectedError,
    TicketStore,
    TransportError,
    UpdateRequiredError,
    verify_ticket,
)
from sqlalchemy import func, select

from licentia.services import admin_content, admin_identities, admin_rules
from licentia.store.tables import chat_messages, users
from tests.api.conftest import Api
from tests.client.conftest import Wire, make_client


async def test_every_endpoint_typed(api: Api, wire: Wire) -> None:
    await admin_content.set_variable(api.rt, api.app_id, "motd", "hello", writable=True)
    await api.channel("general", send_delay=0)
    await api.device("motherboard", "MB-LC")
    key, extra = await api.key(days=30), await api.key(days=10)
    async with make_client(api, wire) as lc:
        init = await lc.init()
        assert len(init.session_id) == 64 and init.update is None
        reg = await lc.register("mara", "pw-mara", key, email="m@example.com", hwid="HW-1")
        assert reg.profile.kind == "user" and reg.profile.username == "mara"
        assert reg.profile.subscription == "Premium" and reg.profile.subscription_level == 2
        login = await lc.login("mara", "pw-mara", hwid="HW-1")
        assert login.session_id == init.session_id and login.profile.current_devices == 1
        status = await lc.validate_session()
        assert status.valid and status.identity_type == "user" and status.profile is not None
        assert (await lc.get_variable("motd")).value == "hello"
        assert (await lc.set_variable("motd", "bye")).value == "bye"
        assert await lc.log("started") == "Log saved successfully"
        sent = await lc.send_chat("general", "hi all")
        assert sent.username == "mara" and sent.id > 0
        page = await lc.get_chats("general", limit=10)
        assert [m.message for m in page.messages] == ["hi all"] and not page.has_more
        assert not (await lc.check_blacklist(hwid="HW-1")).blacklisted
        ext = await lc.extend("mara", extra)
        assert ext.time_added_seconds == 10 * 86400
        assert await lc.change_password("pw-mara", "pw-new") == "Password changed successfully"
        await lc.init()
        lic = await lc.license_login(await api.key(), hwid="HW-2")
        assert lic.profile.kind == "license" and lic.profile.username == lic.profile.license_key
        await lc.init()
        dev = await lc.device_auth("motherboard", "MB-LC")
        assert dev.profile.kind == "device" and dev.profile.username == "MB-LC"
        key_info = await lc.fetch_public_key()
        assert key_info["pem"] == api.world.pem


async def test_error_tree(api: Api, wire: Wire) -> None:
    async with make_client(api, wire) as client:
        with pytest.raises(ResponseError) as not_init:
            await client.validate_session()
        assert not_init.value.code == "NOT_INITIALIZED"
        await client.init()
        with pytest.raises(NotFoundError) as missing:
            await client.login("nobody", "x", hwid="H")
        assert missing.value.code == "USER_NOT_FOUND" and missing.value.status == 404
        await api.user("xela", "pw-xela")
        with pytest.raises(CredentialError):
            await client.login("xela", "wrong", hwid="H")
        with pytest.raises(SessionError) as login_required:
            await client.set_variable("motd", "x")
        assert login_required.value.code == "LOGIN_REQUIRED"
        await admin_rules.add_sid_rule(api.rt, api.app_id, "BAD-PC", "deny")
        with pytest.raises(BlockedError) as blocked:
            await client.login("xela", "pw-xela", hwid="bad-pc")
        assert blocked.value.code == "SID_BLOCKED" and blocked.value.status == 403
        await client.login("xela", "pw-xela", hwid="H")
        await api.channel("quiet", send_delay=0)
        await admin_identities.ban_user(api.rt, api.app_id, "xela")
        with pytest.raises(SessionError):
            await client.send_chat("quiet", "x")
    await api.set("latest_version", "2.0.0")
    async with make_client(api, wire) as old:
        with pytest.raises(UpdateRequiredError) as update:
            await old.init()
        assert update.value.status == 426 and update.value.update["latest_version"] == "2.0.0"
    await api.set("latest_version", "")
    async with make_client(api, wire, secret="0" * 64) as bad:
        with pytest.raises(AppError) as wrong_secret:
            await bad.init()
        assert wrong_secret.value.code == "INVALID_SECRET"


async def test_signature_always_checked(api: Api, wire: Wire) -> None:
    other = await api.other_world()
    from licentia.crypto.signing import SigningKey

    stranger = SigningKey.generate().pem
    async with make_client(api, wire, public_key=stranger) as client:
        with pytest.raises(ResponseError) as bad_key:
            await client.init()
        assert bad_key.value.code == "AUTH_INVALID_SIGNATURE"

    def swap_echo(response: httpx.Response) -> httpx.Response:
        headers = dict(response.headers)
        headers["x-v2-nonce"] = "0" * 32
        return httpx.Response(response.status_code, headers=headers, content=response.content)

    def alter_body(response: httpx.Response) -> httpx.Response:
        body = json.loads(response.content)
        body["message"] = "forged"
        content = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        return httpx.Response(response.status_code, headers=headers, content=content)

    for alter, code in (
        (swap_echo, "AUTH_REQUEST_MISMATCH"),
        (alter_body, "AUTH_INVALID_SIGNATURE"),
    ):
        wire.alter = alter
        async with make_client(api, wire) as client:
            with pytest.raises(ResponseError) as err:
                await client.init()
            assert err.value.code == code
    wire.alter = None
    assert other.app_id != api.app_id


async def test_request_hmac_when_required(api: Api, wire: Wire) -> None:
    await api.set("require_request_signature", True)
    async with make_client(api, wire, sign_requests=False) as unsigned:
        with pytest.raises(RequestRejectedError) as err:
            await unsigned.init()
        assert err.value.code == "INVALID_REQUEST_SIGNATURE"
    async with make_client(api, wire) as signed:
        await signed.init()
        assert (await signed.validate_session()).valid
    assert "x-v2-signature" in wire.sent[-1].headers


async def test_retry_reuses_the_nonce(api: Api, wire: Wire) -> None:
    """The first answer is lost after the server registered the user: the retry carries the
    same nonce and gets the stored success, not LICENSE_IN_USE or USERNAME_TAKEN."""
    key = await api.key()
    async with make_client(api, wire) as client:
        await client.init()
        wire.lose_answers = 1
        result = await client.register("retry", "pw-retry", key, hwid="HW-R")
        assert result.profile.username == "retry"
        first, second = wire.sent[-2], wire.sent[-1]
        assert first.headers["x-v2-nonce"] == second.headers["x-v2-nonce"]
        assert first.content == second.content
        wire.lose_answers = 1
        await api.channel("general", send_delay=0)
        await client.send_chat("general", "once")
        # An unsigned 503 from a proxy in between is retried too, with the same nonce.
        wire.alter = lambda r: httpx.Response(503, content=b"<html>busy</html>")
        with pytest.raises(TransportError):
            await client.validate_session()
        nonces = {r.headers["x-v2-nonce"] for r in wire.sent[-3:]}
        assert len(nonces) == 1 and wire.sent[-3].content == wire.sent[-1].content
        wire.alter = None
        wire.lose_answers = 5
        with pytest.raises(TransportError) as lost:
            await client.validate_session()
        assert lost.value.code == "NETWORK_ERROR"
    async with api.rt.db.read() as conn:
        count = await conn.execute(select(func.count()).select_from(users))
        assert count.scalar_one() >= 1
        sent = await conn.execute(
            select(func.count()).select_from(chat_messages).where(chat_messages.c.message == "once")
        )
        assert sent.scalar_one() == 1


async def test_ticket_online_then_offline(api: Api, wire: Wire, tmp_path: Path) -> None:
    await api.set("offline_ticket_ttl", 3600)
    await api.user("off", "pw-off", days=5)
    store = TicketStore(tmp_path / "app" / "ticket.lic")
    async with make_client(api, wire) as client:
        await client.init()
        await client.login("off", "pw-off", hwid="HW-OFF")
        issued = await client.fetch_ticket()
        store.save(issued.ticket)
        assert (tmp_path / "app" / "ticket.lic").stat().st_mode & 0o777 == 0o600
        claims = client.start_offline(store, hwid="hw-off")
        assert claims.identity_name == "off" and claims.subscriptions[0].name == "Premium"
        assert (await client.check_ticket(issued.ticket, hwid="HW-OFF")).valid
        with pytest.raises(OfflineTicketError) as wrong:
            client.start_offline(store, hwid="OTHER")
        assert wrong.value.code == "TICKET_WRONG_MACHINE"
        with pytest.raises(OfflineTicketError) as late:
            verify_ticket(issued.ticket, [api.world.pem], now=claims.expires_at)
        assert late.value.code == "TICKET_EXPIRED"
        with pytest.raises(OfflineTicketError) as other_app:
            verify_ticket(issued.ticket, [api.world.pem], app_name="Elsewhere")
        assert other_app.value.code == "TICKET_WRONG_APP"
        await admin_identities.ban_user(api.rt, api.app_id, "off")
        with pytest.raises(AccountStateError) as banned:
            await client.check_ticket(issued.ticket)
        assert banned.value.code == "USER_BANNED"
        head, _, sig = issued.ticket.rpartition(".")
        forged = head + "." + sig[:10] + ("B" if sig[10] == "A" else "A") + sig[11:]
        with pytest.raises(TicketRejectedError):
            await client.check_ticket(forged)
    store.clear()
    with pytest.raises(OfflineTicketError) as none:
        client.start_offline(store)
    assert none.value.code == "TICKET_MISSING"


async def test_chat_mute_error_carries_until(api: Api, wire: Wire) -> None:
    await api.channel("general", send_delay=0)
    key = await api.key()
    async with make_client(api, wire) as client:
        await client.init()
        await client.register("loud", "pw-loud", key, hwid="H")
        await admin_content.mute_user(api.rt, api.app_id, "loud", None)
        with pytest.raises(ForbiddenError) as muted:
            await client.send_chat("general", "hi")
        assert muted.value.code == "USER_MUTED" and muted.value.muted_until
