"""The ASGI application: `/api/v2` (client protocol) plus the FastAPI app for the rest.

`create_app(settings)` is the composition root. `/api/v2/...` is routed straight to the
client API (no framework routing on the hot path); everything else goes to FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from licentia import __version__
from licentia.api import logfilter
from licentia.api.client_v2.app import PREFIX, ClientApi, Receive, Scope, Send, SignerHolder
from licentia.api.elite import build_router as build_elite_router
from licentia.api.manage import build_router as build_manage_router
from licentia.api.replay import (
    DatabaseReplayStore,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
)
from licentia.config import Settings
from licentia.services import maintenance, signing_keys
from licentia.services.appconfig import AppConfigCache
from licentia.services.client import ClientService
from licentia.services.netinfo import NetInfo
from licentia.services.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade_async

log = logging.getLogger("licentia")


class LicentiaApp:
    """ASGI callable. `startup()`/`shutdown()` run from the lifespan protocol, or by tests."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.client: ClientApi | None = None
        self._redis: Any = None
        self._janitor: asyncio.Task[None] | None = None
        self.web = FastAPI(title="Licentia", version=__version__, docs_url="/docs")
        self.web.add_api_route("/healthz", self._health, methods=["GET"], include_in_schema=False)
        self.web.include_router(build_manage_router(lambda: self.runtime))
        self.web.include_router(build_elite_router(lambda: self.runtime))

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
        service = ClientService(rt, cache=AppConfigCache(rt.box), net=net, limiter=limiter)
        self.client = ClientApi(
            settings=settings,
            service=service,
            signer=SignerHolder(lambda: signing_keys.load_active(rt)),
            replay=replay,
            limiter=limiter,
            net=net,
        )
        if settings.purge_interval > 0:
            self._janitor = asyncio.create_task(self._purge_loop(settings.purge_interval))

    async def _purge_loop(self, interval: int) -> None:
        assert self.runtime is not None
        while True:
            await asyncio.sleep(interval)
            try:
                await maintenance.purge(self.runtime)
            except Exception:
                log.exception("periodic purge failed")

    async def shutdown(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        if self._redis is not None:
            await self._redis.aclose()
        if self.runtime is not None:
            await self.runtime.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and (scope["path"].startswith(PREFIX) or scope["path"] == PREFIX[:-1]):
            assert self.client is not None, "startup() has not run"
            await self.client(scope, receive, send)
            return
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.web(scope, receive, send)  # type: ignore[arg-type]

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
    logfilter.install()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    return create_app(settings)
