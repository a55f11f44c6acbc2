"""Pipelined scheduler calls (cluster.client.pipeline), which carry the engine's ACCEPTs
and acknowledgements: against a scripted HTTP server for the edge cases, and against a
real devcluster for the real thing."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from cluster.client import HttpOptions, MesosUnreachable, OperatorClient, SchedulerConnection
from cluster.client.pipeline import WINDOW, Pipeline
from cluster.types import FrameworkInfo, OffersEvent, TaskStatus
from tests.devcluster_fixture import DevCluster


class ScriptedServer:
    """Answers each request with the next scripted response; a None reply drops the
    connection, and the next connection is served on (requests are counted across)."""

    def __init__(self, answer: Callable[[int, bytes], bytes | None]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.current: socket.socket | None = None
        self.finished = threading.Semaphore(0)  # released as each connection ends
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed
            self.connections += 1
            self.current = conn
            self._serve_one(conn)
            self.finished.release()

    def drop_current(self) -> None:
        """End the connection being served, as a master closing an idle one does, and
        return once it is closed."""
        assert self.current is not None
        self.current.shutdown(socket.SHUT_RDWR)
        assert self.finished.acquire(timeout=5)

    def _serve_one(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                buffer = buffer[length:]
                reply = self.answer(len(self.requests), buffer)
                if reply is None:
                    return  # drop the connection
                conn.sendall(reply)
                if b"Connection: close" in reply:
                    return  # as a server does once it said so


@pytest.fixture
def server_for() -> Iterator[Callable[[Callable[[int, bytes], bytes | None]], ScriptedServer]]:
    made: list[ScriptedServer] = []

    def make(answer: Callable[[int, bytes], bytes | None]) -> ScriptedServer:
        made.append(ScriptedServer(answer))
        return made[-1]

    yield make
    for server in made:
        server.listener.close()


ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


def test_calls_go_out_in_order_with_their_headers_and_answers_come_back_in_order(
    server_for,
) -> None:
    def answer(n: int, _: bytes) -> bytes:
        if n == 3:
            return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\n\r\nno such"
        if n == 4:
            head = b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
            return head + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        return ACCEPTED

    server = server_for(answer)
    pipeline = Pipeline(server.url, HttpOptions(principal="berth", secret="pw"))
    bodies = [f'{{"n":{n}}}'.encode() for n in range(1, WINDOW + 10)]

    answers = pipeline.post("/api/v1/scheduler", bodies, {"Mesos-Stream-Id": "s1"})

    assert [a.status for a in answers[:5]] == [202, 202, 400, 202, 202]
    assert (answers[2].body, answers[3].body) == (b"no such", b"abcde")
    assert len(answers) == len(bodies)
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in server.requests] == bodies
    first = server.requests[0].decode()
    assert first.startswith("POST /api/v1/scheduler HTTP/1.1\r\n")
    assert "Mesos-Stream-Id: s1\r\n" in first
    assert "Authorization: Basic YmVydGg6cHc=\r\n" in first
    pipeline.close()


def test_a_connection_dropped_part_way_is_reported_unreachable(server_for) -> None:
    server = server_for(lambda n, _: ACCEPTED if n < 3 else None)
    pipeline = Pipeline(server.url, HttpOptions(request_timeout=5))

    with pytest.raises(MesosUnreachable, match="closed the connection"):
        pipeline.post("/api/v1/scheduler", [b"{}"] * 5, {})


def test_an_idle_connection_closed_by_the_peer_does_not_swallow_the_next_batch(
    server_for,
) -> None:
    server = server_for(lambda n, _: ACCEPTED)
    pipeline = Pipeline(server.url, HttpOptions(request_timeout=5))
    pipeline.post("/p", [b"{}"], {})
    server.drop_current()  # the master (or a proxy) ends the idle keep-alive connection

    answers = pipeline.post("/p", [b"{}"] * 4, {})

    assert [a.status for a in answers] == [202] * 4
    assert server.connections == 2 and len(server.requests) == 5


def test_connection_close_part_way_through_a_window_is_unreachable_not_a_crash(
    server_for,
) -> None:
    closing = b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = server_for(lambda n, _: closing if n == 2 else ACCEPTED)
    pipeline = Pipeline(server.url, HttpOptions(request_timeout=5))

    with pytest.raises(MesosUnreachable, match="part-way"):
        pipeline.post("/p", [b"{}"] * 5, {})
    answers = pipeline.post("/p", [b"{}"] * 2, {})  # on a fresh connection

    assert [a.status for a in answers] == [202, 202]


def test_abort_from_another_thread_ends_a_post_waiting_on_a_silent_master(server_for) -> None:
    release = threading.Event()

    def answer(n: int, _: bytes) -> bytes:
        release.wait(30)  # a master that does not answer
        return ACCEPTED

    server = server_for(answer)
    pipeline = Pipeline(server.url, HttpOptions(request_timeout=60))
    failures: list[BaseException] = []

    def post() -> None:
        try:
            pipeline.post("/p", [b"{}"], {})
        except BaseException as error:
            failures.append(error)

    waiting = threading.Thread(target=post)
    waiting.start()
    while not server.requests:
        time.sleep(0.01)
    pipeline.abort()
    waiting.join(10)
    release.set()

    assert not waiting.is_alive()  # woken long before its 60 s request timeout
    assert len(failures) == 1 and isinstance(failures[0], MesosUnreachable)


@pytest.mark.devcluster
def test_one_unacknowledgeable_update_does_not_hold_back_the_others(
    devcluster: DevCluster, caplog: pytest.LogCaptureFixture
) -> None:
    with SchedulerConnection(devcluster.url) as conn:
        conn.subscribe(FrameworkInfo(user="root", name="ack-test", failover_timeout=60))
        good_uuid = base64.b64encode(bytes(16)).decode()
        statuses = [
            TaskStatus(task_id="t-bad", state="TASK_RUNNING", agent_id="S1", uuid="not base64!"),
            TaskStatus(task_id="t-none", state="TASK_RUNNING", agent_id=None, uuid=good_uuid),
            TaskStatus(task_id="t-good", state="TASK_RUNNING", agent_id="S1", uuid=good_uuid),
        ]

        answers = conn.acknowledge_many(statuses)

        assert len(answers) == 1  # only t-good's went out, and the master answered it
        assert "Not acknowledging the update of t-bad" in caplog.text
        assert "Not acknowledging the update of t-none" in caplog.text
        conn.teardown()


@pytest.mark.devcluster
def test_declines_and_revives_pipelined_to_a_real_master_are_each_answered(
    devcluster: DevCluster,
) -> None:
    with SchedulerConnection(devcluster.url) as conn:
        conn.subscribe(FrameworkInfo(user="root", name="pipeline-test", failover_timeout=60))
        offer_ids = []
        while not offer_ids:
            event = conn.events.get(timeout=15)
            if isinstance(event, OffersEvent):
                offer_ids = [o.id for o in event.offers]
        fid = {"value": conn.framework_id}
        # Filtered for an hour, after the REVIVEs: no offer may come back to us.
        filtered = {"refuse_seconds": 3600.0}
        declines = [
            {
                "type": "DECLINE",
                "framework_id": fid,
                "decline": {"offer_ids": [{"value": o}], "filters": filtered},
            }
            for o in offer_ids
        ]
        calls = [*[{"type": "REVIVE", "framework_id": fid}] * 300, *declines]
        stale = {
            "type": "DECLINE",
            "framework_id": {"value": "someone-else"},
            "decline": {"offer_ids": [{"value": "x"}]},
        }

        errors = conn.send_many([*calls, stale])

        assert errors[: len(calls)] == [None] * len(calls)
        assert errors[-1] is not None and errors[-1].status == 400
        # The master took the DECLINEs: it holds no offer any more.
        with OperatorClient(devcluster.url) as operator:
            assert operator.get_metrics()["master/outstanding_offers"] == 0
        conn.teardown()
