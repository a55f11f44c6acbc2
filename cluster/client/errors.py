"""Typed failures of the Mesos HTTP client. Every one says which URL and what went wrong."""

from __future__ import annotations

from cluster.types import FRAMEWORK_REMOVED_MESSAGE


class MesosError(Exception):
    """Base class: something between Berth and a Mesos master or agent failed."""


class MesosHttpError(MesosError):
    """The master or agent answered with an unexpected status (the text is its own)."""

    def __init__(self, status: int, text: str, url: str, call: str | None = None) -> None:
        self.status = status
        self.text = text.strip()
        self.url = url
        self.call = call
        what = call or "request"
        message = f"{what} to {url} failed: HTTP {status}: {self.text or '(empty body)'}"
        if status == 401:
            # Mesos says no more than "401 Unauthorized.", whatever was wrong.
            message += _UNAUTHORIZED_HINT
        super().__init__(message)


_UNAUTHORIZED_HINT = (
    " (authentication failed: the master wants HTTP Basic credentials and refused these,"
    " or none were sent; check the Mesos principal and secret)"
)
_UNTRUSTED_HINT = (
    " (the server's TLS certificate could not be verified: check the CA bundle, which must"
    " hold the CA that signed it, and that the URL names a host the certificate lists)"
)


class MesosUnreachable(MesosError):
    """No HTTP answer at all: refused, reset, DNS, TLS or timeout."""

    def __init__(self, url: str, cause: Exception) -> None:
        self.url = url
        self.cause = cause
        message = f"cannot reach {url}: {type(cause).__name__}: {cause}"
        if "CERTIFICATE_VERIFY_FAILED" in str(cause):
            message += _UNTRUSTED_HINT
        super().__init__(message)


class TooManyRedirects(MesosError):
    def __init__(self, url: str, hops: int) -> None:
        self.url = url
        super().__init__(f"gave up after {hops} redirects (last: {url}); is a leader elected?")


class InvalidResponse(MesosError):
    """A 2xx answer whose body is not what the API documents."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"unexpected answer from {url}: {problem}")


class SubscribeRejected(MesosError):
    """SUBSCRIBE got 200 and then an ERROR event: FrameworkInfo invalid, not authorized,
    or the framework id was torn down."""

    def __init__(self, message: str, url: str) -> None:
        self.message = message
        self.url = url
        super().__init__(f"master {url} refused the subscription: {message}")

    @property
    def framework_removed(self) -> bool:
        return FRAMEWORK_REMOVED_MESSAGE in self.message


class StreamEnded(MesosError):
    """The subscription stream ended before SUBSCRIBED arrived."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"subscription stream from {url} ended before SUBSCRIBED: {reason}")


class NotSubscribed(MesosError):
    def __init__(self) -> None:
        super().__init__("no subscription: call subscribe() or connect() first")


class ConnectionClosed(MesosError):
    def __init__(self) -> None:
        super().__init__("this scheduler connection was closed; create a new one")


class SandboxFileNotFound(MesosError):
    def __init__(self, path: str, agent_url: str) -> None:
        self.path = path
        self.agent_url = agent_url
        super().__init__(
            f"{path} not found on agent {agent_url}: the task may not have reached this agent,"
            " or its sandbox was garbage-collected"
        )
