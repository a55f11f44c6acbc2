"""The wire: RecordIO framing, a non-leading master's redirects, --strict, lenient parsing,
and HTTP that does not parse (refused with 400 or 413, the master still serving)."""

from __future__ import annotations

import contextlib
import json
import re
import socket

import httpx
import pytest

from tests.devcluster.client import RecordIODecoder, Stream, framework_info, task
from tests.devcluster_fixture import DevCluster

pytestmark = pytest.mark.devcluster


def test_records_survive_any_chunking_and_count_bytes_not_characters(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    agent = devcluster.agent_ids[0]
    scheduler.launch(
        scheduler.offers()[0], task("frame-a", agent, "echo a"), task("frame-b", agent, "echo b")
    )
    scheduler.wait_state("frame-a", "TASK_FINISHED")
    scheduler.wait_state("frame-b", "TASK_FINISHED")
    # A multi-byte task id makes the record's length differ from its character count.
    scheduler.reconcile(("tâche-ünïcode", None))
    lost = scheduler.stream.wait_for(
        "UPDATE", where=lambda e: "ünïcode" in e["update"]["status"]["task_id"]["value"]
    )
    assert lost["update"]["status"]["state"] == "TASK_LOST"

    raw = bytes(scheduler.stream.raw)
    decoder = RecordIODecoder()
    one_byte_at_a_time = [
        json.loads(r) for i in range(len(raw)) for r in decoder.feed(raw[i : i + 1])
    ]
    assert one_byte_at_a_time == scheduler.stream.received
    assert decoder.pending == 0
    for record in RecordIODecoder().feed(raw):
        assert (
            record
            == json.dumps(json.loads(record), separators=(",", ":"), ensure_ascii=False).encode()
        )


def test_events_queued_together_share_a_chunk(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    scheduler.stream.wait_for("OFFERS")
    # SUBSCRIBED and the immediate HEARTBEAT are written together.
    first_chunk = bytes(scheduler.stream.raw[: scheduler.stream.chunks[0]])
    assert len(list(RecordIODecoder().feed(first_chunk))) >= 2


@pytest.fixture(scope="module")
def follower(tmp_path_factory):
    with DevCluster(
        "--leader", "http://127.0.0.1:5050", work_dir=tmp_path_factory.mktemp("follower")
    ) as cluster:
        yield cluster


def test_a_non_leading_master_redirects_scheduler_calls_to_the_leader(follower):
    stream = Stream(
        follower.url, {"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info()}}
    )
    assert stream.status == 307
    assert stream.headers["Location"] == "//127.0.0.1:5050/api/v1/scheduler"
    response = httpx.get(follower.url + "/master/state?jsonp=x")
    assert (response.status_code, response.headers["Location"]) == (
        307,
        "//127.0.0.1:5050/master/state?jsonp=x",
    )


def test_a_non_leading_master_names_the_leader_and_stays_healthy(follower):
    redirect = httpx.get(follower.url + "/master/redirect")
    assert (redirect.status_code, redirect.headers["Location"]) == (307, "//127.0.0.1:5050")
    assert httpx.get(follower.url + "/health").status_code == 200
    assert follower.agents == []


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    with DevCluster("--strict", work_dir=tmp_path_factory.mktemp("strict")) as cluster:
        yield cluster


def test_strict_mode_names_unknown_keys(strict, subscribe):
    scheduler = subscribe(strict.url)
    response = scheduler.call("REVIVE", requests=[{}])
    assert response.status_code == 400
    assert "requests" in response.text
    offer = scheduler.offers()[0]
    typo = task("typo", strict.agent_ids[0])
    typo["taskId"] = typo.pop("task_id")
    typo["task_id"] = {"value": "typo"}
    response = scheduler.launch(offer, typo)
    assert response.status_code == 400
    assert "accept.operations[0].launch.task_infos[0].taskId" in response.text


def test_strict_mode_refuses_unknown_enum_names(strict, subscribe):
    scheduler = subscribe(strict.url)
    body = {"offer_ids": [], "operations": [{"type": "LAUNCH_EVERYTHING"}]}
    response = scheduler.call("ACCEPT", body)
    assert response.status_code == 400
    assert "LAUNCH_EVERYTHING" in response.text


def test_lenient_mode_ignores_unknown_keys_like_mesos(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    assert scheduler.call("REVIVE", requests=[{}]).status_code == 202
    assert scheduler.call("REVIVE", {"role": "x"}).status_code == 202


def _raw(cluster: DevCluster, data: bytes, *, until: bytes = b"", timeout: float = 5.0) -> bytes:
    host, port = cluster.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while until not in received or not until:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
            if until and received.count(until) >= 1 and until in received:
                break
    return received


def _revive(framework_id: str, stream_id: str, extra: bytes = b"") -> bytes:
    body = json.dumps({"type": "REVIVE", "framework_id": {"value": framework_id}}).encode()
    return (
        b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Mesos-Stream-Id: %s\r\n%sContent-Length: %d\r\n\r\n%s"
        % (stream_id.encode(), extra, len(body), body)
    )


def test_pipelined_calls_are_answered_in_order(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    good = _revive(scheduler.framework_id, scheduler.stream.stream_id)
    bad = _revive(scheduler.framework_id, "not-the-stream")
    answer = _raw(
        devcluster,
        good + bad + good + b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
        until=b"404 Not Found",
    )
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"202", b"400", b"202", b"404"]


def test_expect_continue_chunked_bodies_and_connection_close(devcluster, subscribe):
    scheduler = subscribe(devcluster.url)
    body = json.dumps(
        {"type": "REVIVE", "framework_id": {"value": scheduler.framework_id}}
    ).encode()
    head = (
        b"POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Mesos-Stream-Id: %s\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\n\r\n" % scheduler.stream.stream_id.encode()
    )
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    host, port = devcluster.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(chunked)
        answer = b""
        while chunk := sock.recv(1024):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert b"Connection: close" in answer


def test_garbage_gets_400_and_the_connection_closed(devcluster):
    answer = _raw(devcluster, b"NONSENSE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Malformed request" in answer


def _until_closed(cluster: DevCluster, data: bytes, *, limit: int = 65536) -> bytes:
    """All the master answers before it closes the connection. A server that answered the
    same request again and again is cut off at `limit` bytes instead of read forever."""
    host, port = cluster.url.removeprefix("http://").split(":")
    received = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        with contextlib.suppress(TimeoutError):
            while len(received) < limit and (chunk := sock.recv(65536)):
                received += chunk
    return received


def _refused_once(answer: bytes, status: bytes, reason: bytes) -> None:
    """Exactly one answer, `status` with `reason` for its body, and the connection closed."""
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [status], answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head
    assert body.startswith(reason), body


def _healthy(cluster: DevCluster) -> None:
    answer = _raw(cluster, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("length", ["-100000", "-1", "+5", "1_0", "5 5", "0x5", "5.0", "", "\xb2"])
def test_a_content_length_that_is_not_plain_digits_gets_400(devcluster_module, length):
    head = f"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"

    answer = _until_closed(devcluster_module, head.encode("latin-1") + b"hello")

    _refused_once(answer, b"400", b"Malformed Content-Length")
    _healthy(devcluster_module)


@pytest.mark.parametrize("length", ["67108865", "9" * 5000])
def test_a_content_length_past_the_limit_gets_413_before_any_body(devcluster_module, length):
    head = f"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"

    answer = _until_closed(devcluster_module, head.encode())

    _refused_once(answer, b"413", b"Request body too large")
    _healthy(devcluster_module)


CHUNKED_HEAD = b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "size",
    [b"-6", b"+6", b"0x6", b" 6", b"6 ", b"1_0", b"", b";ext", b"g", b"1" * 17, b"\xb2"],
)
def test_a_chunk_size_that_is_not_hex_digits_gets_400(devcluster_module, size):
    answer = _until_closed(devcluster_module, CHUNKED_HEAD + size + b"\r\nhello!\r\n0\r\n\r\n")

    _refused_once(answer, b"400", b"Malformed chunked body: bad chunk size")
    _healthy(devcluster_module)


def test_chunk_data_must_end_where_its_size_says(devcluster_module):
    answer = _until_closed(devcluster_module, CHUNKED_HEAD + b"3\r\nhello\r\n0\r\n\r\n")

    _refused_once(answer, b"400", b"Malformed chunked body: chunk data not followed by CRLF")
    _healthy(devcluster_module)


def test_a_chunk_size_line_without_end_is_refused_once_too_long(devcluster_module):
    answer = _until_closed(devcluster_module, CHUNKED_HEAD + b"5;" + b"x" * 5000)

    _refused_once(answer, b"400", b"Malformed chunked body: chunk size line too long")
    _healthy(devcluster_module)


@pytest.mark.parametrize(
    "chunks",
    [
        b"4000001\r\n",  # one byte past the limit, announced before any data is sent
        b"a\r\n0123456789\r\n3fffff7\r\n",  # the sum passes it, not either chunk
    ],
)
def test_chunks_past_the_body_limit_get_413_as_soon_as_their_size_is_read(
    devcluster_module, chunks
):
    answer = _until_closed(devcluster_module, CHUNKED_HEAD + chunks)

    _refused_once(answer, b"413", b"Request body too large")
    _healthy(devcluster_module)


def test_chunk_extensions_and_trailers_are_still_accepted(devcluster_module):
    body = b"5;name=value\r\nhello\r\n1;x\r\n!\r\n0;last\r\nTrailer: yes\r\n\r\n"

    answer = _raw(devcluster_module, CHUNKED_HEAD + body, until=b"\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_target_that_does_not_parse_gets_400_instead_of_silence(devcluster_module):
    answer = _until_closed(devcluster_module, b"GET http://[x/ HTTP/1.1\r\nHost: x\r\n\r\n")

    _refused_once(answer, b"400", b"Malformed request: Invalid IPv6 URL")
    _healthy(devcluster_module)
