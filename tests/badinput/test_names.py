"""b.1 Names: artifact names, projects, aliases, types, free-text fields (N1-N22, N23-N26).

Rule (SPEC §9, ``archivist.names``): 1-128 letters and digits of any script (combining
marks after a letter), ``.``, ``_``, ``-``; starting with a letter or digit; no ``..``;
NFC-normalized on the way in, never URL-decoded or NFKC-normalized into validity
(compatibility forms such as fullwidth letters are refused); one word never mixes Latin,
Greek and Cyrillic letters. Projects keep the ASCII rule ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}``.
"""

from __future__ import annotations

import os
import time
import unicodedata
from pathlib import Path

import pytest

from archivist import (
    ArtifactCatalog,
    ConflictError,
    DuplicateArtifactWarning,
    InvalidInputError,
    InvalidNameError,
)
from tests.badinput.conftest import Guard

MIB = 1024 * 1024

# (id, bad name) — every one must be refused wherever a name is taken.
BAD_NAMES = [
    ("N1-empty", ""),
    ("N2-dot", "."),
    ("N2-dotdot", ".."),
    ("N3-traversal", "../etc/passwd"),
    ("N3-inner-traversal", "a/../../b"),
    ("N4-absolute", "/abs"),
    ("N4-proc-root", "//proc/self/root"),
    ("N5-backslash-traversal", "..\\..\\x"),
    ("N5-drive", "C:\\win"),
    ("N5-drive-relative", "C:x"),
    ("N6-nul", "a\x00b"),
    ("N7-129-chars", "x" * 129),
    ("N8-space", "name with space"),
    ("N8-tab", "tab\tname"),
    ("N8-newline", "new\nline"),
    ("N8-cr", "cr\rname"),
    ("N9-percent-space", "model%20x"),
    ("N9-percent-dots", "%2e%2e%2f"),
    ("N9-percent-nul", "a%00b"),
    ("N10-fullwidth", "\uff41\uff42\uff43"),
    ("N10-fullwidth-traversal", "\uff0e\uff0e\uff0fetc"),
    ("N11-cyrillic-a", "fr\u0430ud"),
    ("N11-zero-width", "fraud\u200b"),
    ("N11-rtl-override", "\u202edcba"),
    ("N12-double-dot", "a..b"),
    ("N12-triple-dot", "a...b"),
    ("N13-dash-rf", "-rf"),
    ("N13-dash-help", "--help"),
    ("N13-underscore", "_x"),
    ("N13-hidden", ".hidden"),
    ("N13-git", ".git"),
    ("N14-version-ref", "name:3"),
    ("N14-alias-ref", "name@prod"),
    ("N14-slash", "p/name"),
    ("N14-uri", "archivist://p/n"),
    # decision in names.check_name: a name shaped like a version id would make get() ambiguous
    ("N14-id-shaped", "0193f0c2-1b2c-7d3e-8f40-0123456789ab"),
    # -- Unicode (N23): what is not a letter, digit or mark stays refused in any script
    ("N23-nbsp", "a\u00a0b"),
    ("N23-ideographic-space", "名\u3000前"),
    ("N23-line-separator", "a\u2028b"),
    ("N23-zwnj", "a\u200cb"),
    ("N23-zwj", "a\u200db"),
    ("N23-lrm", "a\u200eb"),
    ("N23-rlm", "a\u200fb"),
    ("N23-lre", "\u202aabc"),
    ("N23-lri", "a\u2066b"),
    ("N23-pdi", "a\u2069"),
    ("N23-bom", "\ufeffname"),
    ("N23-soft-hyphen", "a\u00adb"),
    ("N23-variation-selector", "a\ufe0f"),
    ("N23-hangul-filler", "a\u3164"),
    ("N23-grapheme-joiner", "a\u034fb"),
    ("N23-private-use", "a\ue000"),
    ("N23-unassigned", "a\u0378"),
    ("N23-lone-surrogate", "a\ud800"),
    ("N23-mark-first", "\u0301a"),
    ("N23-mark-after-digit", "1\u0301"),
    ("N23-mark-after-dot", "a.\u0301"),
    ("N23-fullwidth-solidus", "名前\uff0fx"),
    ("N23-division-slash", "a\u2215b"),
    ("N23-tilde", "a~b"),
    ("N23-star", "a*"),
    ("N23-cjk-slash", "名前/x"),
    ("N23-cjk-backslash", "名前\\x"),
    ("N23-cjk-colon", "名前:x:1"),
    ("N23-cjk-hidden", ".名前"),
    ("N23-cjk-dash", "-名前"),
    ("N23-cjk-dotdot", "名前..x"),
    ("N23-ideographic-full-stop", "名前\u3002x"),
    ("N23-ligature", "\ufb01le"),
    ("N23-micro-sign", "\u00b5m"),
    ("N23-superscript", "x\u00b2"),
    ("N23-roman-numeral", "\u2160"),
    ("N23-greek-in-latin", "fr\u03bfud"),
    ("N23-129-cjk", "名" * 129),
    ("N23-129-after-nfc", "e\u0301" * 129),
]
BAD_IDS = [i for i, _ in BAD_NAMES]
BAD_VALUES = [v for _, v in BAD_NAMES]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
def test_bad_artifact_name_is_rejected(guard: Guard, cat: ArtifactCatalog, bad: str) -> None:
    guard.rejected(InvalidNameError, cat.register, bad, "Model", metadata={"a": 1})


