"""Bearer-token authentication, isolation and capability checks (management B.0, B.1).

Order of the checks, the first failure wins:

1. `Authorization: Bearer lic_...` names a valid token: else 401 `INVALID_TOKEN` (missing,
   malformed, unknown, revoked and expired tokens look the same).
2. The token's owner is not suspended: else 403 `ACCOUNT_SUSPENDED`.
3. The app in the path is the owner's and inside the token's app limit: else 404
   `APP_NOT_FOUND`, exactly as for an app that does not exist.
4. A scope of the token grants the capability: else 403 `PERMISSION_DENIED`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import and_, select

from licentia.services import audit, credentials
from licentia.services.admin_common import AdminError
from licentia.services.audit import Actor
from licentia.services.credentials import TokenPrincipal
from licentia.services.netinfo import NetInfo
from licentia.services.runtime import Runtime
from licentia.store.tables import apps

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="lic_...",
    description="An API token (`lic_` + 40 characters), created with `licentia token create`.",
)

#: Path parameter of every app-scoped route.
AppIdPath = Annotated[str, Path(description="The app's id (a UUID)")]


@dataclass
class Ctx:
    """One authorized call: who, on which app, with which capability, from where."""

    rt: Runtime
    principal: TokenPrincipal
    capability: str
    app_id: str | None
    ip: str
    request_id: str
    target_type: str = ""
    target: str = ""

    @property
    def is_read(self) -> bool:
        return credentials.is_read_action(self.capability.partition(".")[2])

    @property
    def created_by(self) -> str:
        """What `created_by` columns record for objects this call creates."""
        return f"token:{self.principal.token_id}"

    def actor(self) -> Actor:
        return self.principal.actor(ip=self.ip, request_id=self.request_id)

    async def audit(
        self,
        *,
        target_type: str | None = None,
        target: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Record this call's change (result `ok`), joining the call's write transaction."""
        async with self.rt.db.write() as conn:
            await audit.record_as(
                conn,
                self.actor(),
                now=self.rt.clock(),
                owner_account_id=self.principal.owner_account_id,
                capability=self.capability,
                target_type=self.target_type if target_type is None else target_type,
                target=self.target if target is None else target,
                changes=changes,
                app_id=self.app_id,
            )


class Guard:
    """Builds the per-route dependencies; holds the runtime getter and the network config."""

    def __init__(self, get_runtime: Callable[[], Runtime | None]) -> None:
        self._get_runtime = get_runtime
        self._net: tuple[Runtime, NetInfo] | None = None

    def runtime(self) -> Runtime:
        rt = self._get_runtime()
        if rt is None:  # the app's startup() has not run
            raise RuntimeError("the management API has no runtime yet")
        return rt

    def client_ip(self, rt: Runtime, request: Request) -> str:
        if self._net is None or self._net[0] is not rt:
            self._net = (rt, NetInfo(rt.settings))
        peer = request.client.host if request.client is not None else ""
        headers = {k.lower(): v for k, v in request.headers.raw}
        return self._net[1].client_ip(peer, headers)[0]

    async def _principal(
        self, rt: Runtime, credentials_: HTTPAuthorizationCredentials | None
    ) -> TokenPrincipal:
        if credentials_ is None or credentials_.scheme.lower() != "bearer":
            raise AdminError("INVALID_TOKEN", "Give an API token as Authorization: Bearer lic_...")
        principal = await credentials.authenticate_token(rt, credentials_.credentials.strip())
        if principal is None:
            raise AdminError("INVALID_TOKEN", "The API token is invalid, expired or revoked")
        if principal.owner_status == "suspended":
            raise AdminError("ACCOUNT_SUSPENDED", "The owner account is suspended")
        return principal

    async def _authorize(
        self,
        request: Request,
        auth: HTTPAuthorizationCredentials | None,
        capability: str,
        app_id: str | None,
    ) -> Ctx:
        rt = self.runtime()
        principal = await self._principal(rt, auth)
        if app_id is not None:
            visible = principal.app_ids is None or app_id in principal.app_ids
            if visible:
                async with rt.db.read() as conn:
                    row = (
                        await conn.execute(
                            select(apps.c.id).where(
                                and_(
                                    apps.c.id == app_id,
                                    apps.c.owner_account_id == principal.owner_account_id,
                                )
                            )
                        )
                    ).first()
                visible = row is not None
            if not visible:
                raise AdminError("APP_NOT_FOUND", f"no app with id {app_id!r}")
        ctx = Ctx(
            rt=rt,
            principal=principal,
            capability=capability,
            app_id=app_id,
            ip=self.client_ip(rt, request),
            request_id=str(getattr(request.state, "request_id", "")),
        )
        params = request.path_params
        if "key" in params:
            ctx.target_type, ctx.target = "license", str(params["key"])
        elif "username" in params:
            ctx.target_type, ctx.target = "user", str(params["username"])
        elif app_id is not None:
            ctx.target_type, ctx.target = "app", app_id
        request.state.manage_ctx = ctx
        if not credentials.token_allows(principal, capability, app_id):
            raise AdminError("PERMISSION_DENIED", f"This token's scopes do not grant {capability}")
        return ctx

    def account(self, capability: str) -> Callable[..., Awaitable[Ctx]]:
        """Dependency of an account-level route (no app in the path)."""

        async def dependency(
            request: Request,
            auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Ctx:
            return await self._authorize(request, auth, capability, None)

        return dependency

    def app(self, capability: str) -> Callable[..., Awaitable[Ctx]]:
        """Dependency of a route under `/apps/{app_id}`."""

        async def dependency(
            request: Request,
            app_id: AppIdPath,
            auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Ctx:
            return await self._authorize(request, auth, capability, app_id)

        return dependency
