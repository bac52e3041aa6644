"""Users (B.7) and hardware devices (B.9): create, edit, ban/pause and their reversals,
extend/shorten, password reset and check, device reset, delete.

Every function validates its whole input first and runs in one write transaction (joining the
face's transaction when one is open), so a refused call changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Table, and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import events
from licentia.services.admin_common import (
    MAX_DAYS,
    AdminError,
    as_utc,
    check_email,
    check_identity_text,
    check_length,
    check_norm_length,
    check_note,
    check_stored_content,
    end_sessions,
    exists,
    invalid,
    load_app,
    norm,
    parse_int,
    require_subscription,
    resolve_term,
    term_expiry,
    trim,
)
from licentia.services.events import PAST as _PAST
from licentia.services.runtime import Runtime
from licentia.store.tables import bindings, chat_mutes, devices, users
from licentia.store.types import new_id

DEVICE_TYPES = ("motherboard", "processor")


@dataclass(frozen=True)
class IdentityState:
    """A user or device after a state change."""

    id: str
    app_id: str
    kind: str  # user|device
    name: str  # username, or device id
    device_type: str | None
    banned: bool
    ban_reason: str
    paused: bool
    expires_at: datetime | None


def _user_state(row: Row[Any]) -> IdentityState:
    return IdentityState(
        id=row.id,
        app_id=row.app_id,
        kind="user",
        name=row.username,
        device_type=None,
        banned=row.banned,
        ban_reason=row.ban_reason,
        paused=row.paused,
        expires_at=row.expires_at,
    )


def _device_state(row: Row[Any]) -> IdentityState:
    return IdentityState(
        id=row.id,
        app_id=row.app_id,
        kind="device",
        name=row.device_id,
        device_type=row.device_type,
        banned=row.banned,
        ban_reason=row.ban_reason,
        paused=row.paused,
        expires_at=row.expires_at,
    )


async def _apply(
    conn: AsyncConnection,
    table: Table,
    kind: str,
    row: Row[Any],
    action: str,
    reason: str,
    now: datetime,
) -> None:
    """Ban, unban, pause or unpause one user or device row (idempotent)."""
    values: dict[str, Any] = {}
    if action == "ban":
        if not row.banned:
            values = {"banned": True, "ban_reason": reason}
        await end_sessions(conn, kind, row.id, "banned", now)
    elif action == "unban":
        if row.banned:
            values = {"banned": False, "ban_reason": ""}
    elif action == "pause":
        if not row.paused:
            values = {"paused": True, "paused_at": now}
        await end_sessions(conn, kind, row.id, "paused", now)
    elif action == "unpause":
        if row.paused:
            values = {"paused": False, "paused_at": None}
            # Pause freezes time: the expiry moves forward by the time spent paused.
            if row.expires_at is not None and row.paused_at is not None:
                values["expires_at"] = row.expires_at + max(now - row.paused_at, timedelta(0))
    else:  # pragma: no cover - internal misuse
        raise ValueError(action)
    if values:
        await conn.execute(update(table).where(table.c.id == row.id).values(values))
        name = row.username if kind == "user" else f"{row.device_type}:{row.device_id}"
        await events.emit(
            conn,
            row.app_id,
            f"{kind if kind == 'user' else 'device'}.{_PAST[action]}",
            {"kind": kind, "identity": name, "reason": reason},
            now=now,
        )


# -- users -------------------------------------------------------------------------------


def _check_username(username: str) -> str:
    name = trim(username)
    check_length(name, "username", low=1, high=64)
    check_identity_text(name, "username")
    check_norm_length(name, "username", 64)
    return name


async def _find_user(conn: AsyncConnection, app_id: str, username: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(users).where(
                and_(users.c.app_id == app_id, users.c.username_norm == norm(trim(username)))
            )
        )
    ).first()


async def require_user(conn: AsyncConnection, app_id: str, username: str) -> Row[Any]:
    await load_app(conn, app_id)
    row = await _find_user(conn, app_id, username)
    if row is None:
        raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
    return row


async def create_user(
    rt: Runtime,
    app_id: str,
    username: str,
    password: str,
    subscription_name: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
    lifetime: bool = False,
    email: str = "",
    device_limit: int = 1,
    note: str = "",
    created_by: str = "cli",
) -> IdentityState:
    """Create an end user directly (management `user create`). No term given = lifetime."""
    name = _check_username(username)
    if not 1 <= len(password) <= 256:
        raise invalid("password", "password must be 1 to 256 characters")
    mail = check_email(email)
    term = resolve_term(days=days, expires=expires, lifetime=lifetime, default_lifetime=True)
    limit = parse_int(device_limit, "device_limit", low=0)
    text_note = check_note(note)
    password_hash = await rt.passwords.hash(password)
    now = rt.clock()
    user_id = new_id()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            sub = await require_subscription(conn, app_id, subscription_name)
            if await _find_user(conn, app_id, name) is not None:
                raise exists(f"a user named {name!r} already exists in this app")
            await conn.execute(
                users.insert().values(
                    id=user_id,
                    app_id=app_id,
                    username=name,
                    username_norm=norm(name),
                    password_hash=password_hash,
                    email=mail,
                    subscription_id=sub.id,
                    expires_at=term_expiry(term, now),
                    device_limit=limit,
                    note=text_note,
                    created_at=now,
                    created_by=created_by,
                )
            )
            row = await _find_user(conn, app_id, name)
    except IntegrityError:
        raise exists(f"a user named {name!r} already exists in this app") from None
    assert row is not None
    return _user_state(row)


async def _user_action(
    rt: Runtime, app_id: str, username: str, action: str, reason: str = ""
) -> IdentityState:
    reason_text = check_note(reason, "reason")
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await require_user(conn, app_id, username)
        await _apply(conn, users, "user", row, action, reason_text, now)
        fresh = await _find_user(conn, app_id, row.username)
    assert fresh is not None
    return _user_state(fresh)


async def get_user(rt: Runtime, app_id: str, username: str) -> IdentityState:
    async with rt.db.read() as conn:
        return _user_state(await require_user(conn, app_id, username))


async def ban_user(rt: Runtime, app_id: str, username: str, reason: str = "") -> IdentityState:
    """Ban (idempotent); ends the user's live sessions."""
    return await _user_action(rt, app_id, username, "ban", reason)


