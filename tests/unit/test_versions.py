"""Version comparison of init's version control (client protocol 2.1 step 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licentia.domain.versions import compare_versions, version_key


@pytest.mark.parametrize(
    ("version", "key"),
    [
        pytest.param("1.2.3", (1, 2, 3), id="plain"),
        pytest.param("1.3", (1, 3, 0), id="missing-patch"),
        pytest.param("2", (2, 0, 0), id="major-only"),
        pytest.param("", (0, 0, 0), id="empty"),
        pytest.param("v1.2.3", (1, 2, 3), id="leading-v"),
        pytest.param("v1.2.3-beta", (1, 2, 3), id="prerelease"),
        pytest.param("1.2.3+build.7", (1, 2, 3), id="build-metadata"),
        pytest.param("1.2-rc.1+b", (1, 2, 0), id="dash-before-plus"),
        pytest.param("1.2+b-x", (1, 2, 0), id="plus-before-dash"),
        pytest.param("1.2a", (1, 2, 0), id="leading-digits"),
        pytest.param("1.2a5.7", (1, 2, 7), id="leading-digits-middle"),
        pytest.param("a.b.c", (0, 0, 0), id="no-digits"),
        pytest.param("1..3", (1, 0, 3), id="empty-part"),
        pytest.param("1.2.3.4", (1, 2, 3), id="fourth-part-ignored"),
        pytest.param("01.002.0003", (1, 2, 3), id="leading-zeros"),
        pytest.param("1-2.3", (1, 0, 0), id="dash-in-major"),
        pytest.param("vv1.2", (0, 2, 0), id="only-one-v-stripped"),
        pytest.param("10.20.30", (10, 20, 30), id="multi-digit"),
    ],
)
def test_version_key(version: str, key: tuple[int, int, int]) -> None:
    assert version_key(version) == key


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        pytest.param("1.3", "1.3.0", 0, id="1.3==1.3.0"),
        pytest.param("v1.2.3-beta", "1.2.3", 0, id="prerelease-equal"),
        pytest.param("1.2a", "1.2.0", 0, id="leading-digits-equal"),
        pytest.param("1", "1.0.0", 0, id="missing-parts-equal"),
        pytest.param("1.2.9", "1.10.0", -1, id="numeric-not-lexical"),
        pytest.param("2.0.0", "1.99.99", 1, id="major-wins"),
        pytest.param("1.4.0", "1.3.0", 1, id="newer"),
        pytest.param("1.2.0", "1.3.0", -1, id="older"),
    ],
)
def test_compare_examples(a: str, b: str, order: int) -> None:
    assert compare_versions(a, b) == order
    assert compare_versions(b, a) == -order


parts = st.integers(min_value=0, max_value=10**6)
triples = st.tuples(parts, parts, parts)
suffixes = st.sampled_from(["", "-beta", "-rc.1", "+build", "+b.5-x", "-1.2.3"])
# Arbitrary short text (long digit runs would hit int()'s own limits, not ours).
any_version = st.text(max_size=24)


def render(triple: tuple[int, int, int], prefix: bool, suffix: str) -> str:
    return ("v" if prefix else "") + ".".join(map(str, triple)) + suffix


@given(triples, triples, st.booleans(), st.booleans(), suffixes, suffixes)
def test_equals_tuple_comparison(
    a: tuple[int, int, int],
    b: tuple[int, int, int],
    va: bool,
    vb: bool,
    sa: str,
    sb: str,
) -> None:
    expected = (a > b) - (a < b)
    assert compare_versions(render(a, va, sa), render(b, vb, sb)) == expected


@given(triples)
def test_trailing_zero_parts_do_not_matter(triple: tuple[int, int, int]) -> None:
    major, minor, patch = triple
    if patch == 0:
        assert compare_versions(f"{major}.{minor}", f"{major}.{minor}.0") == 0
    if minor == patch == 0:
        assert compare_versions(f"{major}", f"{major}.0.0") == 0


@given(any_version)
def test_reflexive(a: str) -> None:
    assert compare_versions(a, a) == 0


@given(any_version, any_version)
def test_antisymmetric(a: str, b: str) -> None:
    assert compare_versions(a, b) in (-1, 0, 1)
    assert compare_versions(a, b) == -compare_versions(b, a)


@given(any_version, any_version, any_version)
def test_transitive(a: str, b: str, c: str) -> None:
    if compare_versions(a, b) <= 0 and compare_versions(b, c) <= 0:
        assert compare_versions(a, c) <= 0
    if compare_versions(a, b) == 0 and compare_versions(b, c) == 0:
        assert compare_versions(a, c) == 0


@given(triples, triples, triples)
def test_transitive_on_versions(
    a: tuple[int, int, int], b: tuple[int, int, int], c: tuple[int, int, int]
) -> None:
    va, vb, vc = (".".join(map(str, t)) for t in (a, b, c))
    if compare_versions(va, vb) < 0 and compare_versions(vb, vc) < 0:
        assert compare_versions(va, vc) < 0
