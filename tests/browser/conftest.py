"""Fixtures for browser tests: one real `licentia serve` and one Debian chromium per module.

Playwright drives `/usr/bin/chromium` (never a downloaded browser). Without it, or without
the `playwright` package, the tests are skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.serverproc import (
    ServerEnv,
    create_postgres_database,
    drop_postgres_database,
    postgres_admin_url,
    sqlite_url,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "Owner-Pass-123"


@dataclass
class Server:
    env: ServerEnv
    base_url: str
    username: str
    owner_id: str

    @property
    def dashboard(self) -> str:
        return self.base_url + "/dashboard"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A migrated installation with one owner, served on a free 127.0.0.1 port."""
    data_dir = tmp_path_factory.mktemp("licentia-browser")
    admin_url = postgres_admin_url()
    db_name = None
    if admin_url is not None:
        database_url, db_name = create_postgres_database(admin_url)
    else:
        database_url = sqlite_url(data_dir / "licentia.db")
    env = ServerEnv(data_dir=data_dir, database_url=database_url)
    try:
        env.run("migrate")
        username = f"browser_{secrets.token_hex(3)}"
        owner = env.run_json("owner", "create", "--username", username, "--password", PASSWORD)
        with env.serve() as base_url:
            yield Server(env, base_url, username, str(owner["owner_id"]))
    finally:
        env.close()
        if admin_url is not None and db_name is not None:
            drop_postgres_database(admin_url, db_name)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing"
    )
    # Playwright must never fetch a browser of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
