"""Client logs and auth events (management B.12): filtered, cursor-paged lists, CSV/JSON
export and purge.

Client logs come from the client `logs` endpoint; auth events are written by the client API
for every `init`, `register`, `login`, `licenses`, `extend`, `device-auth` and
`change-password` call that gets past the transport and replay checks. Both are kept
`log_retention_days` days (services/maintenance.py prunes them); a purge here removes them
earlier. Neither affects what clients see, so no `config_rev` bump.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select

from licentia.domain.timeutil import iso_z
from licentia.services.admin_common import AdminError, as_utc, invalid, load_app, parse_int, trim
from licentia.services.paging import DEFAULT_LIMIT, MAX_LIMIT
from licentia.services.runtime import Runtime
from licentia.store.tables import auth_events, client_logs

#: Most rows one export returns (an export is one response or one file).
MAX_EXPORT = 100_000
EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True)
class LogFilter:
    """Filters of the client-log list (B.12): time range, identity, IP, text."""

    since: datetime | None = None
    until: datetime | None = None
    identity: str | None = None
    ip: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class EventFilter:
    """Filters of the auth-event list (B.12): code, endpoint, IP, identity, time."""

    since: datetime | None = None
    until: datetime | None = None
    code: str | None = None
    endpoint: str | None = None
    ip: str | None = None
    identity: str | None = None


@dataclass(frozen=True)
class ClientLog:
    id: int
    created_at: datetime
    session: str
    identity_kind: str
    identity: str
    client_ip: str
    reported_ip: str
    message: str


@dataclass(frozen=True)
class AuthEvent:
    id: int
    created_at: datetime
    endpoint: str
    code: str
    identity: str
    client_ip: str
    reported_ip: str  # the body `ip` the client sent, when it was a valid address
    country: str
    sid: str
    client_version: str


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _time_range(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    if since is not None and until is not None and as_utc(since) > as_utc(until):
        raise AdminError("INVALID_INPUT", "since must not be after until", ["since", "until"])
    out: list[Any] = []
    if since is not None:
        out.append(column >= as_utc(since))
    if until is not None:
        out.append(column < as_utc(until))
    return out


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _log_where(app_id: str, f: LogFilter) -> list[ColumnElement[bool]]:
    where: list[Any] = [client_logs.c.app_id == app_id]
    where += _time_range(client_logs.c.created_at, f.since, f.until)
    if f.identity:
        where.append(func.lower(client_logs.c.identity_name) == trim(f.identity).lower())
    if f.ip:
        ip = f.ip.strip()
        where.append(or_(client_logs.c.client_ip == ip, client_logs.c.reported_ip == ip))
    if f.text:
        where.append(func.lower(client_logs.c.message).like(_like(f.text), escape="\\"))
    return where


def _event_where(app_id: str, f: EventFilter) -> list[ColumnElement[bool]]:
    where: list[Any] = [auth_events.c.app_id == app_id]
    where += _time_range(auth_events.c.created_at, f.since, f.until)
    if f.code:
        where.append(auth_events.c.code == f.code.strip().upper())
    if f.endpoint:
        where.append(auth_events.c.endpoint == f.endpoint.strip().lower())
    if f.ip:
        ip = f.ip.strip()
        where.append(or_(auth_events.c.client_ip == ip, auth_events.c.reported_ip == ip))
    if f.identity:
        where.append(func.lower(auth_events.c.identity) == trim(f.identity).lower())
    return where


def _log(row: Any) -> ClientLog:
    return ClientLog(
        id=int(row.id),
        created_at=row.created_at,
        session=row.session_prefix,
        identity_kind=row.identity_kind,
        identity=row.identity_name,
        client_ip=row.client_ip,
        reported_ip=row.reported_ip,
        message=row.message,
    )


def _event(row: Any) -> AuthEvent:
    return AuthEvent(
        id=int(row.id),
        created_at=row.created_at,
        endpoint=row.endpoint,
        code=row.code,
        identity=row.identity,
        client_ip=row.client_ip,
        reported_ip=row.reported_ip,
        country=row.country,
        sid=row.sid,
        client_version=row.client_version,
    )


def _encode(kind: str, ident: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{ident}".encode()).decode().rstrip("=")


def _decode(kind: str, cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        name, _, number = raw.partition(":")
        if name == kind and number.isdigit() and len(number) <= 19:
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid("cursor", "cursor must be a value returned as next_cursor")


async def _page(
    rt: Runtime,
    app_id: str,
    table: Any,
    where: list[Any],
    kind: str,
    convert: Callable[[Any], Any],
    cursor: str | None,
    limit: int,
) -> Page:
    size = parse_int(limit, "limit", low=1, high=MAX_LIMIT)
    before = _decode(kind, cursor)
    if before is not None:
        where = [*where, table.c.id < before]
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(table).where(and_(*where)).order_by(table.c.id.desc()).limit(size + 1)
            )
        ).all()
    items = [convert(r) for r in rows[:size]]
    more = len(rows) > size
    return Page(items=items, next_cursor=_encode(kind, items[-1].id) if more else None)


async def list_client_logs(
    rt: Runtime,
    app_id: str,
    filters: LogFilter = LogFilter(),
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Client logs, newest first, one page at a time."""
    return await _page(
        rt, app_id, client_logs, _log_where(app_id, filters), "log", _log, cursor, limit
    )


