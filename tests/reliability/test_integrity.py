"""Integrity, verify and gc (reliability.md d.4) at the CI sizes: I1, I2, I3."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist import ArtifactCatalog, DuplicateArtifactWarning
from tests.helpers import assert_store_consistent
from tests.reliability import workers
from tests.reliability.support import age, live_blob_refs

MakeCatalog = Callable[..., ArtifactCatalog]
DAY = 86_400.0


def _write_sources(folder: Path, count: int, rng: random.Random) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"src-{i:04d}.bin"
        path.write_bytes(rng.randbytes(rng.randint(100, 4000)))
        paths.append(path)
    return paths


def _flip_bit(path: Path, rng: random.Random, position: int | None = None) -> None:
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    pos = rng.randrange(len(data)) if position is None else position
    data[pos] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    path.chmod(mode)


def _truncate(path: Path, rng: random.Random) -> None:
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IWUSR)
    os.truncate(path, rng.randrange(path.stat().st_size))
    path.chmod(mode)


def _append(path: Path) -> None:
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IWUSR)
    with path.open("ab") as f:
        f.write(b"\0")
    path.chmod(mode)


def test_i1_verify_classifies_every_mutation(tmp_path: Path, make_catalog: MakeCatalog) -> None:
    """I1: 300 blobs, 30 random mutations -> verify() puts each in its category, 0 false
    positives (a fresh temp file and 270 untouched blobs are not reported)."""
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    catalog = make_catalog(tmp_path / "home")
    sources = _write_sources(tmp_path / "src", 300, rng)
    ids = catalog.register_many([{"name": f"blob{i:03d}", "path": p}
                                 for i, p in enumerate(sources)])
    digests = [a.digest for a in catalog.list(limit=1000)]
    assert len(set(digests)) == len(ids) == 300
    blob_dir = tmp_path / "home" / "blobs"
    tmp_dir = blob_dir / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()

    kinds = ["flip", "truncate", "delete", "symlink", "unreferenced", "stale_temp"] * 5
    rng.shuffle(kinds)
    targets = iter(rng.sample(sorted(d for d in digests if d), 20))
    expected: dict[str, set[str]] = {k: set() for k in
                                     ("corrupt", "missing", "suspicious", "unreferenced",
                                      "stale_temp")}
    for kind in kinds:
        if kind in ("flip", "truncate", "delete", "symlink"):
            digest = next(targets)
            path = Path(catalog.blobs.path(digest))
            if kind == "flip":
                _flip_bit(path, rng)
                expected["corrupt"].add(digest)
            elif kind == "truncate":
                _truncate(path, rng)
                expected["corrupt"].add(digest)
            elif kind == "delete":
                path.unlink()
                expected["missing"].add(digest)
            else:  # the right bytes, but through a symlink: never followed
                copy = outside / digest[7:]
                shutil.copyfile(path, copy)
                path.unlink()
                path.symlink_to(copy)
                expected["suspicious"].add(digest)
        elif kind == "unreferenced":
            data = rng.randbytes(rng.randint(1, 3000))
            hexd = hashlib.sha256(data).hexdigest()
            (blob_dir / "sha256" / hexd[:2]).mkdir(exist_ok=True)
            (blob_dir / "sha256" / hexd[:2] / hexd[2:]).write_bytes(data)
            expected["unreferenced"].add(f"sha256:{hexd}")
        else:
            temp = tmp_dir / f"{secrets.token_hex(12)}.tmp"
            temp.write_bytes(rng.randbytes(100))
            age([temp], 2 * 3600)
            expected["stale_temp"].add(temp.name)
    (tmp_dir / f"{secrets.token_hex(12)}.tmp").write_bytes(b"a put in flight")  # control

    report = catalog.verify()
    got = {"corrupt": set(report.corrupt), "missing": set(report.missing),
           "suspicious": set(report.suspicious), "unreferenced": set(report.unreferenced),
           "stale_temp": {os.path.basename(p) for p in report.stale_temp}}
    right = sum(len(got[k] & expected[k]) for k in expected)
    false_positives = sum(len(got[k] - expected[k]) for k in expected)
    print(f"\nI1 (seed {seed}): 300 blobs, 30 mutations -> {right}/30 reported in the right "
          f"category, {false_positives} false positives; "
          + ", ".join(f"{k} {len(got[k])}/{len(expected[k])}" for k in expected)
          + f"; checked {report.checked}; ok={report.ok}")
    assert got == expected
    assert right == 30 and false_positives == 0
    assert report.checked == 300, "every referenced blob is rehashed"
    assert not report.ok


def test_i2_corrupt_blobs_are_never_returned(tmp_path: Path,
                                            make_catalog: MakeCatalog) -> None:
    """I2: 20 corrupt blobs -> load/open().read()/download each raise IntegrityError;
    download leaves nothing at dest; a corrupt pickle canary never runs, even with
    allow_pickle=True."""
    rng = random.Random(2)
    catalog = make_catalog(tmp_path / "home")
    markers = tmp_path / "markers"
    markers.mkdir()

    # The canary is live: an intact one runs when loaded with consent.
    control = catalog.register("canary-control", data=workers.Canary(
        str(markers / "control"), rng.randbytes(4000)))
    catalog.load(control, allow_pickle=True)
    assert (markers / "control").exists(), "the pickle canary does not work"

    versions: list[tuple[str, str]] = []  # (id, kind)
    for i, path in enumerate(_write_sources(tmp_path / "src", 8, rng)):
        versions.append((catalog.register(f"file{i}", path=path), "file"))
    for i in range(6):
        versions.append((catalog.register(f"bytes{i}", data=rng.randbytes(2000 + i)), "bytes"))
    for i in range(6):
        canary = workers.Canary(str(markers / f"canary{i}"), rng.randbytes(4000))
        versions.append((catalog.register(f"canary{i}", data=canary), "canary"))

    for n, (version_id, kind) in enumerate(versions):
        art = catalog.get(version_id)
        path = Path(catalog.blobs.path(art.digest or ""))
        if kind == "canary":
            _flip_bit(path, rng, position=path.stat().st_size // 2)  # inside the payload
            # The damage is silent: the bytes still unpickle into the marker call.
            probe = _Probe(io.BytesIO(path.read_bytes()))
            assert probe.load() == "would run", "corruption broke the pickle itself"
        elif n % 3 == 0:
            _truncate(path, rng)
        elif n % 3 == 1:
            _append(path)
        else:
            _flip_bit(path, rng)

    outcomes: dict[str, dict[str, int]] = {op: {} for op in ("load", "open", "download")}
    dest_dir = tmp_path / "downloads"
    dest_dir.mkdir()
    for version_id, _kind in versions:
        for op in outcomes:
            try:
                if op == "load":
                    catalog.load(version_id, allow_pickle=True)
                elif op == "open":
                    with catalog.open(version_id) as handle:
                        handle.read()
                else:
                    catalog.download(version_id, dest_dir / version_id)
                result = "returned"
            except Exception as exc:
                result = type(exc).__name__
            outcomes[op][result] = outcomes[op].get(result, 0) + 1
    left_at_dest = sorted(p.name for p in dest_dir.iterdir())
    ran = sorted(p.name for p in markers.iterdir() if p.name != "control")
    returned = sum(o.get("returned", 0) for o in outcomes.values())
    print(f"\nI2: 20 corrupt blobs (8 file, 6 bytes, 6 pickle canaries) -> {returned} "
          f"successful returns; outcomes {outcomes}; files left at dest {len(left_at_dest)}; "
          f"canaries that ran {len(ran)}")
    assert returned == 0
    assert outcomes == {op: {"IntegrityError": 20} for op in outcomes}
    assert left_at_dest == []
    assert ran == []


class _Probe(pickle.Unpickler):
    """Unpickles without running anything: every global becomes a stub."""

    def find_class(self, module: str, name: str) -> Any:
        return lambda *args: "would run"


def test_i3_gc_frees_exactly_the_old_orphans(tmp_path: Path,
                                             make_catalog: MakeCatalog) -> None:
    """I3: 100 referenced blobs, 20 old orphans, 20 young orphans, 5 blobs shared by a
    live and a deleted version; everything but the young orphans aged past the grace
    period -> gc(grace="1d") frees exactly the 20 old orphans; the dry run lists the
    same set first."""
    rng = random.Random(3)
    catalog = make_catalog(tmp_path / "home")
    sources = _write_sources(tmp_path / "src", 100, rng)
    catalog.register_many([{"name": f"ref{i:03d}", "path": p} for i, p in enumerate(sources)])
    shared: set[str] = set()
    for i in range(5):
        data = rng.randbytes(1000 + i)
        catalog.register(f"live{i}", data=data)
        with pytest.warns(DuplicateArtifactWarning):
            dead = catalog.register(f"dead{i}", data=data)
        catalog.delete(dead)
        shared.add(catalog.get(f"live{i}").digest or "")
    old = {catalog.blobs.put_bytes(rng.randbytes(500 + i))[0] for i in range(20)}
    young = {catalog.blobs.put_bytes(rng.randbytes(700 + i))[0] for i in range(20)}
    everything = set(catalog.blobs.iter_digests())
    assert len(everything) == 100 + 5 + 20 + 20
    age([catalog.blobs.path(d) for d in everything - young], 3 * DAY)
    age([catalog.blobs.path(d) for d in young], 3600)  # 1 h: inside the grace

    dry = catalog.gc()
    still_there = set(catalog.blobs.iter_digests())
    applied = catalog.gc(dry_run=False, grace="1d")
    remaining = set(catalog.blobs.iter_digests())
    reasons: dict[str, int] = {}
    for reason in applied.kept.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    print(f"\nI3: {len(everything)} blobs -> dry run lists {len(dry.freed)} "
          f"(same set as applied: {set(dry.freed) == set(applied.freed)}), gc frees "
          f"{len(applied.freed)} ({len(set(applied.freed) & old)} of the 20 old orphans), "
          f"keeps {len(remaining)}: {reasons}; shared blobs kept "
          f"{len(shared & remaining)}/5")
    assert dry.dry_run and still_there == everything
    assert set(dry.freed) == old
    assert set(applied.freed) == old
    assert remaining == everything - old
    assert shared <= remaining and young <= remaining
    assert live_blob_refs(catalog) | young == remaining
    assert dry.freed_bytes == applied.freed_bytes > 0
    assert_store_consistent(catalog)
