from __future__ import annotations

import socket
from datetime import timedelta
from itertools import count

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from cluster import selectors
from cluster.models import FrameworkRecord, Task
from cluster.selectors.live import HEARTBEAT_STALE
from cluster.states import STATES
from portal.models import Environment

_ids = count(1)


def make_task(*, team=None, environment=None, state=Task.PENDING, **fields) -> Task:
    """A Task row as the framework would leave it; tests choose only what they look at."""
    environment = environment or Environment.objects.get(slug="dev")
    number = next(_ids)
    defaults = {
        "mesos_task_id": f"adhoc.{number}.0",
        "name": f"task-{number}",
        "owner_kind": "adhoc",
        "spec": {"command": "echo hello", "cpus": 0.1, "mem": 32},
        "role": environment.mesos_role,
        "cluster_key": ",".join(environment.master_url_list()),
    }
    defaults.update(fields)
    return Task.objects.create(team=team, environment=environment, state=state, **defaults)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def master_down(settings) -> str:
    url = closed_port_url()
    settings.BERTH_MESOS_MASTER = [url]
    cache.clear()
    yield url
    cache.clear()


# Visibility


@pytest.mark.django_db
def test_members_see_their_teams_tasks_and_nobody_elses(team, viewer, outsider) -> None:
    mine = make_task(team=team)
    theirs = make_task(team=outsider.memberships.get().team)
    visible = list(selectors.task_visible(viewer))
    assert mine in visible and theirs not in visible


@pytest.mark.django_db
def test_ad_hoc_tasks_are_visible_to_superusers_only(team, viewer, superuser) -> None:
    adhoc = make_task(team=None)
    assert adhoc not in selectors.task_visible(viewer)
    assert adhoc in selectors.task_visible(superuser)


@pytest.mark.django_db
def test_signed_in_users_in_no_team_see_no_tasks(team, user) -> None:
    make_task(team=team)
    assert not selectors.task_visible(user).exists()


def _walk(user, limit: int, filters=None) -> tuple[list[int], list[int]]:
    """Every page forward from the first, then every page back from the last."""
    filters = filters or selectors.TaskFilters()
    forward, pages = [], []
    page = selectors.task_page(user, filters, cursor=None, limit=limit)
    while True:
        pages.append(page)
        forward += [task.pk for task in page.items]
        if not page.next_cursor:
            break
        page = selectors.task_page(user, filters, cursor=page.next_cursor, limit=limit)
    backward = [task.pk for task in page.items]
    while page.prev_cursor:
        page = selectors.task_page(user, filters, cursor=page.prev_cursor, limit=limit)
        backward = [task.pk for task in page.items] + backward
    return forward, backward


@pytest.mark.django_db
@pytest.mark.parametrize("limit", [1, 4, 7, 50])
def test_a_member_of_several_teams_pages_through_all_their_tasks_in_order(limit) -> None:
    from tests.factories import MembershipFactory, TeamFactory, UserFactory

    teams = [TeamFactory() for _ in range(3)]
    reader = UserFactory()
    for team in teams[:2]:
        MembershipFactory(team=team, user=reader)
    made = [make_task(team=teams[(i * 7) % 3]) for i in range(23)]
    # Equal timestamps across teams: the id must break the tie the same way everywhere.
    same = timezone.now()
    Task.objects.filter(pk__in=[t.pk for t in made[5:12]]).update(created_at=same)
    visible = Task.objects.filter(team__in=teams[:2]).order_by("-created_at", "-pk")
    expected = list(visible.values_list("pk", flat=True))
    forward, backward = _walk(reader, limit)
    assert forward == expected and backward == expected


@pytest.mark.django_db
def test_a_member_page_costs_one_query_per_team_not_per_task(
    team, viewer, django_assert_max_num_queries
) -> None:
    for _ in range(30):
        make_task(team=team)
    with django_assert_max_num_queries(2):
        page = selectors.task_page(viewer, selectors.TaskFilters(), cursor=None, limit=25)
    assert len(page.items) == 25 and page.items[0].environment.slug == "dev"


@pytest.mark.django_db
def test_a_reader_in_no_team_costs_no_task_query(user, django_assert_num_queries) -> None:
    make_task(team=None)
    with django_assert_num_queries(1):
        page = selectors.task_page(user, selectors.TaskFilters(), cursor=None, limit=10)
    assert page.items == [] and page.next_cursor is None


