"""License export (plain text, CSV, JSON) and CSV import (management B.6, Licentia).

Export reads through `views_licenses`, so it shows exactly what the list shows, with the same
filters. CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
`@`, tab or carriage return) are prefixed with `'` (CSV injection); import strips that prefix
again, so an export can be imported into another app.

An export imports as it is: the export-only columns are ignored, and a key that was already
activated (`status` not `unused`, so both `duration_days` and its `expiry_date` are filled)
comes in as an unused key with that expiry date, so moving keys keeps their end dates.

Import is all rows or none: every row is validated (and checked against the app's existing
keys) before anything is written, then all rows go in one transaction. Errors name the CSV
line (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select

from licentia.domain.timeutil import iso_z, parse_iso
from licentia.services import paging, views_licenses
from licentia.services.admin_common import (
    MAX_DAYS,
    AdminError,
    check_email,
    check_note,
    load_app,
    norm,
    parse_int,
    trim,
)
from licentia.services.admin_licenses import KEY_PATTERN
from licentia.services.runtime import Runtime
from licentia.services.views_licenses import LicenseFilter, LicenseView
from licentia.store.tables import license_batches, licenses, subscriptions
from licentia.store.types import new_id

EXPORT_FORMATS = ("text", "csv", "json")
EXTENSIONS = {"text": "txt", "csv": "csv", "json": "json"}
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MEDIA_TYPES = {
    "text": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
CSV_COLUMNS = (
    "key",
    "subscription",
    "state",
    "status",
    "duration_days",
    "expiry_date",
    "device_limit",
    "note",
    "email",
    "used_by",
    "banned",
    "paused",
    "created_at",
    "batch_id",
)
#: Columns an import reads; the other export columns are accepted and ignored.
IMPORT_COLUMNS = (
    "key",
    "subscription",
    "duration_days",
    "expiry_date",
    "device_limit",
    "note",
    "email",
)
MAX_IMPORT_ROWS = 100_000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_INSERT_BATCH = 5000
_LOOKUP_BATCH = 900


# -- export ------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_z(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _expiry(view: LicenseView) -> datetime | None:
    """The stored term's date: the fixed date of an unused fixed-date key, else the expiry
    of an activated key (an unused duration key has none yet)."""
    if view.status == "unused":
        return view.fixed_expiry
    return view.expiry_date


def _json_row(view: LicenseView) -> dict[str, Any]:
    data = {name: getattr(view, name) for name in CSV_COLUMNS if name != "expiry_date"}
    data["expiry_date"] = _expiry(view)
    data["ban_reason"] = view.ban_reason
    data["activated_at"] = view.activated_at
    data["last_login"] = view.last_login
    return {k: iso_z(v) if isinstance(v, datetime) else v for k, v in data.items()}


async def export_licenses(
    rt: Runtime,
    app_id: str,
    filters: LicenseFilter | None = None,
    *,
    fmt: str = "csv",
    progress: Callable[[int], None] | None = None,
) -> str:
    """The matching licenses (newest first) as `text` (one key per line), `csv` or `json`."""
    if fmt not in EXPORT_FORMATS:
        raise AdminError(
            "INVALID_INPUT", "format must be one of " + ", ".join(EXPORT_FORMATS), ["format"]
        )
    views: list[LicenseView] = []
    cursor: str | None = None
    while True:  # page through, so one huge read never holds every row twice
        page = await views_licenses.list_licenses(
            rt, app_id, filters, cursor=cursor, limit=paging.MAX_LIMIT
        )
        views += page.items
        if progress is not None:
            progress(len(views))
        cursor = page.next_cursor
        if cursor is None:
            break
    return render(views, fmt)


def render(views: list[LicenseView], fmt: str) -> str:
    if fmt == "text":
        return "".join(v.key + "\n" for v in views)
    if fmt == "json":
        return json.dumps(
            {"count": len(views), "licenses": [_json_row(v) for v in views]}, ensure_ascii=False
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for v in views:
        writer.writerow(
            [
                _cell(_expiry(v) if name == "expiry_date" else getattr(v, name))
                for name in CSV_COLUMNS
            ]
        )
    return out.getvalue()


# -- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    batch_id: str
    count: int
    keys: list[str]


def _uncell(text: str) -> str:
    """Undo the export's CSV-injection prefix."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_START):
        return text[1:]
    return text


def _line_error(line: int, column: str, message: str) -> AdminError:
    return AdminError("INVALID_INPUT", f"line {line}: {message}", [column])


@dataclass
class _Row:
    line: int
    key: str
    subscription: str
    duration_days: int | None
    fixed_expiry: datetime | None
    device_limit: int
    note: str
    email: str


def _parse_row(line: int, record: dict[str, str]) -> _Row:
    def get(name: str) -> str:
        return _uncell(trim(record.get(name) or ""))

    key = get("key")
    if not key:
        raise _line_error(line, "key", "key is empty")
    if not KEY_PATTERN.fullmatch(key):
        raise _line_error(line, "key", f"key {key!r} must be 1 to 64 of A-Z a-z 0-9 - _")
    subscription = get("subscription")
    if not subscription:
        raise _line_error(line, "subscription", "subscription is empty")
    days_text, expiry_text = get("duration_days"), get("expiry_date")
    if days_text and expiry_text and get("status") not in ("", "unused"):
        # An exported activated key: its expiry_date is the day it runs out, and it moves as
        # a fixed-date key with that date (the holder keeps what is left, not a fresh term).
        days_text = ""
    if days_text and expiry_text:
        raise _line_error(line, "duration_days", "give duration_days or expiry_date, not both")
    try:
        duration = parse_int(days_text, "duration_days", low=0, high=MAX_DAYS) if days_text else 0
        device_limit = (
            parse_int(get("device_limit"), "device_limit", low=0) if get("device_limit") else 1
        )
        note = check_note(get("note"))
        email = check_email(get("email"))
    except AdminError as exc:
        raise _line_error(line, exc.fields[0] if exc.fields else "key", exc.message) from None
    fixed = None
    if expiry_text:
        try:
            fixed = parse_iso(expiry_text)
        except ValueError:
            raise _line_error(
                line, "expiry_date", f"expiry_date {expiry_text!r} is not an ISO 8601 date"
            ) from None
    return _Row(
        line=line,
        key=key,
        subscription=subscription,
        duration_days=None if fixed is not None else duration,
        fixed_expiry=fixed,
        device_limit=device_limit,
        note=note,
        email=email,
    )


