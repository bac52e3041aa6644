"""Domain errors. A protocol error is a verdict the client receives, not a crash."""

from __future__ import annotations

from typing import Any

from licentia.domain.codes import Code


class ProtocolError(Exception):
    """A client-visible failure: a code, optionally offending field names and extra body keys.

    `extra` holds the optional keys a code may carry (`update`, `muted_until`, `retry_after`).
    """

    def __init__(
        self,
        code: Code,
        *,
        fields: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(code.value)
        self.code = code
        self.fields = sorted(set(fields)) if fields else None
        self.extra = extra or {}
        self.retry_after = retry_after
