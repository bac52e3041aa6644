"""Portal sign-in lockout as the issue #14 attacker drives it: simultaneous guesses are
counted before they are checked, the per-name ceiling across addresses, and the same work for
unknown names. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from licentia.services import portal as portal_service
from licentia.services import portal_guard
from tests.portal.conftest import PASSWORD, Browser, Portal, csrf_of


async def _at_once(browser: Browser, username: str, passwords: list[str]) -> list[int]:
    token = csrf_of((await browser.get("/signin")).text)

    async def one(password: str) -> int:
        data = {"csrf_token": token, "method": "user", "username": username, "password": password}
        return (await browser.post("/signin", data)).status_code

    return list(await asyncio.gather(*(one(p) for p in passwords)))


async def test_simultaneous_guesses_are_counted_before_they_are_checked(portal: Portal) -> None:
    await portal.user("mara")
    browser = portal.browser()
    statuses = await _at_once(browser, "mara", [f"wrong-{n}" for n in range(39)])
    assert sorted(statuses) == [400] * portal_service.LOCK_FAILURES + [429] * (
        39 - portal_service.LOCK_FAILURES
    )
    assert (await _at_once(browser, "mara", [PASSWORD])) == [429]


async def test_simultaneous_key_guesses_are_counted_too(portal: Portal) -> None:
    browser = portal.browser()
    token = csrf_of((await browser.get("/signin")).text)

    async def one(n: int) -> int:
        data = {"csrf_token": token, "method": "license", "key": f"NO-SUCH-KEY-{n}"}
        return (await browser.post("/signin", data)).status_code

    statuses = await asyncio.gather(*(one(n) for n in range(30)))
    assert sorted(statuses) == [400] * portal_service.LOCK_FAILURES + [429] * (
        30 - portal_service.LOCK_FAILURES
    )


async def test_a_name_guessed_from_everywhere_hits_a_ceiling(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    await portal.user("mara")
    monkeypatch.setattr(portal_guard, "LOCK_FAILURES_NAME", 6)
    for _ in range(6):
        assert (await portal.browser().sign_in("mara", "bad-password")).status_code == 400
    assert (await portal.browser().sign_in("mara")).status_code == 429
    # Other names of the app are not affected.
    await portal.user("nina", sid="SID-N")
    assert (await portal.browser().sign_in("nina")).status_code == 303


async def test_unknown_names_cost_a_password_verification(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    await portal.user("mara")
    calls: list[str | None] = []
    real = portal.rt.passwords.verify

    async def spy(stored: str | None, password: str) -> bool:
        calls.append(stored)
        return await real(stored, password)

    monkeypatch.setattr(portal.rt.passwords, "verify", spy)
    assert (await portal.browser().sign_in("nobody", "bad-password")).status_code == 400
    assert (await portal.browser().sign_in("mara", "bad-password")).status_code == 400
    assert len(calls) == 2 and calls[0] is None and calls[1] is not None
