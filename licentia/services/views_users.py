"""Read models of users (B.7), bound devices (B.8), hardware devices (B.9) and client sessions
(B.13), with their filtered, cursor-paged lists. Every face reads these objects through here.

SQLAlchemy Core on `store.tables`, every value a bound parameter, one read transaction each
(joining the caller's write transaction when one is open). Callers have already checked that
the app is visible to them; lookups still scope every query to the app.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import paging
from licentia.services.admin_common import (
    AdminError,
    invalid,
    load_app,
    norm,
    require_subscription,
    trim,
)
from licentia.services.runtime import Runtime
from licentia.store.prefix import starts_with
from licentia.store.tables import bindings, devices, licenses, sessions, subscriptions, users

USER_STATES = ("active", "banned", "paused", "expired")
DEVICE_STATES = ("active", "banned", "paused", "expired", "unactivated")
SESSION_STATES = ("live", "expired", "ended")
IDENTITY_KINDS = ("user", "license", "device", "none")
DEVICE_TYPES = ("motherboard", "processor")


#: A user search that matches at most this many users is answered from the username and
#: email indexes, then sorted; a broader one walks the list order (its matches are dense).
SEARCH_CANDIDATES = 2000


def _prefix(column: Any, text: str, *, sqlite: bool = False) -> ColumnElement[bool]:
    # `substr(...) = :text` compares exactly on both backends (SQLite's LIKE ignores case);
    # on SQLite an equivalent index range is added (store.prefix).
    return starts_with(column, text, sqlite=sqlite)


def _user_search(search: str, *, sqlite: bool) -> ColumnElement[bool]:
    text = trim(search)
    return or_(
        _prefix(users.c.username_norm, norm(text), sqlite=sqlite),
        _prefix(func.lower(users.c.email), text.lower(), sqlite=sqlite),
    )


async def _search_ids(conn: AsyncConnection, app_id: str, search: str) -> list[str] | None:
    """SQLite: the ids of the users a search matches when they are few (None: too many).

    Ordering a search by the list order makes SQLite walk every user of the app when few
    match (about half a second at 100,000 users); the two prefix ranges read only the
    matches through `uq_users_app_username` and `ix_users_app_email`."""
    rows = (
        await conn.execute(
            select(users.c.id)
            .where(users.c.app_id == app_id, _user_search(search, sqlite=True))
            .limit(SEARCH_CANDIDATES + 1)
        )
    ).all()
    return None if len(rows) > SEARCH_CANDIDATES else [r.id for r in rows]


def _expired(expiry: datetime | None, now: datetime) -> bool:
    return expiry is not None and expiry <= now


#: Derived fields left out of audit diffs (they follow from the stored ones).
DERIVED_FIELDS = frozenset({"id", "state", "expired", "current_devices"})


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{"field": [before, after]}` of the stored fields two views of one object differ in
    (what every face writes to the audit log for an edit)."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if name not in DERIVED_FIELDS and before.get(name) != value
    }


def _page_of(kind: str, rows: list[Row[Any]], limit: int | None, created: str, ident: str) -> Any:
    if limit is None or len(rows) <= limit:
        return rows, None
    items = rows[:limit]
    last = items[-1]
    return items, paging.encode_cursor(kind, getattr(last, created), getattr(last, ident))


# -- users -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserView:
    """A user as every face shows it (A.6 `user` plus Licentia's state fields)."""

    id: str
    username: str
    subscription: str
    state: str  # banned, else paused, else expired, else active
    banned: bool
    ban_reason: str
    paused: bool
    paused_at: datetime | None
    expired: bool
    email: str | None
    expiry_date: datetime | None  # None = lifetime
    device_limit: int
    current_devices: int
    linked_license_key: str | None
    note: str
    created_at: datetime
    created_by: str
    last_login: datetime | None
    ip_address: str
    hwid: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_BINDING_COUNT = (
    select(func.count())
    .select_from(bindings)
    .where(and_(bindings.c.holder_kind == "user", bindings.c.holder_id == users.c.id))
    .correlate(users)
    .scalar_subquery()
)

_USER_QUERY = select(
    users,
    subscriptions.c.name.label("subscription_name"),
    _BINDING_COUNT.label("binding_count"),
).join(subscriptions, subscriptions.c.id == users.c.subscription_id)


def user_state_sql(state: str, now: datetime) -> ColumnElement[bool]:
    if state not in USER_STATES:
        raise invalid("state", "state must be one of " + ", ".join(USER_STATES))
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


def user_view(row: Row[Any], now: datetime) -> UserView:
    expired = _expired(row.expires_at, now)
    state = (
        "banned" if row.banned else "paused" if row.paused else "expired" if expired else "active"
    )
    return UserView(
        id=row.id,
        username=row.username,
        subscription=row.subscription_name,
        state=state,
        banned=bool(row.banned),
        ban_reason=row.ban_reason,
        paused=bool(row.paused),
        paused_at=row.paused_at,
        expired=expired,
        email=row.email or None,
        expiry_date=row.expires_at,
        device_limit=row.device_limit,
        current_devices=int(row.binding_count or 0),
        linked_license_key=row.linked_license_key or None,
        note=row.note,
        created_at=row.created_at,
        created_by=row.created_by,
        last_login=row.last_login_at,
        ip_address=row.last_ip,
        hwid=row.last_sid,
    )


async def find_user_row(conn: AsyncConnection, app_id: str, username: str) -> Row[Any] | None:
    return (
        await conn.execute(
            _USER_QUERY.where(
                and_(users.c.app_id == app_id, users.c.username_norm == norm(trim(username)))
            )
        )
    ).first()


async def get_user(rt: Runtime, app_id: str, username: str) -> UserView:
    """One user by name (case-insensitive); USER_NOT_FOUND otherwise."""
    async with rt.db.read() as conn:
        row = await find_user_row(conn, app_id, username)
    if row is None:
        raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
    return user_view(row, rt.clock())


@dataclass(frozen=True)
class UserFilter:
    """The user list's filters besides state/subscription/search (ranges are `[from, to)`):
    `created_by` matches the stored creator exactly; `search_in` is what `search` is a
    prefix of (`USER_SEARCH_FIELDS`: username or email by default, a bound HWID, the last
    IP). The bound-HWID count and the last login are shown but not sortable: ordering
    100,000 users by a count per row took seconds, and an index on the last login would be
    rewritten by every client login."""

    created_from: datetime | None = None
    created_to: datetime | None = None
    login_from: datetime | None = None
    login_to: datetime | None = None
    expires_from: datetime | None = None
    expires_to: datetime | None = None
    created_by: str | None = None
    search_in: str | None = None


USER_SEARCH_FIELDS = ("name", "hwid", "ip")
#: Sortable user list columns -> (what they order by, whether it may be empty); `created` is
#: the keyset-paged default.
USER_SORTS: dict[str, tuple[Any, bool]] = {
    "created": (users.c.created_at, False),
    "username": (users.c.username_norm, False),
    "expiry": (users.c.expires_at, True),  # ix_users_app_expiry
}


def _user_clauses(
    app_id: str,
    now: datetime,
    *,
    state: str | None,
    subscription: str | None,
    search: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    login_from: datetime | None,
    login_to: datetime | None,
    more: UserFilter | None = None,
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = [users.c.app_id == app_id]
    if state:
        clauses.append(user_state_sql(state, now))
    if subscription:
        clauses.append(subscriptions.c.name_norm == norm(trim(subscription)))
    if search:
        clauses.append(_user_search(search, sqlite=False))
    if created_from is not None:
        clauses.append(users.c.created_at >= created_from)
    if created_to is not None:
        clauses.append(users.c.created_at < created_to)
    if login_from is not None:
        clauses.append(users.c.last_login_at >= login_from)
    if login_to is not None:
        clauses.append(users.c.last_login_at < login_to)
    if more is not None:
        if more.expires_from is not None:
            clauses.append(users.c.expires_at >= more.expires_from)
        if more.expires_to is not None:
            clauses.append(users.c.expires_at < more.expires_to)
        if more.created_by:
            clauses.append(users.c.created_by == trim(more.created_by))
    return clauses


def _user_field_search(app_id: str, field: str, text: str) -> ColumnElement[bool]:
    """A search on a bound HWID (any of the user's bindings, case-insensitive) or the last
    IP. The bindings are searched alone, not also the users' `last_sid`: an OR with a column
    of every user row made each search read the whole app."""
    if field == "ip":
        return starts_with(users.c.last_ip, text, sqlite=False)
    bound = select(bindings.c.holder_id).where(
        bindings.c.app_id == app_id,
        bindings.c.holder_kind == "user",
        starts_with(bindings.c.sid_norm, norm(text), sqlite=False),
    )
    return users.c.id.in_(bound)


async def list_users(
    rt: Runtime,
    app_id: str,
    *,
    state: str | None = None,
    subscription: str | None = None,
    search: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    login_from: datetime | None = None,
    login_to: datetime | None = None,
    more: UserFilter | None = None,
    sort: str = "created",
    descending: bool = True,
    cursor: str | None = None,
    limit: int | None = paging.DEFAULT_LIMIT,
) -> paging.Page[UserView]:
    """Newest first; `search` is a prefix of the username or email (case-insensitive);
    the ranges are `[from, to)`. `limit=None` returns every match (exports). Another `sort`
    (`USER_SORTS`) orders by that column (empty values last), paged by position."""
    now = rt.clock()
    size = paging.check_limit(limit)
    field = (more.search_in if more is not None else None) or "name"
    if field not in USER_SEARCH_FIELDS:
        raise invalid("search_in", "search_in must be one of " + ", ".join(USER_SEARCH_FIELDS))
    if sort not in USER_SORTS:
        raise invalid("sort", "sort must be one of " + ", ".join(USER_SORTS))
    clauses = _user_clauses(
        app_id,
        now,
        state=state,
        subscription=subscription,
        search=None,
        created_from=created_from,
        created_to=created_to,
        login_from=login_from,
        login_to=login_to,
        more=more,
    )
    keyset = sort == "created" and descending
    kind = "user" if keyset else f"user-{sort}-{'desc' if descending else 'asc'}"
    offset = 0
    if keyset:
        page = paging.after(paging.decode_cursor(kind, cursor), users.c.created_at, users.c.id)
        if page is not None:
            clauses.append(page)
        order = [users.c.created_at.desc(), users.c.id.desc()]
    else:
        offset = paging.decode_offset(kind, cursor)
        column, nullable = USER_SORTS[sort]
        order = paging.sorted_by(column, users.c.id, descending, nullable=nullable)
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        if search and field != "name":
            clauses.append(_user_field_search(app_id, field, trim(search)))
        elif search:
            ids = await _search_ids(conn, app_id, search) if rt.db.is_sqlite else None
            clauses.append(
                _user_search(search, sqlite=False) if ids is None else users.c.id.in_(ids)
            )
        query = _USER_QUERY.where(and_(*clauses)).order_by(*order)
        if offset:
            query = query.offset(offset)
        if size is not None:
            query = query.limit(size + 1)
        rows = list((await conn.execute(query)).all())
    if keyset:
        items, next_cursor = _page_of(kind, rows, size, "created_at", "id")
    else:
        items = rows[:size] if size is not None else rows
        more_rows = size is not None and len(rows) > size
        next_cursor = paging.encode_offset(kind, offset + len(items)) if more_rows else None
    return paging.Page(items=[user_view(r, now) for r in items], next_cursor=next_cursor)


# -- hardware devices --------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceView:
    """A hardware device as every face shows it (A.6 `device` plus state fields)."""

    id: str
    device_type: str
    device_id: str
    name: str
    email: str | None
    subscription: str
    state: str  # banned, else paused, else expired, else unactivated, else active
    activated: bool
    activated_at: datetime | None
    banned: bool
    ban_reason: str
    paused: bool
    paused_at: datetime | None
    expired: bool
    expiry_date: datetime | None
    hwid: str
    ip_address: str
    note: str
    created_at: datetime
    created_by: str
    last_login: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEVICE_QUERY = select(devices, subscriptions.c.name.label("subscription_name")).join(
    subscriptions, subscriptions.c.id == devices.c.subscription_id
)


def device_state_sql(state: str, now: datetime) -> ColumnElement[bool]:
    if state not in DEVICE_STATES:
        raise invalid("state", "state must be one of " + ", ".join(DEVICE_STATES))
    banned = devices.c.banned.is_(True)
    paused = devices.c.paused.is_(True)
    expired = and_(devices.c.expires_at.is_not(None), devices.c.expires_at <= now)
    if state == "banned":
        return banned
    if state == "paused":
        return and_(not_(banned), paused)
    if state == "expired":
        return and_(not_(banned), not_(paused), expired)
    live = and_(not_(banned), not_(paused), not_(expired))
    if state == "unactivated":
        return and_(live, devices.c.activated.is_(False))
    return and_(live, devices.c.activated.is_(True))


def device_view(row: Row[Any], now: datetime) -> DeviceView:
    expired = _expired(row.expires_at, now)
    state = (
        "banned"
        if row.banned
        else "paused"
        if row.paused
        else "expired"
        if expired
        else "active"
        if row.activated
        else "unactivated"
    )
    return DeviceView(
        id=row.id,
        device_type=row.device_type,
        device_id=row.device_id,
        name=row.name,
        email=row.email or None,
        subscription=row.subscription_name,
        state=state,
        activated=bool(row.activated),
        activated_at=row.activated_at,
        banned=bool(row.banned),
        ban_reason=row.ban_reason,
        paused=bool(row.paused),
        paused_at=row.paused_at,
        expired=expired,
        expiry_date=row.expires_at,
        hwid=row.hwid,
        ip_address=row.last_ip,
        note=row.note,
        created_at=row.created_at,
        created_by=row.created_by,
        last_login=row.last_login_at,
    )


def check_device_type(device_type: str, field: str = "device_type") -> str:
    kind = trim(device_type).lower()
    if kind not in DEVICE_TYPES:
        raise invalid(field, "device type must be motherboard or processor")
    return kind


async def get_device(rt: Runtime, app_id: str, device_type: str, device_id: str) -> DeviceView:
    """One device by type and id (case-insensitive); DEVICE_NOT_FOUND otherwise."""
    kind = check_device_type(device_type)
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                DEVICE_QUERY.where(
                    and_(
                        devices.c.app_id == app_id,
                        devices.c.device_type == kind,
                        devices.c.device_id_norm == norm(trim(device_id)),
                    )
                )
            )
        ).first()
    if row is None:
        raise AdminError(
            "DEVICE_NOT_FOUND", f"{kind} not found in this app", ["device_type", "device_id"]
        )
    return device_view(row, rt.clock())


