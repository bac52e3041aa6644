"""argon2id password hashing, run off the event loop, a bounded number at a time.

Defaults follow OWASP (m=19 MiB, t=2, p=1). Unknown usernames verify against a fixed dummy
hash so response time does not reveal which usernames exist.

At most `concurrency` hashes run at once per process (issue #14, #10 point 1): callers wait
their turn on an asyncio semaphore (a caller that goes away leaves the queue), and the hashing
itself runs on a thread pool of that size of its own. A login flood then takes at most that
many cores, and the event loop keeps serving cheap calls (`validate-session`, `init`) instead
of queueing them behind dozens of 20 ms hashes.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

_POOLS: dict[int, ThreadPoolExecutor] = {}


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_concurrency(workers: int = 1) -> int:
    """The cores one worker may spend on hashing: its share of the cores less one (for the
    event loops), at least 1."""
    return max(1, usable_cores() // max(1, workers) - 1)


def _pool(size: int) -> ThreadPoolExecutor:
    """One hashing pool per size and process, shared by every `Passwords` of that size."""
    pool = _POOLS.get(size)
    if pool is None:
        pool = _POOLS[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="argon2")
    return pool


class Passwords:
    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_kib: int = 19456,
        parallelism: int = 1,
        concurrency: int = 0,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash: str | None = None
        self.concurrency = concurrency if concurrency > 0 else default_concurrency()
        self._pool = _pool(self.concurrency)
        # asyncio primitives belong to one event loop: one semaphore per loop.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def _dummy(self) -> str:
        """The hash unknown usernames verify against, made on first use: a CLI command or a
        worker that never checks a password does not pay for an argon2 hash at start."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("licentia-dummy-password")
        return self._dummy_hash

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    async def _bounded(self, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.concurrency)
        async with gate:
            return await loop.run_in_executor(self._pool, work)

    async def hash(self, password: str) -> str:
        return await self._bounded(lambda: self.hash_sync(password))

    async def verify(self, stored: str | None, password: str) -> bool:
        """Verify; `stored=None` (unknown user) costs the same and returns False."""
        return await self._bounded(lambda: self.verify_sync(stored, password))
