"""`GET /healthz` reports whether the database answers."""

from __future__ import annotations

import httpx

from licentia.api.app import LicentiaApp


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_health_reports_a_dead_database(app: LicentiaApp, client: httpx.AsyncClient) -> None:
    assert app.runtime is not None
    await app.runtime.db.dispose()
    real = app.runtime.db.engine

    class Broken:
        def connect(self) -> None:
            raise OSError("database is down")

    app.runtime.db.engine = Broken()  # type: ignore[assignment]
    try:
        response = await client.get("/healthz")
    finally:
        app.runtime.db.engine = real
    assert response.status_code == 503
    assert response.json() == {
        **response.json(),
        "status": "unavailable",
        "database": "unavailable",
    }
