"""An agent's HTTP endpoints: ``/state``, ``/monitor/statistics`` and ``/files/*``.

The address comes from an offer's ``url`` (or the agent's hostname and port in the
operator API), so Berth never needs the agent's work_dir to find a sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from cluster.client.errors import InvalidResponse, SandboxFileNotFound
from cluster.client.http import (
    Closing,
    HttpOptions,
    decode_json,
    error_for,
    normalize_base_url,
    send,
)
from cluster.translate import PayloadError
from cluster.translate import operator as parse
from cluster.types import (
    AgentEndpoint,
    AgentState,
    ExecutorStatistics,
    FileChunk,
    FileInfo,
    Offer,
)

T = TypeVar("T")

# /files/read returns at most 16 pages per call whatever length asks for.
PAGE_BYTES = 64 * 1024


def sandbox_path(framework_id: str, executor_id: str, name: str = "") -> str:
    """The stable virtual path of an executor's latest run (a command task's executor id
    is its task id)."""
    path = f"/frameworks/{framework_id}/executors/{executor_id}/runs/latest"
    return f"{path}/{name.lstrip('/')}" if name else path


class AgentClient(Closing):
    def __init__(self, base_url: str, *, options: HttpOptions | None = None) -> None:
        self.base_url = normalize_base_url(base_url)
        self._options = options or HttpOptions()
        self._http = self._options.client(max_connections=2)

    @classmethod
    def for_endpoint(cls, endpoint: AgentEndpoint, **kwargs: Any) -> AgentClient:
        return cls(endpoint.base_url, **kwargs)

    @classmethod
    def for_offer(cls, offer: Offer, **kwargs: Any) -> AgentClient:
        if offer.agent_endpoint is None:
            raise ValueError(f"offer {offer.id} carries no agent url")
        return cls.for_endpoint(offer.agent_endpoint, **kwargs)

    # ---- transport ----------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str | int] | None = None) -> httpx.Response:
        response, url = send(
            self._http,
            "GET",
            self.base_url + path,
            params=params,
            max_redirects=self._options.max_redirects,
        )
        if response.status_code == 404 and path.startswith("/files/"):
            raise SandboxFileNotFound(str((params or {}).get("path", path)), self.base_url)
        if response.status_code != 200:
            raise error_for(response, url, f"GET {path}")
        return response

    def _json(self, endpoint: str, parser: Callable[[Any], T], **params: str | int) -> T:
        response = self._get(endpoint, params or None)
        url = str(response.url)
        try:
            return parser(decode_json(response, url))
        except PayloadError as exc:
            raise InvalidResponse(url, str(exc)) from exc

    # ---- state and usage ----------------------------------------------------------------

    def state(self) -> AgentState:
        return self._json("/state", parse.parse_agent_state)

    def sandbox_directory(self, framework_id: str, task_id: str) -> str | None:
        """The absolute sandbox of the executor that ran ``task_id`` (live or completed)."""
        return self.state().sandbox_directory(framework_id, task_id)

    def statistics(self) -> tuple[ExecutorStatistics, ...]:
        return self._json("/monitor/statistics", parse.parse_statistics)

    # ---- files --------------------------------------------------------------------------

    def browse(self, path: str) -> tuple[FileInfo, ...]:
        return self._json("/files/browse", parse.parse_browse, path=path)

    def read(self, path: str, offset: int, length: int = PAGE_BYTES) -> FileChunk:
        """One page. Always sends ``offset``: without it Mesos reads nothing and only
        reports the size."""
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset}, {length}")
        return self._json(
            "/files/read", parse.parse_file_chunk, path=path, offset=offset, length=length
        )

    def file_size(self, path: str) -> int:
        """The size probe: ``offset=-1`` reads nothing and answers the file size."""
        return self._json("/files/read", parse.parse_file_chunk, path=path, offset=-1).offset

    def read_all(self, path: str, *, offset: int = 0, max_bytes: int | None = None) -> bytes:
        """Page through the file from ``offset`` until a page comes back empty (or
        ``max_bytes`` are read: a running task's log can grow as fast as it is read)."""
        data = bytearray()
        while max_bytes is None or len(data) < max_bytes:
            want = PAGE_BYTES if max_bytes is None else min(PAGE_BYTES, max_bytes - len(data))
            chunk = self.read(path, offset + len(data), want)
            if not chunk.data:
                break
            data += chunk.data
        return bytes(data)

    def download(self, path: str) -> bytes:
        """Raw bytes, for binary files the JSON of /files/read cannot carry."""
        return self._get("/files/download", {"path": path}).content

    def read_sandbox_file(
        self,
        framework_id: str,
        task_id: str,
        name: str = "stdout",
        *,
        executor_id: str | None = None,
        tail_bytes: int | None = None,
        max_bytes: int | None = None,
    ) -> str:
        """A file of a task's sandbox as text; ``tail_bytes`` keeps only the end."""
        path = sandbox_path(framework_id, executor_id or task_id, name)
        offset = 0
        if tail_bytes is not None:
            offset = max(0, self.file_size(path) - tail_bytes)
            max_bytes = tail_bytes if max_bytes is None else min(max_bytes, tail_bytes)
        data = self.read_all(path, offset=offset, max_bytes=max_bytes)
        return data.decode("utf-8", errors="replace")

    # ---- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
