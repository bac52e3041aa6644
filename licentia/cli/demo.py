"""The demo data of `licentia quickstart` and what it prints: a demo owner, the app `DemoApp`,
a subscription and a few license keys, the server public key and a ready-to-paste Python SDK
snippet. Idempotent: a second run reuses what the first made.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

from rich.panel import Panel
from rich.syntax import Syntax

from licentia.cli._support import console
from licentia.services import admin, signing_keys
from licentia.services.runtime import Runtime

DEMO_OWNER = "demo"
DEMO_APP = "DemoApp"
DEMO_SUBSCRIPTION = "Default"
DEMO_KEYS = 5
DEMO_DAYS = 30
PASSWORD_ALPHABET = string.ascii_letters + string.digits


async def create_demo(rt: Runtime) -> dict[str, Any]:
    key = await signing_keys.ensure_active(rt)
    owner = await admin.find_owner_by_username(rt, DEMO_OWNER)
    password: str | None = None
    if owner is None:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))
        owner = await admin.create_owner(rt, DEMO_OWNER, password)
    found = await admin.find_app(rt, owner.owner_id, DEMO_APP)
    if found is None:
        created = await admin.create_app(rt, owner.owner_id, DEMO_APP)
        app_id, app_name, secret = created.app_id, created.app_name, created.secret
    else:
        app_id, app_name = found.app_id, found.app_name
        secret = await admin.get_app_secret(rt, app_id)
    if await admin.get_subscription(rt, app_id, DEMO_SUBSCRIPTION) is None:
        await admin.create_subscription(rt, app_id, DEMO_SUBSCRIPTION, 1)
    keys = await admin.unused_keys(rt, app_id, limit=DEMO_KEYS)
    new_keys = not keys
    if new_keys:
        keys = await admin.generate_licenses(
            rt,
            app_id,
            DEMO_SUBSCRIPTION,
            days=DEMO_DAYS,
            count=DEMO_KEYS,
            created_by="quickstart",
        )
    return {
        "owner_id": owner.owner_id,
        "owner_username": owner.username,
        "owner_password": password,
        "app_id": app_id,
        "app_name": app_name,
        "secret": secret,
        "kid": key.kid,
        "public_key_pem": key.pem,
        "keys": keys,
        "new_keys": new_keys,
    }


def sdk_snippet(owner_id: str, app_name: str, secret: str, api: str, pem: str) -> str:
    """A ready-to-paste Python SDK (`authlyx-api`) example for this server."""

    def lit(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a valid Python string literal too

    return (
        "from authlyx_api import Auth\n"
        "\n"
        "auth = Auth(\n"
        f"    ownerId={lit(owner_id)},\n"
        f"    appName={lit(app_name)},\n"
        '    version="1.0.0",\n'
        f"    secret={lit(secret)},\n"
        f"    api={lit(api)},\n"
        f'    serverPublicKeyPem="""{pem.strip()}\n""",\n'
        "    requireSignedResponses=True,\n"
        ")\n"
        "auth.Init()\n"
        'auth.LicenseLogin(input("License key: "))\n'
    )


def print_quickstart(result: dict[str, Any], api: str) -> None:
    out = console()
    lines = [
        f"[bold]Owner[/bold]     {result['owner_username']} (owner id {result['owner_id']})",
    ]
    if result["owner_password"]:
        lines.append(
            f"[bold]Password[/bold]  {result['owner_password']}  [dim](shown only this once)[/dim]"
        )
    else:
        lines.append("[bold]Password[/bold]  [dim](existing owner; unchanged)[/dim]")
    lines += [
        f"[bold]Dashboard[/bold] {result['dashboard_url']}  [dim](sign in as "
        f"{result['owner_username']} with this password)[/dim]",
        f"[bold]App[/bold]       {result['app_name']} (id {result['app_id']})",
        f"[bold]Secret[/bold]    {result['secret']}",
        f"[bold]API[/bold]       {api}",
        f"[bold]Key id[/bold]    {result['kid']}",
    ]
    out.print(Panel("\n".join(lines), title="Licentia quickstart", expand=False))
    if not result["owner_password"]:
        out.print(f"A new demo password: licentia owner reset-password {result['owner_id']}")
    label = "New license keys" if result["new_keys"] else "Unused license keys"
    out.print(f"[bold]{label}[/bold] ({DEMO_DAYS} days, subscription {DEMO_SUBSCRIPTION}):")
    for key in result["keys"]:
        out.print(f"  {key}", highlight=False)
    out.print("\n[bold]Server public key[/bold] (the SDK's serverPublicKeyPem):")
    out.print(result["public_key_pem"].strip(), highlight=False, markup=False)
    out.print("\n[bold]Python SDK[/bold] (pip install authlyx-api):")
    snippet = sdk_snippet(
        result["owner_id"], result["app_name"], result["secret"], api, result["public_key_pem"]
    )
    out.print(Syntax(snippet, "python", theme="ansi_dark", word_wrap=True))
