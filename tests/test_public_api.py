"""The public surface is explicit (STYLE P20): ``__all__`` lists exactly the public names."""

from __future__ import annotations

import archivist


def test_all_lists_exactly_the_public_names() -> None:
    public = sorted(n for n in vars(archivist) if not n.startswith("_") and n != "annotations")
    modules = {n for n in public if type(getattr(archivist, n)).__name__ == "module"}
    lazy = ["RemoteCatalogBackend"]  # imported on first use (it imports httpx)
    assert sorted(archivist.__all__) == sorted([*(set(public) - modules), "__version__", *lazy])
    assert all(getattr(archivist, name) for name in lazy)


def test_every_error_is_an_archivist_error_with_code_and_status() -> None:
    errors = [getattr(archivist, n) for n in archivist.__all__ if n.endswith("Error")]
    assert len(errors) >= 10
    for cls in errors:
        assert issubclass(cls, archivist.ArchivistError)
        assert cls.code and 400 <= cls.status < 600
    assert issubclass(archivist.ArtifactNotFoundError, KeyError)
    assert issubclass(archivist.InvalidNameError, ValueError)


def test_a_server_url_opens_the_public_remote_backend() -> None:
    assert "RemoteCatalogBackend" in archivist.__all__
    catalog = archivist.ArtifactCatalog("http://127.0.0.1:9", project="team")
    try:
        assert isinstance(catalog.backend, archivist.RemoteCatalogBackend)
        assert catalog.home is None and catalog.project == "team"
    finally:
        catalog.close()
