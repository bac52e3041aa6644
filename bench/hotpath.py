"""The client hot path in one run: bare signed endpoint vs Licentia on SQLite and PostgreSQL.

    python bench/hotpath.py [--seconds 5] [--connections 16] [--only sqlite|postgres]

1. Starts the bare signed Starlette endpoint (`bench/bare_signed.py`, 2 workers) and keeps it
   up; it is measured again right before every Licentia call, and each ratio uses that figure.
2. For SQLite, then PostgreSQL + Redis, with 1 and with 2 workers: seeds a fresh database
   (an app, 16 users, 16 keys, a few thousand unused keys), starts `licentia serve --workers N`
   with production settings and rate limits off, redeems the 16 keys once, and drives init,
   validate-session, licenses (already redeemed keys), login and register, then
   validate-session again while a login flood saturates argon2id.

Load: wrk (Debian package `wrk`; 1 thread, `--connections` connections) with a Lua script that
gives every request a fresh request_id, nonce and timestamp and counts every response body
that is not `"success":true`; without wrk, a small Python keep-alive generator does the same.
Prints rps, p50, p99, the ratio to the bare endpoint and the RSS of every worker afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hotpath_load import free_port, python_load, wrk_load

from licentia.config import Settings
from licentia.services import admin_apps, admin_identities, admin_licenses
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade_async

BENCH = Path(__file__).resolve().parent
USERS = 16
#: Extra unused keys in the app (`--licenses`): latency must stay flat as the table grows.
EXTRA_LICENSES = 0
_BARE = (
    *(sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), "bare_signed:app"),
    *("--workers", "2", "--loop", "uvloop", "--http", "httptools"),
)
REGISTER_KEYS = 4000


async def seed(settings: Settings) -> dict[str, Any]:
    """A fresh app with users, keys to redeem and keys to register with."""
    await upgrade_async(settings.resolved_database_url)
    rt = Runtime.build(settings)
    try:
        owner = await admin_apps.create_owner(rt, "bench", "bench-password")
        app = await admin_apps.create_app(rt, owner.owner_id, "BenchApp")
        await admin_apps.create_subscription(rt, app.app_id, "Default", 1)
        keys = await admin_licenses.generate_licenses(
            rt, app.app_id, "Default", lifetime=True, count=USERS
        )
        register_keys = await admin_licenses.generate_licenses(
            rt, app.app_id, "Default", lifetime=True, count=REGISTER_KEYS
        )
        if EXTRA_LICENSES:
            await admin_licenses.generate_batch(
                rt, app.app_id, "Default", lifetime=True, count=EXTRA_LICENSES,
                max_count=EXTRA_LICENSES,
            )  # fmt: skip
        users = []
        for i in range(USERS):
            await admin_identities.create_user(
                rt, app.app_id, f"user{i}", f"password-{i}", "Default", lifetime=True
            )
            users.append((f"user{i}", f"password-{i}"))
    finally:
        await rt.close()
    creds = {
        "owner_id": owner.owner_id,
        "app_name": app.app_name,
        "secret": app.secret,
        "version": "1.0.0",
    }
    return {"creds": creds, "keys": keys, "register_keys": register_keys, "users": users}


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                if (await http.get("/api/v2/public-key")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not become ready")


async def sessions_for(base: str, world: dict[str, Any], count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        out = []
        for _ in range(count):
            r = await http.post("/api/v2/init", json=world["creds"])
            out.append(r.json()["session_id"])
        return out


async def scenarios(base: str, world: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The request bodies of each call (metadata is added per request by the generator)."""
    n = USERS
    lic, login, reg = [await sessions_for(base, world, n) for _ in range(3)]
    keys, users = world["keys"], world["users"]
    lic_bodies = [
        {"session_id": lic[i], "license_key": keys[i], "sid": f"SID-L{i}"} for i in range(n)
    ]
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for body in lic_bodies:  # redeem every key once: the benchmark logs in with used keys
            r = await http.post("/api/v2/licenses", json=body)
            assert r.json().get("success") is True, r.text
    return {
        "init": [world["creds"]],
        "validate-session": [{"session_id": s} for s in lic],
        "licenses": lic_bodies,
        "login": [
            {"session_id": login[i], "username": u, "password": p, "sid": f"SID-U{i}"}
            for i, (u, p) in enumerate(users)
        ],
        "register": [
            {
                "session_id": reg[i % n],
                "username": f"reg{i}-{secrets.token_hex(3)}",
                "password": f"register-{i}",
                "key": key,
                "sid": f"SID-R{i}",
            }
            for i, key in enumerate(world["register_keys"])
        ],
    }


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker_rss(proc: subprocess.Popen[bytes]) -> list[float]:
    """RSS of each worker: the children of a multi-worker server, else the process itself."""
    pids = [p for p in descendants(proc.pid) if "resource_tracker" not in _cmdline(p)]
    return [round(rss_mib(p), 1) for p in (pids or [proc.pid])]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU time of the server and its workers so far."""
    total = 0
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.seconds = args.seconds
        self.connections = args.connections
        self.use_wrk = shutil.which("wrk") is not None and not args.python_load
        self.bare_port = 0
        self.bare_proc: subprocess.Popen[bytes] | None = None

    async def load(
        self, port: int, path: str, bodies: list[dict[str, Any]], proc: Any = None
    ) -> dict[str, Any]:
        """One load run; with `proc`, also the server's CPU time per request (in µs)."""
        before = cpu_seconds(proc) if proc is not None else 0.0
        if self.use_wrk:
            result = await wrk_load(port, path, bodies, self.seconds, self.connections)
        else:
            result = await python_load(port, path, bodies, self.seconds, self.connections)
        if proc is not None:
            used = cpu_seconds(proc) - before
            result["cpu_us"] = used / max(1, result["requests"]) * 1e6
        return result

    async def start_bare(self) -> None:
        """Start the bare signed endpoint; it stays up (idle) for the whole run."""
        self.bare_port = free_port()
        self.bare_proc = subprocess.Popen(
            [*_BARE, "--port", str(self.bare_port), "--log-level", "warning", "--no-access-log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await _wait_port(self.bare_port)

    async def bare(self) -> dict[str, Any]:
        """One measurement of the bare endpoint, taken right before the call it is compared
        with: on a shared machine the load drifts within a run, so each ratio uses the bare
        figure of the same moment."""
        assert self.bare_proc is not None
        body = [{"session_id": "x" * 64}]
        result = await self.load(self.bare_port, "/api/v2/validate-session", body, self.bare_proc)
        result["rss"] = worker_rss(self.bare_proc)
        return result

    def stop_bare(self) -> None:
        if self.bare_proc is not None:
            stop(self.bare_proc)
            self.bare_proc = None

    async def licentia(self, db: str, workers: int, pg_url: str) -> dict[str, dict[str, Any]]:
        data_dir = Path(tempfile.mkdtemp(prefix=f"licentia-hotpath-{db}-"))
        env = dict(
            os.environ,
            LICENTIA_DATA_DIR=str(data_dir),
            LICENTIA_RATE_GENERAL="0",
            LICENTIA_RATE_CREDENTIALS="0",
            LICENTIA_RATE_IDENTITY="0",
            LICENTIA_LOG_LEVEL="warning",
            LICENTIA_DATABASE_URL="",
            LICENTIA_REDIS_URL="",
        )
        if db == "postgres":
            await _fresh_pg(pg_url)
            env["LICENTIA_DATABASE_URL"] = pg_url
            env["LICENTIA_REDIS_URL"] = os.environ.get(
                "BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"
            )
            env["LICENTIA_REDIS_PREFIX"] = f"hotpath-{secrets.token_hex(4)}:"
        settings = Settings(data_dir=data_dir, database_url=env["LICENTIA_DATABASE_URL"])
        world = await seed(settings)  # dev mode generates master.key; the server then runs
        env["LICENTIA_ENV"] = "production"  # with production settings and that key
        port = free_port()
        cmd = [sys.executable, "-m", "licentia", "serve", "--host", "127.0.0.1"]
        proc = subprocess.Popen(
            [*cmd, "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(base, proc)
            bodies = await scenarios(base, world)
            results = {}
            for name, items in bodies.items():
                bare = await self.bare()
                results[name] = await self.load(port, f"/api/v2/{name}", items, proc)
                results[name]["bare"] = bare
            bare = await self.bare()
            results["validate-session under login flood"] = await self.flood(port, bodies)
            results["validate-session under login flood"]["bare"] = bare
            for result in results.values():
                result["rss"] = []
            await asyncio.sleep(3)  # let queued logins of the flood finish first
            results["init"]["rss"] = worker_rss(proc)
            return results
        finally:
            stop(proc)
            shutil.rmtree(data_dir, ignore_errors=True)

    async def flood(self, port: int, bodies: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        flood = asyncio.ensure_future(self.load(port, "/api/v2/login", bodies["login"]))
        await asyncio.sleep(0.5)
        result = await self.load(port, "/api/v2/validate-session", bodies["validate-session"])
        await flood
        return result


async def _wait_port(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("bare endpoint did not start")


async def _fresh_pg(url: str) -> None:
    import asyncpg

    base, _, name = url.replace("postgresql+asyncpg://", "postgresql://").rpartition("/")
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def report(bare: dict[str, Any], runs: dict[str, dict[str, dict[str, Any]]], args: Any) -> None:
    gen = "wrk 1 thread" if shutil.which("wrk") and not args.python_load else "python"
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load: {gen}, {args.connections} connections, "
        f"{args.seconds:.0f} s per call; {USERS + REGISTER_KEYS + args.licenses} licenses; "
        "each 'vs bare' uses the bare endpoint measured right before that call"
    )
    print(
        "| setup | call | rps | p50 ms | p99 ms | bare rps | vs bare | CPU µs/req "
        "| bare CPU / CPU | bad bodies | RSS/worker MiB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(_row("bare signed Starlette, 2 workers", "validate-session shape", bare, bare))
    for setup, results in runs.items():
        for call, r in results.items():
            print(_row(setup, call, r, r.get("bare", bare)))


def _row(setup: str, call: str, r: dict[str, Any], bare: dict[str, Any]) -> str:
    rss = ", ".join(f"{x:.0f}" for x in r.get("rss", []))
    cpu = r.get("cpu_us", 0.0)
    cpu_ratio = bare.get("cpu_us", 0.0) / cpu if cpu else 0.0
    return (
        f"| {setup} | {call} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
        f"{bare['rps']:.0f} | {r['rps'] / bare['rps']:.2f} | {cpu:.0f} | {cpu_ratio:.2f} | "
        f"{r['bad']} of {r['requests']} | {rss} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 2 or 1,2")
    parser.add_argument("--python-load", action="store_true", help="do not use wrk")
    parser.add_argument(
        "--licenses", type=int, default=0, help="extra unused keys to seed (e.g. 1000000)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/licentia_hotpath"
        ),
    )
    args = parser.parse_args()
    global EXTRA_LICENSES
    EXTRA_LICENSES = args.licenses
    runner = Runner(args)
    await runner.start_bare()
    try:
        bare = await runner.bare()
        runs: dict[str, dict[str, dict[str, Any]]] = {}
        names = {"sqlite": "SQLite", "postgres": "PostgreSQL+Redis"}
        for db in ("sqlite", "postgres"):
            if args.only and db != args.only:
                continue
            for workers in (int(w) for w in args.workers.split(",")):
                started = time.perf_counter()
                runs[f"{names[db]}, {workers} worker(s)"] = await runner.licentia(
                    db, workers, args.pg_url
                )
                print(
                    f"# {db} x{workers} done in {time.perf_counter() - started:.0f} s", flush=True
                )
    finally:
        runner.stop_bare()
    report(bare, runs, args)
    print(json.dumps({"bare": bare, "runs": runs}), file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
