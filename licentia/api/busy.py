"""The answer to a request that arrives over the worker's connection cap (issue #14).

`licentia.server.protocols` marks such a request (`scope["licentia.busy"]`); the app answers it
without reading the body or touching the database, in the shape of the face it was meant for,
with `Retry-After: 1` and `Connection: close`:

* client API (`/api/v2/...`): the signed error envelope, code `RATE_LIMITED` (429), the only
  code of the client protocol's table that says "try again later" (client protocol 0.9); the
  request id and nonce come from the headers (the body is not read);
* management API (`/api/manage/...`): `{code: "RATE_LIMITED", message}` (429, A.5);
* Elite Key API (`/api/elite-key...`): its error body with `RATE_LIMITED` (429);
* anything else (`/healthz`, the dashboard, the portal): 503 with a JSON `detail`.
"""

from __future__ import annotations

import json
from typing import Any

from licentia.api.envelope import encode_body, error_body
from licentia.domain.codes import Code
from licentia.domain.errors import ProtocolError

#: Set by `licentia.server.protocols` on a request over the connection cap.
SCOPE_KEY = "licentia.busy"
RETRY_AFTER = 1
MESSAGE = "The server is busy. Please try again later"
_CLOSE = [(b"retry-after", str(RETRY_AFTER).encode()), (b"connection", b"close")]


async def _plain(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(data)).encode()),
        *_CLOSE,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def answer(client: Any, scope: dict[str, Any], send: Any) -> None:
    """Answer one over-the-cap request; `client` is the app's `ClientApi` (or None)."""
    path: str = scope.get("path", "")
    if path.startswith("/api/v2") and client is not None:
        from licentia.api.client_v2.app import read_metadata

        headers: dict[bytes, bytes] = {}
        for key, value in scope.get("headers", []):
            headers.setdefault(key.lower(), value)
        try:
            meta = read_metadata(None, headers)
        except Exception:  # malformed metadata: empty, unechoed slots (client protocol 0.6)
            meta = read_metadata(None, {})
        err = ProtocolError(Code.RATE_LIMITED, retry_after=RETRY_AFTER)
        body = encode_body(error_body(err, None, None))
        await client._send(send, 429, body, meta, list(_CLOSE))
        return
    if path.startswith("/api/manage"):
        await _plain(send, 429, {"code": "RATE_LIMITED", "message": MESSAGE})
        return
    if path.startswith("/api/elite-key"):
        short = "Rate limited"
        await _plain(
            send,
            429,
            {
                "code": "RATE_LIMITED",
                "detail": MESSAGE,
                "error": short,
                "message": short,
                "success": False,
            },
        )
        return
    await _plain(send, 503, {"detail": MESSAGE})
