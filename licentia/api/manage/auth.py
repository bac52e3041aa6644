"""Bearer-token authentication, isolation and capability checks (management B.0, B.1).

Order of the checks, the first failure wins:

1. `Authorization: Bearer lic_...` names a valid token: else 401 `INVALID_TOKEN` (missing,
   malformed, unknown, revoked and expired tokens look the same).
2. The token's owner is not suspended: else 403 `ACCOUNT_SUSPENDED`.
3. The token's account still acts for the owner (`services.principals`): a removed staff
   member's or reseller's token is 401 `INVALID_TOKEN`, a banned one's 403
   `PERMISSION_DENIED`; a reseller's token is 403 on the owner routes (it uses `/reseller`).
4. The app in the path is the owner's and inside the token's app limit and the account's app
   scope (a staff role's apps; a reseller's priced apps): else 404 `APP_NOT_FOUND`, exactly as
   for an app that does not exist.
5. A scope of the token grants the capability AND the account's rights do: else 403
   `PERMISSION_DENIED`. The effective rights of a token are its scopes intersected with its
   account's rights, read on every call, so a role change or ban applies at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import and_, select

from licentia.services import audit, credentials, principals
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
    rights: principals.Rights | None = None

    @property
    def reseller_id(self) -> str:
        """The calling reseller (reseller routes only)."""
        assert self.rights is not None and self.rights.reseller is not None
        return self.rights.reseller.reseller_id

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
        if principal.account_status == "suspended":
            raise AdminError("ACCOUNT_SUSPENDED", "The token's account is suspended")
        return principal

    @staticmethod
    def _scoped(principal: TokenPrincipal, rights: principals.Rights, side: str) -> TokenPrincipal:
        """The principal with its app limit narrowed to what the account may reach."""
        if side == "reseller":
            reseller = rights.active_reseller
            if reseller is None:
                raise AdminError(
                    "PERMISSION_DENIED", "only a reseller's token may use the reseller routes"
                )
            scope: frozenset[str] | None = reseller.app_ids
        else:
            if not rights.may_use_owner_routes:
                raise AdminError(
                    "PERMISSION_DENIED",
                    "a reseller's token may use the /reseller routes only",
                )
            scope = rights.app_scope()
        if scope is None:
            return principal
        limit = scope if principal.app_ids is None else principal.app_ids & scope
        return replace(principal, app_ids=limit)

    async def _authorize(
        self,
        request: Request,
        auth: HTTPAuthorizationCredentials | None,
        capability: str,
        app_id: str | None,
        side: Literal["owner", "reseller"] = "owner",
    ) -> Ctx:
        rt = self.runtime()
        principal = await self._principal(rt, auth)
        rights = await principals.rights_for(rt, principal.account_id, principal.owner_account_id)
        if not rights.is_member:
            raise AdminError("INVALID_TOKEN", "The API token is invalid, expired or revoked")
        if not rights.has_any:
            raise AdminError(
                "PERMISSION_DENIED", "This account's membership of the owner is banned"
            )
        principal = self._scoped(principal, rights, side)
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
            rights=rights,
        )
        params = request.path_params
        if "key" in params:
            ctx.target_type, ctx.target = "license", str(params["key"])
        elif "username" in params:
            ctx.target_type, ctx.target = "user", str(params["username"])
        elif app_id is not None:
            ctx.target_type, ctx.target = "app", app_id
        request.state.manage_ctx = ctx
        if side == "reseller":
            # The app (if any) is already checked against the token's limit and the
            # reseller's apps; account-level reseller calls act on its own keys only.
            token_ok = credentials.scope_allows(principal.scopes, capability)
        else:
            token_ok = credentials.token_allows(principal, capability, app_id)
        if not token_ok:
            raise AdminError("PERMISSION_DENIED", f"This token's scopes do not grant {capability}")
        granted = (
            rights.reseller_allows(capability, app_id)
            if side == "reseller"
            else rights.allows(capability, app_id)
        )
        if not granted:
            raise AdminError(
                "PERMISSION_DENIED", f"This account's rights do not grant {capability}"
            )
        return ctx

    def account(self, capability: str) -> Callable[..., Awaitable[Ctx]]:
        """Dependency of an account-level route (no app in the path)."""

        async def dependency(
            request: Request,
            auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Ctx:
            return await self._authorize(request, auth, capability, None)

        return dependency

    def reseller(self, capability: str) -> Callable[..., Awaitable[Ctx]]:
        """Dependency of a reseller route without an app in the path (`/reseller/...`)."""

        async def dependency(
            request: Request,
            auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Ctx:
            return await self._authorize(request, auth, capability, None, "reseller")

        return dependency

    def reseller_app(self, capability: str) -> Callable[..., Awaitable[Ctx]]:
        """Dependency of a reseller route under `/reseller/apps/{app_id}`: the app must be one
        its rate plan prices (else 404)."""

        async def dependency(
            request: Request,
            app_id: AppIdPath,
            auth: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Ctx:
            return await self._authorize(request, auth, capability, app_id, "reseller")

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
