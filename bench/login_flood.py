"""Login flood benchmark (issue #14, #10 point 1): validate-session latency with and without a
concurrent flood of logins, each of which costs one argon2id verification.

Starts a real `licentia serve` (one worker, SQLite unless LICENTIA_DATABASE_URL is set, rate
limits off, production argon2id parameters) once per hashing bound, and drives it from this
process over keep-alive HTTP/1.1 connections on 127.0.0.1:

* quiet: `--light` connections call validate-session back to back for `--seconds`;
* flood: the same, while `--flood` other connections send logins with a wrong password to
  `--flood` existing users (as from 40 addresses; every one is a full argon2id check).

The bounds compared are `LICENTIA_HASH_CONCURRENCY=0` (the default: the usable cores less one)
and the size of asyncio's default thread pool, min(32, cores + 4), which is how many hashes
ran at once before the bound. Prints validate-session p50/p99 and the logins per second.
A benchmark, not a test: nothing is asserted.

    python bench/login_flood.py [--seconds 8] [--flood 40] [--light 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from licentia.config import Settings
from licentia.crypto.passwords import default_concurrency, usable_cores
from licentia.services import admin_apps, admin_identities
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade_async


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_bytes(path: str, body: dict[str, object]) -> bytes:
    body = dict(body, request_id=str(uuid.uuid4()), nonce=secrets.token_hex(16))
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def drive(
    port: int, make: Callable[[int], bytes], count: int, stop: asyncio.Event
) -> tuple[list[float], Counter[str]]:
    """`count` connections sending `make(i)` back to back until `stop`; latencies and codes."""
    latencies: list[float] = []
    codes: Counter[str] = Counter()

    async def one(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not stop.is_set():
                started = time.perf_counter()
                writer.write(make(index))
                _status, body = await read_response(reader)
                latencies.append(time.perf_counter() - started)
                codes[str(json.loads(body).get("code"))] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one(i) for i in range(count)))
    return latencies, codes


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else 0.0


async def setup(settings: Settings, users: int) -> dict[str, object]:
    rt = Runtime.build(settings)
    try:
        owner = await admin_apps.create_owner(rt, "bench", "bench-password")
        app = await admin_apps.create_app(rt, owner.owner_id, "FloodApp")
        await admin_apps.create_subscription(rt, app.app_id, "Default", 1)
        for i in range(users):
            await admin_identities.create_user(
                rt, app.app_id, f"user{i}", f"password-{i}", "Default", lifetime=True
            )
    finally:
        await rt.close()
    return {"owner_id": owner.owner_id, "app_name": app.app_name, "secret": app.secret}


async def sessions(base: str, creds: dict[str, object], count: int, login: bool) -> list[str]:
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(count):
            sid = (await http.post("/api/v2/init", json=creds)).json()["session_id"]
            if login:
                body = {"session_id": sid, "username": f"user{i}", "password": f"password-{i}"}
                r = await http.post("/api/v2/login", json=dict(body, sid=f"SID-{i}"))
                assert r.status_code == 200, r.text
            out.append(sid)
    return out


async def measure(
    port: int, creds: dict[str, object], args: argparse.Namespace
) -> dict[str, float]:
    base = f"http://127.0.0.1:{port}"
    light = await sessions(base, creds, args.light, login=True)
    flood = await sessions(base, creds, args.flood, login=False)

    def check(i: int) -> bytes:
        return request_bytes("/api/v2/validate-session", {"session_id": light[i]})

    def guess(i: int) -> bytes:
        body = {"session_id": flood[i], "username": f"user{args.light + i}", "password": "wrong"}
        return request_bytes("/api/v2/login", dict(body, sid=f"SID-F{i}"))

    async def run(with_flood: bool) -> tuple[list[float], list[float], Counter[str]]:
        stop = asyncio.Event()
        jobs = [asyncio.create_task(drive(port, check, args.light, stop))]
        if with_flood:
            jobs.append(asyncio.create_task(drive(port, guess, args.flood, stop)))
        await asyncio.sleep(args.seconds)
        stop.set()
        done = await asyncio.gather(*jobs)
        logins, codes = done[1] if with_flood else ([], Counter())
        return done[0][0], logins, codes

    quiet, _, _ = await run(False)
    busy, logins, codes = await run(True)
    return {
        "quiet_p50": pct(quiet, 0.5),
        "quiet_p99": pct(quiet, 0.99),
        "flood_p50": pct(busy, 0.5),
        "flood_p99": pct(busy, 0.99),
        "logins_per_s": len(logins) / args.seconds,
        "login_codes": dict(codes),  # type: ignore[dict-item]
    }


async def one_bound(bound: int, args: argparse.Namespace) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="licentia-flood-"))
    env = dict(
        os.environ,
        LICENTIA_DATA_DIR=str(data_dir),
        LICENTIA_RATE_GENERAL="0",
        LICENTIA_RATE_CREDENTIALS="0",
        LICENTIA_RATE_IDENTITY="0",
        LICENTIA_LOG_LEVEL="warning",
        LICENTIA_HASH_CONCURRENCY=str(bound),
    )
    settings = Settings(data_dir=data_dir, database_url=env.get("LICENTIA_DATABASE_URL", ""))
    await upgrade_async(settings.resolved_database_url)
    creds = dict(await setup(settings, args.light + args.flood), version="1.0.0")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "licentia", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(600):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        return await measure(port, creds, args)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--flood", type=int, default=40, help="concurrent login connections")
    parser.add_argument("--light", type=int, default=4, help="validate-session connections")
    args = parser.parse_args()
    cores = usable_cores()
    bounds = [
        (f"bounded: {default_concurrency()} at once (default)", 0),
        (f"old: {min(32, cores + 4)} at once (asyncio default pool)", min(32, cores + 4)),
    ]
    db = "PostgreSQL" if os.environ.get("LICENTIA_DATABASE_URL") else "SQLite"
    print(
        f"Login flood benchmark: {db}, 1 worker, {args.light} validate-session connections, "
        f"{args.flood} login connections, {args.seconds:.0f} s per phase"
    )
    print(
        f"machine: {platform.machine()}, {cores} usable cores, Python {platform.python_version()}"
    )
    head = f"{'argon2 hashes':<44}{'quiet p50':>10}{'quiet p99':>10}{'flood p50':>10}"
    print(f"{head}{'flood p99':>10}{'logins/s':>10}  login answers")
    for label, bound in bounds:
        r = await one_bound(bound, args)
        print(
            f"{label:<44}{r['quiet_p50']:>10.2f}{r['quiet_p99']:>10.2f}{r['flood_p50']:>10.2f}"
            f"{r['flood_p99']:>10.2f}{r['logins_per_s']:>10.1f}  {r['login_codes']}"
        )
    print("latencies in ms (validate-session)")


if __name__ == "__main__":
    asyncio.run(main())
