"""The master's v1 operator API (``POST /api/v1``) and ``GET /metrics/snapshot``.

Stateless reads: any thread or Celery worker may use an OperatorClient. Masters are
tried in turn; a follower's 307 is followed to the leader, which is remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx

from cluster.client.errors import InvalidResponse, MesosError, MesosUnreachable, TooManyRedirects
from cluster.client.http import (
    JSON_HEADERS,
    Closing,
    HttpOptions,
    base_of,
    decode_json,
    encode_json,
    error_for,
    normalize_base_url,
    send,
)
from cluster.translate import PayloadError, get_metrics_call, operator_call
from cluster.translate import operator as parse
from cluster.types import (
    AgentSummary,
    ClusterMetrics,
    ClusterState,
    FrameworkRecord,
    MasterStatus,
    TaskRecord,
    VersionInfo,
)

OPERATOR_PATH = "/api/v1"

T = TypeVar("T")


class OperatorClient(Closing):
    def __init__(
        self,
        masters: str | Sequence[str],
        *,
        options: HttpOptions | None = None,
        max_connections: int = 4,
    ) -> None:
        urls = [masters] if isinstance(masters, str) else list(masters)
        if not urls:
            raise ValueError("at least one master URL is needed")
        self.masters = [normalize_base_url(url) for url in urls]
        self._options = options or HttpOptions()
        self._http = self._options.client(max_connections=max_connections)
        self._leader: str | None = None

    def _candidates(self) -> list[str]:
        leader = self._leader
        return ([leader] if leader else []) + [m for m in self.masters if m != leader]

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[httpx.Response, str]:
        last: MesosError | None = None
        for master in self._candidates():
            try:
                response, url = send(
                    self._http,
                    method,
                    master + path,
                    content=body,
                    headers=JSON_HEADERS if body is not None else None,
                    max_redirects=self._options.max_redirects,
                )
            except (MesosUnreachable, TooManyRedirects) as exc:
                last = exc
                continue
            if response.status_code == 503:  # no leader yet, or recovering: try another
                last = error_for(response, url)
                continue
            self._leader = base_of(url)
            return response, url
        assert last is not None  # _candidates() is never empty
        raise last

    def call(self, call_type: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One operator call; returns the ``get_x`` body of the reply (empty for calls
        that answer nothing)."""
        payload = encode_json(operator_call(call_type, body))
        response, url = self._request("POST", OPERATOR_PATH, payload)
        return self._reply(response, url, call_type)

    def _reply(self, response: httpx.Response, url: str, call_type: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise error_for(response, url, call_type)
        if not response.content and not call_type.startswith("GET_"):
            # Calls that change something (TEARDOWN, MARK_AGENT_GONE, ...) answer a bare 200;
            # a GET_ answered with nothing is a broken answer (a proxy), said as such below.
            return {}
        try:
            return parse.response_body(decode_json(response, url), call_type)
        except PayloadError as exc:
            raise InvalidResponse(url, str(exc)) from exc

    def _parsed(
        self,
        call_type: str,
        parser: Callable[[dict[str, Any]], T],
        body: dict[str, Any] | None = None,
    ) -> T:
        reply = self.call(call_type, body)
        try:
            return parser(reply)
        except PayloadError as exc:
            raise InvalidResponse(self._leader or self.masters[0], str(exc)) from exc

    def get_health(self) -> bool:
        return bool(self.call("GET_HEALTH").get("healthy"))

    def get_version(self) -> VersionInfo:
        return self._parsed("GET_VERSION", parse.parse_version)

    def get_master(self) -> MasterStatus:
        return self._parsed("GET_MASTER", parse.parse_master)

    def get_state(self) -> ClusterState:
        return self._parsed("GET_STATE", parse.parse_state)

    def get_agents(self) -> tuple[AgentSummary, ...]:
        return self._parsed("GET_AGENTS", parse.parse_agents)

    def get_frameworks(self) -> tuple[tuple[FrameworkRecord, ...], tuple[FrameworkRecord, ...]]:
        """(frameworks, completed_frameworks)."""
        return self._parsed("GET_FRAMEWORKS", parse.parse_frameworks)

    def get_tasks(
        self,
    ) -> tuple[tuple[TaskRecord, ...], tuple[TaskRecord, ...], tuple[TaskRecord, ...]]:
        """(tasks, unreachable_tasks, completed_tasks)."""
        return self._parsed("GET_TASKS", parse.parse_tasks)

    def get_metrics(self, timeout_seconds: float | None = 5.0) -> dict[str, float]:
        """GET_METRICS as a flat name -> value map (the snapshot's shape)."""
        body = get_metrics_call(timeout_seconds).get("get_metrics")
        return self._parsed("GET_METRICS", parse.parse_metrics_list, body)

    def metrics_snapshot(self, timeout_seconds: float | None = None) -> dict[str, float]:
        """``GET /metrics/snapshot`` on the leader (a follower's master/* gauges are 0)."""
        path = "/metrics/snapshot"
        if timeout_seconds is not None:
            path += f"?timeout={timeout_seconds:g}secs"
        if self._leader is None:
            # Followers answer GET /metrics/snapshot themselves (master/* all zero) but
            # redirect operator calls: one cheap call finds the leader.
            self.get_health()
        response, url = self._request("GET", path, None)
        if response.status_code != 200:
            raise error_for(response, url, "GET /metrics/snapshot")
        try:
            return parse.parse_metrics_snapshot(decode_json(response, url))
        except PayloadError as exc:
            raise InvalidResponse(url, str(exc)) from exc

    def cluster_metrics(self) -> ClusterMetrics:
        """Utilization gauges from the leader's metrics snapshot."""
        return parse.cluster_metrics(self.metrics_snapshot())

    def close(self) -> None:
        self._http.close()
