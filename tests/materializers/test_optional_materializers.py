"""torch (safetensors) and matplotlib (PNG): header and signature checks run without them;
round trips run where they are installed."""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import pytest

from archivist.errors import IntegrityError, MissingDependencyError
from archivist.materializers import (
    MaterializerRegistry,
    PngMaterializer,
    SafetensorsMaterializer,
)
from archivist.materializers.tensors import read_header


def safetensors_file(path: Path, header: dict[str, object], data: bytes = b"",
                     declared: int | None = None) -> Path:
    raw = json.dumps(header).encode()
    size = len(raw) if declared is None else declared
    path.write_bytes(size.to_bytes(8, "little") + raw + data)
    return path


def tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", 2, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00")) + chunk(b"IEND", b""))


# safetensors: checks that need neither torch nor safetensors


def test_safetensors_handles_nothing_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    m = SafetensorsMaterializer()
    assert not m.handles({"w": [1.0]}) and not m.handles(b"x")


@pytest.mark.parametrize("declared", [2**63, 2**64 - 1, 200_000_000])
def test_safetensors_header_bomb_is_refused(registry: MaterializerRegistry, tmp_path: Path,
                                            declared: int) -> None:
    """S8: an absurd header length is refused without reading or allocating it."""
    path = safetensors_file(tmp_path / "t", {"__metadata__": {}}, declared=declared)
    with pytest.raises(IntegrityError, match="safetensors"):
        registry.load("safetensors", path, allow_pickle=False)
    with pytest.raises(IntegrityError, match="refusing"):
        read_header(path)


def test_safetensors_header_past_end_of_file(tmp_path: Path) -> None:
    path = safetensors_file(tmp_path / "t", {"a": 1}, declared=5000)
    with pytest.raises(IntegrityError, match="declares 5000 bytes"):
        read_header(path)


def test_safetensors_header_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes((7).to_bytes(8, "little") + b"{nope}x")
    with pytest.raises(IntegrityError, match="not JSON"):
        read_header(path)
    safetensors_file(path, {"__metadata__": ["x"]})
    with pytest.raises(IntegrityError, match="__metadata__"):
        read_header(path)


def test_safetensors_without_torch_names_the_extra(registry: MaterializerRegistry,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    path = safetensors_file(tmp_path / "t", {"__metadata__": {"archivist.kind": "tensor"}})
    with pytest.raises(MissingDependencyError, match=r"pip install 'archivist\[torch\]'"):
        registry.load("safetensors", path, allow_pickle=False)


def test_safetensors_round_trip(registry: MaterializerRegistry, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    tensor = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    m, meta = registry.save(tensor, tmp_path / "t")
    assert (m.name, meta["kind"], meta["parameters"]) == ("safetensors", "tensor", 6)
    assert torch.equal(registry.load("safetensors", tmp_path / "t", allow_pickle=False), tensor)
    linear = torch.nn.Linear(3, 2)
    state = linear.state_dict()
    m, meta = registry.save(state, tmp_path / "s")
    assert (m.name, meta["kind"], meta["tensors"]) == ("safetensors", "state_dict", 2)
    back = registry.load("safetensors", tmp_path / "s", allow_pickle=False)
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)
    shared = {"a": tensor, "b": tensor}  # tied weights
    registry.save(shared, tmp_path / "shared")
    back = registry.load("safetensors", tmp_path / "shared", allow_pickle=False)
    assert torch.equal(back["a"], back["b"])


# PNG: load needs no matplotlib


def test_png_load_returns_bytes(registry: MaterializerRegistry, tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(tiny_png())
    assert registry.load("png", tmp_path / "p", allow_pickle=False) == tiny_png()


def test_png_with_a_damaged_header(registry: MaterializerRegistry, tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 4)
    with pytest.raises(IntegrityError, match="not a PNG"):
        registry.load("png", tmp_path / "p", allow_pickle=False)


def test_png_handles_nothing_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert not PngMaterializer().handles(object())


def test_png_save_without_matplotlib_names_the_extra(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"archivist\[matplotlib\]"):
        PngMaterializer().save(object(), tmp_path / "p")


def test_figure_round_trip(registry: MaterializerRegistry, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed in this environment")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=50)
    fig.add_subplot().plot([1, 2, 3])
    m, meta = registry.save(fig, tmp_path / "p")
    assert (m.name, m.artifact_type) == ("png", "Plot")
    assert (meta["width"], meta["height"], meta["dpi"]) == (100, 50, 50.0)
    data = registry.load("png", tmp_path / "p", allow_pickle=False)
    assert isinstance(data, bytes) and data.startswith(b"\x89PNG")
