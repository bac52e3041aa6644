"""A stopping worker lets a background round that is under way finish (services/background.py):
a database statement cut off halfway would leave its pooled connection broken."""

from __future__ import annotations

import asyncio
import logging

import pytest

from licentia.services.background import every, finish_on_cancel

pytestmark = pytest.mark.one_pass


async def test_cancel_waits_for_the_round_under_way_then_passes_on() -> None:
    steps: list[str] = []
    started = asyncio.Event()

    async def round_() -> int:
        steps.append("start")
        started.set()
        await asyncio.sleep(0.05)
        steps.append("end")
        return 1

    async def loop() -> None:
        while True:
            await finish_on_cancel(round_())
            await asyncio.sleep(10)

    task = asyncio.create_task(loop())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["start", "end"]  # finished, not cut off, and no second round


async def test_result_and_errors_pass_through() -> None:
    async def ok() -> str:
        return "done"

    async def broken() -> None:
        raise ValueError("boom")

    assert await finish_on_cancel(ok()) == "done"
    with pytest.raises(ValueError, match="boom"):
        await finish_on_cancel(broken())


async def test_every_logs_a_failed_round_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    third = asyncio.Event()

    async def step() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 3:
            third.set()
        if len(rounds) == 1:
            raise RuntimeError("database is down")

    task = asyncio.create_task(
        every(0.01, step, logging.getLogger("licentia.test"), "round failed")
    )
    await asyncio.wait_for(third.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "round failed" in caplog.text and "database is down" in caplog.text
