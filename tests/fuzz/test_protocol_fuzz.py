"""Protocol fuzzer: generated requests against every `/api/v2` endpoint, in process.

For each endpoint (and alias), hypothesis generates requests (see `strategies.py`): bodies made
of real values of a prepared vendor mixed with junk of every JSON type and nasty text (NUL,
lone surrogates, non-characters), raw bodies that are not JSON or not objects, metadata in body
and headers (valid, malformed, expired, empty header values), odd content types. Every answer
must hold, whatever the input:

* no 5xx;
* signed (Ed25519 over ts, request id, nonce and body) with the request id and nonce a client
  that sent them expects (0.6), echoed exactly then; canonical JSON; the envelope rules of
  0.10 to 0.12 (`tests/api/conftest.py`);
* the HTTP status is the one `domain/codes.py` gives the code, the message is the code's
  default (this vendor has no custom messages); 400 `INVALID_REQUEST` for malformed metadata
  and bodies, 413 for oversized ones, 401 `REQUEST_EXPIRED` for a timestamp outside the window;
* no ERROR (or worse) log record: client input never makes the server fail or lose a write.

Bounded and seeded: `derandomize=True` (the same examples on every run), no example database,
`LICENTIA_FUZZ_EXAMPLES` examples per endpoint (default 100: 1,500 requests, 20 to 40 s
per database pass on a shared 2-core machine; set it higher for a deeper run).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from licentia.api.client_v2.endpoints import FIELDS, canonical
from licentia.domain.codes import Code, default_message, http_status
from licentia.services import admin_content
from tests.api.conftest import Api, check_body, check_signed

from .strategies import Pool, Probe, expected_meta, probes

EXAMPLES = int(os.environ.get("LICENTIA_FUZZ_EXAMPLES", "100"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
ENDPOINTS = sorted(FIELDS)


class ErrorRecords(logging.Handler):
    """Collects every ERROR-or-worse record logged anywhere while installed."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        found = [f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in self.records]
        self.records.clear()
        return found


@pytest.fixture
def error_log() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def prepare(api: Api) -> Pool:
    """A vendor with a user, a license session, a device, a variable and a channel."""
    user_session, _, _ = await api.register()
    license_session, _ = await api.activate(await api.key())
    await api.device()
    await admin_content.set_variable(api.rt, api.app_id, "motd", "hello")
    await admin_content.set_variable(api.rt, api.app_id, "ro", "fixed", writable=False)
    await api.channel("general", send_delay=0)
    keys = [await api.key() for _ in range(3)] + [await api.key(days=None, lifetime=True)]
    return Pool(
        owner_id=api.owner_id,
        app_name=api.app_name,
        secret=api.secret,
        now_ms=int(api.clock.now.timestamp() * 1000),
        sessions=[await api.init(), user_session, license_session, "0" * 64, "nope"],
        keys=[*keys, "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"],
    )


def parse_like_spec(raw: bytes) -> dict[str, Any] | None:
    """0.1: the body as the server must read it, or None when it is not a JSON object."""
    text = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw

    def reject(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(text.decode("utf-8"), strict=False, parse_constant=reject)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def check_answer(
    probe: Probe,
    raw: bytes,
    headers: dict[str, str],
    response: httpx.Response,
    pem: str,
    *,
    max_body: int,
    window_ms: int,
    now_ms: int,
) -> None:
    where = f"{probe.method} {probe.path} {raw[:300]!r} {headers} -> {response.status_code} "
    where += response.text[:300]
    assert response.status_code < 500, where
    body = parse_like_spec(raw) if len(raw) <= max_body else None
    # Answered before the body is read (too large, not an object): header sources only. Either
    # way a malformed value empties both slots (expected_meta gives "" then).
    request_id, nonce, ts, meta_ok = expected_meta(headers, body)
    check_signed(response, pem, request_id, nonce)
    answer = check_body(response, probe.path.removeprefix("/api/v2/"))
    code = Code(answer["code"])
    assert response.status_code == http_status(code), where
    if code is not Code.OK:
        assert answer["message"] == default_message(code), where
    if len(raw) > max_body:
        expected: Code | None = Code.PAYLOAD_TOO_LARGE
    elif body is None or not meta_ok:
        expected = Code.INVALID_REQUEST
    elif ts is not None and abs(now_ms - ts) > window_ms:
        expected = Code.REQUEST_EXPIRED
    else:
        expected = None
    if expected is not None:
        assert code is expected, where


async def fuzz_one(api: Api, probe: Probe, error_log: ErrorRecords) -> None:
    raw, headers, _ = probe.build()
    response = await api.client.request(probe.method, probe.path, content=raw, headers=headers)
    settings_ = api.world.app.settings
    try:
        check_answer(
            probe,
            raw,
            headers,
            response,
            api.world.pem,
            max_body=settings_.max_body_bytes,
            window_ms=settings_.replay_window * 1000,
            now_ms=int(api.clock.now.timestamp() * 1000),
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{probe.method} {probe.path} body={raw[:400]!r} headers={headers}\n"
            f"-> {response.status_code} {dict(response.headers)} {response.text[:400]}\n{exc}"
        ) from None
    logged = error_log.take()
    assert not logged, f"{probe.path} {raw[:300]!r} {headers} logged:\n" + "\n".join(logged)


def generate(strategy: st.SearchStrategy[Any]) -> list[Any]:
    """`EXAMPLES` seeded examples of `strategy`, generated up front (hypothesis cannot drive
    an async test body itself); each is then sent and checked in order."""
    found: list[Any] = []

    @FUZZ_SETTINGS
    @given(strategy)
    def collect(example: Any) -> None:
        found.append(example)

    collect()
    return found


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_fuzz_endpoint(endpoint: str, api: Api, error_log: ErrorRecords) -> None:
    pool = await prepare(api)
    error_log.take()
    for probe in generate(probes(endpoint, pool)):
        await fuzz_one(api, probe, error_log)


ODD_PATHS = st.sampled_from(
    [
        "public-key",
        "public-key/",
        "INIT",
        "init//",
        "nope",
        "",
        "variables/get/x",
        "chats",
        "..%2Finit",
        "init?x=1",
        "\u00e9",
        "logs/",
    ]
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])


async def test_fuzz_paths_and_methods(api: Api, error_log: ErrorRecords) -> None:
    """Unknown paths, wrong methods and the public key: signed protocol answers, no 5xx."""
    pool = await prepare(api)
    error_log.take()
    for tail, method, probe in generate(
        st.tuples(ODD_PATHS | st.sampled_from(ENDPOINTS), METHODS, probes("init", pool))
    ):
        probe.method, probe.path = method, f"/api/v2/{tail}"
        if method == "POST" and canonical(tail.split("?", 1)[0].removesuffix("/")):
            await fuzz_one(api, probe, error_log)
            continue
        raw, headers, _ = probe.build()
        response = await api.client.request(method, probe.path, content=raw, headers=headers)
        assert response.status_code < 500, (method, probe.path, response.text)
        if tail.removesuffix("/") == "public-key" and method == "GET":
            assert response.status_code == 200, response.text
            assert "x-v2-signature" not in response.headers
            assert json.loads(response.content)["pem"] == api.world.pem
        else:
            request_id, nonce, _, _ = expected_meta(headers, None)
            check_signed(response, api.world.pem, request_id, nonce)
            answer = check_body(response, tail)
            assert answer["code"] in ("NOT_FOUND", "METHOD_NOT_ALLOWED"), answer
            assert response.status_code == http_status(Code(answer["code"]))
        assert not error_log.take()