async def unban_user(rt: Runtime, app_id: str, username: str, reason: str = "") -> IdentityState:
    return await _user_action(rt, app_id, username, "unban", reason)


async def pause_user(rt: Runtime, app_id: str, username: str, reason: str = "") -> IdentityState:
    """Pause (idempotent); freezes the remaining time and ends the user's live sessions."""
    return await _user_action(rt, app_id, username, "pause", reason)


async def unpause_user(rt: Runtime, app_id: str, username: str, reason: str = "") -> IdentityState:
    return await _user_action(rt, app_id, username, "unpause", reason)


async def delete_user(rt: Runtime, app_id: str, username: str) -> None:
    """Delete a user with its SID bindings and mutes; ends its sessions. Redeemed keys stay."""
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await require_user(conn, app_id, username)
        await end_sessions(conn, "user", row.id, "deleted", now)
        await conn.execute(
            delete(bindings).where(
                and_(bindings.c.holder_kind == "user", bindings.c.holder_id == row.id)
            )
        )
        await conn.execute(delete(chat_mutes).where(chat_mutes.c.user_id == row.id))
        await conn.execute(delete(users).where(users.c.id == row.id))


# -- devices -----------------------------------------------------------------------------


def check_device_type(device_type: str) -> str:
    kind = trim(device_type).lower()
    if kind not in DEVICE_TYPES:
        raise invalid("device_type", "device type must be motherboard or processor")
    return kind


def _check_device_id(device_id: str) -> str:
    text = trim(device_id)
    check_length(text, "device_id", low=1, high=128)
    check_identity_text(text, "device_id")
    check_norm_length(text, "device_id", 128)
    return text


async def _find_device(
    conn: AsyncConnection, app_id: str, device_type: str, device_id: str
) -> Row[Any] | None:
    return (
        await conn.execute(
            select(devices).where(
                and_(
                    devices.c.app_id == app_id,
                    devices.c.device_type == device_type,
                    devices.c.device_id_norm == norm(trim(device_id)),
                )
            )
        )
    ).first()


