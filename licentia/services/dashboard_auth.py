"""Dashboard sign-in: sessions, lockout, TOTP, password changes and app access (issue #4).

The dashboard is a face like the REST API and the CLI; this module holds the account-level
security rules it needs so that no rule lives in a template or a route.

Terms:

* **dashboard session**: one signed-in browser. The cookie carries 256 random bits (URL-safe
  base64); the database keeps only their SHA-256, so a copy of the table cannot be turned back
  into cookies. Each session has its own CSRF token, sent back in every form and htmx request.
  A session is `totp` between the password step and the second factor, `full` afterwards; the
  id changes when it becomes `full` (no session fixation).
* **lockout**: failed sign-ins (wrong password or wrong TOTP code) are counted first, then
  checked, in per-address, per-name-at-address and account-wide buckets; a known device (a
  browser that signed in before) is exempt from the account-wide one (`dashboard_guard`).
  The refusal says only "try again later".
* **TOTP**: RFC 6238 with SHA-1, 6 digits and 30-second steps, accepting one step either side
  for clock drift; a step once accepted is never accepted again for the same account. The
  secret is encrypted with the master key (`SecretBox`, purpose `totp-secret`).

Every change is written to the audit log with face `dashboard` and actor kind `account`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Row, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import audit, dashboard_guard, principals
from licentia.services.admin_common import AdminError, invalid
from licentia.services.audit import Actor
from licentia.services.dashboard_guard import (  # noqa: F401 (the lockout terms live there)
    LOCK_FAILURES,
    LOCK_FAILURES_ACCOUNT,
    LOCK_FAILURES_IP,
    LOCK_WINDOW,
    LOCKED,
)
from licentia.services.runtime import Runtime
from licentia.store.tables import (
    accounts,
    apps,
    dashboard_sessions,
    dashboard_signin_failures,
    dashboard_totp_steps,
    staff_members,
)

#: How long a session lives at most, and how long it may sit unused.
SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
#: How long the second-factor step may take after the password step.
TOTP_STAGE_LIFETIME = timedelta(minutes=5)
#: `last_seen_at` is written at most this often, so reading pages does not write every time.
TOUCH_INTERVAL = timedelta(minutes=1)


TOTP_PURPOSE = "totp-secret"
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_DRIFT_STEPS = 1
TOTP_ISSUER = "Licentia"

PASSWORD_MIN = 8
PASSWORD_MAX = 256

FACE = "dashboard"
#: The one refusal of a failed sign-in: it must not tell whether the name exists.
BAD_CREDENTIALS = "Wrong username or password."


@dataclass(frozen=True)
class DashAccount:
    """The signed-in account as the dashboard needs it."""

    id: str
    username: str
    public_id: str
    owner_id: str | None
    status: str
    must_change_password: bool
    totp_enabled: bool

    @property
    def is_owner(self) -> bool:
        return bool(self.owner_id)


@dataclass(frozen=True)
class DashSession:
    id_hash: str
    account: DashAccount
    stage: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    ip: str
    user_agent: str
    totp_pending: bool

    def actor(self, request_id: str = "") -> Actor:
        return account_actor(self.account.id, self.ip, request_id)


@dataclass(frozen=True)
class SignInResult:
    """`token` is the new cookie value; `stage` is `full`, or `totp` when a code is due."""

    token: str
    stage: str
    session: DashSession
    #: The known-device cookie value (`dashboard_guard`), set after a `full` sign-in.
    device: str = ""


@dataclass(frozen=True)
class TotpSetup:
    """A secret being set up: shown once as base32 and as an `otpauth://` URI."""

    secret: str
    uri: str


def account_actor(account_id: str, ip: str, request_id: str = "") -> Actor:
    return Actor(kind="account", name=account_id, face=FACE, ip=ip, request_id=request_id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _clip(value: str, size: int) -> str:
    return value[:size]


def csrf_ok(session: DashSession, given: str | None) -> bool:
    """Constant-time check of a form's or htmx header's CSRF token."""
    if not given:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), given.encode())


# -- TOTP (RFC 6238) ---------------------------------------------------------------------


def new_totp_secret() -> str:
    """160 random bits as unpadded base32 (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _secret_bytes(secret_b32: str) -> bytes:
    text = secret_b32.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def totp_at(secret_b32: str, step: int) -> str:
    """The code of one time step (RFC 4226 dynamic truncation over HMAC-SHA1)."""
    digest = hmac.new(_secret_bytes(secret_b32), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**TOTP_DIGITS).zfill(TOTP_DIGITS)


def totp_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_STEP_SECONDS


def totp_match(secret_b32: str, code: str, now: datetime, *, after: int = -1) -> int | None:
    """The step whose code equals `code` (within the drift, later than `after`), or None.

    Every candidate is compared in constant time so timing tells nothing about near misses.
    """
    given = "".join(code.split())
    if len(given) != TOTP_DIGITS or not given.isdigit():
        return None
    current = totp_step(now)
    found: int | None = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp_at(secret_b32, step), given) and step > after:
            found = step
    return found