async def list_auth_events(
    rt: Runtime,
    app_id: str,
    filters: EventFilter = EventFilter(),
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Auth events, newest first, one page at a time."""
    return await _page(
        rt, app_id, auth_events, _event_where(app_id, filters), "event", _event, cursor, limit
    )


def _format(fmt: str) -> str:
    name = fmt.strip().lower()
    if name not in EXPORT_FORMATS:
        raise invalid("format", "format must be csv or json")
    return name


def _render(items: list[Any], columns: list[str], fmt: str) -> str:
    records = [
        {k: iso_z(v) if isinstance(v, datetime) else v for k, v in asdict(i).items()} for i in items
    ]
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        # Spreadsheets run cells starting with = + - @ as formulas: quote them as text.
        writer.writerow(
            {
                k: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v
                for k, v in record.items()
            }
        )
    return out.getvalue()


@dataclass(frozen=True)
class Export:
    format: str
    count: int
    content: str


async def _export(
    rt: Runtime,
    app_id: str,
    table: Any,
    where: list[Any],
    convert: Callable[[Any], Any],
    columns: list[str],
    fmt: str,
) -> Export:
    name = _format(fmt)
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = (
            await conn.execute(
                select(table).where(and_(*where)).order_by(table.c.id).limit(MAX_EXPORT)
            )
        ).all()
    items = [convert(r) for r in rows]
    return Export(format=name, count=len(items), content=_render(items, columns, name))


LOG_COLUMNS = list(ClientLog.__dataclass_fields__)
EVENT_COLUMNS = list(AuthEvent.__dataclass_fields__)


async def export_client_logs(
    rt: Runtime, app_id: str, filters: LogFilter = LogFilter(), fmt: str = "csv"
) -> Export:
    """Every matching client log (oldest first, at most `MAX_EXPORT`) as CSV or JSON."""
    return await _export(
        rt, app_id, client_logs, _log_where(app_id, filters), _log, LOG_COLUMNS, fmt
    )


async def export_auth_events(
    rt: Runtime, app_id: str, filters: EventFilter = EventFilter(), fmt: str = "csv"
) -> Export:
    """Every matching auth event (oldest first, at most `MAX_EXPORT`) as CSV or JSON."""
    return await _export(
        rt, app_id, auth_events, _event_where(app_id, filters), _event, EVENT_COLUMNS, fmt
    )


def _purge_where(table: Any, app_id: str, before: datetime | None, everything: bool) -> Any:
    if (before is None) == (not everything):
        raise AdminError(
            "INVALID_INPUT", "give either a date to purge before, or all", ["before", "all"]
        )
    where = table.c.app_id == app_id
    if before is not None:
        where = and_(where, table.c.created_at < as_utc(before))
    return where


async def purge_client_logs(
    rt: Runtime, app_id: str, *, before: datetime | None = None, everything: bool = False
) -> int:
    """Delete client logs older than `before`, or all of them; returns how many."""
    where = _purge_where(client_logs, app_id, before, everything)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        result = await conn.execute(delete(client_logs).where(where))
    return int(result.rowcount or 0)


async def purge_auth_events(
    rt: Runtime, app_id: str, *, before: datetime | None = None, everything: bool = False
) -> int:
    """Delete auth events older than `before`, or all of them; returns how many."""
    where = _purge_where(auth_events, app_id, before, everything)
    async with rt.db.write() as conn:
        await load_app(conn, app_id)
        result = await conn.execute(delete(auth_events).where(where))
    return int(result.rowcount or 0)
