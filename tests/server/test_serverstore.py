"""The ServerStore rows (API keys, counts, blob visibility, run projects) on SQLite and
PostgreSQL, through archivist.keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archivist import keys
from archivist.backends.base import NewRun, NewVersion, ServerStore
from archivist.backends.sql.backend import SqlBackend
from archivist.errors import (
    ArtifactNotFoundError,
    InvalidInputError,
    InvalidNameError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from archivist.ids import new_id


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlBackend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    backend = SqlBackend(url)
    yield backend
    backend.close()


def test_keys_lifecycle(store: SqlBackend) -> None:
    assert isinstance(store, ServerStore)
    key, secret = keys.create_key(store, "p", "write", "ci")
    other, _ = keys.create_key(store, "q", "read")
    assert secret.startswith(keys.PREFIX) and len(secret) == 46
    assert keys.authenticate(store, secret) == key
    assert [k.id for k in keys.list_keys(store)] == [key.id, other.id]
    assert [k.id for k in keys.list_keys(store, "q")] == [other.id]
    with pytest.raises(ArtifactNotFoundError):
        keys.revoke_key(store, key.id, project="q")  # another project's key: not found
    revoked = keys.revoke_key(store, key.id)
    assert revoked.revoked and keys.revoke_key(store, key.id).revoked_at == revoked.revoked_at
    with pytest.raises(UnauthenticatedError):
        keys.authenticate(store, secret)
    assert keys.get_key(store, other.id) == other


@pytest.mark.parametrize("secret", [None, "", "ak_short", "ak_" + "x" * 43, "bearer",
                                    "ak_" + "é" * 43])
def test_bad_secrets_are_unauthenticated(store: SqlBackend, secret: str | None) -> None:
    keys.create_key(store, "p", "admin")
    with pytest.raises(UnauthenticatedError):
        keys.authenticate(store, secret)


def test_scopes_and_arguments(store: SqlBackend) -> None:
    key, _ = keys.create_key(store, "p", "write")
    assert key.allows("read") and key.allows("write") and not key.allows("admin")
    with pytest.raises(PermissionDeniedError, match="needs 'admin'"):
        keys.require(key, "admin")
    with pytest.raises(InvalidInputError):
        keys.create_key(store, "p", "root")
    with pytest.raises(InvalidNameError):
        keys.create_key(store, "../p", "read")
    with pytest.raises(ArtifactNotFoundError):
        keys.revoke_key(store, "not-an-id")
    assert store.list_keys(None) == [key]  # nothing else was written


def test_counts_blob_visibility_and_run_projects(store: SqlBackend) -> None:
    digest = "sha256:" + "a" * 64
    for project in ("p", "p", "q"):
        store.create_versions([NewVersion(id=new_id(), project=project, name="n",
                                          artifact_type="t", created_at=time.time(),
                                          kind="file", digest=digest, size=1,
                                          blob_digests=(digest,))])
    assert store.count_versions() == {"p": 2, "q": 1}
    assert store.visible_blobs("p", [digest]) == {digest} and not store.visible_blobs("r", [digest])
    uploaded = "sha256:" + "b" * 64
    store.claim_blobs("r", [uploaded, uploaded], time.time())
    store.claim_blobs("r", [uploaded], time.time())  # claiming twice is harmless
    assert store.visible_blobs("r", [digest, uploaded]) == {uploaded}
    assert store.project_blobs("r") == {uploaded} and store.project_blobs("q") == {digest}
    store.forget_blobs([uploaded])
    assert store.visible_blobs("r", [uploaded]) == set()
    assert store.project_blob_references("q") == {digest: True}
    assert store.project_blob_references("r") == {}
    run = store.create_run(NewRun(id=new_id(), project="q", pipeline="train",
                                  started_at=time.time()))
    assert store.run_project(run.id) == "q"
    with pytest.raises(ArtifactNotFoundError):
        store.run_project(new_id())


def test_the_web_uis_home_page_summaries(store: SqlBackend) -> None:
    """Per-type counts, the newest versions and every alias of one project (the home
    page), deleted versions and other projects left out."""
    def add(project: str, name: str, kind: str, at: float, aliases: tuple[str, ...] = ()
            ) -> str:
        version_id = new_id()
        store.create_versions([NewVersion(id=version_id, project=project, name=name,
                                          artifact_type=kind, created_at=at,
                                          aliases=aliases)])
        return version_id

    old = add("p", "model", "Model", 100.0)
    new = add("p", "model", "Model", 300.0, ("production",))
    data = add("p", "data", "Dataset", 200.0, ("raw", "latest"))
    gone = add("p", "data", "Dataset", 400.0)
    add("q", "model", "Model", 500.0, ("production",))
    store.delete_version(gone, "ci")
    assert store.count_types("p") == {"Model": 2, "Dataset": 1}
    assert store.count_types("nobody") == {}
    assert store.recent_ids("p", 2) == [new, data]
    assert store.recent_ids("p", 10) == [new, data, old]
    assert store.aliased("p", 10) == [("data", "latest", data, 1), ("data", "raw", data, 1),
                                      ("model", "production", new, 2)]
    assert store.aliased("p", 1) == [("data", "latest", data, 1)]
