"""Reads the admin services do not offer yet: app lists and counts, subscription lists, and
filtered, cursor-paged license and user lists with the full objects of A.6.

SQLAlchemy Core on `store.tables`, every value a bound parameter, each read in one
`rt.db.read()` transaction. Callers have already checked that the app is visible.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, not_, or_, select

from licentia.api.manage import pagination, schemas
from licentia.services.admin_common import AdminError, norm, trim
from licentia.services.runtime import Runtime
from licentia.store.tables import apps, devices, licenses, subscriptions, users, variables

# -- apps --------------------------------------------------------------------------------


async def list_apps(
    rt: Runtime, owner_account_id: str, app_ids: Collection[str] | None
) -> list[schemas.AppSummary]:
    query = select(apps.c.id, apps.c.name, apps.c.is_enabled, apps.c.created_at).where(
        apps.c.owner_account_id == owner_account_id
    )
    if app_ids is not None:
        query = query.where(apps.c.id.in_(sorted(app_ids)))
    async with rt.db.read() as conn:
        rows = (await conn.execute(query.order_by(apps.c.name_norm, apps.c.id))).all()
    return [
        schemas.AppSummary(id=r.id, name=r.name, is_enabled=r.is_enabled, created_at=r.created_at)
        for r in rows
    ]


def _count(table: Any, app_id: str) -> Any:
    return select(func.count()).select_from(table).where(table.c.app_id == app_id).scalar_subquery()


async def app_details(rt: Runtime, app_id: str) -> dict[str, Any]:
    """Name, creation time and the derived counts of an app (B.4)."""
    query = select(
        apps.c.name,
        apps.c.created_at,
        _count(users, app_id).label("total_users"),
        _count(licenses, app_id).label("total_licenses"),
        _count(devices, app_id).label("total_devices"),
        _count(subscriptions, app_id).label("total_subscriptions"),
        _count(variables, app_id).label("total_variables"),
    ).where(apps.c.id == app_id)
    async with rt.db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise AdminError("APP_NOT_FOUND", f"no app with id {app_id!r}")
    return dict(row._mapping)


# -- subscriptions -----------------------------------------------------------------------


def subscription_out(row: Row[Any]) -> schemas.SubscriptionOut:
    return schemas.SubscriptionOut(
        id=row.id, name=row.name, level=row.level, created_at=row.created_at
    )


async def list_subscriptions(rt: Runtime, app_id: str) -> list[schemas.SubscriptionOut]:
    """Every subscription of the app by level, then name (A.7 `subscription list`)."""
    async with rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(subscriptions)
                .where(subscriptions.c.app_id == app_id)
                .order_by(subscriptions.c.level, subscriptions.c.name_norm, subscriptions.c.id)
            )
        ).all()
    return [subscription_out(r) for r in rows]


async def get_subscription(rt: Runtime, sub_id: str) -> schemas.SubscriptionOut:
    async with rt.db.read() as conn:
        row = (
            await conn.execute(select(subscriptions).where(subscriptions.c.id == sub_id))
        ).first()
    if row is None:  # pragma: no cover - just created
        raise AdminError("SUBSCRIPTION_NOT_FOUND", "subscription not found")
    return subscription_out(row)


def _prefix(column: Any, text: str) -> ColumnElement[bool]:
    # `substr(...) = :text` compares exactly (case-sensitively) on both backends; SQLite's
    # LIKE would ignore case, and keys are case-sensitive.
    return func.substr(column, 1, len(text)) == text


# -- licenses ----------------------------------------------------------------------------

_LICENSE_QUERY = select(licenses, subscriptions.c.name.label("subscription_name")).join(
    subscriptions, subscriptions.c.id == licenses.c.subscription_id
)


def _license_expired_sql(now: datetime) -> ColumnElement[bool]:
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


def _license_state_sql(state: str, now: datetime) -> ColumnElement[bool]:
    banned = licenses.c.banned.is_(True)
    paused = licenses.c.paused.is_(True)
    expired = _license_expired_sql(now)
    if state == "banned":
        return banned
    if state == "paused":
        return and_(not_(banned), paused)
    if state == "expired":
        return and_(not_(banned), not_(paused), expired)
    return and_(not_(banned), not_(paused), not_(expired), licenses.c.status == state)


def _license_expired(row: Row[Any], now: datetime) -> bool:
    if row.status == "unused":
        return row.fixed_expiry is not None and row.fixed_expiry <= now
    return row.expires_at is not None and row.expires_at <= now


def _license_expiry(row: Row[Any], now: datetime) -> datetime | None:
    if row.status != "unused":
        return row.expires_at  # type: ignore[no-any-return]
    if row.fixed_expiry is not None:
        return row.fixed_expiry  # type: ignore[no-any-return]
    if row.duration_days:
        return now + timedelta(days=row.duration_days)
    return None


def license_out(row: Row[Any], now: datetime) -> schemas.LicenseOut:
    expired = _license_expired(row, now)
    state: schemas.LicenseStateName = (
        "banned" if row.banned else "paused" if row.paused else "expired" if expired else row.status
    )
    return schemas.LicenseOut(
        key=row.key,
        subscription=row.subscription_name,
        state=state,
        status=row.status,
        banned=row.banned,
        ban_reason=row.ban_reason,
        paused=row.paused,
        paused_at=row.paused_at,
        expired=expired,
        expiry_date=_license_expiry(row, now),
        duration_days=row.duration_days,
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


async def get_license(rt: Runtime, app_id: str, key: str) -> schemas.LicenseOut:
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                _LICENSE_QUERY.where(and_(licenses.c.app_id == app_id, licenses.c.key == trim(key)))
            )
        ).first()
    if row is None:
        raise AdminError("LICENSE_NOT_FOUND", "license key not found in this app", ["key"])
    return license_out(row, rt.clock())


async def list_licenses(
    rt: Runtime,
    app_id: str,
    *,
    state: str | None,
    subscription: str | None,
    note: str | None,
    batch: str | None,
    search: str | None,
    cursor: str | None,
    limit: int,
) -> schemas.LicensePage:
    now = rt.clock()
    position = pagination.decode_cursor("license", cursor)
    clauses: list[ColumnElement[bool]] = [licenses.c.app_id == app_id]
    if state:
        clauses.append(_license_state_sql(state, now))
    if subscription:
        clauses.append(subscriptions.c.name_norm == norm(trim(subscription)))
    if note is not None:
        clauses.append(licenses.c.note == note)
    if batch:
        clauses.append(licenses.c.batch_id == batch)
    if search:
        clauses.append(_prefix(licenses.c.key, search))
    page = pagination.after(position, licenses.c.created_at, licenses.c.id)
    if page is not None:
        clauses.append(page)
    query = (
        _LICENSE_QUERY.where(and_(*clauses))
        .order_by(licenses.c.created_at.desc(), licenses.c.id.desc())
        .limit(limit + 1)
    )
    async with rt.db.read() as conn:
        rows = (await conn.execute(query)).all()
    items = rows[:limit]
    next_cursor = (
        pagination.encode_cursor("license", items[-1].created_at, items[-1].id)
        if len(rows) > limit
        else None
    )
    return schemas.LicensePage(items=[license_out(r, now) for r in items], next_cursor=next_cursor)


async def batch_of(rt: Runtime, app_id: str, key: str) -> str:
    async with rt.db.read() as conn:
        value = (
            await conn.execute(
                select(licenses.c.batch_id).where(
                    and_(licenses.c.app_id == app_id, licenses.c.key == key)
                )
            )
        ).scalar_one()
    return str(value)


# -- users -------------------------------------------------------------------------------

_USER_QUERY = select(users, subscriptions.c.name.label("subscription_name")).join(
    subscriptions, subscriptions.c.id == users.c.subscription_id
)


def _user_state_sql(state: str, now: datetime) -> ColumnElement[bool]:
    banned = users.c.banned.is_(True)
    paused = users.c.paused.is_(True)
    expired = and_(users.c.expires_at.is_not(None), users.c.expires_at <= now)
    if state == "banned":
        return banned
    if state == "paused":
        return and_(not_(banned), paused)
    if state == "expired":
        return and_(not_(banned), not_(paused), expired)
    return and_(not_(banned), not_(paused), not_(expired))


def user_out(row: Row[Any], now: datetime) -> schemas.UserOut:
    expired = row.expires_at is not None and row.expires_at <= now
    state: schemas.UserStateName = (
        "banned" if row.banned else "paused" if row.paused else "expired" if expired else "active"
    )
    return schemas.UserOut(
        username=row.username,
        subscription=row.subscription_name,
        state=state,
        banned=row.banned,
        ban_reason=row.ban_reason,
        paused=row.paused,
        paused_at=row.paused_at,
        expired=expired,
        email=row.email or None,
        expiry_date=row.expires_at,
        device_limit=row.device_limit,
        linked_license_key=row.linked_license_key or None,
        note=row.note,
        created_at=row.created_at,
        created_by=row.created_by,
        last_login=row.last_login_at,
        ip_address=row.last_ip,
        hwid=row.last_sid,
    )


async def get_user(rt: Runtime, app_id: str, username: str) -> schemas.UserOut:
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                _USER_QUERY.where(
                    and_(users.c.app_id == app_id, users.c.username_norm == norm(trim(username)))
                )
            )
        ).first()
    if row is None:
        raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
    return user_out(row, rt.clock())


async def list_users(
    rt: Runtime,
    app_id: str,
    *,
    state: str | None,
    subscription: str | None,
    search: str | None,
    cursor: str | None,
    limit: int,
) -> schemas.UserPage:
    now = rt.clock()
    position = pagination.decode_cursor("user", cursor)
    clauses: list[ColumnElement[bool]] = [users.c.app_id == app_id]
    if state:
        clauses.append(_user_state_sql(state, now))
    if subscription:
        clauses.append(subscriptions.c.name_norm == norm(trim(subscription)))
    if search:
        text = trim(search)
        clauses.append(
            or_(
                _prefix(users.c.username_norm, norm(text)),
                _prefix(func.lower(users.c.email), text.lower()),
            )
        )
    page = pagination.after(position, users.c.created_at, users.c.id)
    if page is not None:
        clauses.append(page)
    query = (
        _USER_QUERY.where(and_(*clauses))
        .order_by(users.c.created_at.desc(), users.c.id.desc())
        .limit(limit + 1)
    )
    async with rt.db.read() as conn:
        rows = (await conn.execute(query)).all()
    items = rows[:limit]
    next_cursor = (
        pagination.encode_cursor("user", items[-1].created_at, items[-1].id)
        if len(rows) > limit
        else None
    )
    return schemas.UserPage(items=[user_out(r, now) for r in items], next_cursor=next_cursor)
