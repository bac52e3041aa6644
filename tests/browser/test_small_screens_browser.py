"""Phones, small windows, dark mode and accessibility (#13 items 5, 7, 8) in Debian chromium
against `licentia serve`: every dashboard page at 390 px and 768 px stays within the window
(lists scroll inside their own box), the header menu folds, the theme switch sticks, focus
shows a ring, and axe-core (vendored from npm, `vendor/axe.min.js`) finds no WCAG 2 A/AA
violation, colour contrast included, in the light and the dark theme. Also a bulk ban of
ticked users through its preview page on a phone-sized window."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, Server

expect: Any = pytest.importorskip("playwright.sync_api").expect

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
_RUN_AXE = """async () => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}});
  const where = v => v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | ");
  return result.violations.map(v => v.id + ": " + where(v));
}"""


def _sign_in(page: Any, server: Server) -> None:
    page.goto(server.dashboard + "/signin")
    page.fill("#f-username", server.username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/apps$"))


def _overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0 = fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def _report(problems: dict[str, Any]) -> str:
    return "\n".join(f"{url}: {found}" for url, found in problems.items())


def _violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return list(page.evaluate(_RUN_AXE))


@pytest.fixture
def phone(chromium: Any) -> Any:
    # bypass_csp lets the test inject axe-core; the dashboard's own CSP stays as served.
    context = chromium.new_context(viewport=PHONE, bypass_csp=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def _pages(server: Server, app_id: str) -> list[str]:
    app = f"/apps/{app_id}"
    tails = [
        "",
        "/licenses",
        "/users",
        "/devices",
        "/sessions",
        "/chat",
        "/logs",
        "/settings",
        "/integration",
        "/online",
        "/sales",
        "/user/ana",  # the support console
    ]
    owner = ["/apps", "/team", "/resellers", "/access", "/audit", "/account"]
    return [server.dashboard + p for p in owner + [app + t for t in tails]]


def test_every_page_fits_a_phone_and_passes_axe_in_both_themes(phone: Any, server: Server) -> None:
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "PhoneShop")
    app_id = str(created["app_id"])
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    phone.goto(server.dashboard + "/signin")
    assert (_overflow(phone), _violations(phone)) == (0, [])
    _sign_in(phone, server)
    app = f"{server.dashboard}/apps/{app_id}"

    # Some rows so the lists have something to lay out: three keys and three users.
    phone.goto(app + "/licenses")
    phone.click("summary:has-text('Generate keys')")
    phone.fill("#f-count", "3")
    phone.fill("#f-note", "a rather long note that must not widen the page on a phone")
    phone.click("form#generate button[type=submit]")
    for name in ("ana", "bo", "cy"):
        phone.goto(app + "/users")
        phone.click("summary:has-text('Create a user')")
        phone.fill("#f-username", name)
        phone.fill("#f-password", "pass-123456")
        phone.fill("#f-days", "30")
        phone.click("form#create-user button[type=submit]")
        expect(phone.locator("#user-name")).to_have_text(name)

    # The header menu folds at 390 px and opens with its button.
    phone.goto(server.dashboard + "/apps")
    expect(phone.locator("#main-nav")).to_be_hidden()
    phone.click("button.nav-toggle")
    expect(phone.locator("#main-nav")).to_be_visible()
    expect(phone.locator("button.nav-toggle")).to_have_attribute("aria-expanded", "true")

    problems: dict[str, Any] = {}
    for url in _pages(server, app_id):
        phone.goto(url)
        wide, found = _overflow(phone), _violations(phone)
        if wide > 0 or found:
            problems[url] = (wide, found)
    assert not problems, _report(problems)

    # The dark theme: chosen with the header switch, kept across pages (a cookie).
    phone.click("form.theme button[value=dark]")
    expect(phone.locator("html")).to_have_attribute("data-theme", "dark")
    for url in _pages(server, app_id)[6:12]:  # the app's pages
        phone.goto(url)
        expect(phone.locator("html")).to_have_attribute("data-theme", "dark")
        found = _violations(phone)
        if found:
            problems[url] = found
    assert not problems, _report(problems)
    background = "getComputedStyle(document.body).backgroundColor"
    assert phone.evaluate(background) == "rgb(17, 21, 27)"
    # "Auto" follows the system: light here, dark when the system asks for dark.
    phone.click("form.theme button[value=auto]")
    expect(phone.locator("html")).not_to_have_attribute("data-theme", "dark")
    assert phone.evaluate(background) == "rgb(246, 247, 249)"
    phone.emulate_media(color_scheme="dark")
    assert phone.evaluate(background) == "rgb(17, 21, 27)"
    phone.emulate_media(color_scheme="light")

    # A visible focus ring on the keyboard-focused button.
    phone.goto(app + "/licenses")
    phone.focus("#f-q")
    phone.keyboard.press("Tab")
    ring = phone.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert ring == ["solid", "3px"], ring

    # 768 px: every list still fits.
    phone.set_viewport_size(TABLET)
    wide_pages = {}
    for url in _pages(server, app_id):
        phone.goto(url)
        if _overflow(phone) > 0:
            wide_pages[url] = _overflow(phone)
    assert not wide_pages, wide_pages


def test_bulk_ban_with_preview_on_a_phone(phone: Any, server: Server) -> None:
    env = server.env
    created = env.run_json("app", "create", "--owner", server.owner_id, "--name", "BulkShop")
    app_id = str(created["app_id"])
    env.run_json("subscription", "create", "--app", app_id, "--name", "Gold")
    _sign_in(phone, server)
    users = f"{server.dashboard}/apps/{app_id}/users"
    for name in ("dee", "eve"):
        phone.goto(users)
        phone.click("summary:has-text('Create a user')")
        phone.fill("#f-username", name)
        phone.fill("#f-password", "pass-123456")
        phone.click("form#create-user button[type=submit]")
        expect(phone.locator("#flash")).to_contain_text(f"Created user {name}")
    phone.goto(users)
    for name in ("dee", "eve"):
        phone.check(f"tr[data-username='{name}'] input[type=checkbox]")
    phone.click("form#user-bulk button[value=ban]")
    expect(phone.locator("#bulk-count")).to_have_text("2")
    assert _overflow(phone) == 0
    phone.fill("#bulk-confirm-form #f-reason", "chargeback")
    phone.click("#bulk-confirm-form button[type=submit]")
    expect(phone.locator("#flash")).to_have_text("Banned 2 users (reason: chargeback).")
    for name in ("dee", "eve"):
        expect(phone.locator(f"tr[data-username='{name}'] td.state")).to_have_text("banned")


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