@pytest.mark.django_db
def test_task_get_is_a_404_for_a_task_the_reader_may_not_see(team, outsider) -> None:
    from django.http import Http404

    task = make_task(team=team)
    with pytest.raises(Http404):
        selectors.task_get(outsider, task.mesos_task_id)


# Filters


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("group", "shown", "hidden"),
    [
        ("pending", {"PENDING", "LAUNCHING"}, {"TASK_RUNNING", "TASK_FAILED", "TASK_FINISHED"}),
        ("active", {"PENDING", "TASK_RUNNING", "TASK_UNREACHABLE"}, {"TASK_FINISHED"}),
        ("finished", {"TASK_FINISHED", "TASK_KILLED"}, {"TASK_FAILED", "TASK_RUNNING"}),
        ("failed", {"TASK_FAILED", "TASK_LOST", "TASK_ERROR"}, {"TASK_KILLED", "PENDING"}),
    ],
)
def test_state_groups_pick_the_states_they_name(superuser, group, shown, hidden) -> None:
    for state in shown | hidden:
        make_task(state=state, name=state)
    filters = selectors.TaskFilters(group=group)
    found = set(selectors.task_list(superuser, filters).values_list("state", flat=True))
    assert shown <= found and not (hidden & found)


def test_every_terminal_state_falls_in_exactly_one_ended_group() -> None:
    from cluster.selectors.tasks import _ENDED_BADLY, _ENDED_WELL

    terminal = {info.name for info in STATES.values() if info.terminal}
    assert set(_ENDED_WELL) | set(_ENDED_BADLY) == terminal
    assert not set(_ENDED_WELL) & set(_ENDED_BADLY)


def test_an_unknown_state_group_is_refused_with_the_valid_ones() -> None:
    from cluster.selectors.tasks import _group_q

    with pytest.raises(ValueError, match="active, pending, finished, failed"):
        _group_q("sleeping")


@pytest.mark.django_db
def test_search_matches_names_and_task_ids(superuser) -> None:
    by_name = make_task(name="billing-worker")
    by_id = make_task(mesos_task_id="svc.checkout.3.1")
    make_task(name="other")
    found = set(selectors.task_list(superuser, selectors.TaskFilters(search="BILLING")))
    assert found == {by_name}
    found = set(selectors.task_list(superuser, selectors.TaskFilters(search="checkout")))
    assert found == {by_id}


@pytest.mark.django_db
def test_the_environment_filter_keeps_one_environment(superuser) -> None:
    prod = Environment.objects.get(slug="prod")
    in_prod = make_task(environment=prod)
    make_task()
    filters = selectors.TaskFilters(environment=prod)
    assert list(selectors.task_list(superuser, filters)) == [in_prod]


# Badges and words


@pytest.mark.parametrize(
    ("state", "badge", "label"),
    [
        ("PENDING", "info", "Pending"),
        ("LAUNCHING", "info", "Launching"),
        ("TASK_RUNNING", "ok", "Running"),
        ("TASK_FAILED", "bad", "Failed"),
        ("TASK_SOMETHING_NEW", "neutral", "TASK_SOMETHING_NEW"),
    ],
)
def test_badges_come_from_the_state_table(state, badge, label) -> None:
    info = selectors.state_info(state)
    assert (info.badge, info.label) == (badge, label)


def test_why_not_placed_counts_read_as_words_commonest_first() -> None:
    words = selectors.why_not_placed_words(
        {"constraint hostname:UNIQUE": 3, "mem": 12, "cpus": 0, "offers": 15}
    )
    assert words == ["12 offers too small in memory", "3 broke constraint hostname:UNIQUE"]


@pytest.mark.parametrize(
    ("counts", "words"),
    [
        ({"cpus": 1}, ["1 offer too small in CPUs"]),
        ({"role": 4}, ["4 offers for another role"]),
        (
            {"ports": 2, "disk": 5},
            ["5 offers too small in disk", "2 offers without the ports it needs"],
        ),
        ({"constraint:rack:CLUSTER:r1": 7}, ["7 broke constraint rack:CLUSTER:r1"]),
        ({"gpus": 1200}, ["1,200 offers without enough GPUs"]),
        ({"maintenance": 2}, ["2 offers turned down: maintenance"]),
        ({"mem": "garbage", "disk": None, "cpus": -3}, []),
        ({}, []),
        (None, []),
        (["not", "a", "mapping"], []),
    ],
)
def test_why_not_placed_words_cover_every_reason(counts, words) -> None:
    assert selectors.why_not_placed_words(counts) == words


