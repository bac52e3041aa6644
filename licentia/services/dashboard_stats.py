"""Read-only numbers of the dashboard's app overview: client activity per UTC day.

Every series covers the last `days` UTC days ending today (runtime clock), oldest first, with
a zero for each day without activity. Where each number comes from:

* **API calls**: `usage_daily` through `usage.usage_report` (what `GET /apps/{id}/usage`
  returns; this process's unflushed counts included, other workers' after their next flush).
* **Registrations**: `auth_events` rows of endpoint `register` with code `OK`.
* **Logins**: `auth_events` rows with code `OK` of the identity logins `login` (user and
  password), `licenses` (license key) and `device-auth` (device id).
* **Failed calls by code**: `auth_events` rows whose code is not `OK`. Only the calls that
  write an auth event are covered (`init`, `register`, `login`, `licenses`, `extend`,
  `device-auth`, `change-password`); `usage_daily` keeps no status, so failures of the
  other endpoints are not stored anywhere.
* **Active identities** (`active_sessions`): the distinct users, license keys and devices
  with a session in use on the day (its span from opening, `created_at`, to its last
  request, `last_seen_at`, touches the day). Sessions that only ran `init` are app starts,
  not people, and are not counted; one user on two PCs counts once. Ended and expired
  sessions are deleted by the periodic purge about a day after they end, so for older days
  only the sessions still stored are counted.

Auth events are kept for the app's `log_retention_days`; older days read as zero.

The queries are grouped in SQL (one row per day and category, never per event): auth events
through `ix_auth_events_app_created`, sessions through `ix_sessions_app_last_seen`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import usage
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, apps, auth_events, sessions

#: The ranges the overview offers.
RANGES = (7, 30)
#: Endpoints whose successful call is a login.
LOGIN_ENDPOINTS = ("login", "licenses", "device-auth")
REGISTER_ENDPOINT = "register"
OK = "OK"
#: Codes shown one by one in the failure share; the rest add up to "other".
TOP_CODES = 8
OTHER = "other"


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD (UTC)
    count: int


@dataclass(frozen=True)
class CodeShare:
    code: str
    count: int
    share: float  # of all failed calls, 0..1


@dataclass(frozen=True)
class OverviewStats:
    days: int
    first_day: str
    last_day: str
    api_calls: list[DayCount]
    registrations: list[DayCount]
    logins: list[DayCount]
    active_sessions: list[DayCount]
    failures: list[CodeShare]
    failed_calls: int  # auth-event calls that failed in the range
    auth_calls: int  # every auth-event call in the range
    log_retention_days: int


@dataclass(frozen=True)
class Integration:
    """What the integration page shows of an app (no secret)."""

    owner_id: str  # the 8-digit id clients send in `init`
    app_name: str
    latest_version: str


def day_names(today: date, days: int) -> list[str]:
    first = today - timedelta(days=days - 1)
    return [(first + timedelta(days=n)).isoformat() for n in range(days)]


def _utc_day(conn: AsyncConnection, column: Any) -> Any:
    """`YYYY-MM-DD` of a UTC timestamp column, in SQL (SQLite keeps naive UTC text)."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD", type_=String)
    return func.substr(column, 1, 10, type_=String)


#: The same, for the other read-only number services (`services.sales`).
utc_day = _utc_day


def _series(names: Sequence[str], counts: dict[str, int]) -> list[DayCount]:
    return [DayCount(name, counts.get(name, 0)) for name in names]


