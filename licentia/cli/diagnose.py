"""Database failures explained: where the CLI looked and what to change (issue #12 item 6).

A refused connection used to surface as a bare `[Errno 111] Connect call failed`; here it
names the server, the database and the setting to check. `not_found_detail` adds the
database to "no such thing" errors, so a command run from the wrong folder (a new, empty
SQLite database) says so instead of just "no owner with owner id ...".
"""

from __future__ import annotations

import errno
import socket
import sqlite3

from sqlalchemy.engine import make_url

from licentia.cli._support import CliFailure
from licentia.config import Settings
from licentia.configcheck import describe_database

_REFUSED = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and SQLAlchemy's wrapped DBAPI errors."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return seen


def _where(url: str) -> tuple[str, int, str, str]:
    parsed = make_url(url)
    return (
        parsed.host or "localhost",
        parsed.port or 5432,
        parsed.database or "",
        parsed.username or "",
    )


def explain(exc: BaseException, settings: Settings) -> CliFailure | None:
    """A CliFailure naming the database for a connection failure, else None."""
    url = settings.resolved_database_url
    label = describe_database(url)
    fix = "check LICENTIA_DATABASE_URL" if settings.database_url else "check LICENTIA_DATA_DIR"
    for item in _chain(exc):
        name = type(item).__name__
        text = str(item)
        if settings.is_sqlite:
            if isinstance(item, sqlite3.OperationalError) and "unable to open" in text:
                return CliFailure(
                    "DATABASE_UNREACHABLE",
                    f"cannot open the {label}: {text} ({fix} and the folder's permissions)",
                )
            continue
        host, port, database, user = _where(url)
        if isinstance(item, socket.gaierror):
            return CliFailure(
                "DATABASE_UNREACHABLE",
                f"cannot resolve the database host {host!r} of the {label}: {fix}",
            )
        refused = isinstance(item, OSError) and (
            item.errno in _REFUSED or "Errno 111" in text or "Connect call failed" in text
        )
        if refused or isinstance(item, TimeoutError | ConnectionRefusedError):
            reason = "timed out" if isinstance(item, TimeoutError) else "connection refused"
            return CliFailure(
                "DATABASE_UNREACHABLE",
                f"cannot connect to the {label} ({reason}): is PostgreSQL running and "
                f"listening on {host}:{port}? Else {fix}",
            )
        if name == "InvalidCatalogNameError":
            return CliFailure(
                "DATABASE_NOT_FOUND",
                f'the {label} does not exist: create it (createdb -h {host} -p {port} -O "{user}" '
                f'"{database}") or {fix}',
            )
        if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
            return CliFailure(
                "DATABASE_LOGIN",
                f"the database server at {host}:{port} refused user {user!r}: {text.strip()} "
                f"({fix}: user and password)",
            )
    return None


def not_found_detail(settings: Settings, created_now: bool) -> str:
    """What to add to a `*_NOT_FOUND` message on stderr."""
    label = describe_database(settings.resolved_database_url)
    if created_now:
        return (
            f"(looked in the {label}, created just now and empty: run the command where the "
            "server's data folder is, or set LICENTIA_DATA_DIR / LICENTIA_DATABASE_URL)"
        )
    return f"(looked in the {label})"
