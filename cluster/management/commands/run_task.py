"""`manage.py run_task --env dev [--cpus 0.1 --mem 32 --timeout 120] -- echo hello`

Submits one ad-hoc task through cluster.actions (the running framework launches it),
prints each state as it arrives, then the task's stdout and stderr read from its sandbox
through the agent's files API, and exits with the task's exit code.
"""

from __future__ import annotations

import shlex
import sys
import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cluster.actions import TaskRejected, task_kill, task_spec_check, task_submit
from cluster.client import AgentClient, HttpOptions, MesosError
from cluster.framework import cluster_key_for
from cluster.leader import FRAMEWORK_LEASE, lease_holder
from cluster.models import FrameworkRecord, Task, TaskStatusRecord
from cluster.states import describe
from cluster.store import cluster_configs
from cluster.types import CommandSpec, TaskSpec
from portal.models import Environment, Team

TIMEOUT_EXIT = 124  # what timeout(1) exits with


class Command(BaseCommand):
    help = "Run one command on the cluster and show its output (needs run_framework running)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--env", required=True, help="environment slug, e.g. dev")
        parser.add_argument("--team", help="team slug: its configuration values apply too")
        parser.add_argument("--cpus", type=float, default=0.1)
        parser.add_argument("--mem", type=float, default=32.0, help="MB")
        parser.add_argument("--disk", type=float, default=0.0, help="MB")
        parser.add_argument("--ports", type=int, default=0, help="how many ports (PORT0...)")
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
        parser.add_argument("command", nargs="+", help="after --: the command to run")

    def handle(self, *args: Any, **options: Any) -> None:
        environment = _environment(options["env"])
        team = _team(options["team"])
        spec = self._spec(options)
        # Bad input is refused first, whether or not a framework is running.
        try:
            task_spec_check(spec=spec)
        except TaskRejected as error:
            raise CommandError(f"the task was refused: {error}") from None
        _require_framework(environment)
        task = self._submit(environment, team, spec)
        self.stdout.write(f"{task.mesos_task_id} submitted to {environment.slug}")
        task = self._follow(task, options["timeout"])
        self._print_output(task)
        code = _exit_code(task)
        if code:
            sys.exit(code)

    def _spec(self, options: dict[str, Any]) -> TaskSpec:
        words = options["command"]
        # One argument is a shell line as typed; several are quoted back into one.
        line = words[0] if len(words) == 1 else shlex.join(words)
        return TaskSpec(
            task_id="",
            name=f"run_task: {line}"[:200],
            command=CommandSpec.shell_line(line),
            cpus=options["cpus"],
            mem=options["mem"],
            disk=options["disk"],
            ports=(0,) * max(options["ports"], 0),
        )

    def _submit(self, environment: Environment, team: Team | None, spec: TaskSpec) -> Task:
        try:
            return task_submit(
                owner_kind="adhoc",
                owner_id=None,
                instance=uuid.uuid4().hex[:12],
                environment=environment,
                team=team,
                spec=spec,
            )
        except TaskRejected as error:
            raise CommandError(f"the task was refused: {error}") from None

    def _follow(self, task: Task, timeout: float) -> Task:
        """Print the trail as it grows until the task ends; kill it on timeout."""
        deadline = time.monotonic() + timeout
        shown_state, seen = "", 0
        while True:
            task.refresh_from_db()
            if task.state != shown_state and task.state in (Task.PENDING, Task.LAUNCHING):
                self.stdout.write(f"  {task.state}{_where(task)}")
            shown_state = task.state
            for record in TaskStatusRecord.objects.filter(task=task, pk__gt=seen).order_by("pk"):
                seen = record.pk
                self.stdout.write(f"  {record.state}{_detail(record)}")
            if task.is_terminal():
                return task
            if time.monotonic() > deadline:
                task_kill(task=task)
                raise CommandError(
                    f"{task.mesos_task_id} did not finish within {timeout:g} s "
                    f"(last state {task.state}); it is being killed",
                    returncode=TIMEOUT_EXIT,
                )
            time.sleep(0.2)

    def _print_output(self, task: Task) -> None:
        if not task.agent_url or not task.framework_id:
            self.stderr.write(f"{task.mesos_task_id} never reached an agent: {task.message}")
            return
        with AgentClient(task.agent_url, options=_agent_options(task)) as agent:
            for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
                try:
                    text = agent.read_sandbox_file(task.framework_id, task.mesos_task_id, name)
                except MesosError as error:
                    self.stderr.write(f"(cannot read {name}: {error})")
                    continue
                stream.write(f"--- {name} ---")
                stream.write(text, ending="" if text.endswith("\n") or not text else "\n")


def _agent_options(task: Task) -> HttpOptions:
    """The cluster's CA bundle and credentials: its agents may serve only HTTPS."""
    config = next((c for c in cluster_configs() if c.key == task.cluster_key), None)
    return config.http_options() if config is not None else HttpOptions()


def _environment(slug: str) -> Environment:
    environment = Environment.objects.filter(slug=slug).first()
    if environment is None:
        known = ", ".join(Environment.objects.values_list("slug", flat=True)) or "none"
        raise CommandError(f"unknown environment {slug!r}; known environments: {known}")
    return environment


def _team(slug: str | None) -> Team | None:
    if slug is None:
        return None
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise CommandError(f"unknown team {slug!r}")
    return team


def _require_framework(environment: Environment) -> None:
    """Refuse early: without a framework the task would wait forever."""
    try:
        key = cluster_key_for(environment.master_url_list())
    except ValueError as error:
        raise CommandError(f"environment {environment.slug}: {error}") from None
    record = FrameworkRecord.objects.filter(cluster_key=key).first()
    if lease_holder(name=FRAMEWORK_LEASE) is None or record is None or not record.connected:
        why = (
            f" (last error: {record.last_error})"
            if record is not None and record.last_error
            else ""
        )
        raise CommandError(
            f"no framework is connected to {key}{why}; start one with `manage.py run_framework`"
        )


def _where(task: Task) -> str:
    return f" on {task.hostname}" if task.hostname else ""


def _detail(record: TaskStatusRecord) -> str:
    parts = [describe(record.state).label]
    if record.message:
        parts.append(record.message)
    return " - " + ": ".join(parts)


def _exit_code(task: Task) -> int:
    if task.exit_code is not None:
        return task.exit_code
    return 0 if describe(task.state).success else 1
