"""The `licentia` command line: serve, quickstart, migrate, and the admin commands.

Settings come from `LICENTIA_*` environment variables; `--data-dir` overrides
`LICENTIA_DATA_DIR`. Every command applies pending migrations first, so a fresh data folder
just works, and has `--json` (exactly one JSON object on stdout).
"""

from __future__ import annotations

import asyncio
import copy
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from licentia import __version__
from licentia.api import metrics
from licentia.cli import demo, serving
from licentia.cli._support import (
    CliState,
    console,
    emit_json,
    guard,
    load_settings,
    mask_url,
    migrate,
    parse_when,
    read_secret,
    run,
    set_env,
    show,
    warn,
)
from licentia.cli.groups import (
    JsonOpt,
    app,
    audit_app,
    elite_key_app,
    owner_app,
    signing_key_app,
    token_app,
)
from licentia.cli.outputs import export_text
from licentia.config import Settings
from licentia.domain.timeutil import iso_z
from licentia.services import admin, audit, credentials, signing_keys
from licentia.services.runtime import Runtime


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"licentia {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Data folder (SQLite database, master key); overrides LICENTIA_DATA_DIR.",
            file_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(data_dir=data_dir)


# -- server ------------------------------------------------------------------------------


def _uvicorn_log_config(json_mode: bool) -> dict[str, Any] | None:
    if not json_mode:
        return None  # uvicorn's defaults
    from uvicorn.config import LOGGING_CONFIG

    # Keep stdout for the one JSON object: access lines go to stderr as well.
    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return config


def _serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    json_mode: bool,
    *,
    announce: bool,
    sock: socket.socket | None = None,
) -> None:
    """Run the API server in the foreground (after migrations and the signing key). The
    socket is bound before anything is announced (cli/serving.py)."""
    if sock is None:
        sock = guard(json_mode, lambda: serving.bind(host, port))
    kid = guard(json_mode, lambda: _prepare_server(settings))
    # Worker processes build their own Settings from the environment: hand everything down.
    set_env(
        {
            "LICENTIA_DATA_DIR": str(settings.data_dir.resolve()),
            "LICENTIA_HOST": host,
            "LICENTIA_PORT": str(port),
            "LICENTIA_WORKERS": str(workers),
            **metrics.serve_environment(settings.data_dir, port, settings.metrics_enabled),
        }
    )
    url = f"http://{_url_host(host)}:{port}"
    if announce:
        if json_mode:
            emit_json({"serving": True, "url": url, "workers": workers, "kid": kid})
        else:
            console(stderr=True).print(f"Licentia on {url} ({workers} worker(s)); kid {kid}")
    from licentia.server.run import raise_open_files_limit, uvicorn_options

    raise_open_files_limit()  # before the workers start: they inherit it (issue #14)
    serving.run(
        sock,
        "licentia.api.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=_uvicorn_log_config(json_mode),
        **uvicorn_options(settings),
    )


def _prepare_server(settings: Settings) -> str:
    migrate(settings)

    async def work() -> str:
        rt = Runtime.build(settings)
        try:
            await rt.check_master_key()
            return (await signing_keys.ensure_active(rt)).kid
        finally:
            await rt.close()

    return asyncio.run(work())


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


HostOpt = Annotated[
    str | None, typer.Option("--host", help="Bind address (default LICENTIA_HOST or 127.0.0.1).")
]
PortOpt = Annotated[
    int | None,
    typer.Option("--port", min=1, max=65535, help="Port (default LICENTIA_PORT or 8080)."),
]