async def list_devices(
    rt: Runtime,
    app_id: str,
    *,
    device_type: str | None = None,
    subscription: str | None = None,
    state: str | None = None,
    search: str | None = None,
    cursor: str | None = None,
    limit: int | None = paging.DEFAULT_LIMIT,
) -> paging.Page[DeviceView]:
    """Newest first; `search` is a prefix of the device id (case-insensitive); an unknown
    subscription is SUBSCRIPTION_NOT_FOUND. `limit=None` returns every match."""
    now = rt.clock()
    size = paging.check_limit(limit)
    clauses: list[ColumnElement[bool]] = [devices.c.app_id == app_id]
    if device_type:
        clauses.append(devices.c.device_type == check_device_type(device_type))
    if state:
        clauses.append(device_state_sql(state.strip().lower(), now))
    if search:
        clauses.append(
            _prefix(devices.c.device_id_norm, norm(trim(search)), sqlite=rt.db.is_sqlite)
        )
    page = paging.after(paging.decode_cursor("device", cursor), devices.c.created_at, devices.c.id)
    if page is not None:
        clauses.append(page)
    async with rt.db.read() as conn:
        await load_app(conn, app_id)
        if subscription:
            sub = await require_subscription(conn, app_id, subscription)
            clauses.append(devices.c.subscription_id == sub.id)
        query = DEVICE_QUERY.where(and_(*clauses)).order_by(
            devices.c.created_at.desc(), devices.c.id.desc()
        )
        if size is not None:
            query = query.limit(size + 1)
        rows = list((await conn.execute(query)).all())
    items, next_cursor = _page_of("device", rows, size, "created_at", "id")
    return paging.Page(items=[device_view(r, now) for r in items], next_cursor=next_cursor)


