"""Hypothesis strategies for the `/api/v2` protocol fuzzer, and the spec's metadata oracle.

A generated request is a `Probe`: a method, a path, a body (a JSON value serialised one of
several ways, or raw bytes) and headers. Field values are drawn both from a pool of values that
are real on the server (the session ids, username, password, keys, variable and channel of a
prepared vendor, so the fuzzer reaches deep into every endpoint) and from junk: every JSON
type, huge and negative integers, text with NUL, lone surrogates, non-characters and controls,
nested values, long strings.

`expected_meta` is an independent reading of spec 0.6 (request id, nonce and timestamp: body
first, then `x-v2-*`, then the legacy header; an empty header value counts as absent; a value
outside the allowed format gives 400 `INVALID_REQUEST` with empty, unechoed slots).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from licentia.api.client_v2.endpoints import ALIASES, FIELDS

TOKEN_RE = re.compile(r"[\x21-\x7e]{1,128}")
INT_TEXT_RE = re.compile(r"-?[0-9]{1,15}")
#: Marker in a generated value: replaced by a new UUID when the request is built, so that
#: replay protection sees a fresh nonce or request id although generation is derandomized.
FRESH = "\x00fresh\x00"

META_HEADERS = {
    "request_id": ("x-v2-request-id", "x-request-id"),
    "nonce": ("x-v2-nonce", "x-auth-nonce"),
    "timestamp": ("x-v2-timestamp", "x-auth-timestamp"),
}
#: Credentials the npm SDK repeats on every call (ignored apart from the session check).
REPEATED = ("owner_id", "app_name", "secret", "version", "hash")


@dataclass
class Pool:
    """Values that exist on the server for one prepared vendor."""

    owner_id: str
    app_name: str
    secret: str
    now_ms: int
    sessions: list[str]
    keys: list[str]
    username: str = "mara"
    password: str = "pw-mara"
    var_key: str = "motd"
    channel: str = "general"
    device_id: str = "MB-1"
    sid: str = "SID-A"

    def good(self, name: str) -> list[Any]:
        """Plausible values for a field name (real ones first)."""
        table: dict[str, list[Any]] = {
            "session_id": self.sessions,
            "owner_id": [self.owner_id],
            "app_name": [self.app_name],
            "secret": [self.secret],
            "version": ["1.0.0", "0.9.0", "2.0"],
            "hash": ["", "abc123"],
            "username": [self.username, "nobody", "Mara"],
            "password": [self.password, "wrong-pw"],
            "old_password": [self.password, "wrong-pw"],
            "new_password": ["pw-new-1", self.password],
            "key": self.keys,
            "license_key": self.keys,
            "email": ["m@example.com", "not-an-email"],
            "sid": [self.sid, "SID-B"],
            "hwid": [self.sid, "SID-B"],
            "ip": ["203.0.113.9", "::1", "999.1.1.1"],
            "ip_address": ["203.0.113.9"],
            "device_type": ["motherboard", "processor", "Processor", "gpu"],
            "device_id": [self.device_id, "MB-unknown"],
            "var_key": [self.var_key, "missing", "ro"],
            "var_value": ["v", "", "<&>\u2028"],
            "message": ["hello", "x" * 600],
            "channel_name": [self.channel, "nope"],
            "limit": [1, 100, "5", 0, -1, 10**6],
            "cursor": ["", "bogus", "0"],
        }
        # Text a client may send that a database column cannot always take as it is.
        odd = ["\ud800" + self.username, self.sid + "\x00", "\ufffe\udfff", "\U0010ffff"]
        return [*table.get(name, ["x"]), *odd]


# -- junk ------------------------------------------------------------------------------------

#: Characters that break naive encoders and column types.
NASTY = "\x00\x01\x1f\x7f\ud800\udfff\ufffe\uffff\U0010ffff\u2028\u0085\u200b\u00e9"
nasty_text = st.text(
    alphabet=st.sampled_from(NASTY) | st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=40,
)
any_text = st.text(max_size=40)  # includes lone surrogates (category Cs)
#: Long values, built once (drawing thousands of characters one by one is slow).
LONG_TEXTS = ("ab\u00e9" * 100, "x" * 3000, "\u00e9" * 2001, "\U0001f600" * 300, " " * 500)
big_ints = st.integers(min_value=-(2**70), max_value=2**70)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=5),
    big_ints,
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
    nasty_text,
    st.sampled_from(LONG_TEXTS),
)
json_junk = scalars | st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)


def token_values() -> st.SearchStrategy[Any]:
    """Request id / nonce values: fresh ones mostly, then fixed, malformed and odd-typed ones."""
    return st.one_of(
        st.just(FRESH),
        st.sampled_from(["fixed-id", "a" * 128, "a" * 129, "has space", "caf\u00e9", "\t"]),
        st.text(
            alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8
        ),
        st.integers(min_value=-3, max_value=3),
        st.booleans(),
        st.lists(st.just("x"), max_size=1),
    )


def timestamp_values(now_ms: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(
            [now_ms, str(now_ms), now_ms - 10**9, now_ms + 10**9, 0, "0", float(now_ms)]
        ),
        st.sampled_from(["abc", -1, "-5", "12a", " 1", 1.5, True, [], {}, "1" * 16]),
        st.integers(min_value=0, max_value=2**63),
    )


def header_token() -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(FRESH),
        st.just(""),
        st.sampled_from(["fixed-id", "a" * 129, "has space"]),
        st.text(
            alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8
        ),
    )


def header_timestamp(now_ms: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([str(now_ms), str(now_ms - 10**9), "", "abc", "-1", "1" * 16]),
        st.text(alphabet="0123456789-x.", max_size=6),
    )


# -- requests --------------------------------------------------------------------------------


@dataclass
class Probe:
    method: str
    path: str
    body: Any = None  # a JSON value, or bytes for a raw body
    encoding: str = "ascii"  # "ascii" (\\u escapes), "utf8" (raw, surrogates passed), "nan"
    headers: dict[str, str] = field(default_factory=dict)

    def build(self) -> tuple[bytes, dict[str, str], Any]:
        """The raw body, the headers and the parsed body (FRESH markers replaced)."""
        fresh = uuid.uuid4().hex
        headers = {k: (fresh if v == FRESH else v) for k, v in self.headers.items()}
        body = self.body
        if isinstance(body, dict):
            body = {k: (fresh if v == FRESH else v) for k, v in body.items()}
        if isinstance(body, bytes):
            return body, headers, None
        if self.encoding == "utf8":
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        else:
            raw = json.dumps(body, ensure_ascii=True, allow_nan=True).encode()
        return raw, headers, body


def field_names(endpoint: str) -> list[str]:
    names: list[str] = []
    for spec in FIELDS[endpoint]:
        names.append(spec.name)
        names.extend(spec.synonyms)
    return names


RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b"[]",
            b"null",
            b"1",
            b'"x"',
            b"\xef\xbb\xbf{}",
            b"{'a':1}",
            b'{"a":1,"a":2}',
            b"\xff\xfe{}",
            b'{"x":NaN}',
            b"[" * 5000,
        ]
    ),
)
KINDS = st.sampled_from(["object"] * 8 + ["raw", "json"])
COIN = st.booleans()
TENTH = st.integers(min_value=0, max_value=9)
SIGNATURES = st.sampled_from(["", "AAAA", "not base64!"])
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", ""])
ENCODINGS = st.sampled_from(["ascii", "ascii", "utf8"])
EXTRA_KEYS = st.text(max_size=8)


def probes(endpoint: str, pool: Pool) -> st.SearchStrategy[Probe]:
    """Requests to `endpoint` (a canonical name, or its alias); mostly a JSON object body.

    The sub-strategies are built once here: building them inside every draw costs hypothesis
    more than the requests themselves.
    """
    names = field_names(endpoint)
    value_for = {n: st.sampled_from(pool.good(n)) | json_junk for n in names}
    optional: dict[str, st.SearchStrategy[Any]] = {
        "request_id": token_values(),
        "nonce": token_values(),
        "timestamp": timestamp_values(pool.now_ms),
        **{n: st.sampled_from(pool.good(n)) for n in REPEATED if n not in names},
    }
    # Each field present (real value or junk) three times in four, plus optional metadata.
    fields = st.fixed_dictionaries({}, optional={**value_for, **optional})
    head_token, head_ts = header_token(), header_timestamp(pool.now_ms)
    alias = alias_of(endpoint)
    paths = st.sampled_from([endpoint, alias] if alias else [endpoint])

    @st.composite
    def probe(draw: st.DrawFn) -> Probe:
        obj: dict[str, Any] = draw(fields)
        if draw(COIN):
            obj[draw(EXTRA_KEYS)] = draw(json_junk)
        kind = draw(KINDS)
        body: Any = obj
        if kind == "raw":
            body = draw(RAW_BODIES)
        elif kind == "json":
            body = draw(json_junk)
        headers: dict[str, str] = {}
        for name in ("x-v2-request-id", "x-request-id", "x-v2-nonce", "x-auth-nonce"):
            if draw(TENTH) < 3:
                headers[name] = draw(head_token)
        for name in ("x-v2-timestamp", "x-auth-timestamp"):
            if draw(TENTH) < 3:
                headers[name] = draw(head_ts)
        if draw(TENTH) == 0:
            headers["x-v2-signature"] = draw(SIGNATURES)
        if draw(COIN):
            headers["content-type"] = draw(CONTENT_TYPES)
        path = draw(paths) + ("/" if draw(TENTH) == 0 else "")
        return Probe("POST", f"/api/v2/{path}", body, draw(ENCODINGS), headers)

    return probe()


def alias_of(endpoint: str) -> str | None:
    return next((alias for alias, canon in ALIASES.items() if canon == endpoint), None)


def expected_meta(headers: dict[str, str], body: Any) -> tuple[str, str, Any, bool]:
    """0.6: (request id, nonce, timestamp, valid). `body` is None before it is parsed."""
    lowered = {k.lower(): v for k, v in headers.items()}
    values: dict[str, Any] = {}
    for key, names in META_HEADERS.items():
        value = None
        if isinstance(body, dict) and body.get(key) is not None:
            value = body[key]
        else:
            for name in names:
                if lowered.get(name, ""):
                    value = lowered[name]
                    break
        values[key] = value
    valid = all(
        values[key] is None or (isinstance(values[key], str) and TOKEN_RE.fullmatch(values[key]))
        for key in ("request_id", "nonce")
    )
    ts = values["timestamp"]
    if ts is not None:
        number = _as_int(ts)
        valid = valid and number is not None and number >= 0
        ts = number
    if not valid:
        return "", "", None, False
    return values["request_id"] or "", values["nonce"] or "", ts, True


def _as_int(value: Any) -> int | None:
    """0.2 integer coercion: an integer, a number with zero fraction, or `-?` + 1-15 digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and INT_TEXT_RE.fullmatch(value):
        return int(value)
    return None
