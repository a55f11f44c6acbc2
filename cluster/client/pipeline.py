"""Many scheduler calls on one keep-alive connection, pipelined (HTTP/1.1).

A framework with thousands of tasks acknowledges thousands of updates a second. Sent one
by one, each waits for its 202 before the next goes out and pays a full client round;
pipelined, a window of calls is written back to back and the answers are read in order.
Mesos keeps the calls of one connection in order either way (mesos-api.md 1.1), so this
changes the cost, not the meaning.

Deliberately small: requests have a Content-Length, answers are read by Content-Length or
chunked encoding, and anything unusual (a redirect, a closed connection) ends the batch
with a typed error so the caller can fall back to ordinary calls.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cluster.client.errors import MesosUnreachable
from cluster.client.http import HttpOptions

WINDOW = 128  # calls in flight: their answers fit any socket buffer, so nobody blocks


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class Pipeline:
    """One connection to one master, opened on first use, reused until closed."""

    def __init__(self, base_url: str, options: HttpOptions) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.options = options
        self._sock: socket.socket | None = None
        self._buffer = b""
        auth = ""
        if options.principal is not None:
            token = base64.b64encode(f"{options.principal}:{options.secret or ''}".encode())
            auth = f"Authorization: Basic {token.decode('ascii')}\r\n"
        self._auth = auth

    def post(
        self,
        path: str,
        bodies: Sequence[bytes],
        headers: dict[str, str],
        written: Callable[[], None] | None = None,
    ) -> list[Answer]:
        """POST every body in order; the answers in the same order. `written` is called
        once the last request is on the wire. Raises MesosUnreachable if the connection
        fails (some calls may have been applied)."""
        answers: list[Answer] = []
        try:
            sock = self._connect()
            head = self._head(path, headers)
            for start in range(0, len(bodies), WINDOW):
                window = bodies[start : start + WINDOW]
                sock.sendall(b"".join(head % len(body) + body for body in window))
                if written is not None and start + WINDOW >= len(bodies):
                    written()
                for _ in window:
                    answers.append(self._answer())
                    if self._sock is None and len(answers) < len(bodies):
                        # "Connection: close": the calls after this answer were not read.
                        raise ConnectionError("the master closed the connection part-way")
        except Exception as error:
            # Whatever broke, answers still unread must never be taken for the next batch's.
            self.close()
            if isinstance(error, (OSError, ValueError)):
                raise MesosUnreachable(self.base_url + path, error) from error
            raise
        return answers

    def _head(self, path: str, headers: dict[str, str]) -> bytes:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        text = f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{lines}{self._auth}"
        return text.replace("%", "%%").encode("latin-1") + b"Content-Length: %d\r\n\r\n"

    def _connect(self) -> socket.socket:
        if self._sock is not None and _closed_by_peer(self._sock):
            # Idle keep-alive connections get closed by masters and proxies; writing a
            # batch into one would lose it all, so open a fresh one first.
            self.close()
        if self._sock is None:
            sock = socket.create_connection(
                (self.host, self.port), timeout=self.options.connect_timeout
            )
            sock.settimeout(self.options.request_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                verify = self.options.verify()
                context = (
                    verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
                )
                sock = context.wrap_socket(sock, server_hostname=self.host)
            self._sock = sock
            self._buffer = b""
        return self._sock

    def _answer(self) -> Answer:
        head = self._until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            body = self._exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Answer(status, body)

    def _chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self._until(b"\r\n").split(b";")[0], 16)
            chunk = self._exactly(size + 2)[:size]  # the data and its CRLF
            if size == 0:
                return body  # no trailers: Mesos sends none
            body += chunk

    def _until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        found, _, self._buffer = self._buffer.partition(marker)
        return found

    def _exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        found, self._buffer = self._buffer[:count], self._buffer[count:]
        return found

    def _fill(self) -> None:
        if self._sock is None:
            raise ConnectionError("the connection was closed")
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionError("the master closed the connection")
        self._buffer += data

    def abort(self) -> None:
        """From another thread: wake a post() blocked on the master, which then fails."""
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._buffer = b""
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def _closed_by_peer(sock: socket.socket) -> bool:
    """A connection with nothing owed to us is readable only when its peer closed it (or
    sent something unasked for): either way it cannot carry the next batch."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
