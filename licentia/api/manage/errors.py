"""Errors of the management API: `{code, message, fields?}` with the status of the code (A.5).

Every failure of a route under `/api/manage/v1` leaves through `ManageRoute`: domain errors
(`AdminError`), FastAPI's request validation (its 422 becomes 400 `INVALID_INPUT`, or 400
`MISSING_FIELDS` when only required inputs are missing), Starlette's HTTP errors, and anything
unexpected (500 `INTERNAL`, logged with the request id, never a stack trace in the body).

A refused changing call made with a valid token is written to the audit log with its error
code as the result (B.20); the refused call itself changed nothing.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from licentia.api.manage.auth import Ctx
from licentia.services import audit
from licentia.services.admin_common import AdminError
from licentia.services.runtime import Runtime

log = logging.getLogger("licentia.manage")

#: Code -> HTTP status (management A.5, plus the token codes of B.0).
STATUS: dict[str, int] = {
    "INVALID_TOKEN": 401,
    "ACCOUNT_SUSPENDED": 403,
    "PERMISSION_DENIED": 403,
    "INVALID_INPUT": 400,
    "MISSING_FIELDS": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "IN_USE": 409,
    "METHOD_NOT_ALLOWED": 405,
    "PAYLOAD_TOO_LARGE": 413,
    "INVALID_PASSWORD": 422,
    "INSUFFICIENT_BALANCE": 422,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
}

_HTTP_CODES: dict[int, str] = {
    400: "INVALID_INPUT",
    401: "INVALID_TOKEN",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
}

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class ErrorOut(BaseModel):
    """The error body of every management API failure."""

    code: str
    message: str
    fields: list[str] | None = None


def status_of(code: str) -> int:
    if code in STATUS:
        return STATUS[code]
    if code.endswith("_NOT_FOUND"):
        return 404
    return 400


def error_response(exc: AdminError) -> JSONResponse:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.fields:
        body["fields"] = list(exc.fields)
    headers = {"WWW-Authenticate": "Bearer"} if exc.code == "INVALID_TOKEN" else None
    return JSONResponse(body, status_code=status_of(exc.code), headers=headers)


def validation_error(exc: RequestValidationError) -> AdminError:
    """FastAPI's request validation as one 400 error naming every offending input."""
    fields: list[str] = []
    messages: list[str] = []
    only_missing = True
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        parts = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        name = ".".join(parts) or (loc[0] if loc else "body")
        if name not in fields:
            fields.append(name)
        # Pydantic's `msg` never repeats the input, so passwords cannot leak through here.
        messages.append(f"{name}: {error.get('msg', 'invalid value')}")
        only_missing = only_missing and error.get("type") == "missing"
    code = "MISSING_FIELDS" if only_missing and fields else "INVALID_INPUT"
    text = "; ".join(messages[:5]) or "the request is invalid"
    return AdminError(code, text, fields or ["body"])


def http_error(exc: HTTPException) -> AdminError:
    code = _HTTP_CODES.get(
        exc.status_code, "INVALID_INPUT" if exc.status_code < 500 else "INTERNAL"
    )
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    return AdminError(code, detail)


def request_id_of(request: Request) -> str:
    """The caller's `X-Request-Id` when well-formed, else a fresh one."""
    given = request.headers.get("x-request-id", "").strip()
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


async def _audit_refusal(request: Request, exc: AdminError) -> None:
    ctx = getattr(request.state, "manage_ctx", None)
    if not isinstance(ctx, Ctx) or ctx.is_read:
        return
    try:
        await audit.record_standalone(
            ctx.rt,
            ctx.actor(),
            owner_account_id=ctx.principal.owner_account_id,
            capability=ctx.capability,
            result=exc.code,
            target_type=ctx.target_type,
            target=ctx.target,
            app_id=ctx.app_id,
        )
    except Exception:
        log.exception("could not audit a refused call (request id %s)", ctx.request_id)


#: Methods whose routes change data: each runs in one write transaction, so the change and
#: its audit entry commit together, and a refused call (any exception) changes nothing.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ManageRoute(APIRoute):
    """Route class of the management router: request ids, the error shape for every route,
    and one transaction around every changing call.

    `get_runtime` is set by `route_class()`; without it (the app has not started) no
    transaction is opened and the guard answers first."""

    get_runtime: Callable[[], Runtime | None] = staticmethod(lambda: None)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        get_runtime = type(self).get_runtime

        async def run(request: Request) -> Response:
            rt = get_runtime() if request.method in WRITE_METHODS else None
            if rt is None:
                return await original(request)
            async with rt.db.write():
                return await original(request)

        async def handler(request: Request) -> Response:
            request_id = request_id_of(request)
            request.state.request_id = request_id
            refused: AdminError | None = None
            try:
                response = await run(request)
            except AdminError as exc:
                refused = exc
            except RequestValidationError as exc:
                refused = validation_error(exc)
            except HTTPException as exc:
                refused = http_error(exc)
            except Exception:
                log.exception("unhandled error in the management API (request id %s)", request_id)
                refused = AdminError("INTERNAL", "An internal server error occurred")
            if refused is not None:
                await _audit_refusal(request, refused)
                response = error_response(refused)
            response.headers["X-Request-Id"] = request_id
            return response

        return handler


def route_class(get_runtime: Callable[[], Runtime | None]) -> type[ManageRoute]:
    """`ManageRoute` bound to the runtime getter of one app."""
    return type("BoundManageRoute", (ManageRoute,), {"get_runtime": staticmethod(get_runtime)})
