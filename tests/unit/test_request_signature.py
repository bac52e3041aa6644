"""Request HMAC (client protocol 0.8): the spec's test vector and `_check_signature`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from types import SimpleNamespace
from typing import Any

import pytest

from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError
from licentia.services.client import ClientService
from licentia.services.client_calls import Call

SECRET = "e12a0b9f3ed2716bdaaa0a9189243cfe2d0cb55992f2e853b747fc65175501cb"
TIMESTAMP = 1776081600000
REQUEST_ID = "5d0c8e2a7f1b4c3d9e6a0b1c2d3e4f5a"
NONCE = "c4a1e9d7b2f0386a5e1d4c7b9a2f6e08"
BODY = (
    b'{"nonce":"c4a1e9d7b2f0386a5e1d4c7b9a2f6e08","request_id":"5d0c8e2a7f1b4c3d9e6a0b1c2d3e4f5a",'
    b'"session_id":"979cad1aaaddf4c1a903ded408615fa8c438a3bfeee95472a13f606a86aaeda3",'
    b'"timestamp":1776081600000}'
)
SIGNATURE = "7iNMVguTFfOtbqMYukYaJ6cVFwo1f6xezdscaaw01bs="


def hmac_b64(secret: str, ts: str, request_id: str, nonce: str, body: bytes) -> str:
    message = f"{ts}\n{request_id}\n{nonce}\n".encode() + body
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def test_spec_vector() -> None:
    assert hmac_b64(SECRET, str(TIMESTAMP), REQUEST_ID, NONCE, BODY) == SIGNATURE


# -- ClientService._check_signature ----------------------------------------------------------

# `_check_signature` reads nothing from the service; an instance without __init__ is enough.
SERVICE = object.__new__(ClientService)


def make_call(**overrides: Any) -> Call:
    values: dict[str, Any] = {
        "endpoint": "validate-session",
        "body": json.loads(BODY),
        "raw_body": BODY,
        "client_ip": "203.0.113.24",
        "request_id": REQUEST_ID,
        "nonce": NONCE,
        "timestamp": TIMESTAMP,
        "signature": SIGNATURE,
    }
    values.update(overrides)
    return Call(**values)


def make_app(*, required: bool = False, secret: str = SECRET) -> Any:
    return SimpleNamespace(secret=secret.encode(), require_request_signature=required)


def check(call: Call, app: Any) -> Code | None:
    try:
        SERVICE._check_signature(call, app)
    except ProtocolError as err:
        return err.code
    return None


@pytest.mark.parametrize("required", [False, True])
def test_valid_vector_passes(required: bool) -> None:
    assert check(make_call(), make_app(required=required)) is None


def test_absent_metadata_are_empty_slots() -> None:
    body = b'{"session_id":"x"}'
    signature = hmac_b64(SECRET, "", "", "", body)
    call = make_call(raw_body=body, request_id="", nonce="", timestamp=None, signature=signature)
    assert check(call, make_app()) is None


def test_no_signature_passes_unless_required() -> None:
    assert check(make_call(signature=None), make_app(required=False)) is None
    assert (
        check(make_call(signature=None), make_app(required=True)) == Code.INVALID_REQUEST_SIGNATURE
    )


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {"signature": "7iNMVguTFfOtbqMYukYaJ6cVFwo1f6xezdscaaw01bc="}, id="wrong-signature"
        ),
        pytest.param({"signature": "not base64!"}, id="undecodable"),
        pytest.param({"signature": SIGNATURE.rstrip("=")}, id="unpadded"),
        pytest.param({"signature": ""}, id="empty"),
        pytest.param({"raw_body": BODY + b" "}, id="body-changed"),
        pytest.param({"raw_body": json.dumps(json.loads(BODY)).encode()}, id="body-reserialized"),
        pytest.param({"timestamp": TIMESTAMP + 1}, id="timestamp-changed"),
        pytest.param({"timestamp": None}, id="timestamp-missing"),
        pytest.param({"request_id": ""}, id="request-id-missing"),
        pytest.param({"nonce": NONCE.upper()}, id="nonce-changed"),
    ],
)
def test_mismatch_is_refused(overrides: dict[str, Any]) -> None:
    assert check(make_call(**overrides), make_app()) == Code.INVALID_REQUEST_SIGNATURE


def test_other_secret_is_refused() -> None:
    assert check(make_call(), make_app(secret=SECRET[:-1] + "0")) == Code.INVALID_REQUEST_SIGNATURE
