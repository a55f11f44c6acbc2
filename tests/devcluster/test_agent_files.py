"""The agent's /files API, held to the answers in 13-legacy."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from urllib.parse import quote

from tests.devcluster.test_agent_harness import (
    get_json,
    http,
    launched,
    running_agent,
    sandbox_path,
    task,
)

ENTRY_KEYS = ["gid", "mode", "mtime", "nlink", "path", "size", "uid"]


async def _burn(agent, sink, command: str = "echo hello-stdout; echo hello-stderr >&2") -> str:
    agent.launch(launched(task("burn", command)))
    await sink.wait_terminal("burn")
    return sandbox_path("burn")


def _q(path: str) -> str:
    return quote(path, safe="/")


def test_browse_lists_the_sandbox_by_virtual_and_real_path(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            virtual = await _burn(agent, sink)
            listing = await get_json(agent, f"/files/browse?path={_q(virtual)}")
            state = await get_json(agent, "/state")
            directory = state["completed_frameworks"][0]["completed_executors"][0]["directory"]
            real = await get_json(agent, f"/files/browse?path={_q(directory)}")
            latest = directory.rsplit("/", 1)[0] + "/latest"
            linked = await get_json(agent, f"/files/read?path={_q(latest)}/stdout&offset=0")
        assert [entry["path"] for entry in listing] == [f"{virtual}/stderr", f"{virtual}/stdout"]
        assert all(list(entry) == ENTRY_KEYS for entry in listing)
        stdout = listing[1]
        assert stdout["size"] == len("hello-stdout\n")
        assert stdout["mode"] == "-rw-r--r--"
        assert stdout["nlink"] == 1
        assert isinstance(stdout["mtime"], float) and stdout["mtime"] == int(stdout["mtime"])
        assert isinstance(stdout["uid"], str) and isinstance(stdout["gid"], str)
        assert [entry["path"] for entry in real] == [f"{directory}/stderr", f"{directory}/stdout"]
        assert linked == {"data": "hello-stdout\n", "offset": 0}

    asyncio.run(scenario())


def test_read_answers_like_mesos(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            stdout = _q(await _burn(agent, sink) + "/stdout")

            async def read(query: str) -> dict:
                return await get_json(agent, f"/files/read?path={stdout}{query}")

            assert await read("&offset=-1") == {"data": "", "offset": 13}
            assert await read("") == {"data": "", "offset": 13}
            assert await read("&offset=0") == {"data": "hello-stdout\n", "offset": 0}
            assert await read("&offset=0&length=5") == {"data": "hello", "offset": 0}
            assert await read("&offset=6&length=100") == {"data": "stdout\n", "offset": 6}
            assert await read("&offset=1000") == {"data": "", "offset": 1000}
            assert list(await read("&offset=0")) == ["data", "offset"]

    asyncio.run(scenario())


def test_read_errors_have_the_mesos_status_and_text(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            base = _q(await _burn(agent, sink))
            cases = {
                f"/files/read?path={base}/no-such-file&offset=0": (404, b""),
                f"/files/read?path={base}&offset=0": (400, b"Cannot read a directory.\n"),
                f"/files/read?path={base}/stdout&offset=abc": (
                    400,
                    b"Failed to parse offset: Failed to convert 'abc' to number.\n",
                ),
                f"/files/read?path={base}/stdout&offset=0&length=x": (
                    400,
                    b"Failed to parse length: Failed to convert 'x' to number.\n",
                ),
                f"/files/read?path={base}/stdout&offset=-5": (
                    400,
                    b"Negative offset provided: -5.\n",
                ),
                "/files/read?offset=0": (400, b"Expecting 'path=value' in query.\n"),
                f"/files/browse?path={base}/no-such-dir": (404, b""),
                "/files/browse": (400, b"Expecting 'path=value' in query.\n"),
                f"/files/download?path={base}": (400, b"Cannot download a directory.\n"),
            }
            for target, expected in cases.items():
                status, headers, body = await http(agent, "GET", target)
                assert (status, body) == expected, target
                assert headers["content-type"] == "text/plain; charset=utf-8"

    asyncio.run(scenario())


def test_a_read_returns_at_most_sixteen_pages(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            stdout = _q(
                await _burn(agent, sink, "head -c 100000 /dev/zero | tr '\\0' a") + "/stdout"
            )
            first = await get_json(agent, f"/files/read?path={stdout}&offset=0")
            rest = await get_json(agent, f"/files/read?path={stdout}&offset=65536&length=-1")
        assert len(first["data"]) == 65536
        assert len(rest["data"]) == 100000 - 65536

    asyncio.run(scenario())


def test_a_read_never_splits_a_character(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            stdout = _q(await _burn(agent, sink, "printf 'a\\303\\251b'") + "/stdout")
            cut = await get_json(agent, f"/files/read?path={stdout}&offset=0&length=2")
            rest = await get_json(agent, f"/files/read?path={stdout}&offset=1")
        assert cut == {"data": "a", "offset": 0}
        assert rest == {"data": "éb", "offset": 1}

    asyncio.run(scenario())


def test_download_serves_raw_bytes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            stdout = _q(await _burn(agent, sink) + "/stdout")
            status, headers, body = await http(agent, "GET", f"/files/download?path={stdout}")
        assert status == 200
        assert headers["content-type"] == "application/octet-stream"
        assert body == b"hello-stdout\n"

    asyncio.run(scenario())


def test_debug_maps_virtual_paths_to_directories(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            virtual = await _burn(agent, sink)
            debug = await get_json(agent, "/files/debug")
            state = await get_json(agent, "/state")
        directory = state["completed_frameworks"][0]["completed_executors"][0]["directory"]
        assert debug == {virtual: directory}

    asyncio.run(scenario())


def test_paths_outside_sandboxes_are_never_served(tmp_path: Path) -> None:
    async def scenario() -> None:
        secret = tmp_path / "secret.txt"
        secret.write_text("do not serve")
        async with running_agent(tmp_path) as (agent, sink):
            virtual = await _burn(agent, sink, f"ln -s {secret} leak; ln -s / root")
            state = await get_json(agent, "/state")
            directory = state["completed_frameworks"][0]["completed_executors"][0]["directory"]
            escapes = [
                f"{virtual}/../../../../../../../../..{secret}",
                f"{directory}/../../../../../../../../../..{secret}",
                str(secret),
                "/etc/passwd",
                f"{virtual}/leak",
                f"{virtual}/root/etc/passwd",
                f"{virtual}/%2e%2e/%2e%2e/stdout",
            ]
            for path in escapes:
                for endpoint in ("read", "download", "browse"):
                    target = f"/files/{endpoint}?path={_q(path)}&offset=0"
                    status, _headers, body = await http(agent, "GET", target)
                    assert status in (403, 404), (path, endpoint, status)
                    assert b"do not serve" not in body and b"root:" not in body

    asyncio.run(scenario())


def test_the_v1_api_lists_and_reads_files(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, sink):
            virtual = await _burn(agent, sink)

            async def call(body: dict) -> tuple[int, bytes]:
                status, _h, payload = await http(
                    agent,
                    "POST",
                    "/api/v1",
                    body=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                )
                return status, payload

            status, payload = await call({"type": "LIST_FILES", "list_files": {"path": virtual}})
            listing = json.loads(payload)["list_files"]["file_infos"]
            status_read, payload_read = await call(
                {"type": "READ_FILE", "read_file": {"path": f"{virtual}/stdout", "offset": 6}}
            )
            missing, _ = await call(
                {"type": "READ_FILE", "read_file": {"path": f"{virtual}/nope", "offset": 0}}
            )
        assert status == 200
        assert [info["path"] for info in listing] == [f"{virtual}/stderr", f"{virtual}/stdout"]
        stdout = listing[1]
        assert stdout["mode"] == 0o100644 and stdout["size"] == 13
        assert stdout["mtime"]["nanoseconds"] % 1_000_000_000 == 0
        assert status_read == 200
        read = json.loads(payload_read)
        assert read == {"type": "READ_FILE", "read_file": {"size": 13, "data": "c3Rkb3V0Cg=="}}
        assert missing == 404

    asyncio.run(scenario())


def test_the_sandbox_stays_readable_while_the_task_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_agent(tmp_path) as (agent, _sink):
            agent.launch(launched(task("live", "echo started; sleep 30")))
            stdout = _q(sandbox_path("live", "stdout"))

            async def has_output() -> bool:
                body = await get_json(agent, f"/files/read?path={stdout}&offset=0")
                return body["data"] == "started\n"

            for _ in range(100):
                if await has_output():
                    break
                await asyncio.sleep(0.02)
            assert await has_output()
            assert os.path.isdir(agent.sandbox_directory(agent.live_record(*_ids("live"))))

    asyncio.run(scenario())


def _ids(task_id: str) -> tuple[str, str]:
    from tests.devcluster.test_agent_harness import FRAMEWORK_ID

    return FRAMEWORK_ID, task_id
