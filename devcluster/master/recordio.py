"""RecordIO framing of the scheduler event stream (stout/recordio.hpp).

A record is its payload's length in bytes as ASCII decimal, a newline, then exactly that
many bytes; nothing separates one record from the next.
"""

from __future__ import annotations

from devcluster.interfaces import Json
from devcluster.master.mesosjson import dumps_bytes


def encode(payload: bytes) -> bytes:
    return b"%d\n%s" % (len(payload), payload)


def encode_event(event: Json) -> bytes:
    return encode(dumps_bytes(event))
