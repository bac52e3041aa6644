"""The portal's sign-in lockout (issue #14), counted first and checked after
(`services/attempts`).

Buckets, each over `LOCK_WINDOW`, per app: `LOCK_FAILURES` failures of one name (or, for
keys, any key) at one client address lock that name at that address; `LOCK_FAILURES_IP`
failures from one address lock the address for every name; `LOCK_FAILURES_NAME` failures of
one username from all addresses together lock the name everywhere (a ceiling far above what
one address may try, so a stranger's guesses from one place lock only himself). Key sign-ins
have no app-wide ceiling: keys are long random strings, and one would let anyone lock every
key holder out of the portal.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.services import attempts
from licentia.services.admin_common import AdminError, norm, trim
from licentia.services.attempts import Bucket, Reservation
from licentia.services.runtime import Runtime
from licentia.store.tables import portal_signin_failures

LOCK_WINDOW = timedelta(minutes=15)
LOCK_FAILURES = 5
LOCK_FAILURES_IP = 20
LOCK_FAILURES_NAME = 100
LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
NAME_MAX = 64


def _pair(app_id: str, kind: str, name: str, ip: str) -> Bucket:
    who = norm(trim(name))[:NAME_MAX] if kind == "user" else ""
    return Bucket("name", attempts.subject_of(app_id, kind, who, ip), LOCK_FAILURES)


def buckets(app_id: str, kind: str, name: str, ip: str) -> list[Bucket]:
    found = [_pair(app_id, kind, name, ip)]
    if ip:
        found.append(Bucket("ip", ip[:128], LOCK_FAILURES_IP))
    if kind == "user":
        who = norm(trim(name))[:NAME_MAX]
        found.append(Bucket("user", attempts.subject_of(app_id, who), LOCK_FAILURES_NAME))
    return found


async def reserve(rt: Runtime, app_id: str, kind: str, name: str, ip: str) -> Reservation:
    """Count this attempt before anything is checked; `RATE_LIMITED` when a bucket is full."""
    found = buckets(app_id, kind, name, ip)
    reservation = await attempts.reserve(rt, portal_signin_failures, found, LOCK_WINDOW)
    if reservation is None:
        raise AdminError("RATE_LIMITED", LOCKED)
    return reservation


async def succeeded(
    conn: AsyncConnection, reservation: Reservation, app_id: str, kind: str, name: str, ip: str
) -> None:
    """A right answer: the attempt is no failure, and the typos at this address are forgiven."""
    await attempts.release(conn, reservation)
    await attempts.clear(conn, portal_signin_failures, _pair(app_id, kind, name, ip))


async def release(rt: Runtime, reservation: Reservation) -> None:
    """An attempt that was no guess (a redeemed key named, a suspended holder)."""
    async with rt.db.write() as conn:
        await attempts.release(conn, reservation)
