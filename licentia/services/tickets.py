"""Offline tickets and license files (Licentia extension; format in `crypto.tickets`).

* `session_ticket` (`POST /api/v2/ticket`): a logged-in session gets a ticket that lets the
  program start offline until `exp` = min(now + the app's `offline_ticket_ttl`, the identity's
  expiry). The TTL is the revocation bound: a ban cannot reach an offline machine.
* `check_ticket` (`POST /api/v2/ticket/check`): online validation of a stored ticket; it
  answers the identity's current state, so a banned, paused, expired or deleted identity's
  ticket is refused as soon as the machine is online.
* `license_file` (CLI, REST, dashboard): the vendor signs a ticket for an air-gapped machine,
  bound to one license key and one HWID, for N days.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from licentia.crypto import tickets
from licentia.crypto.signing import SigningKey
from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError
from licentia.domain.rules import sid_verdict
from licentia.domain.timeutil import iso_z
from licentia.services import signing_keys
from licentia.services.admin_common import (
    AdminError,
    check_identity_text,
    check_norm_length,
    load_app,
    trim,
)
from licentia.services.appconfig import APP_COLUMNS
from licentia.services.client_calls import Call
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, apps, bindings, licenses, subscriptions
from licentia.store.types import new_id

if TYPE_CHECKING:
    from licentia.services.client import ClientService, Identity

#: Longest license file term (days); the license's own expiry caps it further.
MAX_FILE_DAYS = 36_500
_STATE_CODES = {
    "user": (Code.USER_NOT_FOUND, Code.USER_BANNED, Code.USER_SUSPENDED, Code.USER_EXPIRED),
    "license": (
        Code.LICENSE_NOT_FOUND,
        Code.LICENSE_BANNED,
        Code.LICENSE_PAUSED,
        Code.LICENSE_EXPIRED,
    ),
    "motherboard": (
        Code.MOTHERBOARD_NOT_FOUND,
        Code.MOTHERBOARD_BANNED,
        Code.MOTHERBOARD_PAUSED,
        Code.MOTHERBOARD_EXPIRED,
    ),
    "processor": (
        Code.PROCESSOR_NOT_FOUND,
        Code.PROCESSOR_BANNED,
        Code.PROCESSOR_PAUSED,
        Code.PROCESSOR_EXPIRED,
    ),
}


def _seconds(value: datetime) -> int:
    return int(value.timestamp())


def identity_expiry(kind: str, row: Any, now: datetime) -> datetime | None:
    """When the identity's access ends (`None` = lifetime); an unused key's term from now."""
    if kind == "license" and row.status == "unused":
        if row.fixed_expiry is not None:
            return row.fixed_expiry  # type: ignore[no-any-return]
        days = row.duration_days or 0
        return None if days == 0 else now + timedelta(days=days)
    return row.expires_at  # type: ignore[no-any-return]


def _identity_name(kind: str, row: Any) -> str:
    if kind == "user":
        return str(row.username)
    if kind == "license":
        return str(row.key)
    return str(row.device_id)


def build_claims(
    *,
    typ: str,
    app: dict[str, str],
    kind: str,
    row: Any,
    sid: str,
    now: datetime,
    until: datetime,
) -> dict[str, Any]:
    """The claims of `docs/tickets.md` (without `kid`, which `tickets.issue` adds)."""
    expiry = identity_expiry(kind, row, now)
    identity = {"id": str(row.id), "kind": kind, "name": _identity_name(kind, row)}
    if kind == "device":
        identity["device_type"] = str(row.device_type)
    exp = until if expiry is None else min(until, expiry)
    return {
        "app": app,
        "exp": _seconds(exp),
        "iat": _seconds(now),
        "identity": identity,
        "jti": secrets.token_hex(16),
        "nbf": _seconds(now),
        "sid": sid,
        "subscriptions": [
            {
                "expiry_date": iso_z(expiry) if expiry is not None else "",
                "level": int(row.sub_level),
                "lifetime": expiry is None,
                "name": str(row.sub_name),
            }
        ],
        "typ": typ,
    }


async def _active_key(rt: Runtime) -> SigningKey:
    """The server's active signing key (created on first use, as the server start does)."""
    return await signing_keys.ensure_active(rt)


def _at(seconds: int) -> str:
    return iso_z(datetime.fromtimestamp(seconds, UTC))


