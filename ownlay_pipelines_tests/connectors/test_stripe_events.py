"""Stripe update events from `/v1/events` reach the tables the webhooks update, through the same
merge: a refund of a 45-day-old charge (past the 30-day re-pull) lands in `amount_refunded` and
net revenue without webhooks; a replayed page changes nothing; an older event is ignored."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
import yaml

from ownlay_pipelines.connectors import stripe, stripe_events
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.defs.resources import LakeResource, PlatformClientsResource, RegistryResource
from ownlay_pipelines.defs.stripe_webhooks import stripe_events as stripe_events_job
from ownlay_pipelines.defs.stripe_webhooks import stripe_webhooks
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.lake.writer import read_partition
from ownlay_pipelines.models.roas import write_roas_daily
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.credentials import sandbox_credential
from ownlay_pipelines.sandbox.stripe import StripeSimulator
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

DEPLOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
ACCOUNT = "acct_1AcmeOutdoor"
WORKSPACE = "acme-outdoor"
CHARGES = next(s for s in stripe.STREAMS if s.table == "charges")
REFUNDS = next(s for s in stripe.STREAMS if s.table == "refunds")
CHARGE_CREATED = int((NOW - timedelta(days=45)).timestamp())
CHARGE_DAY = date(2026, 10, 16)
"""NOW − 45 days is 2026-10-16 12:00 UTC, 08:00 that day in New York (the workspace's zone)."""
REFUNDED_AT = int((NOW - timedelta(hours=2)).timestamp())
PAGE_LIMIT = 2
"""The fake serves two objects a page whatever `limit` says, so paging is exercised."""


def _charge(amount_refunded: int) -> dict:
    return {
        "id": "ch_3Late",
        "object": "charge",
        "amount": 4_900,
        "amount_refunded": amount_refunded,
        "currency": "usd",
        "created": CHARGE_CREATED,
        "customer": "cus_Late",
        "status": "succeeded",
        "paid": True,
        "refunded": amount_refunded == 4_900,
    }


def _event(event_id: str, kind: str, created: int, obj: dict) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "api_version": stripe.API_VERSION,
        "type": kind,
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }


REFUND = {
    "id": "re_3Late",
    "object": "refund",
    "amount": 2_450,
    "charge": "ch_3Late",
    "currency": "usd",
    "created": REFUNDED_AT,
    "status": "succeeded",
    "reason": "requested_by_customer",
}


class FakeStripe:
    """`/v1/charges` and `/v1/events` in Stripe's list format: newest first, `created[gte|lt]`,
    `types[]`, `starting_after`, `has_more`. Records every events request's parameters."""

    def __init__(self, charges: list[dict], events: list[dict]) -> None:
        self.charges, self.events = charges, events
        self.event_requests: list[httpx.QueryParams] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        resource = request.url.path.removeprefix("/v1/")
        records = self.charges if resource == "charges" else self.events
        if resource == "events":
            self.event_requests.append(params)
            types = params.get_list("types[]")
            records = [r for r in records if r["type"] in types]
        if "created[gte]" in params:
            records = [r for r in records if r["created"] >= int(params["created[gte]"])]
        if "created[lt]" in params:
            records = [r for r in records if r["created"] < int(params["created[lt]"])]
        records = sorted(records, key=lambda r: (r["created"], r["id"]), reverse=True)
        if "starting_after" in params:
            ids = [r["id"] for r in records]
            records = records[ids.index(params["starting_after"]) + 1 :]
        return httpx.Response(
            200,
            json={
                "object": "list",
                "url": f"/v1/{resource}",
                "has_more": len(records) > PAGE_LIMIT,
                "data": records[:PAGE_LIMIT],
            },
        )


@pytest.fixture(scope="module")
def registry():
    return load_registry(DEFAULT_REGISTRY_FILE)


def _client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_fake",
        account_id=ACCOUNT,
        transport=httpx.MockTransport(fake.handle),
        clock=FakeClock(NOW),
    )


def _sync_events(fake, registry, lake: Path, cursor: int | None = None):
    workspace = registry.get(WORKSPACE)
    [connection] = workspace.connections_for(stripe.Platform.STRIPE)
    return stripe_events.sync_update_events(
        _client(fake),
        workspace=workspace,
        connection=connection,
        lake_root=lake,
        cursor=cursor,
        now=NOW,
    )


def _charge_rows(lake: Path) -> list[dict]:
    table = read_partition(lake, CHARGES.ref, workspace_id=WORKSPACE, report_date=CHARGE_DAY)
    return table.to_pylist()


def _sync_charge_day(fake, registry, lake: Path) -> None:
    """The API sync of the charge's creation day, as it ran when the charge was new."""
    client = _client(fake)
    result = sync_stream(
        CHARGES,
        workspace=registry.get(WORKSPACE),
        open_client=lambda connection: client,
        lake_root=lake,
        days=[CHARGE_DAY],
    )
    assert result.quarantined == 0


