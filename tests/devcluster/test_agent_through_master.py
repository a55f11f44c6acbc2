"""The agent inside a real devcluster: a framework launches through the master and reads
the task's sandbox from the agent URL its offer named (02-launch-finish, 06-ports)."""

from __future__ import annotations

import httpx
import pytest

from tests.devcluster.client import framework_info, task

pytestmark = pytest.mark.devcluster


def _agent_url(offer: dict) -> str:
    address = offer["url"]["address"]
    return f"http://{address['ip']}:{address['port']}"


def test_a_launched_command_runs_and_its_output_is_served_by_the_agent(
    devcluster_module, subscribe
):
    scheduler = subscribe(devcluster_module.url)
    [offer] = scheduler.offers()
    agent_id = offer["agent_id"]["value"]
    ports = {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": 31005, "end": 31007}]},
    }
    info = task(
        "ports-env", agent_id, "env | grep -E '^(PORT|MESOS_AGENT_ENDPOINT|MESOS_SLAVE_ID)' | sort"
    )
    info["resources"].append(ports)
    assert scheduler.launch(offer, info).status_code == 202
    finished = scheduler.wait_state("ports-env", "TASK_FINISHED")
    assert finished["message"] == "Command exited with status 0"
    url = _agent_url(offer)
    path = f"/frameworks/{scheduler.framework_id}/executors/ports-env/runs/latest/stdout"
    body = httpx.get(f"{url}/files/read", params={"path": path, "offset": 0}).json()
    endpoint = url.removeprefix("http://")
    assert body == {
        "data": f"MESOS_AGENT_ENDPOINT={endpoint}\nMESOS_SLAVE_ID={agent_id}\n",
        "offset": 0,
    }


def test_a_kill_through_the_master_reaches_the_process(devcluster_module, subscribe):
    scheduler = subscribe(
        devcluster_module.url, framework_info(capabilities=["MULTI_ROLE", "TASK_KILLING_STATE"])
    )
    [offer] = scheduler.offers()
    agent_id = offer["agent_id"]["value"]
    scheduler.launch(offer, task("sleeper", agent_id, "sleep 600", cpus=0.5))
    scheduler.wait_state("sleeper", "TASK_RUNNING")
    [entry] = httpx.get(f"{_agent_url(offer)}/monitor/statistics").json()
    assert entry["executor_id"] == "sleeper"
    assert entry["statistics"]["cpus_soft_limit"] == 0.6
    scheduler.kill("sleeper", agent_id)
    killing = scheduler.wait_state("sleeper", "TASK_KILLING")
    killed = scheduler.wait_state("sleeper", "TASK_KILLED")
    assert "message" not in killing
    assert killed["message"] == "Command terminated with signal Terminated"
    assert httpx.get(f"{_agent_url(offer)}/monitor/statistics").json() == []
