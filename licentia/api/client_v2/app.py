"""The `/api/v2` client API as a plain ASGI application.

It runs the processing order of client protocol 0.16 itself, so that every response,
including routing, size, parse and unexpected failures, leaves through the one signed
envelope (0.10 to 0.12) and no framework error body ever reaches a client.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from licentia.api.client_v2.endpoints import CREDENTIAL_ENDPOINTS, FIELDS, canonical
from licentia.api.envelope import Signer, encode_body, error_body, resolve_message
from licentia.api.replay import ReplayStore
from licentia.config import Settings
from licentia.crypto.canonical import canonical_json
from licentia.domain.codes import Code, http_status
from licentia.domain.errors import ProtocolError
from licentia.domain.fields import coerce_int, parse_fields, valid_ip
from licentia.services.client import AUTH_EVENT_ENDPOINTS, ClientService, decode_cursor
from licentia.services.client_calls import Call
from licentia.services.netinfo import NetInfo
from licentia.services.ratelimit import RateLimiter
from licentia.services.usage import UsageCounter

log = logging.getLogger("licentia.api")

PREFIX = "/api/v2/"
# Codes found at steps 8 and 9, before the session check names the app.
_FIELD_CODES = frozenset({Code.MISSING_FIELDS, Code.INVALID_INPUT, Code.INVALID_DEVICE_TYPE})
_META_CHARS = re.compile(r"[\x21-\x7e]{1,128}")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


Extra = list[tuple[bytes, bytes]]


class _BadMetadata(Exception):
    pass


class _TooLarge(Exception):
    pass


class _Meta:
    __slots__ = ("nonce", "request_id", "timestamp")

    def __init__(self, request_id: str = "", nonce: str = "", timestamp: int | None = None) -> None:
        self.request_id = request_id
        self.nonce = nonce
        self.timestamp = timestamp


def _check_token(value: Any) -> str:
    if not isinstance(value, str) or not _META_CHARS.fullmatch(value):
        raise _BadMetadata
    return value


def _check_timestamp(value: Any) -> int:
    try:
        number = coerce_int(value)
    except Exception:
        raise _BadMetadata from None
    if number < 0:
        raise _BadMetadata
    return number


def read_metadata(body: dict[str, Any] | None, headers: dict[bytes, bytes]) -> _Meta:
    """Request id, nonce and timestamp from the body, else the headers (0.6)."""

    def pick(body_key: str, *header_keys: bytes) -> Any:
        if body is not None and body.get(body_key) is not None:
            return body[body_key]
        for key in header_keys:
            # An empty header value counts as absent: the next source may have it (0.6).
            value = headers.get(key, b"").strip(b" \t")
            if value:
                return value.decode("latin-1")
        return None

    rid = pick("request_id", b"x-v2-request-id", b"x-request-id")
    nonce = pick("nonce", b"x-v2-nonce", b"x-auth-nonce")
    ts = pick("timestamp", b"x-v2-timestamp", b"x-auth-timestamp")
    return _Meta(
        _check_token(rid) if rid is not None else "",
        _check_token(nonce) if nonce is not None else "",
        _check_timestamp(ts) if ts is not None else None,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


# Built once: `json.loads` with options builds a new decoder on every call.
_DECODER = json.JSONDecoder(strict=False, parse_constant=_reject_constant)


def parse_body(raw: bytes) -> dict[str, Any]:
    """0.1: UTF-8 (BOM skipped), lenient JSON (raw control characters allowed), an object."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
        value = _DECODER.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError(Code.INVALID_REQUEST) from None
    if not isinstance(value, dict):
        raise ProtocolError(Code.INVALID_REQUEST)
    return value


Result = tuple[int, bytes, _Meta, Extra]


