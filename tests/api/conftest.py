"""Client-protocol test helpers: the spec's code table, the response invariants, an API driver.

The tables below are copied from `client-api-v2.md` (section 2 success messages, section 3
codes) on purpose: the tests hold the server to the document, not to its own code table.

Every response that goes through `Api.post`/`Api.send` is checked against the invariants of
0.10 to 0.12: a valid Ed25519 signature over ts, request id, nonce and body; the echo headers;
canonical body bytes; no JSON null except `update.allowed_until`; dates in
`YYYY-MM-DDTHH:MM:SSZ`; `session_id` only where allowed; error bodies without extra keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from licentia.services import admin_apps, admin_content, admin_identities, admin_licenses
from licentia.store.tables import sessions
from tests.conftest import World, assert_signed

# -- the spec's tables -------------------------------------------------------------------

#: Section 3: code -> (HTTP status, default message).
SPEC_CODES: dict[str, tuple[int, str]] = {
    "INVALID_REQUEST": (400, "The request body must be a JSON object"),
    "PAYLOAD_TOO_LARGE": (413, "The request body is too large"),
    "NOT_FOUND": (404, "Unknown endpoint"),
    "METHOD_NOT_ALLOWED": (405, "This method is not allowed for this endpoint"),
    "REQUEST_EXPIRED": (401, "The request timestamp is outside the allowed window"),
    "REPLAY_DETECTED": (401, "This request has already been used"),
    "INVALID_REQUEST_SIGNATURE": (401, "The request signature is invalid"),
    "RATE_LIMITED": (429, "Too many requests. Please try again later"),
    "INTERNAL": (500, "An internal server error occurred"),
    "MISSING_FIELDS": (400, "Required fields are missing"),
    "INVALID_INPUT": (400, "One or more fields are invalid"),
    "INVALID_SESSION": (401, "Invalid session"),
    "SESSION_EXPIRED": (401, "Session has expired"),
    "LOGIN_REQUIRED": (401, "You must be logged in to do this"),
    "OWNER_NOT_FOUND": (404, "Owner not found"),
    "APP_NOT_FOUND": (404, "Application not found"),
    "INVALID_SECRET": (401, "Invalid application secret"),
    "APP_DISABLED": (403, "This application is disabled"),
    "HASH_REQUIRED": (400, "Application hash is required"),
    "INVALID_HASH": (401, "This build of the application is not allowed"),
    "UPDATE_REQUIRED": (426, "A new version is available. Please update to continue"),
    "VERSION_MISMATCH": (426, "This version does not match the server version"),
    "IP_BLOCKED": (403, "Your IP address is blocked"),
    "VPN_BLOCKED": (403, "VPN and proxy connections are not allowed"),
    "COUNTRY_BLOCKED": (403, "Access from your country is not allowed"),
    "SID_BLOCKED": (403, "This system is blocked"),
    "SID_NOT_WHITELISTED": (403, "This system is not whitelisted"),
    "USER_NOT_FOUND": (404, "User not found"),
    "INVALID_PASSWORD": (401, "Invalid password"),
    "USER_BANNED": (403, "This account is banned"),
    "USER_SUSPENDED": (403, "This account is suspended"),
    "USER_EXPIRED": (403, "Your subscription has expired"),
    "DEVICE_LIMIT_REACHED": (403, "Device limit reached"),
    "USERNAME_TAKEN": (409, "Username is already taken"),
    "PASSWORD_REUSED": (400, "The new password must differ from the current password"),
    "PASSWORD_CHANGE_UNAVAILABLE": (403, "Password change is disabled for this app"),
    "LICENSE_NOT_FOUND": (404, "License key not found"),
    "LICENSE_IN_USE": (403, "This license key is already in use"),
    "LICENSE_BANNED": (403, "This license key is banned"),
    "LICENSE_PAUSED": (403, "This license key is paused"),
    "LICENSE_EXPIRED": (403, "This license key has expired"),
    "INVALID_DURATION": (422, "This license key has no duration to apply"),
    "INVALID_DEVICE_TYPE": (400, "Device type must be motherboard or processor"),
    "MOTHERBOARD_NOT_FOUND": (404, "Motherboard not found"),
    "PROCESSOR_NOT_FOUND": (404, "Processor not found"),
    "MOTHERBOARD_BANNED": (403, "This motherboard is banned"),
    "PROCESSOR_BANNED": (403, "This processor is banned"),
    "MOTHERBOARD_PAUSED": (403, "This motherboard is paused"),
    "PROCESSOR_PAUSED": (403, "This processor is paused"),
    "MOTHERBOARD_EXPIRED": (403, "This motherboard has expired"),
    "PROCESSOR_EXPIRED": (403, "This processor has expired"),
    "VARIABLE_NOT_FOUND": (404, "Variable not found"),
    "VARIABLE_READ_ONLY": (403, "This variable is read-only"),
    "CHANNEL_NOT_FOUND": (404, "Chat channel not found"),
    "USERNAME_NOT_LINKED": (403, "You must be logged in with a user account to chat"),
    "USER_MUTED": (403, "You are muted in this channel"),
    # docs/tickets.md (Licentia extension, not in the AuthlyX spec)
    "TICKETS_DISABLED": (403, "Offline tickets are not enabled for this application"),
    "INVALID_TICKET": (401, "The ticket is invalid"),
    "TICKET_EXPIRED": (401, "The ticket has expired"),
}

#: Section 2: default success message per canonical endpoint.
OK_MESSAGES: dict[str, str] = {
    "init": "Init success",
    "login": "Login success",
    "licenses": "Login success",
    "register": "User registered successfully",
    "extend": "Account extended successfully.",
    "change-password": "Password changed successfully",
    "device-auth": "Device authentication successful",
    "variables": "Variable retrieved successfully",
    "variables/set": "Variable updated successfully",
    "logs": "Log saved successfully",
    "chats/get": "Messages retrieved successfully",
    "chats/send": "Message sent successfully",
    "validate-session": "Session is valid",
    "blacklist/check": "Login success",
}

#: docs/tickets.md: the offline-ticket extension's success messages.
EXTENSION_OK_MESSAGES: dict[str, str] = {
    "ticket": "Ticket issued",
    "ticket/check": "Ticket is valid",
}

ALIASES = {
    "license-login": "licenses",
    "variables/get": "variables",
    "validate": "validate-session",
}
POST_ENDPOINTS = (*OK_MESSAGES, *ALIASES)
SESSION_ENDPOINTS = tuple(e for e in OK_MESSAGES if e != "init")
IDENTITY_ENDPOINTS = ("register", "login", "licenses", "extend", "device-auth")
WITH_SESSION_ID = frozenset({"init", "login", "licenses", "device-auth", "register"})

LIFETIME_DATE = "9999-12-31T23:59:59Z"
LIFETIME_DAYS = 36500
CLIENT_IP = "203.0.113.24"
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE_KEYS = frozenset(
    {
        "expiry_date",
        "last_login",
        "registered_at",
        "created_at",
        "updated_at",
        "session_expires_at",
        "muted_until",
        "allowed_until",
    }
)
#: Optional error keys (0.10) and the codes that may carry them.
ERROR_EXTRAS: dict[str, frozenset[str]] = {
    "fields": frozenset({"MISSING_FIELDS", "INVALID_INPUT"}),
    "update": frozenset({"UPDATE_REQUIRED", "VERSION_MISMATCH"}),
    "muted_until": frozenset({"USER_MUTED"}),
    "retry_after": frozenset({"RATE_LIMITED"}),
}
MAX_SAFE = 2**53 - 1

#: 2.0.4: profile object keys per identity kind, and the root copy.
PROFILE_COMMON = {
    "email",
    "subscription",
    "subscription_name",
    "subscription_level",
    "expiry_date",
    "lifetime",
    "days_left",
    "sid",
    "hwid",
    "ip_address",
    "last_login",
    "registered_at",
    "created_at",
}
USER_KEYS = PROFILE_COMMON | {
    "username",
    "device_limit",
    "current_devices",
    "linked_license_key",
}
LICENSE_KEYS = PROFILE_COMMON | {"license_key", "device_limit", "current_devices"}
DEVICE_KEYS = PROFILE_COMMON | {"device_type", "device_id", "name", "activated"}
ROOT_COPY = {
    "username",
    "email",
    "license_key",
    "subscription",
    "subscription_level",
    "expiry_date",
    "days_left",
    "last_login",
    "registered_at",
    "created_at",
    "sid",
    "hwid",
    "ip_address",
    "lifetime",
}


def canonical_endpoint(endpoint: str | None) -> str:
    """The canonical endpoint name of a path tail (aliases, one trailing `/`, query dropped)."""
    name = (endpoint or "").split("?", 1)[0]
    name = name.removesuffix("/")
    return ALIASES.get(name, name)


def canonical_bytes(obj: Any) -> bytes:
    """0.11, as the spec states it for Python."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_nonce() -> str:
    return uuid.uuid4().hex


