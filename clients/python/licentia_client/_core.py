"""What `Client` and `AsyncClient` share: the endpoint table, request building, and the
checks every response passes before anything in it is used. No I/O here."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licentia_client import _models as m
from licentia_client._crypto import kid_of, load_public_key, request_signature, verify_response
from licentia_client._errors import ResponseError, api_error
from licentia_client._tickets import TicketStore, verify_ticket

T = TypeVar("T")
USER_AGENT = "licentia-client/0.1"


@dataclass(frozen=True)
class Op(Generic[T]):
    """One call: endpoint, fields, how to read the success body, what to keep from it."""

    endpoint: str
    fields: dict[str, Any]
    parse: Callable[[dict[str, Any]], T]
    with_session: bool = True


@dataclass(frozen=True)
class Prepared:
    """A request as sent; a retry resends exactly these bytes (same nonce, 0.7)."""

    url: str
    content: bytes
    headers: dict[str, str]
    request_id: str
    nonce: str
    endpoint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _api_base(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/api/v2") else base + "/api/v2"


def _hwid(fields: dict[str, Any], hwid: str | None) -> dict[str, Any]:
    if hwid:
        fields["sid"] = hwid
    return fields


class Core:
    """Settings, session state and the typed operations of the client protocol."""

    def __init__(
        self,
        base_url: str,
        *,
        owner_id: str,
        app_name: str,
        secret: str,
        version: str,
        public_key: str | bytes | Ed25519PublicKey,
        extra_public_keys: Iterable[str | bytes | Ed25519PublicKey] = (),
        app_hash: str = "",
        sign_requests: bool = True,
        retries: int = 2,
        retry_backoff: float = 0.2,
        max_clock_skew_ms: int = 300_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = _api_base(base_url)
        self.owner_id, self.app_name, self.secret, self.version = (
            owner_id,
            app_name,
            secret,
            version,
        )
        keys = [load_public_key(public_key), *(load_public_key(k) for k in extra_public_keys)]
        self.keys: dict[str, Ed25519PublicKey] = {kid_of(k): k for k in keys}
        self.app_hash = app_hash
        self.sign_requests = sign_requests
        self.retries = max(0, retries)
        self.retry_backoff = retry_backoff
        self.max_clock_skew_ms = max_clock_skew_ms
        self.clock = clock
        self.session_id = ""

    # -- requests and responses ----------------------------------------------------------

    def prepare(self, op: Op[Any]) -> Prepared:
        fields = {k: v for k, v in op.fields.items() if v is not None}
        if op.with_session:
            if not self.session_id:
                raise ResponseError("NOT_INITIALIZED", "call init() first")
            fields["session_id"] = self.session_id
        content = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        request_id, nonce = secrets.token_hex(16), secrets.token_hex(16)
        ts = str(int(self.clock() * 1000))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "x-v2-request-id": request_id,
            "x-v2-nonce": nonce,
            "x-v2-timestamp": ts,
        }
        if self.sign_requests and self.secret:
            headers["x-v2-signature"] = request_signature(
                self.secret, ts, request_id, nonce, content
            )
        return Prepared(
            f"{self.api}/{op.endpoint}", content, headers, request_id, nonce, op.endpoint
        )

    def finish(self, op: Op[T], prepared: Prepared, status: int, headers: Any, body: bytes) -> T:
        """Verify, then parse: nothing of an unverified response is ever used."""
        lowered = {k.lower(): v for k, v in headers.items()}
        verify_response(
            self.keys,
            lowered,
            body,
            request_id=prepared.request_id,
            nonce=prepared.nonce,
            now_ms=int(self.clock() * 1000),
            max_skew_ms=self.max_clock_skew_ms,
        )
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ResponseError("INVALID_JSON", "the response is not JSON") from None
        if not isinstance(data, dict):
            raise ResponseError("INVALID_JSON", "the response is not a JSON object")
        if data.get("success") is not True:
            raise api_error(status, data)
        return op.parse(data)

    # -- the endpoints (client protocol section 2, plus the ticket extension) --------------

    def _init_parse(self, body: dict[str, Any]) -> m.InitResult:
        result = m.InitResult.parse(body)
        self.session_id = result.session_id
        return result

    def op_init(self) -> Op[m.InitResult]:
        fields = {
            "owner_id": self.owner_id,
            "app_name": self.app_name,
            "secret": self.secret,
            "version": self.version,
            "hash": self.app_hash or None,
        }
        return Op("init", fields, self._init_parse, with_session=False)

    @staticmethod
    def _login(kind: str) -> Callable[[dict[str, Any]], m.LoginResult]:
        return lambda body: m.LoginResult.parse(kind, body)

    def op_login(self, username: str, password: str, hwid: str | None) -> Op[m.LoginResult]:
        fields = _hwid({"username": username, "password": password}, hwid)
        return Op("login", fields, self._login("user"))

    def op_license_login(self, key: str, hwid: str | None) -> Op[m.LoginResult]:
        return Op("licenses", _hwid({"license_key": key}, hwid), self._login("license"))

    def op_register(
        self, username: str, password: str, key: str, email: str, hwid: str | None
    ) -> Op[m.LoginResult]:
        fields = {"username": username, "password": password, "key": key, "email": email or None}
        return Op("register", _hwid(fields, hwid), self._login("user"))

    def op_extend(self, username: str, key: str, hwid: str | None) -> Op[m.ExtendResult]:
        fields = _hwid({"username": username, "license_key": key}, hwid)
        return Op("extend", fields, m.ExtendResult.parse)

    def op_change_password(self, old: str, new: str) -> Op[str]:
        fields = {"old_password": old, "new_password": new}
        return Op("change-password", fields, _message)

    def op_device_auth(
        self, device_type: str, device_id: str, hwid: str | None
    ) -> Op[m.LoginResult]:
        fields = _hwid({"device_type": device_type, "device_id": device_id}, hwid)
        return Op("device-auth", fields, self._login("device"))

    def op_get_variable(self, key: str) -> Op[m.Variable]:
        return Op("variables", {"var_key": key}, m.Variable.parse)

    def op_set_variable(self, key: str, value: str) -> Op[m.Variable]:
        return Op("variables/set", {"var_key": key, "var_value": value}, m.Variable.parse)

    def op_log(self, message: str) -> Op[str]:
        return Op("logs", {"message": message}, _message)

    def op_get_chats(self, channel: str, limit: int | None, cursor: str | None) -> Op[m.ChatPage]:
        fields = {"channel_name": channel, "limit": limit, "cursor": cursor or None}
        return Op("chats/get", fields, m.ChatPage.parse)

    def op_send_chat(self, channel: str, message: str) -> Op[m.ChatMessage]:
        fields = {"channel_name": channel, "message": message}
        return Op("chats/send", fields, lambda b: m.ChatMessage.parse(b.get("data") or {}))

    def op_validate_session(self) -> Op[m.SessionStatus]:
        return Op("validate-session", {}, m.SessionStatus.parse)

    def op_check_blacklist(self, hwid: str | None, ip: str | None) -> Op[m.BlacklistResult]:
        return Op("blacklist/check", {"hwid": hwid, "ip": ip}, m.BlacklistResult.parse)

    def op_fetch_ticket(self) -> Op[m.IssuedTicket]:
        return Op("ticket", {}, m.IssuedTicket.parse)

    def op_check_ticket(self, ticket: str, hwid: str | None) -> Op[m.TicketStatus]:
        fields = _hwid({"ticket": ticket}, hwid)
        return Op("ticket/check", fields, m.TicketStatus.parse, with_session=False)

    # -- offline -------------------------------------------------------------------------

    def verify_ticket(self, ticket: str, *, hwid: str | None = None) -> m.TicketClaims:
        """Verify a ticket offline against the pinned keys and this app's name."""
        return verify_ticket(
            ticket, self.keys.values(), app_name=self.app_name, hwid=hwid, now=self.clock()
        )

    def start_offline(self, store: TicketStore, *, hwid: str | None = None) -> m.TicketClaims:
        """The claims of the stored ticket when it lets this machine start now (else raises)."""
        from licentia_client._errors import OfflineTicketError

        ticket = store.load()
        if ticket is None:
            raise OfflineTicketError("TICKET_MISSING", "no ticket is stored")
        return self.verify_ticket(ticket, hwid=hwid)


def _message(body: dict[str, Any]) -> str:
    return str(body.get("message", ""))
