"""Variables (B.10), chat channels, messages and mutes (B.11).

Variables, channels and mutes are read by clients on every call (no per-app cache), so
changes here need no `config_rev` bump.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services.admin_common import (
    AdminError,
    as_utc,
    check_note,
    check_pattern,
    check_stored_content,
    exists,
    invalid,
    load_app,
    norm,
    parse_int,
    sdk_warnings,
    trim,
)
from licentia.services.admin_identities import require_user
from licentia.services.paging import DEFAULT_LIMIT, MAX_LIMIT
from licentia.services.runtime import Runtime
from licentia.store.tables import chat_channels, chat_messages, chat_mutes, users, variables
from licentia.store.types import new_id

MAX_VARIABLE_BYTES = 4096
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NAME_RULE = "1 to 64 of A-Z a-z 0-9 _ . -"


# -- variables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    id: str
    app_id: str
    key: str
    value: str
    writable: bool
    auth_required: bool
    created: bool
    warnings: list[str]


async def set_variable(
    rt: Runtime,
    app_id: str,
    key: str,
    value: str,
    writable: bool | None = None,
    auth_required: bool | None = None,
    *,
    updated_by: str = "cli",
) -> Variable:
    """Create or update a variable.

    On creation `writable` defaults to true and `auth_required` to false; on update a flag
    given as None keeps its value (management A.7 `variable set`).
    """
    name = trim(key)
    check_pattern(name, "key", _NAME_PATTERN, _NAME_RULE)
    if len(value.encode("utf-8")) > MAX_VARIABLE_BYTES:
        raise invalid("value", f"value must be at most {MAX_VARIABLE_BYTES} bytes of UTF-8")
    check_stored_content(value, "value")
    warnings = sdk_warnings(value, "value")
    now = rt.clock()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            row = await _find_variable(conn, app_id, name)
            created = row is None
            if row is None:
                var_id = new_id()
                await conn.execute(
                    variables.insert().values(
                        id=var_id,
                        app_id=app_id,
                        key=name,
                        value=value,
                        writable=True if writable is None else writable,
                        auth_required=False if auth_required is None else auth_required,
                        updated_at=now,
                        updated_by=updated_by,
                        created_at=now,
                    )
                )
            else:
                values: dict[str, Any] = {
                    "value": value,
                    "updated_at": now,
                    "updated_by": updated_by,
                }
                if writable is not None:
                    values["writable"] = writable
                if auth_required is not None:
                    values["auth_required"] = auth_required
                await conn.execute(update(variables).where(variables.c.id == row.id).values(values))
            fresh = await _find_variable(conn, app_id, name)
    except IntegrityError:
        raise exists(f"the variable {name!r} was created concurrently; try again") from None
    assert fresh is not None
    return Variable(
        id=fresh.id,
        app_id=app_id,
        key=fresh.key,
        value=fresh.value,
        writable=fresh.writable,
        auth_required=fresh.auth_required,
        created=created,
        warnings=warnings,
    )


async def _find_variable(conn: AsyncConnection, app_id: str, key: str) -> Row[Any] | None:
    # Variable keys are case-sensitive (B.10).
    return (
        await conn.execute(
            select(variables).where(and_(variables.c.app_id == app_id, variables.c.key == key))
        )
    ).first()


async def delete_variable(rt: Runtime, app_id: str, key: str) -> None:
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        row = await _find_variable(conn, app_id, trim(key))
        if row is None:
            raise AdminError("VARIABLE_NOT_FOUND", "variable not found in this app", ["key"])
        await conn.execute(delete(variables).where(variables.c.id == row.id))


# -- chat channels -----------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    id: str
    app_id: str
    name: str
    send_delay: int
    max_messages: int


async def _find_channel(conn: AsyncConnection, app_id: str, name: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(chat_channels).where(
                and_(
                    chat_channels.c.app_id == app_id, chat_channels.c.name_norm == norm(trim(name))
                )
            )
        )
    ).first()


async def create_channel(
    rt: Runtime, app_id: str, name: str, send_delay: int = 2, max_messages: int = 10000
) -> Channel:
    text = trim(name)
    check_pattern(text, "name", _NAME_PATTERN, _NAME_RULE)
    delay = parse_int(send_delay, "send_delay", low=0, high=86_400)
    keep = parse_int(max_messages, "max_messages", low=1, high=10_000_000)
    channel_id = new_id()
    try:
        async with rt.db.write() as conn:
            await load_app(conn, app_id)
            if await _find_channel(conn, app_id, text) is not None:
                raise exists(f"this app already has a channel named {text!r}")
            await conn.execute(
                chat_channels.insert().values(
                    id=channel_id,
                    app_id=app_id,
                    name=text,
                    name_norm=norm(text),
                    send_delay=delay,
                    max_messages=keep,
                    created_at=rt.clock(),
                )
            )
    except IntegrityError:
        raise exists(f"this app already has a channel named {text!r}") from None
    return Channel(id=channel_id, app_id=app_id, name=text, send_delay=delay, max_messages=keep)


# -- mutes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mute:
    id: str
    app_id: str
    user_id: str
    channel_id: str | None
    expires_at: datetime | None
    reason: str


async def mute_user(
    rt: Runtime,
    app_id: str,
    username: str,
    channel_name: str | None = None,
    expires_at: datetime | None = None,
    reason: str = "",
    *,
    created_by: str = "cli",
) -> Mute:
    """Mute a user in one channel, or in every channel of the app (`channel_name=None`).

    `expires_at=None` is permanent.
    """
    reason_text = check_note(reason, "reason")
    until = as_utc(expires_at) if expires_at is not None else None
    mute_id = new_id()
    async with rt.db.write() as conn:
        user = await require_user(conn, app_id, username)
        channel_id: str | None = None
        if channel_name is not None:
            channel = await _find_channel(conn, app_id, channel_name)
            if channel is None:
                raise AdminError(
                    "CHANNEL_NOT_FOUND", "chat channel not found in this app", ["channel"]
                )
            channel_id = channel.id
        await conn.execute(
            chat_mutes.insert().values(
                id=mute_id,
                app_id=app_id,
                user_id=user.id,
                channel_id=channel_id,
                reason=reason_text,
                expires_at=until,
                created_by=created_by,
                created_at=rt.clock(),
            )
        )
    return Mute(
        id=mute_id,
        app_id=app_id,
        user_id=user.id,
        channel_id=channel_id,
        expires_at=until,
        reason=reason_text,
    )


async def unmute_user(
    rt: Runtime, app_id: str, username: str, channel_name: str | None = None
) -> int:
    """Remove the user's mutes (of one channel, or app-wide ones); returns how many."""
    async with rt.db.write() as conn:
        user = await require_user(conn, app_id, username)
        query = delete(chat_mutes).where(
            and_(chat_mutes.c.app_id == app_id, chat_mutes.c.user_id == user.id)
        )
        if channel_name is None:
            query = query.where(chat_mutes.c.channel_id.is_(None))
        else:
            channel = await _find_channel(conn, app_id, channel_name)
            if channel is None:
                raise AdminError(
                    "CHANNEL_NOT_FOUND", "chat channel not found in this app", ["channel"]
                )
            query = query.where(chat_mutes.c.channel_id == channel.id)
        result = await conn.execute(query)
    return int(result.rowcount or 0)


