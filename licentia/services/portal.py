"""The end-user self-service portal (management B.22; issue #4 item 5).

A web page per app where the app's end users see their subscription, expiry and bound
devices, reset their HWID themselves within the vendor's limits, and change their password.
The rules live here; `licentia/web/portal.py` only reads forms and renders pages.

Terms:

* **portal app**: an app whose `user_panel_enabled` setting is on, that is itself enabled and
  whose owner is active. Any other app (or an unknown id) does not exist for the portal.
* **holder**: who signed in: a `user` (username and password, checked with the same argon2id
  hashes as the client API's `login`) or a key-only `license` (the key alone). A key that an
  account redeemed (`used`) signs in through that account's username instead.
* **portal session**: one signed-in browser of one app. The cookie carries 256 random bits;
  the database keeps only their SHA-256 (`portal_sessions`). A session ends after
  `SESSION_IDLE` without a request or `SESSION_LIFETIME` after sign-in.
* **lockout**: sign-ins are counted before they are checked, per name at one address, per
  address and, far higher, per name from everywhere (`portal_guard`), so a stranger cannot
  lock a real user out from elsewhere and simultaneous guesses cannot pass the limits.
* **self-service reset**: the vendor's own HWID reset (`admin_sessions.reset_bindings` for a
  user, `admin_licenses.reset_license_hwid` for a key) plus ending the holder's client
  sessions, allowed while at least `hwid_reset_cooldown` seconds passed since the holder's last
  portal reset and fewer than `hwid_reset_max_per_30_days` portal resets happened in the last
  30 days. The check, the reset, its `portal_resets` row and its audit entry (actor kind and
  face `portal`, capability `portal.reset_hwid`) are one write transaction, with the holder's
  row locked on PostgreSQL, so two resets at once cannot both pass the limits.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.domain.timeutil import iso_z
from licentia.services import audit, portal_guard, views_licenses, views_users
from licentia.services.admin_common import AdminError, end_sessions, norm, trim
from licentia.services.admin_identities import reset_user_password
from licentia.services.admin_licenses import reset_license_hwid
from licentia.services.admin_sessions import reset_bindings
from licentia.services.attempts import Reservation
from licentia.services.audit import Actor
from licentia.services.portal_guard import (  # noqa: F401 (the lockout terms live there)
    LOCK_FAILURES,
    LOCK_FAILURES_IP,
    LOCK_FAILURES_NAME,
    LOCK_WINDOW,
    LOCKED,
)
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    accounts,
    apps,
    bindings,
    licenses,
    portal_resets,
    portal_sessions,
    portal_signin_failures,
    users,
)

SESSION_IDLE = timedelta(minutes=30)
SESSION_LIFETIME = timedelta(hours=8)
#: `last_seen_at` is written at most this often, so reading pages does not write every time.
TOUCH_INTERVAL = timedelta(minutes=1)


#: The window of `hwid_reset_max_per_30_days`.
RESET_WINDOW = timedelta(days=30)
#: How many of the holder's own resets the portal shows.
RECENT_RESETS = 10
#: The end reason of the client sessions a self-service reset ends.
END_REASON = "hwid_reset"

FACE = "portal"
KINDS = ("user", "license")
PASSWORD_MAX = 256
KEY_MAX = 128
NAME_MAX = 64

#: The one refusal of a failed username sign-in: it must not tell whether the name exists.
BAD_CREDENTIALS = "Wrong username or password."
BAD_KEY = "This license key is not valid here."
KEY_REDEEMED = "This key was redeemed by an account: sign in with its username and password."


@dataclass(frozen=True)
class PortalApp:
    """An app with its portal on, and the limits of its self-service resets."""

    id: str
    name: str
    owner_account_id: str
    reset_cooldown: int  # seconds
    max_resets_30d: int
    allow_password_change: bool


@dataclass(frozen=True)
class PortalSession:
    id_hash: str
    app_id: str
    kind: str  # user|license
    identity_id: str
    name: str  # username or license key
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    ip: str


@dataclass(frozen=True)
class SignIn:
    """`token` is the new cookie value."""

    token: str
    session: PortalSession


@dataclass(frozen=True)
class Device:
    sid: str
    first_seen_at: datetime
    last_seen_at: datetime
    last_ip: str  # partly masked


@dataclass(frozen=True)
class Reset:
    at: datetime
    ip: str  # partly masked


@dataclass(frozen=True)
class ResetAllowance:
    """Whether a self-service reset is allowed now; else why, and from when (if ever)."""

    allowed: bool
    reason: str
    code: str
    next_at: datetime | None
    used_30d: int
    max_30d: int
    cooldown: int


@dataclass(frozen=True)
class Overview:
    """What the signed-in holder sees."""

    kind: str
    name: str
    subscription: str
    state: str  # active, unused, banned, paused or expired
    ban_reason: str
    expiry: datetime | None  # None = lifetime (or, for an unused key, see `starts_on_use`)
    starts_on_use: bool  # an unused duration key: its term starts at first use
    term_days: int | None  # that term
    device_limit: int
    devices: list[Device]
    resets: list[Reset]
    allowance: ResetAllowance
    allow_password_change: bool


@dataclass(frozen=True)
class ResetDone:
    removed: int  # bound SIDs removed
    sessions_ended: int


def portal_actor(kind: str, name: str, ip: str, request_id: str = "") -> Actor:
    """The audit actor of a portal action: kind and face `portal`, the holder as the name."""
    return Actor(kind="portal", name=f"{kind}:{name}", face=FACE, ip=ip, request_id=request_id)


def mask_ip(value: str) -> str:
    """An address with its host part hidden: `203.0.113.*`, `2001:db8:1:*`."""
    if not value:
        return ""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return "*"
    if isinstance(ip, ipaddress.IPv4Address):
        return ".".join(str(ip).split(".")[:3]) + ".*"
    groups = ip.exploded.split(":")[:3]
    return ":".join(g.lstrip("0") or "0" for g in groups) + ":*"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clip(value: str, size: int) -> str:
    return value[:size]


def csrf_ok(session: PortalSession, given: str | None) -> bool:
    """Constant-time check of a form's CSRF token."""
    if not given:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), given.encode())


