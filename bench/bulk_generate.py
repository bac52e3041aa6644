"""Bulk license generation benchmark (management B.6: 1,000,000 keys in under 60 s on SQLite).

Creates a temporary data folder (SQLite) or, with `--database-url postgresql+asyncpg://...`,
a fresh temporary database on that server (dropped afterwards), migrates it, creates an owner,
an app and a subscription, then generates `--count` keys with the default mask in ONE write
transaction (all or nothing, as every face does; batches of `admin_licenses.INSERT_BATCH`
calls of at most `MAX_COUNT` keys each join it). Prints keys/second.

    python bench/bulk_generate.py [--count 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from licentia.config import Settings
from licentia.services import admin_apps, admin_licenses
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade_async


async def _pg(admin_url: str, statement: str) -> None:
    import asyncpg

    dsn = urlunsplit(("postgresql", *urlsplit(admin_url)[1:]))
    conn = await asyncpg.connect(dsn, timeout=15)
    try:
        await conn.execute(statement, timeout=120)
    finally:
        await conn.close()


async def bench(count: int, database_url: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="licentia-bulk-"))
    temp_db = ""
    url = ""
    if database_url:
        temp_db = f"licentia_bench_{secrets.token_hex(4)}"
        await _pg(database_url, f'CREATE DATABASE "{temp_db}"')
        parts = urlsplit(database_url)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + temp_db, parts.query, ""))
    try:
        settings = Settings(data_dir=data_dir, database_url=url)
        await upgrade_async(settings.resolved_database_url)
        rt = Runtime.build(settings)
        try:
            await rt.check_master_key()
            owner = await admin_apps.create_owner(rt, "bench_owner", "bench-password-1")
            created = await admin_apps.create_app(rt, owner.owner_id, "BulkBench")
            await admin_apps.create_subscription(rt, created.app_id, "Default")
            started = time.perf_counter()
            made = 0
            async with rt.db.write():
                while made < count:
                    size = min(admin_licenses.MAX_COUNT, count - made)
                    batch = await admin_licenses.generate_batch(
                        rt, created.app_id, "Default", days=30, count=size
                    )
                    made += len(batch.keys)
            elapsed = time.perf_counter() - started
        finally:
            await rt.close()
        kind = "PostgreSQL" if temp_db else "SQLite"
        print(
            f"{kind}: {made:,} keys in {elapsed:.1f} s = {made / elapsed:,.0f} keys/s "
            f"(Python {platform.python_version()}, {platform.machine()})"
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if temp_db:
            await _pg(database_url, f'DROP DATABASE IF EXISTS "{temp_db}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server URL (postgresql+asyncpg://...); default: a temporary SQLite",
    )
    args = parser.parse_args()
    asyncio.run(bench(args.count, args.database_url))


if __name__ == "__main__":
    main()