def totp_uri(secret_b32: str, username: str) -> str:
    label = quote(f"{TOTP_ISSUER}:{username}")
    return f"otpauth://totp/{label}?secret={secret_b32}&issuer={TOTP_ISSUER}&digits=6&period=30"


# -- loading -----------------------------------------------------------------------------


def _account(row: Any, account_id: str) -> DashAccount:
    """From an `accounts` row, or a session row joined with its account's columns."""
    return DashAccount(
        id=account_id,
        username=row.username,
        public_id=row.public_id,
        owner_id=row.owner_id,
        status=row.status,
        must_change_password=bool(row.must_change_password),
        totp_enabled=row.totp_secret_enc is not None,
    )


_SESSION_QUERY = select(
    dashboard_sessions,
    accounts.c.username,
    accounts.c.public_id,
    accounts.c.owner_id,
    accounts.c.status,
    accounts.c.must_change_password,
    accounts.c.totp_secret_enc,
).join(accounts, accounts.c.id == dashboard_sessions.c.account_id)


def _session(row: Row[Any]) -> DashSession:
    return DashSession(
        id_hash=row.id_hash,
        account=_account(row, row.account_id),
        stage=row.stage,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        expires_at=row.expires_at,
        ip=row.ip,
        user_agent=row.user_agent,
        totp_pending=row.totp_pending_enc is not None,
    )


async def _load(conn: AsyncConnection, id_hash: str) -> Row[Any] | None:
    return (
        await conn.execute(_SESSION_QUERY.where(dashboard_sessions.c.id_hash == id_hash))
    ).first()


async def load_session(
    rt: Runtime, token: str | None, *, ip: str = "", stage: str = "full"
) -> DashSession | None:
    """The live session of a cookie value in the given stage, or None.

    Expired, idle and unknown sessions, and sessions of suspended accounts, are None; an
    expired row is deleted on sight. `ip` becomes the session's current address.
    """
    if not token or len(token) > 128:
        return None
    id_hash = _digest(token)
    now = rt.clock()
    async with rt.db.read() as conn:
        row = await _load(conn, id_hash)
    if row is None or row.stage != stage:
        return None
    idle_limit = TOTP_STAGE_LIFETIME if row.stage == "totp" else SESSION_IDLE
    if row.expires_at <= now or row.last_seen_at + idle_limit <= now:
        async with rt.db.write() as conn:
            await conn.execute(
                dashboard_sessions.delete().where(dashboard_sessions.c.id_hash == id_hash)
            )
        return None
    if row.status != "active":
        return None
    session = _session(row)
    if now - row.last_seen_at >= TOUCH_INTERVAL or (ip and ip != row.ip):
        async with rt.db.write() as conn:
            await conn.execute(
                update(dashboard_sessions)
                .where(dashboard_sessions.c.id_hash == id_hash)
                .values(last_seen_at=now, ip=_clip(ip or row.ip, 64))
            )
        session = replace(session, ip=ip or row.ip)
    return session


async def _insert_session(
    conn: AsyncConnection,
    rt: Runtime,
    account_id: str,
    *,
    stage: str,
    ip: str,
    user_agent: str,
) -> tuple[str, str]:
    token = _new_token()
    id_hash = _digest(token)
    now = rt.clock()
    lifetime = TOTP_STAGE_LIFETIME if stage == "totp" else SESSION_LIFETIME
    await conn.execute(
        dashboard_sessions.insert().values(
            id_hash=id_hash,
            account_id=account_id,
            stage=stage,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            ip=_clip(ip, 64),
            user_agent=_clip(user_agent, 256),
        )
    )
    return token, id_hash


