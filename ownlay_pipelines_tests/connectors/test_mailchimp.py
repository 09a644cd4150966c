"""Mailchimp against its simulator: data centre, count/offset paging, errors, the connection cap,
members as keyed hashes, and report numbers equal to the world's."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import httpx
import pytest

from ownlay_pipelines.connectors import mailchimp
from ownlay_pipelines.connectors.streams import FetchRequest
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import AuthExpired, FatalApiError, RetryBudgetExhausted
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV, PiiHasher
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.faults import FaultPlan, PlatformFaults
from ownlay_pipelines.sandbox.mailchimp import MailchimpSimulator
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

    _, api, _ = client(world)
    req = request(world)
    spec = next(s for s in mailchimp.STREAMS if s.table == "members")
    rows = [spec.normalise(m, req) for m in spec.fetch(api, req)]
    assert len(rows) == 360
    hasher = PiiHasher(b"m" * 40)
    assert rows[0]["email_hash"] == hasher.hash_email(
        f"reader0.{rows[0]['list_id'][:4]}@inbox.example"
    )
    assert "id" not in rows[0] and all("@" not in str(v) for v in rows[0].values())
    # Mailchimp's own id (an unkeyed MD5 anyone can recompute from an address) is nowhere.
    md5s = {m["id"] for m in spec.fetch(api, req)}
    assert len(md5s) == 360 and not md5s & {str(v) for r in rows for v in r.values()}
    monkeypatch.delenv(PII_HASH_KEY_ENV)
    with pytest.raises(FatalApiError, match="OWNLAY_PII_HASH_KEY"):
        spec.normalise({"email_address": "a@b.example", "list_id": "x"}, req)


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
