"""Offline tickets and license files (Licentia extension, `docs/tickets.md`).

One format for both::

    licentia-ticket.v1.<base64url(payload)>.<base64url(signature)>

* `payload` is the canonical JSON (`crypto.canonical`, the form of signed responses) of the
  claims, `kid` included, so the key id is covered by the signature.
* `signature` is Ed25519 (pure) over the ASCII bytes of everything before the last dot:
  `licentia-ticket.v1.<base64url(payload)>`. The version is therefore signed too.
* base64url is RFC 4648 section 5 without padding; any other character is refused.

Only the server's Ed25519 public key is needed to verify a ticket.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licentia.crypto.canonical import canonical_json
from licentia.crypto.signing import SigningKey

PREFIX = "licentia-ticket.v1."
#: Longest ticket accepted anywhere (a real one is about 700 characters).
MAX_LENGTH = 4096
#: Claim kinds: a session ticket (`POST /api/v2/ticket`) and a vendor-issued license file.
KINDS = ("session", "license-file")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_REQUIRED = ("app", "exp", "iat", "identity", "kid", "nbf", "sid", "subscriptions", "typ")


class TicketError(ValueError):
    """A ticket that is malformed, signed by an unknown key or badly signed (not expiry)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise TicketError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TicketError("not unpadded base64url") from None


def issue(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """Sign `claims` (without `kid`; the key's id is added) into a ticket string."""
    payload = canonical_json({**claims, "kid": key.kid})
    head = PREFIX + b64url(payload)
    return head + "." + b64url(key.private.sign(head.encode("ascii")))


def split(ticket: str) -> tuple[bytes, dict[str, Any], bytes]:
    """(signed bytes, claims, signature) of a well-formed ticket; signature not checked."""
    if not isinstance(ticket, str) or len(ticket) > MAX_LENGTH or not ticket.isascii():
        raise TicketError("not a ticket")
    if not ticket.startswith(PREFIX):
        raise TicketError("unknown ticket prefix or version")
    head, dot, sig_text = ticket.rpartition(".")
    body_text = head[len(PREFIX) :]
    if not dot or "." in body_text or not body_text:
        raise TicketError("not a ticket")
    payload = b64url_decode(body_text)
    signature = b64url_decode(sig_text)
    if len(signature) != 64:
        raise TicketError("bad signature length")
    try:
        claims = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TicketError("payload is not JSON") from None
    if not isinstance(claims, dict) or any(name not in claims for name in _REQUIRED):
        raise TicketError("payload lacks required claims")
    try:
        if canonical_json(claims) != payload:
            raise TicketError("payload is not canonical JSON")
    except ValueError as err:
        raise TicketError(str(err)) from None
    if not all(isinstance(claims[n], int) for n in ("iat", "nbf", "exp")):
        raise TicketError("times must be integers")
    if not isinstance(claims["kid"], str) or claims["typ"] not in KINDS:
        raise TicketError("bad kid or typ")
    return head.encode("ascii"), claims, signature


def verify(ticket: str, keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """The claims of `ticket` when its signature verifies with the key its `kid` names.

    Times are not checked here: the caller compares `nbf`/`exp` with its own clock.
    """
    signed, claims, signature = split(ticket)
    key = keys.get(claims["kid"])
    if key is None:
        raise TicketError("unknown signing key")
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        raise TicketError("bad signature") from None
    return claims
