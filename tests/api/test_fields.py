"""Field rules (0.2, 0.4, 0.5): missing and invalid fields, synonyms, coercion, trimming,
identity text and stored content."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from licentia.services import admin_content
from licentia.store.tables import client_logs
from tests.api.conftest import Api, Caller, expect_error, expect_ok

# -- MISSING_FIELDS ----------------------------------------------------------------------

MISSING = {
    "init": ["app_name", "owner_id", "secret", "version"],
    "login": ["password", "session_id", "username"],
    "licenses": ["license_key", "session_id"],
    "license-login": ["license_key", "session_id"],
    "register": ["key", "password", "session_id", "username"],
    "extend": ["license_key", "session_id", "username"],
    "change-password": ["new_password", "old_password", "session_id"],
    "device-auth": ["device_id", "device_type", "session_id"],
    "variables": ["session_id", "var_key"],
    "variables/get": ["session_id", "var_key"],
    "variables/set": ["session_id", "var_key", "var_value"],
    "logs": ["message", "session_id"],
    "chats/get": ["channel_name", "session_id"],
    "chats/send": ["channel_name", "message", "session_id"],
    "validate-session": ["session_id"],
    "validate": ["session_id"],
    "blacklist/check": ["session_id"],
}


@pytest.mark.parametrize(("endpoint", "fields"), list(MISSING.items()), ids=list(MISSING))
async def test_every_missing_field_is_reported_sorted(
    bare: Caller, endpoint: str, fields: list[str]
) -> None:
    expect_error(await bare.post(endpoint, {}), "MISSING_FIELDS", fields=fields)


@pytest.mark.parametrize(
    "empty", [None, "", " ", "\t\r\n "], ids=["null", "empty", "space", "whitespace"]
)
async def test_null_empty_and_blank_are_missing(api: Api, empty: Any) -> None:
    session = await api.init()
    body = {"session_id": session, "username": empty, "password": "pw", "sid": "S1"}
    expect_error(await api.post("login", body), "MISSING_FIELDS", fields=["username"])


async def test_untrimmed_fields_are_not_blank(api: Api) -> None:
    # `password` is used exactly as sent: spaces are a password, not a missing field.
    session = await api.init()
    body = {"session_id": session, "username": "nobody", "password": "   ", "sid": "S1"}
    expect_error(await api.post("login", body), "USER_NOT_FOUND")
    expect_ok(await api.post("logs", {"session_id": session, "message": "  "}), "logs")


async def test_missing_wins_over_invalid(bare: Caller) -> None:
    r = await bare.post("login", {"username": "u" * 65, "password": None})
    expect_error(r, "MISSING_FIELDS", fields=["password", "session_id"])


async def test_var_value_may_be_empty_but_not_null(api: Api) -> None:
    await admin_content.set_variable(api.rt, api.app_id, "note", "old", writable=True)
    session, _, _ = await api.register()
    body = {"session_id": session, "var_key": "note", "var_value": ""}
    assert (
        expect_ok(await api.post("variables/set", body), "variables/set")["variable"]["var_value"]
        == ""
    )
    body["var_value"] = None
    expect_error(await api.post("variables/set", body), "MISSING_FIELDS", fields=["var_value"])


# -- INVALID_INPUT: lengths --------------------------------------------------------------


def base_body(endpoint: str, session: str) -> dict[str, Any]:
    bodies: dict[str, dict[str, Any]] = {
        "login": {"username": "u", "password": "p", "sid": "S"},
        "licenses": {"license_key": "K", "sid": "S"},
        "register": {"username": "u", "password": "p", "key": "K", "sid": "S"},
        "extend": {"username": "u", "license_key": "K"},
        "change-password": {"old_password": "a", "new_password": "b"},
        "device-auth": {"device_type": "motherboard", "device_id": "D"},
        "variables": {"var_key": "k"},
        "variables/set": {"var_key": "k", "var_value": "v"},
        "logs": {"message": "m"},
        "chats/get": {"channel_name": "c"},
        "chats/send": {"channel_name": "c", "message": "m"},
        "blacklist/check": {},
    }
    return {"session_id": session, **bodies[endpoint]}


LIMITS = [
    ("login", "username", 64),
    ("login", "password", 256),
    ("login", "sid", 128),
    ("licenses", "license_key", 128),
    ("register", "username", 64),
    ("register", "password", 256),
    ("register", "key", 128),
    ("register", "sid", 128),
    ("extend", "username", 64),
    ("extend", "license_key", 128),
    ("change-password", "old_password", 256),
    ("change-password", "new_password", 256),
    ("device-auth", "device_id", 128),
    ("variables", "var_key", 64),
    ("variables/set", "var_key", 64),
    ("logs", "message", 2000),
    ("chats/get", "channel_name", 64),
    ("chats/send", "channel_name", 64),
    ("chats/send", "message", 500),
    ("blacklist/check", "hwid", 128),
]


@pytest.mark.parametrize(
    ("endpoint", "field", "limit"), LIMITS, ids=[f"{e}-{f}" for e, f, _ in LIMITS]
)
async def test_length_limits_in_code_points(
    api: Api, endpoint: str, field: str, limit: int
) -> None:
    session = await api.init()
    body = base_body(endpoint, session)
    body[field] = "\u00e9" * limit  # two bytes each: the limit counts code points
    r = await api.post(endpoint, body)
    assert r.json()["code"] not in ("INVALID_INPUT", "MISSING_FIELDS"), r.text
    body[field] = "\u00e9" * (limit + 1)
    expect_error(await api.post(endpoint, body), "INVALID_INPUT", fields=[field])


@pytest.mark.parametrize(
    ("field", "limit", "fallthrough"),
    [
        ("owner_id", 64, "OWNER_NOT_FOUND"),
        ("app_name", 64, "APP_NOT_FOUND"),
        ("secret", 256, "INVALID_SECRET"),
        ("version", 32, "OK"),
    ],
)
async def test_init_length_limits(api: Api, field: str, limit: int, fallthrough: str) -> None:
    body = {**api.creds(), "version": "1.0.0"}
    body[field] = "1" * limit
    assert (await api.post("init", body)).json()["code"] == fallthrough
    body[field] = "1" * (limit + 1)
    expect_error(await api.post("init", body), "INVALID_INPUT", fields=[field])


async def test_all_invalid_fields_are_reported_sorted(api: Api) -> None:
    body = {"owner_id": "o" * 65, "app_name": "a" * 65, "secret": "s" * 257, "version": "1<0"}
    expect_error(
        await api.post("init", body),
        "INVALID_INPUT",
        fields=["app_name", "owner_id", "secret", "version"],
    )


async def test_var_value_limit_is_in_utf8_bytes(api: Api) -> None:
    await api.set("client_create_variables", True)
    session, _, _ = await api.register()
    body = {"session_id": session, "var_key": "blob", "var_value": "\u00e9" * 2048}
    expect_ok(await api.post("variables/set", body), "variables/set")
    body["var_value"] = "\u00e9" * 2048 + "x"
    expect_error(await api.post("variables/set", body), "INVALID_INPUT", fields=["var_value"])


async def test_session_id_too_long_is_invalid_input(api: Api) -> None:
    session = await api.init()
    r = await api.post("logs", {"session_id": session + "a", "message": "m"})
    expect_error(r, "INVALID_INPUT", fields=["session_id"])


# -- synonyms (0.4) ----------------------------------------------------------------------


async def test_hwid_is_a_synonym_of_sid(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    body = {"session_id": session, "username": "mara", "password": "pw", "hwid": "HW-1"}
    assert expect_ok(await api.post("login", body), "login")["sid"] == "HW-1"


async def test_sid_wins_over_hwid(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    body = {
        "session_id": session,
        "username": "mara",
        "password": "pw",
        "sid": "SID-1",
        "hwid": "bad<hwid",
    }
    out = expect_ok(await api.post("login", body), "login")
    assert (out["sid"], out["hwid"], out["user"]["current_devices"]) == ("SID-1", "SID-1", 1)


async def test_blank_sid_falls_back_to_hwid(api: Api) -> None:
    await api.user("mara", "pw")
    session = await api.init()
    body = {"session_id": session, "username": "mara", "password": "pw", "sid": " ", "hwid": "HW-2"}
    assert expect_ok(await api.post("login", body), "login")["sid"] == "HW-2"


async def test_invalid_synonym_is_reported_under_the_canonical_name(api: Api) -> None:
    session = await api.init()
    body = {"session_id": session, "username": "mara", "password": "pw", "hwid": "a=b"}
    expect_error(await api.post("login", body), "INVALID_INPUT", fields=["sid"])


@pytest.mark.parametrize(
    ("fields", "recorded"),
    [
        ({"ip": "198.51.100.1"}, "198.51.100.1"),
        ({"ip_address": "198.51.100.2"}, "198.51.100.2"),
        ({"ip": "198.51.100.1", "ip_address": "198.51.100.2"}, "198.51.100.1"),
        ({"ip": "  ", "ip_address": "198.51.100.2"}, "198.51.100.2"),
        ({"ip": "2001:db8::1"}, "2001:db8::1"),
        ({"ip": "UNKNOWN_IP", "ip_address": "198.51.100.2"}, ""),
        ({"ip": "not-an-ip"}, ""),
        ({"ip": "x" * 5000}, ""),
        ({"ip": 12345}, ""),
        ({"ip": {"not": "text"}}, ""),
        ({}, ""),
    ],
    ids=[
        "ip",
        "ip_address",
        "ip-wins",
        "blank-ip",
        "ipv6",
        "unknown-ip",
        "garbage",
        "very-long",
        "number",
        "object",
        "none",
    ],
)
async def test_reported_ip_is_advisory(api: Api, fields: dict[str, Any], recorded: str) -> None:
    r = await api.post("init", {**api.creds(), "version": "1.0.0", **fields})
    session = expect_ok(r, "init")["session_id"]
    row = await api.session_row(session)
    assert (row.reported_ip, row.client_ip) == (recorded, "203.0.113.24")


@pytest.mark.parametrize(
    "value", ["x" * 5000, "not hex at all", 7, ""], ids=["long", "text", "number", "empty"]
)
async def test_hash_is_never_rejected_as_malformed(api: Api, value: Any) -> None:
    expect_ok(await api.post("init", {**api.creds(), "version": "1.0.0", "hash": value}), "init")


async def test_license_key_is_a_synonym_of_key_on_register(api: Api) -> None:
    session = await api.init()
    key = await api.key()
    body = {
        "session_id": session,
        "username": "mara",
        "password": "pw",
        "license_key": key,
        "sid": "S",
    }
    assert expect_ok(await api.post("register", body), "register")["license_key"] == key


async def test_key_wins_over_license_key(api: Api) -> None:
    session = await api.init()
    key = await api.key()
    body = {
        "session_id": session,
        "username": "mara",
        "password": "pw",
        "key": key,
        "license_key": "WRONG",
        "sid": "S",
    }
    expect_ok(await api.post("register", body), "register")
    body = {
        "session_id": session,
        "username": "tom",
        "password": "pw",
        "key": "",
        "license_key": await api.key(),
        "sid": "S",
    }
    expect_ok(await api.post("register", body), "register")


async def test_key_is_not_a_synonym_on_licenses(api: Api) -> None:
    session = await api.init()
    r = await api.post("licenses", {"session_id": session, "key": await api.key(), "sid": "S"})
    expect_error(r, "MISSING_FIELDS", fields=["license_key"])


# -- coercion (0.2) ----------------------------------------------------------------------


async def chat_session(api: Api) -> str:
    await api.channel("general", send_delay=0)
    return await api.init()  # reading a channel needs no login


@pytest.mark.parametrize(
    ("value", "effective"),
    [
        ("2", 2),
        (2, 2),
        (2.0, 2),
        ("100", 100),
        ("000000000000005", 5),
        (0, 1),
        ("-3", 1),
        (1000, 100),
        (10**20, 100),
        (None, 50),
    ],
    ids=[
        "digit-string",
        "int",
        "zero-fraction",
        "hundred",
        "15-digits",
        "zero",
        "negative",
        "above",
        "huge",
        "null",
    ],
)
async def test_integer_coercion(api: Api, value: Any, effective: int) -> None:
    session = await chat_session(api)
    r = await api.post(
        "chats/get", {"session_id": session, "channel_name": "general", "limit": value}
    )
    assert expect_ok(r, "chats/get")["data"]["pagination"]["limit"] == effective


@pytest.mark.parametrize(
    "value",
    ["abc", 1.5, "1.5", True, "1e2", "0x10", "1" * 16, "+5", [5], {"n": 5}, "5 5"],
    ids=[
        "text",
        "fraction",
        "fraction-string",
        "bool",
        "exponent-string",
        "hex",
        "16-digits",
        "plus",
        "array",
        "object",
        "two-numbers",
    ],
)
async def test_integer_field_refuses_other_values(api: Api, value: Any) -> None:
    session = await chat_session(api)
    r = await api.post(
        "chats/get", {"session_id": session, "channel_name": "general", "limit": value}
    )
    expect_error(r, "INVALID_INPUT", fields=["limit"])


async def test_integer_string_with_spaces_is_not_an_integer(api: Api) -> None:
    # 0.2: "a string of an optional - and 1 to 15 ASCII digits"; `limit` is not a trimmed field.
    session = await chat_session(api)
    r = await api.post(
        "chats/get", {"session_id": session, "channel_name": "general", "limit": " 5 "}
    )
    expect_error(r, "INVALID_INPUT", fields=["limit"])


async def test_numbers_and_booleans_in_string_fields(api: Api) -> None:
    session, _, out = await api.register(12345, True)  # type: ignore[arg-type]
    assert out["username"] == "12345"
    await api.login("12345", "true", session=session)
    await api.set("client_create_variables", True)
    body = {"session_id": session, "var_key": "n", "var_value": 42}
    assert (
        expect_ok(await api.post("variables/set", body), "variables/set")["variable"]["var_value"]
        == "42"
    )
    body = {"session_id": session, "var_key": "b", "var_value": False}
    assert (
        expect_ok(await api.post("variables/set", body), "variables/set")["variable"]["var_value"]
        == "false"
    )


@pytest.mark.parametrize("value", [{"a": 1}, ["x"], []], ids=["object", "array", "empty-array"])
async def test_object_or_array_in_a_string_field(api: Api, value: Any) -> None:
    session = await api.init()
    body = {"session_id": session, "username": value, "password": ["p"], "sid": "S"}
    expect_error(await api.post("login", body), "INVALID_INPUT", fields=["password", "username"])
    expect_error(
        await api.post("logs", {"session_id": session, "message": value}),
        "INVALID_INPUT",
        fields=["message"],
    )


# -- trimming (0.5) ----------------------------------------------------------------------


async def test_trimmed_fields(api: Api) -> None:
    ws = " \t\r\n"
    r = await api.post(
        "init",
        {
            "owner_id": ws + api.owner_id + ws,
            "app_name": ws + api.app_name,
            "secret": api.secret,
            "version": "1.0.0" + ws,
        },
    )
    out = expect_ok(r, "init")
    assert out["version"] == "1.0.0"
    session = out["session_id"]
    key = await api.key()
    body = {
        "session_id": ws + session.upper() + ws,
        "username": ws + "mara" + ws,
        "password": "pw",
        "key": ws + key + ws,
        "email": ws + "mara@example.com" + ws,
        "sid": ws + "SID-1" + ws,
    }
    out = expect_ok(await api.post("register", body), "register")
    assert (out["username"], out["email"], out["sid"], out["license_key"]) == (
        "mara",
        "mara@example.com",
        "SID-1",
        key,
    )
    assert out["session_id"] == session
    await api.login("mara", "pw", sid="SID-1")


async def test_untrimmed_fields_are_used_as_sent(api: Api) -> None:
    r = await api.post("init", {**api.creds(), "secret": api.secret + " ", "version": "1.0.0"})
    expect_error(r, "INVALID_SECRET")
    session, _, _ = await api.register("mara", " pw ")
    body = {"session_id": session, "username": "mara", "password": "pw", "sid": "SID-A"}
    expect_error(await api.post("login", body), "INVALID_PASSWORD")
    await api.login("mara", " pw ")
    await api.set("client_create_variables", True)
    body = {"session_id": session, "var_key": " spaced ", "var_value": "  v  "}
    out = expect_ok(await api.post("variables/set", body), "variables/set")
    assert out["variable"] == {**out["variable"], "var_key": "spaced", "var_value": "  v  "}
    expect_ok(await api.post("logs", {"session_id": session, "message": "  padded\n"}), "logs")
    async with api.rt.db.read() as conn:
        stored = (
            await conn.execute(
                select(client_logs.c.message).where(client_logs.c.app_id == api.app_id)
            )
        ).scalar_one()
    assert stored == "  padded\n"


# -- identity text and stored content (0.5) ----------------------------------------------


@pytest.mark.parametrize("char", ["<", ">", "&", "=", "'"])
async def test_identity_text_refuses_sdk_unsafe_characters(api: Api, char: str) -> None:
    session = await api.init()
    key = await api.key()
    base = {"session_id": session, "username": "mara", "password": "pw", "key": key, "sid": "S1"}
    for field, value in (
        ("username", f"ma{char}ra"),
        ("email", f"m{char}a@example.com"),
        ("sid", f"S{char}1"),
    ):
        expect_error(
            await api.post("register", {**base, field: value}), "INVALID_INPUT", fields=[field]
        )
    body = {"session_id": session, "device_type": "processor", "device_id": f"CPU{char}1"}
    expect_error(await api.post("device-auth", body), "INVALID_INPUT", fields=["device_id"])
    r = await api.post("init", {**api.creds(), "version": f"1.0{char}"})
    expect_error(r, "INVALID_INPUT", fields=["version"])
    # A login username is not created, so it is only looked up.
    body = {"session_id": session, "username": f"ma{char}ra", "password": "pw", "sid": "S1"}
    expect_error(await api.post("login", body), "USER_NOT_FOUND")


async def test_other_stored_content_keeps_sdk_unsafe_characters(api: Api) -> None:
    await api.set("client_create_variables", True)
    await api.channel("general", send_delay=0)
    session, _, _ = await api.register()
    text = "a<b>&c='d' \"q\" \\ / \u00e9 \U0001f600"
    body = {"session_id": session, "var_key": "raw", "var_value": text}
    assert (
        expect_ok(await api.post("variables/set", body), "variables/set")["variable"]["var_value"]
        == text
    )
    expect_ok(await api.post("logs", {"session_id": session, "message": text}), "logs")
    sent = expect_ok(
        await api.post(
            "chats/send", {"session_id": session, "channel_name": "general", "message": text}
        ),
        "chats/send",
    )
    assert sent["data"]["message"] == text


FORBIDDEN = ["\x00", "\x01", "\x0b", "\x1b", "\x1f", "\u0085", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
async def test_stored_content_refuses_controls_and_separators(api: Api, char: str) -> None:
    await api.set("client_create_variables", True)
    await api.channel("general", send_delay=0)
    session, key, _ = await api.register()
    text = f"a{char}b"
    r = await api.post("variables/set", {"session_id": session, "var_key": "v", "var_value": text})
    expect_error(r, "INVALID_INPUT", fields=["var_value"])
    expect_error(
        await api.post("logs", {"session_id": session, "message": text}),
        "INVALID_INPUT",
        fields=["message"],
    )
    r = await api.post(
        "chats/send", {"session_id": session, "channel_name": "general", "message": text}
    )
    expect_error(r, "INVALID_INPUT", fields=["message"])
    body = {"session_id": session, "username": f"x{char}y", "password": "pw", "key": key}
    expect_error(await api.post("register", body), "INVALID_INPUT", fields=["username"])
    body = {
        "session_id": session,
        "username": "xy",
        "password": "pw",
        "key": key,
        "email": f"x{char}y@e.com",
    }
    expect_error(await api.post("register", body), "INVALID_INPUT", fields=["email"])


async def test_stored_content_allows_tab_lf_cr(api: Api) -> None:
    await api.set("client_create_variables", True)
    await api.channel("general", send_delay=0)
    session, _, _ = await api.register()
    text = "line1\nline2\r\n\tindented"
    body = {"session_id": session, "var_key": "v", "var_value": text}
    assert (
        expect_ok(await api.post("variables/set", body), "variables/set")["variable"]["var_value"]
        == text
    )
    expect_ok(await api.post("logs", {"session_id": session, "message": text}), "logs")
    r = await api.post(
        "chats/send", {"session_id": session, "channel_name": "general", "message": text}
    )
    assert expect_ok(r, "chats/send")["data"]["message"] == text


async def test_register_username_may_hold_tab(api: Api) -> None:
    session = await api.init()
    body = {
        "session_id": session,
        "username": "ma\tra",
        "password": "pw",
        "key": await api.key(),
        "sid": "S",
    }
    assert expect_ok(await api.post("register", body), "register")["username"] == "ma\tra"


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("a@b", True),
        ("", True),
        ("x" * 250 + "@b.c", True),
        ("x" * 251 + "@b.c", False),
        ("ab", False),
        ("@b", False),
        ("a@", False),
        ("a@b@c", False),
        ("a b@c", False),
        ("a@b\tc", False),
    ],
    ids=[
        "minimal",
        "none",
        "254",
        "255",
        "no-at",
        "no-local",
        "no-domain",
        "two-ats",
        "space",
        "tab",
    ],
)
async def test_register_email_rules(api: Api, email: str, valid: bool) -> None:
    session = await api.init()
    key = await api.key() if valid else "NOT-LOOKED-UP"
    body = {
        "session_id": session,
        "username": "mara",
        "password": "pw",
        "key": key,
        "sid": "S",
        "email": email,
    }
    r = await api.post("register", body)
    if valid:
        assert expect_ok(r, "register")["email"] == email
    else:
        expect_error(r, "INVALID_INPUT", fields=["email"])