# -- lockout (services/dashboard_guard) -------------------------------------------------


def _subject(username: str) -> str:
    return dashboard_guard.subject(username)


# -- sign-in -----------------------------------------------------------------------------


def _audit_owner(account: DashAccount) -> str | None:
    """The owner whose audit log shows this account's own actions (owners: themselves)."""
    return account.id if account.is_owner else None


async def _audit(
    conn: AsyncConnection,
    rt: Runtime,
    account: DashAccount,
    who: Actor,
    capability: str,
    changes: dict[str, Any] | None = None,
    result: str = "ok",
) -> None:
    await audit.record_as(
        conn,
        who,
        now=rt.clock(),
        owner_account_id=_audit_owner(account),
        capability=capability,
        target_type="account",
        target=account.id,
        changes=changes,
        result=result,
    )


async def _mark_login(conn: AsyncConnection, rt: Runtime, account_id: str, ip: str) -> None:
    await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(last_login_at=rt.clock(), last_login_ip=_clip(ip, 64))
    )


async def sign_in(
    rt: Runtime,
    username: str,
    password: str,
    *,
    ip: str,
    user_agent: str = "",
    devices: Sequence[str] = (),
) -> SignInResult:
    """Check a username and password; a new session (`full`, or `totp` when a code is due).

    The attempt is counted before the password is checked (`dashboard_guard.reserve`), so
    simultaneous guesses cannot pass the lockout; `devices` are the browser's known-device
    cookies. Refusals: `RATE_LIMITED` while locked (nothing is checked), `INVALID_CREDENTIALS`
    for a wrong name or password (the same message, and the same work, either way: an unknown
    name costs one argon2 verification of a dummy hash and one audit entry like a known one),
    `ACCOUNT_SUSPENDED` for a suspended account with the right password.
    """
    name = _subject(username)
    async with rt.db.read() as conn:
        row = (await conn.execute(select(accounts).where(accounts.c.username_norm == name))).first()
    now = rt.clock()
    stored = row.password_hash if row is not None else None
    known = row is not None and dashboard_guard.is_known_device(
        rt, devices, row.id, stored or "", now
    )
    reservation = await dashboard_guard.reserve(rt, username, ip, known_device=known)
    good = bool(name) and bool(password) and len(password) <= PASSWORD_MAX
    good = await rt.passwords.verify(stored, password[:PASSWORD_MAX]) and good
    if good and row is not None and row.must_change_password:
        expires = row.temporary_password_expires_at
        good = expires is None or expires > now
    if not good or row is None:
        await _audit_failure(rt, row, ip, "INVALID_CREDENTIALS")
        raise AdminError("INVALID_CREDENTIALS", BAD_CREDENTIALS, ["username", "password"])
    account = _account(row, row.id)
    if account.status != "active":
        async with rt.db.write() as conn:
            await dashboard_guard.succeeded(conn, reservation, username, ip)
        raise AdminError("ACCOUNT_SUSPENDED", "This account is suspended.")
    stage = "totp" if account.totp_enabled else "full"
    async with rt.db.write() as conn:
        await dashboard_guard.succeeded(conn, reservation, username, ip)
        token, id_hash = await _insert_session(
            conn, rt, account.id, stage=stage, ip=ip, user_agent=user_agent
        )
        if stage == "full":
            await _mark_login(conn, rt, account.id, ip)
            await _audit(conn, rt, account, account_actor(account.id, ip), "owner.sign_in")
        session = _session(_require_row(await _load(conn, id_hash)))
    device = dashboard_guard.device_token(rt, account.id, row.password_hash, now)
    return SignInResult(
        token=token, stage=stage, session=session, device=device if stage == "full" else ""
    )


async def _audit_failure(rt: Runtime, row: Any, ip: str, result: str) -> None:
    """Audit a failed sign-in: of the account, or (same work, nothing named) of no account."""
    await audit.record_standalone(
        rt,
        account_actor(row.id if row is not None else "", ip),
        owner_account_id=row.id if row is not None and row.owner_id else None,
        capability="owner.sign_in",
        result=result,
        target_type="account",
        target=row.id if row is not None else "",
    )


