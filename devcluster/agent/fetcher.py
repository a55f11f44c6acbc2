"""The Mesos fetcher: CommandInfo.uris into the sandbox before the command starts.

Local paths, file:// and http(s):// URIs; archives are extracted when `extract` is true
(the Mesos default), `executable` files get the executable bit and are never extracted.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import aiohttp

from devcluster.agent.command import LaunchError
from devcluster.interfaces import Json

DOWNLOAD_TIMEOUT_SECONDS = 120.0
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


async def fetch_all(uris: list[Json], sandbox: Path, log: Callable[[str], None]) -> None:
    for uri in uris:
        value = str(uri.get("value", ""))
        log(f"Fetching URI '{value}'")
        try:
            await _fetch_one(uri, value, sandbox, log)
        except LaunchError as error:
            raise LaunchError(f"Failed to fetch '{value}': {error}") from error
        except OSError as error:
            detail = error.strerror or str(error)
            raise LaunchError(f"Failed to fetch '{value}': {detail}") from error


async def _fetch_one(uri: Json, value: str, sandbox: Path, log: Callable[[str], None]) -> None:
    parsed = urlsplit(value)
    destination = _destination(uri, parsed.path or value, sandbox)
    if parsed.scheme in ("", "file"):
        source = Path(unquote(parsed.path) if parsed.scheme else value)
        if not source.is_absolute():
            raise LaunchError("a relative path; give an absolute path or a file:// URI")
        await asyncio.to_thread(shutil.copyfile, source, destination)
    elif parsed.scheme in ("http", "https"):
        await _download(value, destination)
    else:
        raise LaunchError(f"unsupported URI scheme '{parsed.scheme}'")
    log(f"Fetched '{value}' to '{destination}'")
    if uri.get("executable", False):
        destination.chmod(0o755)
    elif uri.get("extract", True) and _is_archive(destination.name):
        await asyncio.to_thread(_extract, destination, sandbox)
        log(f"Extracted '{destination}' into '{sandbox}'")


def _destination(uri: Json, path: str, sandbox: Path) -> Path:
    name = uri.get("output_file") or PurePosixPath(unquote(path)).name
    relative = PurePosixPath(str(name))
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise LaunchError(f"output file '{name}' must be a relative path inside the sandbox")
    destination = sandbox / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    return destination


async def _download(url: str, destination: Path) -> None:
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status != 200:
                raise LaunchError(f"HTTP {response.status} {response.reason}")
            with destination.open("wb") as handle:
                async for chunk in response.content.iter_chunked(65536):
                    handle.write(chunk)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise LaunchError(str(error) or type(error).__name__) from error


def _is_archive(name: str) -> bool:
    return name.endswith((*TAR_SUFFIXES, ".zip", ".gz"))


def _extract(archive: Path, sandbox: Path) -> None:
    name = archive.name
    try:
        if name.endswith(TAR_SUFFIXES):
            with tarfile.open(archive) as tar:
                # The "data" filter refuses members that would land outside the sandbox.
                tar.extractall(sandbox, filter="data")
        elif name.endswith(".zip"):
            _extract_zip(archive, sandbox)
        else:
            with gzip.open(archive, "rb") as source, (sandbox / name[:-3]).open("wb") as target:
                shutil.copyfileobj(source, target)
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError) as error:
        raise LaunchError(f"cannot extract '{name}': {error}") from error


def _extract_zip(archive: Path, sandbox: Path) -> None:
    root = sandbox.resolve()
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.namelist():
            target = (root / member).resolve()
            if not target.is_relative_to(root):
                raise LaunchError(f"archive member '{member}' points outside the sandbox")
        zipped.extractall(root)  # noqa: S202 (every member was checked above)
