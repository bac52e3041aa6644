"""Background loops of a worker process (usage, last-seen and webhook flushes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def finish_on_cancel(work: Awaitable[T]) -> T:
    """Await `work`; when the caller is cancelled meanwhile (the worker is stopping), let the
    work under way finish first, then pass the cancellation on.

    Cancelling a task in the middle of a database statement leaves its pooled connection
    half-used: the pool throws it away without closing it. A round of a background loop is a
    few short statements (and HTTP calls with their own deadline), so a stopping worker waits
    for it instead."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


async def every(
    interval: float, step: Callable[[], Awaitable[object]], log: logging.Logger, failure: str
) -> None:
    """Run `step` every `interval` seconds until cancelled (the caller runs it once more
    after); a round under way finishes first, and a failed round is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            await finish_on_cancel(step())
        except Exception:
            log.exception(failure)
