"""Dashboard list benchmark (dashboard issue item 6: a list page in under 300 ms on SQLite
with 100,000 licenses and 100,000 users).

Creates a temporary SQLite data folder, migrates it and seeds one owner, one app and
`--rows` licenses and `--rows` users with a spread of states (banned, paused, active, used,
expired), so the filters have something to skip:

* licenses come from the real bulk generation (`admin_licenses.generate_batch`, the function
  behind `admin.generate_licenses`), in batches of 2,000 made one simulated hour apart, so
  `created_at` is spread like a vendor's history (rows of one batch share their timestamp,
  which the cursor's tie-break on `id` has to handle). The states are then set with plain
  UPDATEs on a fixed share of the rows.
* users are inserted with SQLAlchemy Core straight into the real `users` table in batches,
  every row carrying the same valid argon2id hash computed once with the production
  parameters: hashing 100,000 passwords one by one (about 25 ms each) would take longer than
  the whole benchmark, and a list never verifies a password. One user in ten has a bound SID
  (`bindings`), which the user list counts per row.

Then it starts the real server (`python -m licentia serve`, one worker, on 127.0.0.1 and a
free port), signs in to the dashboard as the owner with the CSRF pre-token flow, and times
`--requests` sequential GETs per case after a warm-up: the license and user list pages (first
page, state filters, prefix searches, a deep page through a cursor taken from the middle of
the list, and the htmx partials), compared with a static file served by the same server in
the same run (and, for reference, the signed-in apps page, which pays the session check and
the page layout but no list, and the app's overview page, which counts the rows). Prints p50/p95 per case, the p95 ratio to the static file and
PASS/FAIL against the 300 ms p95 budget.

Finally, with the server stopped, it replays every case in-process through the same ASGI
app with a statement recorder on the engine and prints SQLite's EXPLAIN QUERY PLAN of each
SELECT that reads `licenses`, `users` or `bindings` with the statement's own time in SQLite
(median of 5 runs). It flags a full SCAN of those tables (a scan of a covering index is
fine), a TEMP B-TREE sort of every row of the app (found by `app_id` alone) to show one
page, and any statement of 20 ms or more: a walk along an index in list order that filters
out most rows looks indexed in the plan but still reads the whole app.

    python bench/dashboard_lists.py [--rows 100000] [--requests 30] [--no-plans]
    python bench/dashboard_lists.py --sql "CREATE INDEX ..."   # try a candidate index
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import and_, event, func, insert, select, update

from licentia.config import Settings
from licentia.domain.timeutil import utcnow
from licentia.services import admin_apps, admin_licenses, paging
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade_async
from licentia.store.tables import (
    auth_events,
    bindings,
    client_logs,
    licenses,
    sessions,
    subscriptions,
    users,
)
from licentia.store.types import new_id

BUDGET_MS = 300.0
PASSWORD = "bench-owner-password-1"
LICENSE_BATCH = 2_000
USER_BATCH = 5_000
WARMUP = 3
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NEXT = re.compile(r'class="next" href="([^"]+)"')
WATCHED = ("licenses", "users", "bindings")
#: A list statement slower than this walks many rows although its plan may look indexed.
SLOW_STATEMENT_MS = 20.0
WHOLE_APP = re.compile(r"SEARCH (licenses|users) USING (COVERING )?INDEX \S+ \(app_id=\?\)$")


@dataclass
class World:
    owner_username: str
    app_id: str
    sample_key: str = ""
    cases: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


# -- seeding -----------------------------------------------------------------------------


def _every(n: int, rest: int, ids: list[str]) -> list[str]:
    return [row_id for i, row_id in enumerate(ids) if i % n == rest]


async def _mark(conn: Any, table: Any, ids: list[str], values: dict[str, Any]) -> None:
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        await conn.execute(update(table).where(table.c.id.in_(chunk)).values(**values))


async def seed_activity(rt: Runtime, app_id: str) -> None:
    """Client activity for the support pages (issue 13): a live session for one user in a
    hundred (what "Online now" lists), one auth event for every other user, and 300 events
    (a tenth of them failures) plus 100 client logs for the sample user `user000421`."""
    now = utcnow()
    async with rt.db.read() as conn:
        people = (
            await conn.execute(select(users.c.id, users.c.username).where(users.c.app_id == app_id))
        ).all()
    live = [
        {"id_hash": new_id().replace("-", "") * 2, "prefix": new_id()[:8], "app_id": app_id,
         "identity_kind": "user", "identity_id": p.id, "created_at": now - timedelta(minutes=20),
         "last_seen_at": now - timedelta(seconds=n % 600), "client_ip": f"10.0.{n % 250}.{n % 200}",
         "country": "DE", "sid": f"SID-{n}", "client_version": "1.0.0"}
        for n, p in enumerate(people) if n % 100 == 7
    ]  # fmt: skip
    events = [
        {"app_id": app_id, "endpoint": "login", "code": "OK", "identity": p.username,
         "client_ip": "10.1.0.1", "created_at": now - timedelta(minutes=n % 5000)}
        for n, p in enumerate(people) if n % 2 == 0
    ]  # fmt: skip
    events += [
        {"app_id": app_id, "endpoint": "login", "code": "OK" if n % 10 else "INVALID_PASSWORD",
         "identity": "user000421", "client_ip": "10.1.0.2", "reported_ip": "192.0.2.4",
         "created_at": now - timedelta(minutes=n)}
        for n in range(300)
    ]  # fmt: skip
    logs = [
        {"app_id": app_id, "identity_kind": "user", "identity_name": "user000421",
         "message": f"bench log {n}", "created_at": now - timedelta(minutes=n)}
        for n in range(100)
    ]  # fmt: skip
    async with rt.db.write() as conn:
        for table, batch in ((sessions, live), (auth_events, events), (client_logs, logs)):
            for start in range(0, len(batch), USER_BATCH):
                await conn.execute(insert(table), batch[start : start + USER_BATCH])


async def seed(settings: Settings, rows: int) -> World:
    real_now = utcnow()
    start = real_now - timedelta(hours=rows // LICENSE_BATCH + 1)
    moment = [start]
    rt = Runtime.build(settings, clock=lambda: moment[0])
    try:
        await rt.check_master_key()
        owner = await admin_apps.create_owner(rt, "bench_owner", PASSWORD)
        created = await admin_apps.create_app(rt, owner.owner_id, "ListBench")
        app_id = created.app_id
        await admin_apps.create_subscription(rt, app_id, "Default")
        await admin_apps.create_subscription(rt, app_id, "Pro", 2)

        # Licenses: the real bulk generation, one batch per simulated hour.
        began = time.perf_counter()
        made = 0
        while made < rows:
            size = min(LICENSE_BATCH, rows - made)
            sub = "Pro" if (made // LICENSE_BATCH) % 4 == 3 else "Default"
            batch = await admin_licenses.generate_batch(
                rt, app_id, sub, days=30, count=size, created_by="bench"
            )
            made += len(batch.keys)
            moment[0] += timedelta(hours=1)
        moment[0] = real_now
        now = real_now
        async with rt.db.write() as conn:
            ids = list(
                (
                    await conn.execute(
                        select(licenses.c.id)
                        .where(licenses.c.app_id == app_id)
                        .order_by(licenses.c.id)
                    )
                ).scalars()
            )
            # banned 5 %, paused 2 %, active 20 %, used 10 %, expired 4 %; the rest unused.
            await _mark(conn, licenses, _every(20, 0, ids), {"banned": True, "ban_reason": "bench"})
            await _mark(conn, licenses, _every(50, 1, ids), {"paused": True, "paused_at": now})
            active = {
                "status": "active",
                "activated_at": now - timedelta(days=3),
                "expires_at": now + timedelta(days=27),
            }
            await _mark(conn, licenses, _every(5, 2, ids), active)
            used = {
                "status": "used",
                "activated_at": now - timedelta(days=3),
                "expires_at": now + timedelta(days=27),
                "used_by_username": "someone",
            }
            await _mark(conn, licenses, _every(10, 3, ids), used)
            expired = {
                "status": "active",
                "activated_at": now - timedelta(days=40),
                "expires_at": now - timedelta(days=10),
            }
            await _mark(conn, licenses, _every(25, 4, ids), expired)
            sample_key = (
                await conn.execute(
                    select(licenses.c.key).where(licenses.c.id == ids[len(ids) // 3])
                )
            ).scalar_one()
        lic_s = time.perf_counter() - began

        # Users: Core inserts with one precomputed, valid argon2id hash (see the docstring).
        began = time.perf_counter()
        password_hash = rt.passwords.hash_sync("bench-user-password")
        async with rt.db.read() as conn:
            sub_ids = dict(
                (
                    await conn.execute(
                        select(subscriptions.c.name, subscriptions.c.id).where(
                            subscriptions.c.app_id == app_id
                        )
                    )
                ).all()
            )
        first = now - timedelta(seconds=30 * rows)
        for offset in range(0, rows, USER_BATCH):
            user_rows: list[dict[str, Any]] = []
            bind_rows: list[dict[str, Any]] = []
            for i in range(offset, min(rows, offset + USER_BATCH)):
                name = f"user{i:06d}"
                created_at = first + timedelta(seconds=30 * i)
                expires = None if i % 3 else now + timedelta(days=30)
                if i % 25 == 4:
                    expires = now - timedelta(days=5)
                row_id = new_id()
                user_rows.append(
                    {
                        "id": row_id,
                        "app_id": app_id,
                        "username": name,
                        "username_norm": name,
                        "password_hash": password_hash,
                        "email": f"{name}@example.com" if i % 2 else "",
                        "subscription_id": sub_ids["Pro" if i % 4 == 3 else "Default"],
                        "expires_at": expires,
                        "device_limit": 1,
                        "banned": i % 20 == 0,
                        "ban_reason": "bench" if i % 20 == 0 else "",
                        "paused": i % 50 == 1,
                        "paused_at": now if i % 50 == 1 else None,
                        "created_at": created_at,
                        "created_by": "bench",
                        "last_login_at": created_at + timedelta(days=1) if i % 7 else None,
                    }
                )
                if i % 10 == 5:
                    bind_rows.append(
                        {
                            "id": new_id(),
                            "app_id": app_id,
                            "holder_kind": "user",
                            "holder_id": row_id,
                            "sid": f"SID-{i}",
                            "sid_norm": f"sid-{i}",
                            "first_seen_at": created_at,
                            "last_seen_at": created_at,
                        }
                    )
            async with rt.db.write() as conn:
                await conn.execute(insert(users), user_rows)
                if bind_rows:
                    await conn.execute(insert(bindings), bind_rows)
        await seed_activity(rt, app_id)
        user_s = time.perf_counter() - began
        async with rt.db.read() as conn:
            counts = {
                "licenses": (
                    await conn.execute(
                        select(func.count())
                        .select_from(licenses)
                        .where(licenses.c.app_id == app_id)
                    )
                ).scalar_one(),
                "users": (
                    await conn.execute(
                        select(func.count()).select_from(users).where(users.c.app_id == app_id)
                    )
                ).scalar_one(),
            }
            # A deep page: the cursor the list hands out after the row in the middle, as if
            # "Next page" had been followed rows / 100 times.
            deep_license = (
                await conn.execute(
                    select(licenses.c.created_at, licenses.c.id)
                    .where(licenses.c.app_id == app_id)
                    .order_by(licenses.c.created_at.desc(), licenses.c.id.desc())
                    .offset(rows // 2)
                    .limit(1)
                )
            ).one()
            deep_user = (
                await conn.execute(
                    select(users.c.created_at, users.c.id)
                    .where(and_(users.c.app_id == app_id))
                    .order_by(users.c.created_at.desc(), users.c.id.desc())
                    .offset(rows // 2)
                    .limit(1)
                )
            ).one()
    finally:
        await rt.close()
    print(
        f"seeded {counts['licenses']:,} licenses in {lic_s:.1f} s and {counts['users']:,} users "
        f"in {user_s:.1f} s"
    )
    lic_cursor = paging.encode_cursor("license", *deep_license)
    user_cursor = paging.encode_cursor("user", *deep_user)
    world = World(owner_username="bench_owner", app_id=app_id, sample_key=sample_key)
    hx = {"HX-Request": "true"}
    lic = f"/dashboard/apps/{app_id}/licenses"
    usr = f"/dashboard/apps/{app_id}/users"
    prefix = sample_key[:5]
    world.cases = [
        ("licenses: first page", lic, {}),
        ("licenses: state=banned (5 %)", lic + "?state=banned", {}),
        ("licenses: state=paused (2 %)", lic + "?state=paused", {}),
        ("licenses: state=expired", lic + "?state=expired", {}),
        ("licenses: key prefix (5 chars)", lic + "?" + urlencode({"q": prefix}), {}),
        ("licenses: no match", lic + "?" + urlencode({"q": "NOPE0"}), {}),
        ("licenses: deep page (cursor)", lic + "?" + urlencode({"cursor": lic_cursor}), {}),
        ("licenses: htmx partial", lic, hx),
        ("licenses: htmx search", lic + "?" + urlencode({"q": prefix[:2], "state": "active"}), hx),
        ("users: first page", usr, {}),
        ("users: state=banned (5 %)", usr + "?state=banned", {}),
        ("users: state=paused (2 %)", usr + "?state=paused", {}),
        ("users: name prefix", usr + "?q=user0421", {}),
        ("users: no match", usr + "?q=nobody", {}),
        ("users: deep page (cursor)", usr + "?" + urlencode({"cursor": user_cursor}), {}),
        ("users: htmx partial", usr, hx),
        ("users: htmx search", usr + "?" + urlencode({"q": "user09", "state": "active"}), hx),
        # #13 item 3: the added filters, search fields and column sorts.
        ("licenses: expiring in 30 days", lic + "?exp=30", {}),
        ("licenses: created by the CLI", lic + "?by=cli", {}),
        ("licenses: sort by expiry", lic + "?sort=expiry&dir=asc", {}),
        ("licenses: sort by expiry, descending", lic + "?sort=expiry", {}),
        ("licenses: sort by key", lic + "?sort=key&dir=asc", {}),
        ("licenses: HWID search", lic + "?" + urlencode({"q": "SID-4242", "in": "hwid"}), {}),
        ("licenses: IP search", lic + "?" + urlencode({"q": "203.0.113", "in": "ip"}), {}),
        ("users: expiring in 30 days", usr + "?exp=30", {}),
        ("users: sort by username", usr + "?sort=username&dir=asc", {}),
        ("users: sort by expiry", usr + "?sort=expiry", {}),
        ("users: HWID search", usr + "?" + urlencode({"q": "sid-4242", "in": "hwid"}), {}),
        # The support pages of issue 13: not lists, but read the same 100,000 rows.
        ("online now (1 % of users live)", f"/dashboard/apps/{app_id}/online", {}),
        ("online now: htmx poll", f"/dashboard/apps/{app_id}/online?panel=1", hx),
        ("sales: 30 days", f"/dashboard/apps/{app_id}/sales", {}),
        ("user page + support console", usr.replace("/users", "/user/user000421"), {}),
        ("license page + support console", f"/dashboard/apps/{app_id}/license/{sample_key}", {}),
        ("audit log", "/dashboard/audit", {}),
    ]
    return world


# -- the server and the client -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(http: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


async def sign_in(http: httpx.AsyncClient, username: str) -> None:
    """The browser's flow: the sign-in page sets the pre-sign-in CSRF cookie and field."""
    page = await http.get("/dashboard/signin")
    found = CSRF.search(page.text)
    assert page.status_code == 200 and found, page.text[:500]
    done = await http.post(
        "/dashboard/signin",
        data={"csrf_token": found.group(1), "username": username, "password": PASSWORD},
    )
    assert done.status_code == 303, (done.status_code, done.text[:500])
    assert done.headers["location"] == "/dashboard/apps", done.headers["location"]


