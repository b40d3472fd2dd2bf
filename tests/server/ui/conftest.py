"""What the browser tests of the web UI share: a rich catalog made with the public Python
API, servers on it (single user, and with API keys), and a watched page.

The catalog (one per test process: xdist workers each build their own) holds:

- ``bulk:1`` … ``bulk:55`` (type ``Sample``, metadata only: more than a search page
  holds);
- ``transactions:1``/``:2`` (``Dataset`` from pandas; version 2 renames a column and
  changes the amounts), ``fraud_model:1`` … ``:6`` (``Model`` with accuracy and loss,
  made from ``transactions:2``, aliases ``staging`` → 6 and ``production`` → 5, tags),
  ``roc`` (a matplotlib ``Plot``), ``images`` (a ``Directory``), ``labels`` (a plain
  file), a pipeline run ``fraud_detection/1`` (succeeded) and ``etl/1`` (a step failed);
- the XSS payloads: tag ``note`` = ``<script>alert(1)</script>`` on ``fraud_model:6``
  (recent: on the home page), ``customers:1`` whose dataset has a column
  ``<img src=x onerror=alert(1)>``, and the description ``<b>bold</b>`` on
  ``transactions:2``;
- ``scratch_single`` and ``scratch_keyed``, versions the edit tests change (no other
  test looks at them);
- project ``other`` with ``secret_model:1``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from archivist import ArtifactCatalog, pipeline, step
from archivist.server import ServerSettings, create_app, keys
from archivist.server.state import ServerState
from tests.fixtures.browser import block_external, serve_app
from tests.helpers import isolate_environment

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Dialog, Page

XSS_TAG = "<script>alert(1)</script>"
XSS_COLUMN = "<img src=x onerror=alert(1)>"
XSS_DESCRIPTION = "<b>bold</b>"
BULK = 55
MODEL_VERSIONS = 6
LABELS = b"id,label\n1,fraud\n2,ok\n3,ok\n"
IMAGE_FILES = {"a.txt": b"first file\n", "sub/b.txt": b"second file, in a folder\n"}
FAILED_STEP_ERROR = "the amounts do not add up"


@dataclass
class Catalog:
    """A catalog home and the ids of what the tests look at (``"name:3"`` → id)."""

    home: Path
    ids: dict[str, str]


@dataclass
class Site:
    """A UI server on a catalog: its base URL, and the secrets of its keys by name."""

    url: str
    catalog: Catalog
    state: ServerState
    secrets: dict[str, str] = field(default_factory=dict)

    def at(self, path: str) -> str:
        return self.url + path

    def version(self, ref: str) -> str:
        """The URL of the page of version ``ref`` (``"name:3"``)."""
        return self.at(f"/versions/{self.catalog.ids[ref]}")


def _frame(rows: int, renamed: bool = False) -> Any:
    import pandas as pd

    merchants = ["shop", "fuel", "travel", "grocery"]
    return pd.DataFrame({
        "amount": [round(3.5 * i + (100.0 if renamed else 0.0), 2) for i in range(rows)],
        "shop" if renamed else "merchant": [merchants[i % 4] for i in range(rows)],
        "fraud": [int(i % 7 == 0) for i in range(rows)],
    })


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3))
    axes = figure.subplots()
    axes.plot([0, 0.1, 0.3, 1], [0, 0.6, 0.85, 1])
    axes.set_title("ROC")
    return figure


@step
def extract() -> list[int]:
    return [1, 2, 3]


@step
def reconcile(rows: list[int]) -> int:
    raise ValueError(FAILED_STEP_ERROR)


def build_catalog(home: Path, folder: Path) -> Catalog:
    """Fill ``home`` through the public API (see the module docstring)."""
    ids: dict[str, str] = {}
    with ArtifactCatalog(home) as catalog:
        bulk = catalog.register_many([{"name": "bulk", "artifact_type": "Sample",
                                       "metadata": {"n": i}} for i in range(BULK)])
        ids.update({f"bulk:{i + 1}": v for i, v in enumerate(bulk)})
        ids["scratch_single:1"] = catalog.register("scratch_single", "Note", data={"s": 1})
        ids["scratch_keyed:1"] = catalog.register("scratch_keyed", "Note", data={"k": 1})
        ids["customers:1"] = catalog.log_dataset(
            "customers", _customers(), tags={"team": "growth"}).id
        ids["transactions:1"] = catalog.log_dataset(
            "transactions", _frame(30), tags={"stage": "raw"}).id
        ids["transactions:2"] = catalog.log_dataset(
            "transactions", _frame(40, renamed=True), tags={"stage": "clean"},
            parent_ids=[ids["transactions:1"]], description=XSS_DESCRIPTION).id
        for number in range(1, MODEL_VERSIONS + 1):
            tags: dict[str, Any] = {"team": "risk",
                                    "stage": "prod" if number == 5 else "dev"}
            if number == MODEL_VERSIONS:
                tags["note"] = XSS_TAG
            ids[f"fraud_model:{number}"] = catalog.log_model(
                "fraud_model", {"w": number},
                metrics={"accuracy": round(0.70 + 0.04 * number, 2),
                         "loss": round(0.9 - 0.1 * number, 2)},
                tags=tags, parent_ids=[ids["transactions:2"]]).id
        catalog.set_alias(f"fraud_model:{MODEL_VERSIONS - 1}", "production")
        catalog.set_alias(f"fraud_model:{MODEL_VERSIONS}", "staging")
        ids["roc:1"] = catalog.log_plot("roc", _figure(),
                                        parent_ids=[ids["fraud_model:5"]]).id
        images = folder / "images"
        for name, content in IMAGE_FILES.items():
            (images / name).parent.mkdir(parents=True, exist_ok=True)
            (images / name).write_bytes(content)
        ids["images:1"] = catalog.register("images", "Directory", path=images)
        labels = folder / "labels.csv"
        labels.write_bytes(LABELS)
        ids["labels:1"] = catalog.register("labels", "Labels", path=labels)
        with pipeline("fraud_detection", catalog=catalog, parameters={"seed": 7}):
            extract()
        with pytest.raises(ValueError, match=FAILED_STEP_ERROR), \
                pipeline("etl", catalog=catalog, parameters={"day": "2024-01-02"}):
            reconcile(extract())
        ids["extract:1"] = catalog.get("extract:1").id
        for run in catalog.runs():
            ids[f"run:{run.pathspec}"] = run.id
    with ArtifactCatalog(home, project="other") as other:
        ids["other/secret_model:1"] = other.register("secret_model", "Model", data={"w": 0})
    return Catalog(home=home, ids=ids)


def _customers() -> Any:
    import pandas as pd

    return pd.DataFrame({"customer": [f"c{i:02d}" for i in range(25)],
                         XSS_COLUMN: [float(i * i) for i in range(25)]})


@pytest.fixture(scope="session")
def rich_catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The catalog of the module docstring, built once per test process."""
    folder = tmp_path_factory.mktemp("ui-rich")
    with pytest.MonkeyPatch.context() as patch:
        isolate_environment(patch, folder)
        return build_catalog(folder / "home", folder)


