"""Read models of subscriptions (B.5) and licenses (B.6), with the filtered, cursor-paged
license list. Every face (REST, CLI, dashboard, exports) reads these objects through here, so
a license looks the same wherever it is shown.

SQLAlchemy Core on `store.tables`, every value a bound parameter, one read transaction each
(joining the caller's write transaction when one is open). Callers have already checked that
the app is visible to them; every query is still scoped to the app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, func, not_, or_, select

from licentia.services import paging
from licentia.services.admin_common import AdminError, as_utc, invalid, load_app, norm, trim
from licentia.services.runtime import Runtime
from licentia.store.prefix import starts_with
from licentia.store.tables import bindings, licenses, subscriptions

LICENSE_STATES = ("unused", "active", "used", "banned", "paused", "expired")


# -- subscriptions -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionView:
    id: str
    name: str
    level: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def subscription_view(row: Row[Any]) -> SubscriptionView:
    return SubscriptionView(id=row.id, name=row.name, level=row.level, created_at=row.created_at)


async def list_subscriptions(rt: Runtime, app_id: str) -> list[SubscriptionView]:
    """Every subscription of the app by level, then name (A.7 `subscription list`)."""
    async with rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(subscriptions)
                .where(subscriptions.c.app_id == app_id)
                .order_by(subscriptions.c.level, subscriptions.c.name_norm, subscriptions.c.id)
            )
        ).all()
    return [subscription_view(r) for r in rows]


async def get_subscription_by_id(rt: Runtime, sub_id: str) -> SubscriptionView:
    async with rt.db.read() as conn:
        row = (
            await conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id))
        ).first()
    if row is None:
        raise AdminError("SUBSCRIPTION_NOT_FOUND", "subscription not found")
    return subscription_view(row)


# -- licenses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenseView:
    """A license as every face shows it (A.6 `license` plus Licentia's state fields)."""

    id: str
    key: str
    subscription: str
    state: str  # banned, else paused, else expired, else status
    status: str
    banned: bool
    ban_reason: str
    paused: bool
    paused_at: datetime | None
    expired: bool
    expiry_date: datetime | None  # None = lifetime; unused duration key: if activated now
    duration_days: int | None
    fixed_expiry: datetime | None
    device_limit: int
    note: str
    email: str | None
    used_by: str | None
    activated_at: datetime | None
    last_login: datetime | None
    ip_address: str
    hwid: str
    created_at: datetime
    created_by: str
    batch_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


LICENSE_QUERY: Select[Any] = select(licenses, subscriptions.c.name.label("subscription_name")).join(
    subscriptions, subscriptions.c.id == licenses.c.subscription_id
)


def license_expired_sql(now: datetime) -> ColumnElement[bool]:
    """Client protocol 2.0.5: an active/used key past its expiry, an unused fixed-date key
    past its date."""
    return or_(
        and_(
            licenses.c.status != "unused",
            licenses.c.expires_at.is_not(None),
            licenses.c.expires_at <= now,
        ),
        and_(
            licenses.c.status == "unused",
            licenses.c.fixed_expiry.is_not(None),
            licenses.c.fixed_expiry <= now,
        ),
    )


def license_state_sql(state: str, now: datetime) -> ColumnElement[bool]:
    """Rows whose shown state (B.6: banned, else paused, else expired, else status) is `state`."""
    if state not in LICENSE_STATES:
        raise invalid("state", "state must be one of " + ", ".join(LICENSE_STATES))
    banned = licenses.c.banned.is_(True)
    paused = licenses.c.paused.is_(True)
    expired = license_expired_sql(now)
    if state == "banned":
        return banned
    if state == "paused":
        return and_(not_(banned), paused)
    if state == "expired":
        return and_(not_(banned), not_(paused), expired)
    return and_(not_(banned), not_(paused), not_(expired), licenses.c.status == state)


def _expired(row: Row[Any], now: datetime) -> bool:
    if row.status == "unused":
        return row.fixed_expiry is not None and row.fixed_expiry <= now
    return row.expires_at is not None and row.expires_at <= now


def _expiry(row: Row[Any], now: datetime) -> datetime | None:
    if row.status != "unused":
        return row.expires_at  # type: ignore[no-any-return]
    if row.fixed_expiry is not None:
        return row.fixed_expiry  # type: ignore[no-any-return]
    if row.duration_days:
        return now + timedelta(days=row.duration_days)
    return None


def license_view(row: Row[Any], now: datetime) -> LicenseView:
    """`row` is a `LICENSE_QUERY` row (license columns plus `subscription_name`)."""
    expired = _expired(row, now)
    state = (
        "banned" if row.banned else "paused" if row.paused else "expired" if expired else row.status
    )
    return LicenseView(
        id=row.id,
        key=row.key,
        subscription=row.subscription_name,
        state=state,
        status=row.status,
        banned=bool(row.banned),
        ban_reason=row.ban_reason,
        paused=bool(row.paused),
        paused_at=row.paused_at,
        expired=expired,
        expiry_date=_expiry(row, now),
        duration_days=row.duration_days,
        fixed_expiry=row.fixed_expiry,
        device_limit=row.device_limit,
        note=row.note,
        email=row.email or None,
        used_by=row.used_by_username,
        activated_at=row.activated_at,
        last_login=row.last_login_at,
        ip_address=row.last_ip,
        hwid=row.last_sid,
        created_at=row.created_at,
        created_by=row.created_by,
        batch_id=row.batch_id,
    )


async def get_license(rt: Runtime, app_id: str, key: str) -> LicenseView:
    """One license by key (case-sensitive); LICENSE_NOT_FOUND otherwise."""
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                LICENSE_QUERY.where(and_(licenses.c.app_id == app_id, licenses.c.key == trim(key)))
            )
        ).first()
    if row is None:
        raise AdminError("LICENSE_NOT_FOUND", "license key not found in this app", ["key"])
    return license_view(row, rt.clock())


