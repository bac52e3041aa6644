"""Plumbing shared by every CLI command: settings, the runtime, output and errors.

Output contract: with `--json` a command prints exactly one JSON object on stdout and nothing
else there; without it, Rich tables and text for people. Failures exit 1 (2 for usage
errors) with a one-line message on stderr (and `{"error": code, "message": ...}` on stdout in
JSON mode); never a traceback.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from licentia.config import Settings
from licentia.configcheck import unknown_variable_warnings
from licentia.crypto.secretbox import MasterKeyError
from licentia.domain.timeutil import iso_z, parse_iso
from licentia.services.admin import AdminError
from licentia.services.runtime import Runtime
from licentia.store.migrate import upgrade

T = TypeVar("T")


@dataclass
class CliState:
    """Global options, stored on the root context by the app callback."""

    data_dir: Path | None = None


def _state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


class CliFailure(Exception):
    """A failure to report: `code` for JSON output, a one-line message, the exit code."""

    def __init__(self, code: str, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code


def fail(
    json_mode: bool, code: str, message: str, exit_code: int = 1, *, detail: str = ""
) -> NoReturn:
    """Report a failure; `detail` (where the CLI looked) is added to the stderr line only."""
    line = " ".join(message.split())  # one line, whatever the message held
    if json_mode:
        typer.echo(json.dumps({"error": code, "message": line}, ensure_ascii=False))
    extra = " ".join(detail.split())
    typer.echo(f"error: {line}{f' {extra}' if extra else ''}", err=True)
    raise typer.Exit(exit_code)


def usage(json_mode: bool, message: str) -> NoReturn:
    fail(json_mode, "USAGE", message, exit_code=2)


def load_settings(ctx: typer.Context) -> Settings:
    state = _state(ctx)
    settings = Settings(data_dir=state.data_dir) if state.data_dir is not None else Settings()
    # A misspelled variable would be ignored silently: say so on stderr.
    for text in unknown_variable_warnings(os.environ):
        typer.echo(f"warning: {text}", err=True)
    return settings


def mask_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing that might hold a password
        return "<unparsable database url>"


def _describe(exc: BaseException) -> tuple[str, str]:
    """(code, one-line message) for an unexpected failure; never secrets or tracebacks."""
    if isinstance(exc, AdminError):
        return exc.code, exc.message
    if isinstance(exc, CliFailure):
        return exc.code, exc.message
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"LICENTIA_{'_'.join(str(p) for p in err['loc']).upper()}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        return "INVALID_SETTINGS", f"invalid settings: {problems}"
    if isinstance(exc, MasterKeyError):
        return "MASTER_KEY", str(exc)
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        return "DATABASE", f"database error: {detail}"
    if isinstance(exc, SQLAlchemyError | OSError):
        first = (str(exc).splitlines() or [""])[0]
        return "DATABASE" if isinstance(exc, SQLAlchemyError) else "OS_ERROR", first
    return "INTERNAL", f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def guard(json_mode: bool, step: Callable[[], T]) -> T:
    """Run `step`; turn any failure into the CLI's error output and exit code."""
    try:
        return step()
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        fail(json_mode, "INTERRUPTED", "interrupted")
    except Exception as exc:
        code, message = _describe(exc)
        detail = str(getattr(exc, "cli_detail", ""))
        fail(json_mode, code, message, getattr(exc, "exit_code", 1), detail=detail)


def read_secret(value: str | None, label: str, json_mode: bool) -> str:
    """A secret given as an option, else typed on the terminal (hidden), else one line of
    stdin: so it need not appear in the process list or shell history."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return getpass.getpass(f"{label}: ", stream=sys.stderr)
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail(json_mode, "USAGE", f"{label.lower()} is required (option, terminal or stdin)", 2)
    return line


def migrate(settings: Settings) -> bool:
    """Apply pending migrations; True when this created a new SQLite database file. A
    database that cannot be reached is a CliFailure that names it (cli/diagnose.py)."""
    from licentia.cli import diagnose

    created = False
    if settings.is_sqlite:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = make_url(settings.resolved_database_url).database or ""
        created = bool(path) and not path.startswith((":memory:", "file:"))
        created = created and not Path(path).exists()
    try:
        upgrade(settings.resolved_database_url)
        if created and Path(path).exists():
            os.chmod(path, 0o600)  # the database holds password hashes: not for other users
    except Exception as exc:
        explained = diagnose.explain(exc, settings)
        if explained is not None:
            raise explained from None
        raise
    return created


async def _with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    rt = Runtime.build(settings)
    try:
        await rt.check_master_key()
        return await work(rt)
    finally:
        await rt.close()


def run(
    ctx: typer.Context,
    json_mode: bool,
    work: Callable[[Runtime], Awaitable[T]],
    *,
    settings: Settings | None = None,
) -> T:
    """Apply migrations, build the runtime, run `work` on it, close it; report failures."""

    def step() -> T:
        from licentia.cli import diagnose

        resolved = settings if settings is not None else load_settings(ctx)
        created = migrate(resolved)
        try:
            return asyncio.run(_with_runtime(resolved, work))
        except AdminError as exc:
            if exc.code.endswith("_NOT_FOUND"):  # name the database that was searched
                exc.cli_detail = diagnose.not_found_detail(resolved, created)  # type: ignore[attr-defined]
            raise
        except (OSError, SQLAlchemyError) as exc:
            explained = diagnose.explain(exc, resolved)
            if explained is not None:
                raise explained from None
            raise

    return guard(json_mode, step)


# -- output ------------------------------------------------------------------------------


#: Console width when the output is not a terminal: wide enough that no table cell is cut or
#: folded, so `licentia user info ... | grep hwid` sees whole values.
PIPE_WIDTH = 100_000


def console(*, stderr: bool = False) -> Console:
    """Rich output for people. On a terminal (or with COLUMNS set) it fits the width; piped
    or redirected, tables keep their natural width instead of folding at 80 columns."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        piped = not stream.isatty()
    except (AttributeError, ValueError):
        piped = True
    width = PIPE_WIDTH if piped and not os.environ.get("COLUMNS") else None
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def emit_json(data: Mapping[str, Any]) -> None:
    typer.echo(json.dumps(jsonable(data), ensure_ascii=False))


def show(json_mode: bool, data: Mapping[str, Any], *, title: str = "") -> None:
    """One object: JSON, or a two-column table for people."""
    if json_mode:
        emit_json(data)
        return
    table = Table(title=title or None, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in jsonable(data).items():
        if isinstance(value, list):
            text = "\n".join(str(v) for v in value) if value else "-"
        elif value is None:
            text = "-"
        else:
            text = str(value)
        table.add_row(key, text)
    console().print(table)


def warn(json_mode: bool, warnings: list[str]) -> None:
    """Warnings go to stderr (JSON mode carries them in the object instead)."""
    if json_mode:
        return
    err = console(stderr=True)
    for text in warnings:
        err.print(f"[yellow]warning:[/yellow] {text}", markup=True, highlight=False)


def parse_when(json_mode: bool, option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        usage(json_mode, f"{option} must be an ISO 8601 date or timestamp, got {value!r}")


def set_env(values: Mapping[str, str]) -> None:
    """Settings for child processes (uvicorn workers read them from the environment)."""
    os.environ.update(values)


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
