"""Credentials in query strings and paths never reach the access log (issue #14)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from licentia.api import logfilter
from licentia.api.app import LicentiaApp, access_log_routes, create_app
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
def log_app(tmp_path_factory: pytest.TempPathFactory) -> LicentiaApp:
    data_dir: Path = tmp_path_factory.mktemp("logfilter")
    return create_app(Settings(data_dir=data_dir))


@pytest.fixture(scope="module")
def paths(log_app: LicentiaApp) -> SecretPaths:
    return SecretPaths(access_log_routes(log_app))


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


@pytest.mark.one_pass
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # A path that matches no route: key-shaped segments are hidden (issue #14 leftover).
        ("/api/v2/ABCDE-12345-FGHIJ-67890-KLMNO", "/api/v2/[redacted]"),
        ("/api/manage/v1/licence/ABCDEFGH", "/api/manage/v1/licence/[redacted]"),
        (
            "/api/manage/v1/apps/5/licenses-x/KEY_SECRET/ban",
            "/api/manage/v1/apps/5/[redacted]/[redacted]/ban",  # an unknown word of 8+ too
        ),
        ("/api/nope/ek_" + "A" * 43, "/api/nope/[redacted]"),
        ("/api/nope/lic_abc", "/api/nope/[redacted]"),
        ("/api/nope/abcdefghijk", "/api/nope/[redacted]"),
        ("/api/nope/AB%2DCD%2DEF%2DGH", "/api/nope/[redacted]"),
        # Route words, ids, short segments and other characters stay readable.
        (
            "/api/manage/v1/apps/0b7f6c1e-9a1d-4c3e-8f00-1234567890ab/variables-x",
            "/api/manage/v1/apps/0b7f6c1e-9a1d-4c3e-8f00-1234567890ab/[redacted]",
        ),
        (
            "/api/manage/v1/apps/0b7f6c1e-9a1d-4c3e-8f00-1234567890ab/settings/x",
            "/api/manage/v1/apps/0b7f6c1e-9a1d-4c3e-8f00-1234567890ab/settings/x",
        ),
        ("/api/v2/no-such", "/api/v2/no-such"),
        ("/api/v2/validate-session/extra", "/api/v2/validate-session/extra"),
        ("/static/dashboard.css", "/static/dashboard.css"),
        # Matched routes are untouched (a username is not a key).
        (
            "/api/manage/v1/apps/5/users/alice_longname",
            "/api/manage/v1/apps/5/users/alice_longname",
        ),
    ],
)
def test_unmatched_paths_hide_key_shaped_segments(
    paths: SecretPaths, path: str, expected: str
) -> None:
    assert paths.redact(path) == expected


@pytest.mark.one_pass
async def test_an_unmatched_request_path_is_logged_without_its_key(
    log_app: LicentiaApp, caplog: pytest.LogCaptureFixture
) -> None:
    """In process: a key in a path no route matches is answered 404 and logged redacted."""
    import httpx

    app = log_app
    install(access_log_routes(app))
    path = "/api/manage/v1/licence/QWERT-12345-ASDFG-67890-ZXCVB"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.web), base_url="http://testserver"
    ) as client:
        response = await client.get(path)
    assert response.status_code == 404
    logger = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", path, "1.1", 404)
    assert "QWERT" not in caplog.text
    assert "/api/manage/v1/licence/[redacted]" in caplog.text