@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
def test_bad_name_with_data_is_rejected_before_any_blob_lands(guard: Guard,
                                                              cat: ArtifactCatalog,
                                                              bad: str) -> None:
    guard.rejected(InvalidNameError, cat.register, bad, data=b"payload bytes")


@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
def test_bad_name_in_readers_is_rejected(guard: Guard, cat: ArtifactCatalog, bad: str) -> None:
    cat.register("present", metadata={"a": 1})
    guard.rejected(InvalidNameError, cat.versions, bad)
    guard.rejected(InvalidNameError, cat.history, bad)
    guard.rejected(InvalidNameError, cat.list, name=bad)


def test_N7_128_chars_accepted_and_round_trips(guard: Guard, cat: ArtifactCatalog) -> None:
    name = "x" * 127 + "9"
    version_id = guard.no_files_outside(cat.register, name, metadata={"a": 1})
    art = cat.get(version_id)
    assert art.name == name
    assert cat.get(f"{name}:1").id == version_id
    assert cat.get(f"archivist://default/{name}:1").id == version_id


@pytest.mark.parametrize("size", [100_000, 10_000_000], ids=["N7-100k", "N7-10M"])
def test_N7_huge_name_rejected_fast(guard: Guard, cat: ArtifactCatalog, size: int) -> None:
    name = "1" * size
    cat.register("warm", metadata={})  # first-call costs are not the name check's
    start = time.perf_counter()
    with pytest.raises(InvalidNameError):
        cat.register(name)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.05, f"rejecting a {size}-char name took {elapsed * 1000:.1f} ms"
    guard.rejected(InvalidNameError, cat.register, name)


def test_N15_case_variant_of_existing_name_conflicts(guard: Guard, cat: ArtifactCatalog) -> None:
    """Decision (backends/sql/backend.py ``_artifact_rows``): names are unique regardless
    of case; ``Fraud`` next to ``fraud`` is a ConflictError naming the existing one."""
    cat.register("fraud", "Model")
    for variant in ("Fraud", "FRAUD", "fRaUd"):
        err = guard.rejected(ConflictError, cat.register, variant, "Model")
        assert "'fraud'" in str(err)


def test_N15_case_variant_with_data_leaves_no_row(guard: Guard, cat: ArtifactCatalog) -> None:
    cat.register("fraud", "Model", metadata={"v": 1})
    before = guard.state()[0]
    with pytest.raises(ConflictError):
        cat.register("Fraud", data=b"unique bytes for N15")
    after = guard.state()[0]
    assert after.rows == before.rows, "the conflicting registration left rows"


