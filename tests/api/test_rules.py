"""Network rules (2.0.1) and SID rules (2.0.2) on the identity endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from licentia.services import admin_rules
from tests.api.conftest import IDENTITY_ENDPOINTS, Api, expect_error


def attempt(endpoint: str, session: str, sid: str | None = "SID-R") -> dict[str, Any]:
    """A request that reaches the rules and, without them, fails at the entity lookup."""
    rest = {
        "login": {"username": "nobody", "password": "x"},
        "licenses": {"license_key": "NOPE"},
        "register": {"username": "newbie", "password": "x", "key": "NOPE"},
        "extend": {"username": "nobody", "license_key": "NOPE"},
        "device-auth": {"device_type": "processor", "device_id": "NOPE"},
    }[endpoint]
    body = {"session_id": session, **rest}
    if sid is not None:
        body["sid"] = sid
    return body


LOOKUP_FAILURE = {
    "login": "USER_NOT_FOUND",
    "licenses": "LICENSE_NOT_FOUND",
    "register": "LICENSE_NOT_FOUND",
    "extend": "USER_NOT_FOUND",
    "device-auth": "PROCESSOR_NOT_FOUND",
}


async def add_ip(api: Api, value: str, which: str = "deny") -> None:
    await admin_rules.add_ip_rule(api.rt, api.app_id, value, which)


async def add_sid(api: Api, value: str, which: str = "deny") -> None:
    await admin_rules.add_sid_rule(api.rt, api.app_id, value, which)


@pytest.mark.parametrize("endpoint", IDENTITY_ENDPOINTS)
async def test_ip_rules(api: Api, endpoint: str) -> None:
    session = await api.init()
    expect_error(await api.post(endpoint, attempt(endpoint, session)), LOOKUP_FAILURE[endpoint])
    await add_ip(api, "198.51.100.0/24", "allow")
    expect_error(await api.post(endpoint, attempt(endpoint, session)), "IP_BLOCKED")
    await add_ip(api, "203.0.113.24", "allow")
    expect_error(await api.post(endpoint, attempt(endpoint, session)), LOOKUP_FAILURE[endpoint])
    await add_ip(api, "203.0.113.16/28", "deny")
    await add_sid(api, "SID-R", "deny")
    expect_error(
        await api.post(endpoint, attempt(endpoint, session)), "IP_BLOCKED"
    )  # network first


@pytest.mark.parametrize("endpoint", IDENTITY_ENDPOINTS)
async def test_sid_deny_list(api: Api, endpoint: str) -> None:
    session = await api.init()
    await add_sid(api, "sid-r", "deny")  # compared case-insensitively
    expect_error(await api.post(endpoint, attempt(endpoint, session, "SID-R")), "SID_BLOCKED")
    expect_error(
        await api.post(endpoint, attempt(endpoint, session, "SID-OTHER")), LOOKUP_FAILURE[endpoint]
    )


@pytest.mark.parametrize("endpoint", IDENTITY_ENDPOINTS)
async def test_sid_allow_list(api: Api, endpoint: str) -> None:
    session = await api.init()
    await add_sid(api, "SID-GOOD", "allow")
    expect_error(
        await api.post(endpoint, attempt(endpoint, session, "SID-R")), "SID_NOT_WHITELISTED"
    )
    expect_error(
        await api.post(endpoint, attempt(endpoint, session, "sid-good")), LOOKUP_FAILURE[endpoint]
    )
    await add_sid(api, "SID-GOOD", "deny")
    expect_error(await api.post(endpoint, attempt(endpoint, session, "SID-GOOD")), "SID_BLOCKED")


@pytest.mark.parametrize("endpoint", ["register", "extend", "device-auth"])
async def test_no_sid_skips_the_deny_list_but_not_the_allow_list(api: Api, endpoint: str) -> None:
    session = await api.init()
    await add_sid(api, "SID-R", "deny")
    expect_error(
        await api.post(endpoint, attempt(endpoint, session, None)), LOOKUP_FAILURE[endpoint]
    )
    await add_sid(api, "SID-GOOD", "allow")
    expect_error(await api.post(endpoint, attempt(endpoint, session, None)), "SID_NOT_WHITELISTED")


async def test_login_without_sid_and_an_allow_list(api: Api) -> None:
    await api.set("hwid_lock", False)
    await add_sid(api, "SID-GOOD", "allow")
    session = await api.init()
    expect_error(await api.post("login", attempt("login", session, None)), "SID_NOT_WHITELISTED")
    expect_error(
        await api.post("licenses", attempt("licenses", session, None)), "SID_NOT_WHITELISTED"
    )


async def test_rules_added_after_init_apply_at_once(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    await api.login("mara", "pw", sid="S1", session=session)
    await add_ip(api, "203.0.113.24")
    body = {"session_id": session, "username": "mara", "password": "pw", "sid": "S1"}
    expect_error(await api.post("login", body), "IP_BLOCKED")
    # Non-identity endpoints are not blocked by network rules.
    expect_error(
        await api.post("variables", {"session_id": session, "var_key": "x"}), "VARIABLE_NOT_FOUND"
    )


class TestVpnAndCountry:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "vpn.txt"
        path.write_text("198.51.100.0/24\n")
        return {
            "vpn_list": str(path),
            "trusted_proxies": "203.0.113.24",
            "country_header": "x-country",
        }

    @pytest.mark.parametrize("endpoint", IDENTITY_ENDPOINTS)
    async def test_vpn_and_country(self, api: Api, endpoint: str) -> None:
        session = await api.init()
        await api.set("vpn_block", True)
        await api.set("blocked_countries", "KP")
        via_vpn = {"x-forwarded-for": "198.51.100.20"}
        expect_error(
            await api.post(endpoint, attempt(endpoint, session), headers=via_vpn), "VPN_BLOCKED"
        )
        from_kp = {"x-forwarded-for": "192.0.2.20", "x-country": "KP"}
        expect_error(
            await api.post(endpoint, attempt(endpoint, session), headers=from_kp), "COUNTRY_BLOCKED"
        )
        elsewhere = {"x-forwarded-for": "192.0.2.20", "x-country": "FR"}
        r = await api.post(endpoint, attempt(endpoint, session), headers=elsewhere)
        expect_error(r, LOOKUP_FAILURE[endpoint])