# -- variable reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class VariableView:
    key: str
    value: str
    writable: bool
    auth_required: bool
    updated_at: datetime
    updated_by: str
    created_at: datetime


def _variable_view(row: Row[Any]) -> VariableView:
    return VariableView(
        key=row.key,
        value=row.value,
        writable=bool(row.writable),
        auth_required=bool(row.auth_required),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        created_at=row.created_at,
    )


async def list_variables(rt: Runtime, app_id: str) -> list[VariableView]:
    """Every variable of the app, by key."""
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(variables).where(variables.c.app_id == app_id).order_by(variables.c.key)
            )
        ).all()
    return [_variable_view(r) for r in rows]


async def get_variable(rt: Runtime, app_id: str, key: str) -> VariableView:
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        row = await _find_variable(conn, app_id, trim(key))
    if row is None:
        raise AdminError("VARIABLE_NOT_FOUND", "variable not found in this app", ["key"])
    return _variable_view(row)


# -- channel management ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelView:
    id: str
    name: str
    send_delay: int
    max_messages: int
    created_at: datetime
    message_count: int


def _no_channel() -> AdminError:
    return AdminError("CHANNEL_NOT_FOUND", "chat channel not found in this app", ["channel"])


async def _require_channel(conn: AsyncConnection, app_id: str, name: str) -> Row[Any]:
    await load_app(conn, app_id)
    row = await _find_channel(conn, app_id, name)
    if row is None:
        raise _no_channel()
    return row


