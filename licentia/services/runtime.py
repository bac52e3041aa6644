"""The shared dependencies every face builds once: database, secret box, hasher, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from licentia.config import Settings
from licentia.crypto.passwords import Passwords, default_concurrency
from licentia.crypto.secretbox import MasterKeyError, SecretBox, load_or_create_master_key
from licentia.domain.timeutil import utcnow
from licentia.services.procmem import release_large_allocations
from licentia.store.engine import Database
from licentia.store.tables import apps, signing_keys


async def sample_secret(conn: AsyncConnection) -> tuple[str, str] | None:
    """One encrypted secret of the database and its purpose, to test a master key against:
    the oldest signing key, else an app secret (None: the database holds no secret yet)."""
    row = (
        await conn.execute(
            select(signing_keys.c.private_enc).order_by(signing_keys.c.created_at).limit(1)
        )
    ).first()
    if row is not None:
        return row[0], "signing-key"
    row = (await conn.execute(select(apps.c.secret_enc).limit(1))).first()
    return None if row is None else (row[0], "app-secret")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    box: SecretBox
    passwords: Passwords
    clock: Callable[[], datetime] = field(default=utcnow)
    #: True when this process generated `master.key` just now (see `check_master_key`).
    master_key_generated: bool = False

    @classmethod
    def build(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Runtime:
        release_large_allocations()  # argon2id buffers go back to the OS after each use
        if settings.is_sqlite:
            settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        master, generated = load_or_create_master_key(
            settings.master_key, settings.data_dir, allow_generate=settings.env == "dev"
        )
        return cls(
            master_key_generated=generated,
            settings=settings,
            db=Database.from_url(settings.resolved_database_url, pool_size=settings.db_pool_size),
            box=SecretBox(master),
            passwords=Passwords(
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
                concurrency=settings.hash_concurrency or default_concurrency(settings.workers),
            ),
            clock=clock,
        )

    async def check_master_key(self) -> None:
        """Refuse to run with a master key that cannot read this database's secrets.

        A data folder whose `master.key` went missing must not silently get a new key: new
        secrets would be encrypted with it while the old ones stay unreadable. A freshly
        generated key file that does not match is removed again.
        """
        async with self.db.read() as conn:
            sample = await sample_secret(conn)
        if sample is None:
            return
        try:
            self.box.decrypt(*sample)
        except MasterKeyError:
            if self.master_key_generated:
                (self.settings.data_dir / "master.key").unlink(missing_ok=True)
            raise MasterKeyError(
                "the master key does not match this database: its secrets were encrypted with "
                "another key (restore master.key or set LICENTIA_MASTER_KEY)"
            ) from None

    async def close(self) -> None:
        await self.db.dispose()
