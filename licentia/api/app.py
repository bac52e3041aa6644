"""The ASGI application: `/api/v2` (client protocol) plus the FastAPI app for the rest.

`create_app(settings)` is the composition root. `/api/v2/...` is routed straight to the
client API (no framework routing on the hot path); everything else goes to FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select, text

from licentia import __version__
from licentia.api import busy, landing, logfilter, metrics
from licentia.api.client_v2.app import PREFIX, ClientApi, Receive, Scope, Send, SignerHolder
from licentia.api.client_v2.endpoints import ALIASES, FIELDS, canonical
from licentia.api.elite import build_router as build_elite_router
from licentia.api.manage import build_router as build_manage_router
from licentia.api.replay import (
    DatabaseReplayStore,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
)
from licentia.config import RateSpec, Settings
from licentia.services import maintenance, session_seen, signing_keys, usage, webhook_delivery
from licentia.services.appconfig import AppConfigCache
from licentia.services.client import ClientService
from licentia.services.netinfo import NetInfo
from licentia.services.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from licentia.services.runtime import Runtime
from licentia.services.session_seen import SeenBuffer
from licentia.store.migrate import upgrade_async
from licentia.store.tables import replay_cache
from licentia.web import build_dashboard
from licentia.web.portal import build_portal

log = logging.getLogger("licentia")

#: Content type of the Prometheus text exposition format.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _SharedLimiter:
    """The limiter the Elite Key router uses: the one `startup()` builds (Redis when
    `LICENTIA_REDIS_URL` is set, so every worker shares the per-owner budget, A.4 step 7),
    or an in-process one before that."""

    def __init__(self) -> None:
        self.target: RateLimiter = MemoryRateLimiter()

    async def hit(self, bucket: str, key: str, spec: RateSpec) -> int:
        return await self.target.hit(bucket, key, spec)


class LicentiaApp:
    """ASGI callable. `startup()`/`shutdown()` run from the lifespan protocol, or by tests."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.client: ClientApi | None = None
        self._redis: Any = None
        self._janitor: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._seen_flusher: asyncio.Task[None] | None = None
        self._webhooks: asyncio.Task[None] | None = None
        #: This worker's write-behind last-seen times (`services/session_seen.py`).
        self.seen: SeenBuffer | None = None
        self.usage: usage.UsageCounter | None = None
        self.metrics: metrics.Metrics | None = (
            metrics.Metrics() if settings.metrics_enabled else None
        )
        self._elite_limiter = _SharedLimiter()
        self.web = FastAPI(title="Licentia", version=__version__, docs_url=None, redoc_url=None)
        landing.install(self.web)  # `/` to the dashboard, `/docs` without a CDN
        self.web.add_api_route("/healthz", self._health, methods=["GET"], include_in_schema=False)
        self.web.add_api_route("/metrics", self._metrics, methods=["GET"], include_in_schema=False)
        self.web.include_router(build_manage_router(lambda: self.runtime))
        self.web.include_router(
            build_elite_router(
                lambda: self.runtime,
                owner_rate=settings.elite_rate,
                limiter=self._elite_limiter,
                get_redis=lambda: self._redis,
            )
        )
        # The dashboard (issue #4): server-rendered pages on the same services.
        self.web.mount("/dashboard", build_dashboard(lambda: self.runtime))
        # The end-user portal (issue #4 item 5, B.22): per app, off unless user_panel_enabled.
        self.web.mount("/portal", build_portal(lambda: self.runtime))

    async def _metrics(self, request: Request) -> Response:
        """Prometheus text format; 404 unless enabled, 401 without the configured token."""
        if self.metrics is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        token = self.settings.metrics_token
        if token:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                return JSONResponse(
                    {"detail": "metrics need Authorization: Bearer <LICENTIA_METRICS_TOKEN>"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(self.metrics.render(), media_type=METRICS_CONTENT_TYPE)

    async def _health(self) -> JSONResponse:
        """200 when the database (and Redis, when configured) answer; 503 otherwise."""
        checks: dict[str, str] = {}
        try:
            assert self.runtime is not None
            async with self.runtime.db.read() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unavailable"
        if self._redis is not None:
            try:
                await self._redis.ping()
                checks["redis"] = "ok"
            except Exception:
                checks["redis"] = "unavailable"
        healthy = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "version": __version__, **checks},
            status_code=200 if healthy else 503,
        )

    async def startup(self) -> None:
        settings = self.settings
        rt = self.runtime or Runtime.build(settings)
        self.runtime = rt
        if settings.auto_migrate:
            await upgrade_async(settings.resolved_database_url)
        await rt.check_master_key()
        await signing_keys.ensure_active(rt)
        limiter: RateLimiter
        replay: ReplayStore
        if settings.redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(settings.redis_url)
            limiter = RedisRateLimiter(self._redis, prefix=f"{settings.redis_prefix}rl:")
        else:
            limiter = MemoryRateLimiter()
        self._elite_limiter.target = limiter
        backend = settings.replay_backend
        if backend == "auto":
            backend = (
                "redis"
                if settings.redis_url
                else ("memory" if settings.workers <= 1 else "database")
            )
        if backend == "redis":
            if self._redis is None:
                raise RuntimeError("LICENTIA_REPLAY_BACKEND=redis needs LICENTIA_REDIS_URL")
            replay = RedisReplayStore(self._redis, prefix=f"{settings.redis_prefix}nonce:")
        elif backend == "database":
            replay = DatabaseReplayStore(rt.db, rt.clock)
        else:
            replay = MemoryReplayStore()
        net = NetInfo(settings)
        cache = AppConfigCache(rt.box)
        self.seen = SeenBuffer()
        service = ClientService(rt, cache=cache, net=net, limiter=limiter, seen=self.seen)
        self.usage = usage.UsageCounter(rt.clock)
        usage.attach(rt, self.usage)
        if self.metrics is not None:
            self._start_metrics(rt, cache, replay)
        self.client = ClientApi(
            usage=self.usage,
            settings=settings,
            service=service,
            signer=SignerHolder(lambda: signing_keys.load_active(rt)),
            replay=replay,
            limiter=limiter,
            net=net,
        )
        if settings.purge_interval > 0:
            self._janitor = asyncio.create_task(self._purge_loop(settings.purge_interval))
        self._flusher = asyncio.create_task(
            usage.run_flusher(rt, self.usage, settings.usage_flush_interval)
        )
        self._seen_flusher = asyncio.create_task(session_seen.run_flusher(rt.db, self.seen))
        if settings.webhook_poll_interval > 0:  # every worker process delivers (issue #11)
            self._webhooks = asyncio.create_task(
                webhook_delivery.run_worker(rt, settings.webhook_poll_interval)
            )

    def _start_metrics(self, rt: Runtime, cache: AppConfigCache, replay: ReplayStore) -> None:
        assert self.metrics is not None
        counter = self.usage
        self.metrics.sources = {
            **metrics.pool_sources(rt.db.engine.pool),
            "licentia_usage_pending_requests": lambda: counter.pending if counter else 0,
            "licentia_app_config_cache_entries": metrics.sized(cache),
            "licentia_replay_store_entries": metrics.sized(replay),
        }
        rows = None
        if isinstance(replay, DatabaseReplayStore):

            async def rows() -> int:
                async with rt.db.read() as conn:
                    query = select(func.count()).select_from(replay_cache)
                    return int((await conn.execute(query)).scalar_one())

        self.metrics.start(rows)

    async def _purge_loop(self, interval: int) -> None:
        assert self.runtime is not None
        while True:
            await asyncio.sleep(interval)
            try:
                await maintenance.purge_exclusive(self.runtime)
            except Exception:
                log.exception("periodic purge failed")

    async def shutdown(self) -> None:
        for task in (self._janitor, self._flusher, self._seen_flusher, self._webhooks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._janitor = self._flusher = self._seen_flusher = self._webhooks = None
        if self.seen is not None and self.runtime is not None:
            try:
                await self.seen.flush(self.runtime.db)
            except Exception:
                log.exception("could not write session last-seen times at shutdown")
        if self.metrics is not None:
            await self.metrics.stop()
        if self.usage is not None and self.runtime is not None:
            try:
                await self.usage.flush(self.runtime)
            except Exception:
                log.exception("could not flush client usage counts at shutdown")
            usage.detach(self.runtime)
        if self._redis is not None:
            await self._redis.aclose()
        if self.runtime is not None:
            await self.runtime.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope.get(busy.SCOPE_KEY):  # over the connection cap (#14)
            await busy.answer(self.client, scope, send)
            return
        if kind == "http" and self.metrics is not None:
            await self._measured(scope, receive, send)
            return
        if kind == "http" and (scope["path"].startswith(PREFIX) or scope["path"] == PREFIX[:-1]):
            assert self.client is not None, "startup() has not run"
            await self.client(scope, receive, send)
            return
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.web(scope, receive, send)  # type: ignore[arg-type]

    async def _measured(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request and record its status and latency (metrics enabled)."""
        assert self.metrics is not None
        started = time.perf_counter()
        status = 500

        async def watch(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        path: str = scope["path"]
        is_client = path.startswith(PREFIX) or path == PREFIX[:-1]
        try:
            if is_client:
                assert self.client is not None, "startup() has not run"
                await self.client(scope, receive, watch)
            else:
                await self.web(scope, receive, watch)  # type: ignore[arg-type]
        finally:
            if is_client:
                name = path[len(PREFIX) :].rstrip("/")
                face = "client"
                endpoint = name if name == "public-key" else (canonical(name) or "unknown")
            else:
                route = getattr(scope.get("route"), "path", None)
                endpoint = route if isinstance(route, str) else "unmatched"
                if path.startswith("/api/manage/"):
                    face = "manage"
                elif path.startswith("/api/elite-key"):
                    face = "elite-key"
                else:
                    face = "other"
            self.metrics.observe(face, endpoint, status, time.perf_counter() - started)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(settings: Settings, runtime: Runtime | None = None) -> LicentiaApp:
    return LicentiaApp(settings, runtime)


def create_app_from_env() -> LicentiaApp:
    """Factory for `uvicorn --factory` and worker processes: settings from the environment."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app = create_app(settings)
    # The access log shows routes with a license key in the path by their placeholder.
    logfilter.install(access_log_routes(app))
    return app


def access_log_routes(app: LicentiaApp) -> list[str]:
    """Every route the access log knows: the web app's and the client API's endpoints."""
    client = [PREFIX + name for name in (*FIELDS, *ALIASES)]
    return logfilter.secret_routes(app.web) + client
