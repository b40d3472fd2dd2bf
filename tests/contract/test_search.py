"""Search with OR, NOT and parentheses, aliases, and misspelt fields, on every backend."""

from __future__ import annotations

import pytest

from archivist import ArtifactCatalog, InvalidQueryError


@pytest.fixture
def shelf(catalog: ArtifactCatalog) -> ArtifactCatalog:
    """raw -> fraud_features -> fraud_detector (production) / churn_model; a report."""
    raw = catalog.register("raw_transactions", "Dataset", description="raw card payments",
                           tags={"team": "fraud", "stage": "production"})
    feats = catalog.register("fraud_features", "FeatureSet", parent_ids=[raw],
                             tags={"team": "fraud", "stage": "dev"})
    catalog.register("fraud_detector", "Model", parent_ids=[feats], aliases=["production"],
                     metadata={"accuracy": 0.93}, tags={"team": "fraud"},
                     description="gradient boosted detector")
    catalog.register("churn_model", "Model", metadata={"accuracy": 0.71},
                     tags={"team": "growth", "stage": "production"})
    catalog.register("weekly_report", "Plot", tags={"stage": "test"})
    return catalog


@pytest.mark.parametrize(("query", "expected"), [
    ("alias:production", {"fraud_detector"}),
    ("alias:prod*", {"fraud_detector"}),
    ("-alias:production type:Model", {"churn_model"}),
    ("detector OR payments", {"fraud_detector", "raw_transactions"}),
    ("detector OR type:Plot", {"fraud_detector", "weekly_report"}),
    ("type:Model (stage:production OR alias:production)", {"fraud_detector", "churn_model"}),
    ("type:Model stage:production OR alias:production", {"fraud_detector", "churn_model"}),
    ("stage:production OR stage:dev team:fraud", {"raw_transactions", "churn_model",
                                                  "fraud_features"}),
    ("(stage:production OR stage:dev) team:fraud", {"raw_transactions", "fraud_features"}),
    ("-(stage:production OR stage:dev)", {"fraud_detector", "weekly_report"}),
    ("NOT (type:Model OR type:Plot)", {"raw_transactions", "fraud_features"}),
    ("-(team:fraud type:Model)", {"raw_transactions", "fraud_features", "churn_model",
                                  "weekly_report"}),
    ("metadata.accuracy>=0.9 OR tags.stage=test", {"fraud_detector", "weekly_report"}),
    ("downstream-of:raw_transactions OR name:churn*", {"fraud_features", "fraud_detector",
                                                       "churn_model"}),
    ("-(downstream-of:raw_transactions~1 OR upstream-of:fraud_features)",
     {"fraud_detector", "churn_model", "weekly_report"}),
    ("(fraud OR growth) AND type:Model", {"fraud_detector", "churn_model"}),
    ("stage:production team:growth OR alias:production", {"churn_model", "fraud_detector"}),
])
def test_boolean_search(shelf: ArtifactCatalog, query: str, expected: set[str]) -> None:
    assert {a.name for a in shelf.search(query)} == expected


def test_project_terms_in_or(shelf: ArtifactCatalog) -> None:
    """Every alternative names a project: they choose the projects; else the scope holds."""
    shelf.register("fraud_elsewhere", "Model", project="elsewhere")
    everywhere = {a.name for a in shelf.search(f"project:{shelf.project} OR project:elsewhere")}
    assert everywhere == {"raw_transactions", "fraud_features", "fraud_detector",
                          "churn_model", "weekly_report", "fraud_elsewhere"}
    assert {a.name for a in shelf.search("project:elsewhere OR alias:production")} == {
        "fraud_detector"}


def test_or_orders_and_pages(shelf: ArtifactCatalog) -> None:
    by_name = shelf.search("(type:Model OR type:Plot) sort:name")
    assert [a.name for a in by_name] == ["churn_model", "fraud_detector", "weekly_report"]
    assert [a.name for a in shelf.search("(type:Model OR type:Plot) sort:name", limit=1,
                                         offset=1)] == ["fraud_detector"]
    # the word matches come first (by relevance), then the others, newest first
    assert [a.name for a in shelf.search("detector OR type:Plot OR type:Dataset")] == [
        "fraud_detector", "weekly_report", "raw_transactions"]


@pytest.mark.parametrize(("query", "position", "message"), [
    ("tpye:Model", 0, "unknown field 'tpye'; did you mean 'type'? (to match a tag named "
                      "'tpye', write tag.tpye:Model)"),
    ("type:Model sise>10MB", 11, "did you mean 'size'?"),
    ("detector OR", 9, "OR needs a term on each side"),
    ("(detector OR type:Plot", 0, "'(' is never closed"),
    ("detector OR type:Plot sort:name", 22, "cannot be part of an OR"),
])
def test_bad_queries_say_where(shelf: ArtifactCatalog, query: str, position: int,
                               message: str) -> None:
    with pytest.raises(InvalidQueryError) as info:
        shelf.search(query)
    assert info.value.position == position
    assert message in str(info.value)


def test_a_tag_named_like_a_misspelt_field(shelf: ArtifactCatalog) -> None:
    version = shelf.register("odd", "File", tags={"tpye": "Model"})
    assert [a.id for a in shelf.search("tag.tpye:Model")] == [version]
    assert {a.name for a in shelf.search("team:growth OR owner:nobody")} == {"churn_model"}


def test_text_with_tags_follows_every_change(catalog: ArtifactCatalog) -> None:
    """Text and tags are met in one index scan: the tags' index tokens must follow every
    write (register, tag, untag, rename), and values too long for a token, unicode, numbers
    and booleans must be found all the same."""
    long_value = "x" * 200
    catalog.register("fraud_rules", "Model", tags={"stage": "production", "ok": True,
                                                   "owner": long_value, "équipe": "données"})
    model = catalog.register("fraud_model", "Model", tags={"stage": "dev", "f1": 0.5})

    def names(query: str) -> set[str]:
        return {a.name for a in catalog.search(query)}

    assert names("fraud stage:production") == {"fraud_rules"}
    assert names("fraud stage:production,dev") == {"fraud_rules", "fraud_model"}
    assert names(f"fraud owner:{long_value}") == {"fraud_rules"}
    assert names("fraud équipe:données ok:true") == {"fraud_rules"}
    assert names("fraud f1:0.5") == {"fraud_model"}
    assert names("fraud stage:prod*") == {"fraud_rules"}
    assert names("fraud -stage:production") == {"fraud_model"}
    catalog.tag(model, stage="production")
    assert names("fraud stage:production") == {"fraud_rules", "fraud_model"}
    assert names("fraud stage:dev") == set()
    catalog.untag(model, "stage")
    assert names("fraud stage:production") == {"fraud_rules"}
    catalog.rename("fraud_rules", "fraud_rulebook")
    assert names("rulebook stage:production") == {"fraud_rulebook"}
    # a word spelt like an index token finds nothing: words search the text only
    assert names("t7374616765x70726f64756374696f6e") == set()
    assert names("t73*") == set()