# -- the app -----------------------------------------------------------------------------


def _missing() -> AdminError:
    return AdminError("APP_NOT_FOUND", "No such portal.")


async def _portal_app(conn: AsyncConnection, app_id: str) -> PortalApp:
    if not app_id or len(app_id) > 64:
        raise _missing()
    row = (
        await conn.execute(
            select(
                apps.c.id,
                apps.c.name,
                apps.c.owner_account_id,
                apps.c.is_enabled,
                apps.c.user_panel_enabled,
                apps.c.hwid_reset_cooldown,
                apps.c.hwid_reset_max_per_30_days,
                apps.c.allow_password_change,
                accounts.c.status.label("owner_status"),
            )
            .join(accounts, accounts.c.id == apps.c.owner_account_id)
            .where(apps.c.id == app_id)
        )
    ).first()
    if (
        row is None
        or not row.is_enabled
        or not row.user_panel_enabled
        or row.owner_status != "active"
    ):
        raise _missing()
    return PortalApp(
        id=row.id,
        name=row.name,
        owner_account_id=row.owner_account_id,
        reset_cooldown=int(row.hwid_reset_cooldown),
        max_resets_30d=int(row.hwid_reset_max_per_30_days),
        allow_password_change=bool(row.allow_password_change),
    )


async def portal_app(rt: Runtime, app_id: str) -> PortalApp:
    """The app of a portal URL; APP_NOT_FOUND unless its portal is on (see the module doc)."""
    async with rt.db.read() as conn:
        return await _portal_app(conn, app_id)


# -- sessions ----------------------------------------------------------------------------


