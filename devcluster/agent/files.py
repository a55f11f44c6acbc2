"""The agent's /files API over attached sandboxes (13-legacy shows the exact answers).

A sandbox is reachable by its virtual path /frameworks/<fid>/executors/<eid>/runs/latest
and by its real directory; nothing else is served. `..` is normalised away before the
lookup, and every real access is checked to stay inside the sandbox (symlinks too).
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import stat as stat_module
from typing import TYPE_CHECKING

from aiohttp import web

from devcluster.agent.http import json_response, text_response
from devcluster.agent.sandbox import DiskSandbox, FileStat, OutsideSandbox, SandboxView, mode_string
from devcluster.agent.task import TaskRecord
from devcluster.interfaces import Json

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent

# Mesos reads at most 16 pages per call.
MAX_READ_BYTES = 16 * 4096
NUMBER = re.compile(r"^[+-]?\d+$")


class FilesError(Exception):
    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def resolve(agent: Agent, raw: str) -> tuple[SandboxView, str, TaskRecord]:
    """(sandbox, relative path inside it, record) for an attached path, or FilesError 404."""
    path = "/" + posixpath.normpath("/" + raw).lstrip("/")
    candidate, rest = path, list[str]()
    while (record := agent.attached.get(candidate)) is None:
        if candidate == "/":
            raise FilesError(404)
        candidate, tail = posixpath.split(candidate)
        rest.insert(0, tail)
    view = record.sandbox
    if view is None:
        raise FilesError(404)
    return view, "/".join(rest), record


def _query_path(request: web.Request) -> str:
    path = request.query.get("path")
    if path is None:
        raise FilesError(400, "Expecting 'path=value' in query.\n")
    return path


def _number(request: web.Request, name: str) -> int:
    text = request.query.get(name)
    if text is None:
        return -1
    if not NUMBER.match(text):
        raise FilesError(400, f"Failed to parse {name}: Failed to convert '{text}' to number.\n")
    value = int(text)
    if value < -1:
        raise FilesError(400, f"Negative {name} provided: {value}.\n")
    return value


def _stat(view: SandboxView, rel: str) -> FileStat:
    try:
        found = view.stat(rel)
    except OutsideSandbox as error:
        raise FilesError(403, "Path escapes the sandbox.\n") from error
    if found is None:
        raise FilesError(404)
    return found


def _entry(path: str, found: FileStat) -> Json:
    return {
        "gid": found.gid,
        "mode": mode_string(found.mode),
        "mtime": found.mtime,
        "nlink": found.nlink,
        "path": path,
        "size": found.size,
        "uid": found.uid,
    }


async def browse(agent: Agent, request: web.Request) -> web.Response:
    try:
        return json_response(request, browse_entries(agent, _query_path(request)))
    except FilesError as error:
        return text_response(error.text, error.status)


def browse_entries(agent: Agent, raw: str) -> list[Json]:
    view, rel, _record = resolve(agent, raw)
    found = _stat(view, rel)
    base = "/" + posixpath.normpath("/" + raw).lstrip("/")
    if not found.is_dir:
        return [_entry(base, found)]
    try:
        listing = view.listdir(rel)
    except OutsideSandbox as error:
        raise FilesError(403, "Path escapes the sandbox.\n") from error
    entries = [_entry(posixpath.join(base, name), item) for name, item in listing]
    return sorted(entries, key=lambda entry: entry["path"])


async def read(agent: Agent, request: web.Request) -> web.Response:
    try:
        path = _query_path(request)
        offset, length = _number(request, "offset"), _number(request, "length")
        data, offset = read_text(agent, path, offset, length)
    except FilesError as error:
        return text_response(error.text, error.status)
    return json_response(request, {"data": data, "offset": offset})


def read_bytes(agent: Agent, raw: str, offset: int, length: int) -> tuple[bytes, int, int]:
    """(bytes, offset, file size). offset -1 reads nothing and answers the size."""
    view, rel, _record = resolve(agent, raw)
    found = _stat(view, rel)
    if found.is_dir:
        raise FilesError(400, "Cannot read a directory.\n")
    if offset == -1:
        return b"", found.size, found.size
    if length == -1 or length > MAX_READ_BYTES:
        length = MAX_READ_BYTES
    if offset >= found.size or length == 0:
        return b"", offset, found.size
    return view.read(rel, offset, length), offset, found.size


def read_text(agent: Agent, raw: str, offset: int, length: int) -> tuple[str, int]:
    data, offset, size = read_bytes(agent, raw, offset, length)
    if offset + len(data) < size:
        data = _whole_characters(data)
    return data.decode("utf-8", errors="replace"), offset


def _whole_characters(data: bytes) -> bytes:
    """Drop a UTF-8 sequence cut by the read limit; the next read starts at its first byte,
    so a client advancing by len(data.encode()) never sees a split character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue
        needed = 1
        if byte >= 0xF0:
            needed = 4
        elif byte >= 0xE0:
            needed = 3
        elif byte >= 0xC0:
            needed = 2
        return data[:-back] if needed > back else data
    return data


async def download(agent: Agent, request: web.Request) -> web.StreamResponse:
    try:
        raw = _query_path(request)
        view, rel, _record = resolve(agent, raw)
        found = _stat(view, rel)
        if found.is_dir:
            raise FilesError(400, "Cannot download a directory.\n")
    except FilesError as error:
        return text_response(error.text, error.status)
    name = posixpath.basename(rel) or "sandbox"
    headers = {
        "Content-Type": mimetypes.guess_type(name)[0] or "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    if isinstance(view, DiskSandbox) and stat_module.S_ISREG(found.mode):
        return web.FileResponse(view.real_path(rel), headers=headers)
    return web.Response(body=view.read(rel, 0, found.size), headers=headers)


async def debug(agent: Agent, request: web.Request) -> web.Response:
    return json_response(request, attached_directories(agent))


def attached_directories(agent: Agent) -> dict[str, str]:
    return {
        path: agent.sandbox_directory(record)
        for path, record in sorted(agent.attached.items())
        if path.startswith("/frameworks/")
    }
