"""Load generators of `bench/hotpath.py`: wrk with a Lua script, or a Python fallback.

Both give every request a fresh request_id, nonce and timestamp (as the SDKs do), cycle
through the given bodies, and count every response whose body is not `"success":true`.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import tempfile
import time
from typing import Any

_LUA = r"""
local bodies = {%(bodies)s}
local path = "%(path)s"
local count = 0
bad = 0
local salt = "%(salt)s"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  count = count + 1
  local prefix = bodies[(count %% #bodies) + 1]
  local nonce = salt .. string.format("%%x", count)
  local ts = string.format("%%d", math.floor(os.time() * 1000))
  local body = prefix .. ',"request_id":"r' .. nonce .. '","nonce":"' .. nonce
    .. '","timestamp":' .. ts .. '}'
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if not string.find(body, '"success":true', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
  end
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%d\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), total_bad))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefix(body: dict[str, Any]) -> str:
    """The body's JSON without its closing brace (the metadata is appended per request)."""
    text = json.dumps(body, separators=(",", ":"))
    return text[:-1]


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


async def wrk_load(
    port: int, path: str, bodies: list[dict[str, Any]], seconds: float, connections: int
) -> dict[str, Any]:
    script = _LUA % {
        "bodies": ",".join(_lua_string(_prefix(b)) for b in bodies),
        "path": path,
        "salt": secrets.token_hex(8),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    proc = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        handle.name,
        f"http://127.0.0.1:{port}{path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    text = out.decode()
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", text)
    if match is None:
        raise RuntimeError(f"wrk failed: {text} {err.decode()}")
    requests, duration_us = int(match[1]), int(match[2])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests": requests,
        "rps": requests / (duration_us / 1e6),
        "p50": float(match[3]) / 1000,
        "p99": float(match[4]) / 1000,
        "bad": int(match[5]),
        "non_2xx": int(errors[1]) if errors else 0,
    }


def _request(path: str, prefix: str, salt: str, count: int) -> bytes:
    nonce = f"{salt}{count:x}"
    body = f'{prefix},"request_id":"r{nonce}","nonce":"{nonce}","timestamp":{int(time.time() * 1000)}}}'
    payload = body.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload


async def _read(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


async def python_load(
    port: int, path: str, bodies: list[dict[str, Any]], seconds: float, connections: int
) -> dict[str, Any]:
    prefixes = [_prefix(b) for b in bodies]
    salt = secrets.token_hex(8)
    latencies: list[float] = []
    state = {"count": 0, "bad": 0}
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                state["count"] += 1
                n = state["count"]
                start = time.perf_counter()
                writer.write(_request(path, prefixes[n % len(prefixes)], salt, n))
                body = await _read(reader)
                latencies.append(time.perf_counter() - start)
                if b'"success":true' not in body:
                    state["bad"] += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "rps": n / elapsed,
        "p50": latencies[n // 2] * 1000 if n else 0.0,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "bad": state["bad"],
        "non_2xx": 0,
    }
