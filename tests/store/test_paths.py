from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archivist.errors import InvalidInputError, PermissionDeniedError
from archivist.store import paths
from archivist.store.paths import check_relative_path, contained, safe_relative_path

BAD = ["../x", "/etc/x", "a/../../x", "a\\..\\x", "C:x", "c:\\x", "a//b", "./a", "a/", "",
       "a/./b", "..", "%2e%2e/x", "%252e%252e%252fsecret", "a%2f..%2f..%2fx", "%2fetc",
       "a%00b", "a\x00b", "a\x1fb", "a\x7fb", "x#frag", "%23x", ".git/config", "GIT~1/x",
       ".Git", "a:b", ".g\u200dit/x", "\ufeff.git", ".git::$INDEX_ALLOCATION/x", "%ff.txt",
       "%" + "25" * 11 + "2e", "a" * 256, "a/" * 2048 + "b"]


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_safe_relative_path_refuses(value: str) -> None:
    with pytest.raises(InvalidInputError):
        safe_relative_path(value)


@pytest.mark.parametrize("value,expected", [
    ("a", "a"), ("a/b/c.txt", "a/b/c.txt"), ("a%20b", "a b"), ("data/%C3%A9t%C3%A9.csv",
    "data/été.csv"), ("..a/b..", "..a/b.."), (".gitignore", ".gitignore"), ("ab:c", "ab:c"),
])
def test_safe_relative_path_decodes(value: str, expected: str) -> None:
    assert safe_relative_path(value) == expected


def test_check_relative_path_keeps_the_literal_name() -> None:
    assert check_relative_path("a%20b.txt") == "a%20b.txt"
    with pytest.raises(InvalidInputError):
        check_relative_path("%2e%2e/x")


@pytest.mark.parametrize("value", [None, 1, b"a"])
def test_non_strings(value: object) -> None:
    with pytest.raises(InvalidInputError):
        safe_relative_path(value)


def test_contained(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    assert contained(root, "sub/x") == (root / "sub" / "x").resolve()
    (root / "escape").symlink_to(tmp_path)
    for bad in ("../x", "escape/x", "/etc/passwd", str(tmp_path / "other")):
        with pytest.raises(PermissionDeniedError):
            contained(root, bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_either_a_clean_path_or_a_typed_error(value: str) -> None:
    try:
        out = safe_relative_path(value)
    except InvalidInputError:
        return
    assert safe_relative_path(out) == out or "%" in out  # decoded form is stable
    assert not out.startswith("/") and ".." not in out.split("/")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="aG9_-.+/%#~: \\\x00\u212a\u200c", max_size=40)
       | st.sampled_from(["a" * 255, "a" * 256, "a/" * 2047 + "b", "a/" * 2048 + "b", "git~1",
                          "-x", "_/.git", "x/GIT~1", "a.b/c..d", "f000001.bin"]))
def test_the_plain_fast_path_accepts_only_what_every_rule_accepts(value: str) -> None:
    # check_relative_path skips the rule-by-rule check for plain ASCII names; anything it
    # accepts that way must pass the full check too (_check_form on the literal and the
    # decoded form), so the shortcut can never let a refused name through.
    if paths._PLAIN.fullmatch(value) and len(value) <= paths.MAX_PATH_BYTES:
        assert paths.decode_fixed_point(value) == value
        paths._check_form(value, value, "path")
    try:
        fast = check_relative_path(value)
    except InvalidInputError:
        fast = None
    try:
        paths._check_form(value, value, "path")
        paths._check_form(paths.decode_fixed_point(value), value, "path")
        slow: str | None = value
    except InvalidInputError:
        slow = None
    assert fast == slow
