"""Small helpers shared by unit tests."""

from __future__ import annotations

from typing import Any


def drive(coro: Any) -> Any:
    """Run a coroutine that never suspends (pure in-memory code) without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("coroutine suspended; use an event loop")