# -- POST /api/v2/ticket -----------------------------------------------------------------


async def session_ticket(svc: ClientService, call: Call) -> dict[str, Any]:
    from licentia.services.client_session import _touch

    now = svc.clock()
    async with svc.db.quick_read() as conn:
        ctx = await svc._open_session(conn, call, now)
        ttl = ctx.app.offline_ticket_ttl
        if ttl <= 0:
            raise ProtocolError(Code.TICKETS_DISABLED)
        if ctx.identity is None:
            raise ProtocolError(Code.LOGIN_REQUIRED)
        await _touch(svc, ctx, now, conn)
    identity: Identity = ctx.identity
    app = {"id": ctx.app.id, "name": ctx.app.name, "owner_id": str(ctx.row.owner_public)}
    sid = ctx.row.sid or ""
    claims = build_claims(
        typ="session",
        app=app,
        kind=identity.kind,
        row=identity.row,
        sid=sid,
        now=now,
        until=now + timedelta(seconds=ttl),
    )
    ticket = tickets.issue(await _active_key(svc.rt), claims)
    return {"ticket": ticket, "expires_at": _at(claims["exp"])}


# -- POST /api/v2/ticket/check -----------------------------------------------------------

_APP_LOOKUP = (
    select(*APP_COLUMNS, accounts.c.owner_id.label("owner_public"), accounts.c.status)
    .select_from(apps)
    .join(accounts, accounts.c.id == apps.c.owner_account_id)
)


def _state_code(kind: str, row: Any, now: datetime) -> Code | None:
    from licentia.services.client import _expired, _license_expired

    codes = _STATE_CODES[kind]
    if row is None:
        return codes[0]
    if row.banned:
        return codes[1]
    if row.paused:
        return codes[2]
    expired = _license_expired(row, now) if kind == "license" else _expired(row.expires_at, now)
    return codes[3] if expired else None


async def check_ticket(svc: ClientService, call: Call) -> dict[str, Any]:
    """Verify a ticket online: signature, app, request HMAC, time, then the identity's state."""
    now = svc.clock()
    try:
        claims = tickets.verify(str(call.fields["ticket"]), await signing_keys.public_keys(svc.rt))
        app_claim, ident = claims["app"], claims["identity"]
        kind = str(ident["kind"])
        kind_key = str(ident.get("device_type", "")) if kind == "device" else kind
        if kind_key not in _STATE_CODES:
            raise tickets.TicketError("unknown identity kind")
        app_id, ident_id = str(app_claim["id"]), str(ident["id"])
    except (tickets.TicketError, KeyError, TypeError, AttributeError):
        raise ProtocolError(Code.INVALID_TICKET) from None
    from licentia.services.client import _IDENTITY_LOOKUP

    async with svc.db.quick_read() as conn:
        row = (await conn.execute(_APP_LOOKUP.where(apps.c.id == app_id))).first()
        if row is None:
            raise ProtocolError(Code.APP_NOT_FOUND)
        app = await svc.cache.get(conn, row)
        call.app = app
        svc._check_signature(call, app)
        if not app.is_enabled or row.status != "active":
            raise ProtocolError(Code.APP_DISABLED)
        sid = str(call.fields.get("sid") or "")
        if sid and claims["sid"] and sid.casefold() != str(claims["sid"]).casefold():
            raise ProtocolError(Code.INVALID_TICKET)
        if not claims["nbf"] - svc.rt.settings.replay_window <= _seconds(now) < claims["exp"]:
            raise ProtocolError(Code.TICKET_EXPIRED)
        found = await _IDENTITY_LOOKUP[kind].first(conn, {"ident": ident_id})
        if found is not None and str(found.app_id) != app_id:
            found = None
        code = _state_code(kind_key, found, now)
        if code is not None:
            raise ProtocolError(code)
        ticket_sid = str(claims["sid"])
        code = sid_verdict(ticket_sid, deny=app.sid_deny, allow=app.sid_allow)
        if code is not None:  # the vendor blocked the machine since
            raise ProtocolError(code)
        if not await _still_bound(conn, app.hwid_lock, kind, ident_id, ticket_sid):
            raise ProtocolError(Code.INVALID_TICKET)
    return {
        "valid": True,
        "identity_type": kind,
        "expires_at": _at(claims["exp"]),
    }


