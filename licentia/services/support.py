"""The support console of one customer: what a user, license key or device did lately.

Read-only, one read transaction. For the detail pages of the dashboard, next to the state and
the actions they already have:

* **auth events**: the newest `EVENTS` calls that named it (`auth_events.identity`: the
  username, key or device id as the client sent it), failures with their codes, through
  `ix_auth_events_app_identity`. The newest successful login gives the **IP reported at
  login** (the body `ip`, client protocol 0.5) next to the address it came from.
* **device-limit hits**: how many of those calls (within the log retention) were refused
  with `DEVICE_LIMIT_REACHED`, and the last one.
* **client logs** the program sent while signed in as it, **chat messages** of a user.
* **audit entries about it** (target = the username, key, or `type:id` of a device), among
  them its **HWID resets**.
* For a used key: the account that redeemed it, and whether that account is banned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import audit
from licentia.services.audit import AuditEntry
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    audit_log,
    auth_events,
    chat_channels,
    chat_messages,
    client_logs,
    users,
)

#: Rows of each list.
EVENTS = 20
LOGS = 10
MESSAGES = 10
ENTRIES = 20
LOGIN_ENDPOINTS = ("login", "licenses", "device-auth")
DEVICE_LIMIT = "DEVICE_LIMIT_REACHED"
KINDS = ("user", "license", "device")


@dataclass(frozen=True)
class Event:
    created_at: datetime
    endpoint: str
    code: str
    client_ip: str
    reported_ip: str
    country: str
    sid: str
    client_version: str

    @property
    def ok(self) -> bool:
        return self.code == "OK"


@dataclass(frozen=True)
class LogLine:
    created_at: datetime
    message: str
    client_ip: str


@dataclass(frozen=True)
class ChatLine:
    created_at: datetime
    channel: str
    message: str
    deleted: bool


@dataclass
class Activity:
    kind: str
    name: str
    events: list[Event] = field(default_factory=list)
    last_login: Event | None = None
    device_limit_hits: int = 0
    last_device_limit: datetime | None = None
    logs: list[LogLine] = field(default_factory=list)
    messages: list[ChatLine] | None = None  # users only
    entries: list[AuditEntry] = field(default_factory=list)
    hwid_resets: list[AuditEntry] = field(default_factory=list)
    redeemer: str | None = None  # a used key: the account that redeemed it
    redeemer_banned: bool = False
    redeemer_ban_reason: str = ""


def _is_reset(capability: str) -> bool:
    return capability.endswith(".reset_hwid") or capability == "device.reset"


def audit_target(kind: str, name: str) -> str:
    """What audit entries name the customer by (a device: `type:id`)."""
    return name.replace("/", ":", 1) if kind == "device" else name


async def _events(conn: AsyncConnection, app_id: str, identity: str) -> list[Event]:
    rows = (
        await conn.execute(
            select(auth_events)
            .where(and_(auth_events.c.app_id == app_id, auth_events.c.identity == identity))
            .order_by(auth_events.c.created_at.desc(), auth_events.c.id.desc())
            .limit(EVENTS)
        )
    ).all()
    return [
        Event(
            created_at=r.created_at,
            endpoint=r.endpoint,
            code=r.code,
            client_ip=r.client_ip,
            reported_ip=r.reported_ip,
            country=r.country,
            sid=r.sid,
            client_version=r.client_version,
        )
        for r in rows
    ]


async def _last_login(conn: AsyncConnection, app_id: str, identity: str) -> Event | None:
    row = (
        await conn.execute(
            select(auth_events)
            .where(
                auth_events.c.app_id == app_id,
                auth_events.c.identity == identity,
                auth_events.c.code == "OK",
                auth_events.c.endpoint.in_(LOGIN_ENDPOINTS),
            )
            .order_by(auth_events.c.created_at.desc(), auth_events.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Event(
        row.created_at, row.endpoint, row.code, row.client_ip, row.reported_ip,
        row.country, row.sid, row.client_version,
    )  # fmt: skip


async def _limit_hits(
    conn: AsyncConnection, app_id: str, identity: str
) -> tuple[int, datetime | None]:
    row = (
        await conn.execute(
            select(func.count(), func.max(auth_events.c.created_at)).where(
                auth_events.c.app_id == app_id,
                auth_events.c.identity == identity,
                auth_events.c.code == DEVICE_LIMIT,
            )
        )
    ).one()
    return int(row[0] or 0), row[1]


async def _logs(conn: AsyncConnection, app_id: str, kind: str, name: str) -> list[LogLine]:
    ident = name.split("/", 1)[1] if kind == "device" else name
    rows = (
        await conn.execute(
            select(client_logs.c.created_at, client_logs.c.message, client_logs.c.client_ip)
            .where(
                client_logs.c.app_id == app_id,
                client_logs.c.identity_kind == kind,
                client_logs.c.identity_name == ident,
            )
            .order_by(client_logs.c.created_at.desc())
            .limit(LOGS)
        )
    ).all()
    return [LogLine(r.created_at, r.message, r.client_ip) for r in rows]


async def _messages(conn: AsyncConnection, app_id: str, user_id: str) -> list[ChatLine]:
    rows = (
        await conn.execute(
            select(
                chat_messages.c.created_at,
                chat_channels.c.name,
                chat_messages.c.message,
                chat_messages.c.deleted,
            )
            .join(chat_channels, chat_channels.c.id == chat_messages.c.channel_id)
            .where(chat_messages.c.app_id == app_id, chat_messages.c.user_id == user_id)
            .order_by(chat_messages.c.id.desc())
            .limit(MESSAGES)
        )
    ).all()
    return [ChatLine(r.created_at, r.name, r.message, bool(r.deleted)) for r in rows]


async def _entries(
    conn: AsyncConnection, owner_account_id: str, app_id: str, kind: str, target: str
) -> list[AuditEntry]:
    rows = (
        await conn.execute(
            select(audit_log)
            .where(
                audit_log.c.owner_account_id == owner_account_id,
                audit_log.c.target == target,
                audit_log.c.app_id == app_id,
                audit_log.c.target_type == kind,
            )
            .order_by(audit_log.c.id.desc())
            .limit(ENTRIES)
        )
    ).all()
    return [audit.entry_of(r) for r in rows]


async def _user(conn: AsyncConnection, app_id: str, username: str) -> Any:
    return (
        await conn.execute(
            select(users.c.id, users.c.username, users.c.banned, users.c.ban_reason).where(
                users.c.app_id == app_id, users.c.username_norm == username.casefold()
            )
        )
    ).first()


async def activity(
    rt: Runtime,
    app_id: str,
    owner_account_id: str,
    kind: str,
    name: str,
    *,
    used_by: str | None = None,
    with_events: bool = True,
    with_chat: bool = True,
    with_audit: bool = True,
) -> Activity:
    """What one customer did lately. `name` is the username, the key, or `type/id` of a
    device; `used_by` the username that redeemed a key. The `with_*` flags leave out what
    the reader may not see (auth events and client logs, chat, the audit log)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    found = Activity(kind=kind, name=name)
    identity = name.split("/", 1)[1] if kind == "device" else name
    async with rt.db.read() as conn:
        if with_events:
            found.events = await _events(conn, app_id, identity)
            found.last_login = await _last_login(conn, app_id, identity)
            found.device_limit_hits, found.last_device_limit = await _limit_hits(
                conn, app_id, identity
            )
            found.logs = await _logs(conn, app_id, kind, name)
        if kind == "user" and with_chat:
            row = await _user(conn, app_id, name)
            found.messages = await _messages(conn, app_id, str(row.id)) if row else []
        if with_audit:
            found.entries = await _entries(
                conn, owner_account_id, app_id, kind, audit_target(kind, name)
            )
            found.hwid_resets = [e for e in found.entries if _is_reset(e.capability)]
        if used_by:
            redeemer = await _user(conn, app_id, used_by)
            if redeemer is not None:
                found.redeemer = redeemer.username
                found.redeemer_banned = bool(redeemer.banned)
                found.redeemer_ban_reason = redeemer.ban_reason
    return found
