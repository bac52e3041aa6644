"""The shared objects of management A.6 (`license`, `user`, `device`), read straight from the
store with SQLAlchemy Core, always scoped to one app."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.domain.timeutil import iso_z
from licentia.services.admin_common import AdminError, norm, trim
from licentia.store.tables import bindings, devices, licenses, subscriptions, users


def date(value: datetime | None) -> str | None:
    return iso_z(value) if value is not None else None


def _none_if_empty(value: str | None) -> str | None:
    return value if value else None


def _expired(expiry: datetime | None, now: datetime) -> bool:
    return expiry is not None and expiry <= now


async def binding_count(conn: AsyncConnection, kind: str, holder_id: str) -> int:
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(bindings)
                .where(and_(bindings.c.holder_kind == kind, bindings.c.holder_id == holder_id))
            )
        ).scalar_one()
    )


# -- licenses ----------------------------------------------------------------------------


async def find_license(conn: AsyncConnection, app_id: str, key: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(licenses, subscriptions.c.name.label("subscription_name"))
            .join(subscriptions, subscriptions.c.id == licenses.c.subscription_id)
            .where(and_(licenses.c.app_id == app_id, licenses.c.key == trim(key)))
        )
    ).first()


async def require_license(conn: AsyncConnection, app_id: str, key: str) -> Row[Any]:
    row = await find_license(conn, app_id, key)
    if row is None:
        raise AdminError("LICENSE_NOT_FOUND", "license key not found in this app", ["license_key"])
    return row


def license_expiry(row: Row[Any], now: datetime) -> datetime | None:
    """The key's expiry; for an unused key the one it would get if activated now."""
    if row.status == "unused":
        if row.fixed_expiry is not None:
            return row.fixed_expiry  # type: ignore[no-any-return]
        days = row.duration_days or 0
        return None if days == 0 else now + timedelta(days=days)
    return row.expires_at  # type: ignore[no-any-return]


async def license_object(conn: AsyncConnection, row: Row[Any], now: datetime) -> dict[str, Any]:
    hwid, ip, last_login = row.last_sid, row.last_ip, row.last_login_at
    used_devices = await binding_count(conn, "license", row.id)
    if row.status == "used" and row.used_by_user_id:
        user = (await conn.execute(select(users).where(users.c.id == row.used_by_user_id))).first()
        if user is not None:
            hwid, ip, last_login = user.last_sid, user.last_ip, user.last_login_at
            used_devices = await binding_count(conn, "user", user.id)
    if row.status == "unused":
        expired = _expired(row.fixed_expiry, now)
    else:
        expired = _expired(row.expires_at, now)
    return {
        "license_key": row.key,
        "subscription_name": row.subscription_name,
        "subscription": row.subscription_name,
        "status": row.status,
        "banned": bool(row.banned),
        "paused": bool(row.paused),
        "expired": expired,
        "email": _none_if_empty(row.email),
        "ip_address": _none_if_empty(ip),
        "hwid": _none_if_empty(hwid),
        "expiry_date": date(license_expiry(row, now)),
        "duration_days": row.duration_days if row.duration_days else None,
        "used_devices": used_devices,
        "max_devices": row.device_limit,
        "date_created": date(row.created_at),
        "activated_at": date(row.activated_at),
        "last_login": date(last_login),
        "used_by": row.used_by_username or None,
        "note": row.note,
    }


# -- users -------------------------------------------------------------------------------


async def find_user(conn: AsyncConnection, app_id: str, username: str) -> Row[Any] | None:
    return (
        await conn.execute(
            select(users, subscriptions.c.name.label("subscription_name"))
            .join(subscriptions, subscriptions.c.id == users.c.subscription_id)
            .where(and_(users.c.app_id == app_id, users.c.username_norm == norm(trim(username))))
        )
    ).first()


async def require_user(conn: AsyncConnection, app_id: str, username: str) -> Row[Any]:
    row = await find_user(conn, app_id, username)
    if row is None:
        raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
    return row


async def user_object(conn: AsyncConnection, row: Row[Any], now: datetime) -> dict[str, Any]:
    return {
        "username": row.username,
        "subscription_name": row.subscription_name,
        "subscription": row.subscription_name,
        "banned": bool(row.banned),
        "paused": bool(row.paused),
        "expired": _expired(row.expires_at, now),
        "email": _none_if_empty(row.email),
        "ip_address": _none_if_empty(row.last_ip),
        "hwid": _none_if_empty(row.last_sid),
        "expiry_date": date(row.expires_at),
        "device_limit": row.device_limit,
        "current_devices": await binding_count(conn, "user", row.id),
        "date_created": date(row.created_at),
        "last_login": date(row.last_login_at),
        "linked_license_key": _none_if_empty(row.linked_license_key),
        "note": row.note,
    }


# -- devices -----------------------------------------------------------------------------


def device_query() -> Any:
    return select(devices, subscriptions.c.name.label("subscription_name")).join(
        subscriptions, subscriptions.c.id == devices.c.subscription_id
    )


async def find_device(
    conn: AsyncConnection, app_id: str, device_type: str, device_id: str
) -> Row[Any] | None:
    return (
        await conn.execute(
            device_query().where(
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
    row = await find_device(conn, app_id, device_type, device_id)
    if row is None:
        raise AdminError(
            "DEVICE_NOT_FOUND", f"{device_type} not found in this app", ["device_type", "device_id"]
        )
    return row


def device_object(row: Row[Any], now: datetime) -> dict[str, Any]:
    return {
        "device_type": row.device_type,
        "device_id": row.device_id,
        "name": row.name,
        "email": _none_if_empty(row.email),
        "subscription_name": row.subscription_name,
        "subscription": row.subscription_name,
        "expiry_date": date(row.expires_at),
        "activated": bool(row.activated),
        "activated_at": date(row.activated_at),
        "banned": bool(row.banned),
        "paused": bool(row.paused),
        "expired": _expired(row.expires_at, now),
        "hwid": _none_if_empty(row.hwid),
        "ip_address": _none_if_empty(row.last_ip),
        "date_created": date(row.created_at),
        "last_login": date(row.last_login_at),
        "note": row.note,
    }


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """`{"field": [before, after]}` for the fields that differ."""
    old = before or {}
    new = after or {}
    out: dict[str, Any] = {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            out[name] = [old.get(name), new.get(name)]
    return out