def _require_row(row: Row[Any] | None) -> Row[Any]:
    if row is None:  # only after a concurrent sign-out everywhere
        raise AdminError("INVALID_CREDENTIALS", "The session has ended; sign in again.")
    return row


async def _totp_secret(conn: AsyncConnection, rt: Runtime, account_id: str) -> str | None:
    enc = (
        await conn.execute(select(accounts.c.totp_secret_enc).where(accounts.c.id == account_id))
    ).scalar_one_or_none()
    return rt.box.decrypt(enc, TOTP_PURPOSE).decode() if enc else None


async def _last_step(conn: AsyncConnection, account_id: str) -> int:
    value = (
        await conn.execute(
            select(dashboard_totp_steps.c.last_step).where(
                dashboard_totp_steps.c.account_id == account_id
            )
        )
    ).scalar_one_or_none()
    return int(value) if value is not None else -1


async def _use_step(conn: AsyncConnection, account_id: str, step: int) -> None:
    done = await conn.execute(
        update(dashboard_totp_steps)
        .where(dashboard_totp_steps.c.account_id == account_id)
        .values(last_step=step)
    )
    if not done.rowcount:
        await conn.execute(
            dashboard_totp_steps.insert().values(account_id=account_id, last_step=step)
        )


async def complete_totp(
    rt: Runtime, token: str | None, code: str, *, ip: str, devices: Sequence[str] = ()
) -> SignInResult:
    """The second sign-in step: a `totp` session and a right code become a new `full` one.

    A wrong code counts as a failed sign-in for the lockout (counted before the code is
    checked). A missing or stale `totp` session is `INVALID_CREDENTIALS` ("sign in again").
    """
    pending = await load_session(rt, token, ip=ip, stage="totp")
    if pending is None:
        raise AdminError("INVALID_CREDENTIALS", "The sign-in has expired; sign in again.")
    account = pending.account
    async with rt.db.read() as conn:
        secret = await _totp_secret(conn, rt, account.id)
        after = await _last_step(conn, account.id)
        stored = (
            await conn.execute(select(accounts.c.password_hash).where(accounts.c.id == account.id))
        ).scalar_one()
    now = rt.clock()
    known = dashboard_guard.is_known_device(rt, devices, account.id, stored, now)
    reservation = await dashboard_guard.reserve(
        rt, account.username, ip, known_device=known, totp_account=account.id
    )
    step = totp_match(secret, code, now, after=after) if secret else None
    if step is None:
        await audit.record_standalone(
            rt,
            account_actor(account.id, ip),
            owner_account_id=_audit_owner(account),
            capability="owner.sign_in",
            result="INVALID_TOTP",
            target_type="account",
            target=account.id,
        )
        raise AdminError("INVALID_TOTP", "Wrong or expired code.", ["code"])
    async with rt.db.write() as conn:
        await _use_step(conn, account.id, step)
        await conn.execute(
            dashboard_sessions.delete().where(dashboard_sessions.c.id_hash == pending.id_hash)
        )
        await dashboard_guard.succeeded(conn, reservation, account.username, ip)
        new_token, id_hash = await _insert_session(
            conn, rt, account.id, stage="full", ip=ip, user_agent=pending.user_agent
        )
        await _mark_login(conn, rt, account.id, ip)
        await _audit(conn, rt, account, account_actor(account.id, ip), "owner.sign_in")
        session = _session(_require_row(await _load(conn, id_hash)))
    device = dashboard_guard.device_token(rt, account.id, stored, now)
    return SignInResult(token=new_token, stage="full", session=session, device=device)


# -- signing out -------------------------------------------------------------------------


async def sign_out(rt: Runtime, session: DashSession, who: Actor) -> None:
    async with rt.db.write() as conn:
        await conn.execute(
            dashboard_sessions.delete().where(dashboard_sessions.c.id_hash == session.id_hash)
        )
        await _audit(conn, rt, session.account, who, "owner.sign_out")


async def sign_out_everywhere(rt: Runtime, session: DashSession, who: Actor) -> int:
    """End every dashboard session of the account, this one included; how many ended."""
    async with rt.db.write() as conn:
        result = await conn.execute(
            dashboard_sessions.delete().where(dashboard_sessions.c.account_id == session.account.id)
        )
        ended = int(result.rowcount or 0)
        await _audit(
            conn, rt, session.account, who, "owner.sign_out_everywhere", {"sessions": [ended, 0]}
        )
    return ended


