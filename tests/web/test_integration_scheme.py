"""The integration page behind a reverse proxy (issue #12 item 5): the client API URL it shows
uses the scheme the browser used, taken from `X-Forwarded-Proto` only when the request comes
from a trusted proxy (`LICENTIA_TRUSTED_PROXIES`); a client's own header is not believed."""

from __future__ import annotations

from typing import Any

import pytest

from licentia.services import admin
from tests.web.conftest import Browser, Dash

PROXY = "10.77.0.1"
CLIENT = "10.88.0.5"
HOST = "licensing.example.com"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"trusted_proxies": f"{PROXY},192.0.2.0/24"}


async def _page(dash: Dash, peer: str, headers: dict[str, str]) -> str:
    """The integration page fetched over plain http from `peer`, with a signed-in session."""
    assert dash.owner is not None
    created = await admin.create_app(dash.rt, dash.owner.owner_id, "Proxied")
    signed = await dash.signed_in()
    cookie = "; ".join(f"{k}={v}" for k, v in signed.http.cookies.items())
    browser: Browser = dash.browser(base_url=f"http://{HOST}", ip=peer)
    page = await browser.get(
        f"/apps/{created.app_id}/integration", headers={**headers, "Cookie": cookie}
    )
    assert page.status_code == 200, page.text[:500]
    return page.text


@pytest.mark.parametrize("proto", ["https", "HTTPS", "https, http"])
async def test_trusted_proxy_scheme_is_used(dash: Dash, proto: str) -> None:
    html = await _page(dash, PROXY, {"X-Forwarded-Proto": proto})
    assert f"https://{HOST}/api/v2" in html
    assert f"http://{HOST}/api/v2" not in html


async def test_trusted_proxy_range(dash: Dash) -> None:
    html = await _page(dash, "192.0.2.44", {"X-Forwarded-Proto": "https"})
    assert f"https://{HOST}/api/v2" in html


async def test_untrusted_client_header_is_ignored(dash: Dash) -> None:
    html = await _page(dash, CLIENT, {"X-Forwarded-Proto": "https"})
    assert f"http://{HOST}/api/v2" in html
    assert f"https://{HOST}/api/v2" not in html


@pytest.mark.parametrize(
    "headers", [{}, {"X-Forwarded-Proto": "javascript"}, {"X-Forwarded-Proto": ""}]
)
async def test_trusted_proxy_without_a_usable_scheme(dash: Dash, headers: dict[str, str]) -> None:
    html = await _page(dash, PROXY, headers)
    assert f"http://{HOST}/api/v2" in html
    assert "javascript://" not in html


async def test_forwarded_https_makes_cookies_secure(dash: Dash) -> None:
    """Signing in over http from the trusted proxy that says https: the cookies are Secure."""
    browser = dash.browser(base_url="http://localhost", ip=PROXY)
    page = await browser.get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert page.status_code == 200
    assert "secure" in page.headers.get("set-cookie", "").lower()
    plain = await dash.browser(base_url="http://localhost", ip=CLIENT).get(
        "/signin", headers={"X-Forwarded-Proto": "https"}
    )
    assert "secure" not in plain.headers.get("set-cookie", "").lower()