@app.command()
def serve(
    ctx: typer.Context,
    host: HostOpt = None,
    port: PortOpt = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (default 1).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the client API server."""
    settings = guard(json_out, lambda: load_settings(ctx))
    _serve(
        settings,
        host if host is not None else settings.host,
        port if port is not None else settings.port,
        workers if workers is not None else settings.workers,
        json_out,
        announce=True,
    )


@app.command()
def quickstart(
    ctx: typer.Context,
    host: HostOpt = None,
    port: PortOpt = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Exit after printing instead of serving.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set up a demo owner, app and keys, print an SDK snippet, then serve."""
    settings = guard(json_out, lambda: load_settings(ctx))
    bind_host = host if host is not None else settings.host
    bind_port = port if port is not None else settings.port
    guard(json_out, lambda: settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True))
    # Bind first: a taken port fails before the demo data is printed.
    sock = None if no_serve else guard(json_out, lambda: serving.bind(bind_host, bind_port))
    result = run(ctx, json_out, demo.create_demo, settings=settings)
    base = f"http://{_url_host(bind_host)}:{bind_port}"
    api = f"{base}/api/v2"
    result["api_url"] = api
    result["dashboard_url"] = f"{base}/dashboard/"
    if json_out:
        emit_json(result)
    else:
        demo.print_quickstart(result, api)
    if not no_serve:
        _serve(
            settings, bind_host, bind_port, settings.workers, json_out, announce=False, sock=sock
        )


