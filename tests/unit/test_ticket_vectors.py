"""docs/tickets.md: the test vector is what the code produces, and both verifiers accept it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from licentia.crypto import tickets
from licentia.crypto.canonical import canonical_json
from licentia.crypto.signing import SigningKey

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tickets.md"
CLAIMS = {
    "app": {"id": "8f14e45f-ceea-467f-a0e6-1c2d3e4f5a6b", "name": "MyApp", "owner_id": "12345678"},
    "exp": 1776686400,
    "iat": 1776081600,
    "identity": {"id": "c9f0f895-fb98-4b91-9a3b-5d6e7f8a9b0c", "kind": "user", "name": "xela"},
    "jti": "5d0c8e2a7f1b4c3d9e6a0b1c2d3e4f5a",
    "nbf": 1776081600,
    "sid": "S-1-5-21-3623811015-3361044348-30300820-1013",
    "subscriptions": [
        {"expiry_date": "2026-04-29T07:07:00Z", "level": 2, "lifetime": False, "name": "Premium"}
    ],
    "typ": "session",
}
pytestmark = pytest.mark.one_pass


def _doc_value(label: str) -> str:
    found = re.search(rf"^{re.escape(label)}\s+(\S+)$", DOC.read_text(encoding="utf-8"), re.M)
    assert found, f"{label} missing from {DOC}"
    return found.group(1)


def _key() -> SigningKey:
    return SigningKey.from_seed(bytes.fromhex(_doc_value("private seed (hex)")))


def test_docs_vector_is_what_the_server_signs() -> None:
    key = _key()
    assert key.raw_public.hex() == _doc_value("public key (hex)")
    assert key.kid == _doc_value("kid")
    assert canonical_json({**CLAIMS, "kid": key.kid}).decode() == _doc_value("payload")
    ticket = tickets.issue(key, CLAIMS)
    assert ticket == _doc_value("ticket")
    assert tickets.verify(ticket, {key.kid: key.public}) == {**CLAIMS, "kid": key.kid}


def test_client_verifies_the_docs_vector() -> None:
    sys.path.insert(0, str(ROOT / "clients" / "python"))
    from licentia_client import OfflineTicketError, verify_ticket

    ticket, pem = _doc_value("ticket"), _key().pem
    claims = verify_ticket(
        ticket,
        [pem],
        app_name="MyApp",
        hwid="s-1-5-21-3623811015-3361044348-30300820-1013",
        now=1776081600,
    )
    assert claims.identity_name == "xela" and claims.subscriptions[0].level == 2
    with pytest.raises(OfflineTicketError) as late:
        verify_ticket(ticket, [pem], now=1776686400)
    assert late.value.code == "TICKET_EXPIRED"
    other = SigningKey.generate()
    with pytest.raises(OfflineTicketError):
        verify_ticket(ticket, [other.pem], now=1776081600)
    # A changed claim breaks the signature even when the payload stays well-formed.
    payload = json.loads(canonical_json({**CLAIMS, "kid": _key().kid}))
    payload["sid"] = "OTHER"
    forged = (
        tickets.PREFIX + tickets.b64url(canonical_json(payload)) + "." + ticket.rpartition(".")[2]
    )
    with pytest.raises(OfflineTicketError):
        verify_ticket(forged, [pem], now=1776081600)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "licentia-ticket.v2.e30.AA",
        "licentia-ticket.v1.e30",
        "licentia-ticket.v1.e30=.AA",
        "licentia-ticket.v1.a.b.c",
        "licentia-ticket.v1.e30." + "A" * 86,
    ],
)
def test_split_refuses_malformed(bad: str) -> None:
    with pytest.raises(tickets.TicketError):
        tickets.split(bad)


def test_payload_must_be_canonical() -> None:
    key = _key()
    loose = json.dumps({**CLAIMS, "kid": key.kid}, indent=1).encode()
    head = tickets.PREFIX + tickets.b64url(loose)
    ticket = head + "." + tickets.b64url(key.private.sign(head.encode()))
    with pytest.raises(tickets.TicketError):
        tickets.verify(ticket, {key.kid: key.public})
