"""`init` (2.1): app lookup, secret, request HMAC (0.8), app state, network rules (2.0.1),
version control, hash check, and the session it creates."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from licentia.services import admin_apps, admin_rules
from licentia.store.tables import apps, sessions
from tests.api.conftest import Api, expect_error, expect_ok, hmac_signature, iso, new_nonce

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def body_of(api: Api, **extra: Any) -> dict[str, Any]:
    return {**api.creds(), "version": "1.0.0", **extra}


# -- success -----------------------------------------------------------------------------


async def test_success_shape(api: Api) -> None:
    r = await api.post(
        "init", body_of(api, version="v1.0-rc1", hash="UNKNOWN_HASH", ip="198.51.100.3")
    )
    body = expect_ok(r, "init")
    assert set(body) == {
        "app_name",
        "code",
        "message",
        "owner_id",
        "session_id",
        "success",
        "version",
    }
    assert HEX64.match(body["session_id"])
    assert (body["owner_id"], body["app_name"], body["version"]) == (
        api.owner_id,
        api.app_name,
        "v1.0-rc1",
    )
    row = await api.session_row(body["session_id"])
    assert row is not None and row.app_id == api.app_id and row.identity_kind == "none"
    assert (row.client_ip, row.reported_ip, row.client_version, row.client_hash) == (
        "203.0.113.24",
        "198.51.100.3",
        "v1.0-rc1",
        "UNKNOWN_HASH",
    )
    assert row.prefix == body["session_id"][:8]
    assert row.id_hash == hashlib.sha256(body["session_id"].encode()).hexdigest()


async def test_each_init_creates_a_new_session(api: Api) -> None:
    assert len({await api.init() for _ in range(3)}) == 3


# -- app lookup and secret ---------------------------------------------------------------


async def test_owner_not_found(api: Api) -> None:
    expect_error(await api.post("init", body_of(api, owner_id="00000000")), "OWNER_NOT_FOUND")
    r = await api.post("init", body_of(api, owner_id="99999999", secret="wrong", app_name="nope"))
    expect_error(r, "OWNER_NOT_FOUND")


@pytest.mark.parametrize(
    "transform",
    [str.upper, str.lower, lambda s: s + "x", lambda s: s[:-1]],
    ids=["upper", "lower", "suffix", "prefix"],
)
async def test_app_not_found_name_is_case_sensitive(api: Api, transform: Any) -> None:
    expect_error(
        await api.post("init", body_of(api, app_name=transform(api.app_name))), "APP_NOT_FOUND"
    )


async def test_app_of_another_owner_is_not_found(api: Api) -> None:
    other = await api.other_world()
    r = await api.post("init", body_of(api, app_name=other.app_name, secret=other.secret))
    expect_error(r, "APP_NOT_FOUND")


async def test_invalid_secret(api: Api) -> None:
    other = await api.other_world()
    expect_error(await api.post("init", body_of(api, secret="x" * 64)), "INVALID_SECRET")
    expect_error(await api.post("init", body_of(api, secret=other.secret)), "INVALID_SECRET")
    expect_error(await api.post("init", body_of(api, secret=api.secret.upper())), "INVALID_SECRET")


async def test_app_disabled(api: Api) -> None:
    await api.set("is_enabled", False)
    expect_error(await api.post("init", body_of(api)), "APP_DISABLED")
    expect_error(await api.post("init", body_of(api, secret="wrong")), "INVALID_SECRET")
    await api.set("is_enabled", True)
    expect_ok(await api.post("init", body_of(api)), "init")


async def test_owner_suspended_disables_the_app(api: Api) -> None:
    await admin_apps.set_owner_status(api.rt, api.owner_id, "suspended")
    expect_error(await api.post("init", body_of(api)), "APP_DISABLED")
    await admin_apps.set_owner_status(api.rt, api.owner_id, "active")
    expect_ok(await api.post("init", body_of(api)), "init")


# -- request signature (0.8) -------------------------------------------------------------


def signed_request(
    api: Api, body: dict[str, Any], *, secret: str | None = None, header: str = "x-v2-signature"
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = str(body.get("timestamp", ""))
    signature = hmac_signature(
        secret or api.secret, ts, body.get("request_id", ""), body.get("nonce", ""), raw
    )
    return raw, {header: signature}


def meta_body(api: Api, **extra: Any) -> dict[str, Any]:
    stamp = int(api.clock.now.timestamp() * 1000)
    return body_of(api, timestamp=stamp, request_id=new_nonce(), nonce=new_nonce(), **extra)


@pytest.mark.parametrize("header", ["x-v2-signature", "x-auth-signature"])
async def test_valid_request_signature(api: Api, header: str) -> None:
    body = meta_body(api)
    raw, headers = signed_request(api, body, header=header)
    expect_ok(await api.post("init", body, content=raw, headers=headers), "init")


async def test_valid_signature_with_metadata_in_headers_only(api: Api) -> None:
    # The C++ SDK: metadata only in headers, HMAC over the raw body as sent.
    body = body_of(api)
    raw = json.dumps(body, separators=(",", ":")).encode()
    ts, rid, nonce = str(int(api.clock.now.timestamp() * 1000)), new_nonce(), new_nonce()
    headers = {
        "x-v2-timestamp": ts,
        "x-v2-request-id": rid,
        "x-v2-nonce": nonce,
        "x-v2-signature": hmac_signature(api.secret, ts, rid, nonce, raw),
    }
    expect_ok(await api.post("init", body, content=raw, headers=headers), "init")


async def test_valid_signature_without_metadata(api: Api) -> None:
    body = body_of(api)
    raw, headers = signed_request(api, body)
    expect_ok(await api.post("init", body, content=raw, headers=headers), "init")


@pytest.mark.parametrize(
    "case",
    ["other-body", "wrong-secret", "not-base64", "truncated"],
)
async def test_invalid_request_signature(api: Api, case: str) -> None:
    body = meta_body(api)
    raw, headers = signed_request(api, body)
    if case == "other-body":
        _, headers = signed_request(api, {**body, "version": "2.0.0"})
    elif case == "wrong-secret":
        _, headers = signed_request(api, body, secret="not-the-secret")
    elif case == "not-base64":
        headers = {"x-v2-signature": "!!! not base64 !!!"}
    else:
        headers = {"x-v2-signature": headers["x-v2-signature"][:20]}
    expect_error(
        await api.post("init", body, content=raw, headers=headers), "INVALID_REQUEST_SIGNATURE"
    )


async def test_signature_is_checked_after_the_secret_and_before_app_state(api: Api) -> None:
    body = meta_body(api)
    raw = json.dumps(body).encode()
    bad = {"x-v2-signature": "AAAA"}
    wrong_secret = meta_body(api, secret="wrong")
    expect_error(
        await api.post(
            "init", wrong_secret, content=json.dumps(wrong_secret).encode(), headers=bad
        ),
        "INVALID_SECRET",
    )
    await api.set("is_enabled", False)
    expect_error(
        await api.post("init", body, content=raw, headers=bad), "INVALID_REQUEST_SIGNATURE"
    )


async def test_required_request_signature(api: Api) -> None:
    await api.set("require_request_signature", True)
    expect_error(await api.post("init", body_of(api)), "INVALID_REQUEST_SIGNATURE")
    body = meta_body(api)
    raw, headers = signed_request(api, body)
    expect_ok(await api.post("init", body, content=raw, headers=headers), "init")


def test_hmac_test_vector_computes() -> None:
    vector = VECTOR
    got = hmac_signature(
        vector["secret"],
        vector["timestamp"],
        vector["request_id"],
        vector["nonce"],
        vector["body"].encode(),
    )
    assert got == vector["signature"]


VECTOR = {
    "secret": "e12a0b9f3ed2716bdaaa0a9189243cfe2d0cb55992f2e853b747fc65175501cb",
    "timestamp": "1776081600000",
    "request_id": "5d0c8e2a7f1b4c3d9e6a0b1c2d3e4f5a",
    "nonce": "c4a1e9d7b2f0386a5e1d4c7b9a2f6e08",
    "session_id": "979cad1aaaddf4c1a903ded408615fa8c438a3bfeee95472a13f606a86aaeda3",
    "body": '{"nonce":"c4a1e9d7b2f0386a5e1d4c7b9a2f6e08",'
    '"request_id":"5d0c8e2a7f1b4c3d9e6a0b1c2d3e4f5a",'
    '"session_id":"979cad1aaaddf4c1a903ded408615fa8c438a3bfeee95472a13f606a86aaeda3",'
    '"timestamp":1776081600000}',
    "signature": "7iNMVguTFfOtbqMYukYaJ6cVFwo1f6xezdscaaw01bs=",
}


async def test_hmac_test_vector_is_accepted_by_the_server(api: Api) -> None:
    """0.8's vector end to end: the vector's secret and session, at the vector's time."""
    api.clock.now = datetime(2026, 4, 13, 12, 0, 0, tzinfo=UTC)
    async with api.rt.db.write() as conn:
        await conn.execute(
            update(apps)
            .where(apps.c.id == api.app_id)
            .values(
                secret_enc=api.rt.box.encrypt(VECTOR["secret"].encode(), admin_apps.SECRET_PURPOSE),
                config_rev=apps.c.config_rev + 1,
            )
        )
        await conn.execute(
            sessions.insert().values(
                id_hash=hashlib.sha256(VECTOR["session_id"].encode()).hexdigest(),
                prefix=VECTOR["session_id"][:8],
                app_id=api.app_id,
                identity_kind="none",
                created_at=api.clock.now,
                last_seen_at=api.clock.now,
            )
        )
    await api.set("require_request_signature", True)
    raw = VECTOR["body"].encode()
    r = await api.post(
        "validate-session",
        json.loads(raw),
        content=raw,
        headers={"x-v2-signature": VECTOR["signature"]},
    )
    body = expect_ok(r, "validate-session")
    assert (body["valid"], body["identity_type"]) == (True, "none")
    assert r.headers["x-v2-request-id"] == VECTOR["request_id"]
    assert r.headers["x-v2-nonce"] == VECTOR["nonce"]
    # One changed byte (a space) breaks it; a fresh nonce keeps the replay check out of the way.
    other = raw.replace(VECTOR["nonce"].encode(), b"d" * 32).replace(
        b',"session_id"', b', "session_id"'
    )
    r = await api.post(
        "validate-session",
        json.loads(other),
        content=other,
        headers={"x-v2-signature": VECTOR["signature"]},
    )
    expect_error(r, "INVALID_REQUEST_SIGNATURE")


