"""Every malformed scheduler request of 08-bad-requests, replayed: same code, same text."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.devcluster import golden
from tests.devcluster.client import Scheduler

pytestmark = pytest.mark.devcluster

GOLDEN_MASTER = "d79212f0-6a89-4873-b66e-53b3568dbec3"
GOLDEN_FRAMEWORK = f"{GOLDEN_MASTER}-0011"
GOLDEN_STREAM = "c1c72564-47a3-4438-978f-cc4db8f456a5"
GOLDEN_AGENT = "77051690-f407-4ed2-8bef-7a8863608ebc-S0"


def _replayable() -> list[dict[str, Any]]:
    found = []
    for item in golden.load("08-bad-requests")["exchanges"]:
        status = item["response"]["status"]
        if status in (None, 200) or item.get("note") == "cleanup":
            continue
        found.append(item)
    return found


CASES = _replayable()


@pytest.fixture(scope="module")
def framework(devcluster_module):
    scheduler = Scheduler(devcluster_module.url)
    yield scheduler
    scheduler.teardown()
    scheduler.close()


def _rewrite(text: str, scheduler: Scheduler, agent_id: str, master_id: str) -> str:
    text = text.replace(GOLDEN_FRAMEWORK, scheduler.framework_id)
    text = text.replace(GOLDEN_STREAM, scheduler.stream.stream_id or "")
    text = text.replace(GOLDEN_AGENT, agent_id)
    return text.replace(GOLDEN_MASTER, master_id)


@pytest.mark.parametrize("case", CASES, ids=[c.get("note") or c["request"]["path"] for c in CASES])
def test_a_bad_request_gets_the_real_masters_status_and_text(devcluster_module, framework, case):
    request, recorded = case["request"], case["response"]

    def rewrite(text):
        return _rewrite(
            text, framework, devcluster_module.agent_ids[0], devcluster_module.master_id
        )

    body = request["body"]
    content = None if body is None else rewrite(body if isinstance(body, str) else json.dumps(body))
    headers = {k: rewrite(v) for k, v in request["headers"].items()}
    response = httpx.request(
        request["method"], devcluster_module.url + request["path"], content=content, headers=headers
    )
    assert response.status_code == recorded["status"]
    assert response.headers.get("Content-Type") == recorded["headers"].get("Content-Type")
    expected = rewrite(recorded["body"]) if isinstance(recorded["body"], str) else recorded["body"]
    assert response.text == expected


def test_type_unknown_from_a_known_framework_is_refused_not_fatal(devcluster_module, framework):
    response = framework.call("UNKNOWN")
    assert response.status_code == 501
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert framework.call("REVIVE").status_code == 202


def test_the_prefixed_endpoint_is_the_same_endpoint(devcluster_module, framework):
    response = httpx.post(
        devcluster_module.url + "/master/api/v1/scheduler",
        content=json.dumps({"type": "REVIVE", "framework_id": {"value": framework.framework_id}}),
        headers={"Content-Type": "application/json", "Mesos-Stream-Id": framework.stream.stream_id},
    )
    assert response.status_code == 202
    assert "Content-Type" not in response.headers
    assert response.content == b""


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ([], "Failed to convert JSON into Call protobuf: Expecting a JSON object"),
        (
            {
                "type": "DECLINE",
                "framework_id": {"value": "x"},
                "decline": {"offer_ids": {"value": 5}},
            },
            "Failed to convert JSON into Call protobuf: "
            "Not expecting a JSON number for field 'value'",
        ),
        (
            {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u"}}},
            "Failed to convert JSON into Call protobuf: Missing required fields: "
            "subscribe.framework_info.name",
        ),
        (
            {"type": "KILL", "framework_id": {"value": "x"}, "kill": {}},
            "Failed to convert JSON into Call protobuf: Missing required fields: kill.task_id",
        ),
    ],
)
def test_malformed_calls_get_400_with_what_is_wrong(devcluster_module, body, text):
    response = httpx.post(
        devcluster_module.url + "/api/v1/scheduler",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.text) == (400, text)


def test_protobuf_bodies_are_refused_with_a_clear_message(devcluster_module):
    response = httpx.post(
        devcluster_module.url + "/api/v1/scheduler",
        content=b"\x08\x01",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 415
    assert "JSON only" in response.text
