"""CommandInfo.uris fetched into the sandbox before the command starts."""

from __future__ import annotations

import asyncio
import io
import socket
import tarfile
import zipfile
from pathlib import Path

from aiohttp import web

from tests.devcluster.test_agent_harness import launched, running_agent, task


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _command(value: str, *uris: dict) -> dict:
    return {"value": value, "uris": list(uris)}


def test_it_copies_local_paths_and_file_uris(tmp_path: Path) -> None:
    async def scenario() -> None:
        source = tmp_path / "config.txt"
        source.write_text("colour=blue\n")
        command = _command(
            "cat config.txt renamed.txt",
            {"value": str(source), "extract": False},
            {"value": source.as_uri(), "output_file": "renamed.txt"},
        )
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("local", command)))
            finished = await sink.wait_terminal("local")
            stdout = (Path(agent.sandbox_directory(_record(agent, "local"))) / "stdout").read_text()
        assert finished["state"] == "TASK_FINISHED"
        assert stdout == "colour=blue\ncolour=blue\n"

    asyncio.run(scenario())


def test_it_downloads_over_http_and_extracts_archives(tmp_path: Path) -> None:
    async def scenario() -> None:
        archive = _tarball(tmp_path / "app.tar.gz", {"app/run.sh": b"echo from-archive\n"})
        app = web.Application()
        app.router.add_static("/files", tmp_path)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.SockSite(runner, _listening_socket())
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            url = f"http://127.0.0.1:{port}/files/{archive.name}"
            command = _command("sh app/run.sh && test -f app.tar.gz", {"value": url})
            async with running_agent(tmp_path) as (agent, sink):
                agent.launch(launched(task("http", command)))
                finished = await sink.wait_terminal("http")
                sandbox = Path(agent.sandbox_directory(_record(agent, "http")))
            assert finished["state"] == "TASK_FINISHED", finished
            assert (sandbox / "stdout").read_text() == "from-archive\n"
            assert "Fetching URI" in (sandbox / "stderr").read_text()
        finally:
            await runner.cleanup()

    asyncio.run(scenario())


def test_executable_uris_get_the_executable_bit_and_are_not_extracted(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = tmp_path / "tool.tar.gz"
        script.write_text("#!/bin/sh\necho tool ran\n")
        command = _command("./tool.tar.gz", {"value": str(script), "executable": True})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("exec", command)))
            finished = await sink.wait_terminal("exec")
            stdout = (Path(agent.sandbox_directory(_record(agent, "exec"))) / "stdout").read_text()
        assert finished["state"] == "TASK_FINISHED"
        assert stdout == "tool ran\n"

    asyncio.run(scenario())


def test_zip_archives_are_extracted_too(tmp_path: Path) -> None:
    async def scenario() -> None:
        archive = tmp_path / "site.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("site/index.html", "<h1>hi</h1>")
        command = _command("cat site/index.html", {"value": str(archive)})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("zip", command)))
            await sink.wait_terminal("zip")
            stdout = (Path(agent.sandbox_directory(_record(agent, "zip"))) / "stdout").read_text()
        assert stdout == "<h1>hi</h1>"

    asyncio.run(scenario())


def test_a_failed_fetch_fails_the_task_from_the_agent(tmp_path: Path) -> None:
    async def scenario() -> None:
        command = _command("true", {"value": str(tmp_path / "missing.tar.gz")})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("no-file", command)))
            failed = await sink.wait_terminal("no-file")
            metrics = (await _metrics(agent))["containerizer/fetcher/task_fetches_failed"]
        assert sink.states("no-file") == ["TASK_FAILED"]
        assert failed["source"] == "SOURCE_AGENT"
        assert failed["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
        assert failed["message"].startswith("Failed to launch container: Failed to fetch all URIs")
        assert "No such file or directory" in failed["message"]
        assert metrics == 1.0

    asyncio.run(scenario())


def test_unsupported_schemes_and_escaping_output_files_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        source = tmp_path / "x.txt"
        source.write_text("x")
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("hdfs", _command("true", {"value": "hdfs://nn/x"}))))
            escaping = {"value": str(source), "output_file": "../../outside.txt"}
            agent.launch(launched(task("escape", _command("true", escaping))))
            hdfs = await sink.wait_terminal("hdfs")
            escape = await sink.wait_terminal("escape")
        assert "unsupported URI scheme 'hdfs'" in hdfs["message"]
        assert "must be a relative path inside the sandbox" in escape["message"]
        assert not (tmp_path / "work" / "outside.txt").exists()

    asyncio.run(scenario())


def test_archive_members_cannot_land_outside_the_sandbox(tmp_path: Path) -> None:
    async def scenario() -> None:
        archive = _tarball(tmp_path / "evil.tar.gz", {"../../../../evil.txt": b"pwned"})
        async with running_agent(tmp_path) as (agent, sink):
            agent.launch(launched(task("evil", _command("true", {"value": str(archive)}))))
            failed = await sink.wait_terminal("evil")
        assert failed["state"] == "TASK_FAILED"
        assert "cannot extract" in failed["message"]
        assert not list(tmp_path.rglob("evil.txt"))

    asyncio.run(scenario())


def _record(agent, task_id: str):
    framework = next(iter(agent.frameworks.values()))
    return framework.live.get(task_id) or next(
        r for r in framework.completed if r.task_id == task_id
    )


async def _metrics(agent) -> dict:
    from tests.devcluster.test_agent_harness import get_json

    return await get_json(agent, "/metrics/snapshot")


def _listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock
