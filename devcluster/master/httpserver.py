"""A small HTTP/1.1 server for the master's API: keep-alive, pipelining, chunked streams.

A framework sends thousands of small calls a second on one keep-alive connection. A
general web framework spends most of each call on request and response objects and one
write per response; here a call is parsed in place, answered synchronously, and every
answer to the requests that arrived together leaves in one write. Handlers may still be
coroutines (fault controls that wait for an agent); later requests on that connection
wait, so answers stay in order. A SUBSCRIBE turns its connection into a chunked event
stream until the stream ends.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
# A chunk-size line with its extensions; a longer one is refused rather than buffered.
MAX_CHUNK_LINE = 4096
# int() also takes signs, '_' and spaces: "-1" would send the parser backwards forever.
_CONTENT_LENGTH = re.compile(r"[0-9]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
# A stream whose reader stopped reading is dropped rather than buffered without end.
MAX_STREAM_BACKLOG = 64 * 1024 * 1024

REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class Headers(dict[str, str]):
    """Request headers; names are matched case-insensitively."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


class Request:
    __slots__ = (
        "body",
        "connection",
        "headers",
        "match_info",
        "method",
        "path",
        "principal",
        "query",
        "target",
        "version",
    )

    def __init__(
        self, method: str, target: str, version: str, headers: Headers, body: bytes
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        parts = urlsplit(target)
        self.path = unquote(parts.path)
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.match_info: dict[str, str] = {}
        self.connection: Connection | None = None
        # Set when the endpoint's realm is authenticated (devcluster.security).
        self.principal: str | None = None

    @property
    def path_qs(self) -> str:
        return self.target

    @property
    def keep_alive(self) -> bool:
        connection = str(self.headers.get("Connection", "")).lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    def encode(self, keep_alive: bool) -> bytes:
        head = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}"]
        head.extend(f"{name}: {value}" for name, value in self.headers.items())
        head.append(f"Content-Length: {len(self.body)}")
        if not keep_alive:
            head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


class StreamStart:
    """What a handler returns to turn its connection into an event stream.

    `start(connection)` is called once the head is written; it returns the object that
    will write the stream (it must call connection.stream_done() when it ends)."""

    def __init__(self, headers: dict[str, str], start: Callable[[Connection], Any]) -> None:
        self.headers = headers
        self.start = start


Result = Response | StreamStart
Handler = Callable[[Request], Result | Awaitable[Result]]


class Router:
    def __init__(self) -> None:
        self._exact: dict[str, Handler] = {}
        self._patterns: list[tuple[re.Pattern[str], Handler]] = []

    def add(self, path: str, handler: Handler) -> None:
        if "{" not in path:
            self._exact[path] = handler
            return
        regex = re.sub(r"\{(\w+)(?::([^}]+))?\}", lambda m: f"(?P<{m[1]}>{m[2] or '[^/]+'})", path)
        self._patterns.append((re.compile(f"^{regex}$"), handler))

    def resolve(self, request: Request) -> Handler | None:
        handler = self._exact.get(request.path)
        if handler is not None:
            return handler
        for pattern, candidate in self._patterns:
            match = pattern.match(request.path)
            if match is not None:
                request.match_info = match.groupdict()
                return candidate
        return None


def text(status: int, body: str) -> Response:
    return Response(status, body.encode(), {"Content-Type": "text/plain; charset=utf-8"})


