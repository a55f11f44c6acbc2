"""devcluster under load: scheduler calls/s and status updates/s with 1,000 simulated agents.

    .venv/bin/python bench/devcluster_bench.py [--agents 1000] [--seconds 5] [--tasks 6000]

It starts `python -m devcluster` with simulated agents, subscribes one framework and then
1. sends a DECLINE / REVIVE / ACKNOWLEDGE mix over a few keep-alive connections (each
   one pipelined, in order, as a framework's call connection is) and counts 202s per second;
2. launches many short simulated tasks and counts UPDATE events per second on the
   subscription stream while acknowledging every one of them.
The client is a small raw HTTP/1.1 one, so that the figures are the server's, not a
client library's. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Connection:
    """One keep-alive connection; requests are pipelined and answered in order."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    def send(self, body: bytes, stream_id: str) -> None:
        self.writer.write(
            b"POST /api/v1/scheduler HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Mesos-Stream-Id: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (self.host.encode(), stream_id.encode(), len(body), body)
        )

    def send_many(self, bodies: list[bytes], stream_id: str) -> None:
        head = b"POST /api/v1/scheduler HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        head %= self.host.encode()
        self.writer.write(
            b"".join(
                b"%sMesos-Stream-Id: %s\r\nContent-Length: %d\r\n\r\n%s"
                % (head, stream_id.encode(), len(body), body)
                for body in bodies
            )
        )

    async def response(self) -> int:
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await self.reader.readexactly(length)
        return status


