"""The bare signed endpoint `bench/hotpath.py` compares Licentia with.

A Starlette app with one POST route: it reads and parses the JSON body, builds the same kind
of canonical body a validate-session answer has, signs it with Ed25519 through Licentia's own
`Signer` and answers with the signature and echo headers. No database, no rate limit, no
nonce cache: the ceiling of this stack (uvicorn with uvloop and httptools, Starlette, the
signing) on this machine.

    python -m uvicorn --app-dir bench bare_signed:app --workers 2 --loop uvloop --http httptools
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from licentia.api.envelope import Signer
from licentia.crypto.canonical import canonical_json
from licentia.crypto.signing import SigningKey

_signer = Signer(SigningKey.generate())


async def answer(request: Request) -> Response:
    body = json.loads(await request.body())
    out = canonical_json(
        {
            "success": True,
            "code": "OK",
            "message": "Session is valid",
            "valid": True,
            "identity_type": "none",
            "session_id": str(body.get("session_id", "")),
        }
    )
    headers = _signer.headers(out, str(body.get("request_id", "")), str(body.get("nonce", "")))
    return Response(out, headers={k.decode(): v.decode() for k, v in headers})


app = Starlette(routes=[Route("/{path:path}", answer, methods=["POST"])])