def test_N15_same_case_in_other_project_is_independent(cat: ArtifactCatalog) -> None:
    cat.register("fraud", "Model")
    other = cat.register("Fraud", "Model", project="other")
    assert cat.get(other).project == "other"


@pytest.mark.parametrize("name", ["CON", "NUL", "aux", "COM1", "LPT1", "PRN"],
                         ids=["N16-CON", "N16-NUL", "N16-aux", "N16-COM1", "N16-LPT1",
                              "N16-PRN"])
def test_N16_windows_device_names_accepted_and_never_paths(guard: Guard, cat: ArtifactCatalog,
                                                          home: Path, canary: Path,
                                                          name: str) -> None:
    data = f"bytes of {name}".encode()
    version_id = guard.no_files_outside(cat.register, name, data=data, metadata={"n": name})
    art = cat.get(f"{name}:1")
    assert art.id == version_id and art.name == name
    # No path under the home is derived from the name.
    for root, dirs, files in os.walk(home):
        for entry in dirs + files:
            assert name.lower() not in entry.lower(), f"store path {root}/{entry} uses the name"
    dest = canary / "out" / "file.bin"
    guard.no_files_outside(cat.download, version_id, dest, allowed=("out",))
    assert dest.read_bytes() == data
    assert sorted(p.name for p in (canary / "out").iterdir()) == ["file.bin"]


# -- N23-N26 names in any script ------------------------------------------------------------

GOOD_UNICODE = [
    ("N24-latin-accents", "naïve_model"), ("N24-umlaut", "Ärger"), ("N24-cjk", "名前"),
    ("N24-kana-and-latin", "モデル_v2"), ("N24-prolonged-sound-mark", "データ"),
    ("N24-devanagari-marks", "हिन्दी"), ("N24-arabic", "مدل"), ("N24-hangul", "모델"),
    ("N24-cyrillic-and-latin-words", "модель_v2"), ("N24-greek-word", "β_vae"),
    ("N24-arabic-indic-digit", "model\u0663"), ("N24-ideographic-zero", "\u3007号"),
    ("N24-128-cjk", "名" * 128), ("N24-128-after-nfc", "e\u0301" * 128),
]


@pytest.mark.parametrize("name", [v for _, v in GOOD_UNICODE], ids=[i for i, _ in GOOD_UNICODE])
def test_N24_names_in_any_script_round_trip_and_are_never_paths(
        guard: Guard, cat: ArtifactCatalog, home: Path, name: str) -> None:
    stored = unicodedata.normalize("NFC", name)
    version_id = guard.no_files_outside(cat.register, name, data=f"{name}".encode(),
                                        aliases=["本番"], tags={"段階": 1},
                                        partitions={"日付": "2024-01-01"})
    art = cat.get(f"{name}:1")
    assert (art.id, art.name, art.aliases, art.tags) == (version_id, stored, ["本番"],
                                                         {"段階": 1})
    assert cat.get(f"{stored}@本番").id == version_id
    assert cat.get(f"archivist://default/{name}:1").id == version_id
    assert [a.id for a in cat.list(name=name, partitions={"日付": "2024-01-01"})] == [
        version_id]
    for _root, dirs, files in os.walk(home):
        for entry in dirs + files:
            assert stored.casefold() not in entry.casefold(), f"a store path uses {entry}"


def test_N25_nfd_input_is_the_nfc_name(guard: Guard, cat: ArtifactCatalog) -> None:
    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    version_id = cat.register(nfd("Ärger_qualité"), aliases=[nfd("prüfung")],
                              tags={nfd("schlüssel"): 1}, partitions={nfd("jahr_ä"): "x"})
    art = cat.get(version_id)
    assert (art.name, art.aliases, list(art.tags), list(art.partitions)) == (
        "Ärger_qualité", ["prüfung"], ["schlüssel"], ["jahr_ä"])
    assert cat.get("Ärger_qualité@prüfung").id == version_id
    assert cat.get(nfd("Ärger_qualité@prüfung")).id == version_id
    guard.rejected(ConflictError, cat.register, "ÄRGER_QUALITÉ")
    # two spellings of one key in one mapping: refused, not silently merged
    guard.rejected(InvalidInputError, cat.register, "m", tags={"ä": 1, nfd("ä"): 2})
    guard.rejected(InvalidInputError, cat.register, "m", partitions={"ä": "1", nfd("ä"): "2"})


