"""Mailchimp against its simulator: data centre, count/offset paging, errors, the connection cap,
members as keyed hashes, and report numbers equal to the world's."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import httpx
import pyarrow.parquet as pq
import pytest

from ownlay_pipelines.connectors import mailchimp
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired, FatalApiError, RetryBudgetExhausted
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.mailchimp import MailchimpSimulator
from ownlay_pipelines.sandbox.mailchimp_members import MemberChurn
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ACCOUNT = "b7e2c9d4f1-us21"


@pytest.fixture(scope="module")
def world():
    return SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE), seed=7, now=NOW)


def client(world, faults=None, key=None, account=ACCOUNT):
    simulator = MailchimpSimulator(world, faults)
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return simulator.handle(request)

    api = mailchimp.MailchimpClient(
        api_key=key or sandbox_credential("api_key", ACCOUNT),
        account_id=account,
        transport=httpx.MockTransport(handle),
        clock=FakeClock(NOW),
    )
    return simulator, api, seen


def request(world, start=None, end=None):
    workspace = world.registry.get("blumen-haus")
    [connection] = workspace.connections_for(mailchimp.Platform.MAILCHIMP)
    return FetchRequest(workspace, connection, DateRange(start, end) if start else None)


def test_the_data_centre_comes_from_the_key_and_a_key_without_one_is_refused(world):
    _, api, seen = client(world)
    list(api.items("lists", "lists"))
    assert seen == ["us21.api.mailchimp.com"]
    with pytest.raises(FatalApiError, match="no data-centre suffix"):
        mailchimp.data_centre("abcdef0123456789")
    # A key pasted with its newline still finds its data centre and authenticates.
    _, api, seen = client(world, key=f"  {sandbox_credential('api_key', ACCOUNT)}\n")
    assert list(api.items("lists", "lists")) and seen == ["us21.api.mailchimp.com"]


def test_count_offset_paging_reads_every_member(world, monkeypatch):
    simulator, api, _ = client(world)
    monkeypatch.setattr(mailchimp, "PAGE_SIZE", 50)
    members = list(api.items(f"lists/{simulator.account(ACCOUNT).list_ids[0]}/members", "members"))
    assert len(members) == 180 and len({m["email_address"] for m in members}) == 180
    assert api.stats.pages == 4  # 50 + 50 + 50 + 30


def test_reports_match_the_world_and_keep_to_the_send_window(world):
    simulator, api, _ = client(world)
    req = request(world, date(2026, 11, 1), date(2026, 11, 30))
    spec = next(s for s in mailchimp.STREAMS if s.table == "reports")
    rows = [spec.normalise(r, req) for r in spec.fetch(api, req)]
    account = simulator.account(ACCOUNT)
    expected = [
        c
        for c in account.campaigns
        if c.send_time.astimezone(req.workspace.zone).date() >= date(2026, 11, 1)
    ]
    assert sorted(r["campaign_id"] for r in rows) == sorted(c.id for c in expected)
    first = next(c for c in expected if c.id == rows[0]["campaign_id"])
    wire = account.report(first)
    assert rows[0]["unique_opens"] == wire["opens"]["unique_opens"]
    assert rows[0]["hard_bounces"] + rows[0]["soft_bounces"] == first.bounces + 1
    assert all(r["report_date"] >= date(2026, 11, 1) for r in rows)


def test_errors_wrong_key_wrong_data_centre_and_throttling(world):
    _, api, _ = client(world, key="0000deadbeef-us21")
    with pytest.raises(AuthExpired, match="API key may be invalid"):
        list(api.items("lists", "lists"))
    # The right key sent to another data centre is refused the same way.
    _, api, _ = client(world, key=sandbox_credential("api_key", ACCOUNT).replace("us21", "us9"))
    with pytest.raises(AuthExpired, match=r"wrong datacenter \(us9\)"):
        list(api.items("lists", "lists"))
    _, api, _ = client(world, FaultPlan(faults={"mailchimp": PlatformFaults(throttle_rate=1.0)}))
    with pytest.raises(RetryBudgetExhausted):
        list(api.items("lists", "lists"))
    assert api.stats.throttled >= 1


def test_no_more_than_ten_requests_of_one_account_run_at_once():
    running, peak, lock = 0, 0, threading.Lock()
    # Requests are held until the cap's worth run at once, so the peak reaches the cap however
    # slowly a loaded machine starts the threads; one past the cap would show in the peak.
    full = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running >= mailchimp.MAX_CONNECTIONS:
                full.set()
        full.wait(timeout=10)
        time.sleep(0.02)
        with lock:
            running -= 1
        return httpx.Response(200, json={"lists": [], "total_items": 0})

    clients = [
        mailchimp.MailchimpClient(
            api_key="key-us5", account_id="cap-test", transport=httpx.MockTransport(slow)
        )
        for _ in range(25)
    ]
    threads = [threading.Thread(target=lambda c=c: c.request_json("GET", "lists")) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == mailchimp.MAX_CONNECTIONS


def test_members_keep_only_the_keyed_hash_never_mailchimps_md5(world, monkeypatch):
    monkeypatch.setenv(PII_HASH_KEY_ENV, "m" * 40)

    simulator, api, _ = client(world)
    req = request(world)
    spec = next(s for s in mailchimp.STREAMS if s.table == "members")
    rows = [spec.normalise(m, req) for m in spec.fetch(api, req)]
    assert len(rows) == 360
    hasher = PiiHasher(b"m" * 40)
    first = simulator.account(ACCOUNT).list_ids[0]
    assert hasher.hash_email(f"reader0.{first[:4]}@inbox.example") in {
        r["email_hash"] for r in rows if r["list_id"] == first
    }
    assert all("@" not in str(v) for r in rows for v in r.values())
    assert set(rows[0]) == {
        "workspace_id",
        "account_id",
        "list_id",
        "email_hash",
        "status",
        "last_changed",
    }
    # Mailchimp's own id (an unkeyed MD5 anyone can recompute from an address) is nowhere.
    audiences = [simulator.audience(ACCOUNT, i) for i in simulator.account(ACCOUNT).list_ids]
    md5s = {a.wire(m)["id"] for a in audiences for m in a.members}
    assert len(md5s) == 360 and not md5s & {str(v) for r in rows for v in r.values()}
    # Without the key nothing is fetched: the sync stops before the first request.
    monkeypatch.delenv(PII_HASH_KEY_ENV)
    requests_before = api.stats.requests
    with pytest.raises(FatalApiError, match="OWNLAY_PII_HASH_KEY"):
        list(spec.fetch(api, req))
    assert api.stats.requests == requests_before


def test_reports_of_every_campaign_type_are_synced_not_only_regular_ones(world):
    simulator, api, _ = client(world)
    req = request(world, date(2026, 9, 1), date(2026, 11, 30))
    spec = next(s for s in mailchimp.STREAMS if s.table == "reports")
    rows = [spec.normalise(r, req) for r in spec.fetch(api, req)]
    expected = {
        c.id: c.type
        for c in simulator.account(ACCOUNT).campaigns
        if c.send_time.astimezone(req.workspace.zone).date() >= date(2026, 9, 1)
    }
    assert {r["campaign_id"]: r["type"] for r in rows} == expected
    assert {"regular", "plaintext", "variate"} <= {r["type"] for r in rows}


# --- members under concurrent change ----------------------------------------------------------

KEY = "m" * 40


def _sync_members(world, monkeypatch, *, churn=None, page_size=20, prepare=None):
    """Run the members stream against a simulator whose audiences change between requests;
    returns the audiences, the rows and the requests sent."""
    monkeypatch.setenv(PII_HASH_KEY_ENV, KEY)
    monkeypatch.setattr(mailchimp, "PAGE_SIZE", page_size)
    simulator = MailchimpSimulator(world, churn=churn)
    list_ids = simulator.account(ACCOUNT).list_ids
    audiences = [simulator.audience(ACCOUNT, list_id) for list_id in list_ids]
    if prepare is not None:
        prepare(audiences)
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return simulator.handle(request)

    api = mailchimp.MailchimpClient(
        api_key=sandbox_credential("api_key", ACCOUNT),
        account_id=ACCOUNT,
        transport=httpx.MockTransport(recording),
        clock=FakeClock(NOW),
    )
    req = request(world)
    spec = next(s for s in mailchimp.STREAMS if s.table == "members")
    rows = [spec.normalise(m, req) for m in spec.fetch(api, req)]
    return audiences, rows, seen


def _by_hash(audiences):
    hasher = PiiHasher(KEY.encode())
    return {(a.list_id, hasher.hash_email(m.email)): m for a in audiences for m in [*a.members]}


def test_no_member_is_skipped_while_members_are_archived_deleted_added_and_edited(
    world, monkeypatch
):
    # Three changes before every page: on count/offset paging each archive or delete ahead of
    # the offset shifts the later members one place back and the next page steps over one.
    before: dict[str, set[str]] = {}

    def remember(audiences):
        for audience in audiences:
            before[audience.list_id] = {m.email for m in audience.members}

    audiences, rows, _ = _sync_members(
        world, monkeypatch, churn=MemberChurn(per_request=3, seed=11), prepare=remember
    )
    hasher = PiiHasher(KEY.encode())
    read = {(r["list_id"], r["email_hash"]): r for r in rows}
    # Every member there before the sync and still there after it (archived or not) is read,
    # with a status it really had; only members deleted for good may be missing.
    survivors = {
        (a.list_id, hasher.hash_email(m.email)): m
        for a in audiences
        for m in a.members
        if m.email in before[a.list_id]
    }
    assert sum(len(a.deleted) for a in audiences) > 0
    assert any(m.status == "archived" for m in survivors.values())
    missing = sorted(m.email for key, m in survivors.items() if key not in read)
    assert missing == []
    assert all(read[key]["status"] in m.statuses for key, m in survivors.items())
    assert len(read) == len(rows)  # one row per member


def test_archived_members_are_synced_with_status_archived(world, monkeypatch):
    # The unfiltered listing leaves archived contacts out; the sync asks for them by status.
    def archive(audiences):
        for member in audiences[0].members[:7]:
            member.become("archived", member.last_changed)

    audiences, rows, _ = _sync_members(world, monkeypatch, prepare=archive)
    statuses = {(r["list_id"], r["email_hash"]): r["status"] for r in rows}
    assert len(rows) == 360
    expected = {key: m.status for key, m in _by_hash(audiences).items()}
    assert statuses == expected
    assert sum(s == "archived" for s in statuses.values()) == 7


def test_an_import_larger_than_a_page_within_one_second_is_read_whole(world, monkeypatch):
    # 60 members share one `last_changed` second, three pages of 20: the sync cannot step past
    # that second with since_last_changed, so it pages through the second alone.
    imported: list[str] = []

    def bulk_import(audiences):
        imported.extend(m.email for m in audiences[1].add(60))

    audiences, rows, seen = _sync_members(
        world, monkeypatch, prepare=bulk_import, churn=MemberChurn(per_request=1, seed=3)
    )
    alone = [r for r in seen if "before_last_changed" in r.url.params]
    assert len(alone) >= 3  # the crowded second, read by count/offset on its own
    read = {(r["list_id"], r["email_hash"]) for r in rows}
    hasher = PiiHasher(KEY.encode())
    # Churn may delete some imported members for good; every other one is read.
    kept = {m.email for m in audiences[1].members} & set(imported)
    wanted = {(audiences[1].list_id, hasher.hash_email(email)) for email in kept}
    assert 55 <= len(wanted) <= 60 and sorted(wanted - read) == []


def test_a_refused_member_reaches_quarantine_without_its_address_or_md5(
    world, monkeypatch, tmp_path
):
    # Contact data is protected in the fetcher, so even a row the normaliser refuses is kept
    # with the keyed hash only; merge fields and signup IPs are never asked for.
    def corrupting(simulator):
        def handle(request: httpx.Request) -> httpx.Response:
            response = simulator.handle(request)
            body = response.json()
            for member in body.get("members", [])[:1]:
                member["last_changed"] = "yesterday"
            return httpx.Response(response.status_code, json=body)

        return handle

    monkeypatch.setenv(PII_HASH_KEY_ENV, KEY)
    simulator = MailchimpSimulator(world)
    seen: list[httpx.Request] = []
    handle = corrupting(simulator)

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handle(request)

    api = mailchimp.MailchimpClient(
        api_key=sandbox_credential("api_key", ACCOUNT),
        account_id=ACCOUNT,
        transport=httpx.MockTransport(recording),
        clock=FakeClock(NOW),
    )
    spec = next(s for s in mailchimp.STREAMS if s.table == "members")
    workspace = world.registry.get("blumen-haus")
    result = sync_stream(
        spec, workspace=workspace, open_client=lambda connection: api, lake_root=tmp_path
    )
    assert result.quarantined >= 1
    assert set(result.quarantine_reasons) == {
        "last_changed: not an ISO 8601 timestamp: 'yesterday'"
    }
    [quarantine] = [p for p in tmp_path.rglob("*.parquet") if "quarantine" in p.parts]
    raw = "\n".join(pq.read_table(quarantine).column("raw_record").to_pylist())
    md5s = {
        simulator.audience(ACCOUNT, list_id).wire(m)["id"]
        for list_id in simulator.account(ACCOUNT).list_ids
        for m in simulator.audience(ACCOUNT, list_id).members
    }
    assert "@" not in raw and "FNAME" not in raw and "198.51.100" not in raw
    assert not any(md5 in raw for md5 in md5s)
    member_requests = [r for r in seen if r.url.path.endswith("/members")]
    assert all("merge_fields" not in (r.url.params.get("fields") or "x") for r in member_requests)
    assert all(r.url.params.get("fields") for r in member_requests)


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.Response(
            429,
            json={
                "type": "https://mailchimp.com/developer/marketing/docs/errors/",
                "title": "TooManyRequests",
                "status": 429,
                "detail": "You have exceeded the limit of 10 simultaneous connections.",
                "instance": "0c5a9d4e-0000-4000-8000-000000000000",
            },
            headers={"Content-Type": "application/problem+json"},
        ),
        # Heavy throttling can come back as a bare 403 without a JSON body.
        httpx.Response(403, text="<html>Forbidden</html>"),
    ],
)
def test_a_connection_refusal_is_waited_out_and_retried(world, monkeypatch, refusal):
    monkeypatch.setenv(PII_HASH_KEY_ENV, KEY)
    simulator = MailchimpSimulator(world)
    answered = 0

    def once_refused(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        answered += 1
        return refusal if answered == 2 else simulator.handle(request)

    clock = FakeClock(NOW)
    api = mailchimp.MailchimpClient(
        api_key=sandbox_credential("api_key", ACCOUNT),
        account_id=ACCOUNT,
        transport=httpx.MockTransport(once_refused),
        clock=clock,
    )
    spec = next(s for s in mailchimp.STREAMS if s.table == "members")
    members = list(spec.fetch(api, request(world)))
    assert len(members) == 360
    assert api.stats.throttled == 1 and api.stats.retries == 1
    assert api.stats.errors_by_class == {"RateLimited": 1}
    assert len(clock.sleeps) == 1


def test_the_simulator_refuses_what_mailchimp_refuses_with_a_problem_body(world):
    simulator = MailchimpSimulator(world)
    list_id = simulator.account(ACCOUNT).list_ids[0]
    auth = {"Authorization": mailchimp.MailchimpClient(
        api_key=sandbox_credential("api_key", ACCOUNT), account_id=ACCOUNT
    ).auth_headers()["Authorization"]}  # fmt: skip
    url = f"https://us21.api.mailchimp.com/3.0/lists/{list_id}/members"

    def get(**params):
        return simulator.handle(httpx.Request("GET", url, params=params, headers=auth))

    for params, named in (
        ({"count": "1001"}, "count"),
        ({"sort_field": "email_address"}, "sort_field"),
        ({"sort_field": "last_changed", "sort_dir": "up"}, "sort_dir"),
        ({"status": "deleted"}, "status"),
        ({"since_last_changed": "yesterday"}, "since_last_changed"),
    ):
        response = get(**params)
        problem = response.json()
        assert response.status_code == 400 and problem["status"] == 400, params
        assert response.headers["content-type"] == "application/problem+json"
        assert named in problem["detail"] and problem["title"] == "Invalid Resource"
    # Archived contacts only when asked for; `fields` keeps what was named.
    simulator.audience(ACCOUNT, list_id).members[0].become("archived", NOW)
    assert get(count="1000").json()["total_items"] == 179
    archived = get(status="archived", fields="members.status,total_items").json()
    assert archived == {"members": [{"status": "archived"}], "total_items": 1}
