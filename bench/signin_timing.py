"""Sign-in timing benchmark (issue #14): does the answer time tell which accounts exist?

Builds the app in-process (a temporary SQLite data folder, or with `--database-url
postgresql+asyncpg://...` a fresh temporary database on that server, dropped afterwards) with
the production argon2id parameters (cheaper ones with `--argon2-memory-kib` and
`--argon2-time-cost`, which make the work around the hash stand out of the hashing's noise on
a busy machine), an owner for the dashboard and, for the portal, an app
with its portal on and one end user. Then it POSTs the sign-in forms through the ASGI app
(httpx `ASGITransport`, the CSRF pre-token flow of a browser), interleaving `--tries`
attempts with an unknown name and `--tries` with a known name and a wrong password, and
prints per face the median of each, their difference and a two-sided Mann-Whitney U test
(normal approximation with tie correction). A p-value well above 0.05 means the two cannot
be told apart at this sample size; before the fix the medians differed by 2.3 to 2.8 ms with
p < 0.001 (an extra audit write on the wrong-password path only).

The lockout limits are raised in this process so that every try is checked (the point is
the work one check does, not the lock). This is a benchmark, not a test: no assertion.

    python bench/signin_timing.py [--tries 300] [--database-url URL]
    python bench/signin_timing.py --argon2-memory-kib 1024 --argon2-time-cost 1
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import math
import platform
import re
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from licentia.api.app import create_app
from licentia.config import Settings
from licentia.services import admin, admin_apps, admin_identities

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "bench-owner-password-1"
WARMUP = 5


def mann_whitney(a: list[float], b: list[float]) -> tuple[float, float]:
    """U of `a` and the two-sided p-value (normal approximation, tie-corrected)."""
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(r for r, (_, g) in zip(ranks, pooled, strict=True) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return u1, 1.0
    z = (abs(u1 - n1 * n2 / 2) - 0.5) / sigma
    return u1, math.erfc(max(z, 0.0) / math.sqrt(2))


async def _pg(admin_url: str, statement: str) -> None:
    import asyncpg

    dsn = urlunsplit(("postgresql", *urlsplit(admin_url)[1:]))
    conn = await asyncpg.connect(dsn, timeout=15)
    try:
        await conn.execute(statement, timeout=120)
    finally:
        await conn.close()


async def _measure(
    http: httpx.AsyncClient, page: str, forms: dict[str, dict[str, str]], tries: int
) -> dict[str, list[float]]:
    found = CSRF.search((await http.get(page)).text)
    assert found, "no CSRF field on the sign-in page"
    token = found.group(1)
    times: dict[str, list[float]] = {name: [] for name in forms}
    for n in range(WARMUP + tries):
        order = list(forms) if n % 2 == 0 else list(reversed(forms))
        for name in order:
            data = {"csrf_token": token, **forms[name]}
            started = time.perf_counter()
            response = await http.post(page, data=data)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 400, (name, response.status_code)
            again = CSRF.search(response.text)  # a page may come with a fresh token
            token = again.group(1) if again else token
            if n >= WARMUP:
                times[name].append(elapsed)
    return times


def _report(face: str, times: dict[str, list[float]]) -> None:
    unknown, wrong = times["unknown"], times["wrong"]
    mu, mw = statistics.median(unknown), statistics.median(wrong)
    u, p = mann_whitney(unknown, wrong)
    print(
        f"{face:9} unknown name median {mu:7.2f} ms | wrong password median {mw:7.2f} ms | "
        f"difference {mw - mu:+6.2f} ms | Mann-Whitney U={u:,.0f} p={p:.3f} "
        f"(n={len(unknown)} each)"
    )


def _raise_limits() -> None:
    # The guards hold the limits; the older modules read their own copies (kept so that the
    # script also measures a checkout from before issue #14).
    names = ("dashboard_guard", "portal_guard", "dashboard_auth", "portal")
    for module_name in names:
        try:
            module = importlib.import_module(f"licentia.services.{module_name}")
        except ImportError:
            continue
        for name in dir(module):
            if name.startswith("LOCK_FAILURES"):
                setattr(module, name, 10**9)


async def bench(tries: int, database_url: str, memory_kib: int, time_cost: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="licentia-timing-"))
    temp_db = url = ""
    if database_url:
        temp_db = f"licentia_bench_{secrets.token_hex(4)}"
        await _pg(database_url, f'CREATE DATABASE "{temp_db}"')
        parts = urlsplit(database_url)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + temp_db, parts.query, ""))
    _raise_limits()
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        auto_migrate=True,
        argon2_memory_kib=memory_kib,
        argon2_time_cost=time_cost,
    )
    app = create_app(settings)
    try:
        await app.startup()
        rt = app.runtime
        assert rt is not None
        owner = await admin.create_owner(rt, "bench_owner", PASSWORD)
        created = await admin_apps.create_app(rt, owner.owner_id, "TimingBench")
        await admin_apps.create_subscription(rt, created.app_id, "Default")
        await admin_apps.set_app_settings(rt, created.app_id, {"user_panel_enabled": True})
        await admin_identities.create_user(
            rt, created.app_id, "bench_user", PASSWORD, "Default", lifetime=True
        )
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as http:
            dash = await _measure(
                http,
                "/dashboard/signin",
                {
                    "unknown": {"username": "nobody_here", "password": "wrong-password-1"},
                    "wrong": {"username": "bench_owner", "password": "wrong-password-1"},
                },
                tries,
            )
            portal = await _measure(
                http,
                f"/portal/{created.app_id}/signin",
                {
                    "unknown": {"method": "user", "username": "nobody", "password": "wrong-pw"},
                    "wrong": {"method": "user", "username": "bench_user", "password": "wrong-pw"},
                },
                tries,
            )
        kind = "PostgreSQL" if temp_db else "SQLite"
        print(
            f"{kind}, argon2id m={memory_kib} KiB t={time_cost}, "
            f"Python {platform.python_version()}, {platform.machine()}:"
        )
        _report("dashboard", dash)
        _report("portal", portal)
    finally:
        await app.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
        if temp_db:
            await _pg(database_url, f'DROP DATABASE IF EXISTS "{temp_db}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=300)
    parser.add_argument("--database-url", default="")
    defaults = Settings()
    parser.add_argument("--argon2-memory-kib", type=int, default=defaults.argon2_memory_kib)
    parser.add_argument("--argon2-time-cost", type=int, default=defaults.argon2_time_cost)
    args = parser.parse_args()
    asyncio.run(bench(args.tries, args.database_url, args.argon2_memory_kib, args.argon2_time_cost))


if __name__ == "__main__":
    main()
