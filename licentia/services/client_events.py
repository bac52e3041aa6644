"""Domain events of the client API, emitted where a client call writes its auth event.

`ClientService.write_event` runs inside the call's own transaction (on success) or the
failure transaction (`after_failure`), so each event commits exactly with what the call did.

`user.login_failed` is sampled: a flood of bad passwords must not become a flood of HTTP
requests. Per server process and app, the first failed login of a 60-second window is
emitted; it carries `failures_before`, the failures of the previous window that were not
emitted each (docs/webhooks.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from licentia.domain.codes import Code
from licentia.services import events
from licentia.services.client_calls import Call
from licentia.store.engine import HotConn

LOGIN_FAILED_WINDOW = timedelta(seconds=60)
_IDENTITY_FIELD = {
    "login": "username",
    "register": "username",
    "extend": "username",
    "licenses": "license_key",
    "device-auth": "device_id",
}
_KIND = {"login": "user", "licenses": "license", "device-auth": "device", "register": "user"}
_FAILED_LOGIN = frozenset({Code.INVALID_PASSWORD, Code.USER_NOT_FOUND})


class LoginFailureSampler:
    """At most one `user.login_failed` per app and window in this process."""

    def __init__(self, window: timedelta = LOGIN_FAILED_WINDOW) -> None:
        self.window = window
        self._state: dict[str, tuple[datetime, int]] = {}

    def admit(self, app_id: str, now: datetime) -> int | None:
        """The failures skipped before this one when it is to be emitted, else None."""
        start, skipped = self._state.get(app_id, (None, 0))
        if start is None or now - start >= self.window:
            self._state[app_id] = (now, 0)
            if len(self._state) > 10_000:  # bounded: forget the oldest windows
                for key in sorted(self._state, key=lambda k: self._state[k][0])[:5_000]:
                    del self._state[key]
            return skipped
        self._state[app_id] = (start, skipped + 1)
        return None


def _base(call: Call) -> dict[str, Any]:
    attempted = call.body.get(_IDENTITY_FIELD.get(call.endpoint, ""), "")
    data: dict[str, Any] = {
        "identity": attempted[:128] if isinstance(attempted, str) else "",
        "endpoint": call.endpoint,
        "ip": call.client_ip,
        "sid": str(call.fields.get("sid") or call.fields.get("hwid") or "")[:128],
    }
    if call.endpoint in _KIND:
        data["kind"] = _KIND[call.endpoint]
    return data


def _types_for(call: Call, code: Code) -> list[str]:
    endpoint = call.endpoint
    if code == Code.OK:
        if endpoint == "register":
            return ["user.registered", "license.redeemed"]
        if endpoint == "extend":  # a key adds its time to an existing user
            return ["license.redeemed"]
        if endpoint in ("login", "licenses", "device-auth"):
            return ["user.login"]
        return []
    if code in _FAILED_LOGIN and endpoint == "login":
        return ["user.login_failed"]
    if code == Code.LICENSE_EXPIRED:
        return ["license.expired_on_use"]
    if code == Code.DEVICE_LIMIT_REACHED:
        return ["device.limit_reached"]
    return []


async def emit_for_call(
    conn: HotConn, call: Call, code: Code, now: datetime, sampler: LoginFailureSampler
) -> None:
    if call.app is None:
        return
    for event_type in [*_types_for(call, code), *call.events]:
        data = _base(call)
        if event_type == "user.login_failed":
            skipped = sampler.admit(call.app.id, now)
            if skipped is None:
                continue
            data.update(code=code.value, failures_before=skipped)
        elif event_type == "license.redeemed":
            key = call.fields.get("key") or call.fields.get("license_key") or ""
            data["license_key"] = str(key)[:128]
            if call.endpoint in ("register", "extend"):
                data["username"] = data["identity"]
        elif code != Code.OK:
            data["code"] = code.value
        await events.emit(conn, call.app.id, event_type, data, now=now)
