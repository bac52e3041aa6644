"""Signatures: the server's Ed25519 response signatures and the request HMAC."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licentia_client._errors import ResponseError

_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def load_public_key(key: str | bytes | Ed25519PublicKey) -> Ed25519PublicKey:
    """A server public key from its PEM (SPKI), base64 DER, 32 raw bytes or 64 hex digits."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, bytes):
        if len(key) == 32:
            return Ed25519PublicKey.from_public_bytes(key)
        key = key.decode("ascii")
    text = key.strip().replace("\\n", "\n")
    if text.startswith("-----BEGIN"):
        loaded = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return loaded
    if len(text) == 64:
        try:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
        except ValueError:
            pass
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("unreadable public key") from None
    if len(der) != 44 or not der.startswith(_SPKI_PREFIX):
        raise ValueError("not an Ed25519 SPKI DER key")
    return Ed25519PublicKey.from_public_bytes(der[len(_SPKI_PREFIX) :])


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(key: Ed25519PublicKey) -> str:
    """First 16 hex characters of SHA-256 over the raw key (client protocol 0.12)."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def request_signature(secret: str, ts: str, request_id: str, nonce: str, raw: bytes) -> str:
    """0.8: base64 HMAC-SHA256 (key: app secret) over `ts\\nrequest_id\\nnonce\\nraw_body`."""
    message = f"{ts}\n{request_id}\n{nonce}\n".encode() + raw
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_response(
    keys: dict[str, Ed25519PublicKey],
    headers: dict[str, str],
    body: bytes,
    *,
    request_id: str,
    nonce: str,
    now_ms: int,
    max_skew_ms: int,
) -> None:
    """0.12: the echoes match what was sent, the timestamp is near, the signature verifies."""
    signature = headers.get("x-v2-signature") or headers.get("x-auth-signature")
    ts = headers.get("x-v2-signature-ts", "")
    if not signature or not ts.isdigit():
        raise ResponseError("AUTH_INVALID_SIGNATURE", "the response is not signed")
    if headers.get("x-v2-request-id", "") != request_id or headers.get("x-v2-nonce", "") != nonce:
        raise ResponseError("AUTH_REQUEST_MISMATCH", "the response answers another request")
    if abs(int(ts) - now_ms) > max_skew_ms:
        raise ResponseError("AUTH_CLOCK_OUT_OF_SYNC", "the signature time is too far from now")
    kid = headers.get("x-v2-signature-kid", "")
    candidates = [keys[kid]] if kid in keys else list(keys.values())
    try:
        raw_sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise ResponseError("AUTH_INVALID_SIGNATURE", "the signature is not base64") from None
    message = f"{ts}\n{request_id}\n{nonce}\n".encode() + body
    for key in candidates:
        try:
            key.verify(raw_sig, message)
            return
        except InvalidSignature:
            continue
    raise ResponseError("AUTH_INVALID_SIGNATURE", "the response signature does not verify")