def test_a_refund_45_days_after_the_charge_reaches_the_charge_and_net_revenue(registry, tmp_path):
    fake = FakeStripe([_charge(0)], [])
    _sync_charge_day(fake, registry, tmp_path)
    assert [r["amount_refunded"] for r in _charge_rows(tmp_path)] == [Decimal("0.00")]

    # 45 days on the charge is refunded in part; the re-pull window ended 15 days ago.
    fake.charges = [_charge(2_450)]
    fake.events = [
        _event("evt_refunded", "charge.refunded", REFUNDED_AT, _charge(2_450)),
        _event("evt_refund", "refund.created", REFUNDED_AT, REFUND),
        _event("evt_other", "customer.subscription.updated", REFUNDED_AT, {"object": "x"}),
    ]
    result = _sync_events(fake, registry, tmp_path)

    assert result.events == 2 and result.applied.refused == []
    assert result.cursor == REFUNDED_AT
    sent = fake.event_requests[0]
    assert sent.get_list("types[]") == list(stripe_events.UPDATE_EVENT_TYPES)
    assert int(sent["created[gte]"]) == int((NOW - timedelta(days=28)).timestamp())
    [charge] = _charge_rows(tmp_path)
    assert charge["amount_refunded"] == Decimal("24.50")
    assert charge["event_created_at"] == datetime.fromtimestamp(REFUNDED_AT, UTC)
    refund_day = datetime.fromtimestamp(REFUNDED_AT, registry.get(WORKSPACE).zone).date()
    [refund] = read_partition(
        tmp_path, REFUNDS.ref, workspace_id=WORKSPACE, report_date=refund_day
    ).to_pylist()
    assert (refund["refund_id"], refund["amount"]) == ("re_3Late", Decimal("24.50"))

    with duckdb.connect() as connection:
        [row] = write_roas_daily(
            connection,
            tmp_path,
            workspace_id=WORKSPACE,
            reporting_currency="USD",
            days=[CHARGE_DAY],
            revenue_source="stripe",
        ).to_pylist()
    assert row["revenue_last_click"] == Decimal("49.00")
    assert row["net_revenue_last_click"] == Decimal("24.50")


def test_a_replayed_events_page_changes_nothing(registry, tmp_path):
    fake = FakeStripe(
        [_charge(0)],
        [
            _event("evt_a", "charge.refunded", REFUNDED_AT - 60, _charge(1_000)),
            _event("evt_b", "charge.refunded", REFUNDED_AT, _charge(2_450)),
            _event("evt_c", "refund.created", REFUNDED_AT, REFUND),
        ],
    )
    _sync_charge_day(fake, registry, tmp_path)
    first = _sync_events(fake, registry, tmp_path)
    before = _charge_rows(tmp_path)
    # The next run starts an hour before the cursor: the same three events come again.
    again = _sync_events(fake, registry, tmp_path, cursor=first.cursor)
    assert int(fake.event_requests[-1]["created[gte]"]) == REFUNDED_AT - 3600
    assert again.events == 3 and again.cursor == first.cursor
    assert _charge_rows(tmp_path) == before
    assert [r["amount_refunded"] for r in before] == [Decimal("24.50")]


def test_an_event_older_than_the_stored_state_is_ignored(registry, tmp_path):
    fake = FakeStripe(
        [_charge(0)], [_event("evt_full", "charge.refunded", REFUNDED_AT, _charge(4_900))]
    )
    _sync_charge_day(fake, registry, tmp_path)
    _sync_events(fake, registry, tmp_path)
    # An update from before the full refund, listed only now (a late-visible event).
    fake.events = [_event("evt_old", "charge.updated", REFUNDED_AT - 600, _charge(1_000))]
    result = _sync_events(fake, registry, tmp_path)
    assert result.events == 1 and result.applied.refused == []
    [charge] = _charge_rows(tmp_path)
    assert (charge["amount_refunded"], charge["refunded"]) == (Decimal("49.00"), True)
    assert charge["event_created_at"] == datetime.fromtimestamp(REFUNDED_AT, UTC)


def test_a_refused_event_names_itself_and_the_field_and_the_rest_applies(registry, tmp_path):
    broken = {**_charge(2_450), "amount": "49.00"}
    fake = FakeStripe(
        [],
        [
            _event("evt_broken", "charge.updated", REFUNDED_AT - 60, broken),
            _event("evt_refund", "refund.created", REFUNDED_AT, REFUND),
        ],
    )
    result = _sync_events(fake, registry, tmp_path)
    assert result.applied.rows == 1
    [reason] = result.applied.refused
    assert "event evt_broken (charge.updated)" in reason and "amount" in reason


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (None, NOW - timedelta(days=28)),
        (int((NOW - timedelta(days=3)).timestamp()), NOW - timedelta(days=3, hours=1)),
        (int((NOW - timedelta(days=40)).timestamp()), NOW - timedelta(days=28)),
    ],
)
def test_the_window_starts_an_hour_before_the_cursor_within_what_stripe_keeps(cursor, expected):
    assert stripe_events.window_start(cursor, NOW) == int(expected.timestamp())


