"""Export and import of users (B.7) and hardware devices (B.9): CSV and JSON out, CSV in.

Imports are all or nothing: every row is validated (and every initial password hashed) before
one write transaction inserts them all, so a file with one bad row creates nothing and names
the row. User rows carry either an argon2id `password_hash` (moved over as it is; other hash
kinds are refused because clients could never log in with them) or an initial `password`.

Exports are CSV-injection safe: a cell that a spreadsheet would run as a formula (starting
with `= + - @`, TAB or CR) is prefixed with `'`; imports strip that prefix again, so an export
imports back unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import and_, select

from licentia.domain.timeutil import iso_z, parse_iso
from licentia.services.admin_common import (
    AdminError,
    check_email,
    check_identity_text,
    check_length,
    check_norm_length,
    check_note,
    check_stored_content,
    load_app,
    norm,
    parse_bool,
    parse_int,
    trim,
)
from licentia.services.runtime import Runtime
from licentia.services.views_users import (
    DeviceView,
    UserFilter,
    UserView,
    check_device_type,
    list_devices,
    list_users,
)
from licentia.store.tables import devices, subscriptions, users
from licentia.store.types import new_id

EXPORT_FORMATS = ("csv", "json")
MAX_IMPORT_ROWS = 100_000
MAX_IMPORT_BYTES = 64 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ARGON2ID = re.compile(
    r"\$argon2id\$v=19\$m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}"
)

USER_COLUMNS = (
    "username",
    "email",
    "subscription",
    "expiry_date",
    "device_limit",
    "state",
    "banned",
    "ban_reason",
    "paused",
    "note",
    "linked_license_key",
    "current_devices",
    "created_at",
    "last_login",
)
DEVICE_COLUMNS = (
    "device_type",
    "device_id",
    "name",
    "email",
    "subscription",
    "expiry_date",
    "state",
    "activated",
    "activated_at",
    "banned",
    "ban_reason",
    "paused",
    "note",
    "created_at",
    "last_login",
)


# -- export ------------------------------------------------------------------------------


def safe_cell(value: Any) -> str:
    """One CSV cell: dates as `YYYY-MM-DDTHH:MM:SSZ`, None as empty, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = iso_z(value) if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _json_value(value: Any) -> Any:
    return iso_z(value) if isinstance(value, datetime) else value


