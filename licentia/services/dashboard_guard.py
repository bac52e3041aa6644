"""The dashboard's sign-in lockout and known devices (issue #14).

Terms:

* **lockout buckets** (counted first, then checked: `services/attempts`), each over
  `LOCK_WINDOW`: `LOCK_FAILURES` failures of one name at one address lock that name at that
  address; `LOCK_FAILURES_IP` failures from one address lock the address for every name;
  `LOCK_FAILURES_ACCOUNT` failures of one name from all addresses together lock the name
  everywhere, except on a known device. A stranger guessing from elsewhere therefore locks
  only himself, and a botnet that reaches the account-wide ceiling still cannot lock the
  owner out of the browser he signed in with before. Names are counted known or not, so the
  lock reveals nothing about which names exist.
* **known device**: a browser that completed a sign-in of the account (password, and the
  TOTP code when on) within `DEVICE_LIFETIME`. It keeps a cookie
  `licentia_device_<account tag>` whose value is `v1.<issued>.<HMAC>` over the account id, the
  issue time and a digest of the current password hash, with a key derived from the master
  key: it cannot be forged, is worth nothing for another account, and a password change
  revokes every known device at once. It lifts the account-wide ceiling only; the password
  (and the code) are checked as always, and the per-address buckets still apply.
* **password and code past the lock** (`services.dashboard_lockpass`): an owner with TOTP
  on, locked out by a flood of password guesses from elsewhere and on a new device, signs in
  with the password and a current code in one step; the account-wide ceiling does not apply
  to that step (the per-address buckets do). Every answer but success is the lock's, so the
  step tells nobody whether the password was right.
* **code guesses**: `TOTP_FAILURES` wrong codes per account within `LOCK_WINDOW` (after a
  right password, on any path) and further codes are refused unchecked; each wrong code is
  audited (`INVALID_TOTP`). Only someone who has the password can spend this budget.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import attempts
from licentia.services.admin_common import AdminError, norm, trim
from licentia.services.attempts import Bucket, Reservation
from licentia.services.runtime import Runtime
from licentia.store.tables import dashboard_signin_failures

LOCK_WINDOW = timedelta(minutes=15)
LOCK_FAILURES = 5
LOCK_FAILURES_IP = 20
LOCK_FAILURES_ACCOUNT = 100
TOTP_FAILURES = 10
LOCKED = "Too many failed sign-ins. Try again in 15 minutes."

DEVICE_COOKIE_PREFIX = "licentia_device_"
DEVICE_LIFETIME = timedelta(days=90)
#: At most this many device cookies of one browser are looked at per sign-in.
DEVICE_COOKIES_MAX = 8
_DEVICE_INFO = b"licentia known-device v1"


def subject(username: str) -> str:
    """The lockout subject of a typed name: trimmed, normalized, at most 128 characters."""
    return norm(trim(username))[:128]


def buckets(username: str, ip: str, *, known_device: bool) -> list[Bucket]:
    name = subject(username)
    found = [Bucket("pair", attempts.subject_of(name, ip), LOCK_FAILURES)]
    if ip:
        found.append(Bucket("ip", ip[:128], LOCK_FAILURES_IP))
    if not known_device:
        found.append(Bucket("account", name, LOCK_FAILURES_ACCOUNT))
    return found


def totp_bucket(account_id: str) -> Bucket:
    """The account's TOTP code guesses."""
    return Bucket("totp", account_id[:128], TOTP_FAILURES)


async def reserve(
    rt: Runtime, username: str, ip: str, *, known_device: bool, totp_account: str = ""
) -> Reservation:
    """Count this attempt before anything is checked; `RATE_LIMITED` when a bucket is full.
    `totp_account`: the attempt is a code guess of that account as well."""
    found = buckets(username, ip, known_device=known_device)
    if totp_account:
        found.append(totp_bucket(totp_account))
    reservation = await attempts.reserve(rt, dashboard_signin_failures, found, LOCK_WINDOW)
    if reservation is None:
        raise AdminError("RATE_LIMITED", LOCKED)
    return reservation


async def succeeded(
    conn: AsyncConnection, reservation: Reservation, username: str, ip: str
) -> None:
    """A right answer: the attempt is no failure, and the typos at this address are forgiven."""
    await attempts.release(conn, reservation)
    pair = buckets(username, ip, known_device=True)[0]
    await attempts.clear(conn, dashboard_signin_failures, pair)


# -- known devices -----------------------------------------------------------------------


def device_cookie_name(account_id: str) -> str:
    return DEVICE_COOKIE_PREFIX + hashlib.sha256(account_id.encode()).hexdigest()[:16]


def _mac(rt: Runtime, account_id: str, issued: int, password_hash: str) -> str:
    key = rt.box.derive(_DEVICE_INFO)
    pw = hashlib.sha256(password_hash.encode()).hexdigest()
    message = f"{account_id}\0{issued}\0{pw}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def device_token(rt: Runtime, account_id: str, password_hash: str, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"v1.{issued}.{_mac(rt, account_id, issued, password_hash)}"


def is_known_device(
    rt: Runtime, tokens: Iterable[str], account_id: str, password_hash: str, now: datetime
) -> bool:
    """True when one of the browser's device cookies is valid for this account now."""
    for n, token in enumerate(tokens):
        if n >= DEVICE_COOKIES_MAX:
            break
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit() or len(parts[1]) > 12:
            continue
        issued = int(parts[1])
        age = now.timestamp() - issued
        if not -60 <= age <= DEVICE_LIFETIME.total_seconds():
            continue
        if hmac.compare_digest(
            parts[2].encode(), _mac(rt, account_id, issued, password_hash).encode()
        ):
            return True
    return False