async def overview_stats(rt: Runtime, app_id: str, days: int = 7) -> OverviewStats:
    """The overview charts of one app over the last `days` UTC days (7 or 30)."""
    if days not in RANGES:
        raise AdminError("INVALID_INPUT", "days must be 7 or 30", ["days"])
    today = rt.clock().astimezone(UTC).date()
    names = day_names(today, days)
    start = datetime.combine(date.fromisoformat(names[0]), time(), tzinfo=UTC)
    end = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
    registrations: dict[str, int] = {}
    logins: dict[str, int] = {}
    failures: dict[str, int] = {}
    auth_calls = 0
    async with rt.db.read() as conn:
        retention = (
            await conn.execute(select(apps.c.log_retention_days).where(apps.c.id == app_id))
        ).scalar()
        if retention is None:
            raise AdminError("APP_NOT_FOUND", "No such app.")
        event_day = _utc_day(conn, auth_events.c.created_at).label("day")
        event_rows = (
            await conn.execute(
                select(event_day, auth_events.c.endpoint, auth_events.c.code, func.count())
                .where(
                    and_(
                        auth_events.c.app_id == app_id,
                        auth_events.c.created_at >= start,
                        auth_events.c.created_at < end,
                    )
                )
                .group_by(event_day, auth_events.c.endpoint, auth_events.c.code)
            )
        ).all()
        active_row = (await conn.execute(_active_identities(app_id, names))).one()
    for day, endpoint, code, count in event_rows:
        n = int(count)
        auth_calls += n
        if code != OK:
            failures[code] = failures.get(code, 0) + n
        elif endpoint == REGISTER_ENDPOINT:
            registrations[day] = registrations.get(day, 0) + n
        elif endpoint in LOGIN_ENDPOINTS:
            logins[day] = logins.get(day, 0) + n
    active = {name: int(count or 0) for name, count in zip(names, active_row, strict=True)}
    calls = await usage.usage_report(rt, app_id, days)
    return OverviewStats(
        days=days,
        first_day=names[0],
        last_day=names[-1],
        api_calls=[DayCount(d.date, d.count) for d in calls],
        registrations=_series(names, registrations),
        logins=_series(names, logins),
        active_sessions=_series(names, active),
        failures=_shares(failures),
        failed_calls=sum(failures.values()),
        auth_calls=auth_calls,
        log_retention_days=int(retention),
    )


def _active_identities(app_id: str, names: Sequence[str]) -> Any:
    """One row: per day, the distinct identities (users, keys, devices) whose session was in
    use that day. One scan of the range, one `count(DISTINCT ...)` column per day; sessions
    that only ran init have no identity and are not counted."""
    first = datetime.combine(date.fromisoformat(names[0]), time(), tzinfo=UTC)
    columns = []
    for n in range(len(names)):
        day_start = first + timedelta(days=n)
        in_use = and_(
            sessions.c.created_at < day_start + timedelta(days=1),
            sessions.c.last_seen_at >= day_start,
        )
        columns.append(func.count(distinct(case((in_use, sessions.c.identity_id)))))
    return select(*columns).where(
        sessions.c.app_id == app_id,
        sessions.c.last_seen_at >= first,
        sessions.c.created_at < first + timedelta(days=len(names)),
        sessions.c.identity_kind != "none",
    )


def _shares(failures: dict[str, int]) -> list[CodeShare]:
    """Failed calls by code, most frequent first; beyond `TOP_CODES` codes, one "other"."""
    total = sum(failures.values())
    if not total:
        return []
    ranked = sorted(failures.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:TOP_CODES]
    rest = sum(n for _, n in ranked[TOP_CODES:])
    if rest:
        shown.append((OTHER, rest))
    return [CodeShare(code, n, n / total) for code, n in shown]


async def integration_info(rt: Runtime, app_id: str) -> Integration:
    """Owner id, app name and the app's `latest_version` (the version hint for snippets)."""
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                select(accounts.c.owner_id, apps.c.name, apps.c.latest_version)
                .join(accounts, accounts.c.id == apps.c.owner_account_id)
                .where(apps.c.id == app_id)
            )
        ).first()
    if row is None:
        raise AdminError("APP_NOT_FOUND", "No such app.")
    return Integration(
        owner_id=row.owner_id or "", app_name=row.name, latest_version=row.latest_version or ""
    )