# -- network rules (2.0.1) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "blocked"),
    [
        ([("203.0.113.24", "deny")], True),
        ([("203.0.113.0/24", "deny")], True),
        ([("203.0.112.0/23", "deny")], True),
        ([("203.0.113.25", "deny")], False),
        ([("::ffff:0:0/96", "deny")], False),
        ([("198.51.100.0/24", "allow")], True),
        ([("203.0.113.24", "allow")], False),
        ([("203.0.113.0/24", "allow"), ("203.0.113.24", "deny")], True),
        ([("2001:db8::/32", "allow")], True),
    ],
    ids=[
        "deny-ip",
        "deny-cidr",
        "deny-wider",
        "deny-other",
        "deny-ipv6",
        "allow-other",
        "allow-us",
        "deny-beats-allow",
        "allow-only-ipv6",
    ],
)
async def test_ip_rules(api: Api, rules: list[tuple[str, str]], blocked: bool) -> None:
    for value, which in rules:
        await admin_rules.add_ip_rule(api.rt, api.app_id, value, which)
    r = await api.post("init", body_of(api))
    if blocked:
        expect_error(r, "IP_BLOCKED")
    else:
        expect_ok(r, "init")


async def test_network_rules_come_after_app_state_and_before_versions(api: Api) -> None:
    await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "deny")
    await api.set("latest_version", "2.0.0")
    expect_error(await api.post("init", body_of(api)), "IP_BLOCKED")
    await api.set("is_enabled", False)
    expect_error(await api.post("init", body_of(api)), "APP_DISABLED")


