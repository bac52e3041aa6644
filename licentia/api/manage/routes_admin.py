"""Management API routes for the caller's account (B.1), API tokens, Elite Key settings (B.2), the
audit log (B.20), usage (B.12) and the public signing key (B.3).

The token and Elite Key services write their own audit entries (with this call's token as
the actor) inside the call's transaction; the account routes pass the actor the same way.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at
# definition time, and their `Depends(guard...)` refer to local names.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from licentia.api.manage import schemas_admin as sa
from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from licentia.api.manage.routing import api_fields
from licentia.services import admin_accounts, audit, credentials, signing_keys, usage
from licentia.services.admin_common import AdminError, as_utc
from licentia.services.credentials import EliteSettings, TokenInfo, TokenPrincipal
from licentia.store.tables import accounts

TOKENS_KIND = "token"


def _token_out(info: TokenInfo, now: datetime) -> dict[str, Any]:
    return {**info.as_dict(), "status": info.status(now)}


def _elite_out(settings: EliteSettings) -> dict[str, Any]:
    data = settings.as_dict()
    data.pop("owner_id", None)
    return data


def _scope_within(granted: frozenset[str], scope: str) -> bool:
    """Whether a token holding `granted` may hand out `scope` (B.1: a token never exceeds
    the rights of who created it). A shorthand needs the same shorthand."""
    if ":" in scope:
        return scope in granted
    return credentials.scope_allows(granted, scope)


async def _holder_account(ctx: Ctx) -> str | None:
    """The staff member's / reseller's public id when the calling token is theirs, so the
    new token is theirs too and stays within that membership's rights."""
    principal: TokenPrincipal = ctx.principal
    if principal.account_id == principal.owner_account_id:
        return None
    async with ctx.rt.db.read() as conn:
        row = (
            await conn.execute(accounts.select().where(accounts.c.id == principal.account_id))
        ).first()
    if row is None:
        raise AdminError("INVALID_TOKEN", "The API token is invalid, expired or revoked")
    return str(row.public_id)


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""

    # -- the caller's account (B.1) -------------------------------------------------------

    @router.get(
        "/account", response_model=sa.AccountOut, tags=["account"], summary="The owner account"
    )
    async def account_info(ctx: Annotated[Ctx, Depends(guard.account("owner.info"))]) -> Any:
        """The token owner's account: ids, contact, plan label, status, app count."""
        info = await admin_accounts.account_info(ctx.rt, ctx.principal.owner_id)
        return info.as_dict()

    @router.patch(
        "/account", response_model=sa.AccountOut, tags=["account"], summary="Edit the account"
    )
    async def account_edit(
        ctx: Annotated[Ctx, Depends(guard.account("owner.edit"))], body: sa.AccountEdit
    ) -> Any:
        """Change email, plan label or the compat initial-password rule (audited)."""
        changes = body.model_dump(exclude_none=True)
        ctx.target_type, ctx.target = "owner", ctx.principal.owner_id
        with api_fields():
            info = await admin_accounts.edit_account(
                ctx.rt, ctx.principal.owner_id, changes, actor=ctx.actor()
            )
        return info.as_dict()

    @router.post(
        "/account/password",
        response_model=sa.PasswordChanged,
        tags=["account"],
        summary="Change the account password",
    )
    async def account_password(
        ctx: Annotated[Ctx, Depends(guard.account("owner.change_password"))],
        body: sa.PasswordChange,
    ) -> Any:
        """The owner's own password; the current one must match (422 INVALID_PASSWORD).
        Ends the account's dashboard sessions."""
        ctx.target_type, ctx.target = "owner", ctx.principal.owner_id
        await admin_accounts.change_password(
            ctx.rt,
            ctx.principal.owner_id,
            body.current_password,
            body.new_password,
            actor=ctx.actor(),
        )
        return {"changed": True}

    # -- API tokens (B.1) -----------------------------------------------------------------

    @router.get("/tokens", response_model=sa.TokenList, tags=["tokens"], summary="List tokens")
    async def token_list(
        ctx: Annotated[Ctx, Depends(guard.account("token.list"))],
        cursor: Annotated[str | None, Query(description="next_cursor of a page")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        status: Annotated[
            str | None, Query(pattern="^(active|expired|revoked)$", description="Filter")
        ] = None,
    ) -> Any:
        """The owner's tokens (revoked and expired ones too), newest first; never secrets."""
        position = decode_cursor(TOKENS_KIND, cursor)
        now = ctx.rt.clock()
        tokens = await credentials.list_tokens(
            ctx.rt, ctx.principal.owner_id, holder_account_id=_member(ctx)
        )
        tokens.sort(key=lambda t: (as_utc(t.created_at), t.id), reverse=True)
        if status:
            tokens = [t for t in tokens if t.status(now) == status]
        if position is not None:
            tokens = [t for t in tokens if (as_utc(t.created_at), t.id) < position]
        page = tokens[:limit]
        next_cursor = (
            encode_cursor(TOKENS_KIND, page[-1].created_at, page[-1].id)
            if len(tokens) > limit
            else None
        )
        return {"items": [_token_out(t, now) for t in page], "next_cursor": next_cursor}

    @router.post(
        "/tokens",
        response_model=sa.TokenCreated,
        status_code=201,
        tags=["tokens"],
        summary="Create a token",
    )
    async def token_create(
        ctx: Annotated[Ctx, Depends(guard.account("token.create"))], body: sa.TokenCreate
    ) -> Any:
        """A new API token, returned once. Its scopes and apps must lie within the calling
        token's own (403 PERMISSION_DENIED otherwise)."""
        principal = ctx.principal
        scopes = [credentials.normalize_scope(s) for s in body.scopes]
        beyond = [s for s in scopes if not _scope_within(principal.scopes, s)]
        if beyond:
            raise AdminError(
                "PERMISSION_DENIED",
                f"a token cannot grant what it does not hold: {beyond[0]}",
                ["scopes"],
            )
        if principal.app_ids is not None and (
            body.apps is None or not set(body.apps) <= principal.app_ids
        ):
            raise AdminError(
                "PERMISSION_DENIED", "an app-limited token can only create tokens for its apps"
            )
        info, plaintext = await credentials.create_token(
            ctx.rt,
            principal.owner_id,
            body.name,
            scopes,
            body.apps,
            body.expires_at,
            actor=ctx.actor(),
            account=await _holder_account(ctx),
        )
        return {**_token_out(info, ctx.rt.clock()), "token": plaintext}

    @router.delete(
        "/tokens/{token_id}",
        response_model=sa.TokenOut,
        tags=["tokens"],
        summary="Revoke a token",
    )
    async def token_revoke(
        ctx: Annotated[Ctx, Depends(guard.account("token.revoke"))],
        token_id: Annotated[str, Path(max_length=64)],
    ) -> Any:
        """Revoke at once (idempotent); another owner's token is 404 TOKEN_NOT_FOUND."""
        ctx.target_type, ctx.target = "token", token_id
        info = await credentials.revoke_token(
            ctx.rt,
            ctx.principal.owner_id,
            token_id,
            actor=ctx.actor(),
            holder_account_id=_member(ctx),
        )
        return _token_out(info, ctx.rt.clock())

    # -- Elite Key settings (B.2) ---------------------------------------------------------

    @router.get(
        "/elite-key",
        response_model=sa.EliteKeyOut,
        tags=["elite-key"],
        summary="Elite Key settings",
    )
    async def elite_show(ctx: Annotated[Ctx, Depends(guard.account("elite-key.show"))]) -> Any:
        """Whether there is a key (never the key), its use, capability toggles, IP/domain rules."""
        return _elite_out(await credentials.get_elite_settings(ctx.rt, ctx.principal.owner_id))

    @router.post(
        "/elite-key/rotate",
        response_model=sa.EliteKeyRotated,
        tags=["elite-key"],
        summary="Create or replace the Elite Key",
    )
    async def elite_rotate(
        ctx: Annotated[Ctx, Depends(guard.account("elite-key.rotate"))],
    ) -> Any:
        """A new key, returned once; the old one stops working at once."""
        ctx.target_type, ctx.target = "elite-key", ctx.principal.owner_id
        key = await credentials.rotate_elite_key(ctx.rt, ctx.principal.owner_id, actor=ctx.actor())
        settings = await credentials.get_elite_settings(ctx.rt, ctx.principal.owner_id)
        return {**_elite_out(settings), "elite_key": key}

    @router.delete(
        "/elite-key",
        response_model=sa.EliteKeyDeleted,
        tags=["elite-key"],
        summary="Delete the Elite Key",
    )
    async def elite_delete(
        ctx: Annotated[Ctx, Depends(guard.account("elite-key.delete"))],
    ) -> Any:
        """Calls with the key fail from now on; the settings stay."""
        ctx.target_type, ctx.target = "elite-key", ctx.principal.owner_id
        deleted = await credentials.delete_elite_key(
            ctx.rt, ctx.principal.owner_id, actor=ctx.actor()
        )
        return {"deleted": deleted}

    @router.put(
        "/elite-key/capabilities",
        response_model=sa.EliteKeyOut,
        tags=["elite-key"],
        summary="Set the disabled Elite Key capabilities",
    )
    async def elite_capabilities(
        ctx: Annotated[Ctx, Depends(guard.account("elite-key.set_capabilities"))],
        body: sa.EliteCapabilities,
    ) -> Any:
        """Replace the list of disabled `function.action` names (A.4 step 6)."""
        ctx.target_type, ctx.target = "elite-key", ctx.principal.owner_id
        settings = await credentials.set_elite_capabilities(
            ctx.rt, ctx.principal.owner_id, body.disabled, actor=ctx.actor()
        )
        return _elite_out(settings)

    @router.post(
        "/elite-key/rules/{list_name}",
        response_model=sa.EliteKeyOut,
        tags=["elite-key"],
        summary="Add an IP or domain rule",
    )
    async def elite_rule_add(
        ctx: Annotated[Ctx, Depends(guard.account("elite-key.add_rule"))],
        list_name: sa.RuleList,
        body: sa.EliteRule,
    ) -> Any:
        """Add an IP/CIDR (`ip_allow`, `ip_deny`) or host (`domain_allow`, `domain_deny`)."""
        ctx.target_type, ctx.target = "elite-key", ctx.principal.owner_id
        with api_fields():
            settings = await credentials.add_elite_rule(
                ctx.rt, ctx.principal.owner_id, list_name, body.value, actor=ctx.actor()
            )
        return _elite_out(settings)

    @router.delete(
        "/elite-key/rules/{list_name}",
        response_model=sa.EliteKeyOut,
        tags=["elite-key"],
        summary="Remove an IP or domain rule",
    )
    async def elite_rule_remove(
        ctx: Annotated[Ctx, Depends(guard.account("elite-key.remove_rule"))],
        list_name: sa.RuleList,
        value: Annotated[str, Query(min_length=1, max_length=256)],
    ) -> Any:
        """Remove an entry (404 RULE_NOT_FOUND when it is not in the list)."""
        ctx.target_type, ctx.target = "elite-key", ctx.principal.owner_id
        settings = await credentials.remove_elite_rule(
            ctx.rt, ctx.principal.owner_id, list_name, value, actor=ctx.actor()
        )
        return _elite_out(settings)

    @router.get(
        "/elite-key/calls",
        response_model=sa.AuditList,
        tags=["elite-key"],
        summary="Recent Elite Key calls",
    )
    async def elite_calls(
        ctx: Annotated[Ctx, Depends(guard.account("elite-key.view"))],
        cursor: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Any:
        """Elite Key calls of this owner (refused ones too), newest first, from the audit log.
        They span every app, so an app-limited token or role may not read them."""
        _every_app(ctx)
        entries, next_cursor = await admin_accounts.elite_calls(
            ctx.rt, ctx.principal.owner_id, cursor=cursor, limit=limit
        )
        return {"items": [e.as_dict() for e in entries], "next_cursor": next_cursor}

    # -- audit log (B.20) -----------------------------------------------------------------

    @router.get("/audit", response_model=sa.AuditList, tags=["audit"], summary="Audit log")
    async def audit_list(
        ctx: Annotated[Ctx, Depends(guard.account("audit.list"))],
        actor: Annotated[str | None, Query(max_length=128)] = None,
        capability: Annotated[
            str | None, Query(max_length=64, description="name.action or a resource name")
        ] = None,
        target: Annotated[str | None, Query(max_length=256)] = None,
        app_id: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[datetime | None, Query(description="inclusive")] = None,
        until: Annotated[datetime | None, Query(description="exclusive")] = None,
        cursor: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=audit.MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Any:
        """The owner's audit entries, newest first, filtered and cursor-paged."""
        entries, next_cursor = await audit.list_entries(
            ctx.rt,
            ctx.principal.owner_id,
            actor=actor,
            capability=capability,
            target=target,
            app_id=_audit_app(ctx, app_id),
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        return {"items": [e.as_dict() for e in entries], "next_cursor": next_cursor}

    @router.get(
        "/audit/export",
        tags=["audit"],
        summary="Export the audit log",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    )
    async def audit_export(
        ctx: Annotated[Ctx, Depends(guard.account("audit.export"))],
        format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
        actor: Annotated[str | None, Query(max_length=128)] = None,
        capability: Annotated[str | None, Query(max_length=64)] = None,
        target: Annotated[str | None, Query(max_length=256)] = None,
        app_id: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
    ) -> Response:
        """Every matching entry as CSV (formula cells defused) or a JSON array."""
        data = await audit.export_entries(
            ctx.rt,
            ctx.principal.owner_id,
            fmt=format,
            actor=actor,
            capability=capability,
            target=target,
            app_id=_audit_app(ctx, app_id),
            since=since,
            until=until,
        )
        media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
        return Response(
            data,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
        )

    # -- signing key (B.3) and usage (B.12) -----------------------------------------------

    @router.get(
        "/signing-key",
        response_model=sa.SigningKeyOut,
        tags=["signing-key"],
        summary="The active public signing key",
    )
    async def signing_key_show(
        ctx: Annotated[Ctx, Depends(guard.account("signing-key.show"))],
    ) -> Any:
        """The key that signs client responses (what SDK builds embed): PEM and base64 DER."""
        key = await signing_keys.load_active(ctx.rt)
        if key is None:
            raise AdminError("SIGNING_KEY_NOT_FOUND", "the server has no active signing key")
        return {
            "kid": key.kid,
            "algorithm": "Ed25519",
            "pem": key.pem,
            "der_base64": key.der_base64,
        }

    @router.get(
        "/apps/{app_id}/usage",
        response_model=sa.UsageOut,
        tags=["apps"],
        summary="Client API usage",
    )
    async def app_usage(
        ctx: Annotated[Ctx, Depends(guard.app("app.usage"))],
        days: Annotated[int, Query(ge=1, le=usage.MAX_DAYS, description="7 or 30, ...")] = 7,
    ) -> Any:
        """Client API requests per UTC day (oldest first, ending today) and per endpoint.
        Counts reach the database every few seconds (LICENTIA_USAGE_FLUSH_INTERVAL)."""
        assert ctx.app_id is not None
        series = await usage.usage_report(ctx.rt, ctx.app_id, days)
        return {
            "days": days,
            "total": sum(d.count for d in series),
            "series": [d.as_dict() for d in series],
        }


def _member(ctx: Ctx) -> str | None:
    """The calling staff member's or reseller's account id; None for the owner's tokens."""
    principal = ctx.principal
    return None if principal.account_id == principal.owner_account_id else principal.account_id


def _every_app(ctx: Ctx) -> None:
    if ctx.principal.app_ids is not None:
        raise AdminError(
            "PERMISSION_DENIED", "an app-limited token or role cannot read what spans every app"
        )


def _audit_app(ctx: Ctx, app_id: str | None) -> str | None:
    """An app-limited token or role reads the audit entries of one of its apps only."""
    if not app_id and ctx.principal.app_ids is not None:
        raise AdminError(
            "PERMISSION_DENIED",
            "an app-limited token or role must name one of its apps",
            ["app_id"],
        )
    return _visible_app(ctx, app_id)


def _visible_app(ctx: Ctx, app_id: str | None) -> str | None:
    """An app filter must name an app the token reaches (404 like any other app)."""
    limit = ctx.principal.app_ids
    if app_id and limit is not None and app_id not in limit:
        raise AdminError("APP_NOT_FOUND", f"no app with id {app_id!r}")
    return app_id
