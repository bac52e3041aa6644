"""Client API benchmark: init, validate-session, login and licenses at concurrency 16.

Starts one `licentia serve` process (one worker, SQLite unless LICENTIA_DATABASE_URL is set,
rate limits off, production argon2id parameters), then drives it from this process with a
minimal keep-alive HTTP/1.1 load generator. Each scenario is compared with a bare signed JSON
endpoint measured in the same run: an unknown `/api/v2/` path, answered with a signed 404
without touching the database. Prints req/s, p50/p99 latency and the ratio to that baseline.

    python bench/client_bench.py [--seconds 5] [--concurrency 16]
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
from collections.abc import Callable
from pathlib import Path

import httpx

from licentia.config import Settings
from licentia.services import admin_apps, admin_identities, admin_licenses
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade_async


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request_bytes(path: str, body: dict[str, object]) -> bytes:
    body = dict(
        body,
        request_id=str(uuid.uuid4()),
        nonce=secrets.token_hex(16),
        timestamp=int(time.time() * 1000),
    )
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def run_scenario(
    port: int, make: Callable[[int], bytes], seconds: float, concurrency: int, expect: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                data = make(index)
                start = time.perf_counter()
                writer.write(data)
                status = await read_response(reader)
                latencies.append(time.perf_counter() - start)
                if status != expect:
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50": latencies[n // 2] * 1000 if n else 0.0,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
    }


async def setup(settings: Settings, concurrency: int) -> dict[str, object]:
    rt = Runtime.build(settings)
    try:
        owner = await admin_apps.create_owner(rt, "bench", "bench-password")
        app = await admin_apps.create_app(rt, owner.owner_id, "BenchApp")
        await admin_apps.create_subscription(rt, app.app_id, "Default", 1)
        keys = await admin_licenses.generate_licenses(
            rt, app.app_id, "Default", lifetime=True, count=concurrency
        )
        users = []
        for i in range(concurrency):
            name = f"user{i}"
            await admin_identities.create_user(
                rt, app.app_id, name, f"password-{i}", "Default", lifetime=True
            )
            users.append((name, f"password-{i}"))
    finally:
        await rt.close()
    return {
        "owner_id": owner.owner_id,
        "app_name": app.app_name,
        "secret": app.secret,
        "keys": keys,
        "users": users,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    conc = args.concurrency

    data_dir = Path(tempfile.mkdtemp(prefix="licentia-bench-"))
    env = dict(
        os.environ,
        LICENTIA_DATA_DIR=str(data_dir),
        LICENTIA_RATE_GENERAL="0",
        LICENTIA_RATE_CREDENTIALS="0",
        LICENTIA_RATE_IDENTITY="0",
        LICENTIA_LOG_LEVEL="warning",
    )
    settings = Settings(data_dir=data_dir, database_url=env.get("LICENTIA_DATABASE_URL", ""))
    await upgrade_async(settings.resolved_database_url)
    world = await setup(settings, conc)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "licentia", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            for _ in range(300):
                try:
                    if (await http.get("/api/v2/public-key")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            creds = {
                "owner_id": world["owner_id"],
                "app_name": world["app_name"],
                "secret": world["secret"],
                "version": "1.0.0",
            }
            sessions = []
            for _ in range(conc):
                r = await http.post("/api/v2/init", json=creds)
                sessions.append(r.json()["session_id"])
            keys = world["keys"]
            users = world["users"]
            assert isinstance(keys, list) and isinstance(users, list)
            for i in range(conc):  # activate each key and bind its SID once
                r = await http.post(
                    "/api/v2/licenses",
                    json={"session_id": sessions[i], "license_key": keys[i], "sid": f"SID-{i}"},
                )
                assert r.status_code == 200, r.text

        scenarios: list[tuple[str, Callable[[int], bytes], int]] = [
            ("baseline (signed 404)", lambda i: request_bytes("/api/v2/bench-baseline", {}), 404),
            ("init", lambda i: request_bytes("/api/v2/init", creds), 200),
            (
                "validate-session",
                lambda i: request_bytes("/api/v2/validate-session", {"session_id": sessions[i]}),
                200,
            ),
            (
                "licenses",
                lambda i: request_bytes(
                    "/api/v2/licenses",
                    {"session_id": sessions[i], "license_key": keys[i], "sid": f"SID-{i}"},
                ),
                200,
            ),
            (
                "login",
                lambda i: request_bytes(
                    "/api/v2/login",
                    {
                        "session_id": sessions[i],
                        "username": users[i][0],
                        "password": users[i][1],
                        "sid": f"SID-{i}",
                    },
                ),
                200,
            ),
        ]
        results = {}
        for name, make, expect in scenarios:
            results[name] = await run_scenario(port, make, args.seconds, conc, expect)
        base_rps = results["baseline (signed 404)"]["rps"]
        db = "PostgreSQL" if settings.resolved_database_url.startswith("postgresql") else "SQLite"
        print(
            f"Licentia client API benchmark: {db}, 1 worker, concurrency {conc}, {args.seconds:.0f} s per scenario"
        )
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        print(
            f"{'scenario':<24}{'requests':>10}{'errors':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs baseline':>13}"
        )
        for name, r in results.items():
            print(
                f"{name:<24}{r['requests']:>10.0f}{r['errors']:>8.0f}{r['rps']:>10.0f}"
                f"{r['p50']:>9.2f}{r['p99']:>9.2f}{r['rps'] / base_rps:>13.3f}"
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    asyncio.run(main())
