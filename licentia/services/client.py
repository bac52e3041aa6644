"""The client protocol's use cases (client protocol sections 1 and 2).

Each public coroutine takes a `Call` whose fields were parsed and validated (steps 1 to 9 of
0.16), runs steps 10 onwards, and returns the success body without `success`/`code`/`message`
(the envelope adds those) or raises `ProtocolError`.

Transactions: every write runs in one transaction; argon2id work runs between transactions,
never while holding one. Key consumption is a single conditional UPDATE, so exactly one of any
number of concurrent redemptions wins, across processes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError
from licentia.domain.rules import network_verdict, sid_verdict, version_verdict
from licentia.domain.timeutil import LIFETIME_DATE, LIFETIME_SECONDS, iso_z
from licentia.services import client_events, client_session, events, profiles, tickets
from licentia.services.appconfig import APP_COLUMNS, AppConfig, AppConfigCache
from licentia.services.client_calls import Call
from licentia.services.client_limits import IdentityLimits, identity_limit
from licentia.services.netinfo import NetInfo
from licentia.services.ratelimit import RateLimiter
from licentia.services.runtime import Runtime
from licentia.services.session_seen import SeenBuffer
from licentia.store.engine import HotConn
from licentia.store.hotsql import HotSelect
from licentia.store.tables import (
    accounts,
    apps,
    auth_events,
    bindings,
    chat_channels,
    chat_messages,
    chat_mutes,
    client_logs,
    devices,
    licenses,
    sessions,
    subscriptions,
    users,
    variables,
)
from licentia.store.types import new_id

AUTH_EVENT_ENDPOINTS = frozenset(
    {"init", "register", "login", "licenses", "extend", "device-auth", "change-password"}
)
IDENTITY_ENDPOINTS = frozenset(
    {"login", "licenses", "register", "extend", "change-password", "device-auth"}
)
_HEX64 = frozenset("0123456789abcdef")
PRUNE_PROBABILITY = 0.05


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


@dataclass
class Identity:
    kind: str  # user | license | device
    row: Any  # with sub_name / sub_level


@dataclass
class SessionCtx:
    id_hash: str
    row: Any
    app: AppConfig
    identity: Identity | None


def _with_subscription(table: Any) -> Any:
    """A user, license or device row with its subscription's name and level."""
    return select(
        table, subscriptions.c.name.label("sub_name"), subscriptions.c.level.label("sub_level")
    ).join(subscriptions, subscriptions.c.id == table.c.subscription_id)


def _user_query() -> Any:
    return _with_subscription(users)


def _license_query() -> Any:
    return _with_subscription(licenses)


def _device_query() -> Any:
    return _with_subscription(devices)


_TABLES = {"user": users, "license": licenses, "device": devices}

# Hot-path statements, built once: bind parameters instead of per-call construction halve
# their CPU cost (no statement building or cache-key generation on every request).
_SESSION_LOOKUP = HotSelect(
    select(
        sessions,
        *APP_COLUMNS,
        accounts.c.owner_id.label("owner_public"),
        accounts.c.status.label("owner_status"),
    )
    .join(apps, apps.c.id == sessions.c.app_id)
    .join(accounts, accounts.c.id == apps.c.owner_account_id)
    .where(sessions.c.id_hash == bindparam("id_hash"))
)
_IDENTITY_LOOKUP = {
    kind: HotSelect(_with_subscription(table).where(table.c.id == bindparam("ident")))
    for kind, table in _TABLES.items()
}
# validate-session reads the identity and its bound SID count in one statement.
_IDENTITY_WITH_DEVICES = {
    **_IDENTITY_LOOKUP,
    **{
        kind: HotSelect(
            _with_subscription(table)
            .add_columns(
                select(func.count())
                .select_from(bindings)
                .where(bindings.c.holder_kind == kind, bindings.c.holder_id == table.c.id)
                .scalar_subquery()
                .label("devices_bound")
            )
            .where(table.c.id == bindparam("ident"))
        )
        for kind, table in (("user", users), ("license", licenses))
    },
}
_TOUCH = (
    update(sessions)
    .where(sessions.c.id_hash == bindparam("b_id_hash"), sessions.c.ended_at.is_(None))
    .values(last_seen_at=bindparam("b_now"))
)
_BINDING_COUNT = (
    select(func.count())
    .select_from(bindings)
    .where(bindings.c.holder_kind == bindparam("kind"), bindings.c.holder_id == bindparam("holder"))
)
_INIT_LOOKUP = HotSelect(
    select(accounts.c.status.label("owner_status"), *APP_COLUMNS)
    .select_from(accounts)
    .outerjoin(
        apps,
        and_(apps.c.owner_account_id == accounts.c.id, apps.c.name == bindparam("app_name")),
    )
    .where(accounts.c.owner_id == bindparam("owner_id"))
)
_BOUND_SIDS = select(bindings.c.id, bindings.c.sid_norm).where(
    bindings.c.holder_kind == bindparam("kind"), bindings.c.holder_id == bindparam("holder")
)
_INSERT_BINDING = bindings.insert()
_LICENSE_BY_KEY = HotSelect(
    _license_query().where(
        licenses.c.app_id == bindparam("app"), licenses.c.key == bindparam("key")
    )
)
_INSERT_SESSION = sessions.insert()
_INSERT_EVENT = auth_events.insert()


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def _license_expired(row: Any, now: datetime) -> bool:
    """2.0.5: an active key past its expiry, or an unused fixed-date key past its date."""
    if row.status == "unused":
        return row.fixed_expiry is not None and row.fixed_expiry <= now
    return _expired(row.expires_at, now)


def _license_term_expiry(row: Any, now: datetime) -> datetime | None:
    """The expiry a key gets when first used: now + duration, the fixed date, or lifetime."""
    if row.fixed_expiry is not None:
        return row.fixed_expiry  # type: ignore[no-any-return]
    days = row.duration_days or 0
    return None if days == 0 else now + timedelta(days=days)


