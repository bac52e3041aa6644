"""Chat moderation and live client logs in a real browser against `licentia serve`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from licentia.store.engine import Database
from licentia.store.tables import chat_channels, chat_messages, client_logs, users
from tests.browser.conftest import PASSWORD, Server

expect: Any = pytest.importorskip("playwright.sync_api").expect
T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on its own thread (Playwright's sync API owns this thread's loop)."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=60)


def _seed(server: Server, rows: list[tuple[Any, dict[str, Any]]]) -> None:
    """Insert rows as the client API would have written them (chat messages, client logs)."""

    async def run() -> None:
        db = Database.from_url(server.env.database_url, pool_size=1)
        try:
            async with db.write() as conn:
                for table, values in rows:
                    await conn.execute(table.insert().values(**values))
        finally:
            await db.dispose()

    _run(run)


def _ids(server: Server, app_id: str) -> tuple[str, str]:
    """The id of the channel `general` and of the user `mara`."""

    async def run() -> tuple[str, str]:
        db = Database.from_url(server.env.database_url, pool_size=1)
        try:
            async with db.read() as conn:
                channel = (
                    await conn.execute(
                        select(chat_channels.c.id).where(chat_channels.c.app_id == app_id)
                    )
                ).scalar_one()
                user = (
                    await conn.execute(select(users.c.id).where(users.c.app_id == app_id))
                ).scalar_one()
        finally:
            await db.dispose()
        return str(channel), str(user)

    return _run(run)


def _log_line(app_id: str, message: str) -> tuple[Any, dict[str, Any]]:
    return (
        client_logs,
        {
            "app_id": app_id,
            "session_prefix": "ab12cd34",
            "identity_kind": "user",
            "identity_name": "mara",
            "client_ip": "203.0.113.9",
            "reported_ip": "203.0.113.9",
            "message": message,
            "created_at": datetime.now(UTC),
        },
    )


def test_chat_moderation_and_live_logs(page: Any, server: Server) -> None:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(server.dashboard + "/apps")
    page.fill("#f-username", server.username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/apps$"))
    page.fill("#f-name", "ChatShop")
    page.click("form[action='/dashboard/apps'] button[type=submit]")
    page.click("#apps a:has-text('ChatShop')")
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

    # Chat: create a channel; a refused name keeps what was typed.
    page.click("nav.tabs >> text=Chat")
    page.click("summary:has-text('New channel')")
    page.fill("#f-name", "bad name")
    page.click("form[action$='/chat/channels'] button[type=submit]")
    expect(page.locator("#e-name")).to_be_visible()
    assert page.locator("#f-name").input_value() == "bad name"
    page.fill("#f-name", "general")
    page.click("form[action$='/chat/channels'] button[type=submit]")
    page.wait_for_url(re.compile(r"/chat/channels/general$"))

    channel_id, user_id = _ids(server, app_id)
    _seed(
        server,
        [
            (
                chat_messages,
                {
                    "channel_id": channel_id,
                    "app_id": app_id,
                    "user_id": user_id,
                    "username": "mara",
                    "message": text,
                    "client_ip": "198.51.100.7",
                    "created_at": datetime.now(UTC),
                },
            )
            for text in ("first words", "buy cheap gold", "last words")
        ],
    )
    page.reload()
    rows = page.locator("#messages tbody tr[data-message]")
    expect(rows).to_have_count(3)
    assert "last words" in rows.first.inner_text()  # newest first
    page.locator("tr:has-text('buy cheap gold') button[value=delete]").click()
    page.wait_for_load_state()
    expect(page.locator("#messages tbody tr[data-message]")).to_have_count(2)
    assert "buy cheap gold" not in page.content()

    # Mute the writer from the message row: the form comes prefilled.
    page.locator("tr:has-text('last words') a:has-text('mute')").click()
    page.wait_for_url(re.compile(r"/chat/mutes\?"))
    assert page.locator("#f-username").input_value() == "mara"
    assert page.locator("#f-channel").input_value() == "general"
    page.select_option("#f-duration", "7d")
    page.fill("#f-reason", "spam")
    page.click("#mute-form button[type=submit]")
    page.wait_for_url(re.compile(r"/chat/mutes$"))
    mute = page.locator("#mutes tr[data-username='mara']")
    expect(mute).to_have_count(1)
    assert "spam" in mute.inner_text()
    mute.locator("button[value=unmute]").click()
    page.wait_for_load_state()
    expect(page.locator("#mutes tr[data-username='mara']")).to_have_count(0)

    # Logs: follow live, a new line appears on top without a reload; then pause.
    _seed(server, [_log_line(app_id, "app started")])
    page.click("nav.tabs >> text=Logs")
    lines = page.locator("#log-table tr[data-id]")
    expect(lines).to_have_count(1)
    page.click("#live-follow")
    expect(page.locator("#live-state")).to_be_visible()
    _seed(server, [_log_line(app_id, "user clicked buy")])
    expect(lines).to_have_count(2, timeout=15_000)
    assert "user clicked buy" in lines.first.inner_text()
    page.click("#live-pause")
    expect(page.locator("#live-follow")).to_be_visible()
    assert page.locator("tbody#live").count() == 0

    # Export the current filter as a download.
    page.fill("#f-text", "clicked")
    page.press("#f-text", "Enter")
    expect(page.locator("#log-table tr[data-id]")).to_have_count(1)
    with page.expect_download() as download:
        page.click("#export-csv")
    path = download.value.path()
    text = Path(path).read_text(encoding="utf-8")
    assert "user clicked buy" in text and "app started" not in text

    # Purge everything (with the confirm box).
    page.click("summary:has-text('Purge')")
    page.check("#purge-form input[name=all]")
    page.click("#purge-form button[type=submit]")
    expect(page.locator("#e-confirm")).to_be_visible()
    page.check("#purge-form input[name=all]")
    page.check("#f-confirm")
    page.click("#purge-form button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("Purged 2 entries")
    expect(page.locator("#log-table tr[data-id]")).to_have_count(0)
    assert not [e for e in errors if "Content Security Policy" in e], errors


#: Engine-independent (the dashboard in a browser): ./scripts/test runs it in the SQLite pass.
pytestmark = pytest.mark.one_pass