# -- bound devices (SID bindings) --------------------------------------------------------


@dataclass(frozen=True)
class BindingView:
    """One SID bound to a user or a license (B.8)."""

    holder_kind: str
    holder: str  # username or license key
    sid: str
    first_seen_at: datetime
    last_seen_at: datetime
    last_ip: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def holder_row(conn: AsyncConnection, app_id: str, kind: str, name: str) -> Any:
    """The user (by username) or license (by key) holding bindings; *_NOT_FOUND otherwise."""
    await load_app(conn, app_id)
    if kind == "user":
        row = (
            await conn.execute(
                select(users.c.id, users.c.username.label("name")).where(
                    and_(users.c.app_id == app_id, users.c.username_norm == norm(trim(name)))
                )
            )
        ).first()
        if row is None:
            raise AdminError("USER_NOT_FOUND", "user not found in this app", ["username"])
        return row
    if kind == "license":
        row = (
            await conn.execute(
                select(licenses.c.id, licenses.c.key.label("name")).where(
                    and_(licenses.c.app_id == app_id, licenses.c.key == trim(name))
                )
            )
        ).first()
        if row is None:
            raise AdminError("LICENSE_NOT_FOUND", "license key not found in this app", ["key"])
        return row
    raise invalid("holder_kind", "holder kind must be user or license")


