"""Licenses, users, devices and sessions pages in a real browser against `licentia serve`: bulk
ban by checkboxes, a license's detail page, creating a user and ending their real client
session, registering a device, and ending every session of the app."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Server
from tests.browser.test_portal_browser import client_call

expect: Any = pytest.importorskip("playwright.sync_api").expect


def _sign_in(page: Any, server: Server) -> None:
    page.goto(server.dashboard + "/signin")
    page.fill("#f-username", server.username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/apps$"))


def test_licenses_users_devices_and_sessions(page: Any, server: Server) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "IdShop")
    app_id, secret = str(created["app_id"]), str(created["secret"])
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    _sign_in(page, server)
    app = f"{server.dashboard}/apps/{app_id}"

    # Generate three keys, tick two, ban them in one go.
    page.goto(app + "/licenses")
    page.click("summary:has-text('Generate keys')")
    page.fill("#f-count", "3")
    page.fill("#f-mask", "BRW-XXXXXXXX")
    page.click("form#generate button[type=submit]")
    keys = page.locator("#new-keys").input_value().split("\n")
    assert len(keys) == 3
    assert page.locator("#batch-download").is_visible()
    for key in keys[:2]:
        page.check(f"tr[data-key='{key}'] input[type=checkbox]")
    page.fill("form#bulk #f-reason", "test ban")
    page.click("form#bulk button[value=ban]")
    page.wait_for_url(re.compile(r"/licenses$"))
    for key in keys[:2]:
        expect(page.locator(f"tr[data-key='{key}'] td.state")).to_have_text("banned")
    expect(page.locator(f"tr[data-key='{keys[2]}'] td.state")).to_have_text("unused")

    # The third key's page: edit its note, extend it, then delete it (with the box ticked).
    page.click(f"tr[data-key='{keys[2]}'] a")
    expect(page.locator("#license-key")).to_have_text(keys[2])
    page.fill("#edit #f-note", "from the browser")
    page.click("#edit button[type=submit]")
    expect(page.locator("dl.facts")).to_contain_text("from the browser")
    page.fill("#f-shift_days", "5")
    page.click("#term button:has-text('Extend')")
    expect(page.locator("#license-expiry")).to_have_text("35 days from first use")
    page.check("#delete input[name=confirm]")
    page.click("#delete button[type=submit]")
    page.wait_for_url(re.compile(r"/licenses$"))
    expect(page.locator(f"tr[data-key='{keys[2]}']")).to_have_count(0)

    # Create a user; a client signs in with it; the dashboard ends that live session.
    page.goto(app + "/users")
    page.click("summary:has-text('Create a user')")
    page.fill("#f-username", "mara")
    page.fill("#f-password", "mara-pass-123")
    page.fill("#f-days", "30")
    page.click("form#create-user button[type=submit]")
    expect(page.locator("#user-name")).to_have_text("mara")
    init = {"owner_id": server.owner_id, "app_name": "IdShop", "secret": secret}
    session = client_call(server, "init", {**init, "version": "1.0.0"})["session_id"]
    client_call(
        server,
        "login",
        {"session_id": session, "username": "mara", "password": "mara-pass-123", "sid": "PC-1"},
    )
    page.reload()
    expect(page.locator("#bindings tr[data-sid='PC-1']")).to_have_count(1)
    expect(page.locator(f"#live-sessions tr[data-session='{session[:8]}']")).to_have_count(1)
    page.click(f"#live-sessions tr[data-session='{session[:8]}'] button")
    expect(page.locator("#live-sessions")).to_contain_text("None.")
    page.fill("#state #f-reason", "abuse")
    page.click("#state button:has-text('Ban')")
    expect(page.locator("#user-state")).to_have_text("banned")

    # Register a device, then find it by a search that htmx runs as you type.
    page.goto(app + "/devices")
    page.click("summary:has-text('Register a device')")
    page.select_option("#f-device_type", "processor")
    page.fill("#f-device_id", "CPU-BROWSER-1")
    page.click("form#create-device button[type=submit]")
    expect(page.locator("#device-id")).to_have_text("CPU-BROWSER-1")
    page.goto(app + "/devices")
    page.fill("#f-q", "cpu-b")
    expect(page.locator("#devices tr[data-device]")).to_have_count(1)

    # Sessions: a second client session, ended with "end all" after the confirmation box. It
    # only ran init (an app start), so the list shows it only with app starts included.
    session2 = client_call(server, "init", {**init, "version": "1.0.0"})["session_id"]
    page.goto(app + "/sessions")
    expect(page.locator(f"tr[data-session='{session2[:8]}']")).to_have_count(0)
    page.goto(app + "/sessions?kind=all")
    expect(page.locator(f"tr[data-session='{session2[:8]}']")).to_have_count(1)
    page.check("#end-all input[name=confirm]")
    page.click("#end-all button[type=submit]")
    page.wait_for_url(re.compile(r"/sessions"))
    expect(page.locator("#rows")).to_contain_text("No sessions match.")
    assert not [e for e in errors if "Content Security Policy" in e], errors


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