@pytest.mark.parametrize(("existing", "variants"), [
    ("ärger", ["Ärger", "ÄRGER", unicodedata.normalize("NFD", "Ärger")]),
    ("straße", ["STRASSE", "Strasse", "STRA\u1e9eE"]),
    ("σίσυφος", ["ΣΊΣΥΦΟΣ", "Σίσυφοσ"]),
    ("名前", []),
], ids=["N15-umlaut", "N15-sharp-s", "N15-final-sigma", "N15-no-case"])
def test_N15_unicode_case_variants_conflict(guard: Guard, cat: ArtifactCatalog, existing: str,
                                            variants: list[str]) -> None:
    """Full Unicode case folding (``str.casefold``), computed in Python for every backend."""
    cat.register(existing, "Model")
    for variant in variants:
        err = guard.rejected(ConflictError, cat.register, variant, "Model")
        assert repr(existing) in str(err)
    assert cat.get(existing).name == existing


def test_N26_the_message_states_the_rule(cat: ArtifactCatalog) -> None:
    rule = ("1-128 letters and digits (any script), '.', '_' or '-', starting with a letter "
            "or digit, without '..'")
    with pytest.raises(InvalidNameError) as info:
        cat.register("my model")
    assert str(info.value) == f"invalid name 'my model': ' ' (U+0020 SPACE) is not allowed; " \
                              f"a name is {rule}"
    with pytest.raises(InvalidNameError) as info:
        cat.register("fr\u0430ud")
    assert "mixes Cyrillic and Latin letters" in str(info.value)
    with pytest.raises(InvalidNameError) as info:
        cat.register("\uff41bc")
    assert "compatibility form of 'a'" in str(info.value)
    with pytest.raises(InvalidNameError) as info:
        cat.list(project="équipe")
    assert "is not ASCII; a project is 1-128 ASCII letters" in str(info.value)


def test_N24_long_names_export_to_file_names_within_limits(guard: Guard, cat: ArtifactCatalog,
                                                          canary: Path) -> None:
    """A 128-character name is up to 512 bytes of UTF-8; NAME_MAX is 255: export cuts it
    (with a hash of the whole, so two long names stay apart)."""
    long_a, long_b = "名" * 127 + "甲", "名" * 127 + "乙"
    refs = [f"{cat.register(n, data=n.encode())}" for n in (long_a, long_b, "Ärger")]
    out = canary / "out"
    guard.no_files_outside(cat.export_files, refs, f"{out}/{{{{name}}}}", allowed=("out",))
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 3 and "Ärger.bin" in written
    assert all(len(n.encode()) <= 255 for n in written), written


BAD_PROJECTS = [("N17-traversal", "../x"), ("N17-empty", ""), ("N17-slash", "a/b"),
                ("N17-nul", "default\x00"), ("N17-space", "my project"),
                ("N17-129", "p" * 129), ("N17-double-dot", "a..b"),
                # decision (names.check_name): projects stay ASCII, they are the host part
                # of archivist:// URIs and may name a folder of a server's blob store
                ("N17-non-ascii", "équipe"), ("N17-cjk", "チーム")]


@pytest.mark.parametrize("bad", [v for _, v in BAD_PROJECTS], ids=[i for i, _ in BAD_PROJECTS])
def test_N17_bad_project_is_rejected(guard: Guard, cat: ArtifactCatalog, bad: str) -> None:
    guard.rejected(InvalidNameError, cat.register, "model", project=bad)
    guard.rejected(InvalidNameError, cat.register, "model", data=b"n17", project=bad)
    guard.rejected(InvalidNameError, cat.list, project=bad)
    guard.rejected(InvalidNameError, cat.versions, "model", project=bad)


