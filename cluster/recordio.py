"""RecordIO framing of the scheduler stream: ``<decimal byte length>\\n<payload>``.

Records and HTTP chunks are independent: one record may span many chunks and one chunk
may carry many records, so the decoder buffers bytes and counts bytes, never characters.
"""

from __future__ import annotations

from collections.abc import Iterable

# 20 digits hold any uint64; a longer header is garbage, not a big record.
_MAX_HEADER_DIGITS = 20
DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024


class RecordIOError(ValueError):
    """The byte stream is not valid RecordIO; the stream cannot be resynchronised."""


def encode(record: bytes) -> bytes:
    return b"%d\n%s" % (len(record), record)


def encode_all(records: Iterable[bytes]) -> bytes:
    return b"".join(encode(record) for record in records)


class RecordIODecoder:
    """Incremental decoder: feed() bytes as they arrive, get back complete records.

    A two-state machine: collect the header up to ``\\n``, then exactly that many
    payload bytes. After a RecordIOError the decoder stays broken, because once a
    header is wrong no later byte can be trusted to start a record.
    """

    def __init__(self, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
        self._buffer = bytearray()
        self._expected: int | None = None  # payload length once the header is read
        self._max_record_bytes = max_record_bytes
        self._error: RecordIOError | None = None

    @property
    def at_boundary(self) -> bool:
        """True when no partial record is buffered (a clean place for the stream to end)."""
        return self._expected is None and not self._buffer

    def feed(self, data: bytes) -> list[bytes]:
        if self._error is not None:
            raise self._error
        self._buffer += data
        records: list[bytes] = []
        try:
            while self._step(records):
                pass
        except RecordIOError as exc:
            self._error = exc
            raise
        return records

    def _step(self, records: list[bytes]) -> bool:
        if self._expected is None:
            return self._read_header()
        if len(self._buffer) < self._expected:
            return False
        records.append(bytes(self._buffer[: self._expected]))
        del self._buffer[: self._expected]
        self._expected = None
        return True

    def _read_header(self) -> bool:
        newline = self._buffer.find(b"\n", 0, _MAX_HEADER_DIGITS + 1)
        if newline < 0:
            if len(self._buffer) > _MAX_HEADER_DIGITS:
                raise RecordIOError(f"record header too long: {bytes(self._buffer[:24])!r}")
            self._check_digits(self._buffer)
            return False
        header = self._buffer[:newline]
        if not header:
            raise RecordIOError("empty record header (expected a decimal length before '\\n')")
        self._check_digits(header)
        length = int(header)
        if length > self._max_record_bytes:
            raise RecordIOError(
                f"record of {length} bytes exceeds the {self._max_record_bytes}-byte limit"
            )
        del self._buffer[: newline + 1]
        self._expected = length
        return True

    @staticmethod
    def _check_digits(header: bytes | bytearray) -> None:
        # Checked as soon as bytes arrive so a non-RecordIO body (an HTML error page,
        # plain JSON) fails at once instead of after 20 bytes.
        if not header.isdigit() and header:
            raise RecordIOError(f"non-numeric record header: {bytes(header[:24])!r}")
