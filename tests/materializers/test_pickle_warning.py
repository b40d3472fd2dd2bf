"""Registering an object only pickle can store says so, at the user's line, once per
registration; portable values and flows (which pickle by design) say nothing."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from archivist import ArtifactCatalog, PickleNotAllowedError, PickleWarning


class Thing:
    def __init__(self, value: int) -> None:
        self.value = value


def test_a_pickled_object_warns_at_the_callers_line(tmp_path: Path) -> None:
    catalog = ArtifactCatalog(tmp_path)
    with pytest.warns(PickleWarning, match=r"Thing.*allow_pickle=True") as caught:
        vid = catalog.register("thing", data=Thing(3))
    assert len(caught) == 1
    assert Path(caught[0].filename).resolve() == Path(__file__).resolve()
    with pytest.raises(PickleNotAllowedError):
        catalog.load(vid)
    assert catalog.load(vid, allow_pickle=True).value == 3


@pytest.mark.parametrize("value", [{"a": [1, 2]}, [1, 2.5], "text", b"bytes", 7])
def test_portable_values_do_not_warn(tmp_path: Path, value: object) -> None:
    catalog = ArtifactCatalog(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PickleWarning)
        catalog.register("value", data=value)


def test_a_step_returning_a_pickled_object_warns(tmp_path: Path) -> None:
    from archivist import pipeline, step

    @step
    def make() -> Thing:
        return Thing(1)

    catalog = ArtifactCatalog(tmp_path)
    with pytest.warns(PickleWarning), pipeline("p", catalog=catalog):
        make()


def test_a_flow_attribute_pickles_without_a_warning(tmp_path: Path) -> None:
    """Flows keep every attribute, like Metaflow, which pickles them all; their client
    (``Run(..., allow_pickle=True)``) is where consent is given."""
    from archivist import Flow, step

    class KeepsThing(Flow):
        @step
        def start(self):  # type: ignore[no-untyped-def]
            self.thing = Thing(5)
            self.next(self.end)

        @step
        def end(self):  # type: ignore[no-untyped-def]
            pass

    with warnings.catch_warnings():
        warnings.simplefilter("error", PickleWarning)
        run = KeepsThing().run(catalog=ArtifactCatalog(tmp_path))
    assert run.status == "succeeded"
