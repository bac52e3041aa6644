"""Transport rules (0.1, 0.2, 0.6, 0.10 to 0.12): routing, size, parsing, metadata, headers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.api.conftest import (
    POST_ENDPOINTS,
    Api,
    Caller,
    canonical_bytes,
    check_body,
    expect_error,
    expect_ok,
    kid_of_pem,
)

META_HEADERS = {"x-v2-request-id": "rid-header-1", "x-v2-nonce": "nonce-header-1"}


FAKE_CREDS = {"owner_id": "12345678", "app_name": "NoSuchApp", "secret": "not-checked"}


def init_bytes(api: Api | None, **extra: Any) -> bytes:
    creds = api.creds() if api is not None else FAKE_CREDS
    return json.dumps({**creds, "version": "1.0.0", **extra}).encode()


# -- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/Login",
        "/api/v2/LOGIN",
        "/api/v2/nope",
        "/api/v2/",
        "/api/v2",
        "/api/v2/login//",
        "/api/v2/chats",
        "/api/v2/variables/get/x",
        "/api/v2/v1/init",
        "/api/v2/Public-Key",
    ],
    ids=lambda p: p.removeprefix("/api/v2") or "bare",
)
async def test_unknown_path_is_not_found(bare: Caller, path: str) -> None:
    r = await bare.send(
        "POST", path, content=b"{}", headers=META_HEADERS, meta=("rid-header-1", "nonce-header-1")
    )
    expect_error(r, "NOT_FOUND")


async def test_unknown_path_with_get_is_not_found_not_405(bare: Caller) -> None:
    r = await bare.send("GET", "/api/v2/nope")
    expect_error(r, "NOT_FOUND")
    assert "allow" not in r.headers


async def test_not_found_echoes_header_metadata_only(bare: Caller) -> None:
    # Before the body is parsed only header sources count (0.6).
    body = json.dumps({"request_id": "body-rid", "nonce": "body-nonce"}).encode()
    r = await bare.send("POST", "/api/v2/nope", content=body)
    expect_error(r, "NOT_FOUND")
    assert "x-v2-request-id" not in r.headers and "x-v2-nonce" not in r.headers


@pytest.mark.parametrize("path", ["init/", "license-login/", "variables/get/"])
async def test_single_trailing_slash_is_ignored(api: Api, path: str) -> None:
    if path == "init/":
        r = await api.post(path, {**api.creds(), "version": "1.0.0"})
        expect_ok(r, "init")
    else:
        r = await api.post(path, {})
        expect_error(r, "MISSING_FIELDS")  # reached the endpoint's field check


async def test_query_string_does_not_change_the_route(api: Api) -> None:
    r = await api.post("init?debug=1", {**api.creds(), "version": "1.0.0"})
    expect_ok(r, "init")


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [(e, "GET") for e in POST_ENDPOINTS] + [("login", m) for m in ("PUT", "DELETE", "PATCH")],
)
async def test_post_endpoints_refuse_other_methods(
    bare: Caller, endpoint: str, method: str
) -> None:
    r = await bare.send(
        method, f"/api/v2/{endpoint}", headers=META_HEADERS, meta=("rid-header-1", "nonce-header-1")
    )
    expect_error(r, "METHOD_NOT_ALLOWED")
    assert r.headers.get_list("allow") == ["POST"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_public_key_refuses_other_methods(bare: Caller, method: str) -> None:
    r = await bare.send(method, "/api/v2/public-key", content=b"{}")
    expect_error(r, "METHOD_NOT_ALLOWED")
    assert r.headers.get_list("allow") == ["GET"]


# -- body size ---------------------------------------------------------------------------


async def test_too_large_by_content_length(bare: Caller) -> None:
    r = await bare.send(
        "POST",
        "/api/v2/init",
        content=init_bytes(None),
        headers={"content-length": "65537", **META_HEADERS},
        meta=("rid-header-1", "nonce-header-1"),
    )
    expect_error(r, "PAYLOAD_TOO_LARGE")


async def test_too_large_by_bytes_read_despite_small_content_length(bare: Caller) -> None:
    content = init_bytes(None, pad="x" * 70000)
    r = await bare.send("POST", "/api/v2/init", content=content, headers={"content-length": "100"})
    expect_error(r, "PAYLOAD_TOO_LARGE")


async def chunks(data: bytes, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_too_large_streamed_without_content_length(bare: Caller) -> None:
    r = await bare.send("POST", "/api/v2/init", content=chunks(init_bytes(None, pad="x" * 70000)))
    expect_error(r, "PAYLOAD_TOO_LARGE")


async def test_streamed_body_under_the_limit_is_read_whole(api: Api) -> None:
    r = await api.send(
        "POST", "/api/v2/init", content=chunks(init_bytes(api, pad="y" * 30000)), endpoint="init"
    )
    expect_ok(r, "init")


@pytest.mark.parametrize("size", [65536, 65537], ids=["exactly-64KiB", "one-byte-over"])
async def test_size_limit_boundary(api: Api, size: int) -> None:
    base = init_bytes(api, pad="")
    content = base.replace(b'"pad": ""', b'"pad": "' + b"z" * (size - len(base)) + b'"')
    assert len(content) == size
    r = await api.send("POST", "/api/v2/init", content=content, endpoint="init")
    if size == 65536:
        expect_ok(r, "init")
    else:
        expect_error(r, "PAYLOAD_TOO_LARGE")


# -- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   ",
        b"\xff\xfe{}",
        b'{"owner_id": "\xc3"}',
        b"{",
        b"{} x",
        b"{}{}",
        b"[]",
        b"[{}]",
        b'"text"',
        b"123",
        b"null",
        b"true",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b"{'a': 1}",
        b"\xef\xbb\xbf",
    ],
    ids=[
        "empty",
        "whitespace",
        "invalid-utf8",
        "truncated-utf8-in-string",
        "unterminated",
        "trailing-garbage",
        "two-objects",
        "array",
        "array-of-object",
        "string",
        "number",
        "null",
        "true",
        "nan",
        "infinity",
        "minus-infinity",
        "single-quotes",
        "bom-only",
    ],
)
async def test_body_that_is_not_a_json_object(bare: Caller, content: bytes) -> None:
    r = await bare.send("POST", "/api/v2/init", content=content, endpoint="init")
    expect_error(r, "INVALID_REQUEST")


async def test_invalid_request_echoes_header_metadata(bare: Caller) -> None:
    r = await bare.send(
        "POST",
        "/api/v2/login",
        content=b"[1,2]",
        headers={"x-request-id": "legacy-rid", "x-auth-nonce": "legacy-nonce"},
        meta=("legacy-rid", "legacy-nonce"),
    )
    expect_error(r, "INVALID_REQUEST")


async def test_leading_bom_is_skipped(api: Api) -> None:
    r = await api.send(
        "POST", "/api/v2/init", content=b"\xef\xbb\xbf" + init_bytes(api), endpoint="init"
    )
    expect_ok(r, "init")


async def test_raw_control_characters_in_strings_are_parsed(api: Api) -> None:
    # The C++ SDK sends them unescaped; an unknown field holding them is simply ignored.
    content = init_bytes(api)[:-1] + b', "junk": "a\x01b\x1fc\td\ne"}'
    r = await api.send("POST", "/api/v2/init", content=content, endpoint="init")
    expect_ok(r, "init")


async def test_raw_control_character_in_a_validated_field_is_invalid_input_not_request(
    api: Api,
) -> None:
    session = await api.init()
    content = b'{"session_id": "' + session.encode() + b'", "message": "bad\x01log"}'
    r = await api.post("logs", content=content)
    expect_error(r, "INVALID_INPUT", fields=["message"])
    content = b'{"session_id": "' + session.encode() + b'", "message": "tab\there\nnewline\rcr"}'
    expect_ok(await api.post("logs", content=content), "logs")


@pytest.mark.parametrize("last_is_right", [True, False], ids=["right-last", "wrong-last"])
async def test_duplicate_keys_last_one_wins(api: Api, last_is_right: bool) -> None:
    pair = ['"secret": "wrong-secret"', f'"secret": "{api.secret}"']
    if not last_is_right:
        pair.reverse()
    content = (
        f'{{"owner_id": "{api.owner_id}", "app_name": "{api.app_name}", '
        f'{pair[0]}, "version": "1.0.0", {pair[1]}}}'
    ).encode()
    r = await api.send("POST", "/api/v2/init", content=content, endpoint="init")
    if last_is_right:
        expect_ok(r, "init")
    else:
        expect_error(r, "INVALID_SECRET")


async def test_any_whitespace_escaping_and_key_order(api: Api) -> None:
    version = "\\u0031.0.0"  # "1.0.0" with an escaped digit
    content = (
        f'\n\t{{ "version" :\r\n "{version}" ,"secret":"{api.secret}",'
        f'  "app_name":"{api.app_name}" , "owner_id" : "{api.owner_id}" }}  \n'
    ).encode()
    r = await api.send("POST", "/api/v2/init", content=content, endpoint="init")
    assert expect_ok(r, "init")["version"] == "1.0.0"


async def test_escaped_and_raw_non_ascii_are_the_same_text(api: Api) -> None:
    session = await api.init()
    key = await api.world.key()
    name = "\u00dcn\u00efc\u00f8de"
    body = {"session_id": session, "username": name, "password": "pw", "key": key}
    escaped = json.dumps(body, ensure_ascii=True).encode()
    assert b"\\u00dc" in escaped
    r = await api.post("register", body, content=escaped)
    assert expect_ok(r, "register")["username"] == name
    assert name.encode() in r.content  # raw UTF-8 in the response, never an escape
    login = {"session_id": session, "username": name, "password": "pw", "sid": "S"}
    expect_ok(await api.post("login", login), "login")  # sent raw this time


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
    ],
    ids=["none", "json", "json-charset", "text", "form"],
)
async def test_content_type_is_not_checked(api: Api, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else None
    r = await api.send(
        "POST", "/api/v2/init", content=init_bytes(api), headers=headers, endpoint="init"
    )
    expect_ok(r, "init")


async def test_unknown_fields_are_ignored(api: Api) -> None:
    r = await api.post(
        "init", {**api.creds(), "version": "1.0.0", "extra": {"deep": [1, None]}, "n": 1.5}
    )
    expect_ok(r, "init")


# -- response headers --------------------------------------------------------------------


async def test_response_headers(api: Api) -> None:
    r = await api.post(
        "init", {**api.creds(), "version": "1.0.0"}, headers={"accept-encoding": "gzip"}
    )
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert "content-encoding" not in r.headers
    assert r.headers["x-v2-signature"] == r.headers["x-auth-signature"]


# -- metadata (0.6) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body_meta", "headers", "expected"),
    [
        ({"request_id": "rid-body", "nonce": "nonce-body"}, {}, ("rid-body", "nonce-body")),
        ({}, {"x-v2-request-id": "rid-v2", "x-v2-nonce": "nonce-v2"}, ("rid-v2", "nonce-v2")),
        (
            {},
            {"x-request-id": "rid-legacy", "x-auth-nonce": "nonce-legacy"},
            ("rid-legacy", "nonce-legacy"),
        ),
        (
            {},
            {
                "x-v2-request-id": "rid-v2",
                "x-request-id": "rid-legacy",
                "x-v2-nonce": "n-v2",
                "x-auth-nonce": "n-legacy",
            },
            ("rid-v2", "n-v2"),
        ),
        (
            {"request_id": "rid-body", "nonce": "nonce-body"},
            {"x-v2-request-id": "rid-v2", "x-v2-nonce": "nonce-v2"},
            ("rid-body", "nonce-body"),
        ),
        ({"request_id": "rid-body"}, {"x-v2-nonce": "nonce-v2"}, ("rid-body", "nonce-v2")),
        ({"request_id": None, "nonce": None}, {"x-v2-nonce": "nonce-v2"}, ("", "nonce-v2")),
        ({}, {}, ("", "")),
    ],
    ids=[
        "body",
        "v2-headers",
        "legacy-headers",
        "v2-beats-legacy",
        "body-beats-headers",
        "mixed",
        "null-is-absent",
        "none",
    ],
)
async def test_request_id_and_nonce_echo(
    api: Api, body_meta: dict[str, Any], headers: dict[str, str], expected: tuple[str, str]
) -> None:
    body = {**api.creds(), "version": "1.0.0", **body_meta}
    r = await api.post("init", body, headers=headers, meta=expected)
    expect_ok(r, "init")
    assert r.headers.get("x-v2-request-id", "") == expected[0]
    assert r.headers.get("x-v2-nonce", "") == expected[1]


async def test_metadata_limits_accepted(api: Api) -> None:
    body = {**api.creds(), "version": "1.0.0", "request_id": "r" * 128, "nonce": "!~" + "x" * 126}
    expect_ok(await api.post("init", body), "init")


async def test_timestamp_as_digit_string_and_header(api: Api) -> None:
    now_ms = int(api.clock.now.timestamp() * 1000)
    body = {**api.creds(), "version": "1.0.0", "timestamp": str(now_ms)}
    expect_ok(await api.post("init", body), "init")
    body = {**api.creds(), "version": "1.0.0"}
    expect_ok(await api.post("init", body, headers={"x-v2-timestamp": str(now_ms)}), "init")
    expect_ok(await api.post("init", body, headers={"x-auth-timestamp": str(now_ms)}), "init")
    body = {**api.creds(), "version": "1.0.0", "timestamp": float(now_ms)}
    expect_ok(await api.post("init", body), "init")


@pytest.mark.parametrize(
    ("body_meta", "headers"),
    [
        ({"request_id": "r" * 129, "nonce": "fine-nonce"}, {}),
        ({"request_id": "fine-rid", "nonce": "has space"}, {}),
        ({"request_id": "fine-rid", "nonce": "caf\u00e9"}, {}),
        ({"request_id": "tab\there", "nonce": "fine-nonce"}, {}),
        ({"request_id": "fine-rid", "nonce": "fine-nonce", "timestamp": -1}, {}),
        ({"request_id": "fine-rid", "nonce": "fine-nonce", "timestamp": "abc"}, {}),
        ({"request_id": "fine-rid", "nonce": "fine-nonce", "timestamp": 1.5}, {}),
        ({"request_id": "fine-rid", "nonce": "fine-nonce", "timestamp": True}, {}),
        ({"request_id": "fine-rid", "nonce": "fine-nonce", "timestamp": "1" * 16}, {}),
        ({"request_id": "fine-rid"}, {"x-v2-nonce": "bad nonce"}),
        ({"nonce": "fine-nonce"}, {"x-request-id": "r" * 129}),
        ({"nonce": "fine-nonce"}, {"x-auth-timestamp": "12a"}),
        ({"nonce": "fine-nonce"}, {"x-v2-timestamp": "-5"}),
    ],
    ids=[
        "rid-too-long",
        "nonce-space",
        "nonce-non-ascii",
        "rid-control",
        "ts-negative",
        "ts-text",
        "ts-fraction",
        "ts-bool",
        "ts-16-digits",
        "header-nonce",
        "header-rid-too-long",
        "header-ts-text",
        "header-ts-negative",
    ],
)
async def test_bad_metadata_is_invalid_request_without_echo(
    bare: Caller, body_meta: dict[str, Any], headers: dict[str, str]
) -> None:
    body = {**FAKE_CREDS, "version": "1.0.0", **body_meta}
    r = await bare.post("init", body, headers=headers, meta=("", ""))
    expect_error(r, "INVALID_REQUEST")


async def test_metadata_never_counts_as_endpoint_fields(api: Api) -> None:
    session = await api.init()
    body = {"session_id": session, "request_id": "rid-1", "nonce": "nonce-1", "timestamp": None}
    expect_ok(await api.post("validate-session", body), "validate-session")


# -- framework errors never leak ---------------------------------------------------------


async def test_unexpected_failure_is_a_signed_internal(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_api = api.world.app.client
    assert client_api is not None

    async def boom(call: Any) -> dict[str, Any]:
        raise RuntimeError("secret stack detail")

    monkeypatch.setitem(client_api.handlers, "logs", boom)
    session = await api.init()
    r = await api.post("logs", {"session_id": session, "message": "x", "request_id": "rid-x"})
    body = expect_error(r, "INTERNAL")
    assert set(body) == {"success", "code", "message"}
    assert b"secret" not in r.content and b"Traceback" not in r.content


async def test_exotic_method_goes_through_the_envelope(bare: Caller) -> None:
    r = await bare.send("OPTIONS", "/api/v2/login")
    expect_error(r, "METHOD_NOT_ALLOWED")
    r = await bare.send("FOO", "/api/v2/login")
    expect_error(r, "METHOD_NOT_ALLOWED")


async def test_non_client_path_is_not_the_client_api(bare: Caller) -> None:
    # Outside /api/v2 the client envelope does not apply; /api/v2 itself is client API.
    r = await bare.client.get("/api/v2x/login")
    assert "x-v2-signature" not in r.headers


# -- public key (2.15) -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v2/public-key", "/api/v2/public-key/"])
async def test_public_key(bare: Caller, path: str) -> None:
    r = await bare.send("GET", path, signed=False)
    assert r.status_code == 200
    for name in ("x-v2-signature", "x-auth-signature", "x-v2-signature-ts", "x-v2-signature-kid"):
        assert name not in r.headers
    assert r.headers["cache-control"] == "public, max-age=300"
    body = check_body(r, "public-key")
    assert set(body) == {"algorithm", "code", "der_base64", "kid", "message", "pem", "success"}
    assert (body["algorithm"], body["code"], body["message"], body["success"]) == (
        "Ed25519",
        "OK",
        "Server public key",
        True,
    )
    assert body["pem"] == bare.pem
    der = base64.b64decode(body["der_base64"], validate=True)
    assert der.startswith(bytes.fromhex("302a300506032b6570032100")) and len(der) == 44
    key = serialization.load_pem_public_key(body["pem"].encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert der[12:] == raw
    assert body["kid"] == hashlib.sha256(raw).hexdigest()[:16] == kid_of_pem(bare.pem)
    assert r.content == canonical_bytes(body)


# -- signing test vector (0.12) ----------------------------------------------------------

VECTOR_SEED = bytes(range(32))
VECTOR_CASES = [
    (
        "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
        "9b2f6c1d4e8a0b3c5d7e9f1a2b4c6d8e",
        b'{"code":"OK","message":"Session is valid","success":true,"valid":true}',
        "gWcDi3auoLAPAH8vFU+0vLFGxlI8UvnhuCQsyXqQiYGrQt50X5iXIF819BgwVFcWS2BwnjOYNZZ6sOotUdtAAA==",
    ),
    (
        "",
        "",
        b'{"code":"SESSION_EXPIRED","message":"Session has expired","success":false}',
        "YgGuYoR1wwYwF+quvqkGn9Z+fV8n890YxZXg7HRAvhz9AFuFz7t9/NF31wtHkXr6xSWlJKERT7wKpQlnIwqfDg==",
    ),
]


@pytest.mark.parametrize(
    ("rid", "nonce", "body", "signature"), VECTOR_CASES, ids=["with-metadata", "empty-slots"]
)
def test_signing_test_vector(rid: str, nonce: str, body: bytes, signature: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.conftest import assert_signed

    key = Ed25519PrivateKey.from_private_bytes(VECTOR_SEED)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw.hex() == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (
        base64.b64encode(der).decode()
        == "MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    )
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert kid_of_pem(pem) == "56475aa75463474c"
    message = f"1776081600000\n{rid}\n{nonce}\n".encode() + body
    assert base64.b64encode(key.sign(message)).decode() == signature
    assert body == canonical_bytes(json.loads(body))
    # The suite's own verifier agrees with the vector.
    response = httpx.Response(
        200,
        content=body,
        headers={
            "x-v2-signature": signature,
            "x-auth-signature": signature,
            "x-v2-signature-ts": "1776081600000",
        },
    )
    assert_signed(response, pem, rid, nonce)


async def test_public_key_without_a_signing_key_is_internal(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_api = api.world.app.client
    assert client_api is not None

    async def no_key() -> None:
        return None

    monkeypatch.setattr(client_api.signer, "get", no_key)
    r = await api.send("GET", "/api/v2/public-key", signed=False)  # no key, so nothing can sign it
    assert expect_error(r, "INTERNAL") == {
        "code": "INTERNAL",
        "message": "An internal server error occurred",
        "success": False,
    }
