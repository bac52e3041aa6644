"""The Elite Key API (management Part A): `/api/elite-key` and `/api/elite-key/ping`.

`build_router(get_runtime)` returns a FastAPI router; the composition root includes it in the
web app. Processing follows A.4: method and size, failed-key throttle, key, IP rules, domain
rules, function/action, capability, owner rate limit, app, parameters, action. Every call
that changes data and every refused (401/403) call is written to the audit log (A.9); the
key itself is never logged nor recorded.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from licentia.api.elite import actions_team as actions_team  # registers staff/reseller
from licentia.api.elite import actions_webhooks as actions_webhooks  # registers webhook
from licentia.api.elite import handlers
from licentia.api.elite.params import Params, RawRequest, extract
from licentia.config import RateSpec
from licentia.services import audit
from licentia.services.admin_common import AdminError
from licentia.services.audit import Actor
from licentia.services.credentials import ElitePrincipal, authenticate_elite_key
from licentia.services.elite_throttle import SharedFailureThrottle
from licentia.services.netinfo import in_networks, parse_networks, to_ip
from licentia.services.ratelimit import MemoryRateLimiter, RateLimiter
from licentia.services.runtime import Runtime
from licentia.store.tables import apps

log = logging.getLogger("licentia.elite")

PATH = "/api/elite-key"
PING_PATH = "/api/elite-key/ping"
MAX_BODY = 65536
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

STATUS: dict[str, int] = {
    "INVALID_ELITE_KEY": 401,
    "ACCOUNT_SUSPENDED": 403,
    "IP_BLOCKED": 403,
    "DOMAIN_BLOCKED": 403,
    "PERMISSION_DENIED": 403,
    "INVALID_ACTION": 400,
    "MISSING_FIELDS": 400,
    "INVALID_INPUT": 400,
    "ALREADY_EXISTS": 409,
    "IN_USE": 409,
    "INVALID_PASSWORD": 422,
    "INSUFFICIENT_BALANCE": 422,
    "METHOD_NOT_ALLOWED": 405,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
}

SHORT: dict[str, str] = {
    "INVALID_ELITE_KEY": "Invalid Elite Key",
    "ACCOUNT_SUSPENDED": "Account suspended",
    "IP_BLOCKED": "IP address blocked",
    "DOMAIN_BLOCKED": "Domain blocked",
    "PERMISSION_DENIED": "Permission denied",
    "INVALID_ACTION": "Invalid action",
    "MISSING_FIELDS": "Missing required fields",
    "INVALID_INPUT": "Invalid input",
    "ALREADY_EXISTS": "Already exists",
    "IN_USE": "In use",
    "INVALID_PASSWORD": "Invalid password",
    "INSUFFICIENT_BALANCE": "Insufficient balance",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "PAYLOAD_TOO_LARGE": "Payload too large",
    "RATE_LIMITED": "Rate limited",
    "INTERNAL": "Internal error",
}


def status_of(code: str) -> int:
    if code in STATUS:
        return STATUS[code]
    if code.endswith("_NOT_FOUND"):
        return 404
    return 400


def short_of(code: str) -> str:
    if code in SHORT:
        return SHORT[code]
    if code.endswith("_NOT_FOUND"):
        return code[: -len("_NOT_FOUND")].replace("_", " ").capitalize() + " not found"
    return code.replace("_", " ").capitalize()


def error_response(
    code: str, detail: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    short = short_of(code)
    return JSONResponse(
        {
            "code": code,
            "detail": detail or short,
            "error": short,
            "message": short,
            "success": False,
        },
        status_code=status_of(code),
        headers=headers,
    )


class Refusal(Exception):
    """A refused call: its A.5 code, detail and extra headers."""

    def __init__(self, code: str, detail: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self.headers = headers


def _host(url: str) -> str | None:
    text = url.strip()
    if not text or text == "null":
        return None
    try:
        host = urlsplit(text if "//" in text else "//" + text).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def request_domain(request: Request) -> str | None:
    """The host of `Origin`, else of `Referer`, else None (A.4 step 4)."""
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:
            host = _host(value)
            if host:
                return host
    return None


def domain_matches(domain: str, rule: str) -> bool:
    if rule.startswith("*."):
        return domain.endswith(rule[1:])
    return domain == rule


def ip_matches(ip: str, rules: list[str]) -> bool:
    address = to_ip(ip)
    if address is None:
        return False
    for rule in rules:
        try:
            network = ipaddress.ip_network(rule, strict=False)
        except ValueError:
            continue
        if network.version == address.version and address in network:
            return True
    return False


class EliteApi:
    def __init__(
        self,
        get_runtime: Callable[[], Runtime | None],
        *,
        owner_rate: str = "120/60",
        limiter: RateLimiter | None = None,
        throttle: SharedFailureThrottle | None = None,
        get_redis: Callable[[], Any] = lambda: None,
    ) -> None:
        self._get_runtime = get_runtime
        self.owner_rate = RateSpec.parse(owner_rate)
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self.throttle = throttle or SharedFailureThrottle(get_runtime, get_redis)
        self._trusted: tuple[str, list[Any]] | None = None

    # -- helpers ----------------------------------------------------------------------

    def runtime(self) -> Runtime:
        rt = self._get_runtime()
        if rt is None:
            raise RuntimeError("the application has not started")
        return rt

    def client_ip(self, rt: Runtime, request: Request) -> str:
        """`CF-Connecting-IP`, then `X-Forwarded-For`, then the socket address; the headers
        only when the socket peer is a trusted proxy (A.4 step 3)."""
        peer = request.client.host if request.client else ""
        configured = rt.settings.trusted_proxies
        if self._trusted is None or self._trusted[0] != configured:
            self._trusted = (configured, parse_networks(rt.settings.trusted_proxy_list()))
        trusted = self._trusted[1]
        peer_ip = to_ip(peer)
        if peer_ip is None or not trusted or not in_networks(peer_ip, trusted):
            return str(peer_ip) if peer_ip else peer
        cf = to_ip(request.headers.get("cf-connecting-ip", ""))
        if cf is not None:
            return str(cf)
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            hop_ip = to_ip(hop)
            if hop_ip is None:
                break
            if not in_networks(hop_ip, trusted):
                return str(hop_ip)
        return str(peer_ip)

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise Refusal("PAYLOAD_TOO_LARGE", f"the request body is larger than {MAX_BODY} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Refusal(
                    "PAYLOAD_TOO_LARGE", f"the request body is larger than {MAX_BODY} bytes"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _audit_refusal(
        self,
        rt: Runtime,
        actor: Actor,
        owner_account_id: str | None,
        capability: str,
        code: str,
        target_type: str = "",
        target: str = "",
        app_id: str | None = None,
    ) -> None:
        try:
            await audit.record_standalone(
                rt,
                actor,
                owner_account_id=owner_account_id,
                capability=capability or "elite-key.call",
                result=code,
                target_type=target_type,
                target=target,
                app_id=app_id,
            )
        except Exception:
            log.exception("could not write the audit entry of a refused Elite Key call")

    async def _gate(
        self, rt: Runtime, request: Request, raw: RawRequest, actor: Actor, capability: str
    ) -> ElitePrincipal:
        """A.4 steps 1 to 4: throttle, key, suspension, IP rules, domain rules."""
        ip = actor.ip
        # Counted before the key is looked at; a right key gives its attempt back.
        attempt = await self.throttle.reserve(ip)
        if attempt.wait:
            raise Refusal(
                "RATE_LIMITED",
                "too many failed Elite Key checks from this IP; try again later",
                {"Retry-After": str(attempt.wait)},
            )
        principal: ElitePrincipal | None = None
        if raw.elite_key:
            principal = await authenticate_elite_key(rt, raw.elite_key, ip=ip)
        if principal is not None:
            await self.throttle.release(attempt)
        else:
            await self._audit_refusal(rt, actor, None, capability, "INVALID_ELITE_KEY")
            raise Refusal(
                "INVALID_ELITE_KEY",
                "the Elite Key is missing or unknown"
                if raw.elite_key
                else "no Elite Key given (x-elite-key header or key parameter)",
            )
        owner_actor = _with_owner(actor, principal)
        settings = principal.settings
        refusal: Refusal | None = None
        if principal.suspended:
            refusal = Refusal("ACCOUNT_SUSPENDED", "the owner account is suspended")
        elif ip_matches(ip, settings.ip_deny) or (
            settings.ip_allow and not ip_matches(ip, settings.ip_allow)
        ):
            refusal = Refusal("IP_BLOCKED", "this IP address is not allowed to use the Elite Key")
        else:
            domain = actor.details.get("domain") or ""
            if (domain and any(domain_matches(domain, r) for r in settings.domain_deny)) or (
                settings.domain_allow
                and not (domain and any(domain_matches(domain, r) for r in settings.domain_allow))
            ):
                refusal = Refusal(
                    "DOMAIN_BLOCKED", "this domain is not allowed to use the Elite Key"
                )
        if refusal is not None:
            await self._audit_refusal(
                rt, owner_actor, principal.account_id, capability, refusal.code
            )
            raise refusal
        return principal

    # -- endpoints --------------------------------------------------------------------

    async def endpoint(self, request: Request) -> Response:
        return await self._handle(request, ping=False)

    async def ping_endpoint(self, request: Request) -> Response:
        return await self._handle(request, ping=True)

    async def _handle(self, request: Request, *, ping: bool) -> Response:
        if request.method not in ("GET", "POST"):
            return error_response(
                "METHOD_NOT_ALLOWED", f"{request.method} is not allowed; use GET or POST"
            )
        try:
            rt = self.runtime()
            body = await self._read_body(request)
            raw = extract(
                request.scope.get("query_string", b""),
                body,
                request.headers.get("content-type", ""),
                request.headers.get("x-elite-key"),
            )
            return await self._process(rt, request, raw, ping=ping)
        except Refusal as refusal:
            return error_response(refusal.code, refusal.detail, refusal.headers)
        except AdminError as exc:
            return error_response(exc.code, exc.message)
        except Exception:
            log.exception("Elite Key call failed")
            return error_response("INTERNAL", "an unexpected error occurred")

    async def _process(
        self, rt: Runtime, request: Request, raw: RawRequest, *, ping: bool
    ) -> Response:
        params = Params(raw.values)
        function = (params.text("function") or "").strip().lower()
        action = (params.text("action") or "").strip().lower()
        if function == "ping":
            ping = True
        capability = "ping" if ping else f"{function}.{action}" if function or action else ""
        url_prefix = params.raw("url_prefix")
        domain = request_domain(request)
        details: dict[str, Any] = {
            "url_prefix": url_prefix[:256] if isinstance(url_prefix, str) else "",
            "domain": domain or "",
        }
        actor = Actor(
            kind="elite-key",
            name="",
            face="elite-key",
            ip=self.client_ip(rt, request),
            request_id=secrets.token_hex(8),
            details=details,
        )
        principal = await self._gate(rt, request, raw, actor, capability)
        actor = _with_owner(actor, principal)
        if ping:
            async with rt.db.read() as conn:
                count = (
                    await conn.execute(
                        select(func.count())
                        .select_from(apps)
                        .where(apps.c.owner_account_id == principal.account_id)
                    )
                ).scalar_one()
            return JSONResponse(
                {
                    "success": True,
                    "message": "pong",
                    "owner_id": principal.owner_id,
                    "apps": int(count),
                }
            )
        # Step 5: function and action.
        if not function or not action:
            name = "action" if function else "function"
            raise Refusal("MISSING_FIELDS", f"Missing required parameter: {name}")
        spec = handlers.lookup(function, action)
        if spec is None:
            raise Refusal("INVALID_ACTION", f"unknown function or action: {function} {action}")
        # Step 6: capability.
        if capability in principal.settings.disabled_capabilities:
            await self._audit_refusal(
                rt, actor, principal.account_id, capability, "PERMISSION_DENIED"
            )
            raise Refusal(
                "PERMISSION_DENIED",
                f"The action {capability} is disabled in the Elite Key settings",
            )
        # Step 7: owner rate limit.
        wait = await self.limiter.hit("elite-owner", principal.account_id, self.owner_rate)
        if wait:
            raise Refusal(
                "RATE_LIMITED",
                "too many Elite Key calls for this account; try again later",
                {"Retry-After": str(wait)},
            )
        if raw.body_error:
            raise Refusal("INVALID_INPUT", raw.body_error)
        ctx = handlers.Context(
            rt=rt, principal=principal, actor=actor, params=params, capability=capability
        )
        try:
            if spec.app_scoped:
                await ctx.resolve_app()
            if spec.mutating:
                # The change and its audit entry commit together (or not at all).
                async with rt.db.write() as conn:
                    outcome = await spec.run(ctx)
                    await audit.record_as(
                        conn,
                        actor,
                        now=rt.clock(),
                        owner_account_id=principal.account_id,
                        capability=capability,
                        target_type=ctx.target_type,
                        target=ctx.target,
                        changes=ctx.changes or None,
                        app_id=ctx.app_id,
                    )
            else:
                outcome = await spec.run(ctx)
        except AdminError as exc:
            if spec.mutating or exc.code in ("PERMISSION_DENIED",):
                await self._audit_refusal(
                    rt,
                    actor,
                    principal.account_id,
                    capability,
                    exc.code,
                    ctx.target_type,
                    ctx.target,
                    ctx.app_id,
                )
            raise
        return JSONResponse({"success": True, **outcome})


def _with_owner(actor: Actor, principal: ElitePrincipal) -> Actor:
    return Actor(
        kind=actor.kind,
        name=principal.owner_id,
        face=actor.face,
        ip=actor.ip,
        request_id=actor.request_id,
        details=actor.details,
    )


def build_router(
    get_runtime: Callable[[], Runtime | None],
    *,
    owner_rate: str = "120/60",
    limiter: RateLimiter | None = None,
    get_redis: Callable[[], Any] = lambda: None,
) -> APIRouter:
    """The `/api/elite-key` routes. `get_runtime` (and `get_redis`, for the failed-key
    throttle) are called per request (after startup)."""
    api = EliteApi(get_runtime, owner_rate=owner_rate, limiter=limiter, get_redis=get_redis)
    router = APIRouter()
    router.add_api_route(PATH, api.endpoint, methods=ALL_METHODS, include_in_schema=False)
    router.add_api_route(PING_PATH, api.ping_endpoint, methods=ALL_METHODS, include_in_schema=False)
    return router
