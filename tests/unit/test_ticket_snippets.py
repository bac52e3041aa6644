"""The C++ verification snippet of docs/tickets.md compiles and accepts exactly the vector."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "tickets.md").read_text(encoding="utf-8")
pytestmark = pytest.mark.one_pass

MAIN = r"""
#include <cstdio>
#include <string>
bool verify_licentia_ticket(const std::string&, const unsigned char[32], std::string&);
int main(int argc, char** argv) {
    unsigned char pk[32];
    for (int i = 0; i < 32; i++) std::sscanf(argv[1] + 2 * i, "%2hhx", &pk[i]);
    std::string payload;
    if (!verify_licentia_ticket(argv[2], pk, payload)) return 1;
    std::printf("%s", payload.c_str());
    return 0;
}
"""


def _value(label: str) -> str:
    found = re.search(rf"^{re.escape(label)}\s+(\S+)$", DOC, re.M)
    assert found
    return found.group(1)


def test_cpp_snippet_verifies_the_vector(tmp_path: Path) -> None:
    compiler = shutil.which("g++")
    if compiler is None or not Path("/usr/include/openssl/evp.h").exists():
        pytest.skip("needs g++ and the OpenSSL headers")
    (snippet,) = re.findall(r"```cpp\n(.*?)```", DOC, re.S)
    (tmp_path / "verify.cpp").write_text(snippet)
    (tmp_path / "main.cpp").write_text(MAIN)
    binary = tmp_path / "verify"
    build = subprocess.run(
        [compiler, "-std=c++17", "-O0", "-o", str(binary), "main.cpp", "verify.cpp", "-lcrypto"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    key, ticket = _value("public key (hex)"), _value("ticket")
    good = subprocess.run([str(binary), key, ticket], capture_output=True, text=True, check=False)
    assert good.returncode == 0 and good.stdout == _value("payload")
    head, _, sig = ticket.rpartition(".")
    forged = head + "." + ("B" if sig[0] == "A" else "A") + sig[1:]
    bad = subprocess.run([str(binary), key, forged], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
