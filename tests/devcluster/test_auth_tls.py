"""devcluster with `--credentials` and `--tls-cert/--tls-key`, over real HTTP(S).

Held to what a real master does (mesos-api.md 1.2, libprocess's BasicAuthenticator): a 401
with a Basic challenge in the endpoint's realm before any other check, the principal that
FrameworkInfo names compared with the authenticated one, a framework kept by its principal,
and HTTPS on the master and on every agent. Without these options nothing changes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.client import HttpOptions, MesosUnreachable, OperatorClient
from devcluster import cli
from devcluster.security import HttpSecurity, SecurityError, read_credentials
from tests.devcluster.client import RecordIODecoder, Scheduler, Stream, framework_info, task
from tests.devcluster_fixture import DevCluster
from tests.tls_files import TlsFiles, make_tls_files

GOOD = ("berth", "s3cret")
OPS = ("ops", "0ps")
SCHEDULER = "/api/v1/scheduler"
JSON = {"Content-Type": "application/json"}
# A call that, once past authentication, gets a short 400 ("Framework cannot be found"),
# where a SUBSCRIBE would open a stream that never ends.
PROBE = {"type": "REVIVE", "framework_id": {"value": "nobody-0000"}}


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


def subscribe_body(**info: Any) -> dict[str, Any]:
    return {"type": "SUBSCRIBE", "subscribe": {"framework_info": {**framework_info(), **info}}}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("credentials") / "credentials.json"
    entries = [{"principal": p, "secret": s} for p, s in (GOOD, OPS)]
    path.write_text(json.dumps({"credentials": entries}))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def secure(
    tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles, credentials: Path
) -> Iterator[DevCluster]:
    """Every realm authenticated, TLS on the master and the agents."""
    options = (
        "--credentials", str(credentials), "--authenticate-http-readonly",
        "--authenticate-http-readwrite", "--tls-cert", str(tls.cert), "--tls-key", str(tls.key),
    )  # fmt: skip
    with DevCluster(*options, work_dir=tmp_path_factory.mktemp("secure")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def trusted(tls: TlsFiles) -> Iterator[httpx.Client]:
    """An HTTP client that trusts the test CA and sends no credentials by itself."""
    with httpx.Client(verify=ssl.create_default_context(cafile=tls.ca), timeout=15) as client:
        yield client


@contextlib.contextmanager
def subscription(
    client: httpx.Client, url: str, body: Any, auth: str | None
) -> Iterator[tuple[int, Any]]:
    """SUBSCRIBE; yields (200, first event with its "stream_id") while the stream stays
    open, or (status, error text). Never a plain post: a stream would never end."""
    headers = JSON if auth is None else {**JSON, "Authorization": auth}
    with client.stream("POST", url + SCHEDULER, json=body, headers=headers) as response:
        if response.status_code != 200:
            yield response.status_code, response.read().decode()
            return
        decoder = RecordIODecoder()
        for chunk in response.iter_raw():
            for record in decoder.feed(chunk):
                stream_id = response.headers["Mesos-Stream-Id"]
                yield 200, {**json.loads(record), "stream_id": stream_id}
                return
    raise AssertionError("the stream ended before its first record")


def first_record(client: httpx.Client, url: str, body: Any, auth: str | None) -> tuple[int, Any]:
    with subscription(client, url, body, auth) as answer:
        return answer


def teardown(client: httpx.Client, url: str, framework_id: str) -> None:
    """Through the operator API: the subscription that made the framework is closed."""
    call = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}
    reply = client.post(url + "/api/v1", json=call, headers={"Authorization": basic(*OPS)})
    assert reply.status_code == 200


# -- the scheduler API --------------------------------------------------------------------


def test_a_call_without_credentials_gets_401_with_the_schedulers_basic_challenge(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    response = trusted.post(secure.url + SCHEDULER, json=PROBE, headers=JSON)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="mesos-master-scheduler"'
    assert response.text == "401 Unauthorized."
    # Authentication comes before every other check: a GET is not even told it is a GET.
    assert trusted.get(secure.url + "/master" + SCHEDULER).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        basic("berth", "wrong"),
        basic("nobody", "s3cret"),
        basic("berth", "s3cret:"),  # split on every ':', as libprocess does
        basic("berth", ""),
        basic(*GOOD).replace("Basic", "basic"),
        basic(*GOOD).replace(" ", "  "),
        "Basic !!not-base64!!",
        "Bearer " + basic(*GOOD).split()[1],
    ],
)
def test_bad_credentials_of_every_kind_get_401(
    secure: DevCluster, trusted: httpx.Client, authorization: str
) -> None:
    headers = {**JSON, "Authorization": authorization}
    response = trusted.post(secure.url + SCHEDULER, json=PROBE, headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="mesos-master-scheduler"'
    assert "s3cret" not in response.text


def test_good_credentials_subscribe_and_fill_in_the_principal_framework_info_left_out(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    status, event = first_record(trusted, secure.url, subscribe_body(), basic(*GOOD))

    assert status == 200
    assert event["type"] == "SUBSCRIBED"
    framework_id = event["subscribed"]["framework_id"]["value"]
    state = trusted.get(secure.url + "/master/frameworks", headers={"Authorization": basic(*OPS)})
    (listed,) = [f for f in state.json()["frameworks"] if f["id"] == framework_id]
    assert listed["principal"] == "berth"
    teardown(trusted, secure.url, framework_id)


def test_a_framework_info_principal_other_than_the_authenticated_one_is_refused(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    body = subscribe_body(principal="ops")

    status, text = first_record(trusted, secure.url, body, basic(*GOOD))

    assert status == 400
    assert text == (
        "Failed to validate scheduler::Call: Authenticated principal 'berth' does not match "
        "principal 'ops' set in `FrameworkInfo`"
    )


def test_calls_for_a_framework_made_as_another_principal_are_refused(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    body = subscribe_body(principal="berth")
    with subscription(trusted, secure.url, body, basic(*GOOD)) as (status, event):
        assert status == 200
        framework_id = event["subscribed"]["framework_id"]["value"]
        revive = {"type": "REVIVE", "framework_id": {"value": framework_id}}
        headers = {**JSON, "Mesos-Stream-Id": event["stream_id"]}

        as_ops = trusted.post(
            secure.url + SCHEDULER, json=revive, headers={**headers, "Authorization": basic(*OPS)}
        )
        as_berth = trusted.post(
            secure.url + SCHEDULER, json=revive, headers={**headers, "Authorization": basic(*GOOD)}
        )

    assert (as_ops.status_code, as_ops.text) == (
        400,
        "Authenticated principal 'ops' does not match principal 'berth' set in `FrameworkInfo`",
    )
    assert as_berth.status_code == 202
    teardown(trusted, secure.url, framework_id)


# -- a framework belongs to its principal ---------------------------------------------------

PRINCIPAL_CHANGED = "Changing framework's principal is not allowed."


@pytest.fixture
def two_principals(tmp_path: Path, credentials: Path) -> Iterator[DevCluster]:
    """Plain HTTP with --credentials (berth and ops), so the raw-socket client can stream."""
    with DevCluster("--credentials", str(credentials), work_dir=tmp_path / "dc") as cluster:
        yield cluster


def as_principal(credential: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": basic(*credential)}


def subscribe_as(url: str, credential: tuple[str, str], framework_id: str | None = None) -> Stream:
    """SUBSCRIBE naming no principal: the master fills in the authenticated one."""
    info = framework_info("taken-over?", failover_timeout=600.0)
    body: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    if framework_id is not None:
        info["id"] = {"value": framework_id}
        body["framework_id"] = {"value": framework_id}
    return Stream(url, body, as_principal(credential))


def refused_with_one_error(stream: Stream) -> None:
    """What a real master does with a SUBSCRIBE it will not honour: 200, one ERROR, close."""
    assert stream.status == 200
    event = stream.next()
    assert event == {"type": "ERROR", "error": {"message": PRINCIPAL_CHANGED}}
    assert stream.wait_closed() == "eof"
    assert [e["type"] for e in stream.received] == ["ERROR"]


def listed(url: str, framework_id: str) -> dict[str, Any]:
    frameworks = httpx.get(url + "/master/frameworks", timeout=10).json()["frameworks"]
    (framework,) = [f for f in frameworks if f["id"] == framework_id]
    return dict(framework)


def test_another_principal_cannot_take_a_framework_over_by_naming_its_id(
    two_principals: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    url = two_principals.url
    owner = subscribe(url, headers=as_principal(GOOD))

    refused_with_one_error(subscribe_as(url, OPS, owner.framework_id))

    # The owner's stream was left alone: its stream id still works, no failover happened.
    assert owner.call("REVIVE").status_code == 202
    assert [e["type"] for e in owner.stream.received if e["type"] == "ERROR"] == []
    framework = listed(url, owner.framework_id)
    assert (framework["principal"], framework["active"]) == ("berth", True)
    # Nor may it be taken while its owner is away (within the failover timeout).
    owner.stream.close()
    owner.stream.wait_closed()
    refused_with_one_error(subscribe_as(url, OPS, owner.framework_id))
    assert owner.resubscribe().wait_for("SUBSCRIBED")
    assert listed(url, owner.framework_id)["principal"] == "berth"


def test_update_framework_may_not_change_the_principal(
    two_principals: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    owner = subscribe(two_principals.url, headers=as_principal(GOOD))
    info = {**owner.info, "principal": "berth", "name": "renamed"}

    changed = owner.call("UPDATE_FRAMEWORK", {"framework_info": {**info, "principal": "ops"}})
    kept = owner.call("UPDATE_FRAMEWORK", {"framework_info": info})

    assert (changed.status_code, changed.text) == (
        400,
        f"Invalid FrameworkInfo: {PRINCIPAL_CHANGED}",
    )
    assert kept.status_code == 200
    assert listed(two_principals.url, owner.framework_id)["name"] == "renamed"


def test_a_framework_known_only_from_its_agents_keeps_the_principal_they_report(
    two_principals: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    owner = subscribe(
        two_principals.url, framework_info("recovered", failover_timeout=600.0),
        headers=as_principal(GOOD),
    )  # fmt: skip
    agent = two_principals.agent_ids[0]
    (offer,) = owner.offers()
    owner.launch(offer, task("outlives-the-master", agent))
    owner.wait_state("outlives-the-master", "TASK_RUNNING")

    two_principals.restart_master()
    owner.stream.wait_closed()

    assert listed(two_principals.url, owner.framework_id)["recovered"] is True
    refused_with_one_error(subscribe_as(two_principals.url, OPS, owner.framework_id))
    assert owner.resubscribe().wait_for("SUBSCRIBED")
    assert listed(two_principals.url, owner.framework_id)["principal"] == "berth"


# -- the other realms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "realm"),
    [
        ("POST", "/api/v1", "mesos-master-readwrite"),
        ("POST", "/master/api/v1", "mesos-master-readwrite"),
        ("GET", "/master/state", "mesos-master-readonly"),
        ("GET", "/state-summary", "mesos-master-readonly"),
        ("GET", "/metrics/snapshot", "mesos-master-readonly"),
    ],
)
def test_operator_and_state_endpoints_want_credentials_in_their_realm(
    secure: DevCluster, trusted: httpx.Client, method: str, path: str, realm: str
) -> None:
    body = {"type": "GET_HEALTH"} if method == "POST" else None

    refused = trusted.request(method, secure.url + path, json=body)
    allowed = trusted.request(
        method, secure.url + path, json=body, headers={"Authorization": basic(*OPS)}
    )

    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == f'Basic realm="{realm}"'
    assert allowed.status_code == 200


def test_health_version_and_redirect_stay_open(secure: DevCluster, trusted: httpx.Client) -> None:
    assert trusted.get(secure.url + "/health").status_code == 200
    assert trusted.get(secure.url + "/version").json()["version"] == "1.12.0"
    assert trusted.get(secure.url + "/master/redirect").status_code == 307


def test_get_flags_says_which_realms_are_authenticated(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    reply = trusted.post(
        secure.url + "/api/v1",
        json={"type": "GET_FLAGS"},
        headers={"Authorization": basic(*GOOD)},
    )

    flags = {f["name"]: f["value"] for f in reply.json()["get_flags"]["flags"]}
    assert flags["authenticate_http_frameworks"] == "true"
    assert flags["authenticate_http_readonly"] == "true"
    assert flags["authenticate_http_readwrite"] == "true"


def test_agents_serve_https_and_authenticate_their_own_realms(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    (agent,) = secure.agents
    url = agent["url"]
    files = url + "/files/read?path=/nothing&offset=0"

    assert url.startswith("https://127.0.0.2:")
    assert trusted.get(url + "/health").status_code == 200
    refused = trusted.get(files)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readonly"'
    assert trusted.get(files, headers={"Authorization": basic(*OPS)}).status_code == 404
    write = trusted.post(url + "/api/v1", json={"type": "GET_HEALTH"})
    assert write.headers["WWW-Authenticate"] == 'Basic realm="mesos-agent-readwrite"'
    state = trusted.get(url + "/state", headers={"Authorization": basic(*GOOD)})
    assert state.json()["id"] == agent["id"]


def test_offers_name_the_agent_by_http_as_the_real_master_does(
    secure: DevCluster, trusted: httpx.Client
) -> None:
    """master.cpp writes "http" whatever the agent serves ("TODO: Set https if only https
    is supported"): frameworks must not take the scheme of an offer's url at its word."""
    headers = {**JSON, "Authorization": basic(*GOOD)}
    with trusted.stream(
        "POST", secure.url + SCHEDULER, json=subscribe_body(), headers=headers
    ) as response:
        decoder = RecordIODecoder()
        offers = None
        for chunk in response.iter_raw():
            events = [json.loads(r) for r in decoder.feed(chunk)]
            offers = next((e for e in events if e["type"] == "OFFERS"), None)
            if offers is not None:
                break
    assert offers is not None
    offer = offers["offers"]["offers"][0]
    assert offer["url"]["scheme"] == "http"
    assert (
        f"https://{offer['hostname']}:{offer['url']['address']['port']}"
        == (secure.agents[0]["url"])
    )
    teardown(trusted, secure.url, offer["framework_id"]["value"])


# -- TLS ------------------------------------------------------------------------------------


def test_a_client_with_the_ca_verifies_the_master_and_one_without_fails_clearly(
    secure: DevCluster, tls: TlsFiles
) -> None:
    with OperatorClient(secure.url, options=HttpOptions(*GOOD, ca_bundle=tls.ca_pem)) as trusting:
        assert trusting.get_health()
    untrusting = OperatorClient(secure.url, options=HttpOptions(*GOOD))
    with untrusting, pytest.raises(MesosUnreachable) as failed:
        untrusting.get_health()

    assert "certificate verify failed" in str(failed.value)
    assert secure.url in str(failed.value)


def test_the_ca_bundle_may_be_a_file_path(secure: DevCluster, tls: TlsFiles) -> None:
    with OperatorClient(secure.url, options=HttpOptions(*GOOD, ca_bundle=str(tls.ca))) as client:
        assert client.get_health()


def test_a_certificate_from_another_ca_is_not_trusted(secure: DevCluster, tmp_path: Path) -> None:
    other = make_tls_files(tmp_path / "other", common_name="some other CA")
    client = OperatorClient(secure.url, options=HttpOptions(*GOOD, ca_bundle=other.ca_pem))
    with client, pytest.raises(MesosUnreachable, match="certificate verify failed"):
        client.get_health()


def test_plain_http_to_the_https_port_gets_no_answer(secure: DevCluster) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(secure.url.replace("https://", "http://") + "/health", timeout=10)


# -- without TLS, and without any option ---------------------------------------------------


def test_text_credentials_work_over_plain_http_and_leave_other_realms_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "credentials"
    path.write_text("berth   s3cret\n\nops 0ps\n")
    with (
        DevCluster("--credentials", str(path), work_dir=tmp_path / "dc") as cluster,
        httpx.Client(timeout=15) as client,
    ):
        assert cluster.url.startswith("http://")
        refused = client.post(cluster.url + SCHEDULER, json=PROBE, headers=JSON)
        status, event = first_record(client, cluster.url, subscribe_body(), basic(*OPS))

        assert refused.status_code == 401
        assert (status, event["type"]) == (200, "SUBSCRIBED")
        assert client.get(cluster.url + "/master/state").status_code == 200
        assert client.post(cluster.url + "/api/v1", json={"type": "GET_HEALTH"}).status_code == 200


def test_a_non_leading_master_authenticates_before_it_redirects(
    tmp_path: Path, credentials: Path
) -> None:
    options = ("--leader", "http://leader.example:5050", "--credentials", str(credentials))
    with (
        DevCluster(*options, work_dir=tmp_path / "dc") as follower,
        httpx.Client(timeout=15) as client,
    ):
        url = follower.url + SCHEDULER
        refused = client.post(url, json=PROBE, headers=JSON)
        redirected = client.post(url, json=PROBE, headers={**JSON, "Authorization": basic(*GOOD)})
        health = client.get(follower.url + "/health")

    assert refused.status_code == 401
    assert redirected.status_code == 307
    assert redirected.headers["Location"] == "//leader.example:5050/api/v1/scheduler"
    assert health.status_code == 200


@pytest.mark.devcluster
def test_without_options_credentials_are_ignored_and_everything_is_http(
    devcluster: DevCluster,
) -> None:
    headers = {**JSON, "Authorization": basic("whoever", "whatever")}
    with httpx.Client(timeout=15) as client:
        status, event = first_record(
            client, devcluster.url, subscribe_body(), headers["Authorization"]
        )
        anonymous, _ = first_record(client, devcluster.url, subscribe_body(), None)

    assert devcluster.url.startswith("http://")
    assert devcluster.agents[0]["url"].startswith("http://")
    assert (status, event["type"]) == (200, "SUBSCRIBED")
    assert anonymous == 200
    flags = httpx.post(devcluster.url + "/api/v1", json={"type": "GET_FLAGS"}).json()
    names = {f["name"]: f["value"] for f in flags["get_flags"]["flags"]}
    assert names["authenticate_http_frameworks"] == "false"


@pytest.mark.devcluster
def test_a_recovered_framework_that_never_had_a_principal_may_take_one(
    devcluster: DevCluster, subscribe: Callable[..., Scheduler]
) -> None:
    owner = subscribe(devcluster.url, framework_info("anonymous", failover_timeout=600.0))
    first = owner.stream
    (offer,) = owner.offers()
    owner.launch(offer, task("anonymous-task", devcluster.agent_ids[0]))
    owner.wait_state("anonymous-task", "TASK_RUNNING")
    owner.info = {**owner.info, "principal": "berth"}

    refused_with_one_error(owner.resubscribe())  # no principal to one is a change, too
    devcluster.restart_master()
    first.wait_closed()
    taken = owner.resubscribe()

    assert taken.wait_for("SUBSCRIBED")
    assert listed(devcluster.url, owner.framework_id)["principal"] == "berth"
    owner.info = {**owner.info, "principal": "ops"}
    refused_with_one_error(owner.resubscribe())


# -- options and files ----------------------------------------------------------------------


def _refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["--port", "0", "--agents", "0", *argv]) == 2
    return capsys.readouterr().err


