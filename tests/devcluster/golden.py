"""Compare devcluster's answers with the golden transcripts of a real master.

`assert_like(actual, golden)` requires the same keys at every level, the same JSON types,
and equal values except where a value is bound to differ between runs: ids and uuids are
compared after normalisation, timestamps, pids, ports and hostnames by type only.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent.parent / "mesos-transcripts"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_B64_UUID = re.compile(r"^[A-Za-z0-9+/]{22}==$")
_PID = re.compile(r"@[0-9.]+:\d+")
# Keys whose values differ on every run or machine: compared by JSON type only.
VOLATILE = frozenset(
    {
        "timestamp",
        "executor_pid",
        "port",
        "hostname",
        "ip",
        "ip_address",
        "nanoseconds",
        "start_time",
        "elected_time",
        "registered_time",
        "reregistered_time",
        "unregistered_time",
        "uptime_secs",
        "build_date",
        "build_time",
        "heartbeat_interval_seconds",
    }
)


@cache
def load(name: str) -> dict[str, Any]:
    return dict(json.loads((GOLDEN / f"{name}.json").read_text()))


def events(name: str, kind: str | None = None, stream: str | None = None) -> list[dict[str, Any]]:
    found = []
    for item in load(name)["events"]:
        if stream is not None and item.get("stream") != stream:
            continue
        if kind is None or item["event"]["type"] == kind:
            found.append(item["event"])
    return found


def updates(name: str, stream: str | None = None) -> list[dict[str, Any]]:
    return [e["update"]["status"] for e in events(name, "UPDATE", stream)]


def exchange(name: str, *, note: str | None = None, path: str | None = None) -> dict[str, Any]:
    for item in load(name)["exchanges"]:
        if note is not None and note not in (item.get("note") or ""):
            continue
        if path is not None and item["request"]["path"] != path:
            continue
        return dict(item)
    raise KeyError(f"{name}: no exchange with note={note!r} path={path!r}")


def normalize(text: str) -> str:
    text = _UUID.sub("<uuid>", text)
    text = re.sub(r"<uuid>-O\d+", "<uuid>-O<n>", text)
    text = re.sub(r"<uuid>-S\d+", "<uuid>-S<n>", text)
    text = re.sub(r"<uuid>-\d{4,}", "<uuid>-<n>", text)
    text = _PID.sub("@<host>", text)
    return "<b64>" if _B64_UUID.match(text) else text


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def differences(actual: Any, golden: Any, path: str = "$", key: str = "") -> list[str]:
    if _kind(actual) != _kind(golden):
        return [f"{path}: {_kind(actual)} {actual!r} where Mesos has {_kind(golden)} {golden!r}"]
    if isinstance(golden, dict):
        found = []
        missing, extra = golden.keys() - actual.keys(), actual.keys() - golden.keys()
        if missing or extra:
            found.append(f"{path}: missing keys {sorted(missing)}, extra keys {sorted(extra)}")
        for name in golden.keys() & actual.keys():
            found.extend(differences(actual[name], golden[name], f"{path}.{name}", name))
        return found
    if isinstance(golden, list):
        if len(actual) != len(golden):
            return [f"{path}: {len(actual)} items where Mesos has {len(golden)}"]
        found = []
        for index, (a, g) in enumerate(zip(actual, golden, strict=True)):
            found.extend(differences(a, g, f"{path}[{index}]", key))
        return found
    if key in VOLATILE:
        return []
    if isinstance(golden, str) and normalize(actual) != normalize(golden):
        return [f"{path}: {actual!r} where Mesos has {golden!r}"]
    if not isinstance(golden, str) and actual != golden:
        return [f"{path}: {actual!r} where Mesos has {golden!r}"]
    return []


def assert_like(actual: Any, golden: Any) -> None:
    found = differences(actual, golden)
    assert not found, "\n".join(found)