def _render(fmt: str, name: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    kind = fmt.lower()
    if kind not in EXPORT_FORMATS:
        raise AdminError("INVALID_INPUT", "format must be csv or json", ["format"])
    if kind == "json":
        items = [{c: _json_value(r.get(c)) for c in columns} for r in rows]
        return json.dumps({name: items, "count": len(items)}, ensure_ascii=False)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([safe_cell(r.get(c)) for c in columns])
    return out.getvalue()


async def export_users(
    rt: Runtime,
    app_id: str,
    *,
    fmt: str = "csv",
    state: str | None = None,
    subscription: str | None = None,
    search: str | None = None,
    more: UserFilter | None = None,
) -> str:
    """Every matching user (the list filters), newest first, as CSV or JSON text."""
    page = await list_users(
        rt, app_id, state=state, subscription=subscription, search=search, more=more, limit=None
    )
    return _render(fmt, "users", USER_COLUMNS, [_user_row(u) for u in page.items])


def _user_row(view: UserView) -> dict[str, Any]:
    return view.as_dict()


async def export_devices(
    rt: Runtime,
    app_id: str,
    *,
    fmt: str = "csv",
    device_type: str | None = None,
    subscription: str | None = None,
    state: str | None = None,
) -> str:
    """Every matching hardware device, newest first, as CSV or JSON text."""
    page = await list_devices(
        rt, app_id, device_type=device_type, subscription=subscription, state=state, limit=None
    )
    return _render(fmt, "devices", DEVICE_COLUMNS, [_device_row(d) for d in page.items])


def _device_row(view: DeviceView) -> dict[str, Any]:
    return view.as_dict()


# -- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import created (it creates all rows or none)."""

    created: int
    names: list[str]


def _unquote(value: str | None) -> str:
    text = value or ""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def _read_csv(
    text: str, required: Sequence[str], known: Sequence[str], ignored: Sequence[str] = ()
) -> list[dict[str, str]]:
    """The rows of an import, by lower-cased header. Columns in `ignored` (those only an
    export writes, such as `state`) are accepted and dropped, so an export reads back."""
    if len(text) > MAX_IMPORT_BYTES:
        raise AdminError("INVALID_INPUT", "the file is too large", ["file"])
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [trim(h or "").lower() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise AdminError("INVALID_INPUT", "the CSV header lacks " + ", ".join(missing), ["file"])
    unknown = [h for h in header if h not in known and h not in ignored]
    if unknown:
        raise AdminError("INVALID_INPUT", "unknown CSV column " + unknown[0], ["file"])
    reader.fieldnames = header
    rows: list[dict[str, str]] = []
    try:
        for raw in reader:
            if None in raw:
                raise _row_error(len(rows) + 2, "has more cells than the header")
            rows.append({k: _unquote(v) for k, v in raw.items() if k in known})
            if len(rows) > MAX_IMPORT_ROWS:
                raise AdminError(
                    "INVALID_INPUT", f"at most {MAX_IMPORT_ROWS} rows per import", ["file"]
                )
    except csv.Error as exc:
        raise AdminError("INVALID_INPUT", f"the CSV is malformed: {exc}", ["file"]) from None
    if not rows:
        raise AdminError("INVALID_INPUT", "the file has no rows", ["file"])
    return rows


def _row_error(line: int, message: str) -> AdminError:
    return AdminError("INVALID_INPUT", f"line {line}: {message}", ["file"])


def _row(line: int, check: Callable[[], Any]) -> Any:
    """Run one row's validation; a refusal names the line of the file."""
    try:
        return check()
    except AdminError as exc:
        raise _row_error(line, exc.message) from None


def _expiry(value: str) -> datetime | None:
    text = trim(value)
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise AdminError("INVALID_INPUT", "expiry_date must be an ISO 8601 date") from None


async def _subscription_ids(rt: Runtime, app_id: str) -> dict[str, str]:
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = await conn.execute(
            select(subscriptions.c.name_norm, subscriptions.c.id).where(
                subscriptions.c.app_id == app_id
            )
        )
        return {r.name_norm: r.id for r in rows}


def _subscription(subs: dict[str, str], name: str) -> str:
    sub = subs.get(norm(trim(name)))
    if sub is None:
        raise AdminError("SUBSCRIPTION_NOT_FOUND", f"no subscription named {name!r}")
    return sub


USER_IMPORT_COLUMNS = (
    "username",
    "password",
    "password_hash",
    "subscription",
    "email",
    "expiry_date",
    "device_limit",
    "note",
    "banned",
    "ban_reason",
    "paused",
)


async def import_users(
    rt: Runtime, app_id: str, text: str, *, created_by: str = "cli"
) -> ImportResult:
    """Create users from CSV: `username`, `subscription` and one of `password_hash`
    (argon2id) / `password` (initial password, hashed here); optional `email`,
    `expiry_date` (empty = lifetime), `device_limit` (default 1), `note`, `banned`,
    `ban_reason`, `paused`. All rows or none; a duplicate (in the file or the app) is
    ALREADY_EXISTS naming its line."""
    rows = _read_csv(text, ("username", "subscription"), USER_IMPORT_COLUMNS, USER_COLUMNS)
    subs = await _subscription_ids(rt, app_id)
    now = rt.clock()
    values: list[dict[str, Any]] = []
    plain: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        line = index + 2
        item: dict[str, Any] = _row(line, partial(_user_values, row, subs, now, created_by))
        item["app_id"] = app_id
        key = item["username_norm"]
        if key in seen:
            raise AdminError(
                "ALREADY_EXISTS", f"line {line}: {item['username']!r} repeats line {seen[key]}"
            )
        seen[key] = line
        if item["password_hash"] is None:
            plain[index] = row.get("password") or ""
        values.append(item)
    # Hash the initial passwords before the write transaction opens (no lock while hashing).
    for index, password in plain.items():
        values[index]["password_hash"] = await rt.passwords.hash(password)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        taken = await _taken(conn, users, users.c.username_norm, app_id, list(seen))
        if taken:
            line = min(seen[n] for n in taken)
            raise AdminError(
                "ALREADY_EXISTS",
                f"line {line}: a user named {values[line - 2]['username']!r} "
                "already exists in this app",
            )
        for start in range(0, len(values), 1000):
            await conn.execute(users.insert(), values[start : start + 1000])
    return ImportResult(created=len(values), names=[v["username"] for v in values])


def _user_values(
    row: dict[str, str], subs: dict[str, str], now: datetime, created_by: str
) -> dict[str, Any]:
    name = trim(row.get("username") or "")
    check_length(name, "username", low=1, high=64)
    check_identity_text(name, "username")
    check_norm_length(name, "username", 64)
    digest = trim(row.get("password_hash") or "")
    password = row.get("password") or ""
    if digest and password:
        raise AdminError("INVALID_INPUT", "give password or password_hash, not both")
    if digest:
        if not _ARGON2ID.fullmatch(digest):
            raise AdminError("INVALID_INPUT", "password_hash must be an argon2id hash")
    elif not 1 <= len(password) <= 256:
        raise AdminError("INVALID_INPUT", "give a password (1 to 256 characters) or password_hash")
    limit_text = trim(row.get("device_limit") or "")
    banned = parse_bool(row.get("banned") or "false", "banned")
    paused = parse_bool(row.get("paused") or "false", "paused")
    return {
        "id": new_id(),
        "username": name,
        "username_norm": norm(name),
        "password_hash": digest or None,
        "email": check_email(row.get("email") or ""),
        "subscription_id": _subscription(subs, row.get("subscription") or ""),
        "expires_at": _expiry(row.get("expiry_date") or ""),
        "device_limit": parse_int(limit_text, "device_limit", low=0) if limit_text else 1,
        "note": check_note(row.get("note") or ""),
        "banned": banned,
        "ban_reason": check_note(row.get("ban_reason") or "", "ban_reason") if banned else "",
        "paused": paused,
        "paused_at": now if paused else None,
        "created_at": now,
        "created_by": created_by,
    }


async def _taken(
    conn: Any, table: Any, column: Any, app_id: str, names: list[str], *extra: Any
) -> set[str]:
    """Which of `names` (normalised) the app already has, looked up in batches."""
    found: set[str] = set()
    for start in range(0, len(names), 900):
        batch = names[start : start + 900]
        rows = await conn.execute(
            select(column).where(and_(table.c.app_id == app_id, column.in_(batch), *extra))
        )
        found.update(rows.scalars())
    return found


DEVICE_IMPORT_COLUMNS = (
    "device_type",
    "device_id",
    "subscription",
    "name",
    "email",
    "expiry_date",
    "note",
)


async def import_devices(
    rt: Runtime, app_id: str, text: str, *, created_by: str = "cli"
) -> ImportResult:
    """Create hardware devices from CSV: `device_type`, `device_id`, `subscription`;
    optional `name`, `email`, `expiry_date` (empty = lifetime), `note`. All rows or none."""
    rows = _read_csv(
        text, ("device_type", "device_id", "subscription"), DEVICE_IMPORT_COLUMNS, DEVICE_COLUMNS
    )
    subs = await _subscription_ids(rt, app_id)
    now = rt.clock()
    values: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        line = index + 2
        item: dict[str, Any] = _row(line, partial(_device_values, row, subs, now, created_by))
        item["app_id"] = app_id
        key = (item["device_type"], item["device_id_norm"])
        if key in seen:
            raise AdminError(
                "ALREADY_EXISTS", f"line {line}: {item['device_id']!r} repeats line {seen[key]}"
            )
        seen[key] = line
        values.append(item)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        for kind in ("motherboard", "processor"):
            names = [ident for (k, ident) in seen if k == kind]
            taken = await _taken(
                conn,
                devices,
                devices.c.device_id_norm,
                app_id,
                names,
                devices.c.device_type == kind,
            )
            if taken:
                line = min(seen[(kind, n)] for n in taken)
                raise AdminError(
                    "ALREADY_EXISTS",
                    f"line {line}: this app already has a {kind} {values[line - 2]['device_id']!r}",
                )
        for start in range(0, len(values), 1000):
            await conn.execute(devices.insert(), values[start : start + 1000])
    return ImportResult(created=len(values), names=[v["device_id"] for v in values])


def _device_values(
    row: dict[str, str], subs: dict[str, str], now: datetime, created_by: str
) -> dict[str, Any]:
    kind = check_device_type(row.get("device_type") or "")
    ident = trim(row.get("device_id") or "")
    check_length(ident, "device_id", low=1, high=128)
    check_identity_text(ident, "device_id")
    check_norm_length(ident, "device_id", 128)
    name = row.get("name") or ""
    check_length(name, "name", low=0, high=128)
    check_stored_content(name, "name")
    return {
        "id": new_id(),
        "device_type": kind,
        "device_id": ident,
        "device_id_norm": norm(ident),
        "name": name,
        "email": check_email(row.get("email") or ""),
        "note": check_note(row.get("note") or ""),
        "subscription_id": _subscription(subs, row.get("subscription") or ""),
        "expires_at": _expiry(row.get("expiry_date") or ""),
        "created_at": now,
        "created_by": created_by,
    }
