"""The dashboard in a real browser against a real `licentia serve` process."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Server

expect: Any = pytest.importorskip("playwright.sync_api").expect


def sign_in(page: Any, server: Server) -> None:
    page.goto(server.dashboard + "/apps")
    assert "/dashboard/signin" in page.url  # not signed in yet
    page.fill("#f-username", server.username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/apps$"))


def test_sign_in_create_app_generate_keys_and_ban_user(page: Any, server: Server) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, server)
    page.fill("#f-name", "BrowserShop")
    page.click("form[action='/dashboard/apps'] button[type=submit]")
    assert page.locator("#app-secret").inner_text().strip() != ""
    page.click("#apps a:has-text('BrowserShop')")
    page.wait_for_url(re.compile(r"/dashboard/apps/[0-9a-f-]{36}$"))
    app_id = page.url.rsplit("/", 1)[1]

    env = server.env
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    env.run_json(
        "user",
        "create",
        "--app",
        app_id,
        "--username",
        "mara",
        "--password",
        "pw-123456",
        "--subscription",
        "Gold",
    )

    page.click("nav.tabs >> text=Licenses")
    page.click("summary")
    page.fill("#f-count", "2")
    page.fill("#f-mask", "WEB-XXXXXXXX")
    page.click("form[action$='/licenses/generate'] button[type=submit]")
    keys = page.locator("#new-keys").input_value().split("\n")
    assert len(keys) == 2 and all(re.fullmatch(r"WEB-[A-Z0-9]{8}", k) for k in keys)

    # htmx: typing in the search box replaces the rows in place.
    page.fill("#f-q", keys[0])
    rows = page.locator("#licenses tbody tr[data-key]")
    expect(rows).to_have_count(1)
    assert page.locator("#licenses tbody tr[data-key]").get_attribute("data-key") == keys[0]

    page.click("nav.tabs >> text=Users")
    row = page.locator("tr[data-username='mara']")
    assert row.locator("td.state").inner_text() == "active"
    # The row's ban opens its confirmation page (with the reason), then says what changed.
    row.locator("a:has-text('ban…')").click()
    page.fill("#confirm-form #f-reason", "refund")
    page.click("#confirm-form button[type=submit]")
    expect(page.locator("#flash")).to_contain_text("Banned user mara")
    assert page.locator("tr[data-username='mara'] td.state").inner_text() == "banned"
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_post_without_csrf_token_is_refused(page: Any, server: Server) -> None:
    sign_in(page, server)
    # A form built without the hidden token, as another site would post it.
    with page.expect_navigation() as navigation:
        page.evaluate(
            """() => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = '/dashboard/apps';
                const name = document.createElement('input');
                name.name = 'name';
                name.value = 'Forged';
                form.appendChild(name);
                document.body.appendChild(form);
                form.submit();
            }"""
        )
    assert navigation.value.status == 403
    assert "Request refused" in page.content()
    page.goto(server.dashboard + "/apps")
    assert "Forged" not in page.content()
    # The same form with the page's token goes through.
    token = page.locator("input[name=csrf_token]").first.input_value()
    response = page.request.post(
        server.dashboard + "/apps", form={"name": "Genuine", "csrf_token": token}
    )
    assert response.status == 200


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
