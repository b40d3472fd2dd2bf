"""The suite's own oracles can fail, on every backend: a rejection that wrote a row, an
object left in the store, a connection to a 127.0.0.1 port that is not the test's own
service — each is caught."""

from __future__ import annotations

import socket
from pathlib import Path

import fsspec
import pytest

from archivist import ArtifactCatalog, InvalidInputError
from tests.badinput.conftest import Guard, NetworkLog


def test_a_rejection_that_wrote_a_row_is_caught(guard: Guard, cat: ArtifactCatalog) -> None:
    def writes_then_refuses() -> None:
        cat.register("written-before-validation")
        raise InvalidInputError("refused after writing")

    with pytest.raises(AssertionError, match="changed the catalog"):
        guard.rejected(InvalidInputError, writes_then_refuses)


def test_a_rejection_that_left_a_store_file_is_caught(guard: Guard) -> None:
    """A stray file or object under any root of the store (the server's, for a remote
    catalog), such as a temp upload never cleaned up."""
    root = guard.stores[-1]

    def leaves_a_temp_then_refuses() -> None:
        with fsspec.open(f"{root}/tmp/stray-upload", "wb", auto_mkdir=True) as stray:
            stray.write(b"half an upload")
        raise InvalidInputError("refused after spooling")

    # (a local home is also in the catalog snapshot, whose check comes first)
    with pytest.raises(AssertionError, match=r"left files in the store|changed the catalog"):
        guard.rejected(InvalidInputError, leaves_a_temp_then_refuses)


def test_a_file_written_outside_the_store_is_caught(guard: Guard, canary: Path) -> None:
    def writes_outside_then_refuses() -> None:
        (canary / "leak.txt").write_text("x")
        raise InvalidInputError("refused after writing outside")

    with pytest.raises(AssertionError, match="outside the store"):
        guard.rejected(InvalidInputError, writes_outside_then_refuses)


def test_other_loopback_ports_are_refused(cat: ArtifactCatalog, no_network: NetworkLog) -> None:
    """Only the backend's own services are let through: a listener on another 127.0.0.1
    port receives nothing, and the attempt is recorded (it would fail the test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client, \
                pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", port))
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert no_network.attempts == [f"connect ('127.0.0.1', {port})"]
    no_network.attempts.clear()  # the refusal was the point of this test