def check_page(name: str, response: httpx.Response, partial: bool) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{name}: HTTP {response.status_code}\n{response.text[:800]}")
    if partial and "<html" in response.text.lower():
        raise SystemExit(f"{name}: the htmx request got a whole page, not the partial")


async def timed(
    http: httpx.AsyncClient, name: str, path: str, headers: dict[str, str], n: int
) -> list[float]:
    partial = bool(headers)
    for _ in range(WARMUP):
        check_page(name, await http.get(path, headers=headers), partial)
    out: list[float] = []
    for _ in range(n):
        began = time.perf_counter()
        response = await http.get(path, headers=headers)
        out.append((time.perf_counter() - began) * 1000)
        check_page(name, response, partial)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def measure(
    world: World, env: dict[str, str], n: int
) -> list[tuple[str, float, float, int, int]]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "licentia", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: list[tuple[str, float, float, int, int]] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await wait_ready(http, server)
            await sign_in(http, world.owner_username)
            # The "Next page" link of the first page is a working cursor too.
            first = await http.get(f"/dashboard/apps/{world.app_id}/licenses")
            link = NEXT.search(first.text)
            assert link, "the first license page has no Next page link"
            second = await http.get(link.group(1).replace("&amp;", "&"))
            assert second.status_code == 200 and "data-key" in second.text
            baselines: list[tuple[str, str, dict[str, str]]] = [
                ("baseline: static file", "/dashboard/static/dashboard.css", {}),
                ("reference: apps page", "/dashboard/apps", {}),
                ("reference: app overview", f"/dashboard/apps/{world.app_id}", {}),
            ]
            for name, path, headers in baselines + world.cases:
                try:
                    times = await timed(http, name, path, headers, n)
                except SystemExit as exc:
                    if not name.startswith("reference"):
                        raise
                    print(f"skipped {name}: {str(exc).splitlines()[0]}")
                    continue
                body = (await http.get(path, headers=headers)).text
                rows = body.count("<tr data-")
                results.append((name, statistics.median(times), p95(times), rows, len(body)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return results


# -- query plans -------------------------------------------------------------------------


async def plans(settings: Settings, world: World) -> list[str]:
    """Every SELECT on licenses/users/bindings each case runs, with its SQLite query plan."""
    from licentia.api.app import create_app

    app = create_app(settings)
    await app.startup()
    assert app.runtime is not None
    engine = app.runtime.db.engine
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, params))

    flagged: list[str] = []
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            await sign_in(http, world.owner_username)
            for name, path, headers in world.cases:
                seen.clear()
                event.listen(engine.sync_engine, "before_cursor_execute", record)
                try:
                    response = await http.get(path, headers=headers)
                finally:
                    event.remove(engine.sync_engine, "before_cursor_execute", record)
                check_page(name, response, bool(headers))
                statements = [
                    (s, p)
                    for s, p in seen
                    if s.lstrip().upper().startswith("SELECT")
                    and re.search(r"\bFROM\s+(" + "|".join(WATCHED) + r")\b", s)
                ]
                print(f"\n## {name}  ({len(seen)} statements in the request)")
                async with engine.connect() as conn:
                    for statement, params in statements:
                        tables = re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", statement)
                        plan = (
                            await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
                        ).all()
                        took = []
                        for _ in range(5):
                            began = time.perf_counter()
                            (await conn.exec_driver_sql(statement, params)).all()
                            took.append((time.perf_counter() - began) * 1000)
                        ms = statistics.median(took)
                        print(f"-- reads {', '.join(dict.fromkeys(tables))}: {ms:.1f} ms in SQLite")
                        if ms >= SLOW_STATEMENT_MS:
                            flagged.append(f"{name}: the statement takes {ms:.0f} ms")
                        details = [row[-1] for row in plan]
                        # Sorting the rows a search range found is fine; sorting every row
                        # of the app (found by app_id alone) for one page is not.
                        whole_app = any(WHOLE_APP.match(d) for d in details)
                        for detail in details:
                            bad = bool(
                                re.match(r"SCAN (" + "|".join(WATCHED) + r")\b", detail)
                                and "COVERING INDEX" not in detail
                            ) or ("TEMP B-TREE" in detail and whole_app)
                            print(f"   {'!! ' if bad else '   '}{detail}")
                            if bad:
                                flagged.append(f"{name}: {detail}")
    finally:
        await app.shutdown()
    return flagged