@app.command("migrate")
def migrate_command(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Apply pending database migrations."""

    def step() -> str:
        settings = load_settings(ctx)
        migrate(settings)
        return settings.resolved_database_url

    url = guard(json_out, step)
    if json_out:
        emit_json({"migrated": True, "database": mask_url(url)})
    else:
        console().print(f"Database is up to date: {mask_url(url)}", markup=False)


@signing_key_app.command("create")
def signing_key_create(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Create a new signing key WITHOUT activating it, so its public key can be built into
    client releases before `signing-key activate` switches the server over."""
    key = run(ctx, json_out, lambda rt: signing_keys.create(rt, activate=False))
    if json_out:
        emit_json(
            {"kid": key.kid, "pem": key.pem, "der_base64": key.der_base64, "status": key.status}
        )
        return
    console().print(
        Panel(
            f"kid {key.kid}\n\n{key.pem.strip()}",
            title="New signing key (not active)",
            expand=False,
        ),
        markup=False,
    )


@signing_key_app.command("activate")
def signing_key_activate(
    ctx: typer.Context,
    kid: Annotated[str, typer.Argument(help="The key id to make active.")],
    json_out: JsonOpt = False,
) -> None:
    """Make a key the active one; the previous active key is retired."""

    async def work(rt: Runtime) -> signing_keys.KeyInfo:
        key = await signing_keys.activate(rt, kid)
        if key is None:
            raise admin.AdminError(
                "SIGNING_KEY_NOT_FOUND", f"no signing key with kid {kid}", ["kid"]
            )
        return key

    key = run(ctx, json_out, work)
    message = "clients embedding the previous key stop verifying responses"
    if json_out:
        emit_json({"kid": key.kid, "status": key.status, "warnings": [message]})
        return
    warn(False, [message])
    console().print(f"active signing key: {key.kid}")


@signing_key_app.command("list")
def signing_key_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List every signing key (the active one and the retired ones)."""
    keys = run(ctx, json_out, signing_keys.list_keys)
    if json_out:
        emit_json(
            {"keys": [{"kid": k.kid, "status": k.status, "der_base64": k.der_base64} for k in keys]}
        )
        return
    table = Table("kid", "status", "DER (base64)")
    for k in keys:
        table.add_row(k.kid, k.status, k.der_base64)
    console().print(table)


# -- owners ------------------------------------------------------------------------------


@owner_app.command("create")
def owner_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--username", help="Login name (unique).")],
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            help="Initial password; when omitted it is asked for (hidden) or read from stdin.",
        ),
    ] = None,
    email: Annotated[str, typer.Option("--email")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Create an owner account."""
    secret = read_secret(password, "Password", json_out)
    owner = run(ctx, json_out, lambda rt: admin.create_owner(rt, username, secret, email))
    show(
        json_out,
        {
            "owner_id": owner.owner_id,
            "id": owner.id,
            "username": owner.username,
            "public_id": owner.public_id,
            "email": owner.email,
        },
        title="Owner created",
    )


def _owner_status(ctx: typer.Context, owner_id: str, status: str, json_out: bool) -> None:
    # Through the account service so the change is audited (face cli).
    owner = run(ctx, json_out, lambda rt: admin.set_owner_account_status(rt, owner_id, status))
    show(json_out, {"owner_id": owner.owner_id, "username": owner.username, "status": owner.status})


@owner_app.command("suspend")
def owner_suspend(
    ctx: typer.Context,
    owner_id: Annotated[str, typer.Argument(help="8-digit owner id.")],
    json_out: JsonOpt = False,
) -> None:
    """Suspend an owner: its apps answer APP_DISABLED."""
    _owner_status(ctx, owner_id, "suspended", json_out)


@owner_app.command("unsuspend")
def owner_unsuspend(
    ctx: typer.Context,
    owner_id: Annotated[str, typer.Argument(help="8-digit owner id.")],
    json_out: JsonOpt = False,
) -> None:
    """Reactivate a suspended owner."""
    _owner_status(ctx, owner_id, "active", json_out)


# App commands (app, variable, channel, rule, version, hash, response, log): cli/apps.py.


# Subscriptions and licenses: cli/licenses.py.

# Users, devices, bindings and sessions: cli/identities.py.


# -- signing keys ------------------------------------------------------------------------


@signing_key_app.command("show")
def signing_key_show(
    ctx: typer.Context,
    pem: Annotated[bool, typer.Option("--pem", help="Print only the PEM.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the active public key (created on first use)."""
    key = run(ctx, json_out, signing_keys.ensure_active)
    if json_out:
        emit_json({"kid": key.kid, "pem": key.pem, "der_base64": key.der_base64})
    elif pem:
        sys.stdout.write(key.pem)
        sys.stdout.flush()
    else:
        body = f"kid {key.kid}\n\n{key.pem.strip()}\n\nDER (base64): {key.der_base64}"
        console().print(
            Panel(body, title="Server signing key (serverPublicKeyPem)", expand=False),
            markup=False,
        )


@signing_key_app.command("rotate")
def signing_key_rotate(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Create and activate a new signing key; the old one is retired."""

    async def work(rt: Runtime) -> tuple[str | None, signing_keys.KeyInfo]:
        old = await signing_keys.load_active(rt)
        new = await signing_keys.create(rt, activate=True)
        return (old.kid if old else None), new

    previous, key = run(ctx, json_out, work)
    message = (
        f"clients embedding the previous key{f' ({previous})' if previous else ''} stop "
        "verifying responses: ship the new public key to them"
    )
    if json_out:
        emit_json(
            {
                "kid": key.kid,
                "pem": key.pem,
                "der_base64": key.der_base64,
                "previous_kid": previous,
                "warnings": [message],
            }
        )
        return
    warn(False, [message])
    console().print(
        Panel(f"kid {key.kid}\n\n{key.pem.strip()}", title="New active signing key", expand=False),
        markup=False,
    )


# -- API tokens, Elite Key, audit log ----------------------------------------------------

OwnerOpt = Annotated[str, typer.Option("--owner", help="8-digit owner id.")]


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    owner: OwnerOpt,
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="A capability (license.ban) or name:read / name:write; repeat for more.",
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "cli",
    app_ids: Annotated[
        list[str] | None,
        typer.Option("--app", help="Limit the token to this app id; repeat. Default: all apps."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Expiry (ISO 8601); default never.")
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="Make it the token of this staff member or reseller of the owner (username or "
            "public id); its scopes cannot exceed that account's rights.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an API token; the token is shown only now."""
    expires_at = parse_when(json_out, "--expires", expires)
    info, plaintext = run(
        ctx,
        json_out,
        lambda rt: credentials.create_token(
            rt, owner, name, scope, app_ids or None, expires_at, account=account
        ),
    )
    warn(json_out, ["the token is shown only now: store it safely"])
    show(
        json_out,
        {
            "token": plaintext,
            "id": info.id,
            "name": info.name,
            "scopes": info.scopes,
            "apps": info.app_ids,
            "expires_at": info.expires_at,
        },
        title="API token created",
    )


@token_app.command("list")
def token_list(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """List the owner's API tokens (never the tokens themselves)."""

    async def work(rt: Runtime) -> tuple[list[credentials.TokenInfo], Any]:
        return await credentials.list_tokens(rt, owner), rt.clock()

    tokens, now = run(ctx, json_out, work)
    rows = [{**t.as_dict(), "status": t.status(now)} for t in tokens]
    if json_out:
        emit_json({"tokens": rows})
        return
    table = Table(title="API tokens")
    for column in ("id", "name", "prefix", "scopes", "apps", "status", "last used", "expires"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            row["prefix"],
            " ".join(row["scopes"]),
            "all" if row["apps"] is None else " ".join(row["apps"]),
            row["status"],
            iso_z(row["last_used_at"]) or "-",
            iso_z(row["expires_at"]) or "never",
        )
    console().print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    owner: OwnerOpt,
    token_id: Annotated[str, typer.Argument(help="Token id (from token list).")],
    json_out: JsonOpt = False,
) -> None:
    """Revoke an API token at once (revoking a revoked token changes nothing)."""
    info = run(ctx, json_out, lambda rt: credentials.revoke_token(rt, owner, token_id))
    show(json_out, {"id": info.id, "name": info.name, "revoked_at": info.revoked_at})


@elite_key_app.command("rotate")
def elite_key_rotate(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """Create the Elite Key, or replace it (the old key stops working at once)."""
    plaintext = run(ctx, json_out, lambda rt: credentials.rotate_elite_key(rt, owner))
    warn(json_out, ["the Elite Key is shown only now: store it safely"])
    show(json_out, {"elite_key": plaintext, "owner_id": owner.strip()}, title="Elite Key")


def _show_elite(json_out: bool, settings: credentials.EliteSettings) -> None:
    show(json_out, settings.as_dict(), title="Elite Key settings")


@elite_key_app.command("show")
def elite_key_show(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """Show the Elite Key settings (never the key)."""
    _show_elite(json_out, run(ctx, json_out, lambda rt: credentials.get_elite_settings(rt, owner)))


@elite_key_app.command("delete")
def elite_key_delete(ctx: typer.Context, owner: OwnerOpt, json_out: JsonOpt = False) -> None:
    """Delete the Elite Key (calls then fail with 401); the settings stay."""
    deleted = run(ctx, json_out, lambda rt: credentials.delete_elite_key(rt, owner))
    show(json_out, {"owner_id": owner.strip(), "deleted": deleted})


CapabilitiesArg = Annotated[
    list[str], typer.Argument(help="Capabilities function.action (license.ban, user.delete).")
]


@elite_key_app.command("disable")
def elite_key_disable(
    ctx: typer.Context, owner: OwnerOpt, capabilities: CapabilitiesArg, json_out: JsonOpt = False
) -> None:
    """Disable Elite Key capabilities (calls then answer 403 PERMISSION_DENIED)."""
    settings = run(
        ctx,
        json_out,
        lambda rt: credentials.update_elite_capabilities(rt, owner, disable=capabilities),
    )
    _show_elite(json_out, settings)


@elite_key_app.command("enable")
def elite_key_enable(
    ctx: typer.Context, owner: OwnerOpt, capabilities: CapabilitiesArg, json_out: JsonOpt = False
) -> None:
    """Enable disabled Elite Key capabilities again."""
    settings = run(
        ctx,
        json_out,
        lambda rt: credentials.update_elite_capabilities(rt, owner, enable=capabilities),
    )
    _show_elite(json_out, settings)


RuleListOpt = Annotated[
    str, typer.Option("--list", help="ip_allow, ip_deny, domain_allow or domain_deny.")
]
RuleValueOpt = Annotated[
    str, typer.Option("--value", help="An IP or CIDR range; a host name (*. for subdomains).")
]


@elite_key_app.command("rule-add")
def elite_key_rule_add(
    ctx: typer.Context,
    owner: OwnerOpt,
    list_name: RuleListOpt,
    value: RuleValueOpt,
    json_out: JsonOpt = False,
) -> None:
    """Add an IP or domain rule to the Elite Key settings."""
    settings = run(
        ctx, json_out, lambda rt: credentials.add_elite_rule(rt, owner, list_name, value)
    )
    _show_elite(json_out, settings)


@elite_key_app.command("rule-remove")
def elite_key_rule_remove(
    ctx: typer.Context,
    owner: OwnerOpt,
    list_name: RuleListOpt,
    value: RuleValueOpt,
    json_out: JsonOpt = False,
) -> None:
    """Remove an IP or domain rule from the Elite Key settings."""
    settings = run(
        ctx, json_out, lambda rt: credentials.remove_elite_rule(rt, owner, list_name, value)
    )
    _show_elite(json_out, settings)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    owner: OwnerOpt,
    capability: Annotated[
        str | None,
        typer.Option("--capability", help="name.action, or a resource name for all its actions."),
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    target: Annotated[str | None, typer.Option("--target")] = None,
    app_id: Annotated[str | None, typer.Option("--app", help="App id.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 (inclusive).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO 8601 (exclusive).")] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="next_cursor of a page.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Entries per page (1-500).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List audit entries, newest first."""
    since_at = parse_when(json_out, "--since", since)
    until_at = parse_when(json_out, "--until", until)
    entries, next_cursor = run(
        ctx,
        json_out,
        lambda rt: audit.list_entries(
            rt,
            owner,
            actor=actor,
            capability=capability,
            target=target,
            app_id=app_id,
            since=since_at,
            until=until_at,
            cursor=cursor,
            limit=limit,
        ),
    )
    if json_out:
        emit_json({"entries": [e.as_dict() for e in entries], "next_cursor": next_cursor})
        return
    table = Table(title="Audit log")
    for column in ("id", "time", "actor", "face", "capability", "target", "result"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            str(e.id),
            iso_z(e.created_at),
            f"{e.actor_kind}:{e.actor}",
            e.face,
            e.capability,
            f"{e.target_type} {e.target}".strip(),
            e.result,
        )
    console().print(table)
    if next_cursor is not None:
        console(stderr=True).print(f"more: --cursor {next_cursor}")


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    owner: OwnerOpt,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    capability: Annotated[str | None, typer.Option("--capability")] = None,
    since: Annotated[str | None, typer.Option("--since")] = None,
    until: Annotated[str | None, typer.Option("--until")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export audit entries as CSV or JSON (to stdout, or --output FILE)."""
    since_at = parse_when(json_out, "--since", since)
    until_at = parse_when(json_out, "--until", until)
    export_text(
        json_out,
        fmt,
        output,
        lambda: run(
            ctx,
            json_out,
            lambda rt: audit.export_entries(
                rt, owner, fmt=fmt.lower(), capability=capability, since=since_at, until=until_at
            ),
        ),
    )


# -- entry point -------------------------------------------------------------------------


def main() -> None:
    """Console entry point: click's handling, plus JSON errors for usage mistakes."""
    argv = sys.argv[1:]
    json_mode = "--json" in argv
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="licentia", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors (exit 2) and other click-style errors
        if json_mode:
            emit_json({"error": "USAGE", "message": exc.format_message()})
        show_error = getattr(exc, "show", None)
        if callable(show_error):
            show_error()
        else:
            typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # never a traceback
        typer.echo(f"error: {type(exc).__name__}: {exc}".splitlines()[0], err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


__all__ = ["app", "main"]


# The other families' commands register on the groups when imported (license_files: licenses).
from licentia.cli import (  # noqa: E402, F401
    apps,
    database,
    doctor,
    identities,
    license_files,
    operator,
    team,
    webhooks,
)
