"""Ed25519 response signing (client protocol 0.12)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from licentia.crypto.signing import SigningKey, kid_of, signed_message, verify

SEED = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
PUBLIC_HEX = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
DER_B64 = "MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
KID = "56475aa75463474c"
TS = "1776081600000"

VECTORS = [
    pytest.param(
        TS,
        "3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
        "9b2f6c1d4e8a0b3c5d7e9f1a2b4c6d8e",
        b'{"code":"OK","message":"Session is valid","success":true,"valid":true}',
        "gWcDi3auoLAPAH8vFU+0vLFGxlI8UvnhuCQsyXqQiYGrQt50X5iXIF819BgwVFcWS2BwnjOYNZZ6sOotUdtAAA==",
        id="with-request-id-and-nonce",
    ),
    pytest.param(
        TS,
        "",
        "",
        b'{"code":"SESSION_EXPIRED","message":"Session has expired","success":false}',
        "YgGuYoR1wwYwF+quvqkGn9Z+fV8n890YxZXg7HRAvhz9AFuFz7t9/NF31wtHkXr6xSWlJKERT7wKpQlnIwqfDg==",
        id="no-request-id-no-nonce",
    ),
]

TEST_KEY = SigningKey.from_seed(SEED)
RANDOM_KEY = SigningKey.generate()


def test_vector_key_forms() -> None:
    assert TEST_KEY.seed == SEED
    assert TEST_KEY.raw_public.hex() == PUBLIC_HEX
    assert TEST_KEY.der_base64 == DER_B64
    assert TEST_KEY.kid == KID
    assert kid_of(bytes.fromhex(PUBLIC_HEX)) == KID
    assert len(TEST_KEY.kid) == 16 and TEST_KEY.kid == TEST_KEY.kid.lower()


@pytest.mark.parametrize(("ts", "request_id", "nonce", "body", "signature"), VECTORS)
def test_vector_signatures(
    ts: str, request_id: str, nonce: str, body: bytes, signature: str
) -> None:
    produced = TEST_KEY.sign(ts, request_id, nonce, body)
    assert produced == signature
    assert len(produced) == 88
    assert verify(TEST_KEY.pem, signature, ts, request_id, nonce, body)


def test_signed_message_without_request_id_and_nonce_has_empty_slots() -> None:
    message = signed_message(TS, "", "", b'{"a":1}')
    assert message == b'1776081600000\n\n\n{"a":1}'


def test_pem_loads_with_cryptography_and_matches_der() -> None:
    for key in (TEST_KEY, RANDOM_KEY):
        assert key.pem.startswith("-----BEGIN PUBLIC KEY-----\n")
        loaded = serialization.load_pem_public_key(key.pem.encode())
        assert isinstance(loaded, Ed25519PublicKey)
        der = loaded.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert der == base64.b64decode(key.der_base64) == key.der
        assert (
            loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            == key.raw_public
        )


def test_seed_round_trip() -> None:
    again = SigningKey.from_seed(RANDOM_KEY.seed)
    assert again.raw_public == RANDOM_KEY.raw_public
    assert again.kid == RANDOM_KEY.kid


metadata = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=128)
timestamps = st.integers(min_value=0, max_value=2**53 - 1).map(str)


@settings(max_examples=60)
@given(timestamps, metadata, metadata, st.binary(max_size=512))
def test_sign_verify_round_trip(ts: str, request_id: str, nonce: str, body: bytes) -> None:
    signature = RANDOM_KEY.sign(ts, request_id, nonce, body)
    assert verify(RANDOM_KEY.pem, signature, ts, request_id, nonce, body)
    # The same signature does not verify under another key.
    assert not verify(TEST_KEY.pem, signature, ts, request_id, nonce, body)


@settings(max_examples=60)
@given(
    timestamps,
    metadata,
    metadata,
    st.binary(min_size=1, max_size=256),
    st.integers(min_value=0),
    st.integers(min_value=1, max_value=255),
)
def test_flipped_byte_fails(
    ts: str, request_id: str, nonce: str, body: bytes, position: int, mask: int
) -> None:
    signature = RANDOM_KEY.sign(ts, request_id, nonce, body)
    raw = bytearray(base64.b64decode(signature))
    raw[position % len(raw)] ^= mask
    flipped_signature = base64.b64encode(bytes(raw)).decode()
    assert not verify(RANDOM_KEY.pem, flipped_signature, ts, request_id, nonce, body)

    changed = bytearray(body)
    changed[position % len(changed)] ^= mask
    assert not verify(RANDOM_KEY.pem, signature, ts, request_id, nonce, bytes(changed))


@given(timestamps, metadata, metadata)
def test_metadata_slots_are_bound(ts: str, request_id: str, nonce: str) -> None:
    body = b'{"success":true}'
    signature = RANDOM_KEY.sign(ts, request_id, nonce, body)
    assert not verify(RANDOM_KEY.pem, signature, ts + "1", request_id, nonce, body)
    assert not verify(RANDOM_KEY.pem, signature, ts, request_id + "x", nonce, body)
    assert not verify(RANDOM_KEY.pem, signature, ts, request_id, nonce + "x", body)
    if request_id != nonce:
        assert not verify(RANDOM_KEY.pem, signature, ts, nonce, request_id, body)


def test_verify_refuses_bad_inputs() -> None:
    body = b"{}"
    good = TEST_KEY.sign(TS, "", "", body)
    assert not verify(TEST_KEY.pem, "not base64!!", TS, "", "", body)
    assert not verify(TEST_KEY.pem, good.rstrip("="), TS, "", "", body)
    assert not verify(TEST_KEY.pem, "", TS, "", "", body)
    ec_pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert not verify(ec_pem, good, TS, "", "", body)
