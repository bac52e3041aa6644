"""schemathesis over the management API's own `/openapi.json`, against a real `licentia serve`.

Every operation of `/api/manage/v1` gets a few generated requests (schemathesis, seeded and
bounded: `LICENTIA_SCHEMATHESIS_EXAMPLES` per operation, default 2) sent with a token that holds
every scope of the owner. The `app_id` path parameter is the owner's real app (except for
deleting the app itself), so the generated bodies, queries and other parameters reach the
route's logic instead of stopping at 404. The assertion is schemathesis' `not_a_server_error`:
no 5xx, whatever the input. At the end, the server's log must not show an ERROR line or a
traceback either.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from licentia.services.credentials import RESOURCES

from .serverproc import ServerEnv, ServerProcess

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("LICENTIA_SCHEMATHESIS_EXAMPLES", "2"))
BASE = "/api/manage/v1"
STARTUP_TIMEOUT = 90.0  # seconds; a busy CI box can take 30 s to start the server


@dataclass(frozen=True)
class Target:
    server: ServerProcess
    token: str
    app_id: str
    session: requests.Session
    statuses: Counter[int]


@pytest.fixture(scope="module")
def target(e2e_env: ServerEnv) -> Iterator[Target]:
    run = e2e_env.run_json
    owner = str(
        run("owner", "create", "--username", "st-owner", "--password", "Owner-Pass-123")["owner_id"]
    )
    app_id = str(run("app", "create", "--owner", owner, "--name", "St-App")["app_id"])
    run("subscription", "create", "--app", app_id, "--name", "Standard", "--level", "1")
    run(
        "license",
        "generate",
        "--app",
        app_id,
        "--subscription",
        "Standard",
        "--days",
        "30",
        "--count",
        "3",
    )
    scopes = [
        arg for r in sorted(RESOURCES) for arg in ("--scope", f"{r}:write", "--scope", f"{r}:read")
    ]
    token = str(
        run("token", "create", "--owner", owner, "--name", "schemathesis", *scopes)["token"]
    )
    with e2e_env._spawn() as server, requests.Session() as session:
        server.wait_ready(timeout=STARTUP_TIMEOUT)
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {token}"
        target = Target(server, token, app_id, session, Counter())
        yield target
        # The token was honoured: generated requests reached the routes, not just the guard.
        assert sum(n for s, n in target.statuses.items() if s < 300) > 0, target.statuses
        log = server.log_path.read_bytes().decode("utf-8", errors="replace")
        assert " ERROR " not in log and "Traceback" not in log, server.output()


@pytest.fixture(scope="module")
def management_schema(target: Target) -> Any:
    schema = schemathesis.openapi.from_url(f"{target.server.base_url}/openapi.json")
    return schema.include(path_regex=f"^{BASE}/")


schema = schemathesis.pytest.from_fixture("management_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_management_api_never_answers_5xx(case: Any, target: Target) -> None:
    params = case.path_parameters
    if (
        params
        and "app_id" in params
        and not (case.method.upper() == "DELETE" and case.path == f"{BASE}/apps/{{app_id}}")
    ):
        params["app_id"] = target.app_id
    response = case.call_and_validate(
        base_url=target.server.base_url, session=target.session, checks=[not_a_server_error]
    )
    target.statuses[response.status_code] += 1
