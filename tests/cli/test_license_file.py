"""`licentia license file`: an offline license file, checked with only the public key."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licentia.crypto import tickets
from licentia.crypto.signing import kid_of
from tests.cli.conftest import Installation
from tests.cli.test_cli import make_app


def _keys(pem: str) -> dict[str, Ed25519PublicKey]:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    return {
        kid_of(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)): key
    }


def test_license_file(install: Installation, tmp_path: Path) -> None:
    _, app_id, _ = make_app(install)
    [key] = install.json(
        "license", "generate", "--app", app_id, "--subscription", "Default", "--days", "90"
    )["keys"]
    out = tmp_path / "license.lic"
    body = install.json(
        "license",
        "file",
        "--app",
        app_id,
        "--key",
        key,
        "--hwid",
        "HW-1",
        "--days",
        "7",
        "--output",
        str(out),
    )
    assert body["output"] == str(out) and body["hwid"] == "HW-1"
    text = out.read_text().strip()
    pem = install.json("signing-key", "show")["pem"]
    claims = tickets.verify(text, _keys(pem))
    assert claims["identity"]["name"] == key and claims["sid"] == "HW-1"
    assert claims["exp"] - claims["iat"] == 7 * 86400
    refused = install.fails(
        "license",
        "file",
        "--app",
        app_id,
        "--key",
        key,
        "--hwid",
        "HW-2",
        "--days",
        "1",
        code="DEVICE_LIMIT_REACHED",
    )
    assert "device limit" in refused["message"]
