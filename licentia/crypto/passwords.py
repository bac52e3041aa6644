"""argon2id password hashing, run off the event loop.

Defaults follow OWASP (m=19 MiB, t=2, p=1). Unknown usernames verify against a fixed dummy
hash so response time does not reveal which usernames exist.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Passwords:
    def __init__(
        self, *, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._dummy = self._hasher.hash("licentia-dummy-password")

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

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Verify; `stored=None` (unknown user) costs the same and returns False."""
        return await asyncio.to_thread(self.verify_sync, stored, password)
