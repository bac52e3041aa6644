"""The response envelope of `/api/v2` (client protocol 0.10 to 0.12).

Every client response, success or error, transport and framework errors included, is built
here: canonical JSON body, Ed25519 signature over `ts\\nrequest_id\\nnonce\\nbody`, and the
signature and echo headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from licentia.crypto.canonical import canonical_json
from licentia.crypto.signing import SigningKey
from licentia.domain.codes import SUCCESS_MESSAGES, SYSTEM_ONLY, Code, default_message, http_status
from licentia.domain.errors import ProtocolError

Headers = list[tuple[bytes, bytes]]


def resolve_message(code: Code, endpoint: str | None, custom: dict[str, str] | None) -> str:
    """The message for `code`: the app's custom text where allowed, else the default."""
    if code is Code.OK:
        key = f"OK.{endpoint}"
        if custom and key in custom:
            return custom[key]
        return SUCCESS_MESSAGES.get(endpoint or "", default_message(code))
    if custom and code not in SYSTEM_ONLY and code.value in custom:
        return custom[code.value]
    return default_message(code)


def error_body(
    err: ProtocolError, endpoint: str | None, custom: dict[str, str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": False,
        "code": err.code.value,
        "message": resolve_message(err.code, endpoint, custom),
    }
    if err.fields:
        body["fields"] = list(err.fields)
    if err.retry_after is not None:
        body["retry_after"] = err.retry_after
    body.update(err.extra)
    if endpoint == "validate-session":
        body["valid"] = False
    return body


class Signer:
    """Signs response bodies with the active key; `clock_ms` is injectable for tests."""

    def __init__(self, key: SigningKey, clock_ms: Callable[[], int] | None = None) -> None:
        self.key = key
        self._kid = key.kid.encode()  # a SHA-256 of the public key: once, not per response
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)

    def headers(self, body: bytes, request_id: str, nonce: str, *, echo: bool = True) -> Headers:
        ts = str(self._clock_ms())
        signature = self.key.sign(ts, request_id, nonce, body).encode()
        headers: Headers = [
            (b"content-type", b"application/json"),
            (b"cache-control", b"no-store"),
            (b"x-v2-signature", signature),
            (b"x-auth-signature", signature),
            (b"x-v2-signature-ts", ts.encode()),
            (b"x-v2-signature-kid", self._kid),
        ]
        if echo and request_id:
            headers.append((b"x-v2-request-id", request_id.encode()))
        if echo and nonce:
            headers.append((b"x-v2-nonce", nonce.encode()))
        return headers


def encode_body(body: dict[str, Any]) -> bytes:
    return canonical_json(body)


def status_of(code: Code) -> int:
    return http_status(code)