async def _still_bound(conn: Any, hwid_lock: bool, kind: str, holder: str, sid: str) -> bool:
    """Under `hwid_lock`, a user's or key's ticket needs its machine still bound: a vendor's
    HWID reset unbinds it, and the program must log in (and bind) again."""
    if not hwid_lock or not sid or kind not in ("user", "license"):
        return True
    query = select(bindings.c.id).where(
        bindings.c.holder_kind == kind,
        bindings.c.holder_id == holder,
        bindings.c.sid_norm == sid.casefold(),
    )
    return (await conn.execute(query.limit(1))).first() is not None


# -- license files (vendor faces) --------------------------------------------------------


@dataclass(frozen=True)
class LicenseFile:
    ticket: str
    key: str
    hwid: str
    expires_at: datetime
    claims: dict[str, Any]


def _check_file_input(hwid: str, days: int) -> str:
    hwid = trim(hwid)
    if not 1 <= len(hwid) <= 128:
        raise AdminError("INVALID_INPUT", "hwid must be 1 to 128 characters", ["hwid"])
    check_identity_text(hwid, "hwid")
    check_norm_length(hwid, "hwid", 128)  # the binding stores its case-folded twin
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_FILE_DAYS:
        raise AdminError("INVALID_INPUT", f"days must be 1 to {MAX_FILE_DAYS}", ["days"])
    return hwid


async def license_file(rt: Runtime, app_id: str, key: str, hwid: str, days: int) -> LicenseFile:
    """Sign a license file for one key and one HWID, valid `days` (capped by the key's term).

    An unused key is activated now (its term starts) and the HWID is bound to it within the
    key's device limit, exactly as a first online `licenses` call would do.
    """
    hwid = _check_file_input(hwid, days)
    now = rt.clock()
    signer = await _active_key(rt)
    async with rt.db.write() as conn:
        app = await load_app(conn, app_id)
        owner = (
            await conn.execute(
                select(accounts.c.owner_id).where(accounts.c.id == app.owner_account_id)
            )
        ).scalar_one()
        query = (
            select(licenses, subscriptions.c.name.label("sub_name"))
            .add_columns(subscriptions.c.level.label("sub_level"))
            .join(subscriptions, subscriptions.c.id == licenses.c.subscription_id)
            .where(licenses.c.app_id == app_id, licenses.c.key == trim(key))
        )
        row = (await conn.execute(query)).first()
        code = _state_code("license", row, now)
        if code is not None:
            raise AdminError(
                code.value, f"the license key cannot get a file: {code.value}", ["key"]
            )
        assert row is not None
        if row.status == "used":
            raise AdminError("LICENSE_IN_USE", "the key was redeemed into an account", ["key"])
        await _activate_and_bind(conn, row, app_id, hwid, now)
        claims = build_claims(
            typ="license-file",
            app={"id": app_id, "name": app.name, "owner_id": owner},
            kind="license",
            row=row,
            sid=hwid,
            now=now,
            until=now + timedelta(days=days),
        )
    ticket = tickets.issue(signer, claims)
    return LicenseFile(
        ticket=ticket,
        key=row.key,
        hwid=hwid,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        claims={**claims, "kid": signer.kid},
    )


async def _activate_and_bind(conn: Any, row: Any, app_id: str, hwid: str, now: datetime) -> None:
    if row.status == "unused":
        await conn.execute(
            update(licenses)
            .where(licenses.c.id == row.id, licenses.c.status == "unused")
            .values(
                status="active",
                activated_at=now,
                expires_at=identity_expiry("license", row, now),
                last_sid=hwid,
            )
        )
    bound = (
        await conn.execute(
            select(bindings.c.sid_norm).where(
                bindings.c.holder_kind == "license", bindings.c.holder_id == row.id
            )
        )
    ).all()
    norm = hwid.casefold()
    if any(b.sid_norm == norm for b in bound):
        return
    if row.device_limit != 0 and len(bound) >= row.device_limit:
        raise AdminError(
            "DEVICE_LIMIT_REACHED",
            "the key's device limit is reached: reset its HWID or raise the limit first",
            ["hwid"],
        )
    await conn.execute(
        bindings.insert().values(
            id=new_id(),
            app_id=app_id,
            holder_kind="license",
            holder_id=row.id,
            sid=hwid,
            sid_norm=norm,
            first_seen_at=now,
            last_seen_at=now,
            last_ip="",
        )
    )
