"""Keep credentials out of the access log.

uvicorn's access log prints the request path with its query string. The Elite Key may arrive
as `?key=...` (older bot builds), and nothing secret may ever reach a log line, so the value of
every `key`, `elite_key` or `token` query parameter is replaced by `[redacted]`.
"""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"(?i)([?&](?:key|elite_key|token)=)[^&#\s]*")


def redact_query(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def install() -> None:
    """Attach the filter to uvicorn's access logger (idempotent)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
        logger.addFilter(RedactSecretsFilter())
