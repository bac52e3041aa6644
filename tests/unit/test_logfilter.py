"""Credentials in query strings and paths never reach the access log (issue #14)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from licentia.api import logfilter
from licentia.api.app import create_app
from licentia.api.logfilter import RedactSecretsFilter, SecretPaths, install, redact_query
from licentia.config import Settings


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/elite-key?key=ek_abc&function=ping", "/api/elite-key?key=[redacted]&function=ping"),
        ("/api/elite-key?function=ping&KEY=ek_abc", "/api/elite-key?function=ping&KEY=[redacted]"),
        ("/x?token=lic_1#frag", "/x?token=[redacted]#frag"),
        # Every value outside the short list of never-secret parameters is hidden.
        ("/api/elite-key?license_key=ABC", "/api/elite-key?license_key=[redacted]"),
        (
            "/api/elite-key?function=user&action=create&username=u&password=pw1&new_password=pw2",
            "/api/elite-key?function=user&action=create&username=[redacted]"
            "&password=[redacted]&new_password=[redacted]",
        ),
        (
            "/dashboard/apps/1/licenses?q=KEY-1&page=2",
            "/dashboard/apps/1/licenses?q=[redacted]&page=2",
        ),
        ("/x?KEY-AAAA-BBBB", "/x?[redacted]"),
        ("/x?elite_key=&page=3", "/x?elite_key=&page=3"),
        ("/api/v2/init", "/api/v2/init"),
    ],
)
def test_redact_query(path: str, expected: str) -> None:
    assert redact_query(path) == expected


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> SecretPaths:
    data_dir: Path = tmp_path_factory.mktemp("logfilter")
    app = create_app(Settings(data_dir=data_dir))
    return SecretPaths(logfilter.secret_routes(app.web))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/manage/v1/apps/5/licenses/AB-CD", "/api/manage/v1/apps/5/licenses/{key}"),
        ("/api/manage/v1/apps/5/licenses/AB-CD/", "/api/manage/v1/apps/5/licenses/{key}/"),
        ("/api/manage/v1/apps/5/licenses/AB-CD/ban", "/api/manage/v1/apps/5/licenses/{key}/ban"),
        (
            "/api/manage/v1/apps/5/licenses/AB%2FCD/no-such-action",
            "/api/manage/v1/apps/5/licenses/{key}/no-such-action",
        ),
        (
            "/api/manage/v1/reseller/apps/5/licenses/AB-CD/reset-hwid",
            "/api/manage/v1/reseller/apps/5/licenses/{key}/reset-hwid",
        ),
        ("/dashboard/apps/5/license/AB-CD", "/dashboard/apps/5/license/{key}"),
        ("/dashboard/apps/5/licenses/AB-CD/ban", "/dashboard/apps/5/licenses/{key}/ban"),
        ("/dashboard/reseller/keys/5/AB-CD/ban", "/dashboard/reseller/keys/5/{key}/ban"),
        # Static routes of the same shape and paths without keys stay as they are.
        ("/api/manage/v1/apps/5/licenses/generate", "/api/manage/v1/apps/5/licenses/generate"),
        ("/api/manage/v1/apps/5/licenses", "/api/manage/v1/apps/5/licenses"),
        ("/api/manage/v1/apps/5/users/alice", "/api/manage/v1/apps/5/users/alice"),
        ("/api/v2/licenses", "/api/v2/licenses"),
    ],
)
def test_secret_path_segments_show_the_placeholder(
    paths: SecretPaths, path: str, expected: str
) -> None:
    assert paths.redact(path) == expected


def test_access_log_record_is_redacted(
    caplog: pytest.LogCaptureFixture, paths: SecretPaths
) -> None:
    install(["/api/manage/v1/apps/{app_id}/licenses/{key}"])
    install()  # idempotent
    logger = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactSecretsFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        for path in (
            "/api/elite-key?key=ek_secret&password=pw_secret",
            "/api/manage/v1/apps/5/licenses/KEY_SECRET?x=1",
        ):
            logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", path, "1.1", 200)
    assert "_secret" not in caplog.text.lower()
    assert "key=[redacted]" in caplog.text
    assert "/licenses/{key}?x=[redacted]" in caplog.text


def test_asgi_trace_is_dropped_and_libraries_are_quiet(caplog: pytest.LogCaptureFixture) -> None:
    install()
    trace = logging.getLogger("uvicorn.asgi")
    with caplog.at_level(1):
        trace.log(5, "ASGI [1] Started scope=%s", {"headers": [(b"x-elite-key", b"ek_secret")]})
    assert "ek_secret" not in caplog.text
    for name in logfilter.NOISY_LIBRARIES:
        assert logging.getLogger(name).level >= logging.WARNING, name