class Subscription:
    def __init__(self) -> None:
        self.framework_id = ""
        self.stream_id = ""
        self.offers: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.arrived = asyncio.Event()
        self.subscribed = asyncio.Event()

    async def run(self, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port, limit=2**24)
        body = json.dumps(
            {
                "type": "SUBSCRIBE",
                "subscribe": {
                    "framework_info": {
                        "user": "bench",
                        "name": "devcluster-bench",
                        "roles": ["*"],
                        "capabilities": [{"type": "MULTI_ROLE"}],
                        "failover_timeout": 0,
                    }
                },
            }
        ).encode()
        writer.write(
            b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        while (line := await reader.readline()) != b"\r\n":
            if line.lower().startswith(b"mesos-stream-id:"):
                self.stream_id = line.split(b":")[1].strip().decode()
        buffer = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                return
            buffer += await reader.readexactly(size)
            await reader.readexactly(2)
            position = 0
            while (newline := buffer.find(b"\n", position)) >= 0:
                length = int(buffer[position:newline])
                if len(buffer) < newline + 1 + length:
                    break
                self._dispatch(json.loads(buffer[newline + 1 : newline + 1 + length]))
                position = newline + 1 + length
            buffer = buffer[position:]

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "SUBSCRIBED":
            self.framework_id = event["subscribed"]["framework_id"]["value"]
            self.subscribed.set()
        elif kind == "OFFERS":
            self.offers.put_nowait(event["offers"]["offers"])
        elif kind == "UPDATE":
            self.updates.put_nowait(event["update"]["status"])
            self.arrived.set()


def start_cluster(agents: int, work_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    ready = work_dir / "ready.json"
    profile = (
        ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        if os.environ.get("BENCH_PROFILE")
        else []
    )
    process = subprocess.Popen(
        [
            sys.executable,
            *profile,
            "-m",
            "devcluster",
            "--port",
            "0",
            "--agents",
            "0",
            "--simulated-agents",
            str(agents),
            "--simulated-duration",
            "0.2",
            "--work-dir",
            str(work_dir / "sandboxes"),
            "--ready-file",
            str(ready),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("devcluster did not start")
        time.sleep(0.1)
    return process, json.loads(ready.read_text())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: a rate per CPU-second does not depend on how
    busy the machine is, unlike a rate per wall-clock second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _call(kind: str, framework_id: str, body: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"type": kind, "framework_id": {"value": framework_id}}
    if body is not None:
        message[kind.lower()] = body
    return json.dumps(message).encode()


async def calls_per_second(
    host: str, port: int, sub: Subscription, agent_ids: list[str], seconds: float
) -> float:
    """A DECLINE / REVIVE / ACKNOWLEDGE mix on 4 pipelined connections."""
    fid = sub.framework_id
    uuid = base64.b64encode(os.urandom(16)).decode()
    mix = itertools.cycle(
        [
            _call(
                "DECLINE",
                fid,
                {"offer_ids": [{"value": f"{fid}-O-nope"}], "filters": {"refuse_seconds": 1}},
            ),
            _call(
                "ACKNOWLEDGE",
                fid,
                {"agent_id": {"value": agent_ids[0]}, "task_id": {"value": "t"}, "uuid": uuid},
            ),
            _call("REVIVE", fid),
            _call(
                "ACKNOWLEDGE",
                fid,
                {"agent_id": {"value": agent_ids[-1]}, "task_id": {"value": "u"}, "uuid": uuid},
            ),
        ]
    )
    done = 0
    bad = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done, bad
        connection = await Connection.open(host, port)
        while time.monotonic() < deadline:
            for _ in range(32):
                connection.send(next(mix), sub.stream_id)
            await connection.writer.drain()
            for _ in range(32):
                status = await connection.response()
                done += 1
                bad += status != 202
        connection.writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(4)))
    elapsed = time.monotonic() - started
    if bad:
        print(f"  {bad} calls were not answered 202")
    return done / elapsed


async def lockstep_calls_per_second(
    host: str, port: int, sub: Subscription, seconds: float
) -> float:
    """One connection, each call waiting for its answer: how a simple framework calls."""
    connection = await Connection.open(host, port)
    body = _call("REVIVE", sub.framework_id, {"roles": ["*"]})
    done = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        connection.send(body, sub.stream_id)
        await connection.response()
        done += 1
    connection.writer.close()
    return done / (time.monotonic() - started)


async def updates_per_second(
    host: str, port: int, sub: Subscription, tasks: int, held: list[dict[str, Any]]
) -> tuple[float, int]:
    """Launch `tasks` short simulated tasks; count UPDATEs while acknowledging each one."""
    fid = sub.framework_id
    acks = [await Connection.open(host, port) for _ in range(4)]
    launches = await Connection.open(host, port)
    readers = [asyncio.create_task(_swallow(c)) for c in [*acks, launches]]
    sub.offers.put_nowait(held)
    counter = itertools.count()
    launched = 0
    expected = tasks * 3  # STARTING, RUNNING, FINISHED
    seen = 0
    first = last = 0.0
    per_offer = max(1, min(64, -(-tasks // max(len(held), 1))))
    while seen < expected:
        while launched < tasks and not sub.offers.empty():
            for offer in sub.offers.get_nowait():
                count = min(per_offer, tasks - launched)
                if count <= 0:
                    break
                infos = [_task(f"t{next(counter)}", offer) for _ in range(count)]
                launched += count
                launches.send(_accept(fid, offer, infos), sub.stream_id)
        if sub.updates.empty():
            try:
                await asyncio.wait_for(sub.arrived.wait(), timeout=10)
            except TimeoutError:
                print(f"  stalled after {seen} updates")
                break
            sub.arrived.clear()
        now = time.monotonic()
        first = first or now
        batches: list[list[bytes]] = [[] for _ in acks]
        while not sub.updates.empty():
            status = sub.updates.get_nowait()
            last = now
            seen += 1
            if "uuid" in status:
                body = {k: status[k] for k in ("agent_id", "task_id", "uuid")}
                batches[seen % len(acks)].append(_call("ACKNOWLEDGE", fid, body))
        # One write per connection for everything that arrived together, as a framework
        # acknowledging a burst of updates on a pipelined connection would.
        for connection, batch in zip(acks, batches, strict=True):
            connection.send_many(batch, sub.stream_id)
        await asyncio.sleep(0)
    for reader in readers:
        reader.cancel()
    return seen / max(last - first, 1e-9), seen


async def _swallow(connection: Connection) -> None:
    """Read (and drop) the answers of a pipelined connection as they come."""
    while True:
        await connection.response()


def _accept(fid: str, offer: dict[str, Any], infos: list[dict[str, Any]]) -> bytes:
    operations = [{"type": "LAUNCH", "launch": {"task_infos": infos}}]
    body = {"offer_ids": [offer["id"]], "operations": operations, "filters": {"refuse_seconds": 0}}
    return _call("ACCEPT", fid, body)


def _task(task_id: str, offer: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
        "command": {"value": "true"},
    }


async def bench(args: argparse.Namespace) -> None:
    work_dir = Path(tempfile.mkdtemp(prefix="devcluster-bench-"))
    started = time.monotonic()
    process, ready = start_cluster(args.agents, work_dir)
    took = time.monotonic() - started
    print(f"devcluster with {len(ready['agents'])} simulated agents up in {took:.1f} s")
    host, port = ready["master"].removeprefix("http://").split(":")
    sub = Subscription()
    reader = asyncio.create_task(sub.run(host, int(port)))
    try:
        await asyncio.wait_for(sub.subscribed.wait(), 30)
        offers = await asyncio.wait_for(sub.offers.get(), 30)
        print(f"first OFFERS event: {len(offers)} offers")
        agent_ids = [a["id"] for a in ready["agents"]]
        cpu, wall = cpu_seconds(process.pid), time.monotonic()
        rate = await calls_per_second(host, int(port), sub, agent_ids, args.seconds)
        per_cpu = rate * (time.monotonic() - wall) / max(cpu_seconds(process.pid) - cpu, 1e-9)
        print(f"scheduler calls: {rate:,.0f} calls/s (DECLINE/ACKNOWLEDGE/REVIVE, 4 connections)")
        print(f"                 {per_cpu:,.0f} calls per CPU-second of the devcluster process")
        rate = await lockstep_calls_per_second(host, int(port), sub, min(args.seconds, 3.0))
        print(f"                 {rate:,.0f} calls/s on one connection, one call at a time")
        cpu = cpu_seconds(process.pid)
        rate, seen = await updates_per_second(host, int(port), sub, args.tasks, offers)
        per_cpu = seen / max(cpu_seconds(process.pid) - cpu, 1e-9)
        print(f"status updates: {rate:,.0f} UPDATE events/s streamed ({seen}, each acknowledged)")
        print(
            f"                {per_cpu:,.0f} updates (and their ACKs) per CPU-second of devcluster"
        )
    finally:
        reader.cancel()
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tasks", type=int, default=10000)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