def _live_count(channel_id: Any) -> Any:
    return (
        select(func.count())
        .select_from(chat_messages)
        .where(and_(chat_messages.c.channel_id == channel_id, chat_messages.c.deleted.is_(False)))
        .scalar_subquery()
    )


async def list_channels(rt: Runtime, app_id: str) -> list[ChannelView]:
    """Every channel of the app by name, with its count of visible messages."""
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(chat_channels, _live_count(chat_channels.c.id).label("message_count"))
                .where(chat_channels.c.app_id == app_id)
                .order_by(chat_channels.c.name_norm)
            )
        ).all()
    return [_channel_view(r) for r in rows]


def _channel_view(row: Row[Any]) -> ChannelView:
    return ChannelView(
        id=row.id,
        name=row.name,
        send_delay=row.send_delay,
        max_messages=row.max_messages,
        created_at=row.created_at,
        message_count=int(row.message_count),
    )


async def get_channel(rt: Runtime, app_id: str, name: str) -> ChannelView:
    async with rt.db.read() as conn:
        row = await _require_channel(conn, app_id, name)
        count = (await conn.execute(select(_live_count(row.id)))).scalar_one()
    return ChannelView(
        id=row.id,
        name=row.name,
        send_delay=row.send_delay,
        max_messages=row.max_messages,
        created_at=row.created_at,
        message_count=int(count),
    )


async def edit_channel(
    rt: Runtime,
    app_id: str,
    name: str,
    *,
    new_name: str | None = None,
    send_delay: int | None = None,
    max_messages: int | None = None,
) -> ChannelView:
    """Rename a channel or change its send delay or message cap (given values only)."""
    values: dict[str, Any] = {}
    if new_name is not None:
        text = trim(new_name)
        check_pattern(text, "new_name", _NAME_PATTERN, _NAME_RULE)
        values.update(name=text, name_norm=norm(text))
    if send_delay is not None:
        values["send_delay"] = parse_int(send_delay, "send_delay", low=0, high=86_400)
    if max_messages is not None:
        values["max_messages"] = parse_int(max_messages, "max_messages", low=1, high=10_000_000)
    if not values:
        raise AdminError(
            "INVALID_INPUT",
            "give at least one of new_name, send_delay, max_messages",
            ["new_name", "send_delay", "max_messages"],
        )
    try:
        async with rt.db.write() as conn:
            row = await _require_channel(conn, app_id, name)
            if "name_norm" in values and values["name_norm"] != row.name_norm:
                other = await _find_channel(conn, app_id, values["name"])
                if other is not None:
                    raise exists(f"this app already has a channel named {values['name']!r}")
            await conn.execute(
                update(chat_channels).where(chat_channels.c.id == row.id).values(values)
            )
    except IntegrityError:
        raise exists("this app already has a channel with that name") from None
    return await get_channel(rt, app_id, values.get("name", row.name))


async def delete_channel(rt: Runtime, app_id: str, name: str) -> ChannelView:
    """Delete a channel with its messages and its mutes."""
    before = await get_channel(rt, app_id, name)
    async with rt.db.write() as conn:
        row = await _require_channel(conn, app_id, name)
        await conn.execute(delete(chat_messages).where(chat_messages.c.channel_id == row.id))
        await conn.execute(delete(chat_mutes).where(chat_mutes.c.channel_id == row.id))
        await conn.execute(delete(chat_channels).where(chat_channels.c.id == row.id))
    return before


async def clear_channel(rt: Runtime, app_id: str, name: str) -> int:
    """Remove every message of a channel; returns how many were removed."""
    async with rt.db.write() as conn:
        row = await _require_channel(conn, app_id, name)
        result = await conn.execute(
            delete(chat_messages).where(chat_messages.c.channel_id == row.id)
        )
    return int(result.rowcount or 0)


# -- messages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageView:
    id: int
    channel: str
    username: str
    message: str
    client_ip: str
    deleted: bool
    created_at: datetime


@dataclass(frozen=True)
class MessagePage:
    items: list[MessageView]
    next_cursor: str | None


def _message_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    if not cursor.isdigit() or len(cursor) > 19:
        raise invalid("cursor", "cursor must be a value returned as next_cursor")
    return int(cursor)


