"""Typed responses. Every result keeps the verified response object as `raw`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _s(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    return value if isinstance(value, str) else str(value)


def _i(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _b(data: dict[str, Any], key: str) -> bool:
    return data.get(key) is True


@dataclass(frozen=True)
class UpdateInfo:
    available: bool
    latest_version: str
    download_url: str
    force_update: bool
    show_reminder: bool
    reminder_message: str
    changelog: str
    auto_update_enabled: bool
    allowed_until: str | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> UpdateInfo:
        until = data.get("allowed_until")
        return cls(
            available=_b(data, "available"),
            latest_version=_s(data, "latest_version"),
            download_url=_s(data, "download_url"),
            force_update=_b(data, "force_update"),
            show_reminder=_b(data, "show_reminder"),
            reminder_message=_s(data, "reminder_message"),
            changelog=_s(data, "changelog"),
            auto_update_enabled=_b(data, "auto_update_enabled"),
            allowed_until=until if isinstance(until, str) else None,
        )


@dataclass(frozen=True)
class InitResult:
    session_id: str
    message: str
    update: UpdateInfo | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> InitResult:
        update = body.get("update")
        return cls(
            session_id=_s(body, "session_id"),
            message=_s(body, "message"),
            update=UpdateInfo.parse(update) if isinstance(update, dict) else None,
            raw=body,
        )


@dataclass(frozen=True)
class Profile:
    """The identity of a session (client protocol 2.0.4): user, license or device."""

    kind: str  # user | license | device
    username: str
    email: str
    license_key: str
    subscription: str
    subscription_level: int
    expiry_date: str
    lifetime: bool
    days_left: int
    sid: str
    ip_address: str
    last_login: str
    registered_at: str
    created_at: str
    device_limit: int
    current_devices: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, kind: str, body: dict[str, Any]) -> Profile:
        obj = body.get(kind)
        inner = obj if isinstance(obj, dict) else {}
        return cls(
            kind=kind,
            username=_s(body, "username"),
            email=_s(body, "email"),
            license_key=_s(body, "license_key"),
            subscription=_s(body, "subscription"),
            subscription_level=_i(body, "subscription_level"),
            expiry_date=_s(body, "expiry_date"),
            lifetime=_b(body, "lifetime"),
            days_left=_i(body, "days_left"),
            sid=_s(body, "sid"),
            ip_address=_s(body, "ip_address"),
            last_login=_s(body, "last_login"),
            registered_at=_s(body, "registered_at"),
            created_at=_s(body, "created_at"),
            device_limit=_i(inner, "device_limit"),
            current_devices=_i(inner, "current_devices"),
            raw=body,
        )


@dataclass(frozen=True)
class LoginResult:
    session_id: str
    message: str
    profile: Profile

    @classmethod
    def parse(cls, kind: str, body: dict[str, Any]) -> LoginResult:
        return cls(_s(body, "session_id"), _s(body, "message"), Profile.parse(kind, body))


@dataclass(frozen=True)
class ExtendResult:
    message: str
    time_added_seconds: int
    profile: Profile

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ExtendResult:
        return cls(_s(body, "message"), _i(body, "time_added_seconds"), Profile.parse("user", body))


@dataclass(frozen=True)
class Variable:
    key: str
    value: str
    updated_at: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Variable:
        var = body.get("variable")
        data = var if isinstance(var, dict) else {}
        return cls(_s(data, "var_key"), _s(data, "var_value"), _s(data, "updated_at"))


@dataclass(frozen=True)
class ChatMessage:
    id: int
    username: str
    message: str
    created_at: str
    channel_name: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ChatMessage:
        return cls(
            _i(data, "id"),
            _s(data, "username"),
            _s(data, "message"),
            _s(data, "created_at"),
            _s(data, "channel_name"),
        )


@dataclass(frozen=True)
class ChatPage:
    channel_name: str
    messages: list[ChatMessage]
    has_more: bool
    next_cursor: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ChatPage:
        data = body.get("data")
        page = data if isinstance(data, dict) else {}
        items = page.get("messages")
        messages = [ChatMessage.parse(m) for m in items if isinstance(m, dict)] if items else []
        return cls(
            _s(page, "channel_name"), messages, _b(page, "has_more"), _s(page, "next_cursor")
        )


@dataclass(frozen=True)
class SessionStatus:
    valid: bool
    identity_type: str
    session_expires_at: str
    profile: Profile | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SessionStatus:
        kind = _s(body, "identity_type")
        profile = Profile.parse(kind, body) if kind in ("user", "license", "device") else None
        return cls(_b(body, "valid"), kind, _s(body, "session_expires_at"), profile)


@dataclass(frozen=True)
class BlacklistResult:
    blacklisted: bool
    reason: str
    message: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> BlacklistResult:
        return cls(_b(body, "blacklisted"), _s(body, "reason"), _s(body, "message"))


@dataclass(frozen=True)
class IssuedTicket:
    """`POST /api/v2/ticket`: the ticket text and when it stops letting the program start."""

    ticket: str
    expires_at: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> IssuedTicket:
        return cls(_s(body, "ticket"), _s(body, "expires_at"))


@dataclass(frozen=True)
class TicketStatus:
    """`POST /api/v2/ticket/check`: the server still accepts the ticket's identity."""

    valid: bool
    identity_type: str
    expires_at: str

    @classmethod
    def parse(cls, body: dict[str, Any]) -> TicketStatus:
        return cls(_b(body, "valid"), _s(body, "identity_type"), _s(body, "expires_at"))


@dataclass(frozen=True)
class Subscription:
    name: str
    level: int
    expiry_date: str  # "" for lifetime
    lifetime: bool


@dataclass(frozen=True)
class TicketClaims:
    """The verified claims of an offline ticket or license file (docs/tickets.md)."""

    typ: str  # session | license-file
    kid: str
    app_id: str
    app_name: str
    owner_id: str
    identity_kind: str
    identity_id: str
    identity_name: str
    sid: str
    subscriptions: list[Subscription]
    issued_at: int
    not_before: int
    expires_at: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, claims: dict[str, Any]) -> TicketClaims:
        app = claims["app"]
        ident = claims["identity"]
        subs = [
            Subscription(_s(s, "name"), _i(s, "level"), _s(s, "expiry_date"), _b(s, "lifetime"))
            for s in claims["subscriptions"]
            if isinstance(s, dict)
        ]
        return cls(
            typ=_s(claims, "typ"),
            kid=_s(claims, "kid"),
            app_id=_s(app, "id"),
            app_name=_s(app, "name"),
            owner_id=_s(app, "owner_id"),
            identity_kind=_s(ident, "kind"),
            identity_id=_s(ident, "id"),
            identity_name=_s(ident, "name"),
            sid=_s(claims, "sid"),
            subscriptions=subs,
            issued_at=_i(claims, "iat"),
            not_before=_i(claims, "nbf"),
            expires_at=_i(claims, "exp"),
            raw=claims,
        )
