"""`licentia db copy`, `licentia backup` and `licentia restore`: moving and saving a database.

`db copy` copies a whole database to another (SQLite -> PostgreSQL and back) with every id,
secret and signing key (`store.copy`). `backup --to FILE` writes one SQLite file: the SQLite
backup API for a SQLite database (online and consistent), a snapshot copy for PostgreSQL.
`restore --from FILE` puts such a file back. Secrets stay encrypted under the master key:
keep `master.key` (or `LICENTIA_MASTER_KEY`) with every copy and backup.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from licentia.cli import backup as backups
from licentia.cli._support import (
    console,
    fail,
    guard,
    load_settings,
    mask_url,
    migrate,
    show,
    usage,
)
from licentia.cli.groups import JsonOpt, app
from licentia.cli.outputs import check_output
from licentia.config import Settings
from licentia.store.copy import CopyError, CopyReport, copy_database

db_app = typer.Typer(help="The database as a whole: copy it to another database.")
app.add_typer(db_app, name="db")

MASTER_KEY_NOTE = (
    "secrets are still encrypted under the master key: the installation that uses the copy "
    "needs the same master.key (or LICENTIA_MASTER_KEY)"
)


def normalize_url(url: str) -> str:
    """Accept the URL forms people write; the drivers Licentia uses need their own scheme."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _check_url(json_mode: bool, option: str, url: str) -> str:
    url = normalize_url(url.strip())
    if not url.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://")):
        usage(
            json_mode,
            f"{option} must be a database URL: postgresql+asyncpg://USER:PASSWORD@HOST/DB "
            "or sqlite+aiosqlite:////absolute/path/licentia.db",
        )
    return url


def report_body(report: CopyReport, source: str, target: str) -> dict[str, Any]:
    return {
        "from": mask_url(source),
        "to": mask_url(target),
        "rows": report.rows,
        "tables": report.tables,
        "skipped": report.skipped,
        "replaced": report.replaced,
        "verified": True,
        "note": MASTER_KEY_NOTE,
    }


def run_copy(
    json_mode: bool, settings: Settings, source: str, target: str, sessions: bool, replace: bool
) -> CopyReport:
    async def work() -> CopyReport:
        await backups.check_master_key(settings, source)
        return await copy_database(source, target, with_sessions=sessions, replace=replace)

    try:
        return asyncio.run(work())
    except CopyError as exc:
        fail(json_mode, exc.code, exc.message)


def print_report(json_mode: bool, body: dict[str, Any], title: str) -> None:
    if json_mode:
        show(True, body)
        return
    out = console()
    for name, rows in body["tables"].items():
        if rows:
            out.print(f"  {name:<28} {rows:>10}")
    skipped = ", ".join(body["skipped"]) or "none"
    out.print(
        f"{title}: {body['rows']} row(s) in {len(body['tables'])} tables, counts verified; "
        f"from {body['from']} to {body['to']} (sessions skipped: {skipped})"
    )
    console(stderr=True).print(f"[yellow]note:[/yellow] {MASTER_KEY_NOTE}", markup=True)


@db_app.command("copy")
def db_copy(
    ctx: typer.Context,
    to_url: Annotated[
        str | None, typer.Option("--to", help="Target database URL (default: the configured one).")
    ] = None,
    from_url: Annotated[
        str | None,
        typer.Option("--from", help="Source database URL (default: the configured one)."),
    ] = None,
    with_sessions: Annotated[
        bool, typer.Option("--with-sessions", help="Also copy live client/dashboard sessions.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete the target's rows first (same transaction).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Copy every row (ids, secrets, signing keys) to another database and verify the counts."""
    if to_url is None and from_url is None:
        usage(json_out, "give --to URL (copy the configured database there) or --from URL")
    settings = guard(json_out, lambda: load_settings(ctx))
    configured = settings.resolved_database_url
    source = _check_url(json_out, "--from", from_url) if from_url else configured
    target = _check_url(json_out, "--to", to_url) if to_url else configured
    if source == target:
        usage(json_out, "the source and the target are the same database")
    if source == configured:
        guard(json_out, lambda: migrate(settings))  # as every command does for its own DB
    report = guard(
        json_out,
        lambda: run_copy(json_out, settings, source, target, with_sessions, replace),
    )
    print_report(json_out, report_body(report, source, target), "copied")


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    to_file: Annotated[Path, typer.Option("--to", help="The backup file to write (SQLite).")],
    json_out: JsonOpt = False,
) -> None:
    """Write an online, consistent backup of the database to one SQLite file."""
    check_output(json_out, to_file)
    settings = guard(json_out, lambda: load_settings(ctx))
    guard(json_out, lambda: migrate(settings))
    body = guard(json_out, lambda: backups.backup(settings, to_file))
    if json_out:
        show(True, body)
        return
    console().print(
        f"backup written to {body['file']}: {body['rows']} row(s), {body['bytes']} bytes, "
        f"migration {body['revision']}"
    )
    console(stderr=True).print(f"[yellow]note:[/yellow] {backups.KEEP_KEY_NOTE}", markup=True)


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    from_file: Annotated[Path, typer.Option("--from", help="A file written by `backup`.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a database that holds rows.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Put a backup file back into the configured database (stop the server first)."""
    settings = guard(json_out, lambda: load_settings(ctx))
    body = guard(json_out, lambda: backups.restore(settings, from_file, replace))
    if json_out:
        show(True, body)
        return
    console().print(
        f"restored {body['rows']} row(s) from {body['file']} into {body['to']}; "
        "start the server again"
    )