async def _start_session(
    rt: Runtime,
    app: PortalApp,
    kind: str,
    identity_id: str,
    name: str,
    *,
    ip: str,
    user_agent: str,
    sign_in_name: str,
    reservation: Reservation,
) -> SignIn:
    token = secrets.token_urlsafe(32)
    now = rt.clock()
    session = PortalSession(
        id_hash=_digest(token),
        app_id=app.id,
        kind=kind,
        identity_id=identity_id,
        name=name,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        ip=_clip(ip, 64),
    )
    async with rt.db.write() as conn:
        await portal_guard.succeeded(conn, reservation, app.id, kind, sign_in_name, ip)
        await conn.execute(
            portal_sessions.insert().values(
                id_hash=session.id_hash,
                app_id=app.id,
                identity_kind=kind,
                identity_id=identity_id,
                csrf_token=session.csrf_token,
                created_at=now,
                last_seen_at=now,
                expires_at=session.expires_at,
                ip=session.ip,
                user_agent=_clip(user_agent, 256),
            )
        )
        await audit.record_as(
            conn,
            portal_actor(kind, name, ip),
            now=now,
            owner_account_id=app.owner_account_id,
            capability="portal.sign_in",
            target_type=kind,
            target=name,
            app_id=app.id,
        )
    return SignIn(token=token, session=session)


async def sign_in_user(
    rt: Runtime, app: PortalApp, username: str, password: str, *, ip: str, user_agent: str = ""
) -> SignIn:
    """Username and password, the attempt counted before the password is checked. Refusals:
    `RATE_LIMITED` while locked (nothing is checked), `INVALID_CREDENTIALS` for an unknown
    name or a wrong password (one message, and the same work: an unknown name costs one argon2
    verification of a dummy hash and one audit write like a known one). Sign-ins and failed
    ones are audited (`portal.sign_in`, result `ok` or `INVALID_CREDENTIALS`; the target is
    empty for an unknown name)."""
    name = norm(trim(username))
    row = None
    if 0 < len(name) <= NAME_MAX:
        async with rt.db.read() as conn:
            row = (
                await conn.execute(
                    select(users.c.id, users.c.username, users.c.password_hash).where(
                        and_(users.c.app_id == app.id, users.c.username_norm == name)
                    )
                )
            ).first()
    reservation = await portal_guard.reserve(rt, app.id, "user", username, ip)
    good = bool(password) and len(password) <= PASSWORD_MAX
    stored = row.password_hash if row is not None else None
    good = await rt.passwords.verify(stored, password[:PASSWORD_MAX]) and good
    if not good or row is None:
        # The vendor sees password guessing against a real user; an unknown name costs the
        # same write, naming nobody (the typed name may be a password typed in the wrong box).
        await audit.record_standalone(
            rt,
            portal_actor("user", row.username if row is not None else "", ip),
            owner_account_id=app.owner_account_id,
            capability="portal.sign_in",
            result="INVALID_CREDENTIALS",
            target_type="user",
            target=row.username if row is not None else "",
            app_id=app.id,
        )
        raise AdminError("INVALID_CREDENTIALS", BAD_CREDENTIALS, ["username", "password"])
    return await _start_session(
        rt,
        app,
        "user",
        row.id,
        row.username,
        ip=ip,
        user_agent=user_agent,
        sign_in_name=username,
        reservation=reservation,
    )


async def sign_in_license(
    rt: Runtime, app: PortalApp, key: str, *, ip: str, user_agent: str = ""
) -> SignIn:
    """A license key alone. Refusals: `RATE_LIMITED` while locked, `INVALID_CREDENTIALS` for
    an unknown key, `LICENSE_IN_USE` for a key an account redeemed (sign in as the account)."""
    reservation = await portal_guard.reserve(rt, app.id, "license", "", ip)
    text = trim(key)
    row = None
    if 0 < len(text) <= KEY_MAX:
        async with rt.db.read() as conn:
            row = (
                await conn.execute(
                    select(licenses.c.id, licenses.c.key, licenses.c.status).where(
                        and_(licenses.c.app_id == app.id, licenses.c.key == text)
                    )
                )
            ).first()
    if row is None:
        raise AdminError("INVALID_CREDENTIALS", BAD_KEY, ["key"])
    if row.status == "used":
        await portal_guard.release(rt, reservation)
        raise AdminError("LICENSE_IN_USE", KEY_REDEEMED, ["key"])
    return await _start_session(
        rt,
        app,
        "license",
        row.id,
        row.key,
        ip=ip,
        user_agent=user_agent,
        sign_in_name="",
        reservation=reservation,
    )


