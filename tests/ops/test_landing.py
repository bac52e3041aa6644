"""`/` leads to the dashboard; `/docs` works without internet (issue #12 item 8)."""

from __future__ import annotations

import re

import httpx


async def test_root_redirects_to_the_dashboard(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/dashboard/"
    followed = await client.get("/", follow_redirects=True)
    assert followed.status_code == 200
    assert "text/html" in followed.headers["content-type"]


async def test_docs_load_their_assets_from_this_server(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    referenced = [a or b for a, b in urls]
    assert referenced, page.text
    for url in referenced:
        assert not url.startswith(("http:", "https:", "//")), url
    assert "/docs/assets/swagger-ui-bundle.js" in referenced
    assert "/docs/assets/swagger-ui.css" in referenced
    for url in referenced:
        if url.startswith("/docs/assets/"):
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
    js = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    assert "SwaggerUIBundle" in js.text
    assert (await client.get("/openapi.json")).status_code == 200
