"""Management API routes for subscriptions (B.5) and licenses (B.6).

Subscriptions: list, create, edit, delete (with `reassign_to`). Licenses: list (filters),
add, generate (masked, idempotent), info, edit, delete (one, or in bulk by filter),
ban/unban/pause/unpause, extend/shorten, reset HWID, end sessions, export and import.

Every route calls one service of `services.admin_licenses`, `services.transfer` or
`services.views_licenses` (the same the CLI and the Elite Key API call), then writes its audit
entry (`ctx.audit`) with the before/after of the changed fields. `ManageRoute` runs each
changing call in one write transaction, so a refused call changes nothing.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at
# definition time, and their `Depends(guard.app(...))` refer to local names.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from licentia.api.manage import schemas
from licentia.api.manage import schemas_licenses as sl
from licentia.api.manage.auth import Ctx, Guard
from licentia.api.manage.pagination import DEFAULT_LIMIT, MAX_LIMIT
from licentia.api.manage.routing import api_fields, state_changes, term_args
from licentia.domain.timeutil import iso_z
from licentia.services import admin, tickets, transfer, views_licenses
from licentia.services.admin_common import AdminError
from licentia.services.views_licenses import LicenseFilter

Cursor = Annotated[str | None, Query(max_length=512)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
SubscriptionQ = Annotated[str | None, Query(max_length=64)]
NoteQ = Annotated[str | None, Query(max_length=500, description="exact match")]
BatchQ = Annotated[str | None, Query(max_length=64, description="batch id")]
UsedByQ = Annotated[str | None, Query(max_length=64, description="username that redeemed it")]
SearchQ = Annotated[str | None, Query(max_length=64, description="key prefix")]
FromQ = Annotated[datetime | None, Query(description="created at or after (ISO 8601)")]
ToQ = Annotated[datetime | None, Query(description="created before (ISO 8601)")]

#: Derived fields left out of an edit's audit entry (they follow from the stored ones).
_DERIVED = frozenset({"state", "expired", "id", "fixed_expiry"})
_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
_EXPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "plain text (one key per line), CSV or JSON",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


def _out(view: views_licenses.LicenseView) -> sl.LicenseOut:
    return sl.LicenseOut.model_validate(view.as_dict())


def _stored(view: views_licenses.LicenseView) -> dict[str, Any]:
    """The view with an unused key's `expiry_date` as stored: for a duration key it is "if
    activated now", which moves with the clock and is no change of the key."""
    data = view.as_dict()
    if view.status == "unused":
        data["expiry_date"] = view.fixed_expiry
    return data


def _diff(
    before: views_licenses.LicenseView | views_licenses.SubscriptionView,
    after: views_licenses.LicenseView | views_licenses.SubscriptionView,
) -> dict[str, list[Any]]:
    """The changed fields of an object, before and after (derived fields left out)."""
    if isinstance(before, views_licenses.LicenseView):
        assert isinstance(after, views_licenses.LicenseView)
        old, new = _stored(before), _stored(after)
    else:
        old, new = before.as_dict(), after.as_dict()
    return _changed(old, new)


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [before[name], after[name]]
        for name in after
        if name not in _DERIVED and before.get(name) != after[name]
    }


