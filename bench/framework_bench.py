"""The framework engine under load: 10,000 pending tasks, 1,000 simulated agents.

    .venv/bin/python bench/framework_bench.py [--agents 1000] [--tasks 10000] [--skip-rss]
        [--database-url postgres://... [--wipe]]

Runs against a real `python -m devcluster` (simulated agents: no processes) and a fresh
SQLite file, or the database --database-url names (DATABASE_URL is ignored, so a shell
set up for a real Berth never points the benchmark at it). The benchmark deletes every
task and environment in its database: it refuses one that holds other environments
than its own unless --wipe says so. Prints:

1. submission: task_submit calls per second;
2. launching, with the engine in this process: tasks launched per second counted to the
   ACCEPT (recorded LAUNCHING, ACCEPT sent) and to TASK_RUNNING stored (which needs the
   STARTING update stored and acknowledged first: the agent holds RUNNING back until then);
3. offer rounds: offers and launches per round, and p50/p99 of the decision time (offers in
   hand -> launches committed, TaskInfos built), of the offer-handling latency (-> every
   offer answered: the ACCEPTs, the DECLINE and any REVIVE written in one pipelined batch),
   and of the whole round (-> the master's 202 for each; the devcluster validates and
   applies each ACCEPT before answering it, so this includes the master's own work);
4. memory, with `manage.py run_framework` as its own process: RSS when idle and with every
   task running and tracked.

Nothing is asserted; the figures are the product.
"""

from __future__ import annotations

import argparse
import gc
import json
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
    os.environ["DATABASE_URL"] = database_url  # for run_framework in the memory phase
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("BERTH_SECRET_KEY", "bench")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def refuse_foreign_data(database_url: str, *, wipe: bool) -> None:
    """A fresh database holds only the environments migrations make, and no task or
    configuration value: anything more is somebody's, and the benchmark would delete it."""
    from cluster.models import Task
    from portal.models import ConfigValue, Environment

    made = ("bench", "dev", "staging", "prod")
    theirs = (
        Task.objects.exclude(environment__slug="bench").exists()
        or ConfigValue.objects.exists()
        or Environment.objects.exclude(slug__in=made).exists()
    )
    if theirs and not wipe:
        raise SystemExit(
            f"{database_url} holds tasks, environments or configuration that are not the"
            " benchmark's, and the benchmark deletes every task and environment in its"
            " database: pass --wipe if that is what you want"
        )


def make_environment(master: str) -> Any:
    from cluster.models import FrameworkRecord, Task
    from portal.models import Environment

    Task.objects.all().delete()
    FrameworkRecord.objects.all().delete()
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


def print_rounds(title: str, rounds: list[Any]) -> None:
    if not rounds:
        print(f"  {title}: no offer rounds")
        return
    decide = [r.decide_seconds * 1000 for r in rounds]
    sent = [r.sent_seconds * 1000 for r in rounds]
    total = [r.total_seconds * 1000 for r in rounds]
    offers = [r.offers for r in rounds]
    launched = [r.launched for r in rounds]
    print(
        f"  {title}: {len(rounds)} rounds, offers/round median {statistics.median(offers):.0f},"
        f" launches/round median {statistics.median(launched):.0f} (max {max(launched)})\n"
        f"    decide (offers in hand -> launches committed, TaskInfos built):"
        f" p50 {percentile(decide, 0.5):.1f} ms, p99 {percentile(decide, 0.99):.1f} ms\n"
        f"    offer-handling latency (-> every offer answered, ACCEPTs and DECLINE written):"
        f" p50 {percentile(sent, 0.5):.1f} ms, p99 {percentile(sent, 0.99):.1f} ms\n"
        f"    whole round (-> the master's 202 for every call):"
        f" p50 {percentile(total, 0.5):.1f} ms, p99 {percentile(total, 0.99):.1f} ms"
    )
    slowest = max(rounds, key=lambda r: r.sent_seconds)
    print(
        f"    slowest round: {slowest.launched} launches; placed at"
        f" {slowest.placed_seconds * 1000:.1f} ms, recorded and built at"
        f" {slowest.decide_seconds * 1000:.1f} ms, answered at {slowest.sent_seconds * 1000:.1f} ms"
    )


def bulk_submit(environment: Any, count: int, prefix: str) -> None:
    """Rows as task_submit writes them, inserted in one go: the steady phase must not
    compete with the engine for the interpreter lock as 300 task_submit calls a second do."""
    from cluster.actions import task_id_for, task_submit
    from cluster.models import Task
    from cluster.types import CommandSpec, TaskSpec

    spec = TaskSpec(
        task_id="", name="bench", command=CommandSpec.shell_line("serve"), cpus=0.1, mem=64
    )
    model = task_submit(
        owner_kind="bench", owner_id=2, instance=f"{prefix}0", environment=environment, spec=spec
    )
    rows = []
    for n in range(1, count):
        row = Task(
            **{
                f.attname: getattr(model, f.attname)
                for f in Task._meta.concrete_fields
                if f.attname != "id"
            }
        )
        instance = f"{prefix}{n}"
        row.mesos_task_id = task_id_for(
            owner_kind="bench", owner_id=2, instance=instance, attempt=0
        )
        rows.append(row)
    Task.objects.bulk_create(rows)


