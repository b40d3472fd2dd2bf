"""``K=V`` parsing and the progress helpers, unit by unit."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from archivist.cli.options import parse_pairs, parse_value
from archivist.cli.progress import THRESHOLD, _quiet, transfer_bar


@pytest.mark.parametrize(("text", "expected"), [
    ("3", 3),
    ("-3", -3),
    ("0.9", 0.9),
    ("true", True),
    ("false", False),
    ("null", None),
    ('"quoted"', "quoted"),
    ('"3"', "3"),
    ("production", "production"),
    ("", ""),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("[1, 2]", "[1, 2]"),
    ('{"a": 1}', '{"a": 1}'),
    ("2023-10-26", "2023-10-26"),
    ("a=b", "a=b"),
])
def test_tag_values(text: str, expected: Any) -> None:
    assert parse_value(text) == expected
    assert type(parse_value(text)) is type(expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("[1, 2]", [1, 2]),
    ('{"a": {"b": null}}', {"a": {"b": None}}),
    ("3", 3),
    ("text", "text"),
    ("[1,", "[1,"),
])
def test_meta_values(text: str, expected: Any) -> None:
    assert parse_value(text, structured=True) == expected


def test_pairs_split_on_the_first_equals() -> None:
    assert parse_pairs(["a=1", "b=x=y", "c="], "--tag") == {"a": 1, "b": "x=y", "c": ""}
    assert parse_pairs(["d=3"], "--partition", parse=False) == {"d": "3"}
    assert parse_pairs(None, "--tag") == {}


@pytest.mark.parametrize("items", [["novalue"], ["a=1", "a=2"]])
def test_malformed_pairs_are_usage_errors(items: list[str]) -> None:
    with pytest.raises(typer.BadParameter):
        parse_pairs(items, "--tag")


def test_small_transfers_get_the_quiet_callback(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # a terminal: only the size keeps it quiet
    for size in (10, THRESHOLD, None):
        with transfer_bar("x", size) as progress:
            assert progress is _quiet, size
            progress(5, size)
    assert capsys.readouterr().err == ""


def test_big_transfers_drive_a_bar(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # Rich treats stderr as a terminal
    with transfer_bar("model:3", THRESHOLD * 2) as progress:
        for done in range(0, THRESHOLD * 2 + 1, THRESHOLD):
            progress(done, THRESHOLD * 2)
        progress(THRESHOLD * 2, None)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "model:3" in captured.err