@pytest.mark.parametrize("bad", [v for _, v in BAD_PROJECTS], ids=[i for i, _ in BAD_PROJECTS])
def test_N17_bad_project_in_reference_is_rejected(guard: Guard, cat: ArtifactCatalog,
                                                  bad: str) -> None:
    cat.register("model")
    guard.rejected(InvalidNameError, cat.get, f"archivist://{bad}/model:1")


@pytest.mark.parametrize("bad", [v for _, v in BAD_PROJECTS if v],
                         ids=[i for i, v in BAD_PROJECTS if v])
def test_N17_bad_project_in_constructor_is_rejected(canary: Path, bad: str) -> None:
    with pytest.raises(InvalidNameError):
        ArtifactCatalog(canary / "home2", project=bad)
    assert not (canary / "home2").exists(), "a refused catalog created its home"


BAD_ALIASES = [
    ("N18-latest", "latest"),
    ("N19-digits", "3"),
    ("N19-leading-zero", "01"),
    ("N19-long-digits", "1234567890"),
    ("N17-alias-traversal", "../x"),
    ("N17-alias-empty", ""),
    ("N17-alias-at", "prod@x"),
    ("N17-alias-colon", "prod:1"),
    ("N17-alias-dash", "-prod"),
    ("N17-alias-nul", "prod\x00"),
    ("N19-arabic-indic-digits", "\u0663\u0664"),
    ("N17-alias-zero-width", "prod\u200b"),
    ("N17-alias-fullwidth", "\uff50rod"),
]


@pytest.mark.parametrize("bad", [v for _, v in BAD_ALIASES], ids=[i for i, _ in BAD_ALIASES])
def test_bad_alias_is_rejected(guard: Guard, cat: ArtifactCatalog, bad: str) -> None:
    version_id = cat.register("model", "Model")
    guard.rejected(InvalidNameError, cat.register, "model", aliases=[bad])
    guard.rejected(InvalidNameError, cat.set_alias, version_id, bad)
    guard.rejected(InvalidNameError, cat.remove_alias, "model", bad)


def test_N18_latest_is_implicit(cat: ArtifactCatalog) -> None:
    first = cat.register("model")
    second = cat.register("model")
    assert cat.get("model:latest").id == second
    assert cat.get("model").id == second
    assert first != second


def test_N19_alias_with_digits_and_letters_is_fine(cat: ArtifactCatalog) -> None:
    version_id = cat.register("model", aliases=["v3", "3a", "本番", "v\u0663"])
    assert cat.get("model@v3").id == version_id
    assert cat.get("model@3a").id == version_id
    assert cat.get("model@本番").id == version_id
    assert cat.get("model@v\u0663").id == version_id


@pytest.mark.parametrize(("value", "error"), [
    ("prod", InvalidInputError), (3, InvalidInputError), ([None], InvalidNameError),
    ([3], InvalidNameError)], ids=["aliases-as-string", "aliases-as-int", "alias-none",
                                  "alias-int"])
def test_aliases_must_be_a_list_of_names(guard: Guard, cat: ArtifactCatalog, value: object,
                                         error: type[Exception]) -> None:
    """Decision (catalog._as_list): a bare string is not taken as a list of characters."""
    guard.rejected(error, cat.register, "model", aliases=value)  # type: ignore[arg-type]


# -- N20 artifact_type ----------------------------------------------------------------------

def test_N20_script_type_is_stored_verbatim(guard: Guard, cat: ArtifactCatalog) -> None:
    """Decision (names.check_artifact_type): any 1-64 printable ASCII; escaping is the
    renderer's job, so the value comes back byte for byte."""
    value = "<script>alert(1)</script>"
    version_id = guard.no_files_outside(cat.register, "m", value)
    assert cat.get(version_id).artifact_type == value
    assert [a.id for a in cat.list(artifact_type=value)] == [version_id]


def test_N20_type_at_cap_is_accepted(cat: ArtifactCatalog) -> None:
    version_id = cat.register("m", "T" * 64)
    assert cat.get(version_id).artifact_type == "T" * 64


