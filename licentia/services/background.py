"""Background loops of a worker process (usage, last-seen and webhook flushes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
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
