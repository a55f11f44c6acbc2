"""Start a real devcluster (`python -m devcluster`) for a test and stop it afterwards.

    def test_something(devcluster):            # the fixture in tests/conftest.py
        devcluster.url                          # "http://127.0.0.1:PORT": the master
        devcluster.agents                       # [{"id", "hostname", "url", "simulated"}]
        devcluster.partition_agent(devcluster.agents[0]["id"])

Extra command-line options come from the `devcluster` marker:

    @pytest.mark.devcluster("--agents", "2", "--agent-attributes", "rack:r{i}")

Defaults suit tests: one agent sized like the golden transcripts' agent
(cpus:2;mem:2048;disk:4096;ports:[31000-31100]), 1 s heartbeats and update retries, a
0.5 s allocation interval. Options given later override them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

TEST_OPTIONS = (
    "--agent-resources",
    "cpus:2;mem:2048;disk:4096;ports:[31000-31100]",
    "--heartbeat-interval",
    "1",
    "--status-retry-seconds",
    "1",
    "--allocation-interval",
    "0.5",
)


class DevClusterError(RuntimeError):
    pass


class DevCluster:
    """One devcluster process; a context manager that starts and stops it."""

    def __init__(self, *options: str, work_dir: Path | None = None, defaults: bool = True) -> None:
        self._own_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="devcluster-"))
        self.options = [*(TEST_OPTIONS if defaults else ()), *options]
        self.process: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self._log = self.work_dir / "devcluster.log"

    # -- life -----------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> DevCluster:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        ready_file = self.work_dir / "ready.json"
        ready_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "devcluster",
            "--port",
            "0",
            "--work-dir",
            str(self.work_dir / "sandboxes"),
            "--ready-file",
            str(ready_file),
            *self.options,
        ]
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise DevClusterError(f"devcluster did not start: {self.log_text()}")
            time.sleep(0.05)
        self.ready = json.loads(ready_file.read_text())
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> DevCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    # -- where it is ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return str(self.ready["master"])

    @property
    def master_id(self) -> str:
        return str(self.ready["master_id"])

    @property
    def pid(self) -> int:
        return int(self.ready["pid"])

    @property
    def agents(self) -> list[dict[str, Any]]:
        return list(self.ready["agents"])

    @property
    def agent_ids(self) -> list[str]:
        return [agent["id"] for agent in self.agents]

    # -- fault controls (POST /devcluster/...) ----------------------------------------

    def fault(self, path: str, **params: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/devcluster/{path}", params=params, timeout=30)
        if response.status_code != 200:
            raise DevClusterError(f"{path}: {response.status_code} {response.text}")
        return dict(response.json())

    def remove_agent(self, agent_id: str, *, gone: bool = False) -> dict[str, Any]:
        return self.fault(f"agents/{agent_id}/remove", **({"gone": 1} if gone else {}))

    def partition_agent(self, agent_id: str) -> dict[str, Any]:
        return self.fault(f"agents/{agent_id}/partition")

    def heal_agent(self, agent_id: str) -> dict[str, Any]:
        return self.fault(f"agents/{agent_id}/heal")

    def restart_master(self, agent_delay: float = 0.0) -> dict[str, Any]:
        return self.fault("master/restart", agent_delay=agent_delay)

    def drop_framework(self, framework_id: str) -> dict[str, Any]:
        return self.fault(f"frameworks/{framework_id}/drop")

    def inject_record(self, framework_id: str, payload: bytes) -> dict[str, Any]:
        """Put `payload` into the framework's event stream as one RecordIO record."""
        url = f"{self.url}/devcluster/frameworks/{framework_id}/inject"
        response = httpx.post(url, content=payload, timeout=30)
        if response.status_code != 200:
            raise DevClusterError(f"inject: {response.status_code} {response.text}")
        return dict(response.json())

    def stop_heartbeats(self, framework_id: str | None = None) -> dict[str, Any]:
        return self.fault(
            "heartbeats/stop", **({"framework_id": framework_id} if framework_id else {})
        )

    def resume_heartbeats(self, framework_id: str | None = None) -> dict[str, Any]:
        params = {"framework_id": framework_id} if framework_id else {}
        return self.fault("heartbeats/resume", **params)
