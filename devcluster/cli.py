"""`python -m devcluster`: options, agent sizing, the ready file, and the process's life."""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from devcluster.interfaces import AgentConfig, Json
from devcluster.master.config import MasterConfig
from devcluster.master.runtime import Runtime
from devcluster.master.validation import validate_role
from devcluster.security import HttpSecurity, SecurityError, read_credentials, server_context

DEFAULT_PORTS = (31000, 32000)
SIMULATED_RESOURCES = "cpus:8;mem:16384;disk:65536;ports:[31000-32000]"
FIRST_AGENT_IP = int(ipaddress.IPv4Address("127.0.0.2"))
_TEMPLATE = re.compile(r"\{i(?:%(\d+))?\}")


class OptionError(ValueError):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m devcluster",
        description="A local Mesos-compatible master with agents on loopback.",
    )
    add = p.add_argument
    add("--host", default="127.0.0.1", help="master bind address (default 127.0.0.1)")
    add("--port", type=int, default=5050, help="master port; 0 picks a free one (default 5050)")
    add("--agents", type=int, default=1, help="agents that run real processes (default 1)")
    add("--agent-resources", help='e.g. "cpus:2;mem:2048;disk:4096;ports:[31000-31100]"')
    add(
        "--agent-attributes",
        action="append",
        default=[],
        help='e.g. "rack:r{i%%2};zone:a": {i} is the agent index, {i%%N} its remainder; '
        "repeat the option to give agent 0, 1, ... their own (the last one repeats)",
    )
    add(
        "--reserve",
        action="append",
        default=[],
        help='static reservation, e.g. "web:cpus=1;mem=512"',
    )
    add("--simulated-agents", type=int, default=0, help="agents that run no processes")
    add(
        "--simulated-resources",
        default=SIMULATED_RESOURCES,
        help="resources of each simulated agent",
    )
    add("--simulated-duration", type=float, default=1.0, help="simulated task runtime (s)")
    add(
        "--simulated-failure-rate",
        type=float,
        default=0.0,
        help="share of simulated tasks that fail",
    )
    add("--heartbeat-interval", type=float, default=15.0, help="seconds between HEARTBEATs")
    add("--refuse-seconds", type=float, default=5.0, help="default offer filter (s)")
    add("--allocation-interval", type=float, default=1.0, help="seconds between allocations")
    add(
        "--status-retry-seconds", type=float, default=10.0, help="first resend of an unacked update"
    )
    add("--agent-reregister-timeout", type=float, default=600.0, help="after a master restart (s)")
    add("--work-dir", help="sandboxes (default: berth-devcluster under the system temp dir)")
    add("--strict", action="store_true", help="reject unknown JSON keys with 400")
    add("--leader", help="run as a non-leading master that redirects to this URL")
    add(
        "--credentials",
        help="Mesos credentials file (JSON, or 'principal secret' lines): the scheduler API "
        "then requires HTTP Basic authentication",
    )
    add(
        "--authenticate-http-readwrite",
        action="store_true",
        help="the operator API (/api/v1 of the master and the agents) also requires it",
    )
    add(
        "--authenticate-http-readonly",
        action="store_true",
        help="state, metrics and files endpoints also require it",
    )
    add("--tls-cert", help="PEM certificate (chain): serve HTTPS on the master and the agents")
    add("--tls-key", help="PEM private key of --tls-cert")
    add("--ready-file", help="write {master, pid, agents} here once serving")
    add("--log-level", default="WARNING", help="Python logging level (default WARNING)")
    return p


# -- parsing values ------------------------------------------------------------------


def parse_resources(text: str) -> dict[str, object]:
    """Mesos's --resources text: "cpus:2;mem:2048;ports:[31000-31100,31200-31300]"."""
    out: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, value = item.partition(":")
        if not sep:
            raise OptionError(f"resource '{item}' should look like name:value")
        name = name.strip()
        if name == "ports":
            out["ports"] = parse_ranges(value)
        else:
            try:
                out[name] = float(value)
            except ValueError:
                raise OptionError(f"resource '{name}' needs a number, got '{value}'") from None
            if float(value) < 0:
                raise OptionError(f"resource '{name}' must not be negative")
    return out


def parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        raise OptionError(f"ranges should look like [31000-31100], got '{text}'")
    ranges = []
    for part in filter(None, (p.strip() for p in inner[1:-1].split(","))):
        begin, sep, end = part.partition("-")
        try:
            ranges.append((int(begin), int(end if sep else begin)))
        except ValueError:
            raise OptionError(f"bad range '{part}'") from None
        if ranges[-1][0] > ranges[-1][1]:
            raise OptionError(f"range '{part}' ends before it begins")
    return tuple(ranges)


def parse_attributes(text: str, index: int) -> tuple[Json, ...]:
    text = _TEMPLATE.sub(lambda m: str(index % int(m.group(1)) if m.group(1) else index), text)
    attributes: list[Json] = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, value = item.partition(":")
        if not sep or not name:
            raise OptionError(f"attribute '{item}' should look like name:value")
        attributes.append(_attribute(name.strip(), value.strip()))
    return tuple(attributes)


def _attribute(name: str, value: str) -> Json:
    if value.startswith("[") and value.endswith("]"):
        ranges = [{"begin": b, "end": e} for b, e in parse_ranges(value)]
        return {"name": name, "type": "RANGES", "ranges": {"range": ranges}}
    if value.startswith("{") and value.endswith("}"):
        items = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        return {"name": name, "type": "SET", "set": {"item": items}}
    try:
        return {"name": name, "type": "SCALAR", "scalar": {"value": float(value)}}
    except ValueError:
        return {"name": name, "type": "TEXT", "text": {"value": value}}


def parse_reservations(items: Sequence[str]) -> dict[str, dict[str, float]]:
    reservations: dict[str, dict[str, float]] = {}
    for item in items:
        role, sep, rest = item.partition(":")
        error = validate_role(role.strip()) if sep else "expected ROLE:cpus=1;mem=512"
        if error is not None or role.strip() == "*":
            raise OptionError(f"--reserve '{item}': {error or 'cannot reserve for *'}")
        amounts = reservations.setdefault(role.strip(), {})
        for part in filter(None, (p.strip() for p in rest.split(";"))):
            name, eq, value = part.partition("=")
            if not eq or name.strip() not in {"cpus", "mem", "disk"}:
                raise OptionError(f"--reserve '{item}': '{part}' should be cpus=, mem= or disk=")
            amounts[name.strip()] = amounts.get(name.strip(), 0.0) + float(value)
    return reservations


