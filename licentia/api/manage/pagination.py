"""Cursor paging of the management API's lists: moved to `licentia.services.paging` so the
services (and every face) share it; re-exported here for the route modules."""

from licentia.services.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    after,
    decode_cursor,
    encode_cursor,
)

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "after", "decode_cursor", "encode_cursor"]
