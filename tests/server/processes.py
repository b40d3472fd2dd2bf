"""Real ``archivist server`` processes for the tests that need them (streaming memory,
several servers on one catalog): started on 127.0.0.1 on a free port, stopped after."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fixtures.services import free_port


@dataclass(frozen=True)
class Running:
    url: str
    pid: int
    log: Path


@contextlib.contextmanager
def server_process(args: list[str], log: Path, *, timeout: float = 60.0) -> Iterator[Running]:
    """``archivist server --host 127.0.0.1 --port <free> <args>`` until the block exits.

    Raises:
        AssertionError: the server did not answer ``/health`` within ``timeout`` seconds
            (the message holds the end of its log).
    """
    port = free_port()
    command = [sys.executable, "-m", "archivist.cli", "server", "--host", "127.0.0.1",
               "--port", str(port), *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env=dict(os.environ), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n"
                                     f"{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield Running(url=url, pid=process.pid, log=log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
