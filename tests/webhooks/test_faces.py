"""Webhooks through the REST management API and the CLI: the same service, audited."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from licentia.cli.main import app as cli_app
from licentia.services import credentials, webhooks
from licentia.store.tables import audit_log
from tests.conftest import TEST_MASTER_KEY, World
from tests.elite.conftest import Bot
from tests.manage.conftest import Manage, assert_error, changes_of

PATH = "/apps/{app}/webhooks"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private": False, "webhook_poll_interval": 0}


@pytest.fixture
async def m(world: World) -> Manage:
    manage = await Manage(world).setup()
    manage.token = await manage.make_token(["webhook:read", "webhook:write"])
    return manage


async def test_rest_lifecycle_and_audit(m: Manage) -> None:
    base = PATH.format(app=m.app_id)
    created = await m.post(
        base, {"url": "https://hooks.example.com/in", "events": ["license.*"], "format": "discord"}
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["license.*"]
    listed = (await m.get(base)).json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in json.dumps(listed)
    edited = await m.call(
        "PATCH", f"{base}/{hook['id']}", json_body={"enabled": False, "events": ["*"]}
    )
    assert edited.json()["enabled"] is False and edited.json()["events"] == ["*"]
    rotated = (await m.post(f"{base}/{hook['id']}/rotate-secret")).json()
    assert rotated["secret"] != hook["secret"]
    sent = await m.post(f"{base}/{hook['id']}/test")
    assert sent.status_code == 202
    [delivery] = (await m.get(f"{base}/{hook['id']}/deliveries")).json()["items"]
    assert delivery["event_id"] == sent.json()["event_id"] and delivery["status"] == "pending"
    detail = (await m.get(f"{base}/deliveries/{delivery['id']}")).json()
    assert detail["attempts_log"] == [] and detail["event_type"] == "webhook.test"
    resent = await m.post(f"{base}/deliveries/{delivery['id']}/resend")
    assert resent.status_code == 200 and resent.json()["attempts"] == 0
    gone = await m.call("DELETE", f"{base}/{hook['id']}")
    assert gone.status_code == 204
    assert_error(await m.get(f"{base}/{hook['id']}"), 404, "WEBHOOK_NOT_FOUND")
    entries = {r.capability: r for r in await m.audit()}
    assert set(entries) >= {
        "webhook.create",
        "webhook.edit",
        "webhook.rotate_secret",
        "webhook.send_test",
        "webhook.resend",
        "webhook.delete",
    }
    assert changes_of(entries["webhook.edit"]) == {
        "enabled": [True, False],
        "events": [["license.*"], ["*"]],
    }
    assert changes_of(entries["webhook.rotate_secret"]) == {"secret": "changed"}
    assert hook["secret"] not in json.dumps([tuple(map(str, r)) for r in await m.audit()])


async def test_rest_refuses_bad_input_and_other_owners(m: Manage, world: World) -> None:
    base = PATH.format(app=m.app_id)
    for body, field in (
        ({"url": "http://127.0.0.1:9/x"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://ok.example.com", "events": ["nope.thing"]}, "events"),
    ):
        assert_error(await m.post(base, body), 400, "INVALID_INPUT", [field])
    bad_format = await m.post(base, {"url": "https://x.example", "format": "slack"})
    assert_error(bad_format, 400, "INVALID_INPUT", ["format"])
    reader = await m.make_token(["webhook:read"])
    denied = await m.post(base, {"url": "https://x.example"}, token=reader)
    assert_error(denied, 403, "PERMISSION_DENIED")
    assert (await m.get(base)).json()["items"] == []
    hook = await webhooks.create_endpoint(world.rt, world.app_id, "https://a.example/x")
    other = await Manage(
        await World(world.app, world.client, world.clock, world.pem).setup()
    ).setup()
    other.token = await other.make_token(["webhook:read", "webhook:write"])
    assert_error(await other.get(f"{base}/{hook.id}"), 404, "APP_NOT_FOUND")
    foreign = f"{PATH.format(app=other.app_id)}/{hook.id}"
    assert_error(await other.get(foreign), 404, "WEBHOOK_NOT_FOUND")
    await webhooks.delete_endpoint(world.rt, world.app_id, hook.id)


async def test_elite_key_webhook_function(world: World) -> None:
    bot = Bot(
        world.client, await credentials.rotate_elite_key(world.rt, world.owner_id), world.app_name
    )
    added = await bot.ok(
        "webhook", "add", {"url": "https://discord.com/api/webhooks/1/x", "format": "discord"}
    )
    hook = added["webhook"]
    assert hook["format"] == "discord" and hook["secret"].startswith("whsec_")
    listed = await bot.ok("webhook", "list")
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]] and "secret" not in listed[
        "webhooks"
    ][0]
    tested = await bot.ok("webhook", "test", {"webhook_id": hook["id"]})
    assert tested["event_id"].startswith("evt_")
    refused = await bot.call("webhook", "add", {"url": "http://169.254.169.254/latest"})
    assert refused.status_code == 400 and refused.json()["success"] is False
    await bot.ok("webhook", "remove", {"webhook_id": hook["id"]})
    assert (await bot.ok("webhook", "list"))["webhooks"] == []
    async with world.rt.db.read() as conn:
        rows = (
            await conn.execute(
                audit_log.select().where(
                    audit_log.c.app_id == world.app_id, audit_log.c.face == "elite-key"
                )
            )
        ).all()
    assert {r.capability for r in rows if r.result == "ok"} >= {
        "webhook.add",
        "webhook.test",
        "webhook.remove",
    }


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli_app, [*args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_cli_lifecycle(database_url: str, tmp_path: Path) -> None:
    env = {
        "LICENTIA_DATABASE_URL": database_url,
        "LICENTIA_DATA_DIR": str(tmp_path),
        "LICENTIA_MASTER_KEY": TEST_MASTER_KEY,
        "LICENTIA_ARGON2_MEMORY_KIB": "64",
        "LICENTIA_ARGON2_TIME_COST": "1",
    }
    suffix = secrets.token_hex(4)
    owner = _cli(env, "owner", "create", "--username", f"wh{suffix}", "--password", "Owner-Pw-123")
    app_id = _cli(env, "app", "create", "--owner", str(owner["owner_id"]), "--name", "Hooked")[
        "app_id"
    ]
    added = _cli(
        env,
        "webhook",
        "add",
        "--app",
        app_id,
        "--url",
        "https://hooks.example.com/a",
        "--events",
        "user.*,key.generated",
    )
    assert added["secret"].startswith("whsec_")
    assert added["events"] == ["key.generated", "user.*"]
    listed = _cli(env, "webhook", "list", "--app", app_id)
    assert listed["count"] == 1 and "secret" not in listed["webhooks"][0]
    edited = _cli(env, "webhook", "edit", "--app", app_id, "--id", added["id"], "--disable")
    assert edited["enabled"] is False
    event = _cli(env, "webhook", "test", "--app", app_id, "--id", added["id"])["event_id"]
    [delivery] = _cli(env, "webhook", "deliveries", "--app", app_id, "--id", added["id"])[
        "deliveries"
    ]
    assert delivery["event_id"] == event
    shown = _cli(env, "webhook", "delivery", "--app", app_id, "--delivery", str(delivery["id"]))
    assert shown["attempts_log"] == []
    _cli(env, "webhook", "resend", "--app", app_id, "--delivery", str(delivery["id"]))
    assert _cli(env, "webhook", "rotate-secret", "--app", app_id, "--id", added["id"])["secret"]
    assert _cli(env, "webhook", "remove", "--app", app_id, "--id", added["id"])["removed"]
    refused = CliRunner().invoke(
        cli_app,
        ["webhook", "add", "--app", app_id, "--url", "http://10.0.0.1/x", "--json"],
        env=env,
    )
    assert refused.exit_code != 0 and json.loads(refused.stdout)["error"] == "INVALID_INPUT"