async def test_body_ip_is_not_used_for_rules(api: Api) -> None:
    await admin_rules.add_ip_rule(api.rt, api.app_id, "198.51.100.7", "deny")
    expect_ok(await api.post("init", body_of(api, ip="198.51.100.7")), "init")


async def test_forwarding_headers_ignored_from_untrusted_peer(api: Api) -> None:
    await admin_rules.add_ip_rule(api.rt, api.app_id, "198.51.100.7", "deny")
    r = await api.post("init", body_of(api), headers={"x-forwarded-for": "198.51.100.7"})
    row = await api.session_row(expect_ok(r, "init")["session_id"])
    assert row.client_ip == "203.0.113.24"


class TestVpn:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        path = tmp_path / "vpn.txt"
        path.write_text("# operator VPN list\n192.0.2.0/24\n203.0.113.0/25\n2001:db8::/32\n")
        return {"vpn_list": str(path)}

    async def test_vpn_blocked(self, api: Api) -> None:
        expect_ok(await api.post("init", body_of(api)), "init")
        await api.set("vpn_block", True)
        expect_error(await api.post("init", body_of(api)), "VPN_BLOCKED")

    async def test_allow_listed_ip_skips_the_vpn_check(self, api: Api) -> None:
        await api.set("vpn_block", True)
        await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "allow")
        expect_ok(await api.post("init", body_of(api)), "init")

    async def test_deny_list_comes_first(self, api: Api) -> None:
        await api.set("vpn_block", True)
        await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "deny")
        expect_error(await api.post("init", body_of(api)), "IP_BLOCKED")