class Connection(asyncio.Protocol):
    def __init__(self, router: Router) -> None:
        self.router = router
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._busy = False  # an async handler or a stream owns the connection
        self._closing = False
        self._continued = False  # "100 Continue" sent for the request being read
        self.on_lost: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer.extend(data)
        if not self._busy:
            self._serve_buffered()

    def connection_lost(self, exc: Exception | None) -> None:
        # A pending async handler (a fault control) still runs to its end: what it changes
        # must not depend on whether its caller waited for the answer.
        self.transport = None
        callback, self.on_lost = self.on_lost, None
        if callback is not None:
            callback()

    # -- serving --------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if self.transport.get_write_buffer_size() > MAX_STREAM_BACKLOG:
                log.warning(
                    "dropping a connection whose reader fell %d bytes behind", MAX_STREAM_BACKLOG
                )
                self.transport.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def stream_done(self) -> None:
        """A stream ended cleanly: the connection serves requests again."""
        self._busy = False
        self.on_lost = None
        if self._buffer:
            asyncio.get_running_loop().call_soon(self._serve_buffered)

    def _serve_buffered(self) -> None:
        out: list[bytes] = []
        while not self._busy and not self._closing and self.transport is not None:
            request = self._parse(out)
            if request is None:
                break
            self._dispatch(request, out)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        if self._closing and not self._busy and self.transport is not None:
            self.transport.close()

    def _dispatch(self, request: Request, out: list[bytes]) -> None:
        handler = self.router.resolve(request)
        if handler is None:
            self._answer(request, text(404, ""), out)
            return
        try:
            result = handler(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.target)
            result = text(500, "devcluster hit an internal error; see its log")
        if inspect.isawaitable(result):
            self._busy = True
            if out and self.transport is not None:
                self.transport.write(b"".join(out))
                out.clear()
            self._task = asyncio.ensure_future(self._finish_async(request, result))
            return
        self._answer(request, result, out)

    async def _finish_async(self, request: Request, pending: Awaitable[Result]) -> None:
        try:
            result = await pending
        except Exception:
            log.exception("%s %s failed", request.method, request.target)
            result = text(500, "devcluster hit an internal error; see its log")
        self._task = None
        self._busy = False
        out: list[bytes] = []
        self._answer(request, result, out)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        if not self._busy:
            self._serve_buffered()

    def _answer(self, request: Request, result: Result, out: list[bytes]) -> None:
        if isinstance(result, StreamStart):
            self._start_stream(request, result, out)
            return
        keep_alive = request.keep_alive
        out.append(result.encode(keep_alive))
        if not keep_alive:
            self._closing = True

    def _start_stream(self, request: Request, start: StreamStart, out: list[bytes]) -> None:
        head = ["HTTP/1.1 200 OK", *(f"{k}: {v}" for k, v in start.headers.items())]
        head.append("Transfer-Encoding: chunked")
        out.append(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if self.transport is not None:
            self.transport.write(b"".join(out))
        out.clear()
        self._busy = True
        try:
            start.start(self)
        except Exception:
            log.exception("%s %s: the stream failed to start", request.method, request.target)
            self.abort()

    # -- parsing --------------------------------------------------------------------

    def _parse(self, out: list[bytes]) -> Request | None:
        """The next complete request in the buffer, or None until more bytes arrive."""
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                self._refuse(out, 400, "Request head too large")
            return None
        try:
            method, target, version, headers = _parse_head(bytes(buffer[:end]))
            # Built before the body is read: a target urlsplit refuses is a bad head too.
            request = Request(method, target, version, headers, b"")
        except ValueError as error:
            self._refuse(out, 400, f"Malformed request: {error}")
            return None
        parsed = self._body(headers, end + 4, out)
        if parsed is None:
            return None
        request.body, consumed = parsed
        del buffer[:consumed]
        self._continued = False
        request.connection = self
        return request

    def _body(self, headers: Headers, start: int, out: list[bytes]) -> tuple[bytes, int] | None:
        """The body after a head ending at `start`, and where it ends; None for "not yet"."""
        buffer = self._buffer
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            try:
                parsed = _parse_chunked(buffer, start)
            except BodyTooLarge:
                self._refuse(out, 413, "Request body too large")
                return None
            except ValueError as error:
                self._refuse(out, 400, f"Malformed chunked body: {error}")
                return None
            if parsed is None:
                self._continue(headers)
            return parsed
        length = _content_length(headers.get("Content-Length", "0"))
        if length is None:
            self._refuse(out, 400, "Malformed Content-Length")
            return None
        if length > MAX_BODY:
            self._refuse(out, 413, "Request body too large")
            return None
        if len(buffer) < start + length:
            self._continue(headers)
            return None
        return bytes(buffer[start : start + length]), start + length

    def _continue(self, headers: Headers) -> None:
        """Answer "Expect: 100-continue" once, or curl waits a second before the body."""
        if headers.get("Expect", "").lower() == "100-continue" and not self._continued:
            self._continued = True
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _refuse(self, out: list[bytes], status: int, reason: str) -> None:
        out.append(text(status, reason).encode(keep_alive=False))
        self._buffer.clear()
        self._closing = True


def _parse_head(head: bytes) -> tuple[str, str, str, Headers]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"bad request line {lines[0][:80]!r}")
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"bad header line {line[:80]!r}")
        dict.__setitem__(headers, name.lower(), value.strip())
    return parts[0], parts[1], parts[2], headers


class BodyTooLarge(Exception):
    """The body would pass MAX_BODY: refused before the rest of it is waited for."""


def _content_length(value: str) -> int | None:
    """The length a Content-Length header gives, or None when it is not plain digits."""
    if not _CONTENT_LENGTH.fullmatch(value):
        return None
    digits = value.lstrip("0")
    # More digits than MAX_BODY has can only be too large (and int() refuses thousands).
    return MAX_BODY + 1 if len(digits) > len(str(MAX_BODY)) else int(digits or "0")


def _parse_chunked(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position, position + MAX_CHUNK_LINE + 2)
        if line_end < 0:
            if len(buffer) - position > MAX_CHUNK_LINE + 1:
                raise ValueError("chunk size line too long")
            return None
        line = bytes(buffer[position:line_end])
        # Extensions after ';' are allowed and ignored, as before.
        hex_size = line.split(b";", 1)[0]
        if not _CHUNK_SIZE.fullmatch(hex_size):
            raise ValueError(f"bad chunk size {line[:40]!r}")
        size = int(hex_size, 16)
        if len(body) + size > MAX_BODY:
            raise BodyTooLarge
        position = line_end + 2
        if size == 0:
            return _end_of_chunked(buffer, position, body)
        if len(buffer) < position + size + 2:
            return None
        if buffer[position + size : position + size + 2] != b"\r\n":
            raise ValueError("chunk data not followed by CRLF")
        body.extend(buffer[position : position + size])
        position += size + 2


def _end_of_chunked(buffer: bytearray, position: int, body: bytearray) -> tuple[bytes, int] | None:
    """After the last chunk: skip the trailer fields, up to the empty line."""
    trailer_end = buffer.find(b"\r\n\r\n", position - 2)
    if trailer_end < 0:
        if len(buffer) - position > MAX_HEAD:
            raise ValueError("trailer too large")
        return None
    return bytes(body), trailer_end + 4


async def serve(router: Router, sock: Any, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Connection(router), sock=sock, ssl=tls)
