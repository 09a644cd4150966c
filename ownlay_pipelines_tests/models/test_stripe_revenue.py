"""A workspace with `revenue_source: stripe`: ROAS and the dashboard take its revenue from the
Stripe charges synced from the sandbox, checked against a hand computation of the world."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from ownlay_pipelines.connectors import meta_ads, stripe
from ownlay_pipelines.connectors.sync import sync_stream
from ownlay_pipelines.defs.assets.model_assets import METRIC_SOURCES
from ownlay_pipelines.models.campaign_metrics import write_campaign_metrics
from ownlay_pipelines.models.dashboard import write_dashboard_metrics
from ownlay_pipelines.models.roas import write_roas_daily
from ownlay_pipelines.registry.workspaces import RevenueSource, parse_registry
from ownlay_pipelines.sandbox import sandbox_transport
from ownlay_pipelines.sandbox.stripe import StripeSimulator
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.connectors.sandbox_sync import opener, sync_days

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
WORKSPACE = "acme-outdoor"
ACCOUNT = "acct_1AcmeOutdoor"
AS_OF = date(2026, 11, 29)
DAYS = [AS_OF - timedelta(days=n) for n in range(29, -1, -1)]
CHARGES = next(s for s in stripe.STREAMS if s.table == "charges")
META_INSIGHTS = next(s for s in meta_ads.CONNECTOR.streams if s.feeds_campaign_metrics)


@pytest.fixture(scope="module")
def registry():
    document = yaml.safe_load(DEFAULT_REGISTRY_FILE.read_text())
    for entry in document["workspaces"]:
        if entry["id"] == WORKSPACE:
            entry["revenue_source"] = "stripe"
            entry["connections"] = [
                c for c in entry["connections"] if c["platform"] in ("meta_ads", "stripe")
            ]
    return parse_registry(document)


def test_registry_default_is_shopify_and_a_bad_source_names_the_field(registry):
    assert registry.get(WORKSPACE).revenue_source is RevenueSource.STRIPE
    assert registry.get("blumen-haus").revenue_source is RevenueSource.SHOPIFY
    document = {
        "workspaces": [
            {
                "id": "x",
                "name": "X",
                "tier": "growth",
                "timezone": "UTC",
                "currency": "USD",
                "revenue_source": "paypal",
            }
        ]
    }
    with pytest.raises(ValueError, match=r"workspaces\.0\.revenue_source: .*'shopify' or 'stripe'"):
        parse_registry(document)


def test_roas_and_dashboard_use_stripe_charges_less_refunds(registry, tmp_path: Path):
    world = SandboxWorld(registry, seed=7, now=NOW)
    lake = tmp_path / "lake"
    sync_stream(
        CHARGES,
        workspace=registry.get(WORKSPACE),
        open_client=opener(stripe.CONNECTOR, sandbox_transport(world)),
        lake_root=lake,
        days=DAYS,
    )
    sync_days(world, registry, meta_ads.CONNECTOR, META_INSIGHTS, WORKSPACE, lake, DAYS)
    workspace = registry.get(WORKSPACE)
    with duckdb.connect() as connection:
        write_campaign_metrics(
            connection, lake, sources=METRIC_SOURCES, workspace_id=WORKSPACE, days=DAYS
        )
        roas = write_roas_daily(
            connection,
            lake,
            workspace_id=WORKSPACE,
            reporting_currency="USD",
            days=DAYS,
            revenue_source=workspace.revenue_source.value,
        ).to_pylist()
        (month,) = [
            row
            for row in write_dashboard_metrics(
                connection, lake, workspace_id=WORKSPACE, reporting_currency="USD", as_of=AS_OF
            ).to_pylist()
            if row["period"] == "30_days"
        ]

    # By hand from the world: succeeded charges created on the days (New York), in cents.
    _, charges = StripeSimulator(world).account(ACCOUNT).invoices_and_charges()
    in_range = [
        c
        for c in charges
        if c["status"] == "succeeded"
        and DAYS[0] <= datetime.fromtimestamp(c["created"], workspace.zone).date() <= AS_OF
    ]
    assert in_range
    gross = Decimal(sum(c["amount"] for c in in_range)) / 100
    net = Decimal(sum(c["amount"] - c["amount_refunded"] for c in in_range)) / 100
    assert net < gross  # the month holds a refund, so net and gross differ
    spend = sum(
        (
            Decimal(str(row["spend"]))
            for row in world.ground_truth_campaign_daily(WORKSPACE, "meta_ads", DAYS[0], AS_OF)
        ),
        Decimal(0),
    )

    stripe_rows = [r for r in roas if r["platform"] == "stripe"]
    assert all(r["campaign_id"] is None and r["revenue_currency"] == "USD" for r in stripe_rows)
    assert sum(r["revenue_last_click"] for r in stripe_rows) == gross
    assert sum(r["net_revenue_linear"] for r in stripe_rows) == net
    assert sum(r["orders_first_touch"] for r in stripe_rows) == len(in_range)
    assert month["revenue"] == gross and month["net_revenue"] == net
    assert month["spend"] == spend
    assert month["orders"] == len(in_range)
    assert month["blended_roas"] == pytest.approx(float(gross / spend), rel=1e-12)
    assert month["blended_roas_net"] == pytest.approx(float(net / spend), rel=1e-12)
    assert month["paid_roas_last_click"] == 0.0  # nothing attributes a charge to an ad
