"""Dashboard sign-in lockout as the issue #14 attacker drives it: simultaneous guesses, the
account-wide ceiling and the known device that gets the owner in, the same work for unknown
names. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from licentia.services import dashboard_auth, dashboard_guard
from licentia.store.tables import accounts, audit_log
from tests.conftest import FakeClock
from tests.web.conftest import PASSWORD, Browser, Dash, csrf_of


async def test_simultaneous_guesses_are_counted_before_they_are_checked(dash: Dash) -> None:
    browser = dash.browser()
    token = csrf_of((await browser.get("/signin")).text)

    async def attempt(password: str) -> int:
        data = {"csrf_token": token, "username": dash.username, "password": password}
        return (await browser.post("/signin", data)).status_code

    statuses = await asyncio.gather(*(attempt(f"wrong-{n}") for n in range(39)))
    # Only as many guesses as the lock allows were checked; every other one was refused
    # before its password was looked at (before the fix all 39 were checked, none locked).
    assert sorted(statuses) == [400] * dashboard_auth.LOCK_FAILURES + [429] * (
        39 - dashboard_auth.LOCK_FAILURES
    )
    assert await attempt(PASSWORD) == 429


def _device_cookie(browser: Browser) -> Any:
    found = [c for c in browser.http.cookies.jar if c.name.startswith("licentia_device_")]
    assert len(found) == 1, [c.name for c in browser.http.cookies.jar]
    return found[0]


async def test_a_known_device_gets_in_past_the_account_wide_lock(
    dash: Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_guard, "LOCK_FAILURES_ACCOUNT", 6)
    first = dash.browser()
    assert (await first.sign_in(dash.username)).status_code == 303
    cookie = _device_cookie(first)
    assert cookie.path == "/dashboard" and cookie.secure
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert PASSWORD not in cookie.value and dash.username not in cookie.value

    # A botnet: six addresses, one wrong guess each, reach the account-wide ceiling.
    for _ in range(6):
        assert (await dash.browser().sign_in(dash.username, "wrong-password")).status_code == 400
    assert (await dash.browser().sign_in(dash.username)).status_code == 429

    # The owner's browser from before (another address again) still gets in...
    known = dash.browser()
    known.http.cookies.jar.set_cookie(cookie)
    assert (await known.sign_in(dash.username)).status_code == 303
    # ...but not with a wrong password, and the cookie is worth nothing for another name
    # or when forged.
    again = dash.browser()
    again.http.cookies.jar.set_cookie(cookie)
    assert (await again.sign_in(dash.username, "wrong-password")).status_code == 400
    other = await dash.new_owner("other")
    elsewhere = dash.browser()
    elsewhere.http.cookies.jar.set_cookie(cookie)
    for _ in range(6):
        await dash.browser().sign_in(other.username, "wrong-password")
    assert (await elsewhere.sign_in(other.username)).status_code == 429
    forged = dash.browser()
    cookie.value = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    forged.http.cookies.jar.set_cookie(cookie)
    assert (await forged.sign_in(dash.username)).status_code == 429


async def test_a_password_change_revokes_known_devices(dash: Dash) -> None:
    assert dash.owner is not None
    browser = dash.browser()
    assert (await browser.sign_in(dash.username)).status_code == 303
    async with dash.rt.db.read() as conn:
        stored = (
            await conn.execute(
                select(accounts.c.password_hash).where(accounts.c.id == dash.owner.id)
            )
        ).scalar_one()
    value = _device_cookie(browser).value
    now = dash.rt.clock()
    assert dashboard_guard.is_known_device(dash.rt, [value], dash.owner.id, stored, now)
    assert not dashboard_guard.is_known_device(dash.rt, [value], dash.owner.id, stored + "x", now)
    assert not dashboard_guard.is_known_device(dash.rt, [value], "another-account", stored, now)
    later = now + dashboard_guard.DEVICE_LIFETIME + dashboard_guard.LOCK_WINDOW
    assert not dashboard_guard.is_known_device(dash.rt, [value], dash.owner.id, stored, later)


async def test_unknown_names_cost_a_password_verification_and_an_audit_entry(
    dash: Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real = dash.rt.passwords.verify

    async def spy(stored: str | None, password: str) -> bool:
        calls.append(stored)
        return await real(stored, password)

    monkeypatch.setattr(dash.rt.passwords, "verify", spy)
    writes: list[str] = []
    real_audit = dashboard_auth.audit.record_standalone

    async def audit_spy(*args: Any, **kwargs: Any) -> None:
        writes.append(kwargs["result"])
        await real_audit(*args, **kwargs)

    monkeypatch.setattr(dashboard_auth.audit, "record_standalone", audit_spy)
    unknown = await dash.browser().sign_in("nobody_" + dash.username, "wrong-password")
    wrong = await dash.browser().sign_in(dash.username, "wrong-password")
    assert unknown.status_code == wrong.status_code == 400
    assert len(calls) == 2 and calls[0] is None and calls[1] is not None
    # The same writes on both paths; the unknown name is not stored anywhere.
    assert writes == ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS"]


async def test_with_totp_the_device_is_known_only_after_the_code(
    dash: Dash, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_guard, "LOCK_FAILURES_ACCOUNT", 4)
    first = await dash.signed_in()
    await first.submit("/account", "/account/totp/start", {})
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', (await first.get("/account")).text)
    assert found is not None
    secret, step = found.group(1), dashboard_auth.totp_step(dash.rt.clock())
    code = dashboard_auth.totp_at(secret, step)
    on = await first.submit("/account", "/account/totp/enable", {"code": code})
    assert on.status_code == 200
    browser = dash.browser()
    half = await browser.sign_in(dash.username)
    assert half.headers["location"] == "/dashboard/signin/totp"
    assert not [c for c in browser.http.cookies.jar if c.name.startswith("licentia_device_")]
    clock.advance(30)
    code = dashboard_auth.totp_at(secret, step + 1)
    assert (await browser.submit("/signin/totp", "/signin/totp", {"code": code})).status_code == 303
    cookie = _device_cookie(browser)

    for _ in range(4):
        assert (await dash.browser().sign_in(dash.username, "wrong-password")).status_code == 400
    assert (await dash.browser().sign_in(dash.username)).status_code == 429
    known = dash.browser()
    known.http.cookies.jar.set_cookie(cookie)
    assert (await known.sign_in(dash.username)).headers["location"] == "/dashboard/signin/totp"
    clock.advance(30)
    code = dashboard_auth.totp_at(secret, step + 2)
    done = await known.submit("/signin/totp", "/signin/totp", {"code": code})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/apps"


async def _totp_on(dash: Dash) -> tuple[str, int]:
    first = await dash.signed_in()
    await first.submit("/account", "/account/totp/start", {})
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', (await first.get("/account")).text)
    assert found is not None
    secret, step = found.group(1), dashboard_auth.totp_step(dash.rt.clock())
    code = dashboard_auth.totp_at(secret, step)
    assert (
        await first.submit("/account", "/account/totp/enable", {"code": code})
    ).status_code == 200
    return secret, step


async def _audit_results(dash: Dash) -> list[str]:
    async with dash.rt.db.read() as conn:
        rows = await conn.execute(
            select(audit_log.c.result)
            .where(audit_log.c.target == dash.owner.id)
            .where(audit_log.c.capability == "owner.sign_in")
        )
        return [r.result for r in rows]


async def test_password_and_totp_code_get_in_past_the_account_wide_lock(
    dash: Dash, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #14 leftover: an owner locked out by a password-guess flood gets in from a new
    device with password + a current code; every other answer is the lock's, and code
    guesses are limited per account and audited."""
    monkeypatch.setattr(dashboard_guard, "LOCK_FAILURES_ACCOUNT", 4)
    monkeypatch.setattr(dashboard_guard, "TOTP_FAILURES", 3)
    secret, step = await _totp_on(dash)
    for _ in range(4):
        assert (await dash.browser().sign_in(dash.username, "wrong-password")).status_code == 400
    locked = await dash.browser().sign_in(dash.username)
    assert locked.status_code == 429 and 'name="code"' in locked.text

    async def with_code(password: str, code: str) -> httpx.Response:
        data = {"username": dash.username, "password": password, "code": code}
        return await dash.browser().submit("/signin", "/signin", data)

    clock.advance(30)
    good = dashboard_auth.totp_at(secret, step + 1)
    # A wrong password with the right code, and the right password with a wrong code, both
    # get the lock's own answer: nothing tells which part was wrong.
    wrong_password = await with_code("wrong-password", good)
    wrong_code = await with_code(PASSWORD, "000000" if good != "000000" else "111111")
    assert wrong_password.status_code == wrong_code.status_code == 429
    assert (
        dashboard_guard.LOCKED in wrong_password.text and dashboard_guard.LOCKED in wrong_code.text
    )
    done = await with_code(PASSWORD, good)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/apps"
    assert "INVALID_TOTP" in await _audit_results(dash)
    # The code was used; code guesses (after a right password) stop at TOTP_FAILURES.
    assert (await with_code(PASSWORD, good)).status_code == 429
    clock.advance(30)
    for _ in range(2):
        assert (await with_code(PASSWORD, "999999")).status_code == 429
    later = dashboard_auth.totp_at(secret, step + 2)
    assert (await with_code(PASSWORD, later)).status_code == 429  # budget spent: unchecked
    assert (await _audit_results(dash)).count("INVALID_TOTP") == 3


async def test_code_guesses_in_the_normal_second_step_are_limited_per_account(
    dash: Dash, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_guard, "TOTP_FAILURES", 2)
    secret, step = await _totp_on(dash)
    for _ in range(2):  # from two addresses, so no per-address bucket is what stops it
        browser = dash.browser()
        await browser.sign_in(dash.username)
        wrong = await browser.submit("/signin/totp", "/signin/totp", {"code": "999999"})
        assert wrong.status_code == 400
    browser = dash.browser()
    assert (await browser.sign_in(dash.username)).headers["location"] == "/dashboard/signin/totp"
    clock.advance(30)
    code = dashboard_auth.totp_at(secret, step + 1)
    refused = await browser.submit("/signin/totp", "/signin/totp", {"code": code})
    assert refused.status_code == 429