async def require_device(
    conn: AsyncConnection, app_id: str, device_type: str, device_id: str
) -> Row[Any]:
    kind = check_device_type(device_type)
    await load_app(conn, app_id)
    row = await _find_device(conn, app_id, kind, device_id)
    if row is None:
        raise AdminError(
            "DEVICE_NOT_FOUND", f"{kind} not found in this app", ["device_type", "device_id"]
        )
    return row


async def create_device(
    rt: Runtime,
    app_id: str,
    device_type: str,
    device_id: str,
    subscription_name: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
    lifetime: bool = False,
    name: str = "",
    email: str = "",
    note: str = "",
    created_by: str = "cli",
) -> IdentityState:
    """Register a hardware device. `expires_at` = now + days, the fixed date, or lifetime.

    No term given means lifetime (management A.7 `device create`).
    """
    kind = check_device_type(device_type)
    ident = _check_device_id(device_id)
    term = resolve_term(days=days, expires=expires, lifetime=lifetime, default_lifetime=True)
    check_length(name, "name", low=0, high=128)
    check_stored_content(name, "name")
    mail = check_email(email)
    text_note = check_note(note)
    now = rt.clock()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            sub = await require_subscription(conn, app_id, subscription_name)
            if await _find_device(conn, app_id, kind, ident) is not None:
                raise exists(f"this app already has a {kind} {ident!r}")
            await conn.execute(
                devices.insert().values(
                    id=new_id(),
                    app_id=app_id,
                    device_type=kind,
                    device_id=ident,
                    device_id_norm=norm(ident),
                    name=name,
                    email=mail,
                    note=text_note,
                    subscription_id=sub.id,
                    expires_at=term_expiry(term, now),
                    created_at=now,
                    created_by=created_by,
                )
            )
            row = await _find_device(conn, app_id, kind, ident)
    except IntegrityError:
        raise exists(f"this app already has a {kind} {ident!r}") from None
    assert row is not None
    return _device_state(row)


async def _device_action(
    rt: Runtime, app_id: str, device_type: str, device_id: str, action: str, reason: str = ""
) -> IdentityState:
    reason_text = check_note(reason, "reason")
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await require_device(conn, app_id, device_type, device_id)
        await _apply(conn, devices, "device", row, action, reason_text, now)
        fresh = await _find_device(conn, app_id, row.device_type, row.device_id)
    assert fresh is not None
    return _device_state(fresh)


async def get_device(rt: Runtime, app_id: str, device_type: str, device_id: str) -> IdentityState:
    async with rt.db.read() as conn:
        return _device_state(await require_device(conn, app_id, device_type, device_id))


async def ban_device(
    rt: Runtime, app_id: str, device_type: str, device_id: str, reason: str = ""
) -> IdentityState:
    """Ban (idempotent); ends the device's live sessions."""
    return await _device_action(rt, app_id, device_type, device_id, "ban", reason)


async def unban_device(
    rt: Runtime, app_id: str, device_type: str, device_id: str, reason: str = ""
) -> IdentityState:
    return await _device_action(rt, app_id, device_type, device_id, "unban", reason)


async def pause_device(
    rt: Runtime, app_id: str, device_type: str, device_id: str, reason: str = ""
) -> IdentityState:
    """Pause (idempotent); freezes the remaining time and ends the device's live sessions."""
    return await _device_action(rt, app_id, device_type, device_id, "pause", reason)


async def unpause_device(
    rt: Runtime, app_id: str, device_type: str, device_id: str, reason: str = ""
) -> IdentityState:
    return await _device_action(rt, app_id, device_type, device_id, "unpause", reason)


async def delete_device(rt: Runtime, app_id: str, device_type: str, device_id: str) -> None:
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await require_device(conn, app_id, device_type, device_id)
        await end_sessions(conn, "device", row.id, "deleted", now)
        await conn.execute(delete(devices).where(devices.c.id == row.id))


# -- edits, terms, passwords, resets -----------------------------------------------------