async def list_messages(
    rt: Runtime,
    app_id: str,
    channel: str,
    *,
    username: str | None = None,
    include_deleted: bool = False,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> MessagePage:
    """A channel's messages, newest first, one page at a time (`next_cursor` until null)."""
    size = parse_int(limit, "limit", low=1, high=MAX_LIMIT)
    before = _message_cursor(cursor)
    async with rt.db.read() as conn:
        row = await _require_channel(conn, app_id, channel)
        query = select(chat_messages).where(chat_messages.c.channel_id == row.id)
        if not include_deleted:
            query = query.where(chat_messages.c.deleted.is_(False))
        if username:
            query = query.where(func.lower(chat_messages.c.username) == trim(username).lower())
        if before is not None:
            query = query.where(chat_messages.c.id < before)
        rows = (await conn.execute(query.order_by(chat_messages.c.id.desc()).limit(size + 1))).all()
    items = [
        MessageView(
            id=int(r.id),
            channel=row.name,
            username=r.username,
            message=r.message,
            client_ip=r.client_ip,
            deleted=bool(r.deleted),
            created_at=r.created_at,
        )
        for r in rows[:size]
    ]
    more = len(rows) > size
    return MessagePage(items=items, next_cursor=str(items[-1].id) if more and items else None)


async def delete_message(rt: Runtime, app_id: str, message_id: int) -> MessageView:
    """Delete one message (clients stop seeing it at once); deleting it again is a no-op."""
    ident = parse_int(message_id, "message_id", low=1, high=2**62)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        row = (
            await conn.execute(
                select(chat_messages, chat_channels.c.name.label("channel_name"))
                .join(chat_channels, chat_channels.c.id == chat_messages.c.channel_id)
                .where(and_(chat_messages.c.id == ident, chat_messages.c.app_id == app_id))
            )
        ).first()
        if row is None:
            raise AdminError("MESSAGE_NOT_FOUND", "no such message in this app", ["message_id"])
        await conn.execute(
            update(chat_messages).where(chat_messages.c.id == ident).values(deleted=True)
        )
    return MessageView(
        id=ident,
        channel=row.channel_name,
        username=row.username,
        message=row.message,
        client_ip=row.client_ip,
        deleted=bool(row.deleted),
        created_at=row.created_at,
    )


async def delete_messages_by_user(
    rt: Runtime, app_id: str, username: str, channel: str | None = None
) -> int:
    """Delete every message of a user (in one channel, or in all); returns how many."""
    name = trim(username)
    if not name:
        raise invalid("username", "username is required")
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        user = (
            await conn.execute(
                select(users.c.id).where(
                    and_(users.c.app_id == app_id, users.c.username_norm == norm(name))
                )
            )
        ).first()
        who = func.lower(chat_messages.c.username) == name.lower()
        if user is not None:
            who = or_(chat_messages.c.user_id == user.id, who)
        query = (
            update(chat_messages)
            .where(and_(chat_messages.c.app_id == app_id, chat_messages.c.deleted.is_(False), who))
            .values(deleted=True)
        )
        if channel is not None:
            row = await _require_channel(conn, app_id, channel)
            query = query.where(chat_messages.c.channel_id == row.id)
        elif user is None:
            raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
        result = await conn.execute(query)
    return int(result.rowcount or 0)


# -- mute reads --------------------------------------------------------------------------


@dataclass(frozen=True)
class MuteView:
    id: str
    username: str
    channel: str | None
    reason: str
    expires_at: datetime | None
    created_by: str
    created_at: datetime


async def list_mutes(rt: Runtime, app_id: str, username: str | None = None) -> list[MuteView]:
    """The app's active mutes (permanent ones and those not yet expired), newest first."""
    now = rt.clock()
    query = (
        select(
            chat_mutes,
            users.c.username.label("username"),
            chat_channels.c.name.label("channel_name"),
        )
        .join(users, users.c.id == chat_mutes.c.user_id)
        .outerjoin(chat_channels, chat_channels.c.id == chat_mutes.c.channel_id)
        .where(
            and_(
                chat_mutes.c.app_id == app_id,
                or_(chat_mutes.c.expires_at.is_(None), chat_mutes.c.expires_at > now),
            )
        )
    )
    if username:
        query = query.where(users.c.username_norm == norm(trim(username)))
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(query.order_by(chat_mutes.c.created_at.desc(), chat_mutes.c.id))
        ).all()
    return [
        MuteView(
            id=r.id,
            username=r.username,
            channel=r.channel_name,
            reason=r.reason,
            expires_at=r.expires_at,
            created_by=r.created_by,
            created_at=r.created_at,
        )
        for r in rows
    ]
