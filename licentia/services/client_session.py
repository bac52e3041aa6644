"""validate-session and blacklist/check: the calls a running program repeats all day.

Both check the session (and its identity, app and owner) with reads that each see the latest
committed state (on the raw driver, `store/hotsql.py`), then mark the session as used: noted
in the worker's write-behind buffer (`services/session_seen.py`, flushed every second), or,
without one, one conditional UPDATE committed on its own. No transaction is held across the
checks, and on SQLite the whole call runs on the event loop thread (see `store/quick.py`). A
ban, pause, deletion, session end or app change made by any face is therefore seen by the very
next call on every worker: nothing is cached across requests except the app configuration,
which is keyed by `apps.config_rev` from the row read in the same call.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError
from licentia.domain.rules import sid_verdict
from licentia.domain.timeutil import iso_z
from licentia.services import profiles
from licentia.services.client_calls import Call
from licentia.store.engine import HotConn

if TYPE_CHECKING:
    from licentia.services.client import ClientService, SessionCtx


async def _touch(svc: ClientService, ctx: SessionCtx, now: Any, conn: HotConn) -> None:
    """Mark the session used: noted for the next write-behind flush when the worker has a
    buffer (`services/session_seen.py`), else written now."""
    if svc.seen is not None:
        svc.seen.note(ctx.id_hash, now)
        return
    from licentia.services.client import _TOUCH

    params = {"b_id_hash": ctx.id_hash, "b_now": now}
    result = await svc.db.quick_execute(_TOUCH, params, via=conn)
    if result.rowcount != 1:  # ended between the check and now
        raise ProtocolError(Code.SESSION_EXPIRED)


async def validate_session(svc: ClientService, call: Call) -> dict[str, Any]:
    now = svc.clock()
    async with svc.db.quick_read() as conn:
        ctx = await svc._open_session(conn, call, now, count_devices=True)
        await _touch(svc, ctx, now, conn)
    expires = min(
        now + timedelta(seconds=ctx.app.session_idle_timeout),
        ctx.row.created_at + timedelta(seconds=ctx.app.session_max_lifetime),
    )
    body: dict[str, Any] = {"valid": True, "session_expires_at": iso_z(expires)}
    identity = ctx.identity
    if identity is None:
        body["identity_type"] = "none"
        return body
    body["identity_type"] = identity.kind
    row = identity.row
    sid = ctx.row.sid or ""
    if identity.kind == "device":
        obj = profiles.device_object(
            row, now, sid=sid or row.hwid, ip=call.client_ip, last_login=row.last_login_at
        )
    else:
        make = profiles.user_object if identity.kind == "user" else profiles.license_object
        obj = make(
            row,
            now,
            sid=sid or row.last_sid,
            ip=call.client_ip,
            last_login=row.last_login_at,
            devices=row.devices_bound,
        )
    body.update(profiles.profile(identity.kind, obj))
    return body


async def blacklist_check(svc: ClientService, call: Call) -> dict[str, Any]:
    from licentia.services.client import _is_ip

    f = call.fields
    now = svc.clock()
    async with svc.db.quick_read() as conn:
        ctx = await svc._open_session(conn, call, now)
        await _touch(svc, ctx, now, conn)
    app = ctx.app
    tested = str(f.get("ip") or "")
    if _is_ip(tested):
        # A body IP is evaluated as that address, with that address's own country.
        code = svc._network_code(call, app, tested, svc.net.country(tested, {}, False))
    else:
        code = svc._network_code(call, app)
    if code is None:
        sid = str(f.get("hwid") or "")
        code = sid_verdict(sid, deny=app.sid_deny, allow=app.sid_allow)
    if code is None:
        return {"blacklisted": False}
    return {"blacklisted": True, "reason": code.value, "_message_code": code}
