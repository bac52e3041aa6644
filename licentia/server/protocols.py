"""uvicorn's HTTP/1.1 protocols with the limits a public server needs (issue #14).

`licentia serve` runs one of the two classes here (`LICENTIA_HTTP`: `httptools`, the default,
or `h11`). Both add to uvicorn's own protocol:

* **Read timeout** (`LICENTIA_HEADER_TIMEOUT`): a connection must deliver one whole request
  (request line, headers and body) within this many seconds of connecting, or of the first byte
  of its next request; otherwise it is closed. Connections that never send anything, and
  slow-loris clients that trickle a request byte by byte, no longer hold a socket forever.
  Between requests uvicorn's keep-alive timeout (`LICENTIA_KEEPALIVE_TIMEOUT`) applies.
* **Connection cap** (`LICENTIA_MAX_CONNECTIONS`, per worker): when a request arrives while
  the worker holds more connections than that, the connections waiting longest without a
  request in the app (idle keep-alive, never sent a request, still sending headers) are closed
  to make room. Only when every connection has a request in the app is the new request
  answered "busy" by the app in the shape of its face (`licentia.api.busy`), with
  `Connection: close`. The same room-making runs when a connection is accepted within
  `FD_RESERVE` descriptors of the open-files limit; if no room can be made, the new connection
  is closed at once, so `accept()` never fails for everybody.
* **Upgrade requests served as HTTP/1.1**: Java's `HttpClient` asks every `http://` request to
  upgrade to HTTP/2 (`Connection: Upgrade, HTTP2-Settings`, `Upgrade: h2c`). httptools would
  treat the body as data of the new protocol, so the app saw an empty body. Any upgrade other
  than a WebSocket uvicorn can take is ignored (RFC 9110 section 7.8 lets a server ignore
  `Upgrade`): the request is parsed again without the upgrade headers, body intact.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

import h11
import httptools
from uvicorn.protocols.http.h11_impl import H11Protocol as _H11
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpTools

from licentia.api import busy

log = logging.getLogger("licentia.server")

#: File descriptors kept free for the database, logs and the like when capping connections.
FD_RESERVE = 64
#: Seconds between two "connection cap reached" warnings of one worker.
BUSY_WARNING_INTERVAL = 10.0
#: Header names that belong to an upgrade offer; dropped when the upgrade is ignored.
_UPGRADE_HEADERS = frozenset({b"upgrade", b"http2-settings"})


@dataclass(frozen=True)
class Limits:
    header_timeout: float
    max_connections: int
    fd_budget: int


@functools.cache
def limits() -> Limits:
    """This worker's limits, from the `LICENTIA_*` environment (read once per process)."""
    from licentia.config import Settings

    settings = Settings()
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    budget = 0 if soft == resource.RLIM_INFINITY else max(soft - FD_RESERVE, 16)
    return Limits(settings.header_timeout, settings.max_connections, budget)


def busy_app(app: Any) -> Any:
    """The app with the request marked as over the connection cap."""

    async def marked(scope: Any, receive: Any, send: Any) -> None:
        scope[busy.SCOPE_KEY] = True
        await app(scope, receive, send)

    return marked


_last_busy_warning = [0.0]
_SEQUENCE = itertools.count()


def _warn_busy(open_connections: int, cap: int) -> None:
    """One warning per `BUSY_WARNING_INTERVAL` seconds at most while over the cap."""
    now = time.monotonic()
    if now - _last_busy_warning[0] >= BUSY_WARNING_INTERVAL:
        _last_busy_warning[0] = now
        log.warning(
            "connection cap reached (%d open, LICENTIA_MAX_CONNECTIONS=%d): answering busy",
            open_connections,
            cap,
        )