@dataclass(frozen=True)
class LicenseFilter:
    """The filters of B.6 `list` (also used by bulk delete and export).

    `created_from`/`created_to` are a `[from, to)` range; `search` is a key prefix;
    `used_by` a username (case-insensitive); `note` matches exactly. `expires_from`/
    `expires_to` are a `[from, to)` window on the expiry (an unused key's fixed date);
    `created_by` matches the stored creator exactly (`account:…`, `reseller:…`, `token:…`);
    `search_in` picks what `search` is a prefix of (`SEARCH_FIELDS`; default the key).
    """

    state: str | None = None
    subscription: str | None = None
    note: str | None = None
    batch: str | None = None
    used_by: str | None = None
    search: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    expires_from: datetime | None = None
    expires_to: datetime | None = None
    created_by: str | None = None
    search_in: str | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) in (None, "") for name in self.__dataclass_fields__)


def license_clauses(
    app_id: str, now: datetime, f: LicenseFilter, *, sqlite: bool = False
) -> list[ColumnElement[bool]]:
    """WHERE clauses of a `LICENSE_QUERY` for the app and the filter (`sqlite`: the key
    search adds an index range, see `store.prefix`)."""
    clauses: list[ColumnElement[bool]] = [licenses.c.app_id == app_id]
    if f.state:
        clauses.append(license_state_sql(f.state, now))
    if f.subscription:
        clauses.append(subscriptions.c.name_norm == norm(trim(f.subscription)))
    if f.note is not None:
        clauses.append(licenses.c.note == f.note)
    if f.batch:
        clauses.append(licenses.c.batch_id == trim(f.batch))
    if f.used_by:
        clauses.append(func.lower(licenses.c.used_by_username) == norm(trim(f.used_by)))
    if f.search:
        clauses.append(_search_clause(app_id, f.search_in or "key", trim(f.search), sqlite))
    if f.created_from is not None:
        clauses.append(licenses.c.created_at >= as_utc(f.created_from))
    if f.created_to is not None:
        clauses.append(licenses.c.created_at < as_utc(f.created_to))
    expiry = func.coalesce(licenses.c.expires_at, licenses.c.fixed_expiry)
    if f.expires_from is not None:
        clauses.append(expiry >= as_utc(f.expires_from))
    if f.expires_to is not None:
        clauses.append(expiry < as_utc(f.expires_to))
    if f.created_by:
        clauses.append(licenses.c.created_by == trim(f.created_by))
    return clauses


