"""Examples in the README and docs/ run as written (every ```python block), and again:
a reader pastes a snippet twice, into the same folder, and it must stay true."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from archivist import DuplicateArtifactWarning

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            found.append((f"{page.name}-{i}", code))
    return found


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_python_examples_run(where: str, code: str, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARCHIVIST_HOME", str(tmp_path / ".archivist"))
    for paste in ("first", "second"):
        namespace: dict[str, object] = {"__name__": f"docs_{where}"}
        with warnings.catch_warnings():
            if paste == "second":  # "these bytes are already in the catalog": true, and said
                warnings.simplefilter("ignore", DuplicateArtifactWarning)
            try:
                exec(compile(code, where, "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"{where} failed when pasted a {paste} time") from exc


def test_the_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_stand_alone(page: Path) -> None:
    """Users have the repository, not the specification it was written from: no page
    cites it, or a file outside the repository."""
    text = page.read_text()
    assert not re.search(r"\bSPEC\b", text), f"{page.name} cites the SPEC"
    outside = re.findall(r"\]\(\.\./[^)]*\)|\.\./shared\b|\bshared/research\b", text)
    assert outside == [], f"{page.name} points outside the repository: {outside}"