async def _holder_name(conn: AsyncConnection, kind: str, identity_id: str) -> str | None:
    if kind == "user":
        return (
            await conn.execute(select(users.c.username).where(users.c.id == identity_id))
        ).scalar_one_or_none()
    row = (
        await conn.execute(
            select(licenses.c.key, licenses.c.status).where(licenses.c.id == identity_id)
        )
    ).first()
    return row.key if row is not None and row.status != "used" else None


async def load_session(
    rt: Runtime, app_id: str, token: str | None, *, ip: str = ""
) -> PortalSession | None:
    """The live session of a cookie value in this app, or None.

    Expired and idle sessions, and those whose holder is gone (or whose key was redeemed by
    an account since), are deleted on sight.
    """
    if not token or len(token) > 128:
        return None
    id_hash = _digest(token)
    now = rt.clock()
    async with rt.db.read() as conn:
        row = (
            await conn.execute(select(portal_sessions).where(portal_sessions.c.id_hash == id_hash))
        ).first()
        name = await _holder_name(conn, row.identity_kind, row.identity_id) if row else None
    if row is None or row.app_id != app_id:
        return None
    if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now or name is None:
        async with rt.db.write() as conn:
            await conn.execute(portal_sessions.delete().where(portal_sessions.c.id_hash == id_hash))
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL or (ip and ip != row.ip):
        async with rt.db.write() as conn:
            await conn.execute(
                update(portal_sessions)
                .where(portal_sessions.c.id_hash == id_hash)
                .values(last_seen_at=now, ip=_clip(ip or row.ip, 64))
            )
    return PortalSession(
        id_hash=row.id_hash,
        app_id=row.app_id,
        kind=row.identity_kind,
        identity_id=row.identity_id,
        name=name,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ip=_clip(ip or row.ip, 64),
    )


async def sign_out(rt: Runtime, session: PortalSession) -> None:
    async with rt.db.write() as conn:
        await conn.execute(
            portal_sessions.delete().where(portal_sessions.c.id_hash == session.id_hash)
        )


# -- what the holder sees ----------------------------------------------------------------


async def _resets_since(
    conn: AsyncConnection, kind: str, identity_id: str, since: datetime
) -> list[Any]:
    return list(
        (
            await conn.execute(
                select(portal_resets.c.created_at, portal_resets.c.ip)
                .where(
                    and_(
                        portal_resets.c.identity_kind == kind,
                        portal_resets.c.identity_id == identity_id,
                        portal_resets.c.created_at > since,
                    )
                )
                .order_by(portal_resets.c.created_at.desc(), portal_resets.c.id.desc())
            )
        ).all()
    )


def _when(value: datetime) -> str:
    return iso_z(value).replace("T", " ").replace("Z", " UTC")


def allowance(
    app: PortalApp, recent: list[Any], now: datetime, *, blocked_state: str = ""
) -> ResetAllowance:
    """Whether a reset is allowed now, from the holder's resets of the last 30 days (newest
    first) and its state (`banned`/`paused` block)."""
    used = len(recent)

    def refuse(code: str, reason: str, next_at: datetime | None) -> ResetAllowance:
        return ResetAllowance(
            False, reason, code, next_at, used, app.max_resets_30d, app.reset_cooldown
        )

    if blocked_state:
        return refuse(
            "IDENTITY_BLOCKED", f"Your access is {blocked_state}: the HWID cannot be reset.", None
        )
    if app.max_resets_30d <= 0:
        return refuse("HWID_RESET_LIMIT", "This app does not allow self-service HWID resets.", None)
    if recent and app.reset_cooldown > 0:
        next_at = recent[0].created_at + timedelta(seconds=app.reset_cooldown)
        if next_at > now:
            return refuse(
                "HWID_RESET_COOLDOWN",
                f"You reset your HWID recently. The next reset is possible from {_when(next_at)}.",
                next_at,
            )
    if used >= app.max_resets_30d:
        # The oldest reset that must leave the window before one more fits in it.
        next_at = recent[app.max_resets_30d - 1].created_at + RESET_WINDOW
        return refuse(
            "HWID_RESET_LIMIT",
            f"You used all {app.max_resets_30d} HWID resets of the last 30 days. "
            f"The next reset is possible from {_when(next_at)}.",
            next_at,
        )
    return ResetAllowance(True, "", "", None, used, app.max_resets_30d, app.reset_cooldown)