class _Guard:
    """Read timer, connection cap and idle eviction, shared by both protocols."""

    transport: asyncio.Transport
    connections: set[Any]
    loop: asyncio.AbstractEventLoop
    app: Any
    cycle: Any
    _read_timer: asyncio.TimerHandle | None = None
    #: When the connection last became idle: (monotonic clock, sequence number). Not the
    #: loop's clock, which uvloop updates once per iteration (ties for every connection
    #: accepted together); the sequence number orders what the clock cannot.
    _idle_since: tuple[float, int] = (0.0, 0)

    def _setup_guard(self) -> None:
        self._limits = limits()
        self._real_app = self.app
        self._busy_app = busy_app(self.app)

    def _admit(self) -> bool:
        """Called when a connection is made; False when it was closed for lack of fds."""
        self._became_idle()
        budget = self._limits.fd_budget
        if budget and len(self.connections) > budget and not self._make_room(budget):
            log.warning("open-files limit nearly reached: closing a new connection at once")
            self.transport.abort()
            return False
        self._arm_read_timer()
        return True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._admit()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _waiting(self) -> bool:
        """No request of this connection is in the app: it is idle, or still sending headers."""
        return (self.cycle is None or self.cycle.response_complete) and not (
            self.transport.is_closing()
        )

    def _make_room(self, limit: int) -> bool:
        """Close the connections waiting longest (never one whose request is in the app) until
        at most `limit` stay open; False when that is not possible."""
        others = [c for c in self.connections if c is not self and isinstance(c, _Guard)]
        excess = 1 + sum(not c.transport.is_closing() for c in others) - limit
        if excess <= 0:
            return True
        waiting = sorted((c for c in others if c._waiting()), key=lambda c: c._idle_since)
        for conn in waiting[:excess]:
            conn.transport.close()
        return len(waiting) >= excess

    def _pick_app(self) -> None:
        cap = self._limits.max_connections
        over = cap > 0 and len(self.connections) > cap and not self._make_room(cap)
        self.app = self._busy_app if over else self._real_app
        if over:
            _warn_busy(len(self.connections), cap)

    def _became_idle(self) -> None:
        self._idle_since = (time.monotonic(), next(_SEQUENCE))

    def _arm_read_timer(self) -> None:
        timeout = self._limits.header_timeout
        if self._read_timer is None and timeout > 0:
            self._read_timer = self.loop.call_later(timeout, self._read_timed_out)

    def _disarm_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class HttpToolsProtocol(_Guard, _HttpTools):
    """uvicorn's httptools protocol with the limits above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_guard()
        self._ignored_upgrade = False

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        except httptools.HttpParserUpgrade as upgrade:
            if self._ignored_upgrade:
                self._reparse_without_upgrade(data[upgrade.args[0] :])
            elif self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _ignores_upgrade(self) -> bool:
        return (
            self.parser.should_upgrade()
            and self.scope["method"] != "CONNECT"
            and self._get_upgrade() is not None
            and not self._should_upgrade()
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._ignored_upgrade = False
        self._arm_read_timer()

    def on_headers_complete(self) -> None:
        self.scope["method"] = self.parser.get_method().decode("ascii")
        if self._ignores_upgrade():
            self._ignored_upgrade = True  # parsed again by _reparse_without_upgrade
            return
        self._pick_app()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._ignored_upgrade:
            return
        self._disarm_read_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._became_idle()
        super().on_response_complete()

    def _reparse_without_upgrade(self, rest: bytes) -> None:
        """Feed the request again, as plain HTTP/1.1, to a fresh parser."""
        head = [self.scope["method"].encode("ascii"), b" ", self.url, b" HTTP/1.1\r\n"]
        for name, value in self.headers:
            if name in _UPGRADE_HEADERS:
                continue
            if name == b"connection":
                tokens = [t.strip() for t in value.split(b",")]
                value = b", ".join(t for t in tokens if t and t.lower() not in _UPGRADE_HEADERS)
                if not value:
                    continue
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self._ignored_upgrade = False
        self.parser = httptools.HttpRequestParser(self)
        try:
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        except AttributeError:  # httptools < 0.6.3
            pass
        self.data_received(b"".join(head) + rest)


class H11Protocol(_Guard, _H11):
    """uvicorn's h11 protocol with the limits above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup_guard()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_read_timer()  # the first bytes of a request
        self._pick_app()
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm_read_timer()  # the whole request is in (or the connection is done)

    def on_response_complete(self) -> None:
        self._became_idle()
        super().on_response_complete()

    def _should_upgrade(self) -> bool:
        """A WebSocket upgrade when uvicorn can take it; any other offer is ignored quietly
        (h11 then serves the request as plain HTTP/1.1, body included)."""
        upgrade = self._get_upgrade()
        return upgrade == b"websocket" and self._should_upgrade_to_ws()


#: `LICENTIA_HTTP` value -> uvicorn `http=` import string.
PROTOCOLS = {
    "httptools": "licentia.server.protocols:HttpToolsProtocol",
    "h11": "licentia.server.protocols:H11Protocol",
}