async def test_vpn_block_without_a_list_has_no_effect(api: Api) -> None:
    await api.set("vpn_block", True)
    expect_ok(await api.post("init", body_of(api)), "init")


class TestBehindProxy:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"trusted_proxies": "203.0.113.24, 10.0.0.0/8", "country_header": "CF-IPCountry"}

    @pytest.mark.parametrize(
        ("country", "blocked"),
        [("RU", True), ("ru", True), ("CN", True), ("DE", False), (None, False), ("", False)],
        ids=["blocked", "lower-case", "second", "other", "no-header", "empty"],
    )
    async def test_country_blocked(self, api: Api, country: str | None, blocked: bool) -> None:
        await api.set("blocked_countries", "RU,CN")
        headers = {"cf-ipcountry": country} if country is not None else {}
        r = await api.post("init", body_of(api), headers=headers)
        if blocked:
            expect_error(r, "COUNTRY_BLOCKED")
        else:
            expect_ok(r, "init")

    async def test_allow_listed_ip_skips_the_country_check(self, api: Api) -> None:
        await api.set("blocked_countries", "RU")
        await admin_rules.add_ip_rule(api.rt, api.app_id, "203.0.113.24", "allow")
        expect_ok(await api.post("init", body_of(api), headers={"cf-ipcountry": "RU"}), "init")

    @pytest.mark.parametrize(
        ("forwarded", "client_ip"),
        [
            ("198.51.100.7", "198.51.100.7"),
            ("198.51.100.9, 198.51.100.7", "198.51.100.7"),
            ("198.51.100.9, 198.51.100.7, 10.1.2.3", "198.51.100.7"),
            ("10.1.2.3", "203.0.113.24"),
        ],
        ids=["single", "rightmost", "skip-trusted-hops", "all-trusted"],
    )
    async def test_client_ip_from_forwarded_for(
        self, api: Api, forwarded: str, client_ip: str
    ) -> None:
        r = await api.post("init", body_of(api), headers={"x-forwarded-for": forwarded})
        row = await api.session_row(expect_ok(r, "init")["session_id"])
        assert row.client_ip == client_ip

    async def test_ip_rules_use_the_forwarded_client_ip(self, api: Api) -> None:
        await admin_rules.add_ip_rule(api.rt, api.app_id, "198.51.100.7", "deny")
        expect_ok(await api.post("init", body_of(api)), "init")
        r = await api.post("init", body_of(api), headers={"x-forwarded-for": "198.51.100.7"})
        expect_error(r, "IP_BLOCKED")


