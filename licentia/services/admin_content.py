"""Variables (B.10), chat channels and mutes (B.11)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, select, update
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
from licentia.services.runtime import Runtime
from licentia.store.tables import chat_channels, chat_mutes, variables
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
