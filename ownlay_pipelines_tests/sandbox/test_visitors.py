"""The world's visitors: canonical events, real campaign UTMs and click ids, and order truth."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
import pytest

from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.events.layout import event_files_glob
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.models.channels import UTM_SOURCE_PLATFORMS
from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.sandbox.event_lake import write_world_events
from ownlay_pipelines.sandbox.first_party_events import event_payloads
from ownlay_pipelines.sandbox.visitors import MAX_ORDER_DELAY
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import NOW

WORKSPACE = "blumen-haus"
START, END = date(2026, 3, 14), date(2026, 3, 18)
CLICK_IDS = {p.click_id.parameter: p.platform for p in ad_platforms() if p.click_id is not None}


@pytest.fixture(scope="module")
def payloads(world: SandboxWorld) -> list[dict]:
    return list(event_payloads(world, WORKSPACE, START, END))


def test_every_event_is_a_valid_ownlay_event_sent_before_now(payloads: list[dict]):
    context = EventValidationContext(now=NOW, policy=TimestampPolicy())
    events = [OwnlayEvent.model_validate(p, context=context) for p in payloads]
    assert Counter(e.event_type.value for e in events).keys() == {
        "page_view",
        "add_to_cart",
        "checkout_start",
        "purchase",
    }
    assert all(e.timestamp <= NOW and e.workspace_id == WORKSPACE for e in events)
    assert len({e.event_id for e in events}) == len(events)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)


def test_the_same_seed_sends_the_same_events(payloads: list[dict], registry: Registry):
    again = list(event_payloads(SandboxWorld(registry, now=NOW), WORKSPACE, START, END))
    assert again == payloads


def test_ad_clicks_carry_a_real_campaigns_utm_and_the_platforms_click_id(
    payloads: list[dict], world: SandboxWorld
):
    slugs = {
        (account.platform, campaign.utm_campaign)
        for account in world.accounts()
        if account.workspace_id == WORKSPACE
        for campaign in world.campaigns(account.platform, account.account_id)
    }
    clicks = [p for p in payloads if p["utm"]]
    assert len(clicks) > 50
    for click in clicks:
        query = dict(parse_qsl(urlsplit(click["context"]["page"]["url"]).query))
        (click_id,) = set(query) & set(CLICK_IDS)
        platform = CLICK_IDS[click_id]
        assert click["utm"]["source"] == query["utm_source"]
        assert UTM_SOURCE_PLATFORMS[query["utm_source"]] == platform
        assert (platform, click["utm"]["campaign"]) in slugs


def test_purchase_events_name_the_shopify_order_and_its_total(
    payloads: list[dict], world: SandboxWorld
):
    orders = {str(o.order_id): o for o in world.shop(WORKSPACE).orders(START, END)}
    purchases = {p["properties"]["order_id"]: p for p in payloads if p["event_type"] == "purchase"}
    assert purchases.keys() == orders.keys()
    for order_id, purchase in purchases.items():
        assert purchase["properties"]["revenue"] == float(orders[order_id].total)
        assert purchase["timestamp"].startswith(orders[order_id].created_at.strftime("%Y-%m-%dT%H"))


def test_a_driven_order_is_last_clicked_on_its_campaign_within_the_window(world: SandboxWorld):
    orders = world.shop(WORKSPACE).orders(START, END)
    driven = [o for o in orders if o.driving_campaign_id]
    organic = [o for o in orders if o.driving_campaign_id is None]
    assert driven and organic
    for order in driven:
        last = order.visit.clicks[-1]
        assert (last.platform, last.campaign_id) == (
            order.driving_platform,
            order.driving_campaign_id,
        )
        assert timedelta(0) < order.created_at - last.at <= MAX_ORDER_DELAY
        assert all(click.at < last.at for click in order.visit.clicks[:-1])
    for order in organic:
        assert all(order.created_at - c.at > timedelta(days=7) for c in order.visit.clicks)


def test_platforms_claim_more_conversions_than_the_orders_their_clicks_drove(world: SandboxWorld):
    # Over settled days (past the 30-day restatement window) the claims exceed the real orders.
    start, end = date(2026, 1, 1), date(2026, 1, 31)
    claimed = sum(
        row["conversions"]
        for platform in tuple(p.platform for p in ad_platforms())
        for row in world.ground_truth_campaign_daily(WORKSPACE, platform, start, end)
    )
    orders = world.shop(WORKSPACE).orders(start, end)
    driven = [o for o in orders if o.driving_campaign_id]
    assert 1.2 < float(claimed) / len(driven) < 1.8
    assert float(claimed) / len(orders) > 1.0


def test_written_events_land_in_the_event_lake_once(tmp_path: Path, world: SandboxWorld):
    first = write_world_events(world, tmp_path, WORKSPACE, END, END)
    again = write_world_events(world, tmp_path, WORKSPACE, END, END)
    glob = event_files_glob(tmp_path)
    rows = duckdb.connect().sql(
        f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{glob}')"
    )
    assert rows.fetchall() == [(first.events, first.events)]
    assert first.events == again.events > 0
    assert {p.parent.parent.name for p in first.day_files} == {f"workspace_id={WORKSPACE}"}
