"""A deliberately plain v1 scheduler client for devcluster's own tests.

It is independent of devcluster's code (its own RecordIO decoder, raw httpx) so that the
tests hold the server to the wire format rather than to itself.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

Json = dict[str, Any]
EOF = {"type": "__EOF__"}


class RecordIODecoder:
    """Decimal length, newline, exactly that many bytes; chunks may split anything."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._buffer.extend(data)
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return
            length = int(self._buffer[:newline])
            end = newline + 1 + length
            if len(self._buffer) < end:
                return
            record = bytes(self._buffer[newline + 1 : end])
            del self._buffer[:end]
            yield record

    @property
    def pending(self) -> int:
        return len(self._buffer)


class Stream:
    """A SUBSCRIBE connection over a raw socket, read on a background thread.

    A raw socket (not an HTTP library) so that closing it really drops the connection,
    and so that tests can see the chunks exactly as the server framed them."""

    def __init__(self, url: str, body: Any, headers: dict[str, str] | None = None) -> None:
        host, port = url.removeprefix("http://").split(":")
        content = (
            body
            if isinstance(body, bytes)
            else (body if isinstance(body, str) else json.dumps(body)).encode()
        )
        sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        head = f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {host}:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        head += f"Content-Length: {len(content)}\r\n\r\n"
        self._sock = socket.create_connection((host, int(port)), timeout=10)
        self._sock.sendall(head.encode() + content)
        self._file = self._sock.makefile("rb")
        self.status, self.headers = self._read_head()
        self.stream_id = self.headers.get("Mesos-Stream-Id")
        self.events: queue.Queue[Json] = queue.Queue()
        self.received: list[Json] = []
        self.raw = bytearray()
        self.chunks: list[int] = []
        self.ended: str | None = None
        self.body_text = ""
        if self.headers.get("Transfer-Encoding") == "chunked":
            self._sock.settimeout(None)
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        else:
            length = int(self.headers.get("Content-Length", "0"))
            self.body_text = self._file.read(length).decode()
            self.close()

    def _read_head(self) -> tuple[int, httpx.Headers]:
        status = int(self._file.readline().split()[1])
        headers = httpx.Headers()
        while line := self._file.readline().decode("latin-1").strip():
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        return status, headers

    def _read(self) -> None:
        decoder = RecordIODecoder()
        try:
            while True:
                size = int(self._file.readline().split(b";")[0], 16)
                if size == 0:
                    self._file.readline()
                    break
                chunk = self._file.read(size)
                self._file.read(2)
                self.chunks.append(size)
                self.raw.extend(chunk)
                for record in decoder.feed(chunk):
                    event = json.loads(record)
                    self.received.append(event)
                    self.events.put(event)
            self.ended = "eof" if decoder.pending == 0 else "truncated"
        except (OSError, ValueError) as error:
            self.ended = f"error: {type(error).__name__}"
        self.events.put(EOF)

    def next(self, timeout: float = 10.0, *, heartbeats: bool = False) -> Json:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no event in time")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                raise TimeoutError("no event in time") from None
            if event is EOF:
                self.events.put(EOF)
                return event
            if heartbeats or event["type"] != "HEARTBEAT":
                return event

    def wait_for(
        self, kind: str, timeout: float = 10.0, where: Callable[[Json], bool] | None = None
    ) -> Json:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(deadline - time.monotonic(), 0.001), heartbeats=True)
            if event is EOF:
                raise AssertionError(f"stream ended ({self.ended}) while waiting for {kind}")
            if event["type"] == kind and (where is None or where(event)):
                return event

    def updates(
        self, count: int, timeout: float = 10.0, where: Callable[[Json], bool] | None = None
    ) -> list[Json]:
        return [self.wait_for("UPDATE", timeout, where)["update"]["status"] for _ in range(count)]

    def wait_closed(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while self.ended is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.ended is None:
            raise TimeoutError("stream still open")
        return self.ended

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def framework_info(name: str = "devcluster-test", **extra: Any) -> Json:
    info: Json = {
        "user": "root",
        "name": name,
        "failover_timeout": 60.0,
        "roles": ["*"],
        "capabilities": [{"type": "MULTI_ROLE"}],
    }
    capabilities = extra.pop("capabilities", None)
    if capabilities:
        info["capabilities"] = [{"type": c} for c in capabilities]
    info.update(extra)
    return info


class Scheduler:
    """One framework: its subscription stream and a keep-alive connection for calls."""

    def __init__(
        self,
        url: str,
        info: Json | None = None,
        *,
        headers: dict[str, str] | None = None,
        **subscribe_extra: Any,
    ) -> None:
        self.url = url
        self.info = info or framework_info()
        # Sent with the subscription and every call (an Authorization header, say).
        self.headers = headers or {}
        self.calls = httpx.Client(timeout=10.0, headers=self.headers)
        self.stream = Stream(
            url,
            {"type": "SUBSCRIBE", "subscribe": {"framework_info": self.info, **subscribe_extra}},
            self.headers,
        )
        assert self.stream.status == 200, self.stream.body_text
        self.subscribed = self.stream.wait_for("SUBSCRIBED")
        self.framework_id = self.subscribed["subscribed"]["framework_id"]["value"]
        self.info = {**self.info, "id": {"value": self.framework_id}}

    def resubscribe(self, **subscribe_extra: Any) -> Stream:
        body = {
            "type": "SUBSCRIBE",
            "framework_id": {"value": self.framework_id},
            "subscribe": {"framework_info": self.info, **subscribe_extra},
        }
        self.stream = Stream(self.url, body, self.headers)
        return self.stream

    def post(
        self, body: Any, headers: dict[str, str] | None = None, stream_id: str | None = None
    ) -> httpx.Response:
        sent = {"Content-Type": "application/json", "Accept": "application/json"}
        sent["Mesos-Stream-Id"] = stream_id or self.stream.stream_id or ""
        sent.update(headers or {})
        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.calls.post(f"{self.url}/api/v1/scheduler", content=content, headers=sent)

    def call(self, kind: str, body: Json | None = None, **extra: Any) -> httpx.Response:
        message: Json = {"type": kind, "framework_id": {"value": self.framework_id}}
        if body is not None:
            message[kind.lower()] = body
        message.update(extra)
        return self.post(message)

    # -- conveniences ---------------------------------------------------------------

    def offers(self, timeout: float = 10.0) -> list[Json]:
        return list(self.stream.wait_for("OFFERS", timeout)["offers"]["offers"])

    def launch(self, offer: Json, *tasks: Json, filters: Json | None = None) -> httpx.Response:
        accept: Json = {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
        }
        if filters is not None:
            accept["filters"] = filters
        return self.call("ACCEPT", accept)

    def decline(self, *offers: Json, refuse_seconds: float | None = None) -> httpx.Response:
        body: Json = {"offer_ids": [o["id"] for o in offers]}
        if refuse_seconds is not None:
            body["filters"] = {"refuse_seconds": refuse_seconds}
        return self.call("DECLINE", body)

    def ack(self, status: Json) -> httpx.Response:
        return self.call(
            "ACKNOWLEDGE",
            {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]},
        )

    def kill(self, task_id: str, agent_id: str | None = None) -> httpx.Response:
        body: Json = {"task_id": {"value": task_id}}
        if agent_id:
            body["agent_id"] = {"value": agent_id}
        return self.call("KILL", body)

    def reconcile(self, *tasks: tuple[str, str | None]) -> httpx.Response:
        entries = []
        for task_id, agent_id in tasks:
            entry: Json = {"task_id": {"value": task_id}}
            if agent_id:
                entry["agent_id"] = {"value": agent_id}
            entries.append(entry)
        return self.call("RECONCILE", {"tasks": entries})

    def teardown(self) -> httpx.Response:
        return self.call("TEARDOWN")

    def wait_state(self, task_id: str, state: str, timeout: float = 15.0, ack: bool = True) -> Json:
        """Acknowledge updates of `task_id` until it reaches `state`."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.stream.wait_for(
                "UPDATE",
                max(deadline - time.monotonic(), 0.001),
                lambda e: e["update"]["status"]["task_id"]["value"] == task_id,
            )["update"]["status"]
            if ack and "uuid" in status:
                self.ack(status)
            if status["state"] == state:
                return status

    def close(self) -> None:
        self.stream.close()
        self.calls.close()


def task(
    name: str,
    agent_id: str,
    command: str = "sleep 600",
    cpus: float = 0.1,
    mem: float = 32,
    **extra: Any,
) -> Json:
    info: Json = {
        "name": name,
        "task_id": {"value": name},
        "agent_id": {"value": agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"value": command},
    }
    info.update(extra)
    return info


def uuid16() -> str:
    return base64.b64encode(bytes(range(16))).decode()


def operator(url: str, body: Json) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=10,
    )