async def overview(rt: Runtime, app: PortalApp, session: PortalSession) -> Overview:
    now = rt.clock()
    if session.kind == "user":
        user = await views_users.get_user(rt, app.id, session.name)
        subscription, state, expiry = user.subscription, user.state, user.expiry_date
        ban_reason, device_limit, starts_on_use = user.ban_reason, user.device_limit, False
        term_days = None
    else:
        lic = await views_licenses.get_license(rt, app.id, session.name)
        subscription, state, expiry = lic.subscription, lic.state, lic.expiry_date
        ban_reason, device_limit = lic.ban_reason, lic.device_limit
        starts_on_use = lic.status == "unused" and lic.fixed_expiry is None
        term_days = lic.duration_days or None
        if starts_on_use:
            expiry = None  # not running yet: the page shows the term instead
    bound = await views_users.list_bindings(rt, app.id, session.kind, session.name)
    async with rt.db.read() as conn:
        recent = await _resets_since(conn, session.kind, session.identity_id, now - RESET_WINDOW)
        shown = (
            await conn.execute(
                select(portal_resets.c.created_at, portal_resets.c.ip)
                .where(
                    and_(
                        portal_resets.c.identity_kind == session.kind,
                        portal_resets.c.identity_id == session.identity_id,
                    )
                )
                .order_by(portal_resets.c.created_at.desc(), portal_resets.c.id.desc())
                .limit(RECENT_RESETS)
            )
        ).all()
    blocked = state if state in ("banned", "paused") else ""
    return Overview(
        kind=session.kind,
        name=session.name,
        subscription=subscription,
        state=state,
        ban_reason=ban_reason if state == "banned" else "",
        expiry=expiry,
        starts_on_use=starts_on_use,
        term_days=term_days,
        device_limit=device_limit,
        devices=[Device(b.sid, b.first_seen_at, b.last_seen_at, mask_ip(b.last_ip)) for b in bound],
        resets=[Reset(r.created_at, mask_ip(r.ip)) for r in shown],
        allowance=allowance(app, recent, now, blocked_state=blocked),
        allow_password_change=app.allow_password_change and session.kind == "user",
    )


# -- self-service actions ----------------------------------------------------------------


async def _locked_holder(conn: AsyncConnection, app_id: str, session: PortalSession) -> Any:
    """The holder's row, locked until the transaction ends (PostgreSQL; SQLite's write
    transactions are serial anyway)."""
    table = users if session.kind == "user" else licenses
    row = (
        await conn.execute(
            select(table.c.id, table.c.banned, table.c.paused)
            .where(and_(table.c.id == session.identity_id, table.c.app_id == app_id))
            .with_for_update()
        )
    ).first()
    if row is None:
        raise AdminError(f"{session.kind.upper()}_NOT_FOUND", "Your access no longer exists.")
    return row