@pytest.fixture(scope="session")
def single(rich_catalog: Catalog) -> Iterator[Site]:
    """A single-user server (``--insecure-single-user``) on the rich catalog."""
    app = create_app(ServerSettings(home=str(rich_catalog.home), insecure_single_user=True))
    with serve_app(app) as url:
        yield Site(url, rich_catalog, app.state.archivist)


@pytest.fixture(scope="session")
def keyed(rich_catalog: Catalog) -> Iterator[Site]:
    """A server with API keys on the same catalog: ``read``, ``write``, ``admin`` of
    project ``default`` and ``other_read`` of project ``other``."""
    app = create_app(ServerSettings(home=str(rich_catalog.home), insecure_single_user=False))
    state: ServerState = app.state.archivist
    secrets = {}
    for name, project, scope in (("read", "default", "read"), ("write", "default", "write"),
                                 ("admin", "default", "admin"),
                                 ("other_read", "other", "read")):
        secrets[name] = keys.create_key(state.store, project, scope, f"ui-{name}")[1]
    with serve_app(app) as url:
        yield Site(url, rich_catalog, state, secrets)


@pytest.fixture(scope="session")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A single-user server on a catalog with nothing registered."""
    home = tmp_path_factory.mktemp("ui-empty") / "home"
    ArtifactCatalog(home).close()
    app = create_app(ServerSettings(home=str(home), insecure_single_user=True))
    with serve_app(app) as url:
        yield Site(url, Catalog(home, {}), app.state.archivist)


# -- the watched page ----------------------------------------------------------------------

#: console messages that mean a page broke its own rules (CSP) or its script failed
_BAD_CONSOLE = re.compile(r"Content Security Policy|Refused to|Uncaught", re.IGNORECASE)


@dataclass
class Watch:
    """What a page did that it must not: requests leaving the machine, CSP violations or
    script errors in the console, uncaught exceptions; and the dialogs it opened, as
    ``(type, message)`` (a ``confirm`` is accepted, any other dialog dismissed)."""

    blocked: list[str]
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str]] = field(default_factory=list)

    def problems(self) -> dict[str, list[Any]]:
        alerts = [d for d in self.dialogs if d[0] != "confirm"]
        return {k: v for k, v in (("blocked requests", self.blocked),
                                  ("console", self.console), ("page errors", self.errors),
                                  ("dialogs other than confirm", alerts)) if v}


@pytest.fixture
def watch(page: Page) -> Iterator[Watch]:
    """Starts a test on ``page`` with :func:`block_external` and listeners; at its end
    asserts that nothing left the machine, nothing broke the CSP, no script failed and
    no alert or prompt opened. The UI's own ``confirm`` dialogs (``data-confirm`` forms)
    are accepted and recorded."""
    watched = Watch(blocked=block_external(page))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and _BAD_CONSOLE.search(message.text):
            watched.console.append(message.text)

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append((dialog.type, dialog.message))
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on("dialog", on_dialog)
    yield watched
    assert watched.problems() == {}, "the page did what it must not"


def login(page: Page, site: Site, who: str, next_path: str = "/") -> None:
    """Log in on the keyed ``site`` with the key ``who`` through the login form."""
    page.goto(site.at(f"/login?next={next_path}"))
    page.fill("input[name=key]", site.secrets[who])
    with page.expect_navigation():
        page.click("form[action='/login'] button")
