"""Sandbox folders laid out like Mesos, and the views the files API reads them through.

<work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<task_id>/runs/<container_id>,
with a `latest` symlink beside the runs. The files API serves only attached sandboxes:
their virtual path /frameworks/<fid>/executors/<eid>/runs/latest and their real folder.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from devcluster.interfaces import AgentConfig

if TYPE_CHECKING:
    from devcluster.agent.agent import Agent
    from devcluster.agent.task import TaskRecord


class OutsideSandbox(Exception):
    """A path that resolves (through `..` or a symlink) outside its sandbox."""


@dataclass(frozen=True)
class FileStat:
    is_dir: bool
    size: int
    mtime: float
    mode: int
    nlink: int
    uid: str
    gid: str


class SandboxView(Protocol):
    """Read-only access to one sandbox; `rel` is a relative POSIX path ('' = the root)."""

    def stat(self, rel: str) -> FileStat | None: ...

    def listdir(self, rel: str) -> list[tuple[str, FileStat]]: ...

    def read(self, rel: str, offset: int, length: int) -> bytes: ...


def sandbox_path(config: AgentConfig, framework_id: str, task_id: str, container_id: str) -> Path:
    return executor_folder(config, framework_id, task_id) / "runs" / container_id


def executor_folder(config: AgentConfig, framework_id: str, task_id: str) -> Path:
    return (
        Path(config.work_dir).absolute()
        / "slaves"
        / config.agent_id
        / "frameworks"
        / framework_id
        / "executors"
        / task_id
    )


def create_sandbox(config: AgentConfig, record: TaskRecord) -> Path:
    """Make the run folder with empty stdout/stderr and point `latest` at it."""
    folder = sandbox_path(config, record.framework_id, record.task_id, record.container_id)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("stdout", "stderr"):
        (folder / name).touch()
    latest = folder.parent / "latest"
    # Replace the link atomically: a reader must never see `latest` missing.
    temporary = folder.parent / f".latest-{record.container_id}"
    temporary.symlink_to(folder.name)
    temporary.replace(latest)
    return folder


def virtual_path(framework_id: str, executor_id: str) -> str:
    return f"/frameworks/{framework_id}/executors/{executor_id}/runs/latest"


def attach_paths(agent: Agent, record: TaskRecord) -> list[str]:
    """Where the files API finds a sandbox: the virtual path, the real folder, and the
    real `latest` link (Mesos keeps the last one for older clients)."""
    directory = agent.sandbox_directory(record)
    latest = directory.rsplit("/", 1)[0] + "/latest"
    return [virtual_path(record.framework_id, record.task_id), directory, latest]


class DiskSandbox:
    """A real sandbox folder; every access is checked to stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _resolve(self, rel: str) -> Path:
        root = os.path.realpath(self.root)
        target = os.path.realpath(Path(root, rel)) if rel else root
        if target != root and not target.startswith(root + os.sep):
            raise OutsideSandbox(rel)
        return Path(target)

    def real_path(self, rel: str) -> Path:
        return self._resolve(rel)

    def stat(self, rel: str) -> FileStat | None:
        try:
            return _file_stat(self._resolve(rel).stat())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def listdir(self, rel: str) -> list[tuple[str, FileStat]]:
        folder = self._resolve(rel)
        entries = []
        for entry in os.scandir(folder):
            try:
                entries.append((entry.name, _file_stat(entry.stat(follow_symlinks=False))))
            except FileNotFoundError:
                continue
        return entries

    def read(self, rel: str, offset: int, length: int) -> bytes:
        with self._resolve(rel).open("rb") as handle:
            handle.seek(offset)
            return handle.read(length)


class MemorySandbox:
    """A simulated task's sandbox: stdout and stderr made up from the task's statuses."""

    def __init__(self, record: TaskRecord) -> None:
        self._record = record

    def _files(self) -> dict[str, bytes]:
        record = self._record
        out = f"simulated task {record.task_id}: no process ran\n".encode()
        err = "".join(
            f"{_glog_time(status['timestamp'])} simulated] {status['state']}\n"
            for status in record.status_list()
        ).encode()
        return {"stdout": out, "stderr": err}

    def stat(self, rel: str) -> FileStat | None:
        mtime = float(int(self._record.started_at))
        if rel == "":
            return FileStat(True, 4096, mtime, stat.S_IFDIR | 0o755, 2, _user(), _group())
        data = self._files().get(rel)
        if data is None:
            return None
        return FileStat(False, len(data), mtime, stat.S_IFREG | 0o644, 1, _user(), _group())

    def listdir(self, rel: str) -> list[tuple[str, FileStat]]:
        return [(name, stat_) for name in self._files() if (stat_ := self.stat(name)) is not None]

    def read(self, rel: str, offset: int, length: int) -> bytes:
        return self._files()[rel][offset : offset + length]


def memory_sandbox(record: TaskRecord) -> MemorySandbox:
    return MemorySandbox(record)


def mode_string(mode: int) -> str:
    """`ls -l` style, e.g. -rw-r--r-- (what /files/browse shows)."""
    return stat.filemode(mode)


def _file_stat(st: os.stat_result) -> FileStat:
    return FileStat(
        is_dir=stat.S_ISDIR(st.st_mode),
        size=st.st_size,
        mtime=float(int(st.st_mtime)),
        mode=st.st_mode,
        nlink=st.st_nlink,
        uid=_name_of_uid(st.st_uid),
        gid=_name_of_gid(st.st_gid),
    )


@lru_cache(maxsize=64)
def _name_of_uid(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@lru_cache(maxsize=64)
def _name_of_gid(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _user() -> str:
    return _name_of_uid(os.getuid())


def _group() -> str:
    return _name_of_gid(os.getgid())


def _glog_time(timestamp: float) -> str:
    """The prefix of a glog line, as the Mesos executor writes them: I1126 00:19:07.484720."""
    micros = int((timestamp % 1) * 1_000_000)
    return "I" + time.strftime("%m%d %H:%M:%S", time.localtime(timestamp)) + f".{micros:06d}"
