"""An empty metadata header counts as absent (0.6 "the first source that has it").

Regression: `x-auth-timestamp: ` (empty) next to a valid `x-request-id` and `x-auth-nonce` made
the whole header metadata invalid, so a 404 was signed with empty request-id and nonce slots
and echoed neither; on a known path the request was refused as `INVALID_REQUEST`.
"""

from __future__ import annotations

import pytest

from .conftest import Api, Caller, expect_error, expect_ok

EMPTY_TS = {
    "x-request-id": "rid-legacy-1",
    "x-auth-nonce": "nonce-legacy-1",
    "x-auth-timestamp": "",
}


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("POST", "/api/v2/no-such-endpoint", "NOT_FOUND"),
        ("GET", "/api/v2/login", "METHOD_NOT_ALLOWED"),
        ("POST", "/api/v2/init", "INVALID_REQUEST"),  # body `[1]` is no object
    ],
    ids=["unknown-path", "wrong-method", "bad-body"],
)
@pytest.mark.parametrize(
    "empty",
    [
        {"x-auth-timestamp": ""},
        {"x-v2-timestamp": "", "x-auth-timestamp": ""},
        {"x-v2-request-id": "", "x-v2-nonce": ""},
        {"x-auth-timestamp": "   "},
    ],
    ids=["legacy-ts", "both-ts", "v2-rid-nonce", "blank-ts"],
)
async def test_empty_header_keeps_the_echo_before_the_body(
    bare: Caller, method: str, path: str, code: str, empty: dict[str, str]
) -> None:
    headers = {"x-request-id": "rid-legacy-1", "x-auth-nonce": "nonce-legacy-1", **empty}
    content = b"[1]" if method == "POST" else b""
    r = await bare.send(
        method, path, content=content, headers=headers, meta=("rid-legacy-1", "nonce-legacy-1")
    )
    expect_error(r, code)


async def test_empty_header_is_absent_on_a_known_path(api: Api) -> None:
    body = {**api.creds(), "version": "1.0.0"}
    r = await api.post("init", body, headers=EMPTY_TS, meta=("rid-legacy-1", "nonce-legacy-1"))
    expect_ok(r, "init")


async def test_empty_v2_header_falls_back_to_the_legacy_one(api: Api) -> None:
    headers = {
        "x-v2-request-id": "",
        "x-request-id": "rid-2",
        "x-v2-nonce": "",
        "x-auth-nonce": "n-2",
    }
    body = {**api.creds(), "version": "1.0.0"}
    r = await api.post("init", body, headers=headers, meta=("rid-2", "n-2"))
    expect_ok(r, "init")


async def test_a_bad_non_empty_header_is_still_refused(bare: Caller) -> None:
    headers = {**EMPTY_TS, "x-auth-timestamp": "12a"}
    body = {"owner_id": "12345678", "app_name": "NoSuchApp", "secret": "x", "version": "1.0.0"}
    r = await bare.post("init", body, headers=headers, meta=("", ""))
    expect_error(r, "INVALID_REQUEST")