async def run_sql(settings: Settings, statements: list[str]) -> None:
    rt = Runtime.build(settings)
    try:
        async with rt.db.write() as conn:
            for statement in statements:
                began = time.perf_counter()
                await conn.exec_driver_sql(statement)
                print(f"ran in {time.perf_counter() - began:.2f} s: {statement}")
    finally:
        await rt.close()


# -- main --------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="licenses and users each")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per case")
    parser.add_argument("--no-plans", action="store_true", help="skip EXPLAIN QUERY PLAN")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument(
        "--sql",
        action="append",
        default=[],
        help="a statement run on the seeded database before timing (repeatable), e.g. a "
        "candidate CREATE INDEX",
    )
    args = parser.parse_args()
    if os.environ.get("LICENTIA_DATABASE_URL"):
        raise SystemExit("this benchmark runs on SQLite only: unset LICENTIA_DATABASE_URL")

    data_dir = Path(tempfile.mkdtemp(prefix="licentia-lists-"))
    env = dict(
        os.environ,
        LICENTIA_DATA_DIR=str(data_dir),
        LICENTIA_RATE_GENERAL="0",
        LICENTIA_RATE_CREDENTIALS="0",
        LICENTIA_RATE_IDENTITY="0",
        LICENTIA_LOG_LEVEL="warning",
    )
    try:
        settings = Settings(data_dir=data_dir)
        await upgrade_async(settings.resolved_database_url)
        world = await seed(settings, args.rows)
        if args.sql:
            await run_sql(settings, args.sql)
        results = await measure(world, env, args.requests)
        base_p95 = results[0][2]
        print(
            f"\nLicentia dashboard list benchmark: SQLite, 1 worker, {args.rows:,} licenses and "
            f"{args.rows:,} users, {args.requests} sequential requests per case after "
            f"{WARMUP} warm-up"
        )
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        print(
            f"{'case':<36}{'rows':>6}{'KiB':>7}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'p95/baseline':>14}  result"
        )
        failed = 0
        for name, p50, p95_ms, rows, size in results:
            verdict = (
                ""
                if name.startswith(("baseline", "reference"))
                else ("PASS" if p95_ms < BUDGET_MS else "FAIL")
            )
            failed += verdict == "FAIL"
            print(
                f"{name:<36}{rows:>6}{size / 1024:>7.1f}{p50:>9.1f}{p95_ms:>9.1f}"
                f"{p95_ms / base_p95:>14.1f}  {verdict}"
            )
        print(f"budget: p95 < {BUDGET_MS:.0f} ms per page; {failed} case(s) over budget")
        if not args.no_plans:
            print("\nEXPLAIN QUERY PLAN of the list queries ('!!' = full table scan or sort)")
            flagged = await plans(settings, world)
            print(
                "\nplans: "
                + (
                    "no full table scan, no sort, no slow statement"
                    if not flagged
                    else f"{len(flagged)} flagged (full scan, sort, or >= {SLOW_STATEMENT_MS:.0f} ms)"
                )
            )
            for line in flagged:
                print("  " + line)
    finally:
        if args.keep:
            print(f"data folder kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