# -- password ----------------------------------------------------------------------------


def check_new_password(password: str, field: str = "new_password") -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise invalid(field, f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.")


async def change_password(
    rt: Runtime, session: DashSession, current: str, new: str, who: Actor
) -> None:
    """Change the account's own password (B.1 `change_password`).

    Needs the current password; clears `must_change_password`; ends the account's other
    dashboard sessions (whoever else held one must sign in again).
    """
    check_new_password(new)
    if new == current:
        raise invalid("new_password", "The new password must differ from the current one.")
    async with rt.db.read() as conn:
        stored = (
            await conn.execute(
                select(accounts.c.password_hash).where(accounts.c.id == session.account.id)
            )
        ).scalar_one()
    if not await rt.passwords.verify(stored, current[:PASSWORD_MAX]):
        raise AdminError("INVALID_PASSWORD", "The current password is wrong.", ["current_password"])
    new_hash = await rt.passwords.hash(new)
    async with rt.db.write() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == session.account.id)
            .values(
                password_hash=new_hash,
                must_change_password=False,
                temporary_password_expires_at=None,
            )
        )
        await conn.execute(
            dashboard_sessions.delete().where(
                and_(
                    dashboard_sessions.c.account_id == session.account.id,
                    dashboard_sessions.c.id_hash != session.id_hash,
                )
            )
        )
        await _audit(
            conn, rt, session.account, who, "owner.change_password", {"password": ["", ""]}
        )


# -- TOTP on and off ---------------------------------------------------------------------


async def start_totp(rt: Runtime, session: DashSession) -> TotpSetup:
    """A fresh secret, kept (encrypted) with this session until `enable_totp` confirms it."""
    if session.account.totp_enabled:
        raise AdminError("ALREADY_EXISTS", "Two-factor sign-in is already on.")
    secret = new_totp_secret()
    async with rt.db.write() as conn:
        await conn.execute(
            update(dashboard_sessions)
            .where(dashboard_sessions.c.id_hash == session.id_hash)
            .values(totp_pending_enc=rt.box.encrypt(secret.encode(), TOTP_PURPOSE))
        )
    return TotpSetup(secret=secret, uri=totp_uri(secret, session.account.username))


async def pending_totp(rt: Runtime, session: DashSession) -> TotpSetup | None:
    """The secret being set up in this session, to show it again after a wrong code."""
    async with rt.db.read() as conn:
        enc = (
            await conn.execute(
                select(dashboard_sessions.c.totp_pending_enc).where(
                    dashboard_sessions.c.id_hash == session.id_hash
                )
            )
        ).scalar_one_or_none()
    if not enc:
        return None
    secret = rt.box.decrypt(enc, TOTP_PURPOSE).decode()
    return TotpSetup(secret=secret, uri=totp_uri(secret, session.account.username))


async def enable_totp(rt: Runtime, session: DashSession, code: str, who: Actor) -> None:
    """Turn TOTP on once a code of the pending secret proves the authenticator has it."""
    setup = await pending_totp(rt, session)
    if setup is None:
        raise invalid("code", "Start the set-up first.")
    step = totp_match(setup.secret, code, rt.clock())
    if step is None:
        raise AdminError("INVALID_TOTP", "Wrong or expired code.", ["code"])
    async with rt.db.write() as conn:
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == session.account.id)
            .values(totp_secret_enc=rt.box.encrypt(setup.secret.encode(), TOTP_PURPOSE))
        )
        await conn.execute(
            update(dashboard_sessions)
            .where(dashboard_sessions.c.id_hash == session.id_hash)
            .values(totp_pending_enc=None)
        )
        await _use_step(conn, session.account.id, step)
        await _audit(conn, rt, session.account, who, "owner.enable_2fa", {"totp": [False, True]})


async def disable_totp(rt: Runtime, session: DashSession, code: str, who: Actor) -> None:
    """Turn TOTP off; needs a current code, so a borrowed session alone cannot do it."""
    async with rt.db.read() as conn:
        secret = await _totp_secret(conn, rt, session.account.id)
        after = await _last_step(conn, session.account.id)
    if secret is None:
        raise invalid("code", "Two-factor sign-in is not on.")
    step = totp_match(secret, code, rt.clock(), after=after)
    if step is None:
        raise AdminError("INVALID_TOTP", "Wrong or expired code.", ["code"])
    async with rt.db.write() as conn:
        await conn.execute(
            update(accounts).where(accounts.c.id == session.account.id).values(totp_secret_enc=None)
        )
        await _use_step(conn, session.account.id, step)
        await _audit(conn, rt, session.account, who, "owner.disable_2fa", {"totp": [True, False]})


