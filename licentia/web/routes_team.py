"""Owner-level pages: the team (staff roles and staff members, B.18).

The pages of this slice act for an owner, not for one app: `owner_page` finds the owner
the signed-in account works for (itself when it is an owner, else the first owner it is
active staff of) and checks the capability with `services.principals`, the same rights the
REST API's `Guard.account` checks: owners may do everything, staff members what their role
grants (an app-limited role reads only, as on the REST API); anyone else gets the 403 page.

Every change calls the service the REST API and the CLI call, with the dashboard actor: the
service writes the change and its audit entry (face `dashboard`) in one transaction, so a
refused change leaves neither. Rate plans and resellers are in `routes_reseller`, API tokens,
the Elite Key and the audit log in `routes_access`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import and_, select

from licentia.services import admin_staff, principals, views_apps
from licentia.services.admin_common import AdminError
from licentia.services.audit import Actor
from licentia.services.credentials import RESOURCES
from licentia.services.dashboard_auth import DashSession
from licentia.services.grants import Grantor
from licentia.store.tables import accounts, resellers, staff_members
from licentia.web.app import DashRoute, form_values, runtime, signed_in
from licentia.web.context import Redirect, Refused, actor, redirect, render

router: APIRouter = APIRouter(route_class=DashRoute)

PAGE_SIZE = 50
#: Resource names offered as read/write checkboxes (roles and API tokens).
RESOURCE_NAMES = tuple(sorted(RESOURCES))


# -- shared by the owner-level pages ------------------------------------------------------


@dataclass(frozen=True)
class OwnerCtx:
    """The signed-in account acting for one owner, with its rights there."""

    session: DashSession
    owner_account_id: str
    owner_id: str  # the owner's 8-digit id, how the admin services name it
    owner_username: str
    rights: principals.Rights
    actor: Actor

    @property
    def is_own(self) -> bool:
        return self.rights.is_owner

    @property
    def token_holder(self) -> str | None:
        """None for the owner (every token of the owner); a member's own account id, so a
        staff member lists and revokes only its own tokens, as over REST."""
        return None if self.is_own else self.session.account.id

    def may(self, capability: str) -> bool:
        return self.rights.allows(capability)

    @property
    def grantor(self) -> Grantor:
        """The signed-in account as a grantor (`services.grants`)."""
        return Grantor(self.session.account.id)


def not_allowed() -> AdminError:
    return AdminError("PERMISSION_DENIED", "Your account may not do this.")


async def _owner_rights(request: Request, session: DashSession) -> OwnerCtx | None:
    rt = runtime(request)
    account = session.account
    async with rt.db.read() as conn:
        if account.is_owner:
            candidates = [(account.id, account.owner_id or "", account.username)]
        else:
            rows = (
                await conn.execute(
                    select(
                        staff_members.c.owner_account_id,
                        accounts.c.owner_id,
                        accounts.c.username,
                    )
                    .join(accounts, accounts.c.id == staff_members.c.owner_account_id)
                    .where(
                        and_(
                            staff_members.c.account_id == account.id,
                            staff_members.c.is_active.is_(True),
                            accounts.c.status != "suspended",
                        )
                    )
                    .order_by(accounts.c.username_norm)
                )
            ).all()
            candidates = [(r.owner_account_id, str(r.owner_id or ""), r.username) for r in rows]
        for owner_account_id, owner_id, username in candidates:
            rights = await principals.rights_in(conn, account.id, owner_account_id)
            if rights.may_use_owner_routes and owner_id:
                return OwnerCtx(
                    session=session,
                    owner_account_id=owner_account_id,
                    owner_id=owner_id,
                    owner_username=username,
                    rights=rights,
                    actor=actor(request, session),
                )
    return None


async def owner_page(request: Request, *capabilities: str) -> OwnerCtx:
    """Session (CSRF on POST) and the owner context; 403 unless one of `capabilities` is
    granted (owners hold them all)."""
    session = await signed_in(request)
    ctx = await _owner_rights(request, session)
    if ctx is None or not any(ctx.may(c) for c in capabilities):
        raise not_allowed()
    return ctx


async def nav_links(request: Request, session: DashSession) -> list[tuple[str, str]]:
    """The top navigation of the signed-in account: what it may open."""
    links = [("/apps", "Apps")]
    ctx = await _owner_rights(request, session)
    if ctx is not None:
        for path, label, caps in _OWNER_LINKS:
            if any(ctx.may(c) for c in caps):
                links.append((path, label))
    if await reseller_memberships(request, session):
        links.append(("/reseller", "My keys"))
    return links


_OWNER_LINKS = (
    ("/team", "Team", ("role.list", "staff.list")),
    ("/resellers", "Resellers", ("rate-plan.list", "reseller.list")),
    ("/access", "API access", ("token.list", "elite-key.show")),
    ("/audit", "Audit", ("audit.list",)),
    ("/sales", "Sales", ("app.usage",)),
)


async def reseller_memberships(request: Request, session: DashSession) -> list[Any]:
    rt = runtime(request)
    async with rt.db.read() as conn:
        return list(
            (
                await conn.execute(
                    select(resellers.c.id, resellers.c.owner_account_id, accounts.c.username)
                    .join(accounts, accounts.c.id == resellers.c.owner_account_id)
                    .where(resellers.c.account_id == session.account.id)
                    .order_by(accounts.c.username_norm, resellers.c.id)
                )
            ).all()
        )


async def page(
    request: Request,
    session: DashSession,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> Response:
    """Render one of this slice's pages with the account's navigation."""
    context = {"nav": await nav_links(request, session), **context}
    return render(request, template, context, status=status, session=session)


def field_of(exc: AdminError, known: Iterable[str], renames: dict[str, str] | None = None) -> str:
    """The form field a refusal belongs to ("form" when none matches)."""
    names = set(known)
    for name in exc.fields or []:
        name = (renames or {}).get(name, name)
        if name in names:
            return name
    return "form"


def form_error(exc: AdminError, known: Iterable[str], renames: dict[str, str] | None = None) -> str:
    """The field of a refused form change; a refusal naming no field of the form that is a
    missing object or a missing right is re-raised (404 / 403 page)."""
    field = field_of(exc, known, renames)
    if field == "form" and (exc.is_not_found or exc.code == "PERMISSION_DENIED"):
        raise exc
    return field


def checked(form_list: Sequence[str], extra: str) -> list[str]:
    """Checkbox values plus a free-text list (comma or space separated)."""
    values = [v for v in form_list if v]
    values += [v for v in extra.replace(",", " ").split() if v]
    return values


async def form_lists(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


def wants_rows(request: Request) -> bool:
    """htmx asks for the rows only; a history restore (back button) needs the whole page."""
    headers = request.headers
    return (
        request.method == "GET"
        and headers.get("hx-request") == "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def cursor_arg(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "")
    return value[:512] or None


async def owner_apps(request: Request, ctx: OwnerCtx) -> list[views_apps.AppSummary]:
    scope = ctx.rights.app_scope()
    return await views_apps.list_apps(runtime(request), ctx.owner_account_id, scope)


# -- the team page ------------------------------------------------------------------------


def _staff_filters(request: Request) -> tuple[str, str]:
    role = request.query_params.get("role", "")[:64]
    state = request.query_params.get("state", "")
    return role, state if state in ("active", "banned") else ""


async def _team_page(
    request: Request,
    ctx: OwnerCtx,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    added: admin_staff.AddedStaff | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    roles_page = None
    all_roles: list[admin_staff.Role] = []
    if ctx.may("role.list"):
        roles_page = await admin_staff.list_roles(
            rt, ctx.owner_id, cursor=cursor_arg(request, "rc"), limit=PAGE_SIZE
        )
        all_roles = (await admin_staff.list_roles(rt, ctx.owner_id)).items
    role_filter, state = _staff_filters(request)
    staff_page = None
    if ctx.may("staff.list"):
        staff_page = await admin_staff.list_staff(
            rt,
            ctx.owner_id,
            role_id=role_filter or None,
            active=None if not state else state == "active",
            cursor=cursor_arg(request, "sc"),
            limit=PAGE_SIZE,
        )
    apps = await owner_apps(request, ctx)
    context = {
        "ctx": ctx,
        "roles_page": roles_page,
        "roles": all_roles,
        "staff_page": staff_page,
        "role_filter": role_filter,
        "state": state,
        "apps": apps,
        "app_names": {a.id: a.name for a in apps},
        "resources": RESOURCE_NAMES,
        "errors": errors or {},
        "values": values or {},
        "added": added,
        "role_open": any(k.startswith("role_") for k in errors or {}),
        "staff_open": any(k.startswith("staff_") for k in errors or {}),
        "next_roles": urlencode({"rc": roles_page.next_cursor})
        if roles_page and roles_page.next_cursor
        else "",
        "next_staff": urlencode({"role": role_filter, "state": state, "sc": staff_page.next_cursor})
        if staff_page and staff_page.next_cursor
        else "",
    }
    return await page(request, ctx.session, "team.html", context, status=status)


@router.get("/team")
async def team(request: Request) -> Response:
    ctx = await owner_page(request, "role.list", "staff.list")
    return await _team_page(request, ctx)


def _role_input(lists: dict[str, list[str]], form: dict[str, str]) -> dict[str, Any]:
    """The role form as typed (kept on a refusal)."""
    return {
        "name": form.get("name", ""),
        "perm": set(lists.get("perm", [])),
        "perm_extra": form.get("perm_extra", ""),
        "scope": form.get("scope", "all"),
        "apps": set(lists.get("apps", [])),
    }


def _role_args(values: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    permissions = checked(sorted(values["perm"]), values["perm_extra"])
    app_ids = None if values["scope"] != "some" else sorted(values["apps"])
    return permissions, app_ids


_ROLE_FIELDS = ("name", "permissions", "apps")


@router.post("/team/roles")
async def role_create(request: Request) -> Response:
    ctx = await owner_page(request, "role.create")
    values = _role_input(await form_lists(request), await form_values(request))
    permissions, app_ids = _role_args(values)
    try:
        await admin_staff.create_role(
            runtime(request),
            ctx.owner_id,
            values["name"],
            permissions,
            app_ids,
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _ROLE_FIELDS)
        return await _team_page(
            request, ctx, errors={f"role_{field}": exc.message}, values=values, status=400
        )
    return redirect(request, "/team")


async def _role_of(request: Request, ctx: OwnerCtx, role_id: str) -> admin_staff.Role:
    roles = (await admin_staff.list_roles(runtime(request), ctx.owner_id)).items
    for role in roles:
        if role.id == role_id:
            return role
    raise AdminError("ROLE_NOT_FOUND", "No such role.")


async def _role_page(
    request: Request,
    ctx: OwnerCtx,
    role: admin_staff.Role,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    if values is None:
        shorthands = {p for p in role.permissions if ":" in p}
        values = {
            "name": role.name,
            "perm": shorthands,
            "perm_extra": " ".join(p for p in role.permissions if ":" not in p),
            "scope": "all" if role.app_ids is None else "some",
            "apps": set(role.app_ids or []),
        }
    apps = await owner_apps(request, ctx)
    context = {
        "ctx": ctx,
        "role": role,
        "apps": apps,
        "resources": RESOURCE_NAMES,
        "errors": errors or {},
        "values": values,
    }
    return await page(request, ctx.session, "team_role.html", context, status=status)


@router.get("/team/roles/{role_id}")
async def role_show(request: Request, role_id: str) -> Response:
    ctx = await owner_page(request, "role.list")
    return await _role_page(request, ctx, await _role_of(request, ctx, role_id))


@router.post("/team/roles/{role_id}")
async def role_edit(request: Request, role_id: str) -> Response:
    ctx = await owner_page(request, "role.edit")
    role = await _role_of(request, ctx, role_id)
    values = _role_input(await form_lists(request), await form_values(request))
    permissions, app_ids = _role_args(values)
    try:
        await admin_staff.edit_role(
            runtime(request),
            ctx.owner_id,
            role.id,
            name=values["name"],
            permissions=permissions,
            app_ids=app_ids,
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _ROLE_FIELDS)
        return await _role_page(
            request, ctx, role, errors={f"role_{field}": exc.message}, values=values, status=400
        )
    return redirect(request, "/team")


@router.post("/team/roles/{role_id}/delete")
async def role_delete(request: Request, role_id: str) -> Response:
    ctx = await owner_page(request, "role.delete")
    role = await _role_of(request, ctx, role_id)
    try:
        await admin_staff.delete_role(
            runtime(request), ctx.owner_id, role.id, actor=ctx.actor, by=ctx.grantor
        )
    except AdminError as exc:
        if exc.code != "IN_USE":
            raise
        return await _team_page(request, ctx, errors={f"role:{role.id}": exc.message}, status=400)
    return redirect(request, "/team")


_STAFF_FIELDS = ("type", "username", "email", "public_id", "role_id")


@router.post("/team/staff")
async def staff_add(request: Request) -> Response:
    ctx = await owner_page(request, "staff.add")
    form = await form_values(request)
    values = {k: form.get(k, "") for k in _STAFF_FIELDS}
    kind = values["type"] or "new"
    try:
        added = await admin_staff.add_staff(
            runtime(request),
            ctx.owner_id,
            type=kind,
            role_id=values["role_id"],
            username=values["username"] if kind == "new" else None,
            email=values["email"] if kind == "new" else None,
            public_id=values["public_id"] if kind != "new" else None,
            actor=ctx.actor,
            by=ctx.grantor,
        )
    except AdminError as exc:
        field = form_error(exc, _STAFF_FIELDS)
        if exc.code == "ROLE_NOT_FOUND":
            field = "role_id"
        elif exc.code == "ALREADY_EXISTS":
            field = "username" if kind == "new" else "public_id"
        return await _team_page(
            request, ctx, errors={f"staff_{field}": exc.message}, values=values, status=400
        )
    return await _team_page(request, ctx, added=added)


_STAFF_ACTIONS = {"ban", "unban", "remove", "role"}


@router.post("/team/staff/{public_id}/{action}")
async def staff_action(request: Request, public_id: str, action: str) -> Response:
    if action not in _STAFF_ACTIONS:
        raise Refused(404, "Not found", "There is nothing here.")
    capability = "staff.edit" if action == "role" else f"staff.{action}"
    ctx = await owner_page(request, capability)
    form = await form_values(request)
    rt = runtime(request)
    call: Callable[[], Awaitable[Any]]
    if action == "role":
        role_id = form.get("role_id", "")
        call = lambda: admin_staff.edit_staff(  # noqa: E731
            rt, ctx.owner_id, public_id, role_id=role_id, actor=ctx.actor, by=ctx.grantor
        )
    elif action == "remove":
        call = lambda: admin_staff.remove_staff(  # noqa: E731
            rt, ctx.owner_id, public_id, actor=ctx.actor, by=ctx.grantor
        )
    else:
        call = lambda: admin_staff.set_staff_active(  # noqa: E731
            rt, ctx.owner_id, public_id, action == "unban", actor=ctx.actor, by=ctx.grantor
        )
    try:
        await call()
    except AdminError as exc:
        if exc.code == "ROLE_NOT_FOUND" and action == "role":
            return await _team_page(
                request, ctx, errors={f"member:{public_id}": exc.message}, status=400
            )
        raise
    return redirect(request, "/team")


# -- where a non-owner starts ---------------------------------------------------------------


@router.get("/workspace")
async def workspace(request: Request) -> Response:
    """Where an account starts: owners at their apps, an account that only resells at its
    keys (`/reseller`), anyone else (staff) on a short list of the pages it may open."""
    session = await signed_in(request)
    if session.account.is_owner:
        raise Redirect("/apps")
    links = await nav_links(request, session)
    if [path for path, _label in links] == ["/apps", "/reseller"] and not await _owner_rights(
        request, session
    ):
        raise Redirect("/reseller")
    return await page(request, session, "team_hub.html", {"links": links})


# The slice's other pages join this router, so `build_dashboard` includes one router.
from licentia.web import routes_access, routes_reseller  # noqa: E402

router.include_router(routes_reseller.router)
router.include_router(routes_access.router)