class ClientService:
    def __init__(
        self,
        rt: Runtime,
        *,
        cache: AppConfigCache,
        net: NetInfo,
        limiter: RateLimiter,
        seen: SeenBuffer | None = None,
    ) -> None:
        self.rt = rt
        #: Write-behind last-seen times of validate-session / blacklist/check (None: written
        #: by the call itself).
        self.seen = seen
        self.db = rt.db
        self.passwords = rt.passwords
        self.clock = rt.clock
        self.cache = cache
        self.net = net
        self.limiter = limiter
        self.limits = IdentityLimits(
            limiter, rt.settings.rate("identity"), rt.settings.rate("identity_ceiling")
        )
        self._login_failures = client_events.LoginFailureSampler()

    # ------------------------------------------------------------------ shared steps

    async def _open_session(
        self, conn: HotConn, call: Call, now: datetime, *, count_devices: bool = False
    ) -> SessionCtx:
        """Steps 10 to 12: session check (1.3), request signature (0.8), app state."""
        session_id = str(call.fields["session_id"]).lower()
        if len(session_id) != 64 or not set(session_id) <= _HEX64:
            raise ProtocolError(Code.INVALID_SESSION)
        id_hash = session_digest(session_id)
        row = await _SESSION_LOOKUP.first(conn, {"id_hash": id_hash})
        if row is None:
            raise ProtocolError(Code.INVALID_SESSION)
        # The row names the app: from here on the app's custom messages apply (0.17).
        app = await self.cache.get(conn, row)  # the lookup selects apps.id as `id`
        call.app = app
        owner_id = call.body.get("owner_id")
        app_name = call.body.get("app_name")
        if (
            isinstance(owner_id, str)
            and isinstance(app_name, str)
            and owner_id.strip()
            and app_name.strip()
        ):
            if owner_id.strip() != row.owner_public or app_name.strip() != row.name:
                raise ProtocolError(Code.INVALID_SESSION)
        call.client_version = row.client_version
        seen = self.seen.seen_at(id_hash, row.last_seen_at) if self.seen is not None else None
        expires = self.session_expiry(row, app, seen)
        if row.ended_at is not None or expires <= now:
            raise ProtocolError(Code.SESSION_EXPIRED)
        identity: Identity | None = None
        if row.identity_kind != "none" and row.identity_id:
            identity = await self._load_identity(
                conn, row.identity_kind, row.identity_id, count_devices=count_devices
            )
            if identity is None or not self._qualifies(identity, now):
                reason = "deleted" if identity is None else "identity"
                call.on_failure.append(self._end_session_effect(id_hash, reason))
                raise ProtocolError(Code.SESSION_EXPIRED)
        self._check_signature(call, app)
        if not app.is_enabled or row.owner_status != "active":
            raise ProtocolError(Code.APP_DISABLED)
        return SessionCtx(id_hash=id_hash, row=row, app=app, identity=identity)

    @staticmethod
    def session_expiry(row: Any, app: AppConfig, seen: datetime | None = None) -> datetime:
        """`seen`: the session's last-seen time when newer than the row's (write-behind)."""
        idle = (seen or row.last_seen_at) + timedelta(seconds=app.session_idle_timeout)
        absolute = row.created_at + timedelta(seconds=app.session_max_lifetime)
        return min(idle, absolute)  # type: ignore[no-any-return]

    def _end_session_effect(self, id_hash: str, reason: str) -> Any:
        async def effect(conn: HotConn) -> None:
            await conn.execute(
                update(sessions)
                .where(sessions.c.id_hash == id_hash, sessions.c.ended_at.is_(None))
                .values(ended_at=self.clock(), end_reason=reason)
            )

        return effect

    async def _load_identity(
        self, conn: HotConn, kind: str, ident: str, *, count_devices: bool = False
    ) -> Identity | None:
        query = (_IDENTITY_WITH_DEVICES if count_devices else _IDENTITY_LOOKUP)[kind]
        row = await query.first(conn, {"ident": ident})
        return Identity(kind, row) if row is not None else None

    @staticmethod
    def _qualifies(identity: Identity, now: datetime) -> bool:
        row = identity.row
        if row.banned or row.paused:
            return False
        if identity.kind == "license":
            return not _license_expired(row, now)
        return not _expired(row.expires_at, now)

    def _check_signature(self, call: Call, app: AppConfig) -> None:
        """Request HMAC (0.8): verified when present; required when the app says so."""
        if call.signature is None:
            if app.require_request_signature:
                raise ProtocolError(Code.INVALID_REQUEST_SIGNATURE)
            return
        try:
            given = base64.b64decode(call.signature, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(Code.INVALID_REQUEST_SIGNATURE) from None
        ts = "" if call.timestamp is None else str(call.timestamp)
        message = f"{ts}\n{call.request_id}\n{call.nonce}\n".encode() + call.raw_body
        expected = hmac.new(app.secret, message, hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            raise ProtocolError(Code.INVALID_REQUEST_SIGNATURE)

    async def _identity_limit(self, call: Call, app: AppConfig, identity: str, sid: str) -> None:
        """Step 12 (second half): the identity and SID buckets (`client_limits`)."""
        await identity_limit(self.limits, app.id, call.client_ip or "", identity, sid)

    def _network_code(
        self, call: Call, app: AppConfig, ip_text: str | None = None, country: str | None = None
    ) -> Code | None:
        text = ip_text if ip_text is not None else call.client_ip
        try:
            ip: Any = ipaddress.ip_address(text)
        except ValueError:
            ip = None
        return network_verdict(
            ip,
            deny=app.ip_deny,
            allow=app.ip_allow,
            vpn_block=app.vpn_block,
            vpn=self.net.vpn_networks() if app.vpn_block else [],
            blocked_countries=app.blocked_countries,
            country=call.country if country is None else country,
        )

    def _network_rules(self, call: Call, app: AppConfig) -> None:
        code = self._network_code(call, app)
        if code is not None:
            raise ProtocolError(code)

    @staticmethod
    def _sid_rules(app: AppConfig, sid: str) -> None:
        code = sid_verdict(sid, deny=app.sid_deny, allow=app.sid_allow)
        if code is not None:
            raise ProtocolError(code)

    async def _touch(self, conn: HotConn, ctx: SessionCtx, now: datetime, **values: Any) -> None:
        """Mark a successful call (and attach an identity): only while the session is live,
        so a session ended during a password check is never revived."""
        if values:
            result = await conn.execute(
                update(sessions)
                .where(sessions.c.id_hash == ctx.id_hash, sessions.c.ended_at.is_(None))
                .values(last_seen_at=now, **values)
            )
        else:
            result = await conn.execute(_TOUCH, {"b_id_hash": ctx.id_hash, "b_now": now})
        if result.rowcount != 1:
            raise ProtocolError(Code.SESSION_EXPIRED)

    async def _binding_count(self, conn: HotConn, kind: str, holder_id: str) -> int:
        result = await conn.execute(_BINDING_COUNT, {"kind": kind, "holder": holder_id})
        return int(result.scalar_one())

    async def _bind(
        self,
        conn: HotConn,
        *,
        app: AppConfig,
        kind: str,
        holder_id: str,
        limit: int,
        sid: str,
        ip: str,
        now: datetime,
    ) -> int:
        """Device binding (2.0.3); returns the number of SIDs bound afterwards.

        The holder row is locked first, so concurrent requests in any number of processes never
        bind more SIDs than the limit allows."""
        if not app.hwid_lock or not sid:
            return await self._binding_count(conn, kind, holder_id)
        table = users if kind == "user" else licenses
        if not self.db.is_sqlite:  # SQLite already holds its write lock: binders are serial
            await conn.execute(select(table.c.id).where(table.c.id == holder_id).with_for_update())
        norm = sid.casefold()
        bound = (await conn.execute(_BOUND_SIDS, {"kind": kind, "holder": holder_id})).all()
        existing = next((row.id for row in bound if row.sid_norm == norm), None)
        if existing is not None:
            await conn.execute(
                update(bindings)
                .where(bindings.c.id == existing)
                .values(last_seen_at=now, last_ip=ip)
            )
            return len(bound)
        if limit != 0 and len(bound) >= limit:
            raise ProtocolError(Code.DEVICE_LIMIT_REACHED)
        await conn.execute(
            _INSERT_BINDING,
            {
                "id": new_id(),
                "app_id": app.id,
                "holder_kind": kind,
                "holder_id": holder_id,
                "sid": sid,
                "sid_norm": norm,
                "first_seen_at": now,
                "last_seen_at": now,
                "last_ip": ip,
            },
        )
        return len(bound) + 1

    async def write_event(self, conn: HotConn, call: Call, code: Code) -> None:
        """One auth event per identity call that reached step 8 (2.0.6); never a password."""
        if not call.wants_event or call.event_written:
            return
        call.event_written = True
        body = call.body
        if call.endpoint in ("login", "extend", "register"):
            attempted = body.get("username")
        elif call.endpoint == "licenses":
            attempted = body.get("license_key")
        elif call.endpoint == "device-auth":
            attempted = body.get("device_id")
        elif call.endpoint == "init":
            attempted = body.get("app_name")
        else:
            attempted = ""
        sid = call.fields.get("sid") or call.fields.get("hwid") or ""
        version = call.fields.get("version") if call.endpoint == "init" else call.client_version
        await conn.execute(
            _INSERT_EVENT,
            {
                "app_id": call.app.id if call.app else None,
                "endpoint": call.endpoint,
                "code": code.value,
                "identity": (attempted if isinstance(attempted, str) else "")[:128],
                "client_ip": call.client_ip[:64],
                "reported_ip": call.reported_ip,
                "country": call.country[:2],
                "sid": str(sid)[:128],
                "client_version": str(version or "")[:32],
                "created_at": self.clock(),
            },
        )
        await client_events.emit_for_call(conn, call, code, self.clock(), self._login_failures)

    async def after_failure(self, call: Call, code: Code) -> None:
        """Persist what a failed call must still leave behind: its auth event, ended sessions."""
        if not call.on_failure and not (call.wants_event and not call.event_written):
            return
        async with self.db.quick_write() as conn:
            for effect in call.on_failure:
                await effect(conn)
            await self.write_event(conn, call, code)

    def _sid(self, call: Call) -> str:
        return str(call.fields.get("sid") or "")

    def _require_sid(self, call: Call, app: AppConfig) -> None:
        if app.hwid_lock and not self._sid(call):
            raise ProtocolError(Code.MISSING_FIELDS, fields=["sid"])

    async def app_for_messages(self, call: Call) -> AppConfig | None:
        """The request's app, for custom messages on errors found before the session check
        (0.17): from the session named by `session_id`, or in init from owner_id + app_name."""
        body = call.body
        try:
            async with self.db.quick_read() as conn:
                if call.endpoint == "init":
                    owner_id, app_name = body.get("owner_id"), body.get("app_name")
                    if not isinstance(owner_id, str) or not isinstance(app_name, str):
                        return None
                    row = await _INIT_LOOKUP.first(
                        conn,
                        {
                            "owner_id": owner_id.strip(" \t\r\n"),
                            "app_name": app_name.strip(" \t\r\n"),
                        },
                    )
                    if row is not None and row.id is None:
                        row = None  # the owner exists, the app does not
                else:
                    session_id = body.get("session_id")
                    if not isinstance(session_id, str):
                        return None
                    session_id = session_id.strip(" \t\r\n").lower()
                    if len(session_id) != 64 or not set(session_id) <= _HEX64:
                        return None
                    row = (
                        await conn.execute(
                            select(*APP_COLUMNS)
                            .join(sessions, sessions.c.app_id == apps.c.id)
                            .where(sessions.c.id_hash == session_digest(session_id))
                        )
                    ).first()
                return await self.cache.get(conn, row) if row is not None else None
        except Exception:  # a message lookup must never turn an error into a failure
            return None

    # ------------------------------------------------------------------ init

    async def init(self, call: Call) -> dict[str, Any]:
        f = call.fields
        now = self.clock()
        call.client_version = f["version"]
        async with self.db.quick_write() as conn:
            # One query resolves both: no owner row -> OWNER_NOT_FOUND; no app -> APP_NOT_FOUND.
            app_row = await _INIT_LOOKUP.first(
                conn, {"owner_id": f["owner_id"], "app_name": f["app_name"]}
            )
            if app_row is None:
                raise ProtocolError(Code.OWNER_NOT_FOUND)
            if app_row.id is None:
                raise ProtocolError(Code.APP_NOT_FOUND)
            app = await self.cache.get(conn, app_row)
            call.app = app
            if not hmac.compare_digest(f["secret"].encode("utf-8", "surrogatepass"), app.secret):
                raise ProtocolError(Code.INVALID_SECRET)
            self._check_signature(call, app)
            if not app.is_enabled or app_row.owner_status != "active":
                raise ProtocolError(Code.APP_DISABLED)
            self._network_rules(call, app)
            code, notice = version_verdict(f["version"], app.latest_version, app.version_rules, now)
            if code is not None:
                raise ProtocolError(
                    code, extra={"update": self._update_object(app, None, forced=True)}
                )
            if app.hash_check:
                given = str(f.get("hash") or "").lower()
                if not given or given == "unknown_hash":
                    raise ProtocolError(Code.HASH_REQUIRED)
                if given not in app.hashes:
                    raise ProtocolError(Code.INVALID_HASH)
            session_id = secrets.token_hex(32)
            await conn.execute(
                _INSERT_SESSION,
                {
                    "id_hash": session_digest(session_id),
                    "prefix": session_id[:8],
                    "app_id": app.id,
                    "identity_kind": "none",
                    "created_at": now,
                    "last_seen_at": now,
                    "client_ip": call.client_ip[:64],
                    "reported_ip": call.reported_ip,
                    "country": call.country[:2],
                    "client_version": f["version"],
                    "client_hash": str(f.get("hash") or "")[:128],
                },
            )
            await self.write_event(conn, call, Code.OK)
        body: dict[str, Any] = {
            "session_id": session_id,
            "owner_id": f["owner_id"],
            "app_name": app.name,
            "version": f["version"],
        }
        if notice is not None:
            body["update"] = self._update_object(app, notice["allowed_until"], forced=False)
        return body

    @staticmethod
    def _update_object(
        app: AppConfig, allowed_until: str | None, *, forced: bool
    ) -> dict[str, Any]:
        return {
            "available": True,
            "latest_version": app.latest_version,
            "download_url": app.download_url,
            "auto_update_enabled": app.auto_update_enabled,
            "force_update": forced,
            "show_reminder": not forced,
            "reminder_message": app.reminder_message or "A new version is available",
            "changelog": app.changelog,
            "allowed_until": None if forced else allowed_until,
        }

    # ------------------------------------------------------------------ login

    async def login(self, call: Call) -> dict[str, Any]:
        f = call.fields
        sid = self._sid(call)
        norm = f["username"].casefold()
        async with self.db.quick_read() as conn:
            ctx = await self._open_session(conn, call, self.clock())
            app = ctx.app
            await self._identity_limit(call, app, f["username"], sid)
            self._require_sid(call, app)
            self._network_rules(call, app)
            self._sid_rules(app, sid)
            user = (
                await conn.execute(
                    select(users.c.id, users.c.password_hash).where(
                        users.c.app_id == app.id, users.c.username_norm == norm
                    )
                )
            ).first()
        ok = await self.passwords.verify(user.password_hash if user else None, f["password"])
        if user is None:
            raise ProtocolError(Code.USER_NOT_FOUND)
        if not ok:
            raise ProtocolError(Code.INVALID_PASSWORD)
        rehash = None
        if self.passwords.needs_rehash(user.password_hash):
            rehash = await self.passwords.hash(f["password"])
        now = self.clock()
        async with self.db.quick_write() as conn:
            ident = await self._load_identity(conn, "user", user.id)
            if ident is None:
                raise ProtocolError(Code.USER_NOT_FOUND)
            row = ident.row
            if row.banned:
                raise ProtocolError(Code.USER_BANNED)
            if row.paused:
                raise ProtocolError(Code.USER_SUSPENDED)
            if _expired(row.expires_at, now):
                raise ProtocolError(Code.USER_EXPIRED)
            devices_bound = await self._bind(
                conn,
                app=app,
                kind="user",
                holder_id=row.id,
                limit=row.device_limit,
                sid=sid,
                ip=call.client_ip,
                now=now,
            )
            values: dict[str, Any] = {
                "last_login_at": now,
                "last_ip": call.client_ip,
                "last_sid": sid or row.last_sid,
            }
            if rehash and row.password_hash == user.password_hash:
                values["password_hash"] = rehash
            await conn.execute(update(users).where(users.c.id == row.id).values(**values))
            await self._touch(conn, ctx, now, identity_kind="user", identity_id=row.id, sid=sid)
            await self.write_event(conn, call, Code.OK)
        obj = profiles.user_object(
            row,
            now,
            sid=sid or row.last_sid,
            ip=call.client_ip,
            last_login=now,
            devices=devices_bound,
        )
        return {
            "session_id": str(call.fields["session_id"]).lower(),
            **profiles.profile("user", obj),
        }

    # ------------------------------------------------------------------ licenses

    async def licenses(self, call: Call) -> dict[str, Any]:
        f = call.fields
        sid = self._sid(call)
        now = self.clock()
        async with self.db.quick_write() as conn:
            ctx = await self._open_session(conn, call, now)
            app = ctx.app
            await self._identity_limit(call, app, f["license_key"], sid)
            self._require_sid(call, app)
            self._network_rules(call, app)
            self._sid_rules(app, sid)
            lic = await _LICENSE_BY_KEY.first(conn, {"app": app.id, "key": f["license_key"]})
            if lic is None:
                raise ProtocolError(Code.LICENSE_NOT_FOUND)
            self._license_state(lic, now)
            # The profile is built from the row plus what this call writes: no re-read.
            state = dict(lic._mapping)
            if lic.status == "unused":
                expiry = _license_term_expiry(lic, now)
                won = await conn.execute(
                    update(licenses)
                    .where(licenses.c.id == lic.id, licenses.c.status == "unused")
                    .values(status="active", activated_at=now, expires_at=expiry)
                )
                if won.rowcount == 1:
                    state.update(status="active", activated_at=now, expires_at=expiry)
                    call.events.append("license.redeemed")
                else:  # activated concurrently: re-read and go on as active
                    lic = (
                        await conn.execute(_license_query().where(licenses.c.id == lic.id))
                    ).one()
                    self._license_state(lic, now)
                    state = dict(lic._mapping)
            devices_bound = await self._bind(
                conn,
                app=app,
                kind="license",
                holder_id=lic.id,
                limit=lic.device_limit,
                sid=sid,
                ip=call.client_ip,
                now=now,
            )
            last_sid = sid or lic.last_sid
            await conn.execute(
                update(licenses)
                .where(licenses.c.id == lic.id)
                .values(last_login_at=now, last_ip=call.client_ip, last_sid=last_sid)
            )
            state.update(last_login_at=now, last_ip=call.client_ip, last_sid=last_sid)
            await self._touch(conn, ctx, now, identity_kind="license", identity_id=lic.id, sid=sid)
            await self.write_event(conn, call, Code.OK)
        obj = profiles.license_object(
            SimpleNamespace(**state),
            now,
            sid=last_sid,
            ip=call.client_ip,
            last_login=now,
            devices=devices_bound,
        )
        return {"session_id": str(f["session_id"]).lower(), **profiles.profile("license", obj)}

    @staticmethod
    def _license_state(lic: Any, now: datetime, *, need_unused: bool = False) -> None:
        if lic.banned:
            raise ProtocolError(Code.LICENSE_BANNED)
        if lic.paused:
            raise ProtocolError(Code.LICENSE_PAUSED)
        if _license_expired(lic, now):
            raise ProtocolError(Code.LICENSE_EXPIRED)
        if lic.status == "used" or (need_unused and lic.status != "unused"):
            raise ProtocolError(Code.LICENSE_IN_USE)

    @staticmethod
    def _consume(lic_id: str, now: datetime, **values: Any) -> Any:
        """The one conditional UPDATE that consumes a key: only while it is still usable."""
        return (
            update(licenses)
            .where(
                licenses.c.id == lic_id,
                licenses.c.status == "unused",
                licenses.c.banned.is_(False),
                licenses.c.paused.is_(False),
                or_(licenses.c.fixed_expiry.is_(None), licenses.c.fixed_expiry > now),
            )
            .values(status="used", **values)
        )

    # ------------------------------------------------------------------ register

    async def register(self, call: Call) -> dict[str, Any]:
        f = call.fields
        sid = self._sid(call)
        norm = f["username"].casefold()
        async with self.db.quick_read() as conn:
            ctx = await self._open_session(conn, call, self.clock())
            app = ctx.app
            await self._identity_limit(call, app, f["key"], sid)
            self._network_rules(call, app)
            self._sid_rules(app, sid)
            lic = (
                await conn.execute(
                    select(licenses).where(licenses.c.app_id == app.id, licenses.c.key == f["key"])
                )
            ).first()
            if lic is None:
                raise ProtocolError(Code.LICENSE_NOT_FOUND)
            self._license_state(lic, self.clock(), need_unused=True)
            taken = (
                await conn.execute(
                    select(users.c.id).where(
                        users.c.app_id == app.id, users.c.username_norm == norm
                    )
                )
            ).first()
            if taken is not None:
                raise ProtocolError(Code.USERNAME_TAKEN)
        password_hash = await self.passwords.hash(f["password"])
        now = self.clock()
        user_id = new_id()
        expiry = _license_term_expiry(lic, now)
        try:
            async with self.db.quick_write() as conn:
                won = await conn.execute(
                    self._consume(
                        lic.id,
                        now,
                        activated_at=now,
                        expires_at=expiry,
                        used_by_user_id=user_id,
                        used_by_username=f["username"],
                        last_login_at=now,
                        last_ip=call.client_ip,
                    )
                )
                if won.rowcount != 1:
                    current = (
                        await conn.execute(select(licenses).where(licenses.c.id == lic.id))
                    ).first()
                    if current is None:
                        raise ProtocolError(Code.LICENSE_NOT_FOUND)
                    self._license_state(current, now, need_unused=True)
                    raise ProtocolError(Code.LICENSE_IN_USE)
                await conn.execute(
                    users.insert().values(
                        id=user_id,
                        app_id=app.id,
                        username=f["username"],
                        username_norm=norm,
                        password_hash=password_hash,
                        email=f.get("email", ""),
                        subscription_id=lic.subscription_id,
                        expires_at=expiry,
                        device_limit=lic.device_limit,
                        linked_license_key=lic.key,
                        created_at=now,
                        created_by="register",
                        last_login_at=now,
                        last_ip=call.client_ip,
                        last_sid=sid,
                    )
                )
                if sid:
                    await conn.execute(
                        bindings.insert().values(
                            id=new_id(),
                            app_id=app.id,
                            holder_kind="user",
                            holder_id=user_id,
                            sid=sid,
                            sid_norm=sid.casefold(),
                            first_seen_at=now,
                            last_seen_at=now,
                            last_ip=call.client_ip,
                        )
                    )
                await self._touch(
                    conn, ctx, now, identity_kind="user", identity_id=user_id, sid=sid
                )
                ident = await self._load_identity(conn, "user", user_id)
                assert ident is not None
                await self.write_event(conn, call, Code.OK)
        except IntegrityError:
            raise ProtocolError(Code.USERNAME_TAKEN) from None
        obj = profiles.user_object(
            ident.row, now, sid=sid, ip=call.client_ip, last_login=now, devices=1 if sid else 0
        )
        return {"session_id": str(f["session_id"]).lower(), **profiles.profile("user", obj)}

    # ------------------------------------------------------------------ extend

    async def extend(self, call: Call) -> dict[str, Any]:
        f = call.fields
        sid = self._sid(call)
        now = self.clock()
        async with self.db.quick_write() as conn:
            ctx = await self._open_session(conn, call, now)
            app = ctx.app
            await self._identity_limit(call, app, f["license_key"], sid)
            self._network_rules(call, app)
            self._sid_rules(app, sid)
            user = (
                await conn.execute(
                    _user_query().where(
                        users.c.app_id == app.id, users.c.username_norm == f["username"].casefold()
                    )
                )
            ).first()
            if user is None:
                raise ProtocolError(Code.USER_NOT_FOUND)
            lic = (
                await conn.execute(
                    _license_query().where(
                        licenses.c.app_id == app.id, licenses.c.key == f["license_key"]
                    )
                )
            ).first()
            if lic is None:
                raise ProtocolError(Code.LICENSE_NOT_FOUND)
            if user.banned:
                raise ProtocolError(Code.USER_BANNED)
            if user.paused:
                raise ProtocolError(Code.USER_SUSPENDED)
            self._license_state(lic, now, need_unused=True)
            key_lifetime = lic.fixed_expiry is None and (lic.duration_days or 0) == 0
            if lic.fixed_expiry is not None:
                seconds = int((lic.fixed_expiry - now).total_seconds())
            else:
                seconds = (lic.duration_days or 0) * 86400
            if not key_lifetime and seconds < 1:
                raise ProtocolError(Code.INVALID_DURATION)
            if key_lifetime:
                new_expiry = None
                added = LIFETIME_SECONDS
            elif user.expires_at is None:
                new_expiry = None
                added = 0
            else:
                new_expiry = max(now, user.expires_at) + timedelta(seconds=seconds)
                added = seconds
            won = await conn.execute(
                self._consume(
                    lic.id,
                    now,
                    activated_at=now,
                    expires_at=new_expiry,
                    used_by_user_id=user.id,
                    used_by_username=user.username,
                )
            )
            if won.rowcount != 1:
                raise ProtocolError(Code.LICENSE_IN_USE)
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(expires_at=new_expiry, subscription_id=lic.subscription_id)
            )
            await self._touch(conn, ctx, now)
            ident = await self._load_identity(conn, "user", user.id)
            assert ident is not None
            devices_bound = await self._binding_count(conn, "user", user.id)
            await self.write_event(conn, call, Code.OK)
        row = ident.row
        obj = profiles.user_object(
            row,
            now,
            sid=sid or row.last_sid,
            ip=call.client_ip,
            last_login=row.last_login_at,
            devices=devices_bound,
        )
        body = profiles.profile("user", obj)
        body["license"] = {
            "license_key": lic.key,
            "subscription": row.sub_name,
            "subscription_name": row.sub_name,
            "subscription_level": int(row.sub_level),
            "expiry_date": obj["expiry_date"],
            "lifetime": obj["lifetime"],
            "days_left": obj["days_left"],
        }
        body["time_added_seconds"] = added
        return body

    # ------------------------------------------------------------------ change-password

    async def change_password(self, call: Call) -> dict[str, Any]:
        f = call.fields
        async with self.db.read() as conn:
            ctx = await self._open_session(conn, call, self.clock())
            app = ctx.app
            holder = ctx.identity.row.id if ctx.identity else ctx.id_hash
            await self._identity_limit(call, app, holder, "")
            if not app.allow_password_change:
                raise ProtocolError(Code.PASSWORD_CHANGE_UNAVAILABLE)
            if ctx.identity is None or ctx.identity.kind != "user":
                raise ProtocolError(Code.USER_NOT_FOUND)
            user = ctx.identity.row
        if not await self.passwords.verify(user.password_hash, f["old_password"]):
            raise ProtocolError(Code.INVALID_PASSWORD)
        reused = await self.passwords.verify(user.password_hash, f["new_password"])
        new_hash = None if reused else await self.passwords.hash(f["new_password"])
        now = self.clock()
        async with self.db.write() as conn:
            current = (
                await conn.execute(select(users).where(users.c.id == user.id).with_for_update())
            ).first()
            if current is None:
                raise ProtocolError(Code.USER_NOT_FOUND)
            if current.banned:
                raise ProtocolError(Code.USER_BANNED)
            if current.paused:
                raise ProtocolError(Code.USER_SUSPENDED)
            if current.password_hash != user.password_hash:
                raise ProtocolError(Code.INVALID_PASSWORD)  # changed meanwhile: old one is stale
            if reused:
                raise ProtocolError(Code.PASSWORD_REUSED)
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(password_hash=new_hash, password_changed_at=now)
            )
            ended = await conn.execute(
                update(sessions)
                .where(
                    sessions.c.identity_kind == "user",
                    sessions.c.identity_id == user.id,
                    sessions.c.id_hash != ctx.id_hash,
                    sessions.c.ended_at.is_(None),
                )
                .values(ended_at=now, end_reason="password_changed")
            )
            await events.sessions_ended(
                conn, ctx.app.id, "user", user.id, "password_changed", ended.rowcount, now
            )
            await self._touch(conn, ctx, now)
            await self.write_event(conn, call, Code.OK)
        return {}

    # ------------------------------------------------------------------ device-auth

    async def device_auth(self, call: Call) -> dict[str, Any]:
        f = call.fields
        sid = self._sid(call)
        kind = f["device_type"]
        prefix = "MOTHERBOARD" if kind == "motherboard" else "PROCESSOR"
        now = self.clock()
        async with self.db.write() as conn:
            ctx = await self._open_session(conn, call, now)
            app = ctx.app
            await self._identity_limit(call, app, f"{kind}:{f['device_id']}", sid)
            self._network_rules(call, app)
            self._sid_rules(app, sid)
            dev = (
                await conn.execute(
                    _device_query().where(
                        devices.c.app_id == app.id,
                        devices.c.device_type == kind,
                        devices.c.device_id_norm == f["device_id"].casefold(),
                    )
                )
            ).first()
            if dev is None:
                raise ProtocolError(Code[f"{prefix}_NOT_FOUND"])
            if dev.banned:
                raise ProtocolError(Code[f"{prefix}_BANNED"])
            if dev.paused:
                raise ProtocolError(Code[f"{prefix}_PAUSED"])
            if _expired(dev.expires_at, now):
                raise ProtocolError(Code[f"{prefix}_EXPIRED"])
            values: dict[str, Any] = {"last_ip": call.client_ip, "last_login_at": now}
            if not dev.activated:
                values.update(activated=True, activated_at=now)
            if sid:
                values["hwid"] = sid
            await conn.execute(update(devices).where(devices.c.id == dev.id).values(**values))
            await self._touch(conn, ctx, now, identity_kind="device", identity_id=dev.id, sid=sid)
            dev = (await conn.execute(_device_query().where(devices.c.id == dev.id))).one()
            await self.write_event(conn, call, Code.OK)
        obj = profiles.device_object(
            dev, now, sid=sid or dev.hwid, ip=call.client_ip, last_login=now
        )
        return {"session_id": str(f["session_id"]).lower(), **profiles.profile("device", obj)}

    # ------------------------------------------------------------------ variables

    async def variables_get(self, call: Call) -> dict[str, Any]:
        now = self.clock()
        async with self.db.write() as conn:
            ctx = await self._open_session(conn, call, now)
            var = (
                await conn.execute(
                    select(variables).where(
                        variables.c.app_id == ctx.app.id, variables.c.key == call.fields["var_key"]
                    )
                )
            ).first()
            if var is None:
                raise ProtocolError(Code.VARIABLE_NOT_FOUND)
            if var.auth_required and ctx.identity is None:
                raise ProtocolError(Code.LOGIN_REQUIRED)
            await self._touch(conn, ctx, now)
        return {"variable": _variable(var.key, var.value, var.updated_at)}

    async def variables_set(self, call: Call) -> dict[str, Any]:
        f = call.fields
        now = self.clock()
        async with self.db.write() as conn:
            ctx = await self._open_session(conn, call, now)
            if ctx.identity is None:
                raise ProtocolError(Code.LOGIN_REQUIRED)
            who = f"{ctx.identity.kind}:{_identity_name(ctx.identity)}"
            var = (
                await conn.execute(
                    select(variables).where(
                        variables.c.app_id == ctx.app.id, variables.c.key == f["var_key"]
                    )
                )
            ).first()
            if var is None:
                if not ctx.app.client_create_variables:
                    raise ProtocolError(Code.VARIABLE_NOT_FOUND)
                if not _valid_var_key(f["var_key"]):
                    raise ProtocolError(Code.INVALID_INPUT, fields=["var_key"])
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            variables.insert().values(
                                id=new_id(),
                                app_id=ctx.app.id,
                                key=f["var_key"],
                                value=f["var_value"],
                                writable=True,
                                auth_required=False,
                                updated_at=now,
                                updated_by=who,
                                created_at=now,
                            )
                        )
                except IntegrityError:
                    var = (
                        await conn.execute(
                            select(variables).where(
                                variables.c.app_id == ctx.app.id, variables.c.key == f["var_key"]
                            )
                        )
                    ).first()
            if var is not None:
                if not var.writable:
                    raise ProtocolError(Code.VARIABLE_READ_ONLY)
                await conn.execute(
                    update(variables)
                    .where(variables.c.id == var.id)
                    .values(value=f["var_value"], updated_at=now, updated_by=who)
                )
            await self._touch(conn, ctx, now)
        return {"variable": _variable(f["var_key"], f["var_value"], now)}

    # ------------------------------------------------------------------ logs

    async def logs(self, call: Call) -> dict[str, Any]:
        now = self.clock()
        async with self.db.write() as conn:
            ctx = await self._open_session(conn, call, now)
            identity = ctx.identity
            await conn.execute(
                client_logs.insert().values(
                    app_id=ctx.app.id,
                    session_prefix=ctx.row.prefix,
                    identity_kind=identity.kind if identity else "none",
                    identity_name=_identity_name(identity) if identity else "",
                    client_ip=call.client_ip[:64],
                    reported_ip=ctx.row.reported_ip,
                    message=call.fields["message"],
                    created_at=now,
                )
            )
            await self._touch(conn, ctx, now)
        return {}

    # ------------------------------------------------------------------ chats

    async def chats_get(self, call: Call) -> dict[str, Any]:
        f = call.fields
        limit = max(1, min(100, int(f.get("limit", 50))))
        before = f.get("cursor_id")
        now = self.clock()
        async with self.db.write() as conn:
            ctx = await self._open_session(conn, call, now)
            channel = await self._channel(conn, ctx.app.id, f["channel_name"])
            query = (
                select(
                    chat_messages.c.id,
                    chat_messages.c.username,
                    chat_messages.c.message,
                    chat_messages.c.created_at,
                )
                .where(chat_messages.c.channel_id == channel.id, chat_messages.c.deleted.is_(False))
                .order_by(chat_messages.c.id.desc())
                .limit(limit + 1)
            )
            if before is not None:
                query = query.where(chat_messages.c.id < before)
            rows = (await conn.execute(query)).all()
            await self._touch(conn, ctx, now)
        has_more = len(rows) > limit
        rows = rows[:limit]
        messages = [
            {
                "id": int(r.id),
                "username": r.username,
                "message": r.message,
                "created_at": iso_z(r.created_at),
            }
            for r in rows
        ]
        next_cursor = encode_cursor(int(rows[-1].id)) if has_more and rows else ""
        page = {
            "channel_name": channel.name,
            "messages": messages,
            "count": len(messages),
            "has_more": has_more,
            "next_cursor": next_cursor,
        }
        data = dict(
            page, pagination={"has_more": has_more, "limit": limit, "next_cursor": next_cursor}
        )
        return {"data": data, "chats": page}

    async def _channel(self, conn: HotConn, app_id: str, name: str) -> Any:
        channel = (
            await conn.execute(
                select(chat_channels).where(
                    chat_channels.c.app_id == app_id, chat_channels.c.name_norm == name.casefold()
                )
            )
        ).first()
        if channel is None:
            raise ProtocolError(Code.CHANNEL_NOT_FOUND)
        return channel

    async def chats_send(self, call: Call) -> dict[str, Any]:
        f = call.fields
        now = self.clock()
        async with self.db.write() as conn:
            ctx = await self._open_session(conn, call, now)
            if ctx.identity is None or ctx.identity.kind != "user":
                raise ProtocolError(Code.USERNAME_NOT_LINKED)
            user = ctx.identity.row
            channel = await self._channel(conn, ctx.app.id, f["channel_name"])
            mute = (
                await conn.execute(
                    select(chat_mutes.c.expires_at).where(
                        chat_mutes.c.user_id == user.id,
                        or_(
                            chat_mutes.c.channel_id.is_(None), chat_mutes.c.channel_id == channel.id
                        ),
                        or_(chat_mutes.c.expires_at.is_(None), chat_mutes.c.expires_at > now),
                    )
                )
            ).all()
            if mute:
                ends = [m.expires_at for m in mute]
                until = LIFETIME_DATE if any(e is None for e in ends) else iso_z(max(ends))
                raise ProtocolError(Code.USER_MUTED, extra={"muted_until": until})
            if channel.send_delay > 0:
                last = (
                    await conn.execute(
                        select(func.max(chat_messages.c.created_at)).where(
                            chat_messages.c.channel_id == channel.id,
                            chat_messages.c.user_id == user.id,
                        )
                    )
                ).scalar()
                if last is not None:
                    wait = (last + timedelta(seconds=channel.send_delay) - now).total_seconds()
                    if wait > 0:
                        raise ProtocolError(
                            Code.RATE_LIMITED, retry_after=max(1, int(-(-wait // 1)))
                        )
            result = await conn.execute(
                chat_messages.insert()
                .values(
                    channel_id=channel.id,
                    app_id=ctx.app.id,
                    user_id=user.id,
                    username=user.username,
                    message=f["message"],
                    client_ip=call.client_ip[:64],
                    created_at=now,
                )
                .returning(chat_messages.c.id)
            )
            message_id = int(result.scalar_one())
            if channel.max_messages > 0 and random.random() < PRUNE_PROBABILITY:
                await self._prune(conn, channel)
            await self._touch(conn, ctx, now)
        return {
            "data": {
                "channel_name": channel.name,
                "created_at": iso_z(now),
                "id": message_id,
                "message": f["message"],
                "username": user.username,
            }
        }

    @staticmethod
    async def _prune(conn: HotConn, channel: Any) -> None:
        """Keep at most `max_messages` per channel (checked on about one send in twenty, so a
        channel overshoots its limit by a few dozen messages at most)."""
        cutoff = (
            await conn.execute(
                select(chat_messages.c.id)
                .where(chat_messages.c.channel_id == channel.id)
                .order_by(chat_messages.c.id.desc())
                .offset(channel.max_messages)
                .limit(1)
            )
        ).scalar()
        if cutoff is not None:
            await conn.execute(
                chat_messages.delete().where(
                    and_(chat_messages.c.channel_id == channel.id, chat_messages.c.id <= cutoff)
                )
            )

    # ------------------------------------------------------------------ validate-session

    async def validate_session(self, call: Call) -> dict[str, Any]:
        return await client_session.validate_session(self, call)

    async def blacklist_check(self, call: Call) -> dict[str, Any]:
        return await client_session.blacklist_check(self, call)

    async def ticket(self, call: Call) -> dict[str, Any]:
        return await tickets.session_ticket(self, call)

    async def ticket_check(self, call: Call) -> dict[str, Any]:
        return await tickets.check_ticket(self, call)


def _variable(key: str, value: str, updated: datetime) -> dict[str, str]:
    return {"var_key": key, "var_value": value, "updated_at": iso_z(updated)}


def _valid_var_key(key: str) -> bool:
    return 1 <= len(key) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "_.-") for ch in key)


def _identity_name(identity: Identity) -> str:
    row = identity.row
    if identity.kind == "user":
        return str(row.username)
    if identity.kind == "license":
        return str(row.key)
    return str(row.device_id)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


def encode_cursor(message_id: int) -> str:
    return base64.urlsafe_b64encode(str(message_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The message id a cursor names, or None when it was not issued by this server."""
    if (
        not cursor
        or len(cursor) > 128
        or not all(c.isascii() and (c.isalnum() or c in "-_") for c in cursor)
    ):
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not text.isdigit() or len(text) > 18 or encode_cursor(int(text)) != cursor:
        return None
    return int(text)