def parse_csv(text: str) -> list[_Row]:
    """Validate the whole file; the first problem raises INVALID_INPUT naming its line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [trim(name or "") for name in reader.fieldnames or []]
    if not header:
        raise AdminError("INVALID_INPUT", "the CSV is empty: a header line is required", ["csv"])
    reader.fieldnames = header
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        raise AdminError(
            "INVALID_INPUT",
            f"line 1: unknown column {unknown[0]!r}; columns: " + ", ".join(IMPORT_COLUMNS),
            ["csv"],
        )
    for required in ("key", "subscription"):
        if required not in header:
            raise AdminError(
                "INVALID_INPUT", f"line 1: the header needs a {required!r} column", ["csv"]
            )
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if None in record:
                raise _line_error(line, "csv", "more cells than header columns")
            if not any((v or "").strip() for v in record.values()):
                continue  # blank line
            if len(rows) >= MAX_IMPORT_ROWS:
                raise _line_error(line, "csv", f"at most {MAX_IMPORT_ROWS} rows per import")
            row = _parse_row(line, record)
            if row.key in seen:
                raise _line_error(line, "key", f"key {row.key!r} repeats line {seen[row.key]}")
            seen[row.key] = line
            rows.append(row)
    except csv.Error as exc:
        raise AdminError("INVALID_INPUT", f"line {reader.line_num}: {exc}", ["csv"]) from None
    if not rows:
        raise AdminError("INVALID_INPUT", "the CSV has no rows to import", ["csv"])
    return rows


async def import_licenses(
    rt: Runtime,
    app_id: str,
    text: str,
    *,
    created_by: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Add every row of a license CSV as an unused key, all rows or none (one batch)."""
    rows = parse_csv(text)
    batch_id = str(uuid.uuid4())
    now = rt.clock()
    async with rt.db.write() as conn:
        app = await load_app(conn, app_id)
        subs = {
            r.name_norm: r.id
            for r in (
                await conn.execute(
                    select(subscriptions.c.id, subscriptions.c.name_norm).where(
                        subscriptions.c.app_id == app_id
                    )
                )
            ).all()
        }
        for row in rows:
            if norm(row.subscription) not in subs:
                raise AdminError(
                    "SUBSCRIPTION_NOT_FOUND",
                    f"line {row.line}: no subscription named {row.subscription!r} in this app",
                    ["subscription"],
                )
        lines = {row.key: row.line for row in rows}
        keys = list(lines)
        for start in range(0, len(keys), _LOOKUP_BATCH):
            chunk = keys[start : start + _LOOKUP_BATCH]
            taken = (
                await conn.execute(
                    select(licenses.c.key).where(
                        and_(licenses.c.app_id == app_id, licenses.c.key.in_(chunk))
                    )
                )
            ).scalars()
            first = min(taken, key=lambda k: lines[k], default=None)
            if first is not None:
                raise AdminError(
                    "ALREADY_EXISTS",
                    f"line {lines[first]}: the key {first!r} already exists in this app",
                    ["key"],
                )
        await conn.execute(
            license_batches.insert().values(
                id=batch_id,
                app_id=app_id,
                owner_account_id=app.owner_account_id,
                idempotency_key=None,
                request_digest="",
                count=len(rows),
                created_by=created_by[:64],
                created_at=now,
            )
        )
        for start in range(0, len(rows), _INSERT_BATCH):
            await conn.execute(
                licenses.insert(),
                [
                    {
                        "id": new_id(),
                        "app_id": app_id,
                        "key": row.key,
                        "subscription_id": subs[norm(row.subscription)],
                        "duration_days": row.duration_days,
                        "fixed_expiry": row.fixed_expiry,
                        "device_limit": row.device_limit,
                        "note": row.note,
                        "email": row.email,
                        "status": "unused",
                        "created_at": now,
                        "created_by": created_by,
                        "batch_id": batch_id,
                    }
                    for row in rows[start : start + _INSERT_BATCH]
                ],
            )
            if progress is not None:
                progress(min(start + _INSERT_BATCH, len(rows)))
    return ImportResult(batch_id=batch_id, count=len(rows), keys=keys)


def render_keys(keys: list[str], fmt: str, batch_id: str) -> str:
    """Freshly generated keys as `text` (one per line), `csv` (a `key` column) or `json`."""
    if fmt not in EXPORT_FORMATS:
        raise AdminError(
            "INVALID_INPUT", "format must be one of " + ", ".join(EXPORT_FORMATS), ["format"]
        )
    if fmt == "text":
        return "".join(key + "\n" for key in keys)
    if fmt == "json":
        return json.dumps({"batch_id": batch_id, "count": len(keys), "keys": keys})
    return "key\r\n" + "".join(_cell(key) + "\r\n" for key in keys)