class SignerHolder:
    """The active signing key, re-read from the database every few seconds (rotation)."""

    def __init__(self, loader: Callable[[], Awaitable[Any]], refresh_seconds: float = 10.0) -> None:
        self._loader = loader
        self._refresh = refresh_seconds
        self.signer: Signer | None = None
        self._next = 0.0

    async def get(self) -> Signer | None:
        loop = asyncio.get_running_loop()
        if self.signer is None or loop.time() >= self._next:
            self._next = loop.time() + self._refresh
            try:
                key = await self._loader()
            except Exception:
                log.exception("signing key could not be loaded")
                key = None
            if key is not None and (self.signer is None or self.signer.key.kid != key.kid):
                self.signer = Signer(key)
        return self.signer


class ClientApi:
    def __init__(
        self,
        *,
        settings: Settings,
        service: ClientService,
        signer: SignerHolder,
        replay: ReplayStore,
        limiter: RateLimiter,
        net: NetInfo,
        usage: UsageCounter | None = None,
    ) -> None:
        self.settings = settings
        #: Requests per app, day and endpoint (B.12); counted in memory, flushed elsewhere.
        self.usage = usage
        self.service = service
        self.signer = signer
        self.replay = replay
        self.limiter = limiter
        self.net = net
        self.max_body = settings.max_body_bytes
        self.window = settings.replay_window
        self.rate_general = settings.rate("general")
        self.rate_credentials = settings.rate("credentials")
        self.handlers: dict[str, Callable[[Call], Awaitable[dict[str, Any]]]] = {
            "init": service.init,
            "login": service.login,
            "licenses": service.licenses,
            "register": service.register,
            "extend": service.extend,
            "change-password": service.change_password,
            "device-auth": service.device_auth,
            "variables": service.variables_get,
            "variables/set": service.variables_set,
            "logs": service.logs,
            "chats/get": service.chats_get,
            "chats/send": service.chats_send,
            "validate-session": service.validate_session,
            "blacklist/check": service.blacklist_check,
            "ticket": service.ticket,
            "ticket/check": service.ticket_check,
        }

    # -------------------------------------------------------------- ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: dict[bytes, bytes] = {}
        for key, value in scope.get("headers", []):
            headers.setdefault(key.lower(), value)
        peer = (scope.get("client") or ("", 0))[0] or ""
        client_ip, via_proxy = self.net.client_ip(peer, headers)
        try:
            header_meta = read_metadata(None, headers)
        except _BadMetadata:
            header_meta = _Meta()
        try:
            status, body, meta, extra_headers = await self._handle(
                scope, receive, headers, client_ip, via_proxy, header_meta
            )
        except Exception:
            log.exception("unhandled error (request id %s)", header_meta.request_id or "-")
            status, body, meta, extra_headers = (
                500,
                encode_body(error_body(ProtocolError(Code.INTERNAL), None, None)),
                header_meta,
                [],
            )
        await self._send(send, status, body, meta, extra_headers)

    async def _send(
        self, send: Send, status: int, body: bytes, meta: _Meta, extra: list[tuple[bytes, bytes]]
    ) -> None:
        if _UNSIGNED in extra:
            headers = [
                (b"content-type", b"application/json"),
                (b"cache-control", b"public, max-age=300"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        signer = await self.signer.get()
        if signer is None:
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            status = 500
            body = encode_body(error_body(ProtocolError(Code.INTERNAL), None, None))
        else:
            headers = signer.headers(body, meta.request_id, meta.nonce)
        headers.extend(extra)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -------------------------------------------------------------- the steps of 0.16

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[bytes, bytes],
        client_ip: str,
        via_proxy: bool,
        header_meta: _Meta,
    ) -> Result:
        path: str = scope["path"]
        name = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if name.endswith("/"):
            name = name[:-1]
        method = scope["method"]

        endpoint: str | None = None

        def early(code: Code, extra: Extra | None = None) -> Result:
            body = encode_body(error_body(ProtocolError(code), endpoint, None))
            return http_status(code), body, header_meta, extra or []

        # Step 1: route and method.
        if name == "public-key":
            if method != "GET":
                return early(Code.METHOD_NOT_ALLOWED, [(b"allow", b"GET")])
            return await self._public_key(client_ip, header_meta)
        endpoint = canonical(name)
        if endpoint is None:
            return early(Code.NOT_FOUND)
        if method != "POST":
            return early(Code.METHOD_NOT_ALLOWED, [(b"allow", b"POST")])
        # Step 2: body size.
        try:
            raw = await self._read_body(receive, headers)
        except _TooLarge:
            return early(Code.PAYLOAD_TOO_LARGE)
        # Step 3: a JSON object.
        try:
            body = parse_body(raw)
        except ProtocolError as err:
            return early(err.code)
        # Step 4: metadata format; a bad value is answered with empty, unechoed slots.
        try:
            meta = read_metadata(body, headers)
        except _BadMetadata:
            bad = encode_body(error_body(ProtocolError(Code.INVALID_REQUEST), endpoint, None))
            return 400, bad, _Meta(), []
        call = Call(
            endpoint=endpoint,
            body=body,
            raw_body=raw,
            client_ip=client_ip,
            request_id=meta.request_id,
            nonce=meta.nonce,
            timestamp=meta.timestamp,
        )
        sig = headers.get(b"x-v2-signature")
        if sig is None:
            sig = headers.get(b"x-auth-signature")
        call.signature = sig.decode("latin-1") if sig is not None else None
        try:
            # Step 5: rate limits (general, credentials).
            await self._rate_limits(endpoint, client_ip)
            # Step 6: timestamp window.
            if meta.timestamp is not None:
                now_ms = int(self.service.clock().timestamp() * 1000)
                if abs(now_ms - meta.timestamp) > self.window * 1000:
                    raise ProtocolError(Code.REQUEST_EXPIRED)
        except ProtocolError as err:
            return await self._error(call, err)
        # Step 7: nonce.
        if meta.nonce:
            digest = hashlib.sha256(raw).hexdigest()
            seen = await self.replay.claim(meta.nonce, meta.request_id, digest, 2 * self.window)
            if seen is not None:
                return await self._replayed(call, seen, digest, meta)
        status, out, extra = await self._run(call, headers, via_proxy)
        if self.usage is not None and call.app is not None:
            self.usage.hit(call.app.id, endpoint)
        if meta.nonce:
            await self.replay.store(meta.nonce, status, out)
        return status, out, meta, extra

    async def _replayed(self, call: Call, seen: Any, digest: str, meta: _Meta) -> Result:
        if seen.request_id != meta.request_id or seen.body_sha256 != digest:
            return await self._error(call, ProtocolError(Code.REPLAY_DETECTED))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while seen is not None and seen.status is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
            seen = await self.replay.fetch(meta.nonce)
        if seen is None or seen.status is None or seen.body is None:
            return await self._error(call, ProtocolError(Code.REPLAY_DETECTED))
        extra: list[tuple[bytes, bytes]] = []
        if seen.status == 429:
            retry = json.loads(seen.body).get("retry_after", 1)
            extra.append((b"retry-after", str(retry).encode()))
        return seen.status, seen.body, meta, extra

    async def _error(self, call: Call, err: ProtocolError) -> Result:
        """An error found before the endpoint ran (steps 5 to 7)."""
        call.app = await self.service.app_for_messages(call)
        if self.usage is not None and call.app is not None:
            self.usage.hit(call.app.id, call.endpoint)
        status, body, extra = self._error_parts(call, err)
        return status, body, _Meta(call.request_id, call.nonce, call.timestamp), extra

    def _error_parts(
        self, call: Call, err: ProtocolError
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        custom = call.app.messages if call.app else None
        body = encode_body(error_body(err, call.endpoint, custom))
        extra: list[tuple[bytes, bytes]] = []
        if err.retry_after is not None:
            extra.append((b"retry-after", str(err.retry_after).encode()))
        return http_status(err.code), body, extra

    async def _run(
        self, call: Call, headers: dict[bytes, bytes], via_proxy: bool
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        endpoint = call.endpoint
        call.wants_event = endpoint in AUTH_EVENT_ENDPOINTS
        call.country = self.net.country(call.client_ip, headers, via_proxy)
        try:
            # Steps 8 and 9: required fields, then field formats.
            call.fields = parse_fields(call.body, FIELDS[endpoint])
            self._endpoint_formats(call)
            reported = call.fields.get("ip")
            call.reported_ip = valid_ip(reported) if isinstance(reported, str) else ""
            payload = await self.handlers[endpoint](call)
        except ProtocolError as err:
            if call.app is None and err.code in _FIELD_CODES:
                call.app = await self.service.app_for_messages(call)
            await self._after_failure(call, err.code)
            return self._error_parts(call, err)
        except Exception:
            log.exception("unhandled error in %s (request id %s)", endpoint, call.request_id or "-")
            await self._after_failure(call, Code.INTERNAL)
            return 500, encode_body(error_body(ProtocolError(Code.INTERNAL), endpoint, None)), []
        custom = call.app.messages if call.app else None
        message_code = payload.pop("_message_code", Code.OK)
        body = {
            "success": True,
            "code": Code.OK.value,
            "message": resolve_message(message_code, endpoint, custom),
            **payload,
        }
        try:
            return 200, canonical_json(body), []
        except ValueError:
            log.exception("response of %s is outside the canonical subset", endpoint)
            return 500, encode_body(error_body(ProtocolError(Code.INTERNAL), endpoint, None)), []

    async def _after_failure(self, call: Call, code: Code) -> None:
        try:
            await self.service.after_failure(call, code)
        except Exception:
            log.exception(
                "could not record the failed call (request id %s)", call.request_id or "-"
            )

    @staticmethod
    def _endpoint_formats(call: Call) -> None:
        fields = call.fields
        if call.endpoint == "device-auth":
            kind = str(fields["device_type"]).lower()
            if kind not in ("motherboard", "processor"):
                raise ProtocolError(Code.INVALID_DEVICE_TYPE)
            fields["device_type"] = kind
        elif call.endpoint == "chats/get":
            cursor = fields.get("cursor")
            if cursor:
                position = decode_cursor(cursor)
                if position is None:
                    raise ProtocolError(Code.INVALID_INPUT, fields=["cursor"])
                fields["cursor_id"] = position

    async def _rate_limits(self, endpoint: str | None, client_ip: str) -> None:
        wait = await self.limiter.hit("general", client_ip, self.rate_general)
        if not wait and endpoint in CREDENTIAL_ENDPOINTS:
            wait = await self.limiter.hit("credentials", client_ip, self.rate_credentials)
        if wait:
            raise ProtocolError(Code.RATE_LIMITED, retry_after=wait)

    async def _read_body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body:
                    raise _TooLarge
            except ValueError:
                pass
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _public_key(self, client_ip: str, meta: _Meta) -> Result:
        try:
            await self._rate_limits(None, client_ip)
        except ProtocolError as err:
            body = encode_body(error_body(err, None, None))
            return 429, body, meta, [(b"retry-after", str(err.retry_after).encode())]
        signer = await self.signer.get()
        if signer is None:
            return 500, encode_body(error_body(ProtocolError(Code.INTERNAL), None, None)), meta, []
        key = signer.key
        body = canonical_json(
            {
                "algorithm": "Ed25519",
                "code": "OK",
                "der_base64": key.der_base64,
                "kid": key.kid,
                "message": "Server public key",
                "pem": key.pem,
                "success": True,
            }
        )
        return 200, body, meta, [_UNSIGNED]


# Marker header: the public-key success response is sent without signature headers.
_UNSIGNED = (b"x-licentia-unsigned", b"1")
