"""`license export`, `license import` (a full export imports into another app), `license file`.

Output files are checked before any work and written at once (`cli.outputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from licentia.cli._support import console, emit_json, fail, run, show, usage
from licentia.cli.groups import AppOpt, JsonOpt, license_app
from licentia.cli.licenses import (
    BatchOpt,
    FormatOpt,
    FromOpt,
    NoteFilterOpt,
    OutputOpt,
    SearchOpt,
    StateOpt,
    SubscriptionFilterOpt,
    ToOpt,
    UsedByOpt,
    _audit,
    _check_format,
    _filters,
    _interactive,
    _progress,
)
from licentia.cli.outputs import check_output, write_output
from licentia.domain.timeutil import iso_z
from licentia.services import tickets, transfer
from licentia.services.runtime import Runtime

# -- licenses: export, import ------------------------------------------------------------


@license_app.command("export")
def license_export(
    ctx: typer.Context,
    app_id: AppOpt,
    fmt: FormatOpt = "csv",
    output: OutputOpt = None,
    state: StateOpt = None,
    subscription: SubscriptionFilterOpt = None,
    note: NoteFilterOpt = None,
    batch: BatchOpt = None,
    used_by: UsedByOpt = None,
    search: SearchOpt = None,
    created_from: FromOpt = None,
    created_to: ToOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export licenses (text, CSV or JSON) with the list's filters; to stdout or --output."""
    _check_format(json_out, fmt)
    if json_out and output is None:
        usage(json_out, "--json needs --output (the export itself would be the output)")
    check_output(json_out, output)
    filters = _filters(
        json_out, state, subscription, note, batch, used_by, search, created_from, created_to
    )

    async def work(rt: Runtime) -> str:
        with _progress("Exporting", None, _interactive(json_out)) as update:
            return await transfer.export_licenses(rt, app_id, filters, fmt=fmt, progress=update)

    text = run(ctx, json_out, work)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_output(json_out, output, text)
    if json_out:
        emit_json({"format": fmt, "output": str(output), "bytes": len(text.encode())})
    elif output is not None:
        console(stderr=True).print(f"Exported to {output}.")


@license_app.command("import")
def license_import(
    ctx: typer.Context,
    app_id: AppOpt,
    file: Annotated[Path, typer.Argument(help="CSV file (key, subscription, ...); - = stdin.")],
    json_out: JsonOpt = False,
) -> None:
    """Import licenses from CSV: all rows or none; an error names its line."""
    try:
        text = (
            typer.get_text_stream("stdin").read()
            if str(file) == "-"
            else file.read_text(encoding="utf-8")
        )
    except (OSError, UnicodeDecodeError) as exc:
        fail(json_out, "INVALID_INPUT", f"cannot read {file}: {exc}")

    async def work(rt: Runtime) -> transfer.ImportResult:
        with _progress("Importing", text.count("\n"), _interactive(json_out)) as update:
            async with rt.db.write():
                result = await transfer.import_licenses(rt, app_id, text, progress=update)
                changes = {"count": [None, result.count], "imported": [None, True]}
                await _audit(
                    rt, app_id, "license.import", "license-batch", result.batch_id, changes
                )
            return result

    result = run(ctx, json_out, work)
    show(json_out, {"imported": result.count, "batch_id": result.batch_id})


# -- licenses: offline license file (docs/tickets.md) ------------------------------------


@license_app.command("file")
def license_file(
    ctx: typer.Context,
    app_id: AppOpt,
    key: Annotated[str, typer.Option("--key", help="License key the file is for.")],
    hwid: Annotated[str, typer.Option("--hwid", help="HWID/SID of the air-gapped machine.")],
    days: Annotated[int, typer.Option("--days", help="Days the file is valid (1 to 36500).")],
    output: OutputOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Sign an offline license file for one key and one machine (verifiable offline).

    An unused key is activated and the HWID is bound within the key's device limit.
    """
    check_output(json_out, output)

    async def work(rt: Runtime) -> tickets.LicenseFile:
        async with rt.db.write():
            made = await tickets.license_file(rt, app_id, key, hwid, days)
            changes = {"hwid": [None, made.hwid], "expires_at": [None, iso_z(made.expires_at)]}
            await _audit(rt, app_id, "license.file", "license", made.key, changes)
        return made

    made = run(ctx, json_out, work)
    if output is None and not json_out:
        typer.echo(made.ticket)
        return
    if output is not None:
        write_output(json_out, output, made.ticket + "\n")
    result = {"key": made.key, "hwid": made.hwid, "expires_at": iso_z(made.expires_at)}
    if output is None:
        result["ticket"] = made.ticket
    else:
        result["output"] = str(output)
    show(json_out, result)