# -- authorization -----------------------------------------------------------------------


@dataclass(frozen=True)
class AppAccess:
    """What the dashboard may show of one app: its id, name and the owner account it is in."""

    app_id: str
    app_name: str
    owner_account_id: str


@dataclass(frozen=True)
class AppScope:
    """Apps of one owner this account works on: every app (`app_ids` None) or a list."""

    owner_account_id: str
    owner_username: str
    is_own: bool
    app_ids: frozenset[str] | None


def _app_missing() -> AdminError:
    return AdminError("APP_NOT_FOUND", "No such app.")


async def authorize_app(
    rt: Runtime, session: DashSession, app_id: str, capability: str
) -> AppAccess:
    """The one authorization check of every app page and action of the dashboard.

    Rights come from `services/principals` (B.0, B.18): owners hold every capability on
    their apps, staff members their role's capabilities within the role's app scope. An app
    outside the account's reach, or one that does not exist, is `APP_NOT_FOUND` either way;
    a visible app without the capability is `PERMISSION_DENIED`.
    """
    if not app_id or len(app_id) > 64:
        raise _app_missing()
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                select(apps.c.id, apps.c.name, apps.c.owner_account_id).where(apps.c.id == app_id)
            )
        ).first()
        if row is None:
            raise _app_missing()
        rights = await principals.rights_in(conn, session.account.id, row.owner_account_id)
    if not rights.may_use_owner_routes or not rights.app_visible(row.id):
        raise _app_missing()
    if not rights.allows(capability, row.id):
        raise AdminError("PERMISSION_DENIED", f"Your role does not grant {capability}.")
    return AppAccess(app_id=row.id, app_name=row.name, owner_account_id=row.owner_account_id)


async def app_scopes(rt: Runtime, account: DashAccount) -> list[AppScope]:
    """Whose apps the account sees: its own (owners), then each owner it is active staff of."""
    scopes: list[AppScope] = []
    if account.is_owner:
        scopes.append(AppScope(account.id, account.username, True, None))
    async with rt.db.read() as conn:
        rows = (
            await conn.execute(
                select(staff_members.c.owner_account_id, accounts.c.username)
                .join(accounts, accounts.c.id == staff_members.c.owner_account_id)
                .where(
                    and_(
                        staff_members.c.account_id == account.id,
                        staff_members.c.is_active.is_(True),
                    )
                )
                .order_by(accounts.c.username_norm)
            )
        ).all()
        for row in rows:
            rights = await principals.rights_in(conn, account.id, row.owner_account_id)
            if rights.may_use_owner_routes:
                scopes.append(
                    AppScope(row.owner_account_id, row.username, False, rights.app_scope())
                )
    return scopes


async def record_action(
    rt: Runtime,
    who: Actor,
    *,
    owner_account_id: str,
    capability: str,
    target_type: str,
    target: str,
    app_id: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Audit one dashboard change; called inside the action's write transaction."""
    async with rt.db.write() as conn:
        await audit.record_as(
            conn,
            who,
            now=rt.clock(),
            owner_account_id=owner_account_id,
            capability=capability,
            target_type=target_type,
            target=target,
            changes=changes,
            app_id=app_id,
        )


async def purge(rt: Runtime) -> int:
    """Delete ended sessions and failures older than the lockout window; how many rows.

    Meant for the periodic maintenance run: live requests delete only what they meet.
    """
    now = rt.clock()
    async with rt.db.write() as conn:
        ended = await conn.execute(
            dashboard_sessions.delete().where(
                or_(
                    dashboard_sessions.c.expires_at <= now,
                    dashboard_sessions.c.last_seen_at <= now - SESSION_IDLE,
                )
            )
        )
        old = await conn.execute(
            delete(dashboard_signin_failures).where(
                dashboard_signin_failures.c.created_at <= now - LOCK_WINDOW
            )
        )
    return int(ended.rowcount or 0) + int(old.rowcount or 0)
