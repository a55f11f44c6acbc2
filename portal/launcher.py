"""Start every Berth process for a laptop and stop them all on Ctrl-C.

`./berth up` runs this after migrations. It imports nothing from Django: it only decides
which processes a machine needs (a broker, the devcluster, web, worker + beat, framework),
starts each in its own process group, prefixes their output, and takes them all down
together, so one Ctrl-C never leaves an orphan behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from portal.env import env_bool, env_str

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_GRACE_SECONDS = 10.0
COLOURS = ["36", "35", "33", "32", "34", "31"]


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


def data_dir() -> Path:
    default = Path.home() / ".local" / "share" / "berth"
    path = Path(env_str("BERTH_DATA_DIR", str(default)))
    path.mkdir(parents=True, exist_ok=True)
    return path


def port_answers(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plan(data: Path) -> tuple[list[Child], dict[str, str]]:
    """Decide which processes to start and the environment they share."""
    env: dict[str, str] = {"BERTH_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    children: list[Child] = []

    # 1. Broker: the given Redis, else our own redis-server if installed, else none needed
    #    (settings fall back to Kombu's filesystem transport when REDIS_URL is empty).
    if not env_str("REDIS_URL") and shutil.which("redis-server"):
        port = free_port()
        redis_dir = data / "redis"
        redis_dir.mkdir(exist_ok=True)
        children.append(
            Child(
                "redis",
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(redis_dir),
                ],
            )
        )
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"

    # 2. The devcluster, unless Berth is pointed at real masters.
    if not env_str("BERTH_MESOS_MASTER") and env_bool("BERTH_DEVCLUSTER", True):
        url = urlsplit(env_str("BERTH_DEVCLUSTER_URL", "http://127.0.0.1:5050"))
        host, port = url.hostname or "127.0.0.1", url.port or 5050
        if port_answers(host, port):
            raise SystemExit(
                f"berth: something already listens on {host}:{port}; stop it, or set "
                "BERTH_DEVCLUSTER_URL to a free address, "
                "or BERTH_MESOS_MASTER to use a real cluster"
            )
        children.append(
            Child(
                "devcluster",
                [
                    PYTHON,
                    "-m",
                    "devcluster",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--work-dir",
                    str(data / "devcluster"),
                ],
            )
        )

    # 3. Web, worker + beat, and the framework (when this checkout has one).
    web = env_str("BERTH_WEB_ADDR", "127.0.0.1:8000")
    children.append(Child("web", [PYTHON, "manage.py", "runserver", web]))
    children.append(
        Child(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "-B",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--schedule",
                str(data / "celerybeat-schedule"),
            ],
        )
    )
    if (ROOT / "cluster" / "management" / "commands" / "run_framework.py").exists():
        children.append(Child("framework", [PYTHON, "manage.py", "run_framework"]))
    return children, env


def _pump(child: Child, colour: str, width: int) -> None:
    assert child.process is not None and child.process.stdout is not None
    prefix = (
        f"\033[{colour}m{child.name:<{width}}\033[0m | "
        if sys.stdout.isatty()
        else (f"{child.name:<{width}} | ")
    )
    for raw in iter(child.process.stdout.readline, b""):
        sys.stdout.write(prefix + raw.decode(errors="replace"))
        sys.stdout.flush()


def start(children: list[Child], env: dict[str, str]) -> None:
    width = max(len(child.name) for child in children)
    for index, child in enumerate(children):
        child.process = subprocess.Popen(
            child.argv,
            cwd=ROOT,
            env={**os.environ, **env, **child.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own session: the terminal's Ctrl-C reaches only us, and we stop children in order.
            start_new_session=True,
        )
        threading.Thread(
            target=_pump, args=(child, COLOURS[index % len(COLOURS)], width), daemon=True
        ).start()


def stop(children: list[Child]) -> None:
    alive = [c for c in reversed(children) if c.process and c.process.poll() is None]
    for child in alive:
        assert child.process is not None
        os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in alive:
        assert child.process is not None
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def supervise(children: list[Child]) -> int:
    """Wait until a signal arrives or a child dies; either way, stop them all."""
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    while not stopping.wait(0.5):
        dead = [c for c in children if c.process and c.process.poll() is not None]
        if dead:
            child = dead[0]
            assert child.process is not None
            print(f"berth: {child.name} exited with code {child.process.returncode}; stopping")
            code = 1
            break
    print("berth: stopping", ", ".join(c.name for c in children))
    stop(children)
    return code


def main() -> int:
    children, env = plan(data_dir())
    start(children, env)
    web = env_str("BERTH_WEB_ADDR", "127.0.0.1:8000")
    print(f"berth: portal on http://{web}/ ; Ctrl-C stops everything")
    return supervise(children)


if __name__ == "__main__":
    sys.exit(main())
