"""`Client` (blocking) and `AsyncClient` (asyncio) over httpx: the I/O around `Core`.

Retries: a request that fails in transit (connection error, timeout, or an unsigned 502, 503
or 504 from a proxy in between) is sent again with the very same bytes, nonce and request id,
up to `retries` times; the server answers a repeated nonce with the response it stored for the
first attempt (client protocol 0.7), so a retry never logs in twice, redeems a key twice or
posts a chat message twice.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any, TypeVar

import httpx

from licentia_client import _models as m
from licentia_client._core import Core, Op, Prepared
from licentia_client._errors import TransportError

T = TypeVar("T")


class _Unanswered(httpx.TransportError):
    """An unsigned 502/503/504: a proxy in between answered, not the server (retry it)."""


def _check_answered(response: httpx.Response) -> httpx.Response:
    if response.status_code in (502, 503, 504) and "x-v2-signature" not in response.headers:
        raise _Unanswered(f"HTTP {response.status_code} from an intermediary")
    return response


def _transport_error(exc: httpx.TransportError) -> TransportError:
    code = "TIMEOUT" if isinstance(exc, httpx.TimeoutException) else "NETWORK_ERROR"
    return TransportError(code, str(exc) or type(exc).__name__)


class Client(Core):
    """Blocking client. Pass `transport=` (an `httpx.BaseTransport`) to route requests."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, op: Op[T]) -> T:
        prepared = self.prepare(op)
        for attempt in range(self.retries + 1):
            try:
                response = self._send(prepared)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise _transport_error(exc) from exc
                time.sleep(self.retry_backoff * 2**attempt)
                continue
            return self.finish(
                op, prepared, response.status_code, response.headers, response.content
            )
        raise AssertionError("unreachable")

    def _send(self, prepared: Prepared) -> httpx.Response:
        response = self._http.post(prepared.url, content=prepared.content, headers=prepared.headers)
        return _check_answered(response)

    def fetch_public_key(self) -> dict[str, Any]:
        """`GET /public-key` (unsigned: compare it with the key you pinned, never trust it)."""
        try:
            response = self._http.get(f"{self.api}/public-key")
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        return dict(response.json())

    def init(self) -> m.InitResult:
        return self._run(self.op_init())

    def login(self, username: str, password: str, *, hwid: str | None = None) -> m.LoginResult:
        return self._run(self.op_login(username, password, hwid))

    def license_login(self, key: str, *, hwid: str | None = None) -> m.LoginResult:
        return self._run(self.op_license_login(key, hwid))

    def register(
        self, username: str, password: str, key: str, *, email: str = "", hwid: str | None = None
    ) -> m.LoginResult:
        return self._run(self.op_register(username, password, key, email, hwid))

    def extend(self, username: str, key: str, *, hwid: str | None = None) -> m.ExtendResult:
        return self._run(self.op_extend(username, key, hwid))

    def change_password(self, old_password: str, new_password: str) -> str:
        return self._run(self.op_change_password(old_password, new_password))

    def device_auth(
        self, device_type: str, device_id: str, *, hwid: str | None = None
    ) -> m.LoginResult:
        return self._run(self.op_device_auth(device_type, device_id, hwid))

    def get_variable(self, key: str) -> m.Variable:
        return self._run(self.op_get_variable(key))

    def set_variable(self, key: str, value: str) -> m.Variable:
        return self._run(self.op_set_variable(key, value))

    def log(self, message: str) -> str:
        return self._run(self.op_log(message))

    def get_chats(
        self, channel: str, *, limit: int | None = None, cursor: str | None = None
    ) -> m.ChatPage:
        return self._run(self.op_get_chats(channel, limit, cursor))

    def send_chat(self, channel: str, message: str) -> m.ChatMessage:
        return self._run(self.op_send_chat(channel, message))

    def validate_session(self) -> m.SessionStatus:
        return self._run(self.op_validate_session())

    def check_blacklist(
        self, *, hwid: str | None = None, ip: str | None = None
    ) -> m.BlacklistResult:
        return self._run(self.op_check_blacklist(hwid, ip))

    def fetch_ticket(self) -> m.IssuedTicket:
        """An offline ticket for the logged-in session (the app's offline_ticket_ttl)."""
        return self._run(self.op_fetch_ticket())

    def check_ticket(self, ticket: str, *, hwid: str | None = None) -> m.TicketStatus:
        """Ask the server whether a stored ticket's identity is still allowed (no session)."""
        return self._run(self.op_check_ticket(ticket, hwid))


class AsyncClient(Core):
    """asyncio client; the same methods as `Client`, as coroutines."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, op: Op[T]) -> T:
        prepared = self.prepare(op)
        for attempt in range(self.retries + 1):
            try:
                response = await self._send(prepared)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise _transport_error(exc) from exc
                await asyncio.sleep(self.retry_backoff * 2**attempt)
                continue
            return self.finish(
                op, prepared, response.status_code, response.headers, response.content
            )
        raise AssertionError("unreachable")

    async def _send(self, prepared: Prepared) -> httpx.Response:
        response = await self._http.post(
            prepared.url, content=prepared.content, headers=prepared.headers
        )
        return _check_answered(response)

    async def fetch_public_key(self) -> dict[str, Any]:
        try:
            response = await self._http.get(f"{self.api}/public-key")
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        return dict(response.json())

    async def init(self) -> m.InitResult:
        return await self._run(self.op_init())

    async def login(
        self, username: str, password: str, *, hwid: str | None = None
    ) -> m.LoginResult:
        return await self._run(self.op_login(username, password, hwid))

    async def license_login(self, key: str, *, hwid: str | None = None) -> m.LoginResult:
        return await self._run(self.op_license_login(key, hwid))

    async def register(
        self, username: str, password: str, key: str, *, email: str = "", hwid: str | None = None
    ) -> m.LoginResult:
        return await self._run(self.op_register(username, password, key, email, hwid))

    async def extend(self, username: str, key: str, *, hwid: str | None = None) -> m.ExtendResult:
        return await self._run(self.op_extend(username, key, hwid))

    async def change_password(self, old_password: str, new_password: str) -> str:
        return await self._run(self.op_change_password(old_password, new_password))

    async def device_auth(
        self, device_type: str, device_id: str, *, hwid: str | None = None
    ) -> m.LoginResult:
        return await self._run(self.op_device_auth(device_type, device_id, hwid))

    async def get_variable(self, key: str) -> m.Variable:
        return await self._run(self.op_get_variable(key))

    async def set_variable(self, key: str, value: str) -> m.Variable:
        return await self._run(self.op_set_variable(key, value))

    async def log(self, message: str) -> str:
        return await self._run(self.op_log(message))

    async def get_chats(
        self, channel: str, *, limit: int | None = None, cursor: str | None = None
    ) -> m.ChatPage:
        return await self._run(self.op_get_chats(channel, limit, cursor))

    async def send_chat(self, channel: str, message: str) -> m.ChatMessage:
        return await self._run(self.op_send_chat(channel, message))

    async def validate_session(self) -> m.SessionStatus:
        return await self._run(self.op_validate_session())

    async def check_blacklist(
        self, *, hwid: str | None = None, ip: str | None = None
    ) -> m.BlacklistResult:
        return await self._run(self.op_check_blacklist(hwid, ip))

    async def fetch_ticket(self) -> m.IssuedTicket:
        return await self._run(self.op_fetch_ticket())

    async def check_ticket(self, ticket: str, *, hwid: str | None = None) -> m.TicketStatus:
        return await self._run(self.op_check_ticket(ticket, hwid))
