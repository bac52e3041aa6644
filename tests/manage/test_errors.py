"""The error shape of the whole management API, the catch-alls and OpenAPI."""

from __future__ import annotations

import pytest

from licentia.services import views_licenses
from tests.manage.conftest import BASE, Manage, assert_error


async def test_unknown_paths_and_methods(m: Manage) -> None:
    assert_error(await m.get("/nothing/here"), 404, "NOT_FOUND")
    assert_error(await m.call("PUT", f"/apps/{m.app_id}/licenses"), 405, "METHOD_NOT_ALLOWED")
    assert_error(await m.call("DELETE", "/apps"), 405, "METHOD_NOT_ALLOWED")


async def test_an_unexpected_failure_is_500_without_internals(
    m: Manage, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views_licenses, "list_licenses", boom)
    response = await m.get(f"/apps/{m.app_id}/licenses")
    body = assert_error(response, 500, "INTERNAL")
    assert "secret internals" not in response.text and "RuntimeError" not in body["message"]
    assert response.headers["x-request-id"]


async def test_a_bad_request_id_is_replaced(m: Manage) -> None:
    response = await m.get("/apps", headers={"X-Request-Id": "bad id\twith spaces"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


async def test_validation_comes_after_authentication(m: Manage) -> None:
    response = await m.client.post(f"{BASE}/apps/{m.app_id}/licenses/generate", json={"amount": -1})
    assert_error(response, 401, "INVALID_TOKEN")


async def test_openapi_documents_the_routes(m: Manage) -> None:
    spec = (await m.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, methods in {
        f"{BASE}/apps": {"get"},
        f"{BASE}/apps/{{app_id}}": {"get", "patch"},
        f"{BASE}/apps/{{app_id}}/subscriptions": {"get", "post"},
        f"{BASE}/apps/{{app_id}}/licenses": {"get", "post"},
        f"{BASE}/apps/{{app_id}}/licenses/generate": {"post"},
        f"{BASE}/apps/{{app_id}}/licenses/{{key}}": {"get", "delete"},
        f"{BASE}/apps/{{app_id}}/licenses/{{key}}/ban": {"post"},
        f"{BASE}/apps/{{app_id}}/users": {"get", "post"},
        f"{BASE}/apps/{{app_id}}/users/{{username}}": {"get", "delete"},
        f"{BASE}/apps/{{app_id}}/users/{{username}}/unpause": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
    page = paths[f"{BASE}/apps/{{app_id}}/licenses"]["get"]
    assert "LicensePage" in str(page["responses"]["200"])
    assert "ErrorOut" in str(page["responses"]["4XX"])
    assert "422" not in page["responses"]
    assert not any("{path}" in p for p in paths)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = await m.client.get("/docs")
    assert docs.status_code == 200
