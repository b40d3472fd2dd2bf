"""Real ``archivist server`` processes for the tests that need them (streaming memory,
several servers on one catalog, remote and worker tests): on 127.0.0.1, stopped after.

The server binds port 0 and the kernel picks the port, which uvicorn logs; a port looked up
free beforehand could be taken (by a parallel test worker) before the server bound it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

#: uvicorn's line once it listens (``--workers N``: the parent's, before the workers start).
_LISTENING = re.compile(rb"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class Running:
    url: str
    pid: int
    log: Path


@contextlib.contextmanager
def server_process(args: list[str], log: Path, *, timeout: float = 60.0) -> Iterator[Running]:
    """``archivist server --host 127.0.0.1 --port 0 <args>`` until the block exits.

    Raises:
        AssertionError: the server did not answer ``/health`` within ``timeout`` seconds
            (the message holds the end of its log).
    """
    command = [sys.executable, "-m", "archivist.cli", "server", "--host", "127.0.0.1",
               "--port", "0", *args]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env=dict(os.environ), start_new_session=True)
    try:
        yield Running(url=_serving_url(process, log, timeout), pid=process.pid, log=log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _serving_url(process: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    """The server's URL (its port read from its log) once it answers ``/health``."""
    deadline = time.monotonic() + timeout
    url: str | None = None
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n"
                                 f"{log.read_text()[-3000:]}")
        if url is None:
            listening = _LISTENING.search(log.read_bytes())
            url = listening.group(1).decode() if listening else None
        if url is not None and _healthy(url):
            return url
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
