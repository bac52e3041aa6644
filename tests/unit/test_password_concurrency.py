"""Password hashing is bounded per process (issue #14, #10 point 1): at most `concurrency`
argon2 computations run at once, whatever the number of callers; the rest wait on the event
loop, and a caller that gives up leaves the queue. No timing: the hashes are held on an event
until the test has counted them."""

from __future__ import annotations

import asyncio
import threading

import pytest

from licentia.config import Settings
from licentia.crypto.passwords import Passwords, default_concurrency, usable_cores
from licentia.services.runtime import Runtime

CALLERS = 12


class Counting(Passwords):
    """Passwords whose verifications block on `release` and count how many run at once."""

    def __init__(self, concurrency: int) -> None:
        super().__init__(time_cost=1, memory_kib=64, concurrency=concurrency)
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started = 0

    def verify_sync(self, stored: str | None, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.started += 1
            self.peak = max(self.peak, self.running)
        try:
            assert self.release.wait(30), "the test never released the hashes"
            return super().verify_sync(stored, password)
        finally:
            with self.lock:
                self.running -= 1


async def _wait_for(predicate: object, what: str) -> None:
    for _ in range(3000):
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never saw {what}")


@pytest.mark.parametrize("limit", [1, 3])
async def test_at_most_limit_hashes_run_at_once(limit: int) -> None:
    pw = Counting(limit)
    stored = pw.hash_sync("right-password")
    tasks = [asyncio.create_task(pw.verify(stored, "right-password")) for _ in range(CALLERS)]
    await _wait_for(lambda: pw.running == limit, f"{limit} running hashes")
    for _ in range(20):  # give the other callers every chance to start a hash too
        await asyncio.sleep(0)
    assert (pw.running, pw.started) == (limit, limit)
    pw.release.set()
    assert await asyncio.gather(*tasks) == [True] * CALLERS
    assert pw.peak == limit


async def test_cheap_work_runs_while_hashes_queue() -> None:
    """The event loop is not blocked by queued hashes: other coroutines keep running."""
    pw = Counting(1)
    tasks = [asyncio.create_task(pw.verify(None, "x")) for _ in range(CALLERS)]
    await _wait_for(lambda: pw.running == 1, "one running hash")
    ticks = 0
    for _ in range(50):
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 50 and pw.started == 1
    pw.release.set()
    assert await asyncio.gather(*tasks) == [False] * CALLERS


async def test_cancelled_caller_leaves_the_queue() -> None:
    pw = Counting(1)
    first = asyncio.create_task(pw.verify(None, "x"))
    await _wait_for(lambda: pw.running == 1, "one running hash")
    waiting = asyncio.create_task(pw.verify(None, "x"))
    await asyncio.sleep(0)
    waiting.cancel()
    pw.release.set()
    assert await first is False
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pw.started == 1


def test_default_leaves_a_core_per_worker() -> None:
    cores = usable_cores()
    assert default_concurrency(1) == max(1, cores - 1)
    assert default_concurrency(cores) == 1
    assert default_concurrency(cores * 4) == 1


def test_runtime_uses_the_setting(tmp_path: object) -> None:
    settings = Settings(
        data_dir=tmp_path, hash_concurrency=3, argon2_memory_kib=64, argon2_time_cost=1
    )
    assert Runtime.build(settings).passwords.concurrency == 3
    auto = Settings(data_dir=tmp_path, workers=2, argon2_memory_kib=64, argon2_time_cost=1)
    assert Runtime.build(auto).passwords.concurrency == default_concurrency(2)


def test_unknown_user_verifies_against_a_dummy_hash_made_on_first_use() -> None:
    pw = Passwords(time_cost=1, memory_kib=64)
    assert pw._dummy_hash is None  # building a Runtime (every CLI command) hashes nothing
    assert pw.verify_sync(None, "licentia-dummy-password") is False
    dummy = pw._dummy_hash
    assert dummy is not None and dummy.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert pw.verify_sync(None, "other") is False
    assert pw._dummy_hash == dummy  # made once