async def list_bindings(rt: Runtime, app_id: str, kind: str, name: str) -> list[BindingView]:
    """Every SID bound to one user or license, most recently seen first."""
    async with rt.db.read() as conn:
        holder = await holder_row(conn, app_id, kind, name)
        rows = (
            await conn.execute(
                select(bindings)
                .where(and_(bindings.c.holder_kind == kind, bindings.c.holder_id == holder.id))
                .order_by(bindings.c.last_seen_at.desc(), bindings.c.sid_norm)
            )
        ).all()
    return [
        BindingView(
            holder_kind=kind,
            holder=holder.name,
            sid=r.sid,
            first_seen_at=r.first_seen_at,
            last_seen_at=r.last_seen_at,
            last_ip=r.last_ip,
        )
        for r in rows
    ]


# -- client sessions ---------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    """A client session (B.13). `id` is the session id's first 8 characters: the full id is
    a bearer secret the server never stores."""

    id: str
    identity_kind: str  # user, license, device or none (after init only)
    identity: str | None  # username, key, or device id
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    state: str  # live, expired or ended
    end_reason: str | None
    ended_at: datetime | None
    client_ip: str
    client_version: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_IDENTITY_NAME = func.coalesce(users.c.username, licenses.c.key, devices.c.device_id)

SESSION_QUERY = (
    select(sessions, _IDENTITY_NAME.label("identity_name"))
    .outerjoin(
        users, and_(sessions.c.identity_kind == "user", users.c.id == sessions.c.identity_id)
    )
    .outerjoin(
        licenses,
        and_(sessions.c.identity_kind == "license", licenses.c.id == sessions.c.identity_id),
    )
    .outerjoin(
        devices,
        and_(sessions.c.identity_kind == "device", devices.c.id == sessions.c.identity_id),
    )
)


@dataclass(frozen=True)
class SessionLimits:
    """An app's session lifetime settings (client protocol 1.2)."""

    idle: timedelta
    max_lifetime: timedelta

    def expires(self, row: Row[Any]) -> datetime:
        return min(row.last_seen_at + self.idle, row.created_at + self.max_lifetime)  # type: ignore[no-any-return]


