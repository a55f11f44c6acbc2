"""The framework engine under load: 10,000 pending tasks, 1,000 simulated agents.

    .venv/bin/python bench/framework_bench.py [--agents 1000] [--tasks 10000] [--skip-rss]

Runs against a real `python -m devcluster` (simulated agents: no processes) and a SQLite
file database (DATABASE_URL is honoured, so PostgreSQL works too). Prints:

1. submission: task_submit calls per second;
2. launching, with the engine in this process: tasks launched per second counted to the
   ACCEPT (recorded LAUNCHING, ACCEPT sent) and to TASK_RUNNING stored (which needs the
   STARTING update stored and acknowledged first: the agent holds RUNNING back until then);
3. offer rounds: offers per round and p50/p99/max of the decision time (offers in hand ->
   launches committed, TaskInfos built) and of the whole round (-> every ACCEPT/DECLINE sent);
4. memory, with `manage.py run_framework` as its own process: RSS when idle and with every
   task running and tracked.

Nothing is asserted; the figures are the product.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_devcluster(work: Path, agents: int) -> tuple[subprocess.Popen[bytes], str]:
    ready = work / "ready.json"
    command = [
        sys.executable, "-m", "devcluster", "--port", "0", "--agents", "0",
        "--simulated-agents", str(agents), "--simulated-duration", "3600",
        "--simulated-resources", "cpus:8;mem:16384;disk:65536;ports:[31000-32000]",
        "--allocation-interval", "1", "--work-dir", str(work / "sandboxes"),
        "--ready-file", str(ready),
    ]  # fmt: skip
    log = (work / "devcluster.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("devcluster did not start; see " + str(work / "devcluster.log"))
        time.sleep(0.1)
    return process, json.loads(ready.read_text())["master"]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("BERTH_SECRET_KEY", "bench")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_environment(master: str) -> Any:
    from portal.models import Environment

    Environment.objects.all().delete()
    return Environment.objects.create(
        name="bench", slug="bench", mesos_role="bench", master_urls=master
    )


def submit(environment: Any, count: int, prefix: str) -> float:
    from cluster.actions import task_submit
    from cluster.types import CommandSpec, TaskSpec

    spec = TaskSpec(
        task_id="", name="bench", command=CommandSpec.shell_line("serve"), cpus=0.1, mem=64
    )
    started = time.monotonic()
    for n in range(count):
        task_submit(
            owner_kind="bench",
            owner_id=1,
            instance=f"{prefix}{n}",
            environment=environment,
            spec=spec,
        )
    return time.monotonic() - started


def count_states(*states: str) -> int:
    from cluster.models import Task

    return Task.objects.filter(state__in=states).count()


def wait_until(probe: Any, timeout: float, every: float = 0.05) -> float:
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout} s")
        time.sleep(every)
    return time.monotonic()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def launch_phase(master: str, tasks: int, per_round: int) -> None:
    from django.db import connections

    from cluster.framework import ClusterEngine, EngineOptions
    from cluster.store import DjangoStore, cluster_configs

    environment = make_environment(master)
    seconds = submit(environment, tasks, "t")
    print(
        f"submitted {tasks} tasks in {seconds:.1f} s ({tasks / seconds:,.0f} task_submit calls/s)"
    )

    (config,) = cluster_configs()
    engine = ClusterEngine(
        config, DjangoStore(), EngineOptions(name="berth-bench", failover_timeout=600)
    )
    stop = threading.Event()

    def run() -> None:
        try:
            engine.run(stop)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    wait_until(lambda: engine.metrics.rounds, 120, 0.005)
    accepted = wait_until(lambda: engine.metrics.launches.total >= tasks, 600, 0.01)
    running = wait_until(lambda: count_states("TASK_RUNNING") >= tasks, 900, 0.2)
    first = engine.metrics.rounds[0].started
    print(f"the first offers arrived {first - started:.2f} s after the engine started")
    print(
        f"launched {tasks} tasks: ACCEPT sent for all {accepted - first:.2f} s after the first "
        f"offer round ({tasks / (accepted - first):,.0f} tasks/s); TASK_RUNNING stored for all "
        f"{running - first:.2f} s after it ({tasks / (running - first):,.0f} tasks/s)"
    )
    rounds = list(engine.metrics.rounds)
    busy = [r for r in rounds if r.launched]
    print(f"offer rounds: {len(rounds)}, {len(busy)} of them launching")
    for title, chosen in (("rounds that launched", busy), ("all rounds", rounds)):
        decide = [r.decide_seconds * 1000 for r in chosen]
        total = [r.total_seconds * 1000 for r in chosen]
        offers = [r.offers for r in chosen]
        if not chosen:
            continue
        print(
            f"  {title}: offers/round median {statistics.median(offers):.0f} (max {max(offers)});"
            f" decide p50 {percentile(decide, 0.5):.1f} ms, p99 {percentile(decide, 0.99):.1f} ms;"
            f" whole round p50 {percentile(total, 0.5):.1f} ms,"
            f" p99 {percentile(total, 0.99):.1f} ms, max {max(total):.1f} ms"
        )
    big = [r for r in rounds if r.offers >= 900]
    if big:
        decide = [r.decide_seconds * 1000 for r in big]
        total = [r.total_seconds * 1000 for r in big]
        print(
            f"  rounds of >= 900 offers ({len(big)}): launched {sum(r.launched for r in big)};"
            f" decide p50 {percentile(decide, 0.5):.1f} ms p99 {percentile(decide, 0.99):.1f} ms;"
            f" whole p50 {percentile(total, 0.5):.1f} ms p99 {percentile(total, 0.99):.1f} ms"
        )
    stop.set()
    engine.conn.close()
    thread.join(30)
    framework_id = engine.framework_id
    if framework_id:
        from cluster.client import MesosError, OperatorClient

        with OperatorClient(master) as operator, contextlib.suppress(MesosError):
            # Answered with an empty 200, which the client does not take for JSON.
            operator.call("TEARDOWN", {"framework_id": {"value": framework_id}})


def rss_phase(master: str, tasks: int, work: Path) -> None:
    import psutil

    from cluster.models import FrameworkRecord, Task

    Task.objects.all().delete()
    FrameworkRecord.objects.all().delete()
    environment = make_environment(master)
    env = {**os.environ, "LOG_LEVEL": "WARNING", "BERTH_FRAMEWORK_NAME": "berth-bench-rss"}
    log = (work / "run_framework.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_framework"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: FrameworkRecord.objects.filter(connected=True).exists(), 120, 0.2)
        time.sleep(3)
        idle = psutil.Process(process.pid).memory_info().rss
        submit(environment, tasks, "r")
        wait_until(lambda: count_states("TASK_RUNNING") >= tasks, 900, 0.5)
        time.sleep(5)
        busy = psutil.Process(process.pid).memory_info().rss
        mb = 1024 * 1024
        print(
            f"run_framework RSS: idle {idle / mb:.1f} MB, with {tasks} tasks running and tracked "
            f"{busy / mb:.1f} MB (+{(busy - idle) / mb:.1f} MB)"
        )
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--per-round", type=int, default=2000, help="max launches per round")
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="framework-bench-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    devcluster, master = start_devcluster(work, args.agents)
    try:
        setup_django(database_url)
        print(
            f"devcluster {master}: {args.agents} simulated agents (8 cpus, 16 GB each);"
            f" database {database_url}"
        )
        print(f"at most {args.per_round} launches per offer round")
        launch_phase(master, args.tasks, args.per_round)
        if not args.skip_rss:
            rss_phase(master, args.tasks, work)
    finally:
        devcluster.terminate()
        devcluster.wait(30)


if __name__ == "__main__":
    main()
