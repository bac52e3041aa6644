"""Offline tickets and license files: verification with the server public key, and storage.

Format (docs/tickets.md): `licentia-ticket.v1.<b64url(payload)>.<b64url(signature)>`, the
Ed25519 signature covering the ASCII bytes before the last dot, the payload canonical JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licentia_client._crypto import kid_of, load_public_key
from licentia_client._errors import OfflineTicketError
from licentia_client._models import TicketClaims

PREFIX = "licentia-ticket.v1."
MAX_LENGTH = 4096
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED = ("app", "exp", "iat", "identity", "kid", "nbf", "sid", "subscriptions", "typ")


def _b64url(text: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise OfflineTicketError("TICKET_INVALID", "not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise OfflineTicketError("TICKET_INVALID", "not unpadded base64url") from None


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise OfflineTicketError("TICKET_INVALID", "the payload is not JSON") from None
    if not isinstance(claims, dict) or any(name not in claims for name in _REQUIRED):
        raise OfflineTicketError("TICKET_INVALID", "the payload lacks required claims")
    for name in ("iat", "nbf", "exp"):
        if not isinstance(claims[name], int) or isinstance(claims[name], bool):
            raise OfflineTicketError("TICKET_INVALID", f"{name} is not an integer")
    if not isinstance(claims["app"], dict) or not isinstance(claims["identity"], dict):
        raise OfflineTicketError("TICKET_INVALID", "app and identity must be objects")
    return claims


def verify_ticket(
    ticket: str,
    public_keys: Iterable[str | bytes | Ed25519PublicKey],
    *,
    app_name: str | None = None,
    hwid: str | None = None,
    now: float | None = None,
    leeway: int = 300,
) -> TicketClaims:
    """Verify a ticket offline; raise `OfflineTicketError` unless it may be used now.

    Checks, in order: format, signature (with the key its `kid` names), the app name (when
    given), the machine (when given and the ticket is bound to one; case-insensitive), then
    `nbf - leeway <= now < exp`. `exp` is never stretched by the leeway.
    """
    keys = {kid_of(k): k for k in (load_public_key(key) for key in public_keys)}
    text = ticket.strip() if isinstance(ticket, str) else ""
    if not text.isascii() or len(text) > MAX_LENGTH or not text.startswith(PREFIX):
        raise OfflineTicketError("TICKET_INVALID", "not a licentia-ticket.v1 ticket")
    head, _, sig_text = text.rpartition(".")
    body_text = head[len(PREFIX) :]
    if "." in body_text or not body_text:
        raise OfflineTicketError("TICKET_INVALID", "not a licentia-ticket.v1 ticket")
    payload, signature = _b64url(body_text), _b64url(sig_text)
    claims = _claims(payload)
    key = keys.get(str(claims["kid"]))
    if key is None:
        raise OfflineTicketError("TICKET_INVALID", "signed by a key this program does not know")
    try:
        key.verify(signature, head.encode("ascii"))
    except InvalidSignature:
        raise OfflineTicketError("TICKET_INVALID", "the signature does not verify") from None
    result = TicketClaims.parse(claims)
    if app_name is not None and result.app_name != app_name:
        raise OfflineTicketError("TICKET_WRONG_APP", "the ticket is for another app")
    if hwid is not None and result.sid and result.sid.casefold() != hwid.casefold():
        raise OfflineTicketError("TICKET_WRONG_MACHINE", "the ticket is for another machine")
    moment = time.time() if now is None else now
    if moment < result.not_before - leeway:
        raise OfflineTicketError("TICKET_NOT_YET_VALID", "the ticket is not valid yet")
    if moment >= result.expires_at:
        raise OfflineTicketError("TICKET_EXPIRED", "the ticket has expired")
    return result


class TicketStore:
    """One ticket in one file, written atomically and readable by its owner only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def save(self, ticket: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".ticket-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(ticket.strip() + "\n")
            os.chmod(name, 0o600)
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise

    def load(self) -> str | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return text or None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