def http_security(args: argparse.Namespace) -> HttpSecurity:
    """--credentials, --authenticate-http-*, --tls-cert and --tls-key, checked."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise OptionError("--tls-cert and --tls-key go together: give both or neither")
    wider = args.authenticate_http_readonly or args.authenticate_http_readwrite
    if wider and not args.credentials:
        raise OptionError("--authenticate-http-readonly/-readwrite need --credentials")
    try:
        credentials = read_credentials(args.credentials) if args.credentials else {}
        tls = server_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    except SecurityError as error:
        raise OptionError(str(error)) from None
    return HttpSecurity(
        credentials=credentials,
        frameworks=bool(credentials),
        readonly=args.authenticate_http_readonly,
        readwrite=args.authenticate_http_readwrite,
        tls=tls,
    )


# -- sizing agents ---------------------------------------------------------------------


def machine_resources(work_dir: Path, share: int) -> dict[str, object]:
    """This machine divided among `share` real agents."""
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    mem_mb = pages * page_size / 2**20 * 0.75
    work_dir.mkdir(parents=True, exist_ok=True)
    disk_mb = min(shutil.disk_usage(work_dir).free / 2**20 * 0.5, 100 * 1024)
    return {
        "cpus": round((os.cpu_count() or 1) / share, 3),
        "mem": float(int(mem_mb / share)),
        "disk": float(int(disk_mb / share)),
        "ports": (DEFAULT_PORTS,),
    }


def split_ports(
    ranges: tuple[tuple[int, int], ...], count: int
) -> list[tuple[tuple[int, int], ...]]:
    """Disjoint port ranges for `count` agents sharing one host."""
    ports = [p for begin, end in ranges for p in range(begin, end + 1)]
    if count <= 1:
        return [ranges]
    size = len(ports) // count
    if size == 0:
        raise OptionError(f"{len(ports)} ports cannot be split among {count} agents")
    return [((ports[i * size], ports[(i + 1) * size - 1]),) for i in range(count)]


def agent_configs(
    args: argparse.Namespace,
    master_id: str,
    work_dir: Path,
    security: HttpSecurity | None = None,
) -> list[AgentConfig]:
    real = max(args.agents, 0)
    if args.agent_resources:
        base = parse_resources(args.agent_resources)
    else:
        base = machine_resources(work_dir, max(real, 1))
    real_ports = split_ports(tuple(base.get("ports", (DEFAULT_PORTS,))), real)  # type: ignore[arg-type]
    simulated = parse_resources(args.simulated_resources)
    reservations = parse_reservations(args.reserve)
    configs = []
    for index in range(real + max(args.simulated_agents, 0)):
        is_simulated = index >= real
        spec = simulated if is_simulated else base
        ports = spec.get("ports", (DEFAULT_PORTS,)) if is_simulated else real_ports[index]
        _check_reservations(reservations, spec)
        templates = args.agent_attributes or [""]
        configs.append(
            AgentConfig(
                agent_id=f"{master_id}-S{index}",
                hostname=str(ipaddress.IPv4Address(FIRST_AGENT_IP + index)),
                port=0,
                cpus=float(spec.get("cpus", 1.0)),  # type: ignore[arg-type]
                mem=float(spec.get("mem", 1024.0)),  # type: ignore[arg-type]
                disk=float(spec.get("disk", 1024.0)),  # type: ignore[arg-type]
                ports=tuple(ports),  # type: ignore[arg-type]
                attributes=parse_attributes(templates[min(index, len(templates) - 1)], index),
                reservations=reservations,
                work_dir=work_dir,
                simulated=is_simulated,
                status_retry_seconds=args.status_retry_seconds,
                simulated_duration_seconds=args.simulated_duration,
                simulated_failure_rate=args.simulated_failure_rate,
                security=security or HttpSecurity(),
            )
        )
    return configs


def _check_reservations(reservations: dict[str, dict[str, float]], spec: dict[str, object]) -> None:
    for name in ("cpus", "mem", "disk"):
        wanted = sum(r.get(name, 0.0) for r in reservations.values())
        have = float(spec.get(name, 0.0))  # type: ignore[arg-type]
        if wanted > have:
            raise OptionError(f"--reserve asks for {wanted:g} {name} but an agent has {have:g}")


# -- running ---------------------------------------------------------------------------


def write_ready_file(path: Path, runtime: Runtime) -> None:
    body = {
        "master": runtime.url,
        "master_id": runtime.master.id,
        "pid": os.getpid(),
        "agents": [
            {
                "id": a.config.agent_id,
                "hostname": a.config.hostname,
                "url": f"{a.config.security.scheme}://{a.config.hostname}:{a.port}",
                "simulated": a.config.simulated,
            }
            for a in runtime.agents
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        json.dump(body, out)
    Path(tmp).replace(path)


async def serve(args: argparse.Namespace) -> None:
    master_id = str(uuid.uuid4())
    work_dir = Path(args.work_dir or Path(tempfile.gettempdir()) / "berth-devcluster").resolve()
    security = http_security(args)
    configs = [] if args.leader else agent_configs(args, master_id, work_dir, security)
    config = MasterConfig(
        master_id=master_id,
        host=args.host,
        port=args.port,
        heartbeat_interval=max(args.heartbeat_interval, 0.01),
        refuse_seconds=args.refuse_seconds,
        allocation_interval=max(args.allocation_interval, 0.01),
        agent_reregister_timeout=args.agent_reregister_timeout,
        strict=args.strict,
        leader=args.leader,
        security=security,
    )
    runtime = Runtime(config, configs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    # Agents and their config live for the whole run: moving them out of the collector's
    # reach and collecting less often roughly halves the cost of each status update.
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        if args.ready_file:
            write_ready_file(Path(args.ready_file), runtime)
        print(_banner(runtime, args, work_dir), flush=True)
        await stop.wait()
    finally:
        await runtime.stop()


def _banner(runtime: Runtime, args: argparse.Namespace, work_dir: Path) -> str:
    if args.leader:
        return f"devcluster: non-leading master on {runtime.url}, redirecting to {args.leader}"
    real = sum(1 for a in runtime.agents if not a.config.simulated)
    simulated = len(runtime.agents) - real
    return (
        f"devcluster: master {runtime.url} (id {runtime.master.id}) with {real} agent(s)"
        f" and {simulated} simulated; sandboxes in {work_dir}; Ctrl-C stops it"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(serve(args))
    except OptionError as error:
        print(f"devcluster: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"devcluster: cannot start: {error}", file=sys.stderr)
        return 1
    return 0
