"""Password and TOTP code past the account-wide sign-in lock (issue #14 leftover).

A flood of password guesses from many addresses fills the account-wide bucket
(`dashboard_guard.LOCK_FAILURES_ACCOUNT`) and locks the name for every browser but a known
device. An owner with TOTP on, on a new device, still gets in: `sign_in_with_code` checks the
password and a current code in one step, counting the attempt in the per-address buckets only
(the name at this address, and this address), never in the account-wide one.

What keeps this from reopening the door the lock closed:

* **No oracle.** Every refusal is the lock's own answer (`RATE_LIMITED`, the same message),
  whether the name is unknown, the password wrong, TOTP off, the account suspended or the
  code wrong, and it does the same work on every path (a code bucket reserved, throwaway
  when the password is wrong; a secret read; one audit entry). Without a right password
  *and* a right code the step shows nothing, so guessing passwords through it gives a guesser
  no more than the lock already does.
* **Code guesses are limited per account.** A code is checked only after a right password,
  and each one is counted first in the account's TOTP bucket (`dashboard_guard.totp_bucket`,
  `TOTP_FAILURES` per `LOCK_WINDOW`, shared with the normal second step); a right code
  releases it. Every wrong code is audited (`owner.sign_in`, result `INVALID_TOTP`).
* A code is used once (`dashboard_totp_steps`), as in the normal second step.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from licentia.services import attempts, audit, dashboard_guard
from licentia.services.admin_common import AdminError
from licentia.services.attempts import Bucket
from licentia.services.dashboard_auth import (
    PASSWORD_MAX,
    SignInResult,
    _account,
    _audit,
    _audit_failure,
    _audit_owner,
    _insert_session,
    _last_step,
    _load,
    _mark_login,
    _require_row,
    _session,
    _subject,
    _totp_secret,
    _use_step,
    account_actor,
    totp_match,
)
from licentia.services.runtime import Runtime
from licentia.store.tables import accounts, dashboard_signin_failures

#: Checked against when there is no secret, so both paths do the same HMAC work.
_NO_SECRET = "A" * 32


def _locked() -> AdminError:
    return AdminError("RATE_LIMITED", dashboard_guard.LOCKED)


async def sign_in_with_code(
    rt: Runtime,
    username: str,
    password: str,
    code: str,
    *,
    ip: str,
    user_agent: str = "",
) -> SignInResult:
    """A `full` session for the right password plus a right TOTP code, even while the
    account-wide lock is on; `RATE_LIMITED` (the lock's answer) for everything else."""
    name = _subject(username)
    async with rt.db.read() as conn:
        row = (await conn.execute(select(accounts).where(accounts.c.username_norm == name))).first()
    reservation = await dashboard_guard.reserve(rt, username, ip, known_device=True)
    stored = row.password_hash if row is not None else None
    now = rt.clock()
    good = bool(name) and bool(password) and len(password) <= PASSWORD_MAX
    good = await rt.passwords.verify(stored, password[:PASSWORD_MAX]) and good
    account = _account(row, row.id) if row is not None else None
    can = (
        good
        and account is not None
        and row is not None
        and not row.must_change_password
        and account.totp_enabled
        and account.status == "active"
    )
    # The same work whichever part is wrong (a throwaway code bucket when the password is),
    # so neither the answer nor its time tells that a password was right.
    subject = account.id if can and account is not None else secrets.token_hex(16)
    code_hold = await attempts.reserve(
        rt,
        dashboard_signin_failures,
        [Bucket("totp", subject, dashboard_guard.TOTP_FAILURES)],
        dashboard_guard.LOCK_WINDOW,
    )
    async with rt.db.read() as conn:
        secret = await _totp_secret(conn, rt, subject)
        after = await _last_step(conn, subject)
    code = code.strip()
    step = totp_match(secret or _NO_SECRET, code, now, after=after)
    if not can or row is None or account is None or step is None or code_hold is None:
        if not good or row is None:
            await _audit_failure(rt, row, ip, "INVALID_CREDENTIALS")
        else:
            result = "INVALID_TOTP" if can and code_hold else "RATE_LIMITED"
            await audit.record_standalone(
                rt,
                account_actor(row.id, ip),
                owner_account_id=_audit_owner(account) if account else None,
                capability="owner.sign_in",
                result=result,
                target_type="account",
                target=row.id,
            )
        raise _locked()
    async with rt.db.write() as conn:
        await _use_step(conn, account.id, step)
        await attempts.release(conn, code_hold)
        await dashboard_guard.succeeded(conn, reservation, username, ip)
        token, id_hash = await _insert_session(
            conn, rt, account.id, stage="full", ip=ip, user_agent=user_agent
        )
        await _mark_login(conn, rt, account.id, ip)
        who = account_actor(account.id, ip)
        await _audit(conn, rt, account, who, "owner.sign_in", {"past_lock": [None, "totp"]})
        session = _session(_require_row(await _load(conn, id_hash)))
    device = dashboard_guard.device_token(rt, account.id, row.password_hash, now)
    return SignInResult(token=token, stage="full", session=session, device=device)