async def session_limits(conn: AsyncConnection, app_id: str) -> SessionLimits:
    app = await load_app(conn, app_id)
    return SessionLimits(
        idle=timedelta(seconds=app.session_idle_timeout),
        max_lifetime=timedelta(seconds=app.session_max_lifetime),
    )


def session_state_sql(state: str, now: datetime, limits: SessionLimits) -> ColumnElement[bool]:
    if state not in SESSION_STATES:
        raise invalid("state", "state must be one of " + ", ".join(SESSION_STATES))
    if state == "ended":
        return sessions.c.ended_at.is_not(None)
    live = and_(
        sessions.c.last_seen_at > now - limits.idle,
        sessions.c.created_at > now - limits.max_lifetime,
    )
    if state == "live":
        return and_(sessions.c.ended_at.is_(None), live)
    return and_(sessions.c.ended_at.is_(None), not_(live))


def session_view(row: Row[Any], now: datetime, limits: SessionLimits) -> SessionView:
    expires = limits.expires(row)
    state = "ended" if row.ended_at is not None else "live" if expires > now else "expired"
    return SessionView(
        id=row.prefix,
        identity_kind=row.identity_kind,
        identity=row.identity_name,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=expires,
        state=state,
        end_reason=row.end_reason or None if row.ended_at is not None else None,
        ended_at=row.ended_at,
        client_ip=row.client_ip,
        client_version=row.client_version,
    )


