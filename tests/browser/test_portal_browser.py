"""The end-user portal in a real browser against a real `licentia serve` process: an end user
signs in and resets their HWID; the vendor finds the reset in the audit log."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Server

expect: Any = pytest.importorskip("playwright.sync_api").expect

USER_PASSWORD = "mara-pass-123"


def client_call(server: Server, endpoint: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One client API call as an SDK makes it (request id, nonce and timestamp)."""
    request_id, nonce = str(uuid.uuid4()), secrets.token_hex(16)
    ts = int(time.time() * 1000)
    payload = {**fields, "request_id": request_id, "nonce": nonce, "timestamp": ts}
    response = httpx.post(
        f"{server.base_url}/api/v2/{endpoint}",
        content=json.dumps(payload).encode(),
        headers={
            "Content-Type": "application/json",
            "x-request-id": request_id,
            "x-auth-nonce": nonce,
            "x-auth-timestamp": str(ts),
        },
        timeout=10,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def shop(server: Server) -> tuple[str, str, str]:
    """An app with its portal on, a user `mara` bound to one PC, and a key-only license."""
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "PortalShop")
    app_id, secret = str(created["app_id"]), str(created["secret"])
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    env.run_json(
        "user", "create", "--app", app_id, "--username", "mara",
        "--password", USER_PASSWORD, "--subscription", "Gold",
    )  # fmt: skip
    env.run_json("app", "set", app_id, "user_panel_enabled", "true")
    init = {"owner_id": server.owner_id, "app_name": "PortalShop", "secret": secret}
    session = client_call(server, "init", {**init, "version": "1.0.0"})["session_id"]
    client_call(
        server,
        "login",
        {"session_id": session, "username": "mara", "password": USER_PASSWORD, "sid": "PC-OLD-7"},
    )
    generated = env.run_json(
        "license", "generate", "--app", app_id, "--subscription", "Gold", "--days", "30"
    )
    key = str(generated["keys"][0])
    return app_id, secret, key


def test_end_user_signs_in_and_resets_the_hwid(page: Any, server: Server) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    app_id, _, key = shop(server)
    portal = f"{server.base_url}/portal/{app_id}"

    page.goto(portal)
    page.wait_for_url(re.compile(r"/signin$"))
    page.fill("#user-signin #f-username", "mara")
    page.fill("#user-signin #f-password", "wrong-password")
    page.click("#user-signin button[type=submit]")
    expect(page.locator("#e-user_form")).to_have_text("Wrong username or password.")

    page.fill("#user-signin #f-password", USER_PASSWORD)
    page.click("#user-signin button[type=submit]")
    page.wait_for_url(re.compile(rf"/portal/{app_id}$"))
    expect(page.locator("#state")).to_have_text("active")
    expect(page.locator("#devices")).to_contain_text("PC-OLD-7")

    page.click("#reset-hwid")
    page.wait_for_url(re.compile(r"\?done=reset$"))
    expect(page.locator("#notice")).to_contain_text("Your HWID was reset.")
    expect(page.locator("#devices-none")).to_be_visible()
    expect(page.locator("#resets tbody tr")).to_have_count(1)
    # The default cooldown (24 hours) now holds the next reset back, and says until when.
    expect(page.locator("#reset-hwid")).to_have_count(0)
    expect(page.locator("#e-reset")).to_contain_text("The next reset is possible from")

    # The vendor sees the reset in the audit log, by capability.
    listed = server.env.run_json(
        "audit", "list", "--owner", server.owner_id, "--capability", "portal.reset_hwid"
    )
    entries = listed["entries"]
    assert isinstance(entries, list) and len(entries) == 1
    assert (entries[0]["actor_kind"], entries[0]["face"], entries[0]["target"]) == (
        "portal",
        "portal",
        "mara",
    )

    # Sign out; a key-only license signs in with the key alone.
    page.click("header nav button[type=submit]")
    page.wait_for_url(re.compile(r"/signin$"))
    page.fill("#key-signin #f-key", key)
    page.click("#key-signin button[type=submit]")
    page.wait_for_url(re.compile(rf"/portal/{app_id}$"))
    expect(page.locator("#state")).to_have_text("unused")
    expect(page.locator("#expiry")).to_have_text("30 days from first use")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_portal_of_an_app_without_it_is_404(page: Any, server: Server) -> None:
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "NoPortal")
    response = page.goto(f"{server.base_url}/portal/{created['app_id']}")
    assert response is not None and response.status == 404
    assert "There is nothing here." in page.content()


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