def _filters(
    state: str | None,
    subscription: str | None,
    note: str | None,
    batch: str | None,
    used_by: str | None,
    search: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> LicenseFilter:
    return LicenseFilter(
        state=state,
        subscription=subscription,
        note=note,
        batch=batch,
        used_by=used_by,
        search=search,
        created_from=created_from,
        created_to=created_to,
    )


async def _read_csv(request: Request) -> str:
    raw = await request.body()
    if len(raw) > transfer.MAX_IMPORT_BYTES:
        raise AdminError("PAYLOAD_TOO_LARGE", "the file is too large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AdminError("INVALID_INPUT", "the CSV must be UTF-8", ["body"]) from None


def register(router: APIRouter, guard: Guard) -> None:
    """Add this module's routes to the management router."""
    _subscriptions(router, guard)
    _licenses(router, guard)
    for action in ("ban", "unban", "pause", "unpause"):
        _license_action(router, guard, action)
    for action in ("extend", "shorten"):
        _license_shift(router, guard, action)
    _license_file(router, guard)


# -- subscriptions -----------------------------------------------------------------------


def _subscriptions(router: APIRouter, guard: Guard) -> None:
    base = "/apps/{app_id}/subscriptions"

    @router.get(
        base,
        response_model=sl.SubscriptionList,
        tags=["subscriptions"],
        summary="List subscriptions",
    )
    async def subscription_list(
        ctx: Annotated[Ctx, Depends(guard.app("subscription.list"))],
    ) -> Any:
        """By level, then name."""
        assert ctx.app_id is not None
        views = await views_licenses.list_subscriptions(ctx.rt, ctx.app_id)
        return sl.SubscriptionList(
            items=[sl.SubscriptionOut.model_validate(v.as_dict()) for v in views]
        )

    @router.post(
        base,
        response_model=sl.SubscriptionOut,
        status_code=201,
        tags=["subscriptions"],
        summary="Create a subscription",
    )
    async def subscription_create(
        ctx: Annotated[Ctx, Depends(guard.app("subscription.create"))],
        body: sl.SubscriptionCreate,
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            sub = await admin.create_subscription(ctx.rt, ctx.app_id, body.name, body.level)
        await ctx.audit(
            target_type="subscription",
            target=sub.name,
            changes={"name": [None, sub.name], "level": [None, sub.level]},
        )
        view = await views_licenses.get_subscription_by_id(ctx.rt, sub.id)
        return sl.SubscriptionOut.model_validate(view.as_dict())

    @router.patch(
        base + "/{name}",
        response_model=sl.SubscriptionOut,
        tags=["subscriptions"],
        summary="Rename a subscription or change its level",
    )
    async def subscription_edit(
        ctx: Annotated[Ctx, Depends(guard.app("subscription.edit"))],
        name: str,
        body: sl.SubscriptionEdit,
    ) -> Any:
        """References are by id, so a rename shows on every license, user and device."""
        assert ctx.app_id is not None
        with api_fields():
            before, after = await admin.edit_subscription(
                ctx.rt, ctx.app_id, name, new_name=body.new_name, level=body.level
            )
        changes = _diff(before, after)
        if changes:
            await ctx.audit(target_type="subscription", target=before.name, changes=changes)
        return sl.SubscriptionOut.model_validate(after.as_dict())

    @router.delete(
        base + "/{name}",
        status_code=204,
        response_class=Response,
        tags=["subscriptions"],
        summary="Delete a subscription (409 IN_USE while referenced, unless reassign_to)",
    )
    async def subscription_delete(
        ctx: Annotated[Ctx, Depends(guard.app("subscription.delete"))],
        name: str,
        reassign_to: Annotated[
            str | None,
            Query(max_length=64, description="subscription that takes over every reference"),
        ] = None,
    ) -> Response:
        assert ctx.app_id is not None
        with api_fields():
            gone = await admin.delete_subscription(
                ctx.rt, ctx.app_id, name, reassign_to=reassign_to
            )
        changes: dict[str, Any] = {"name": [gone.name, None]}
        if gone.reassigned_to is not None:
            changes["reassigned_to"] = [None, gone.reassigned_to]
            changes["moved"] = [None, gone.moved]
        await ctx.audit(target_type="subscription", target=gone.name, changes=changes)
        return Response(status_code=204)


# -- licenses ----------------------------------------------------------------------------


def _licenses(router: APIRouter, guard: Guard) -> None:
    base = "/apps/{app_id}/licenses"

    async def current(ctx: Ctx, key: str) -> views_licenses.LicenseView:
        assert ctx.app_id is not None
        return await views_licenses.get_license(ctx.rt, ctx.app_id, key)

    @router.get(base, response_model=sl.LicensePage, tags=["licenses"], summary="List licenses")
    async def license_list(
        ctx: Annotated[Ctx, Depends(guard.app("license.list"))],
        state: sl.LicenseStateName | None = None,
        subscription: SubscriptionQ = None,
        note: NoteQ = None,
        batch: BatchQ = None,
        used_by: UsedByQ = None,
        search: SearchQ = None,
        created_from: FromQ = None,
        created_to: ToQ = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Any:
        """Newest first, one page at a time: follow `next_cursor` until it is null."""
        assert ctx.app_id is not None
        page = await views_licenses.list_licenses(
            ctx.rt,
            ctx.app_id,
            _filters(state, subscription, note, batch, used_by, search, created_from, created_to),
            cursor=cursor,
            limit=limit,
        )
        return sl.LicensePage(items=[_out(v) for v in page.items], next_cursor=page.next_cursor)

    @router.post(
        base,
        response_model=sl.LicenseOut,
        status_code=201,
        tags=["licenses"],
        summary="Add one license key",
    )
    async def license_add(
        ctx: Annotated[Ctx, Depends(guard.app("license.add"))], body: sl.LicenseCreate
    ) -> Any:
        assert ctx.app_id is not None
        with api_fields():
            state = await admin.add_license(
                ctx.rt,
                ctx.app_id,
                body.key,
                body.subscription,
                device_limit=body.device_limit,
                note=body.note,
                email=body.email or "",
                created_by=ctx.created_by,
                **term_args(body.expiry_date, body.duration_days),
            )
        out = _out(await current(ctx, state.key))
        await ctx.audit(
            target_type="license",
            target=out.key,
            changes={
                "subscription": [None, out.subscription],
                "duration_days": [None, out.duration_days],
                "expiry_date": [None, out.expiry_date if out.status != "unused" else None],
                "device_limit": [None, out.device_limit],
                "note": [None, out.note],
            },
        )
        return out

    @router.post(
        base + "/generate",
        response_model=sl.LicenseBatch,
        status_code=201,
        tags=["licenses"],
        summary="Generate license keys from a mask",
    )
    async def license_generate(
        ctx: Annotated[Ctx, Depends(guard.app("license.generate"))],
        body: sl.LicenseGenerate,
        response: Response,
    ) -> Any:
        """All or nothing, in one transaction. With `idempotency_key`, a retry within 24 hours
        returns the first batch (200, `replayed: true`) instead of creating another."""
        assert ctx.app_id is not None
        with api_fields():
            batch = await admin.generate_batch(
                ctx.rt,
                ctx.app_id,
                body.subscription,
                device_limit=body.device_limit,
                count=body.amount,
                mask=body.mask,
                note=body.note,
                use_capital=body.use_capital,
                use_lowercase=body.use_lowercase,
                use_numbers=body.use_numbers,
                idempotency_key=body.idempotency_key,
                created_by=ctx.created_by,
                **term_args(body.expiry_date, body.duration_days),
            )
        if batch.replayed:
            response.status_code = 200
        else:
            await ctx.audit(
                target_type="license-batch",
                target=batch.batch_id,
                changes={
                    "count": [None, len(batch.keys)],
                    "subscription": [None, body.subscription],
                    "duration_days": [None, body.duration_days],
                    "expiry_date": [None, body.expiry_date],
                    "device_limit": [None, body.device_limit],
                    "note": [None, body.note],
                    "mask": [None, body.mask],
                },
            )
        return sl.LicenseBatch(
            keys=batch.keys,
            count=len(batch.keys),
            batch_id=batch.batch_id,
            replayed=batch.replayed,
        )

    @router.get(
        base + "/export",
        tags=["licenses"],
        summary="Export licenses (text, CSV or JSON)",
        response_class=Response,
        responses=_EXPORT_RESPONSE,
    )
    async def license_export(
        ctx: Annotated[Ctx, Depends(guard.app("license.export"))],
        format: sl.ExportFormat = "csv",
        state: sl.LicenseStateName | None = None,
        subscription: SubscriptionQ = None,
        note: NoteQ = None,
        batch: BatchQ = None,
        used_by: UsedByQ = None,
        search: SearchQ = None,
        created_from: FromQ = None,
        created_to: ToQ = None,
    ) -> Response:
        """Every matching license, newest first, with the list's filters. CSV cells that a
        spreadsheet would run as a formula are prefixed with `'`."""
        assert ctx.app_id is not None
        text = await transfer.export_licenses(
            ctx.rt,
            ctx.app_id,
            _filters(state, subscription, note, batch, used_by, search, created_from, created_to),
            fmt=format,
        )
        extension = transfer.EXTENSIONS[format]
        return Response(
            content=text,
            media_type=transfer.MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="licenses.{extension}"'},
        )

    @router.post(
        base + "/import",
        response_model=sl.LicenseImported,
        status_code=201,
        tags=["licenses"],
        summary="Import licenses from CSV (all rows or none)",
        openapi_extra=_CSV_BODY,
    )
    async def license_import(
        request: Request, ctx: Annotated[Ctx, Depends(guard.app("license.import"))]
    ) -> Any:
        """Columns: `key`, `subscription`; optional `duration_days` or `expiry_date` (neither =
        lifetime), `device_limit`, `note`, `email` (an export's other columns are ignored).
        One bad row refuses the whole file, naming its line."""
        assert ctx.app_id is not None
        text = await _read_csv(request)
        result = await transfer.import_licenses(ctx.rt, ctx.app_id, text, created_by=ctx.created_by)
        await ctx.audit(
            target_type="license-batch",
            target=result.batch_id,
            changes={"count": [None, result.count], "imported": [None, True]},
        )
        return sl.LicenseImported(count=result.count, batch_id=result.batch_id)

    @router.delete(
        base,
        response_model=sl.LicensesDeleted,
        tags=["licenses"],
        summary="Delete licenses in bulk by filter (ends their sessions)",
    )
    async def license_bulk_delete(
        ctx: Annotated[Ctx, Depends(guard.app("license.delete"))],
        state: sl.LicenseStateName | None = None,
        subscription: SubscriptionQ = None,
        note: NoteQ = None,
        batch: BatchQ = None,
        used_by: UsedByQ = None,
        search: SearchQ = None,
        created_from: FromQ = None,
        created_to: ToQ = None,
    ) -> Any:
        """At least one filter is required (400 MISSING_FIELDS otherwise), for example
        `?state=unused`, `?state=expired` or `?batch=<batch id>`."""
        assert ctx.app_id is not None
        keys = await admin.delete_licenses(
            ctx.rt,
            ctx.app_id,
            _filters(state, subscription, note, batch, used_by, search, created_from, created_to),
        )
        if keys:
            await ctx.audit(
                target_type="license",
                target=f"{len(keys)} licenses",
                changes={"deleted": [None, len(keys)]},
            )
        return sl.LicensesDeleted(count=len(keys), keys=keys)

    @router.get(
        base + "/{key}", response_model=sl.LicenseOut, tags=["licenses"], summary="One license"
    )
    async def license_info(
        ctx: Annotated[Ctx, Depends(guard.app("license.info"))], key: str
    ) -> Any:
        return _out(await current(ctx, key))

    @router.patch(
        base + "/{key}",
        response_model=sl.LicenseOut,
        tags=["licenses"],
        summary="Edit a license (note, device limit, subscription, email; the term while unused)",
    )
    async def license_edit(
        ctx: Annotated[Ctx, Depends(guard.app("license.edit"))], key: str, body: sl.LicenseEdit
    ) -> Any:
        assert ctx.app_id is not None
        given = body.model_fields_set
        before = await current(ctx, key)
        term = None
        if "expiry_date" in given or "duration_days" in given:
            term = admin.TermChange(**term_args(body.expiry_date, body.duration_days))
        email = None
        if "email" in given:
            email = body.email or ""
        with api_fields():
            await admin.edit_license(
                ctx.rt,
                ctx.app_id,
                before.key,
                note=body.note if "note" in given else None,
                device_limit=body.device_limit if "device_limit" in given else None,
                subscription=body.subscription if "subscription" in given else None,
                email=email,
                term=term,
            )
        after = await current(ctx, before.key)
        changes = _diff(before, after)
        if changes:
            await ctx.audit(target_type="license", target=before.key, changes=changes)
        return _out(after)

    @router.delete(
        base + "/{key}",
        status_code=204,
        response_class=Response,
        tags=["licenses"],
        summary="Delete a license (ends its sessions)",
    )
    async def license_delete(
        ctx: Annotated[Ctx, Depends(guard.app("license.delete"))], key: str
    ) -> Response:
        assert ctx.app_id is not None
        before = await current(ctx, key)
        await admin.delete_license(ctx.rt, ctx.app_id, before.key)
        await ctx.audit(
            target_type="license", target=before.key, changes={"state": [before.state, None]}
        )
        return Response(status_code=204)

    @router.post(
        base + "/{key}/reset-hwid",
        response_model=sl.LicenseOut,
        tags=["licenses"],
        summary="Reset a license's HWID (bound SIDs and last IP; a used key: its account's)",
    )
    async def license_reset_hwid(
        ctx: Annotated[Ctx, Depends(guard.app("license.reset_hwid"))], key: str
    ) -> Any:
        assert ctx.app_id is not None
        before = await current(ctx, key)
        removed = await admin.reset_license_hwid(ctx.rt, ctx.app_id, before.key)
        after = await current(ctx, before.key)
        changes = _diff(before, after)
        if removed or changes:
            changes["bindings_removed"] = [None, removed]
            await ctx.audit(target_type="license", target=before.key, changes=changes)
        return _out(after)

    @router.post(
        base + "/{key}/end-sessions",
        response_model=sl.SessionsEnded,
        tags=["licenses"],
        summary="End a license's live client sessions",
    )
    async def license_end_sessions(
        ctx: Annotated[Ctx, Depends(guard.app("license.end_sessions"))], key: str
    ) -> Any:
        assert ctx.app_id is not None
        before = await current(ctx, key)
        ended = await admin.end_license_sessions(ctx.rt, ctx.app_id, before.key)
        if ended:
            await ctx.audit(
                target_type="license", target=before.key, changes={"sessions_ended": [None, ended]}
            )
        return sl.SessionsEnded(ended=ended)


_STATE_SERVICES: dict[str, Any] = {
    "ban": admin.ban_license,
    "unban": admin.unban_license,
    "pause": admin.pause_license,
    "unpause": admin.unpause_license,
}


def _license_action(router: APIRouter, guard: Guard, action: str) -> None:
    service = _STATE_SERVICES[action]

    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"license.{action}"))],
        key: str,
        body: Annotated[schemas.ReasonIn | None, Body()] = None,
    ) -> Any:
        assert ctx.app_id is not None
        before = _out(await views_licenses.get_license(ctx.rt, ctx.app_id, key))
        with api_fields():
            await service(ctx.rt, ctx.app_id, before.key, body.reason if body else "")
        after = _out(await views_licenses.get_license(ctx.rt, ctx.app_id, before.key))
        # An unused duration key's expiry_date is "if activated now": not a stored change.
        fixed = before.status != "unused" or before.duration_days is None
        changes = state_changes(before, after, with_expiry=fixed)
        if changes:  # idempotent repeats change nothing and leave no entry
            await ctx.audit(target_type="license", target=before.key, changes=changes)
        return after

    router.add_api_route(
        f"/apps/{{app_id}}/licenses/{{key}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=sl.LicenseOut,
        tags=["licenses"],
        summary=f"{action.capitalize()} a license",
        name=f"license_{action}",
    )


