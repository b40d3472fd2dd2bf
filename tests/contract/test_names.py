"""Names in any script (issue 12, item 16): NFC on the way in, unique regardless of case
(full Unicode case folding, computed in Python: SQLite's ``lower()`` folds only ASCII),
found by refs, lists, ``name:`` and full text, over HTTP path segments as well."""

from __future__ import annotations

import unicodedata

import pytest

from archivist import ArtifactCatalog, ArtifactNotFoundError, ConflictError, InvalidNameError
from archivist.names import check_name


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


NAIVE = "naïve_model"  # NFC: U+00EF
NAIVE_NFD = nfd(NAIVE)  # "i" + U+0308
ALIAS = "本番"


def test_nfd_and_nfc_spell_one_name(catalog: ArtifactCatalog) -> None:
    assert NAIVE_NFD != NAIVE
    first = catalog.register(NAIVE_NFD, "Model", data=b"nfd bytes")
    second = catalog.register(NAIVE, "Model", data=b"nfc bytes")
    art = catalog.get(first)
    assert art.name == NAIVE, "names are stored NFC"
    assert art.uri == f"archivist://default/{NAIVE}:1"
    assert catalog.get(f"{NAIVE_NFD}:2").id == second
    assert catalog.get(f"{NAIVE}:1").id == first
    assert catalog.get(f"archivist://default/{NAIVE_NFD}:1").id == first
    assert [a.id for a in catalog.versions(NAIVE_NFD)] == [first, second]
    assert [a.id for a in catalog.list(name=NAIVE_NFD)] == [second, first]
    assert catalog.load(f"{NAIVE_NFD}:1") == b"nfd bytes"


@pytest.mark.parametrize(("existing", "variant"), [
    ("Ärger", "ärger"), ("ärger", "ÄRGER"), ("Straße", "STRASSE"), ("ΣΊΣΥΦΟΣ", "σίσυφος"),
    ("Ärger", nfd("ärger"))], ids=["umlaut", "umlaut-upper", "sharp-s", "final-sigma", "nfd"])
def test_names_are_unique_regardless_of_case(catalog: ArtifactCatalog, existing: str,
                                             variant: str) -> None:
    catalog.register(existing, "Model")
    with pytest.raises(ConflictError) as info:
        catalog.register(variant, "Model", data=b"bytes of a look-alike")
    assert repr(existing) in str(info.value)
    with pytest.raises(ConflictError):
        catalog.register(variant, "Model")
    assert [a.name for a in catalog.list()] == [existing]
    other = catalog.register(variant, "Model", project="other")
    assert catalog.get(other).name == unicodedata.normalize("NFC", variant)


def test_one_batch_cannot_hold_two_spellings(catalog: ArtifactCatalog) -> None:
    with pytest.raises(ConflictError), catalog.batch():
        catalog.register("Ärger", "Model")
        catalog.register("ärger", "Model")
    assert catalog.list() == []


def test_a_ref_in_another_case_is_not_found_and_names_the_spelling(
        catalog: ArtifactCatalog) -> None:
    catalog.register("Ärger", "Model")
    with pytest.raises(ArtifactNotFoundError, match="Ärger"):
        catalog.get("ärger")


def test_aliases_tags_and_history_in_any_script(catalog: ArtifactCatalog) -> None:
    first = catalog.register("名前", "Model", aliases=[ALIAS])
    second = catalog.register("名前", "Model", tags={"段階": "本番", nfd("qualité"): 1})
    assert catalog.get(f"名前@{ALIAS}").id == first
    catalog.set_alias(second, nfd("évalué"))
    assert catalog.get("名前@évalué").id == second
    assert catalog.get(second).tags == {"段階": "本番", "qualité": 1}
    catalog.untag(second, nfd("qualité"))
    assert catalog.get(second).tags == {"段階": "本番"}
    catalog.remove_alias("名前", ALIAS)
    with pytest.raises(ArtifactNotFoundError):
        catalog.get(f"名前@{ALIAS}")
    kinds = [(e.kind, e.key) for e in catalog.history(nfd("名前"))]
    assert ("alias", ALIAS) in kinds and ("alias", "évalué") in kinds
    assert ("tag", "qualité") in kinds


