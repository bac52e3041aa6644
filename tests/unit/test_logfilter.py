"""Credentials in query strings never reach the access log."""

from __future__ import annotations

import logging

import pytest

from licentia.api.logfilter import RedactSecretsFilter, install, redact_query


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/elite-key?key=ek_abc&function=ping", "/api/elite-key?key=[redacted]&function=ping"),
        ("/api/elite-key?function=ping&KEY=ek_abc", "/api/elite-key?function=ping&KEY=[redacted]"),
        ("/x?token=lic_1#frag", "/x?token=[redacted]#frag"),
        ("/api/elite-key?license_key=ABC", "/api/elite-key?license_key=ABC"),
        ("/api/v2/init", "/api/v2/init"),
    ],
)
def test_redact_query(path: str, expected: str) -> None:
    assert redact_query(path) == expected


def test_access_log_record_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install()
    install()  # idempotent
    logger = logging.getLogger("uvicorn.access")
    assert sum(isinstance(f, RedactSecretsFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "GET",
            "/api/elite-key?key=ek_secret",
            "1.1",
            200,
        )
    assert "ek_secret" not in caplog.text
    assert "key=[redacted]" in caplog.text
