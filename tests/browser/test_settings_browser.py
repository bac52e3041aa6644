"""The app settings pages in a real browser against a real `licentia serve` process."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Server

expect: Any = pytest.importorskip("playwright.sync_api").expect


def sign_in(page: Any, server: Server) -> None:
    page.goto(server.dashboard + "/apps")
    page.fill("#f-username", server.username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/apps$"))


def test_settings_flow(page: Any, server: Server) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    created = server.env.run_json("app", "create", "--owner", server.owner_id, "--name", "Tuned")
    app_id = str(created["app_id"])
    server.env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    sign_in(page, server)
    page.goto(f"{server.dashboard}/apps/{app_id}")
    page.click("nav.tabs >> text=Settings")
    page.wait_for_url(re.compile(r"/settings$"))
    expect(page.locator("nav.subnav a[aria-current=page]")).to_have_text("General")

    # A refused value stays in the field with its message; nothing is saved.
    page.fill("#f-session_idle_timeout", "0")
    page.uncheck("#f-hwid_lock")
    page.click("#save-settings")
    expect(page.locator("#e-session_idle_timeout")).to_contain_text("between 1 and")
    assert page.input_value("#f-session_idle_timeout") == "0"
    assert not page.is_checked("#f-hwid_lock")
    page.fill("#f-session_idle_timeout", "900")
    page.click("#save-settings")
    expect(page.locator("#notice")).to_have_text("Saved.")
    assert page.input_value("#f-session_idle_timeout") == "900"
    assert not page.is_checked("#f-hwid_lock")

    # Disable, then enable again.
    page.click("#disable-app")
    expect(page.locator("#app-state")).to_have_text("Disabled")
    page.click("#enable-app")
    expect(page.locator("#app-state")).to_have_text("Enabled")

    # Subscriptions: create one.
    page.click("nav.subnav >> text=Subscriptions")
    page.fill("#f-name", "Silver")
    page.fill("#f-level", "2")
    page.click("#create-subscription")
    expect(page.locator("#subscriptions tr[data-name='Silver']")).to_have_count(1)

    # Network: add a deny rule and check an address against it.
    page.click("nav.subnav >> text=Network & SID rules")
    page.fill("#f-value", "203.0.113.0/24")
    page.click("#add-rule")
    expect(page.locator("#rules tr[data-value='203.0.113.0/24']")).to_have_count(1)
    page.fill("#f-check_ip", "203.0.113.50")
    page.click("#check-access")
    expect(page.locator("#check-result")).to_contain_text("IP_BLOCKED")

    # Versions: publish a latest version and test an old one.
    page.click("nav.subnav >> text=Versions")
    page.fill("#f-latest_version", "2.0.0")
    page.click("#save-version-settings")
    expect(page.locator("#notice")).to_have_text("Saved.")
    page.fill("#f-test", "1.0.0")
    page.click("#test-version")
    expect(page.locator("#test-result")).to_contain_text("UPDATE_REQUIRED")

    # Responses: customize one message; it is marked custom.
    page.click("nav.subnav >> text=Responses")
    row = page.locator("tr[data-code='APP_DISABLED']")
    row.locator("textarea").fill("We are closed for maintenance.")
    row.locator("button:has-text('Set')").click()
    expect(page.locator("tr[data-code='APP_DISABLED'] .badge")).to_have_text("custom")
    assert not [e for e in errors if "Content Security Policy" in e], errors

    # Delete the app after typing its name.
    page.click("nav.subnav >> text=General")
    page.fill("#f-confirm", "tuned")
    page.click("#delete-app")
    expect(page.locator("#e-confirm")).to_be_visible()
    page.fill("#f-confirm", "Tuned")
    page.click("#delete-app")
    page.wait_for_url(re.compile(r"/dashboard/apps$"))
    assert "Tuned" not in page.locator("main").inner_text()


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