class _Unset:
    """Marks an edit field the caller did not give (None is a value: no email, lifetime)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def _given(value: Any) -> bool:
    return not isinstance(value, _Unset)


def _shifted(
    current: datetime | None, days: int | None, expires: datetime | None, sign: int
) -> datetime:
    """The new expiry of an extend (`sign` 1) or shorten (-1): `days` moves it, `expires`
    sets it. A lifetime term cannot move (B.0: 400 INVALID_INPUT)."""
    if (days is None) == (expires is None):
        raise AdminError(
            "INVALID_INPUT" if days is not None else "MISSING_FIELDS",
            "give days or expiry_date, not both" if days is not None else "give days",
            ["days", "expiry_date"] if days is not None else ["days"],
        )
    if current is None:
        raise invalid("days", "a lifetime term cannot be extended or shortened")
    if expires is not None:
        return as_utc(expires)
    assert days is not None
    step = parse_int(days, "days", low=1, high=MAX_DAYS)
    return current + sign * timedelta(days=step)


def _check_password(password: str, field: str = "password") -> None:
    if not 1 <= len(password) <= 256:
        raise invalid(field, f"{field} must be 1 to 256 characters")


async def edit_user(
    rt: Runtime,
    app_id: str,
    username: str,
    *,
    email: Any = UNSET,
    subscription: Any = UNSET,
    device_limit: Any = UNSET,
    expiry: Any = UNSET,
    note: Any = UNSET,
) -> IdentityState:
    """Change any of email (None or "" = none), subscription, device limit (0 = unlimited),
    expiry (None = lifetime) and note; all of them or none. Nothing given: MISSING_FIELDS."""
    values: dict[str, Any] = {}
    if _given(email):
        values["email"] = check_email(email or "")
    if _given(device_limit):
        values["device_limit"] = parse_int(device_limit, "device_limit", low=0)
    if _given(expiry):
        values["expires_at"] = None if expiry is None else as_utc(expiry)
    if _given(note):
        values["note"] = check_note(note or "")
    if not values and not _given(subscription):
        raise AdminError(
            "MISSING_FIELDS",
            "give at least one of email, subscription, device_limit, expiry_date, note",
            ["email", "subscription", "device_limit", "expiry_date", "note"],
        )
    async with rt.db.write() as conn:
        row = await require_user(conn, app_id, username)
        if _given(subscription):
            values["subscription_id"] = (
                await require_subscription(conn, app_id, str(subscription))
            ).id
        await conn.execute(update(users).where(users.c.id == row.id).values(values))
        fresh = await _find_user(conn, app_id, row.username)
    assert fresh is not None
    return _user_state(fresh)


async def _shift_user(
    rt: Runtime, app_id: str, username: str, days: int | None, expires: datetime | None, sign: int
) -> IdentityState:
    async with rt.db.write() as conn:
        row = await require_user(conn, app_id, username)
        new = _shifted(row.expires_at, days, expires, sign)
        await conn.execute(update(users).where(users.c.id == row.id).values(expires_at=new))
        fresh = await _find_user(conn, app_id, row.username)
    assert fresh is not None
    return _user_state(fresh)


async def extend_user(
    rt: Runtime,
    app_id: str,
    username: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
) -> IdentityState:
    """Move the expiry `days` later, or set it to `expires`; a lifetime user: INVALID_INPUT."""
    return await _shift_user(rt, app_id, username, days, expires, 1)


async def shorten_user(
    rt: Runtime,
    app_id: str,
    username: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
) -> IdentityState:
    """Move the expiry `days` earlier (it may fall in the past), or set it to `expires`."""
    return await _shift_user(rt, app_id, username, days, expires, -1)


async def reset_user_password(
    rt: Runtime, app_id: str, username: str, new_password: str
) -> IdentityState:
    """Set a new password and end the user's sessions (B.7). The argon2id hash is computed
    before the transaction opens, so no write lock is held while hashing."""
    _check_password(new_password, "new_password")
    async with rt.db.read() as conn:
        await require_user(conn, app_id, username)  # refuse an unknown user before hashing
    digest = await rt.passwords.hash(new_password)
    now = rt.clock()
    async with rt.db.write() as conn:
        row = await require_user(conn, app_id, username)
        await conn.execute(
            update(users)
            .where(users.c.id == row.id)
            .values(password_hash=digest, password_changed_at=now)
        )
        await end_sessions(conn, "user", row.id, "password_reset", now)
        fresh = await _find_user(conn, app_id, row.username)
    assert fresh is not None
    return _user_state(fresh)


async def verify_user_password(
    rt: Runtime, app_id: str, username: str, password: str
) -> IdentityState:
    """Check a user's password. An unknown user costs the same dummy argon2 check before its
    USER_NOT_FOUND, so timing does not tell which names exist; a wrong password is
    INVALID_PASSWORD (422)."""
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        row = await _find_user(conn, app_id, username)
    ok = await rt.passwords.verify(row.password_hash if row is not None else None, password)
    if row is None:
        raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
    if not ok:
        raise AdminError("INVALID_PASSWORD", "the password is wrong", ["password"])
    return _user_state(row)


# -- device edits ------------------------------------------------------------------------


async def edit_device(
    rt: Runtime,
    app_id: str,
    device_type: str,
    device_id: str,
    *,
    name: Any = UNSET,
    email: Any = UNSET,
    subscription: Any = UNSET,
    expiry: Any = UNSET,
    note: Any = UNSET,
) -> IdentityState:
    """Change any of name, email, subscription, expiry (None = lifetime) and note."""
    values: dict[str, Any] = {}
    if _given(name):
        text = name or ""
        check_length(text, "name", low=0, high=128)
        check_stored_content(text, "name")
        values["name"] = text
    if _given(email):
        values["email"] = check_email(email or "")
    if _given(expiry):
        values["expires_at"] = None if expiry is None else as_utc(expiry)
    if _given(note):
        values["note"] = check_note(note or "")
    if not values and not _given(subscription):
        raise AdminError(
            "MISSING_FIELDS",
            "give at least one of name, email, subscription, expiry_date, note",
            ["name", "email", "subscription", "expiry_date", "note"],
        )
    async with rt.db.write() as conn:
        row = await require_device(conn, app_id, device_type, device_id)
        if _given(subscription):
            values["subscription_id"] = (
                await require_subscription(conn, app_id, str(subscription))
            ).id
        await conn.execute(update(devices).where(devices.c.id == row.id).values(values))
        fresh = await _find_device(conn, app_id, row.device_type, row.device_id)
    assert fresh is not None
    return _device_state(fresh)


async def reset_device(rt: Runtime, app_id: str, device_type: str, device_id: str) -> IdentityState:
    """Clear the recorded hwid and IP; the activation stays (A.7 `device reset`)."""
    async with rt.db.write() as conn:
        row = await require_device(conn, app_id, device_type, device_id)
        if row.hwid or row.last_ip:
            await conn.execute(
                update(devices).where(devices.c.id == row.id).values(hwid="", last_ip="")
            )
        fresh = await _find_device(conn, app_id, row.device_type, row.device_id)
    assert fresh is not None
    return _device_state(fresh)


async def _shift_device(
    rt: Runtime,
    app_id: str,
    device_type: str,
    device_id: str,
    days: int | None,
    expires: datetime | None,
    sign: int,
) -> IdentityState:
    async with rt.db.write() as conn:
        row = await require_device(conn, app_id, device_type, device_id)
        new = _shifted(row.expires_at, days, expires, sign)
        await conn.execute(update(devices).where(devices.c.id == row.id).values(expires_at=new))
        fresh = await _find_device(conn, app_id, row.device_type, row.device_id)
    assert fresh is not None
    return _device_state(fresh)


async def extend_device(
    rt: Runtime,
    app_id: str,
    device_type: str,
    device_id: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
) -> IdentityState:
    """Move the expiry `days` later, or set it; a lifetime device: INVALID_INPUT."""
    return await _shift_device(rt, app_id, device_type, device_id, days, expires, 1)


async def shorten_device(
    rt: Runtime,
    app_id: str,
    device_type: str,
    device_id: str,
    *,
    days: int | None = None,
    expires: datetime | None = None,
) -> IdentityState:
    """Move the expiry `days` earlier, or set it; a lifetime device: INVALID_INPUT."""
    return await _shift_device(rt, app_id, device_type, device_id, days, expires, -1)