#: What a license search may be a prefix of: the key (case-sensitive), the user who redeemed
#: it, its email, a bound HWID (its `bindings`) or the last IP (case-insensitive but the key).
SEARCH_FIELDS = ("key", "used_by", "email", "hwid", "ip")


def _search_clause(app_id: str, field: str, text: str, sqlite: bool) -> ColumnElement[bool]:
    if field not in SEARCH_FIELDS:
        raise invalid("search_in", "search_in must be one of " + ", ".join(SEARCH_FIELDS))
    if field == "key":
        return starts_with(licenses.c.key, text, sqlite=sqlite)
    if field == "used_by":
        return starts_with(func.lower(licenses.c.used_by_username), norm(text), sqlite=False)
    if field == "email":
        return starts_with(func.lower(licenses.c.email), text.lower(), sqlite=False)
    if field == "ip":
        return starts_with(licenses.c.last_ip, text, sqlite=False)
    bound = select(bindings.c.holder_id).where(
        bindings.c.app_id == app_id,
        bindings.c.holder_kind == "license",
        starts_with(bindings.c.sid_norm, norm(text), sqlite=False),
    )
    return licenses.c.id.in_(bound)  # bindings only: an OR with `last_sid` read every key


#: Sortable list columns -> (what they order by, whether it may be empty). `created` is the
#: keyset-paged default; `expiry` is the activated expiry (unused keys have none yet), served
#: by `ix_licenses_app_expiry`; `key` by the unique key index.
SORTS: dict[str, tuple[Any, bool]] = {
    "created": (licenses.c.created_at, False),
    "key": (licenses.c.key, False),
    "expiry": (licenses.c.expires_at, True),
}


async def list_licenses(
    rt: Runtime,
    app_id: str,
    filters: LicenseFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int | None = paging.DEFAULT_LIMIT,
    sort: str = "created",
    descending: bool = True,
) -> paging.Page[LicenseView]:
    """Newest first, one page at a time (`limit=None`: every match, for exports). Another
    `sort` (`SORTS`) orders by that column (empty values last), paged by position."""
    now = rt.clock()
    size = paging.check_limit(limit)
    clauses = license_clauses(app_id, now, filters or LicenseFilter(), sqlite=rt.db.is_sqlite)
    if sort not in SORTS:
        raise invalid("sort", "sort must be one of " + ", ".join(SORTS))
    if sort == "created" and descending:
        page = paging.after(
            paging.decode_cursor("license", cursor), licenses.c.created_at, licenses.c.id
        )
        if page is not None:
            clauses.append(page)
        query = LICENSE_QUERY.where(and_(*clauses)).order_by(
            licenses.c.created_at.desc(), licenses.c.id.desc()
        )
        offset = None
    else:
        kind = f"license-{sort}-{'desc' if descending else 'asc'}"
        offset = paging.decode_offset(kind, cursor)
        query = LICENSE_QUERY.where(and_(*clauses)).order_by(
            *paging.sorted_by(SORTS[sort][0], licenses.c.id, descending, nullable=SORTS[sort][1])
        )
        query = query.offset(offset) if offset else query
    if size is not None:
        query = query.limit(size + 1)
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        rows = list((await conn.execute(query)).all())
    next_cursor = None
    if size is not None and len(rows) > size:
        rows = rows[:size]
        if offset is None:
            next_cursor = paging.encode_cursor("license", rows[-1].created_at, rows[-1].id)
        else:
            next_cursor = paging.encode_offset(kind, offset + size)
    return paging.Page(items=[license_view(r, now) for r in rows], next_cursor=next_cursor)
