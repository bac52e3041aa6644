"""The `licentia` command tree: the root Typer app, one group per resource (management B.0
names) and the option types every command module shares.

Commands live in modules by resource family (`cli/main.py` for serve, quickstart, migrate,
owners and signing keys; `cli/licenses.py`, `cli/identities.py`, `cli/apps.py`,
`cli/team.py`, `cli/operator.py`); `cli/main.py` imports them all so their commands register.
"""

from __future__ import annotations

from typing import Annotated

import typer

from licentia.cli import helpfmt

helpfmt.install()  # help without Typer's <bool>/<str> placeholders

app = typer.Typer(
    name="licentia",
    help="Licentia: a self-hosted license server speaking the AuthlyX v2 client protocol.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

owner_app = typer.Typer(help="Owner accounts.", no_args_is_help=True)
app_app = typer.Typer(help="Apps and their settings.", no_args_is_help=True)
subscription_app = typer.Typer(help="Subscriptions.", no_args_is_help=True)
license_app = typer.Typer(help="License keys.", no_args_is_help=True)
user_app = typer.Typer(help="End users of an app.", no_args_is_help=True)
binding_app = typer.Typer(help="Bound devices (SIDs) of users and licenses.", no_args_is_help=True)
device_app = typer.Typer(help="Hardware devices (device-auth).", no_args_is_help=True)
session_app = typer.Typer(help="Live client sessions.", no_args_is_help=True)
variable_app = typer.Typer(help="App variables.", no_args_is_help=True)
channel_app = typer.Typer(help="Chat channels, messages and mutes.", no_args_is_help=True)
log_app = typer.Typer(help="Client logs and auth events.", no_args_is_help=True)
signing_key_app = typer.Typer(help="The server's response-signing key.", no_args_is_help=True)
rule_app = typer.Typer(help="IP, SID, VPN and country rules.", no_args_is_help=True)
version_app = typer.Typer(help="Version control.", no_args_is_help=True)
hash_app = typer.Typer(help="Allowed application hashes.", no_args_is_help=True)
response_app = typer.Typer(help="Custom client messages.", no_args_is_help=True)
role_app = typer.Typer(help="Staff roles.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff members.", no_args_is_help=True)
rate_plan_app = typer.Typer(help="Reseller rate plans.", no_args_is_help=True)
reseller_app = typer.Typer(help="Resellers and their coins.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens of the management API.", no_args_is_help=True)
elite_key_app = typer.Typer(help="The owner's Elite Key and its settings.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
webhook_app = typer.Typer(help="Outbound webhooks and their delivery log.", no_args_is_help=True)

for _name, _sub in (
    ("owner", owner_app),
    ("app", app_app),
    ("subscription", subscription_app),
    ("license", license_app),
    ("user", user_app),
    ("binding", binding_app),
    ("device", device_app),
    ("session", session_app),
    ("variable", variable_app),
    ("channel", channel_app),
    ("log", log_app),
    ("signing-key", signing_key_app),
    ("rule", rule_app),
    ("version", version_app),
    ("hash", hash_app),
    ("response", response_app),
    ("role", role_app),
    ("staff", staff_app),
    ("rate-plan", rate_plan_app),
    ("reseller", reseller_app),
    ("token", token_app),
    ("elite-key", elite_key_app),
    ("audit", audit_app),
    ("webhook", webhook_app),
):
    app.add_typer(_sub, name=_name)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]
AppOpt = Annotated[str, typer.Option("--app", help="App id (the UUID `app create` printed).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Reason, kept with the change.")]
