"""The shared dependencies every face builds once: database, secret box, hasher, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from licentia.config import Settings
from licentia.crypto.passwords import Passwords
from licentia.crypto.secretbox import SecretBox, load_or_create_master_key
from licentia.domain.timeutil import utcnow
from licentia.store.engine import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    box: SecretBox
    passwords: Passwords
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def build(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Runtime:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        master = load_or_create_master_key(settings.master_key, settings.data_dir)
        return cls(
            settings=settings,
            db=Database.from_url(settings.resolved_database_url, pool_size=settings.db_pool_size),
            box=SecretBox(master),
            passwords=Passwords(
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            ),
            clock=clock,
        )

    async def close(self) -> None:
        await self.db.dispose()