def _license_shift(router: APIRouter, guard: Guard, action: str) -> None:
    sign = 1 if action == "extend" else -1

    async def endpoint(
        ctx: Annotated[Ctx, Depends(guard.app(f"license.{action}"))],
        key: str,
        body: sl.LicenseShift,
    ) -> Any:
        """`days` (at least 1) or `expiry_date` (the new date). A lifetime key is 400
        INVALID_INPUT; an unused duration key changes `duration_days` (never below 1)."""
        assert ctx.app_id is not None
        if body.days is not None and body.expiry_date is not None:
            raise AdminError(
                "INVALID_INPUT", "give days or expiry_date, not both", ["days", "expiry_date"]
            )
        if body.days is None and body.expiry_date is None:
            raise AdminError("MISSING_FIELDS", "give days or expiry_date", ["days"])
        before = await views_licenses.get_license(ctx.rt, ctx.app_id, key)
        try:
            await admin.shift_license(
                ctx.rt, ctx.app_id, before.key, days=body.days, expires=body.expiry_date, sign=sign
            )
        except AdminError as exc:  # this body calls the fields `days` and `expiry_date`
            if exc.fields:
                exc.fields = sorted({"expires": "expiry_date"}.get(f, f) for f in exc.fields)
            raise
        after = await views_licenses.get_license(ctx.rt, ctx.app_id, before.key)
        changes = _diff(before, after)
        if changes:
            await ctx.audit(target_type="license", target=before.key, changes=changes)
        return _out(after)

    router.add_api_route(
        f"/apps/{{app_id}}/licenses/{{key}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=sl.LicenseOut,
        tags=["licenses"],
        summary=f"{action.capitalize()} a license (days or a new date)",
        name=f"license_{action}",
    )


def _license_file(router: APIRouter, guard: Guard) -> None:
    @router.post(
        "/apps/{app_id}/licenses/{key}/file",
        response_model=sl.LicenseFileOut,
        tags=["licenses"],
        summary="Sign an offline license file for one machine (activates an unused key)",
    )
    async def license_file(
        ctx: Annotated[Ctx, Depends(guard.app("license.file"))],
        key: str,
        body: sl.LicenseFileIn,
    ) -> Any:
        assert ctx.app_id is not None
        made = await tickets.license_file(ctx.rt, ctx.app_id, key, body.hwid, body.days)
        changes = {"hwid": [None, made.hwid], "expires_at": [None, iso_z(made.expires_at)]}
        await ctx.audit(target_type="license", target=made.key, changes=changes)
        return sl.LicenseFileOut(
            key=made.key, hwid=made.hwid, expires_at=made.expires_at, ticket=made.ticket
        )