@pytest.mark.parametrize(
    ("ports", "text"),
    [
        ([31000, 31001], "31000, 31001"),
        ([{"host": 31000, "container": 8080}], "31000\u21928080"),
        ([{"host": 31000}], "31000"),
        ([], ""),
        (None, ""),
        ("31000", ""),
    ],
)
def test_ports_read_as_a_short_list(ports, text) -> None:
    assert selectors.ports_text(ports) == text


# Connection state


@pytest.mark.django_db
def test_a_cluster_without_a_framework_record_is_not_registered() -> None:
    assert selectors.connection_of(None).label == "Not registered"


@pytest.mark.django_db
def test_a_disconnected_framework_says_why() -> None:
    record = FrameworkRecord(cluster_key="k", connected=False, last_error="refused")
    connection = selectors.connection_of(record)
    assert (connection.badge, connection.label, connection.detail) == (
        "bad",
        "Disconnected",
        "refused",
    )


@pytest.mark.django_db
def test_a_connected_record_without_recent_heartbeats_is_suspect() -> None:
    now = timezone.now()
    record = FrameworkRecord(
        cluster_key="k", connected=True, last_heartbeat_at=now - HEARTBEAT_STALE * 2
    )
    record.updated_at = now - HEARTBEAT_STALE * 2
    connection = selectors.connection_of(record, now)
    assert connection.badge == "warn" and "2m" in connection.detail


@pytest.mark.django_db
def test_a_connected_record_with_a_fresh_heartbeat_is_connected() -> None:
    now = timezone.now()
    record = FrameworkRecord(cluster_key="k", connected=True, last_heartbeat_at=now)
    record.updated_at = now - timedelta(hours=1)
    assert selectors.connection_of(record, now).ok


def test_framework_metrics_read_with_units_known_ones_first() -> None:
    rows = selectors.metric_rows(
        {
            "zz_custom_total": 3,
            "reconcile_lag_seconds": 125,
            "offers_received_per_min": 120.5,
            "slowest_offer_round_ms": 12.25,
            "launch_limit": 420,
            "pending": 4,
            "subscribed_at": 1_800_000_000.0,
            "suppressed_roles": ["dev"],
            "last_flush": "2026-01-01T00:00:00Z",
            "reconciling": None,
            "flag": True,
        }
    )
    assert rows == [
        ("Offers received", "120.5/min"),
        ("Pending tasks", "4"),
        ("Reconcile lag", "2m 5s"),
        ("Slowest offer round", "12.25 ms"),
        ("Launches per round at most", "420"),
        ("Zz custom total", "3"),
    ]


@pytest.mark.django_db
def test_subscription_time_and_suppressed_roles_come_from_the_metrics(settings) -> None:
    settings.BERTH_MESOS_MASTER = ["http://m1:5050"]
    FrameworkRecord.objects.create(
        cluster_key="http://m1:5050",
        metrics={"subscribed_at": 1_800_000_000.5, "suppressed_roles": ["dev", "prod"]},
    )
    (cluster,) = selectors.cluster_list(Environment.objects.all(), live=False)
    assert cluster.subscribed_at is not None
    assert cluster.subscribed_at.timestamp() == 1_800_000_000.5
    assert cluster.suppressed_roles == ["dev", "prod"]


# Clusters and agents


@pytest.mark.django_db
def test_environments_on_the_same_masters_make_one_cluster(master_down) -> None:
    clusters = selectors.cluster_list(Environment.objects.all())
    assert len(clusters) == 1
    assert {env.slug for env in clusters[0].environments} == {"dev", "staging", "prod"}