BAD_TYPES = [("N20-10000", "x" * 10_000), ("N20-65", "x" * 65), ("N20-newline", "Model\n"),
             ("N20-nul", "Mo\x00del"), ("N20-non-ascii", "Modèl"), ("N20-empty", ""),
             ("N20-not-a-string", 3)]


@pytest.mark.parametrize("bad", [v for _, v in BAD_TYPES], ids=[i for i, _ in BAD_TYPES])
def test_N20_bad_type_is_rejected(guard: Guard, cat: ArtifactCatalog, bad: object) -> None:
    guard.rejected(InvalidNameError, cat.register, "m", bad)
    guard.rejected(InvalidNameError, cat.register, "m", bad, data=b"n20")


# -- N21 description --------------------------------------------------------------------------

def test_N21_description_over_cap_is_rejected(guard: Guard, cat: ArtifactCatalog) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", description="d" * (MIB + 1))
    # the cap counts UTF-8 bytes: 2-byte characters hit it at half the length
    guard.rejected(InvalidInputError, cat.register, "m", description="é" * (MIB // 2 + 1))


def test_N21_description_at_cap_is_accepted(cat: ArtifactCatalog) -> None:
    text = "d" * MIB
    version_id = cat.register("m", description=text)
    assert cat.get(version_id).description == text


@pytest.mark.parametrize("text", ["<img src=x onerror=alert(1)>", "javascript:alert(1)",
                                  "{{7*7}}", "line one\nline two\twith tab"],
                         ids=["N21-xss", "N21-js-link", "N21-template", "N21-newline-tab"])
def test_N21_description_stored_verbatim(cat: ArtifactCatalog, text: str) -> None:
    version_id = cat.register("m", description=text)
    assert cat.get(version_id).description == text


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "esc\x1b[31m", "\ud800"],
                         ids=["N21-nul", "N21-bell", "N21-ansi-escape", "N21-surrogate"])
def test_N21_description_control_characters_rejected(guard: Guard, cat: ArtifactCatalog,
                                                     text: str) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", description=text)


# -- N22 producer fields ------------------------------------------------------------------------

BAD_PRODUCER = [
    ("N22-step-newline", {"source_step": "s\n"}),
    ("N22-run-10000", {"source_run_id": "r" * 10_000}),
    ("N22-run-257", {"source_run_id": "r" * 257}),
    ("N22-pipeline-nul", {"source_pipeline": "p\x00"}),
    ("N22-step-escape", {"source_step": "\x1b[2J"}),
    ("N22-step-not-string", {"source_step": 3}),
    ("N22-code-version-cr", {"code_version": "abc\r"}),
]


@pytest.mark.parametrize("fields", [v for _, v in BAD_PRODUCER],
                         ids=[i for i, _ in BAD_PRODUCER])
def test_N22_bad_producer_fields_rejected(guard: Guard, cat: ArtifactCatalog,
                                          fields: dict[str, object]) -> None:
    guard.rejected(InvalidInputError, cat.register, "m", **fields)  # type: ignore[arg-type]


def test_N22_producer_fields_stored_verbatim_never_paths(guard: Guard, cat: ArtifactCatalog,
                                                         home: Path) -> None:
    fields = {"source_pipeline": "../p", "source_step": "s" * 256,
              "source_run_id": "/etc/passwd"}
    version_id = guard.no_files_outside(cat.register, "m", data=b"n22 bytes", **fields)
    art = cat.get(version_id)
    assert (art.source_pipeline, art.source_step, art.source_run_id) == (
        "../p", "s" * 256, "/etc/passwd")
    for _root, dirs, files in os.walk(home):
        assert "p" not in dirs + files and "passwd" not in dirs + files


def test_duplicate_bytes_under_device_name_warn(cat: ArtifactCatalog) -> None:
    cat.register("CON", data=b"same")
    with pytest.warns(DuplicateArtifactWarning):
        cat.register("NUL", data=b"same")
