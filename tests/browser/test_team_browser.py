"""The owner-level pages in a real browser: a role and a staff member, a rate plan with a
price, a reseller with coins, and the reseller generating keys on its own page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Server

expect: Any = pytest.importorskip("playwright.sync_api").expect


def _sign_in(page: Any, server: Server, username: str, password: str) -> None:
    page.goto(server.dashboard + "/signin")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_team_resellers_and_reseller_keys(server: Server, page: Any, chromium: Any) -> None:
    # `server` first: with PostgreSQL its set-up runs asyncio, which Playwright's loop blocks.
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    env = server.env
    app = env.run_json("app", "create", "--owner", server.owner_id, "--name", "TeamShop")
    app_id = str(app["app_id"])
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")

    _sign_in(page, server, server.username, PASSWORD)
    page.click("header nav >> text=Team")
    page.wait_for_url(re.compile(r"/dashboard/team$"))

    # A role from the checkboxes, then a new staff member with it.
    page.click("#roles summary")
    page.fill("#f-role-name", "Support")
    page.check("input[name=perm][value='license:read']")
    page.check("input[name=perm][value='user:read']")
    page.click("#role-form button[type=submit]")
    row = page.locator("#role-list tr[data-role='Support']")
    expect(row).to_contain_text("license:read, user:read")
    page.click("#add-staff summary")
    page.fill("#f-staff-username", "sam")
    page.fill("#f-staff-email", "sam@example.com")
    page.click("#add-staff button[type=submit]")
    assert re.fullmatch(r"[A-Za-z0-9]{16}", page.locator("#temporary-password").inner_text())
    expect(page.locator("#staff-list tr[data-member='sam']")).to_contain_text("active")

    # A rate plan with a priced product, a new reseller on it, and coins.
    page.click("header nav >> text=Resellers")
    page.click("#plans summary")
    page.fill("#f-plan-name", "Basic")
    page.click("form[action$='/resellers/plans'] button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/resellers/plans/[0-9a-f-]{36}$"))
    page.select_option("#f-price-app", app_id)
    page.fill("#f-price-sub", "Gold")
    page.fill("#f-price-days", "30")
    page.fill("#f-price-price", "3")
    page.click("#price-form button[type=submit]")
    expect(page.locator("#price-list tr[data-price='Gold']")).to_contain_text("30 days")
    page.click("text=Resellers >> nth=1")
    page.click("#add-reseller summary")
    page.fill("#f-add-username", "rex")
    page.fill("#f-add-email", "rex@example.com")
    page.select_option("#f-add-plan", label="Basic")
    page.click("#add-reseller button[type=submit]")
    temporary = page.locator("#temporary-password").inner_text()
    page.click("#reseller-list a:has-text('rex')")
    page.fill("#f-amount", "-1")
    page.click("#coins button[type=submit]")
    expect(page.locator("#e-coins_amount")).to_contain_text("not enough coins")
    page.fill("#f-amount", "10")
    page.click("#coins button[type=submit]")
    expect(page.locator("#balance")).to_have_text("10")

    # The audit log shows what was done, from the dashboard.
    page.click("header nav >> text=Audit")
    page.fill("#f-capability", "reseller")
    page.click("#audit-filter button[type=submit]")
    expect(page.locator("#audit-list tr[data-capability='reseller.coins']")).to_have_count(1)

    # The reseller: first sign-in forces a new password, then its keys page.
    context = chromium.new_context()
    seller = context.new_page()
    try:
        _sign_in(seller, server, "rex", temporary)
        seller.wait_for_url(re.compile(r"/dashboard/account$"))
        seller.fill("#f-current_password", temporary)
        seller.fill("#f-new_password", "Reseller-Pass-1")
        seller.fill("#f-confirm_password", "Reseller-Pass-1")
        seller.click("#password button[type=submit]")
        seller.goto(server.dashboard + "/workspace")
        seller.wait_for_url(re.compile(r"/dashboard/reseller$"))
        expect(seller.locator("#balance")).to_have_text("10 coins")
        seller.fill("#f-gen-amount", "4")
        seller.click("#generate button[type=submit]")
        expect(seller.locator("#e-gen_amount")).to_contain_text("not enough coins")
        seller.fill("#f-gen-amount", "3")
        seller.click("#generate button[type=submit]")
        keys = seller.locator("#new-keys").input_value().split("\n")
        assert len(keys) == 3
        expect(seller.locator("#balance")).to_have_text("1 coins")
        expect(seller.locator("#my-keys tr[data-key]")).to_have_count(3)
        assert "/dashboard/team" not in seller.content()
    finally:
        context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
