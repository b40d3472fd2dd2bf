"""Version ids: UUIDv7 strings — globally unique and sortable by creation time."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = [0, 0]  # last millisecond, counter within it


def new_id() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, 12-bit counter, 62 random bits.

    The counter keeps ids from one process strictly increasing within a millisecond.
    """
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last[0]:
            ms = _last[0]
            _last[1] += 1
            if _last[1] > 0xFFF:
                ms += 1
                _last[1] = 0
        else:
            _last[1] = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last[0] = ms
        counter = _last[1]
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand
    return str(uuid.UUID(int=value))
