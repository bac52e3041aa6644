"""The app overview and integration pages in a real browser against a real `licentia serve`:
client calls show up in the charts, the 7/30 switch swaps in place, the secret is revealed."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.browser.conftest import PASSWORD, Server

expect: Any = pytest.importorskip("playwright.sync_api").expect


def client_call(server: Server, endpoint: str, fields: dict[str, Any]) -> httpx.Response:
    """One client API call as an SDK makes it (request id, nonce and timestamp)."""
    request_id, nonce = str(uuid.uuid4()), secrets.token_hex(16)
    ts = int(time.time() * 1000)
    payload = {**fields, "request_id": request_id, "nonce": nonce, "timestamp": ts}
    return httpx.post(
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


def test_overview_charts_and_integration(page: Any, server: Server) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "ChartShop")
    app_id, secret = str(created["app_id"]), str(created["secret"])
    init = {"owner_id": server.owner_id, "app_name": "ChartShop", "secret": secret}
    reply = client_call(server, "init", {**init, "version": "1.0.0"})
    assert reply.status_code == 200, reply.text
    session_id = reply.json()["session_id"]
    failed = client_call(
        server, "login", {"session_id": session_id, "username": "ghost", "password": "nope-123"}
    )
    code = failed.json()["code"]
    assert code != "OK"

    page.goto(server.dashboard + f"/apps/{app_id}")
    page.fill("#f-username", server.username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/dashboard/apps/{app_id}$"))

    expect(page.locator("#overview-charts h2")).to_contain_text("last 7 days")
    # The init and the login reached the usage counts; the init opened a session, but an
    # app start without a login is not a person: the active-users chart stays empty.
    expect(page.locator("#chart-calls rect.bar")).to_have_count(1)
    assert page.locator("#chart-calls rect.bar").get_attribute("data-value") == "2"
    expect(page.locator("#chart-sessions")).to_contain_text("No data yet")
    expect(page.locator("#chart-registrations")).to_contain_text("No data yet")
    expect(page.locator(f"#chart-failures rect.bar[data-code='{code}']")).to_have_count(1)
    expect(page.locator("#chart-failures figcaption")).to_contain_text("1 of 2 auth calls failed")
    assert "failed call" in page.locator("#chart-failures rect.bar title").first.text_content()

    # The range switch swaps the charts in place (no page load) and updates the address.
    page.evaluate("window.__stay = 1")
    page.click("nav.range a:has-text('30 days')")
    expect(page.locator("#overview-charts h2")).to_contain_text("last 30 days")
    page.wait_for_url(re.compile(r"days=30$"))
    assert page.evaluate("window.__stay") == 1
    assert page.locator("#chart-calls text.axis").count() > 6
    expect(page.locator("#count-licenses")).to_have_text("0")

    page.click("nav.tabs >> text=Integration")
    page.wait_for_url(re.compile(r"/integration$"))
    expect(page.locator("#owner-id")).to_have_text(server.owner_id)
    expect(page.locator("#sdk-go")).to_contain_text(f"{server.base_url}/api/v2")
    assert "BEGIN PUBLIC KEY" in page.locator("#key-pem").inner_text()
    expect(page.locator("#app-secret")).to_have_count(0)
    page.click("#reveal-secret")
    expect(page.locator("#app-secret")).to_have_text(secret)
    expect(page.locator("button[data-copy='sdk-python']")).to_be_visible()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("button[data-copy='sdk-go']")
    expect(page.locator("button[data-copy='sdk-go']")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").startswith("auth := NewAuthlyX(")

    audit = env.run_json("audit", "list", "--owner", server.owner_id, "--capability", "app.secret")
    assert [(e["face"], e["target"]) for e in audit["entries"]] == [("dashboard", app_id)]  # type: ignore[index, union-attr]
    # (the browser's own favicon.ico request is a 404 and not ours to check)
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


def test_online_now_updates_without_reload(page: Any, server: Server) -> None:
    """htmx polls the "Online now" list under the CSP: a license login shows up in place."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "LiveShop")
    app_id, secret = str(created["app_id"]), str(created["secret"])
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    keys = env.run_json("license", "generate", "--app", app_id, "--subscription", "Gold",
                        "--days", "30")["keys"]  # fmt: skip
    page.goto(server.dashboard + f"/apps/{app_id}/online")
    if page.locator("#f-username").count():
        page.fill("#f-username", server.username)
        page.fill("#f-password", PASSWORD)
        page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/apps/{app_id}/online$"))
    expect(page.locator("#online-count")).to_have_text("0")
    expect(page.locator("#online-empty")).to_be_visible()
    page.evaluate("window.__stay = 1")

    init = {"owner_id": server.owner_id, "app_name": "LiveShop", "secret": secret}
    session_id = client_call(server, "init", {**init, "version": "1.2.0"}).json()["session_id"]
    login = client_call(
        server, "licenses", {"session_id": session_id, "license_key": keys[0], "sid": "HW-LIVE-1"}
    )
    assert login.status_code == 200, login.text
    # The next poll (every 5 s) swaps the list in place: same page, new rows.
    expect(page.locator("#online-count")).to_have_text("1", timeout=15_000)
    row = page.locator("#online-list tr[data-kind='license']")
    expect(row).to_contain_text(keys[0])
    expect(row).to_contain_text("HW-LIVE-1")
    expect(row).to_contain_text("1.2.0")
    assert page.evaluate("window.__stay") == 1
    assert not [e for e in errors if "Content Security Policy" in e or "Uncaught" in e], errors


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