def test_search_finds_names_in_any_script(catalog: ArtifactCatalog) -> None:
    naive = catalog.register(NAIVE, "Model", tags={"段階": "本番"},
                             partitions={"日付": "2024-01-01"})
    anger = catalog.register("Ärger", "Dataset")
    japanese = catalog.register("名前モデル", "Model")
    catalog.register("naive_model", "Model")  # no diaeresis: another name

    def found(query: str) -> set[str]:
        return {a.id for a in catalog.search(query)}

    assert found("name:naïve*") == {naive}
    assert found(f"name:{nfd('NAÏVE')}*") == {naive}, "name: folds case and NFD alike"
    assert found("name:NAÏVE_MODEL") == {naive}
    assert found("name:ärger") == found("name:ÄRGER") == {anger}
    assert found("name:名前*") == {japanese}
    assert naive in found("naïve") and naive in found(nfd("naïve"))
    assert found("名前モデル") == {japanese}
    assert found("段階:本番") == found("tags.段階:本番") == {naive}
    assert found("partition.日付:2024-01-01") == {naive}


def test_lineage_across_scripts(catalog: ArtifactCatalog) -> None:
    raw = catalog.register("данные", "Dataset")
    features = catalog.register("特徴量", "FeatureSet", parent_ids=["данные:1"])
    model = catalog.register(NAIVE, "Model", parent_ids=[nfd("特徴量")])
    down = catalog.get_lineage("данные", depth=5, direction="down")
    assert down["downstream"] == [features, model]
    assert {n.name for n in down["nodes"]} == {"данные", "特徴量", NAIVE}
    assert catalog.get_lineage(model, direction="up")["parents"] == [features]
    assert {a.id for a in catalog.search("downstream-of:данные:1")} == {features, model}
    assert raw in {a.id for a in catalog.search(f"upstream-of:{NAIVE_NFD}")}


@pytest.mark.parametrize("bad", ["fr\u0430ud", "a\u200db", "\u202eabc", "名前/x", "x" * 129,
                                 "\uff46\uff52\uff41\uff55\uff44"],
                         ids=["cyrillic-a-in-latin", "zero-width-joiner", "rtl-override",
                              "slash", "129-chars", "fullwidth"])
def test_every_backend_refuses_the_same_names(catalog: ArtifactCatalog, bad: str) -> None:
    with pytest.raises(InvalidNameError) as expected:
        check_name(bad)
    with pytest.raises(InvalidNameError) as info:
        catalog.register(bad, "Model")
    assert str(info.value) == str(expected.value)
    assert catalog.list() == []


def test_128_characters_of_any_script(catalog: ArtifactCatalog) -> None:
    name = "名" * 128  # 384 bytes of UTF-8
    version_id = catalog.register(name, "Model", data=b"long name")
    assert catalog.get(f"{name}:1").id == version_id
    accented = catalog.register(nfd("É" * 128), "Model")  # 256 code points before NFC
    assert catalog.get(accented).name == "É" * 128
    with pytest.raises(InvalidNameError, match="129 characters"):
        catalog.register("É" * 129, "Model")


def test_case_folding_may_lengthen_a_name(catalog: ArtifactCatalog) -> None:
    """``ß`` folds to ``ss`` and ``ΐ`` to three characters: the folded key of a
    128-character name is up to 384 characters (PostgreSQL enforces column lengths)."""
    catalog.register("ß" * 128, "Model")
    catalog.register("ΐ" * 128, "Model")
    with pytest.raises(ConflictError):
        catalog.register("\u1e9e" * 128, "Model")  # capital sharp s: the same name
    assert {a.name for a in catalog.search("name:ss*")} == {"ß" * 128}
