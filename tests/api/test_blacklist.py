"""`blacklist/check` (2.14): the rules evaluated without blocking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from licentia.services import admin_rules
from tests.api.conftest import Api, expect_ok


async def call(api: Api, session: str, **fields: Any) -> dict[str, Any]:
    r = await api.post("blacklist/check", {"session_id": session, **fields})
    assert r.status_code == 200
    body = r.json()
    assert (body["success"], body["code"]) == (True, "OK")
    if body["blacklisted"]:
        assert set(body) == {"blacklisted", "code", "message", "reason", "success"}
    else:
        assert body == {
            "blacklisted": False,
            "code": "OK",
            "message": "Login success",
            "success": True,
        }
    return body  # type: ignore[no-any-return]


async def test_nothing_blocks(api: Api) -> None:
    session = await api.init()
    await call(api, session)
    await call(api, session, hwid="SID-1", ip="198.51.100.1")


@pytest.mark.parametrize("field", ["hwid", "sid"])
async def test_sid_blocked(api: Api, field: str) -> None:
    await admin_rules.add_sid_rule(api.rt, api.app_id, "bad-sid", "deny")
    session, _, _ = await api.register("mara")  # a logged-in session, as the SDKs call it
    body = await call(api, session, **{field: "BAD-SID"})
    assert (body["blacklisted"], body["reason"], body["message"]) == (
        True,
        "SID_BLOCKED",
        "This system is blocked",
    )
    assert not (await call(api, session, **{field: "good-sid"}))["blacklisted"]
    # Only evaluated: the session goes on.
    expect_ok(await api.post("validate-session", {"session_id": session}), "validate-session")


async def test_sid_not_whitelisted(api: Api) -> None:
    await admin_rules.add_sid_rule(api.rt, api.app_id, "GOOD", "allow")
    session = await api.init()
    body = await call(api, session)
    assert (body["reason"], body["message"]) == (
        "SID_NOT_WHITELISTED",
        "This system is not whitelisted",
    )
    assert (await call(api, session, hwid="other"))["reason"] == "SID_NOT_WHITELISTED"
    assert not (await call(api, session, hwid="good"))["blacklisted"]


async def test_client_ip_blocked(api: Api) -> None:
    session = await api.init()
    await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "deny")
    await admin_rules.add_sid_rule(api.rt, api.app_id, "BAD", "deny")
    body = await call(api, session, hwid="BAD")  # network rules come first
    assert (body["reason"], body["message"]) == ("IP_BLOCKED", "Your IP address is blocked")
    body = await call(
        api, session, ip="not an ip"
    )  # an invalid body IP falls back to the client IP
    assert body["reason"] == "IP_BLOCKED"


@pytest.mark.parametrize("field", ["ip", "ip_address"])
async def test_body_ip_is_tested(api: Api, field: str) -> None:
    await admin_rules.add_ip_rule(api.rt, api.app_id, "198.51.100.0/24", "deny")
    session = await api.init()
    assert (await call(api, session, **{field: "198.51.100.9"}))["reason"] == "IP_BLOCKED"
    assert not (await call(api, session, **{field: "192.0.2.1"}))["blacklisted"]
    assert not (await call(api, session))["blacklisted"]


async def test_custom_messages(api: Api) -> None:
    await admin_rules.set_custom_message(api.rt, api.app_id, "SID_BLOCKED", "Machine refused")
    await admin_rules.set_custom_message(api.rt, api.app_id, "OK.blacklist/check", "All clear")
    await admin_rules.add_sid_rule(api.rt, api.app_id, "BAD", "deny")
    session = await api.init()
    body = (await api.post("blacklist/check", {"session_id": session, "hwid": "BAD"})).json()
    assert (body["message"], body["reason"], body["code"]) == (
        "Machine refused",
        "SID_BLOCKED",
        "OK",
    )
    r = await api.post("blacklist/check", {"session_id": session})
    assert expect_ok(r, "blacklist/check", message="All clear")["blacklisted"] is False


class TestVpn:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "vpn.txt"
        path.write_text("198.51.100.0/24\n")
        return {"vpn_list": str(path)}

    async def test_vpn(self, api: Api) -> None:
        await api.set("vpn_block", True)
        session = await api.init()
        body = await call(api, session, ip="198.51.100.20")
        assert (body["reason"], body["message"]) == (
            "VPN_BLOCKED",
            "VPN and proxy connections are not allowed",
        )
        assert not (await call(api, session))["blacklisted"]
