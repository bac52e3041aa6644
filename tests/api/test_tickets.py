"""Offline tickets (Licentia extension, docs/tickets.md): `ticket`, `ticket/check`, files."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licentia.crypto import tickets
from licentia.services import (
    admin_apps,
    admin_identities,
    admin_licenses,
    admin_rules,
    signing_keys,
)
from licentia.services import tickets as ticket_service
from licentia.services.admin_common import AdminError
from tests.api.conftest import Api, expect_error, expect_ok


def _keys(pem: str) -> dict[str, Ed25519PublicKey]:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    from licentia.crypto.signing import kid_of

    return {kid_of(raw): key}


async def _user_session(api: Api, ttl: int = 3600) -> str:
    await api.set("offline_ticket_ttl", ttl)
    await api.user("xela", "pw-xela", days=10)
    return await api.login("xela", "pw-xela", sid="SID-X")


async def test_ticket_for_a_user_session_carries_the_claims(api: Api) -> None:
    session = await _user_session(api)
    body = expect_ok(await api.post("ticket", {"session_id": session}), "ticket")
    ticket = body["ticket"]
    assert ticket.startswith("licentia-ticket.v1.") and "=" not in ticket
    claims = tickets.verify(ticket, _keys(api.world.pem))
    now = int(api.clock().timestamp())
    assert claims["typ"] == "session" and claims["sid"] == "SID-X"
    assert claims["app"] == {"id": api.app_id, "name": api.app_name, "owner_id": api.owner_id}
    assert claims["identity"]["kind"] == "user" and claims["identity"]["name"] == "xela"
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 3600)
    (sub,) = claims["subscriptions"]
    assert sub["name"] == "Premium" and sub["level"] == 2 and sub["lifetime"] is False
    assert body["expires_at"] == tickets_time(now + 3600)


def tickets_time(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_ticket_never_outlives_the_identity(api: Api) -> None:
    await api.set("offline_ticket_ttl", 30 * 86400)
    await api.user("short", "pw-short", days=2)
    session = await api.login("short", "pw-short", sid="SID-S")
    body = expect_ok(await api.post("ticket", {"session_id": session}), "ticket")
    claims = tickets.verify(body["ticket"], _keys(api.world.pem))
    assert claims["exp"] == int(api.clock().timestamp()) + 2 * 86400


async def test_ticket_refused_when_off_or_without_identity(api: Api) -> None:
    session = await api.init()
    expect_error(await api.post("ticket", {"session_id": session}), "TICKETS_DISABLED")
    await api.set("offline_ticket_ttl", 60)
    expect_error(await api.post("ticket", {"session_id": session}), "LOGIN_REQUIRED")
    expect_error(await api.post("ticket", {}), "MISSING_FIELDS", fields=["session_id"])


@pytest.mark.parametrize("ttl", [-1, 30 * 86400 + 1])
async def test_ttl_bounds(api: Api, ttl: int) -> None:
    with pytest.raises(AdminError):
        await admin_apps.set_app_setting(api.rt, api.app_id, "offline_ticket_ttl", ttl)


async def test_license_and_device_tickets(api: Api) -> None:
    await api.set("offline_ticket_ttl", 600)
    key = await api.key(days=30)
    session, _ = await api.activate(key, sid="SID-L")
    body = expect_ok(await api.post("ticket", {"session_id": session}), "ticket")
    claims = tickets.verify(body["ticket"], _keys(api.world.pem))
    assert claims["identity"]["kind"] == "license" and claims["identity"]["name"] == key
    await api.device("processor", "CPU-9")
    session = await api.init()
    ok = await api.post(
        "device-auth", {"session_id": session, "device_type": "processor", "device_id": "CPU-9"}
    )
    assert ok.status_code == 200
    body = expect_ok(await api.post("ticket", {"session_id": session}), "ticket")
    claims = tickets.verify(body["ticket"], _keys(api.world.pem))
    assert claims["identity"]["device_type"] == "processor"
    check = await api.post("ticket/check", {"ticket": body["ticket"]})
    assert expect_ok(check, "ticket/check")["identity_type"] == "device"


async def test_check_refuses_banned_identity_and_expired_ticket(api: Api) -> None:
    session = await _user_session(api, ttl=600)
    ticket = (await api.post("ticket", {"session_id": session})).json()["ticket"]
    body = expect_ok(
        await api.post("ticket/check", {"ticket": ticket, "sid": "sid-x"}), "ticket/check"
    )
    assert body["valid"] is True and body["identity_type"] == "user"
    expect_error(
        await api.post("ticket/check", {"ticket": ticket, "sid": "OTHER"}), "INVALID_TICKET"
    )
    await admin_identities.ban_user(api.rt, api.app_id, "xela")
    expect_error(await api.post("ticket/check", {"ticket": ticket}), "USER_BANNED")
    await admin_identities.unban_user(api.rt, api.app_id, "xela")
    api.clock.advance(601)
    expect_error(await api.post("ticket/check", {"ticket": ticket}), "TICKET_EXPIRED")


def _tamper(ticket: str) -> str:
    head, _, sig = ticket.rpartition(".")
    payload = json.loads(base64.urlsafe_b64decode(head.split(".")[2] + "=="))
    payload["sid"] = "FORGED"
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return "licentia-ticket.v1." + tickets.b64url(raw) + "." + sig


async def test_check_refuses_forged_and_malformed(api: Api) -> None:
    session = await _user_session(api)
    ticket = (await api.post("ticket", {"session_id": session})).json()["ticket"]
    for bad in (_tamper(ticket), ticket + "A", "licentia-ticket.v2.e30.AA", "x" * 5000, "a.b"):
        response = await api.post("ticket/check", {"ticket": bad})
        code = "INVALID_INPUT" if len(bad) > 4096 else "INVALID_TICKET"
        expect_error(response, code)


async def test_check_honours_required_request_signature(api: Api) -> None:
    session = await _user_session(api)
    ticket = (await api.post("ticket", {"session_id": session})).json()["ticket"]
    await api.set("require_request_signature", True)
    expect_error(await api.post("ticket/check", {"ticket": ticket}), "INVALID_REQUEST_SIGNATURE")


async def test_license_file_binds_activates_and_checks(api: Api) -> None:
    key = await api.key(days=90)
    made = await ticket_service.license_file(api.rt, api.app_id, key, "HW-AIR-1", 30)
    claims = tickets.verify(made.ticket, _keys(api.world.pem))
    now = int(api.clock().timestamp())
    assert claims["typ"] == "license-file" and claims["sid"] == "HW-AIR-1"
    assert claims["exp"] == now + 30 * 86400
    state = await admin_licenses.get_license(api.rt, api.app_id, key)
    assert state.status == "active"
    # The same HWID again is fine; a second machine exceeds the key's device limit of 1.
    await ticket_service.license_file(api.rt, api.app_id, key, "hw-air-1", 400)
    with pytest.raises(AdminError) as err:
        await ticket_service.license_file(api.rt, api.app_id, key, "HW-AIR-2", 30)
    assert err.value.code == "DEVICE_LIMIT_REACHED"
    expect_ok(await api.post("ticket/check", {"ticket": made.ticket}), "ticket/check")
    # A blocked machine, then an HWID reset, end the file's online validity.
    await admin_rules.add_sid_rule(api.rt, api.app_id, "hw-air-1", "deny")
    expect_error(await api.post("ticket/check", {"ticket": made.ticket}), "SID_BLOCKED")
    await admin_rules.remove_sid_rule(api.rt, api.app_id, "HW-AIR-1", "deny")
    await admin_licenses.reset_license_hwid(api.rt, api.app_id, key)
    expect_error(await api.post("ticket/check", {"ticket": made.ticket}), "INVALID_TICKET")
    await ticket_service.license_file(api.rt, api.app_id, key, "HW-AIR-1", 30)
    expect_ok(await api.post("ticket/check", {"ticket": made.ticket}), "ticket/check")
    await admin_licenses.ban_license(api.rt, api.app_id, key)
    expect_error(await api.post("ticket/check", {"ticket": made.ticket}), "LICENSE_BANNED")
    with pytest.raises(AdminError) as err:
        await ticket_service.license_file(api.rt, api.app_id, key, "HW-AIR-1", 30)
    assert err.value.code == "LICENSE_BANNED"


@pytest.mark.parametrize(
    ("hwid", "days", "field"),
    [
        ("", 5, "hwid"),
        ("a<b", 5, "hwid"),
        ("ß" * 100, 5, "hwid"),
        ("HW", 0, "days"),
        ("HW", 36_501, "days"),
    ],
)
async def test_license_file_input(api: Api, hwid: str, days: int, field: str) -> None:
    key = await api.key()
    with pytest.raises(AdminError) as err:
        await ticket_service.license_file(api.rt, api.app_id, key, hwid, days)
    assert err.value.fields == [field]
    assert (await admin_licenses.get_license(api.rt, api.app_id, key)).status == "unused"


async def test_retired_key_still_verifies(api: Api) -> None:
    session = await _user_session(api)
    ticket = (await api.post("ticket", {"session_id": session})).json()["ticket"]
    assert tickets.split(ticket)[1]["kid"] in await signing_keys.public_keys(api.rt)