async def identity_id(conn: AsyncConnection, app_id: str, kind: str, name: str) -> str:
    """The id of the user, license or device named `name` (`type:id` for a device)."""
    if kind in ("user", "license"):
        return str((await holder_row(conn, app_id, kind, name)).id)
    if kind == "device":
        device_type, sep, ident = name.partition(":")
        if not sep:
            raise invalid("identity", "a device identity is written type:id")
        kind_name = check_device_type(device_type, "identity")
        row = (
            await conn.execute(
                select(devices.c.id).where(
                    and_(
                        devices.c.app_id == app_id,
                        devices.c.device_type == kind_name,
                        devices.c.device_id_norm == norm(trim(ident)),
                    )
                )
            )
        ).first()
        if row is None:
            raise AdminError("DEVICE_NOT_FOUND", f"{kind_name} not found in this app", ["identity"])
        return str(row.id)
    raise invalid("identity_kind", "identity kind must be user, license or device")


async def list_sessions(
    rt: Runtime,
    app_id: str,
    *,
    state: str | None = None,
    identity_kind: str | None = None,
    identity: str | None = None,
    cursor: str | None = None,
    limit: int | None = paging.DEFAULT_LIMIT,
    signed_in: bool = False,
) -> paging.Page[SessionView]:
    """Newest first. `identity_kind` alone filters by kind; with `identity` (a username, a
    key, or `type:id` for a device) it names one identity (*_NOT_FOUND when unknown).
    `signed_in` leaves out the sessions that only ran init (kind `none`: app starts)."""
    now = rt.clock()
    size = paging.check_limit(limit)
    if identity and not identity_kind:
        raise invalid("identity_kind", "give identity_kind with identity")
    if identity_kind and identity_kind not in IDENTITY_KINDS:
        raise invalid("identity_kind", "identity kind must be user, license, device or none")
    clauses: list[ColumnElement[bool]] = [sessions.c.app_id == app_id]
    page = paging.after(
        paging.decode_cursor("session", cursor), sessions.c.created_at, sessions.c.id_hash
    )
    if page is not None:
        clauses.append(page)
    async with rt.db.read() as conn:
        limits = await session_limits(conn, app_id)
        if state:
            clauses.append(session_state_sql(state, now, limits))
        if signed_in and not identity_kind:
            clauses.append(sessions.c.identity_kind != "none")
        if identity_kind:
            clauses.append(sessions.c.identity_kind == identity_kind)
            if identity and identity_kind != "none":
                ident = await identity_id(conn, app_id, identity_kind, identity)
                clauses.append(sessions.c.identity_id == ident)
        query = SESSION_QUERY.where(and_(*clauses)).order_by(
            sessions.c.created_at.desc(), sessions.c.id_hash.desc()
        )
        if size is not None:
            query = query.limit(size + 1)
        rows = list((await conn.execute(query)).all())
    items, next_cursor = _page_of("session", rows, size, "created_at", "id_hash")
    return paging.Page(items=[session_view(r, now, limits) for r in items], next_cursor=next_cursor)
