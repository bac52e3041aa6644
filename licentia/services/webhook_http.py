"""One outbound webhook request: target checks, signing, formats, bounded HTTP.

Safety (docs/webhooks.md): only `http`/`https` URLs; every address the host name resolves to
must be public (no private, loopback, link-local, multicast, reserved or unspecified address)
unless `LICENTIA_WEBHOOK_ALLOW_PRIVATE`; a timeout on the whole request; at most
`READ_CAP` bytes of the answer are read; a redirect is followed only to the same scheme, host
and port (at most `MAX_REDIRECTS`), anything else counts as a failed attempt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from licentia import __version__
from licentia.domain.timeutil import iso_z

READ_CAP = 64 * 1024  # bytes of an answer read at most
EXCERPT = 1024  # characters of an answer kept in the attempt log
MAX_REDIRECTS = 3
MAX_URL = 2048
DISCORD_MAX = 2000  # characters of a Discord message
USER_AGENT = f"Licentia-Webhooks/{__version__}"
#: Key values a Discord channel shows only the start of (a channel is no secret store).
_MASKED = frozenset({"license_key", "keys"})
_NO_PING = "@\u200b"  # an @ with a zero-width space after it mentions nobody on Discord


class TargetRefused(Exception):
    """The URL may not be called (scheme, host, or a non-public address)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str
    excerpt: str


def check_url_syntax(url: str) -> str:
    """The URL itself (no DNS): http(s), a host, no user info, not too long."""
    text = url.strip()
    if len(text) > MAX_URL:
        raise TargetRefused(f"a webhook URL has at most {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise TargetRefused("a webhook URL has no spaces or control characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:  # a bad port, an unclosed IPv6 bracket
        raise TargetRefused("a webhook URL has a bad host or port") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("a webhook URL starts with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("a webhook URL names a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("a webhook URL carries no user name or password")
    return text


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_literal(url: str, allow_private: bool) -> None:
    """Refuse `localhost` and non-public IP literals without resolving anything."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise TargetRefused("webhook targets on loopback are refused")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return
    if not _public(str(literal)):
        raise TargetRefused(
            "webhook targets on private, loopback or link-local addresses are refused"
        )


async def check_target(url: str, allow_private: bool) -> None:
    """Everything `check_literal` does, plus every resolved address must be public."""
    check_url_syntax(url)
    check_literal(url, allow_private)
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise TargetRefused(f"cannot resolve the webhook host: {exc.strerror or exc}") from None
    if not infos or not all(_public(str(info[4][0])) for info in infos):
        raise TargetRefused(
            "the webhook host resolves to a private, loopback or link-local address"
        )


def standard_body(event_id: str, event_type: str, app_id: str, at: datetime, data: Any) -> str:
    """The Standard Webhooks payload: `type`, `timestamp`, `data` (plus `id` and `app_id`)."""
    payload = {
        "id": event_id,
        "type": event_type,
        "timestamp": iso_z(at),
        "app_id": app_id,
        "data": data,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def discord_body(event_type: str, app_name: str, at: datetime, data: Any) -> str:
    """A human-readable Discord message (the `content` of an execute-webhook call)."""
    lines = [f"**{event_type}** · {app_name} · {iso_z(at)}"]
    if isinstance(data, dict):
        for key, value in sorted(data.items()):
            masked = key in _MASKED or (key == "identity" and data.get("kind") == "license")
            if masked and isinstance(value, str):
                value = value[:5] + "…" if len(value) > 5 else value
            elif masked and isinstance(value, list):
                value = f"{len(value)} keys"
            shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
            lines.append(f"`{key}`: {shown.replace('@', _NO_PING)}")
    content = "\n".join(lines)
    if len(content) > DISCORD_MAX:
        content = content[: DISCORD_MAX - 1] + "…"
    return json.dumps(
        {"content": content, "username": "Licentia", "allowed_mentions": {"parse": []}}
    )


def signed_headers(secret: str, event_id: str, at: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id=event_id, timestamp=at, data=body)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


async def _read_capped(response: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= READ_CAP:
            break
    return b"".join(chunks)[:READ_CAP].decode("utf-8", "replace")[:EXCERPT]


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    allow_private: bool,
    total: float = 60.0,
) -> Outcome:
    """POST once (following same-origin redirects) within `total` seconds, however slowly
    the receiver answers; never raises for a network problem."""
    started = time.monotonic()

    def done(ok: bool, code: int | None, error: str, excerpt: str = "") -> Outcome:
        return Outcome(ok, code, int((time.monotonic() - started) * 1000), error[:256], excerpt)

    try:
        async with asyncio.timeout(total):
            return await _hops(client, url, body, headers, allow_private, done)
    except TargetRefused as exc:
        return done(False, None, str(exc))
    except (httpx.TimeoutException, TimeoutError):
        return done(False, None, "timeout")
    except httpx.HTTPError as exc:
        return done(False, None, f"{type(exc).__name__}: {exc}"[:256])


async def _hops(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    headers: dict[str, str],
    allow_private: bool,
    done: Callable[..., Outcome],
) -> Outcome:
    target = url
    for _hop in range(MAX_REDIRECTS + 1):
        await check_target(target, allow_private)
        request = client.build_request("POST", target, content=body.encode(), headers=headers)
        response = await client.send(request, stream=True)
        try:
            excerpt = await _read_capped(response)
        finally:
            await response.aclose()
        code = response.status_code
        if code in (301, 302, 303, 307, 308) and "location" in response.headers:
            following = urljoin(target, response.headers["location"])
            if not _same_origin(target, following):
                return done(False, code, "redirect to another host refused", excerpt)
            target = following
            continue
        ok = 200 <= code < 300
        return done(ok, code, "" if ok else f"HTTP {code}", excerpt)
    return done(False, None, "too many redirects")