def test_tls_cert_and_key_go_together(capsys: pytest.CaptureFixture[str], tls: TlsFiles) -> None:
    assert "--tls-cert and --tls-key go together" in _refused(capsys, "--tls-cert", str(tls.cert))


def test_a_key_that_does_not_match_the_certificate_is_refused(
    capsys: pytest.CaptureFixture[str], tls: TlsFiles, tmp_path: Path
) -> None:
    other = make_tls_files(tmp_path / "other")

    error = _refused(capsys, "--tls-cert", str(tls.cert), "--tls-key", str(other.key))

    assert "cannot load the TLS certificate" in error


def test_a_missing_certificate_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    error = _refused(capsys, "--tls-cert", str(tmp_path / "no.pem"), "--tls-key", "k")

    assert "not found" in error and "no.pem" in error


def test_wider_authentication_needs_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    assert "need --credentials" in _refused(capsys, "--authenticate-http-readonly")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "must contain at least one credential"),
        ('{"credentials": []}', "must contain at least one credential"),
        ("berth s3cret\nops\n", "invalid credential format at line 2"),
        ("berth s3cret extra\n", "invalid credential format at line 1"),
        ('{"credentials": [{"secret": "x"}]}', "credential 1 needs a 'principal'"),
        ('{"credentials": {"principal": "x"}}', "'credentials' must be a list"),
    ],
)
def test_unusable_credentials_files_are_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "credentials"
    path.write_text(content)

    error = _refused(capsys, "--credentials", str(path))

    assert message in error
    assert "s3cret" not in error