async def test_country_header_ignored_without_trusted_proxy(api: Api) -> None:
    await api.set("blocked_countries", "RU")
    expect_ok(await api.post("init", body_of(api), headers={"cf-ipcountry": "RU"}), "init")


# -- version control ---------------------------------------------------------------------

CHANGELOG = "Faster startup. Fixed the settings dialog."
DOWNLOAD = "https://example.com/download/myapp-1.4.0.exe"


async def versioned(api: Api, **settings: Any) -> None:
    values = {
        "latest_version": "1.4.0",
        "download_url": DOWNLOAD,
        "changelog": CHANGELOG,
        "auto_update_enabled": True,
    }
    values.update(settings)
    await admin_apps.set_app_settings(api.rt, api.app_id, values)


def update_object(
    *, forced: bool, allowed_until: str | None = None, message: str = "A new version is available"
) -> dict[str, Any]:
    return {
        "allowed_until": allowed_until,
        "auto_update_enabled": True,
        "available": True,
        "changelog": CHANGELOG,
        "download_url": DOWNLOAD,
        "force_update": forced,
        "latest_version": "1.4.0",
        "reminder_message": message,
        "show_reminder": not forced,
    }


@pytest.mark.parametrize(
    ("version", "code"),
    [
        ("1.4.0", "OK"),
        ("1.4", "OK"),
        ("v1.4.0", "OK"),
        ("1.4.0-beta.2", "OK"),
        ("1.4.0.9", "OK"),
        ("1.4x.0", "OK"),
        ("1.3.0", "UPDATE_REQUIRED"),
        ("0.9", "UPDATE_REQUIRED"),
        ("beta", "UPDATE_REQUIRED"),
        ("1.4.1", "VERSION_MISMATCH"),
        ("2", "VERSION_MISMATCH"),
        ("v1.10.0", "VERSION_MISMATCH"),
    ],
)
async def test_version_without_rules(api: Api, version: str, code: str) -> None:
    await versioned(api)
    r = await api.post("init", body_of(api, version=version))
    if code == "OK":
        body = expect_ok(r, "init")
        assert "update" not in body and body["version"] == version
    else:
        body = expect_error(r, code)
        assert body["update"] == update_object(forced=True)


async def test_reminder_rule(api: Api) -> None:
    await versioned(api)
    await admin_rules.add_version_rule(api.rt, api.app_id, "1.3", "reminder")
    body = expect_ok(await api.post("init", body_of(api, version="1.3.0")), "init")
    assert body["update"] == update_object(forced=False)
    assert body["version"] == "1.3.0"
    assert set(body) == {
        "app_name",
        "code",
        "message",
        "owner_id",
        "session_id",
        "success",
        "update",
        "version",
    }


async def test_reminder_message_setting(api: Api) -> None:
    await versioned(api, reminder_message="Version 1.4 is out")
    await admin_rules.add_version_rule(api.rt, api.app_id, "1.3.0", "reminder")
    body = expect_ok(await api.post("init", body_of(api, version="1.3.0")), "init")
    assert body["update"] == update_object(forced=False, message="Version 1.4 is out")
    body = expect_error(await api.post("init", body_of(api, version="1.2.0")), "UPDATE_REQUIRED")
    assert body["update"] == update_object(forced=True, message="Version 1.4 is out")


