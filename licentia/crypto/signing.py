"""Ed25519 response signing (client protocol 0.12)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def kid_of(raw_public: bytes) -> str:
    """First 16 lower-case hex characters of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def signed_message(ts: str, request_id: str, nonce: str, body: bytes) -> bytes:
    return f"{ts}\n{request_id}\n{nonce}\n".encode() + body


@dataclass(frozen=True)
class SigningKey:
    """A server signing key: private seed in memory only, public forms for publishing."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def seed(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def raw_public(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def kid(self) -> str:
        return kid_of(self.raw_public)

    @property
    def der(self) -> bytes:
        return SPKI_PREFIX + self.raw_public

    @property
    def der_base64(self) -> str:
        return base64.b64encode(self.der).decode("ascii")

    @property
    def pem(self) -> str:
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sign(self, ts: str, request_id: str, nonce: str, body: bytes) -> str:
        signature = self.private.sign(signed_message(ts, request_id, nonce, body))
        return base64.b64encode(signature).decode("ascii")


def verify(public_pem: str, signature_b64: str, ts: str, rid: str, nonce: str, body: bytes) -> bool:
    """Verify a response signature as the SDKs do (used by tests and our own client)."""
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(
            base64.b64decode(signature_b64, validate=True), signed_message(ts, rid, nonce, body)
        )
    except Exception:
        return False
    return True