def start_engine(per_round: int) -> tuple[Any, threading.Event, threading.Thread]:
    from django.db import connections

    from cluster.framework import ClusterEngine, EngineOptions
    from cluster.store import DjangoStore, cluster_configs

    (config,) = cluster_configs()
    options = EngineOptions(
        name="berth-bench",
        failover_timeout=600,
        max_launches_per_round=per_round,
        refuse_seconds=1.0,
    )
    engine = ClusterEngine(config, DjangoStore(), options)
    stop = threading.Event()

    def run() -> None:
        try:
            engine.run(stop)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return engine, stop, thread


def launch_phase(master: str, tasks: int, per_round: int, steady: int) -> None:
    from cluster.actions import task_kill

    environment = make_environment(master)
    seconds = submit(environment, tasks, "t")
    print(
        f"submitted {tasks} tasks in {seconds:.1f} s ({tasks / seconds:,.0f} task_submit calls/s)"
    )

    gc.freeze()  # as run_framework does once it is loaded
    started = time.monotonic()
    engine, stop, thread = start_engine(per_round)
    wait_until(lambda: engine.metrics.rounds, 120, 0.005)
    accepted = wait_until(lambda: engine.metrics.launches.total >= tasks, 600, 0.01)
    running = wait_until(lambda: count_states("TASK_RUNNING") >= tasks, 900, 0.2)
    first = engine.metrics.rounds[0].started
    print(f"1. burst: the first offers arrived {first - started:.2f} s after the engine started")
    print(
        f"  {tasks} tasks: ACCEPT sent for all {accepted - first:.2f} s after the first offers"
        f" ({tasks / (accepted - first):,.0f} tasks/s); TASK_RUNNING stored for all"
        f" {running - first:.2f} s after them ({tasks / (running - first):,.0f} tasks/s)"
    )
    print_rounds("burst", list(engine.metrics.rounds))

    # A task no agent can take keeps offers coming: rounds that only decline.
    seen = len(engine.metrics.rounds)
    (huge,) = [submit_one(environment, "huge", cpus=64)]
    wait_until(lambda: len(engine.metrics.rounds) >= seen + 5, 120, 0.05)
    print("2. rounds with nothing that fits (one task too big for any agent):")
    print_rounds("decline only", list(engine.metrics.rounds)[seen:])
    task_kill(task=huge)

    seen = len(engine.metrics.rounds)
    launched_before = engine.metrics.launches.total
    began = time.monotonic()
    for n in range(steady // 100):
        bulk_submit(environment, 100, f"s{n}x")
        time.sleep(max(0.0, began + (n + 1) * 0.2 - time.monotonic()))
    wait_until(lambda: engine.metrics.launches.total >= launched_before + steady, 300, 0.05)
    done = time.monotonic()
    print(
        f"3. steady: {steady} tasks submitted at 500/s,"
        f" all sent {done - began:.1f} s after the first"
    )
    print_rounds("steady", [r for r in list(engine.metrics.rounds)[seen:] if r.launched])

    stop.set()
    engine.conn.close()
    thread.join(30)
    if engine.framework_id:
        from cluster.client import OperatorClient

        with OperatorClient(master) as operator:
            operator.call("TEARDOWN", {"framework_id": {"value": engine.framework_id}})


def submit_one(environment: Any, instance: str, cpus: float) -> Any:
    from cluster.actions import task_submit
    from cluster.types import CommandSpec, TaskSpec

    spec = TaskSpec(
        task_id="", name=instance, command=CommandSpec.shell_line("serve"), cpus=cpus, mem=64
    )
    return task_submit(
        owner_kind="bench", owner_id=3, instance=instance, environment=environment, spec=spec
    )


def rss_phase(master: str, tasks: int, work: Path) -> None:
    import psutil

    from cluster.models import FrameworkRecord

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
    parser.add_argument("--per-round", type=int, default=1000, help="max launches per round")
    parser.add_argument("--steady", type=int, default=2500, help="tasks in the steady phase")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument(
        "--wipe", action="store_true", help="empty a database that holds other environments"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="framework-bench-"))
    database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    devcluster, master = start_devcluster(work, args.agents)
    try:
        setup_django(database_url)
        refuse_foreign_data(database_url, wipe=args.wipe)
        print(
            f"devcluster {master}: {args.agents} simulated agents (8 cpus, 16 GB each);"
            f" database {database_url}"
        )
        print(f"at most {args.per_round} launches per offer round")
        launch_phase(master, args.tasks, args.per_round, args.steady)
        if not args.skip_rss:
            rss_phase(master, args.tasks, work)
    finally:
        devcluster.terminate()
        devcluster.wait(30)


if __name__ == "__main__":
    main()