def test_the_sandbox_serves_refund_events_that_agree_with_its_charges(registry, tmp_path):
    world = SandboxWorld(registry, seed=7, now=NOW)
    simulator = StripeSimulator(world)
    client = stripe.StripeClient(
        api_key=sandbox_credential("api_key", ACCOUNT),
        account_id=ACCOUNT,
        transport=httpx.MockTransport(simulator.handle),
        clock=FakeClock(NOW),
    )
    events = list(stripe_events.update_events(client, int((NOW - timedelta(days=28)).timestamp())))
    _, charges = simulator.account(ACCOUNT).invoices_and_charges()
    refunds = {r["id"]: r for r in simulator.account(ACCOUNT).refunds()}
    by_id = {c["id"]: c for c in charges}
    refunded = [e for e in events if e["type"] == "charge.refunded"]
    assert refunded, "the sandbox month holds refunds"
    assert {e["type"] for e in events} == {"charge.refunded", "refund.created"}
    for event in refunded:
        charge = event["data"]["object"]
        assert charge == by_id[charge["id"]]
        assert event["created"] == refunds[f"re_{charge['id'][3:]}"]["created"]
    assert [e["created"] for e in events] == sorted((e["created"] for e in events), reverse=True)


def test_the_hourly_job_applies_the_sandbox_events_and_keeps_a_cursor(registry, tmp_path):
    lake = LakeResource(data_dir=str(tmp_path))
    resources = {
        "lake": lake,
        "registry": RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
        "platforms": PlatformClientsResource(
            registry=RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
            sandbox_now=NOW.isoformat(),
        ),
    }
    with dg.instance_for_test() as instance:
        result = stripe_events_job.execute_in_process(instance=instance, resources=resources)
    assert result.success
    cursors = json.loads((tmp_path / stripe_events.CURSOR_FILE).read_text())
    simulator = StripeSimulator(SandboxWorld(registry, seed=7, now=NOW))
    newest_refund = max(r["created"] for r in simulator.account(ACCOUNT).refunds())
    assert cursors[f"{WORKSPACE}/{ACCOUNT}"] == newest_refund
    _, charges = simulator.account(ACCOUNT).invoices_and_charges()
    [refunded] = [c for c in charges if c["created"] + 86_400 == newest_refund]
    day = datetime.fromtimestamp(refunded["created"], registry.get(WORKSPACE).zone).date()
    [row] = [
        r
        for r in read_partition(
            lake.lake_root, CHARGES.ref, workspace_id=WORKSPACE, report_date=day
        ).to_pylist()
        if r["charge_id"] == refunded["id"]
    ]
    assert row["amount_refunded"] == Decimal(refunded["amount_refunded"]) / 100


def test_the_webhook_and_events_jobs_merge_one_at_a_time_in_the_deployment():
    limits = {
        item["key"]: item["limit"]
        for item in yaml.safe_load(DEPLOY_YAML.read_text())["concurrency"]["runs"][
            "tag_concurrency_limits"
        ]
    }
    for job in (stripe_webhooks, stripe_events_job):
        [(key, _)] = [(k, v) for k, v in job.tags.items() if k == "ownlay/stripe_lake_merge"]
        assert limits[key] == 1


def test_a_stale_update_of_a_pending_charge_never_undoes_its_success(registry, tmp_path):
    """The API sync stored the charge succeeded; the events since then are an update while it was
    pending and its success. The success is listed too, so the newest event is the current state
    and net revenue keeps the charge."""
    pending = {**_charge(0), "status": "pending", "paid": False}
    fake = FakeStripe([_charge(0)], [])
    _sync_charge_day(fake, registry, tmp_path)
    fake.events = [
        _event("evt_upd", "charge.updated", REFUNDED_AT - 60, pending),
        _event("evt_ok", "charge.succeeded", REFUNDED_AT, _charge(0)),
    ]
    _sync_events(fake, registry, tmp_path)
    [charge] = _charge_rows(tmp_path)
    assert (charge["status"], charge["paid"]) == ("succeeded", True)


def test_the_update_types_fit_stripes_types_filter():
    # Stripe's `types[]` takes at most 20 event names.
    assert len(set(stripe_events.UPDATE_EVENT_TYPES)) == len(stripe_events.UPDATE_EVENT_TYPES) <= 20


def test_cursors_survive_a_save_and_a_damaged_file_is_named(tmp_path):
    path = tmp_path / stripe_events.CURSOR_FILE
    cursors = stripe_events.EventCursors(path)
    cursors.set(WORKSPACE, ACCOUNT, REFUNDED_AT)
    cursors.set(WORKSPACE, "acct_none", None)  # an account without events keeps no cursor
    cursors.save()
    again = stripe_events.EventCursors(path)
    assert again.get(WORKSPACE, ACCOUNT) == REFUNDED_AT
    assert again.get(WORKSPACE, "acct_none") is None
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"stripe_event_cursors\.json: not a JSON cursor file"):
        stripe_events.EventCursors(path)
