"""Server signing keys (management B.3): one active Ed25519 key, older ones retired.

A key created without activation is `pending`: its public key can ship in client builds
before `activate` switches the server to it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from licentia.crypto.secretbox import SecretBox
from licentia.crypto.signing import SPKI_PREFIX, SigningKey
from licentia.services.runtime import Runtime
from licentia.store.tables import signing_keys

_PURPOSE = "signing-key"


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    status: str
    pem: str
    der_base64: str


def _info(key: SigningKey, status: str) -> KeyInfo:
    return KeyInfo(kid=key.kid, status=status, pem=key.pem, der_base64=key.der_base64)


def _decrypt(box: SecretBox, row_private: str) -> SigningKey:
    return SigningKey.from_seed(box.decrypt(row_private, _PURPOSE))


async def load_active(rt: Runtime) -> SigningKey | None:
    async with rt.db.read() as conn:
        row = (
            await conn.execute(
                select(signing_keys.c.private_enc).where(signing_keys.c.status == "active")
            )
        ).first()
    return _decrypt(rt.box, row.private_enc) if row else None


async def ensure_active(rt: Runtime) -> SigningKey:
    """Return the active key, creating the first one on first start (race-safe)."""
    existing = await load_active(rt)
    if existing is not None:
        return existing
    key = SigningKey.generate()
    now = rt.clock()
    try:
        async with rt.db.write() as conn:
            has_active = (
                await conn.execute(
                    select(signing_keys.c.kid).where(signing_keys.c.status == "active")
                )
            ).first()
            if has_active is None:
                await conn.execute(
                    signing_keys.insert().values(
                        kid=key.kid,
                        public_der_b64=key.der_base64,
                        private_enc=rt.box.encrypt(key.seed, _PURPOSE),
                        status="active",
                        created_at=now,
                        activated_at=now,
                    )
                )
    except IntegrityError:
        pass
    active = await load_active(rt)
    assert active is not None
    return active


async def create(rt: Runtime, *, activate: bool = False, seed: bytes | None = None) -> KeyInfo:
    key = SigningKey.from_seed(seed) if seed else SigningKey.generate()
    now = rt.clock()
    async with rt.db.write() as conn:
        if activate:
            await conn.execute(
                update(signing_keys)
                .where(signing_keys.c.status == "active")
                .values(status="retired")
            )
        await conn.execute(
            signing_keys.insert().values(
                kid=key.kid,
                public_der_b64=key.der_base64,
                private_enc=rt.box.encrypt(key.seed, _PURPOSE),
                status="active" if activate else "pending",
                created_at=now,
                activated_at=now if activate else None,
            )
        )
    return _info(key, "active" if activate else "pending")


async def activate(rt: Runtime, kid: str) -> KeyInfo | None:
    async with rt.db.write() as conn:
        row = (await conn.execute(select(signing_keys).where(signing_keys.c.kid == kid))).first()
        if row is None:
            return None
        await conn.execute(
            update(signing_keys).where(signing_keys.c.status == "active").values(status="retired")
        )
        await conn.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == kid)
            .values(status="active", activated_at=rt.clock())
        )
    return _info(_decrypt(rt.box, row.private_enc), "active")


async def list_keys(rt: Runtime) -> list[KeyInfo]:
    async with rt.db.read() as conn:
        rows = (await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at))).all()
    out = []
    for row in rows:
        der = base64.b64decode(row.public_der_b64)
        key_pem = (
            "-----BEGIN PUBLIC KEY-----\n"
            + base64.b64encode(der).decode()
            + "\n-----END PUBLIC KEY-----\n"
        )
        out.append(
            KeyInfo(kid=row.kid, status=row.status, pem=key_pem, der_base64=row.public_der_b64)
        )
    return out


async def public_keys(rt: Runtime) -> dict[str, Ed25519PublicKey]:
    """kid -> public key of every key the server has had (offline tickets name theirs)."""
    async with rt.db.read() as conn:
        rows = (await conn.execute(select(signing_keys.c.kid, signing_keys.c.public_der_b64))).all()
    out: dict[str, Ed25519PublicKey] = {}
    for row in rows:
        raw = base64.b64decode(row.public_der_b64)[len(SPKI_PREFIX) :]
        out[row.kid] = Ed25519PublicKey.from_public_bytes(raw)
    return out
