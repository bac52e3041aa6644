"""`GET /metrics` under a real `licentia serve --workers 2`: one scrape, whichever worker
answers it, covers both workers (prometheus-client multiprocess mode), and the folder the
workers share is emptied when the server starts."""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .serverproc import (
    ServerEnv,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)

pytestmark = pytest.mark.e2e

TOKEN = "scrape-token-for-tests"
MAX_ROUNDS = 200  # rounds of 8 concurrent requests until both workers have answered some


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ServerEnv]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    admin_url = postgres_admin_url()
    name = None
    if admin_url is None:
        url = sqlite_url(data_dir / "licentia.db")
    else:
        url, name = create_postgres_database(admin_url)
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over by a crashed server")
    extra = {
        "LICENTIA_METRICS_ENABLED": "true",
        "LICENTIA_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    server_env = ServerEnv(data_dir=data_dir, database_url=url, extra=extra)
    try:
        server_env.run("migrate")
        yield server_env
    finally:
        server_env.close()
        if admin_url is not None and name is not None:
            drop_postgres_database(admin_url, name)


def _value(text: str, series: str, default: float | None = None) -> float:
    found = re.findall(rf"^{re.escape(series)} (\S+)$", text, flags=re.MULTILINE)
    if not found and default is not None:
        return default
    assert len(found) == 1, (series, text)
    return float(found[0])


def _scrape(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


def _worker_pids(folder: Path) -> set[str]:
    return {p.stem.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}


def test_one_scrape_sums_every_worker(env: ServerEnv) -> None:
    folder = Path(env.extra["PROMETHEUS_MULTIPROC_DIR"])
    with env.serve(workers=2) as base_url:
        assert not (folder / "counter_999999.db").exists()  # emptied at start
        series = 'licentia_http_requests_total{face="client",endpoint="public-key",status="200"}'
        count = 'licentia_http_request_duration_seconds_count{face="client",endpoint="public-key"}'
        # The readiness probe of `serve()` asked for the public key too: start from there.
        first = _scrape(base_url)
        before, before_count = _value(first, series, 0), _value(first, count, 0)

        def hit(_: int) -> int:
            # A new connection each time, so the kernel may hand it to either worker.
            with httpx.Client(base_url=base_url, timeout=10) as client:
                return client.get("/api/v2/public-key").status_code

        sent = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(MAX_ROUNDS):
                assert list(pool.map(hit, range(8))) == [200] * 8
                sent += 8
                if len(_worker_pids(folder)) == 2:
                    break
        assert len(_worker_pids(folder)) == 2, "one worker answered every request"

        for _ in range(6):  # every scrape, whichever worker answers, sees all requests
            text = _scrape(base_url)
            assert _value(text, series) == before + sent
            assert _value(text, count) == before_count + sent
            assert _value(text, "licentia_workers") == 2
            assert _value(text, "licentia_db_pool_size") > 0
            assert "\nlicentia_app_config_cache_entries " in text
            assert "\nlicentia_replay_store_entries " in text