@pytest.mark.django_db
def test_the_framework_record_is_matched_by_its_masters_in_any_order(settings) -> None:
    settings.BERTH_MESOS_MASTER = ["http://m1:5050", "http://m2:5050/"]
    FrameworkRecord.objects.create(
        cluster_key="whatever", master_urls=["http://m2:5050", "http://m1:5050"], framework_id="F1"
    )
    clusters = selectors.cluster_list(Environment.objects.all(), live=False)
    assert clusters[0].record is not None and clusters[0].record.framework_id == "F1"


@pytest.mark.django_db
def test_an_unreachable_master_gives_a_snapshot_with_the_error(master_down) -> None:
    (cluster,) = selectors.cluster_list(Environment.objects.all())
    assert not cluster.agents.reachable
    assert "ConnectError" in cluster.agents.error
    assert cluster.agents.cpus == selectors.Usage(0.0, 0.0)


def test_agent_snapshots_are_cached_for_a_few_seconds(devcluster) -> None:
    cache.clear()
    assert selectors.agents_snapshot([devcluster.url]).reachable
    devcluster.stop()
    # Within the window the last answer stands; after it the master is asked again.
    assert selectors.agents_snapshot([devcluster.url]).reachable
    later = timezone.now() + timedelta(seconds=selectors.AGENTS_CACHE_SECONDS + 1)
    with time_machine.travel(later):
        assert not selectors.agents_snapshot([devcluster.url]).reachable
    cache.clear()


@pytest.mark.django_db
@pytest.mark.devcluster("--agents", "2", "--agent-attributes", "rack:r{i}")
def test_agents_are_read_live_from_the_devcluster(devcluster, settings) -> None:
    settings.BERTH_MESOS_MASTER = [devcluster.url]
    cache.clear()
    summary = selectors.cluster_summary(Environment.objects.all())
    (cluster,) = summary.clusters
    hostnames = sorted(agent["hostname"] for agent in devcluster.agents)
    assert [agent.hostname for agent in cluster.agents.agents] == hostnames
    assert [agent.attributes for agent in cluster.agents.agents] == [("rack:r0",), ("rack:r1",)]
    assert summary.cpus == selectors.Usage(0.0, 4.0)
    assert summary.mem.total == 4096.0 and summary.agent_count == 2
    cache.clear()


def _snapshot(*sizes: tuple[float, float, float]) -> selectors.AgentsSnapshot:
    agents = tuple(
        selectors.AgentView(
            agent_id=f"S{i}",
            hostname=f"agent-{i}",
            active=True,
            cpus=selectors.Usage(0, cpus),
            mem=selectors.Usage(0, mem),
            disk=selectors.Usage(0, disk),
            attributes=(),
        )
        for i, (cpus, mem, disk) in enumerate(sizes)
    )
    return selectors.AgentsSnapshot(("http://m:5050",), agents=agents)


def test_a_task_bigger_than_every_agent_is_called_out() -> None:
    snapshot = _snapshot((2, 2048, 4096), (8, 1024, 100))
    spec = {"cpus": 0.5, "mem": 9999, "disk": 5000}
    assert selectors.never_fits(spec, snapshot) == [
        "9.8 GB of memory, and the largest agent has 2 GB",
        "4.9 GB of disk, and the largest agent has 4 GB",
    ]
    assert selectors.never_fits({"cpus": 16}, snapshot) == [
        "16 cpus, and the largest agent has 8 cpus"
    ]


@pytest.mark.parametrize(
    ("spec", "snapshot"),
    [
        ({"cpus": 2, "mem": 2048}, _snapshot((2, 2048, 0))),
        ({"mem": 10**6}, selectors.AgentsSnapshot(("http://m:5050",), error="refused")),
        ({"mem": 10**6}, _snapshot()),
        ({"mem": "lots"}, _snapshot((2, 2048, 0))),
        (None, _snapshot((2, 2048, 0))),
    ],
)
def test_a_task_that_fits_somewhere_or_cannot_be_judged_is_not_flagged(spec, snapshot):
    assert selectors.never_fits(spec, snapshot) == []


def test_usage_ratios_stay_within_bounds() -> None:
    assert selectors.Usage(1.0, 4.0).percent == 25
    assert selectors.Usage(5.0, 4.0).ratio == 1.0
    assert selectors.Usage(0.0, 0.0).ratio == 0.0
    assert selectors.Usage(1, 2) + selectors.Usage(1, 2) == selectors.Usage(2, 4)
