"""HTTP authentication and TLS, configured as a Mesos master and its agents configure them.

Mesos reads `--credentials` (JSON, or the older "principal secret" lines) and checks HTTP
Basic credentials per *realm*: the scheduler API (`--authenticate_http_frameworks`), the
operator API (`--authenticate_http_readwrite`), and state, metrics and files
(`--authenticate_http_readonly`). A realm that is not enforced authenticates nobody and
refuses nobody. TLS (LIBPROCESS_SSL_ENABLED with a certificate and key) covers every
endpoint of the process. Master and agents both use this module; it imports nothing else
of devcluster.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import ssl
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# The realms of src/master/constants.hpp and src/slave/constants.hpp.
SCHEDULER_REALM = "mesos-master-scheduler"
MASTER_READONLY_REALM = "mesos-master-readonly"
MASTER_READWRITE_REALM = "mesos-master-readwrite"
AGENT_READONLY_REALM = "mesos-agent-readonly"
AGENT_READWRITE_REALM = "mesos-agent-readwrite"

# libprocess's Unauthorized response: this body, text/plain, and one Basic challenge.
UNAUTHORIZED_BODY = "401 Unauthorized."


class SecurityError(ValueError):
    """A credentials file or TLS certificate that cannot be used; the text says why."""


@dataclass(frozen=True)
class HttpSecurity:
    """Who may call which endpoints, and whether they are served over TLS."""

    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    frameworks: bool = False  # the scheduler API
    readonly: bool = False  # state, metrics, files
    readwrite: bool = False  # the operator API
    tls: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def enforced(self, realm: str | None) -> bool:
        if realm is None:
            return False
        if realm == SCHEDULER_REALM:
            return self.frameworks
        return self.readwrite if realm.endswith("-readwrite") else self.readonly

    def principal_of(self, authorization: str | None) -> str | None:
        """The authenticated principal, or None: libprocess's BasicAuthenticator.

        Its quirks are kept: exactly one space after "Basic", and the decoded text is
        split on every ':', so a secret that contains one can never authenticate."""
        if authorization is None:
            return None
        parts = authorization.split(" ")
        if len(parts) != 2 or parts[0] != "Basic":
            return None
        try:
            decoded = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        pair = decoded.split(":")
        if len(pair) != 2 or self.credentials.get(pair[0]) != pair[1]:
            return None
        return pair[0]


def challenge(realm: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Basic realm="{realm}"'}


def read_credentials(path: str) -> dict[str, str]:
    """principal -> secret from Mesos's credentials file (`file://` prefix allowed).

    JSON `{"credentials": [{"principal": "...", "secret": "..."}]}`, else one
    "principal secret" pair per line, as credentials::read accepts."""
    name = path.removeprefix("file://")
    try:
        text = Path(name).read_text(encoding="utf-8")
        mode = Path(name).stat().st_mode
    except (OSError, UnicodeDecodeError) as error:
        raise SecurityError(f"cannot read the credentials file '{name}': {error}") from None
    if mode & stat.S_IRWXO:
        log.warning(
            "Permissions on credentials file '%s' are too open; it is recommended that your "
            "credentials file is NOT accessible by others",
            name,
        )
    credentials = _from_json(name, text)
    if credentials is None:
        credentials = _from_lines(name, text)
    if not credentials:
        raise SecurityError(f"the credentials file '{name}' must contain at least one credential")
    for principal, secret in credentials.items():
        if ":" in principal or ":" in secret:
            # Basic credentials are "principal:secret"; Mesos splits them on every ':'.
            log.warning("Principal '%s' can never authenticate over HTTP: ':' in it", principal)
    return credentials


def _from_json(name: str, text: str) -> dict[str, str] | None:
    """None when the text is not a JSON object (then it is read as lines)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    entries = data.get("credentials", [])
    if not isinstance(entries, list):
        raise SecurityError(f"credentials file '{name}': 'credentials' must be a list")
    credentials: dict[str, str] = {}
    for index, entry in enumerate(entries):
        principal = entry.get("principal") if isinstance(entry, dict) else None
        secret = entry.get("secret", "") if isinstance(entry, dict) else None
        if not isinstance(principal, str) or not principal or not isinstance(secret, str):
            raise SecurityError(
                f"credentials file '{name}': credential {index + 1} needs a 'principal' "
                "and a 'secret', both strings"
            )
        credentials[principal] = secret
    return credentials


def _from_lines(name: str, text: str) -> dict[str, str]:
    credentials: dict[str, str] = {}
    # strings::tokenize: empty lines and repeated spaces are skipped; tabs are not spaces.
    for line in filter(None, text.split("\n")):
        pair = [token for token in line.split(" ") if token]
        if len(pair) != 2:
            raise SecurityError(
                f"credentials file '{name}': invalid credential format at line "
                f"{len(credentials) + 1} (expected 'principal secret')"
            )
        credentials[pair[0]] = pair[1]
    return credentials


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A server-side TLS context from PEM files, as LIBPROCESS_SSL_CERT_FILE/KEY_FILE."""
    for path in (cert, key):
        if not Path(path).is_file():
            raise SecurityError(f"TLS certificate or key not found: {path}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=cert, keyfile=key)
    except (ssl.SSLError, OSError) as error:
        raise SecurityError(
            f"cannot load the TLS certificate '{cert}' with the key '{key}': {error}"
        ) from None
    return context