def test_a_missing_credentials_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert "cannot read the credentials file" in _refused(
        capsys, "--credentials", str(tmp_path / "absent")
    )


def test_credentials_read_both_formats_and_a_file_url(tmp_path: Path) -> None:
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps({"credentials": [{"principal": "a", "secret": "1"}]}))
    as_text = tmp_path / "c.txt"
    as_text.write_text("a 1\nb  2\n")

    assert read_credentials(str(as_json)) == {"a": "1"}
    assert read_credentials(f"file://{as_text}") == {"a": "1", "b": "2"}
    with pytest.raises(SecurityError):
        read_credentials(str(tmp_path / "absent"))


def test_a_world_readable_credentials_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "credentials"
    path.write_text("a zq-hidden-zq\n")
    path.chmod(0o644)

    read_credentials(str(path))

    assert "too open" in caplog.text
    assert "zq-hidden-zq" not in caplog.text


def test_basic_credentials_are_checked_as_libprocess_checks_them() -> None:
    security = HttpSecurity(credentials={"a": "pw", "b": "x:y"}, frameworks=True)

    assert security.principal_of(basic("a", "pw")) == "a"
    assert security.principal_of(basic("a", "pw2")) is None
    assert security.principal_of(basic("b", "x:y")) is None  # ':' in a secret never works
    assert security.principal_of(None) is None
    assert security.enforced("mesos-master-scheduler")
    assert not security.enforced("mesos-master-readonly")
    assert not security.enforced(None)
    assert "pw" not in repr(security)