async def reset_hwid(
    rt: Runtime, app_id: str, session: PortalSession, *, ip: str, request_id: str = ""
) -> ResetDone:
    """The holder's self-service HWID reset (see the module doc). Refusals change nothing:
    `APP_NOT_FOUND` (portal turned off meanwhile), `IDENTITY_BLOCKED` (banned or paused),
    `HWID_RESET_COOLDOWN` and `HWID_RESET_LIMIT` (with the time of the next allowed reset)."""
    now = rt.clock()
    async with rt.db.write() as conn:
        app = await _portal_app(conn, app_id)  # the limits as of now, not as of sign-in
        holder = await _locked_holder(conn, app.id, session)
        blocked = "banned" if holder.banned else "paused" if holder.paused else ""
        recent = await _resets_since(conn, session.kind, holder.id, now - RESET_WINDOW)
        verdict = allowance(app, recent, now, blocked_state=blocked)
        if not verdict.allowed:
            raise AdminError(verdict.code, verdict.reason)
        bound = (
            await conn.execute(
                select(func.count())
                .select_from(bindings)
                .where(
                    and_(bindings.c.holder_kind == session.kind, bindings.c.holder_id == holder.id)
                )
            )
        ).scalar_one()
        # The vendor's own reset services (REST `user.reset_hwid` / `license.reset_hwid`).
        if session.kind == "user":
            removed = await reset_bindings(rt, app.id, "user", session.name)
        else:
            removed = await reset_license_hwid(rt, app.id, session.name)
        ended = await end_sessions(conn, session.kind, holder.id, END_REASON, now)
        await conn.execute(
            portal_resets.insert().values(
                app_id=app.id,
                identity_kind=session.kind,
                identity_id=holder.id,
                identity_name=_clip(session.name, 128),
                created_at=now,
                ip=_clip(ip, 64),
            )
        )
        await audit.record_as(
            conn,
            portal_actor(session.kind, session.name, ip, request_id),
            now=now,
            owner_account_id=app.owner_account_id,
            capability="portal.reset_hwid",
            target_type=session.kind,
            target=session.name,
            changes={
                "bound_devices": [int(bound), 0],
                "sessions_ended": [None, ended],
                "resets_30d": [verdict.used_30d, verdict.used_30d + 1],
            },
            app_id=app.id,
        )
    return ResetDone(removed=removed, sessions_ended=ended)


async def change_password(
    rt: Runtime,
    app_id: str,
    session: PortalSession,
    current: str,
    new: str,
    *,
    ip: str,
    request_id: str = "",
) -> None:
    """A user's own password change, when the app's `allow_password_change` is on: the
    current password, then the vendor's password reset (which ends the user's client
    sessions); the user's other portal sessions end too. `INVALID_PASSWORD` for a wrong
    current password (counted as a failed sign-in for the lockout)."""
    app = await portal_app(rt, app_id)
    if session.kind != "user" or not app.allow_password_change:
        raise AdminError("PERMISSION_DENIED", "This app does not allow password changes here.")
    async with rt.db.read() as conn:
        stored = (
            await conn.execute(
                select(users.c.password_hash).where(users.c.id == session.identity_id)
            )
        ).scalar_one_or_none()
    reservation = await portal_guard.reserve(rt, app.id, "user", session.name, ip)
    if not await rt.passwords.verify(stored, current[:PASSWORD_MAX]) or not current:
        raise AdminError("INVALID_PASSWORD", "The current password is wrong.", ["current_password"])
    async with rt.db.write() as conn:
        await portal_guard.succeeded(conn, reservation, app.id, "user", session.name, ip)
    if new == current:
        raise AdminError(
            "INVALID_INPUT", "The new password must differ from the current one.", ["new_password"]
        )
    async with rt.db.write() as conn:
        await reset_user_password(rt, app.id, session.name, new)
        await conn.execute(
            portal_sessions.delete().where(
                and_(
                    portal_sessions.c.identity_kind == "user",
                    portal_sessions.c.identity_id == session.identity_id,
                    portal_sessions.c.id_hash != session.id_hash,
                )
            )
        )
        await audit.record_as(
            conn,
            portal_actor("user", session.name, ip, request_id),
            now=rt.clock(),
            owner_account_id=app.owner_account_id,
            capability="portal.change_password",
            target_type="user",
            target=session.name,
            changes={"password": ["", ""]},
            app_id=app.id,
        )


# -- maintenance -------------------------------------------------------------------------


async def purge(rt: Runtime) -> int:
    """Delete ended portal sessions and sign-in failures older than the lockout window; how
    many rows. The `portal_resets` rows stay (the vendor's record; they go with their app)."""
    now = rt.clock()
    async with rt.db.write() as conn:
        ended = await conn.execute(
            portal_sessions.delete().where(
                or_(
                    portal_sessions.c.expires_at <= now,
                    portal_sessions.c.last_seen_at <= now - SESSION_IDLE,
                )
            )
        )
        old = await conn.execute(
            delete(portal_signin_failures).where(
                portal_signin_failures.c.created_at <= now - LOCK_WINDOW
            )
        )
    return int(ended.rowcount or 0) + int(old.rowcount or 0)
