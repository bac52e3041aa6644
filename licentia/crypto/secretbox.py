"""Secrets at rest: AES-256-GCM under the server master key.

The master key is 32 random bytes, given as `LICENTIA_MASTER_KEY` (base64 or 64 hex) or
generated into `<data dir>/master.key` (mode 0600) on first start. Ciphertexts are
`v1:` + base64(nonce || ciphertext+tag); the purpose string is bound as associated data so a
ciphertext of one kind can never be replayed as another.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PREFIX = "v1:"


class MasterKeyError(RuntimeError):
    pass


def parse_master_key(text: str) -> bytes:
    value = text.strip()
    try:
        if len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
            key = bytes.fromhex(value)
        else:
            key = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise MasterKeyError("master key must be 32 bytes as base64 or 64 hex characters") from exc
    if len(key) != 32:
        raise MasterKeyError("master key must be exactly 32 bytes")
    return key


def load_or_create_master_key(
    explicit: str | None, data_dir: Path, *, allow_generate: bool = True
) -> tuple[bytes, bool]:
    """The master key and whether it was generated just now (into `<data_dir>/master.key`)."""
    if explicit:
        return parse_master_key(explicit), False
    path = data_dir / "master.key"
    if path.exists():
        return parse_master_key(path.read_text()), False
    if not allow_generate:
        raise MasterKeyError(
            f"no master key: set LICENTIA_MASTER_KEY or provide {path} "
            "(a new key is generated automatically only when LICENTIA_ENV=dev)"
        )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
    finally:
        os.close(fd)
    return key, True


class SecretBox:
    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)
        self._master = master_key

    def derive(self, info: bytes, length: int = 32) -> bytes:
        """A subkey of the master key for one purpose (HKDF-SHA256, no salt, `info` binds the
        purpose), so the master key itself is only ever used for AES-GCM."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
            self._master
        )

    def encrypt(self, plaintext: bytes, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str, purpose: str) -> bytes:
        if not token.startswith(_PREFIX):
            raise MasterKeyError("unknown ciphertext format")
        raw = base64.b64decode(token[len(_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())
        except Exception as exc:
            raise MasterKeyError("cannot decrypt: wrong master key or corrupted value") from exc