def kid_of_pem(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def expected_meta(body: Any, headers: dict[str, str] | None) -> tuple[str, str]:
    """0.6: request id and nonce from the body, else x-v2-*, else the legacy header."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}

    def pick(key: str, *names: str) -> str:
        if isinstance(body, dict) and body.get(key) is not None:
            return str(body[key])
        for name in names:
            if lowered.get(name, "").strip():  # an empty header value counts as absent
                return lowered[name].strip()
        return ""

    return (
        pick("request_id", "x-v2-request-id", "x-request-id"),
        pick("nonce", "x-v2-nonce", "x-auth-nonce"),
    )


def hmac_signature(secret: str, timestamp: str, request_id: str, nonce: str, raw: bytes) -> str:
    """0.8: base64 HMAC-SHA256 over `ts\\nrequest_id\\nnonce\\nraw_body`."""
    message = f"{timestamp}\n{request_id}\n{nonce}\n".encode() + raw
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# -- response invariants -----------------------------------------------------------------


def _walk(value: Any, path: tuple[Any, ...]) -> None:
    where = ".".join(str(p) for p in path)
    if value is None:
        assert path == ("update", "allowed_until"), f"JSON null at {where}"
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        assert -MAX_SAFE <= value <= MAX_SAFE, f"integer out of range at {where}"
    elif isinstance(value, float):
        raise AssertionError(f"float at {where}")
    elif isinstance(value, str):
        if path and path[-1] in DATE_KEYS and value:
            assert DATE_RE.match(value), f"bad date {value!r} at {where}"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str) and key.isascii(), f"non-ASCII key at {where}"
            _walk(item, (*path, key))
    else:  # pragma: no cover
        raise AssertionError(f"unexpected JSON type at {where}")


def check_body(response: httpx.Response, endpoint: str | None) -> dict[str, Any]:
    """The body rules of 0.10 and 0.11 that hold for every client response."""
    assert response.headers.get("content-type") == "application/json"
    assert "content-encoding" not in response.headers
    body = json.loads(response.content.decode("utf-8"))
    assert isinstance(body, dict)
    assert response.content == canonical_bytes(body), "body is not canonical JSON"
    _walk(body, ())
    assert isinstance(body.get("success"), bool)
    assert isinstance(body.get("code"), str)
    assert isinstance(body.get("message"), str)
    canon = canonical_endpoint(endpoint)
    if body["success"]:
        assert response.status_code == 200 and body["code"] == "OK"
    else:
        assert response.status_code != 200 and body["code"] != "OK"
        allowed = {"success", "code", "message"}
        for key, codes in ERROR_EXTRAS.items():
            if body["code"] in codes:
                allowed.add(key)
        if canon == "validate-session":
            allowed.add("valid")
            assert body.get("valid") is False, "validate-session error without valid:false"
        extra = set(body) - allowed
        assert not extra, f"error body carries {sorted(extra)}"
    if "session_id" in body:
        assert body["success"] and canon in WITH_SESSION_ID, "session_id where it must not be"
    elif body["success"] and canon in WITH_SESSION_ID:
        raise AssertionError(f"{canon} success without session_id")
    if "version" in body or "server_version" in body:
        assert canon == "init", "version keys outside init"
    if body["code"] == "RATE_LIMITED":
        retry = body["retry_after"]
        assert isinstance(retry, int) and retry >= 1
        assert response.headers.get("retry-after") == str(retry)
    return body


def check_signed(response: httpx.Response, pem: str, request_id: str, nonce: str) -> None:
    """0.12: signature, each header exactly once, echo only of what the client sent."""
    assert_signed(response, pem, request_id, nonce)
    for name in ("x-v2-signature", "x-auth-signature", "x-v2-signature-ts", "x-v2-signature-kid"):
        assert len(response.headers.get_list(name)) == 1, f"{name} not sent exactly once"
    assert len(response.headers["x-v2-signature"]) == 88
    assert response.headers["x-v2-signature-kid"] == kid_of_pem(pem)
    ts = response.headers["x-v2-signature-ts"]
    assert ts.isdigit() and abs(int(ts) - time.time() * 1000) < 120_000
    assert response.headers.get_list("x-v2-request-id") == ([request_id] if request_id else [])
    assert response.headers.get_list("x-v2-nonce") == ([nonce] if nonce else [])
    assert response.headers.get("cache-control") == "no-store"


def expect_error(
    response: httpx.Response,
    code: str,
    *,
    fields: list[str] | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """An error of section 3: exact status, `success:false`, code and (default) message."""
    status, default = SPEC_CODES[code]
    body = response.json()
    assert (response.status_code, body.get("code")) == (status, code), response.text
    assert body["success"] is False
    assert body["message"] == (default if message is None else message), body
    if fields is not None:
        assert body.get("fields") == fields, body
    elif code in ("MISSING_FIELDS", "INVALID_INPUT"):
        assert body["fields"] == sorted(body["fields"]) and body["fields"]
    return body  # type: ignore[no-any-return]


def expect_ok(
    response: httpx.Response, endpoint: str, message: str | None = None
) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200, response.text
    assert body["success"] is True and body["code"] == "OK"
    canon = canonical_endpoint(endpoint)
    default = {**OK_MESSAGES, **EXTENSION_OK_MESSAGES}[canon]
    assert body["message"] == (default if message is None else message)
    return body  # type: ignore[no-any-return]


def check_profile(body: dict[str, Any], kind: str) -> dict[str, Any]:
    """2.0.4: the identity object with every field, and the flat root copy."""
    keys = {"user": USER_KEYS, "license": LICENSE_KEYS, "device": DEVICE_KEYS}[kind]
    obj = body[kind]
    assert set(obj) == keys, set(obj) ^ keys
    assert obj["subscription"] == obj["subscription_name"]
    assert obj["sid"] == obj["hwid"]
    assert isinstance(obj["subscription_level"], int)
    assert isinstance(obj["lifetime"], bool) and isinstance(obj["days_left"], int)
    if obj["lifetime"]:
        assert (obj["expiry_date"], obj["days_left"]) == (LIFETIME_DATE, LIFETIME_DAYS)
    for key in ROOT_COPY - {"username", "license_key"}:
        assert body[key] == obj[key], key
    if kind == "user":
        assert body["username"] == obj["username"]
        assert body["license_key"] == obj["linked_license_key"]
    elif kind == "license":
        assert body["username"] == body["license_key"] == obj["license_key"]
    else:
        assert body["username"] == obj["device_id"] and body["license_key"] == ""
    for other in {"user", "license", "device"} - {kind}:
        assert other not in body
    for absent in ("version", "server_version", "update"):
        assert absent not in body and absent not in obj
    return obj  # type: ignore[no-any-return]


# -- the driver --------------------------------------------------------------------------


class Caller:
    """Calls `/api/v2` and checks every response against the envelope invariants."""

    def __init__(self, client: httpx.AsyncClient, pem: str) -> None:
        self.client = client
        self.pem = pem

    async def send(
        self,
        method: str,
        path: str,
        *,
        content: Any = b"",
        headers: dict[str, str] | None = None,
        meta: tuple[str, str] = ("", ""),
        endpoint: str | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        response = await self.client.request(method, path, content=content, headers=headers)
        if endpoint is None:
            endpoint = path.removeprefix("/api/v2/")
        if signed:
            check_signed(response, self.pem, *meta)
        check_body(response, endpoint)
        return response

    async def post(
        self,
        endpoint: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        meta: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """POST a JSON body (or raw `content`); the expected echo comes from 0.6 unless given."""
        if content is None:
            content = json.dumps({} if body is None else body, ensure_ascii=False).encode()
        if meta is None:
            meta = expected_meta(body, headers)
        return await self.send(
            "POST",
            f"/api/v2/{endpoint}",
            content=content,
            headers=headers,
            meta=meta,
            endpoint=endpoint,
        )


class Api(Caller):
    """A `Caller` bound to one isolated vendor (`World`), with shortcuts to set up state."""

    def __init__(self, world: World) -> None:
        super().__init__(world.client, world.pem)
        self.world = world
        self.rt = world.rt
        self.clock = world.clock
        self.app_id = world.app_id
        self.owner_id = world.owner_id
        self.app_name = world.app_name
        self.secret = world.secret

    # set-up shortcuts

    def creds(self) -> dict[str, str]:
        return {"owner_id": self.owner_id, "app_name": self.app_name, "secret": self.secret}

    async def init(self, **overrides: Any) -> str:
        body: dict[str, Any] = {**self.creds(), "version": "1.0.0"}
        body.update(overrides)
        response = await self.post("init", body)
        assert response.status_code == 200, response.text
        return str(response.json()["session_id"])

    async def set(self, setting: str, value: Any) -> None:
        await admin_apps.set_app_setting(self.rt, self.app_id, setting, value)

    async def key(self, *, days: int | None = 30, subscription: str = "Premium", **kw: Any) -> str:
        if kw.get("lifetime") or kw.get("expires") is not None:
            days = None
        keys = await admin_licenses.generate_licenses(
            self.rt, self.app_id, subscription, days=days, **kw
        )
        return keys[0]

    async def register(
        self,
        username: str = "mara",
        password: str = "pw-mara",
        *,
        sid: str | None = "SID-A",
        key: str | None = None,
        session: str | None = None,
        **extra: Any,
    ) -> tuple[str, str, dict[str, Any]]:
        """Register a user on a (fresh) session; returns (session_id, key, body)."""
        session = session or await self.init()
        key = key or await self.key()
        body: dict[str, Any] = {
            "session_id": session,
            "username": username,
            "password": password,
            "key": key,
            **extra,
        }
        if sid is not None:
            body["sid"] = sid
        response = await self.post("register", body)
        assert response.status_code == 200, response.text
        return session, key, response.json()

    async def login(
        self,
        username: str = "mara",
        password: str = "pw-mara",
        *,
        sid: str | None = "SID-A",
        session: str | None = None,
    ) -> str:
        session = session or await self.init()
        body: dict[str, Any] = {"session_id": session, "username": username, "password": password}
        if sid is not None:
            body["sid"] = sid
        response = await self.post("login", body)
        assert response.status_code == 200, response.text
        return session

    async def user(self, username: str = "mara", password: str = "pw-mara", **kw: Any) -> None:
        """A user created by the vendor (lifetime unless a term is given)."""
        kw.setdefault("subscription_name", "Premium")
        await admin_identities.create_user(self.rt, self.app_id, username, password, **kw)

    async def activate(
        self, key: str, *, sid: str | None = "SID-A", session: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A license session (`licenses`); returns (session_id, body)."""
        session = session or await self.init()
        body: dict[str, Any] = {"session_id": session, "license_key": key}
        if sid is not None:
            body["sid"] = sid
        response = await self.post("licenses", body)
        assert response.status_code == 200, response.text
        return session, response.json()

    async def device(
        self, device_type: str = "motherboard", device_id: str = "MB-1", **kw: Any
    ) -> None:
        kw.setdefault("subscription_name", "Premium")
        await admin_identities.create_device(self.rt, self.app_id, device_type, device_id, **kw)

    async def channel(self, name: str = "general", **kw: Any) -> None:
        await admin_content.create_channel(self.rt, self.app_id, name, **kw)

    async def session_row(self, session_id: str) -> Any:
        """The stored row, after the server's write-behind last-seen times are written."""
        if self.world.app.seen is not None:
            await self.world.app.seen.flush(self.rt.db)
        digest = hashlib.sha256(session_id.encode()).hexdigest()
        async with self.rt.db.read() as conn:
            return (
                await conn.execute(select(sessions).where(sessions.c.id_hash == digest))
            ).first()

    async def other_world(self) -> Api:
        """A second, isolated vendor on the same server."""
        return Api(await World(self.world.app, self.client, self.clock, self.pem).setup())


@pytest.fixture
async def api(world: World) -> Api:
    return Api(world)


@pytest.fixture
async def bare(client: httpx.AsyncClient, public_pem: str) -> Caller:
    """A caller without any vendor set up, for requests that never reach an app."""
    return Caller(client, public_pem)
