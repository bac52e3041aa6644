"""Profile payloads of identity responses (client protocol 2.0.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from licentia.domain.timeutil import expiry_fields, iso_z

ROOT_COPY = (
    "email",
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
)


def _common(
    row: Any, now: datetime, *, sid: str, ip: str, last_login: datetime | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "email": row.email or "",
        "subscription": row.sub_name,
        "subscription_name": row.sub_name,
        "subscription_level": int(row.sub_level),
        "sid": sid,
        "hwid": sid,
        "ip_address": ip,
        "last_login": iso_z(last_login),
    }
    out.update(expiry_fields(row.expires_at, now))
    return out


def user_object(
    row: Any, now: datetime, *, sid: str, ip: str, last_login: datetime | None, devices: int
) -> dict[str, Any]:
    obj = _common(row, now, sid=sid, ip=ip, last_login=last_login)
    obj.update(
        username=row.username,
        device_limit=int(row.device_limit),
        current_devices=devices,
        registered_at=iso_z(row.created_at),
        created_at=iso_z(row.created_at),
        linked_license_key=row.linked_license_key or "",
    )
    return obj


def license_object(
    row: Any, now: datetime, *, sid: str, ip: str, last_login: datetime | None, devices: int
) -> dict[str, Any]:
    obj = _common(row, now, sid=sid, ip=ip, last_login=last_login)
    obj.update(
        license_key=row.key,
        device_limit=int(row.device_limit),
        current_devices=devices,
        registered_at=iso_z(row.activated_at),
        created_at=iso_z(row.created_at),
    )
    return obj


def device_object(
    row: Any, now: datetime, *, sid: str, ip: str, last_login: datetime | None
) -> dict[str, Any]:
    obj = _common(row, now, sid=sid, ip=ip, last_login=last_login)
    obj.update(
        device_type=row.device_type,
        device_id=row.device_id,
        name=row.name or "",
        activated=True,
        registered_at=iso_z(row.activated_at),
        created_at=iso_z(row.created_at),
    )
    return obj


def profile(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The identity object plus the flat root copy the C++ SDK reads."""
    root = {key: obj[key] for key in ROOT_COPY}
    if kind == "user":
        root["username"] = obj["username"]
        root["license_key"] = obj["linked_license_key"]
    elif kind == "license":
        root["username"] = obj["license_key"]
        root["license_key"] = obj["license_key"]
    else:
        root["username"] = obj["device_id"]
        root["license_key"] = ""
    root[kind] = obj
    return root