async def test_grace_rule(api: Api) -> None:
    await versioned(api)
    until = api.clock.now + timedelta(days=2)
    await admin_rules.add_version_rule(api.rt, api.app_id, "1.2.0", "grace", allowed_until=until)
    body = expect_ok(await api.post("init", body_of(api, version="1.2")), "init")
    assert body["update"] == update_object(forced=False, allowed_until=iso(until))
    api.clock.advance(2 * 86400)
    body = expect_error(await api.post("init", body_of(api, version="1.2")), "UPDATE_REQUIRED")
    assert body["update"] == update_object(forced=True)


@pytest.mark.parametrize(
    ("version", "mode", "code"),
    [
        ("1.4.0", "block", "UPDATE_REQUIRED"),
        ("1.1.0", "allow", "OK"),
        ("9.0", "allow", "OK"),
        ("9.0", "block", "UPDATE_REQUIRED"),
    ],
    ids=["block-latest", "allow-older", "allow-newer", "block-newer"],
)
async def test_rule_beats_the_comparison(api: Api, version: str, mode: str, code: str) -> None:
    await versioned(api)
    await admin_rules.add_version_rule(api.rt, api.app_id, version, mode)
    r = await api.post("init", body_of(api, version=version))
    if code == "OK":
        assert "update" not in expect_ok(r, "init")
    else:
        assert expect_error(r, code)["update"] == update_object(forced=True)


async def test_update_object_defaults(api: Api) -> None:
    await api.set("latest_version", "1.4.0")
    body = expect_error(await api.post("init", body_of(api, version="1.0")), "UPDATE_REQUIRED")
    assert body["update"] == {
        "allowed_until": None,
        "auto_update_enabled": False,
        "available": True,
        "changelog": "",
        "download_url": "",
        "force_update": True,
        "latest_version": "1.4.0",
        "reminder_message": "A new version is available",
        "show_reminder": False,
    }


async def test_no_latest_version_turns_version_control_off(api: Api) -> None:
    await admin_rules.add_version_rule(api.rt, api.app_id, "1.0.0", "block")
    assert "update" not in expect_ok(await api.post("init", body_of(api, version="1.0.0")), "init")


# -- hash check --------------------------------------------------------------------------

HASH = "a" * 32 + "0123456789abcdef" * 2


@pytest.mark.parametrize(
    "value", [None, "", "   ", "UNKNOWN_HASH"], ids=["absent", "empty", "blank", "unknown"]
)
async def test_hash_required(api: Api, value: str | None) -> None:
    await admin_rules.add_allowed_hash(api.rt, api.app_id, HASH)
    await api.set("hash_check", True)
    extra = {} if value is None else {"hash": value}
    expect_error(await api.post("init", body_of(api, **extra)), "HASH_REQUIRED")


async def test_invalid_hash(api: Api) -> None:
    await admin_rules.add_allowed_hash(api.rt, api.app_id, HASH)
    await api.set("hash_check", True)
    expect_error(await api.post("init", body_of(api, hash="b" * 64)), "INVALID_HASH")
    expect_ok(await api.post("init", body_of(api, hash=HASH)), "init")
    expect_ok(await api.post("init", body_of(api, hash=HASH.upper())), "init")


async def test_hash_ignored_when_check_is_off(api: Api) -> None:
    expect_ok(await api.post("init", body_of(api, hash="b" * 64)), "init")


async def test_version_check_comes_before_the_hash(api: Api) -> None:
    await api.set("latest_version", "2.0.0")
    await api.set("hash_check", True)
    expect_error(await api.post("init", body_of(api)), "UPDATE_REQUIRED")
