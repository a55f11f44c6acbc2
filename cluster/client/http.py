"""HTTP plumbing shared by the scheduler, operator and agent clients."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from cluster.client.errors import (
    InvalidResponse,
    MesosHttpError,
    MesosUnreachable,
    TooManyRedirects,
)
from cluster.translate.calls import encode_call

# Mesos compares Content-Type as an exact string: "application/json; charset=utf-8" is 415.
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
_REDIRECTS = (307, 308)


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Credentials and TLS trust, passed in by whoever owns the configuration.

    ``principal``/``secret`` are sent as HTTP Basic credentials (Mesos framework
    authentication, ``--authenticate_http_frameworks``). ``ca_bundle`` is PEM text or a
    path to a PEM file; without it the system trust store verifies https masters.
    """

    principal: str | None = None
    secret: str | None = field(default=None, repr=False)
    ca_bundle: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    # mesos docs/high-availability-framework-guide.md: ~75 s on ordinary call requests.
    request_timeout: float = 75.0
    max_redirects: int = 3

    def auth(self) -> httpx.BasicAuth | None:
        if self.principal is None:
            return None
        return httpx.BasicAuth(self.principal, self.secret or "")

    def verify(self) -> ssl.SSLContext | bool:
        if self.ca_bundle is None:
            return True
        if "-----BEGIN" in self.ca_bundle:
            return ssl.create_default_context(cadata=self.ca_bundle)
        return ssl.create_default_context(cafile=self.ca_bundle)

    def timeout(self, read: float | None = None) -> httpx.Timeout:
        return httpx.Timeout(
            self.request_timeout if read is None else read, connect=self.connect_timeout
        )

    def client(
        self, *, read_timeout: float | None = None, max_connections: int = 1
    ) -> httpx.Client:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        return httpx.Client(
            auth=self.auth(),
            verify=self.verify(),
            timeout=self.timeout(read_timeout),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
        )


def normalize_base_url(url: str) -> str:
    """``host:5050`` or ``http://host:5050/`` -> ``http://host:5050``."""
    candidate = url.strip()
    if "://" not in candidate:
        candidate = f"http://{candidate}"
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) master/agent address: {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def base_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def resolve_redirect(current: str, location: str) -> str:
    """Mesos sends a protocol-relative ``//leader:5050/api/v1/scheduler``; /redirect
    sends only ``//leader:5050``, so keep our own path when the Location has none."""
    target = urlsplit(urljoin(current, location))
    if target.path in ("", "/"):
        own = urlsplit(current)
        target = target._replace(path=own.path, query=own.query)
    return urlunsplit(target)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str | int] | None = None,
    max_redirects: int = 3,
    stream: bool = False,
) -> tuple[httpx.Response, str]:
    """Send, following 307s by hand (re-sending the same method and body), and return
    the response with the URL that finally answered."""
    for _ in range(max_redirects + 1):
        request = client.build_request(method, url, content=content, headers=headers, params=params)
        try:
            response = client.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise MesosUnreachable(url, exc) from exc
        if response.status_code not in _REDIRECTS:
            return response, url
        location = response.headers.get("Location")
        response.close()
        if not location:
            raise MesosHttpError(response.status_code, "redirect without a Location", url)
        url = resolve_redirect(url, location)
    raise TooManyRedirects(url, max_redirects)


def encode_json(body: dict[str, Any]) -> bytes:
    return encode_call(body)


def decode_json(response: httpx.Response, url: str) -> Any:
    """Parse a JSON body; bytes that are not UTF-8 survive through surrogateescape."""
    try:
        return json.loads(response.content.decode("utf-8", errors="surrogateescape"))
    except ValueError as exc:
        raise InvalidResponse(url, f"body is not JSON ({exc})") from exc


def error_for(response: httpx.Response, url: str, call: str | None = None) -> MesosHttpError:
    return MesosHttpError(response.status_code, response.text, url, call)


class Closing:
    """`with Client(...) as client:` closes the client's connections on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
