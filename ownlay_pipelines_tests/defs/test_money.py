"""An EUR shop advertising through a USD Meta account: ROAS and net revenue against a hand
computation from the sandbox's ground truth (spend, orders, refunds, cancellations, ECB rates)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ownlay_pipelines.defs.assets.fx_assets import fx_daily_rates
from ownlay_pipelines.models.fx import fx_rates_path
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox.fx import is_target_business_day, rate
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE
from ownlay_pipelines_tests.defs.test_marts import NOW, _resources, build_mart_lake, rows_of

WORKSPACE = "rive-gauche"
# Saturday, Sunday (no ECB rates: Friday's apply) and Monday.
DAYS = [date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 16)]
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def world() -> SandboxWorld:
    return SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE), seed=7, now=NOW)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Meta, Shopify, FX rates, events and marts of the mixed-currency workspace, built once."""
    data_dir = tmp_path_factory.mktemp("money") / "data"
    return build_mart_lake(data_dir, WORKSPACE, DAYS, unpartitioned=[fx_daily_rates])


def _usd_per_eur(world: SandboxWorld, day: date) -> Decimal:
    """The ECB's USD rate of the latest business day on or before `day` (sandbox truth)."""
    while not is_target_business_day(day):
        day -= timedelta(days=1)
    return rate(world.seed, "USD", day)


def _hand_totals(world: SandboxWorld) -> tuple[Decimal, Decimal, Decimal]:
    """Spend in EUR (each day's USD spend at that day's rate) and gross and net revenue."""
    spend_eur = Decimal(0)
    for day in DAYS:
        rows = world.ground_truth_campaign_daily(WORKSPACE, "meta_ads", day, day)
        assert rows and {r["currency"] for r in rows} == {"USD"}
        usd_rate = _usd_per_eur(world, day)
        spend_eur += sum(
            ((r["spend"] / usd_rate).quantize(Decimal("0.000001")) for r in rows), Decimal(0)
        )
    orders = world.shop(WORKSPACE).orders(DAYS[0], DAYS[-1])
    assert orders and {o.currency for o in orders} == {"EUR"}
    gross = sum((o.total for o in orders), Decimal(0))
    net = sum((o.net_total(world.now) for o in orders), Decimal(0))
    return spend_eur, gross, net


def test_the_mixed_currency_workspace_has_a_usd_ad_account_and_an_eur_shop(world: SandboxWorld):
    workspace = world.registry.get(WORKSPACE)
    assert (workspace.currency, workspace.reporting_currency) == ("EUR", "EUR")
    assert world.account("meta_ads", "1000000004").currency == "USD"


def test_blended_roas_equals_a_hand_computation_to_the_cent(lake: Path, world: SandboxWorld):
    spend_eur, gross, net = _hand_totals(world)
    (dashboard,) = rows_of(
        lake,
        "marts/dashboard_metrics",
        f"report_date = DATE '{DAYS[-1]}' AND period = '7_days'",
    )
    assert dashboard["reporting_currency"] == "EUR"
    assert dashboard["spend"].quantize(CENT) == spend_eur.quantize(CENT)
    assert dashboard["revenue"] == gross
    assert dashboard["net_revenue"] == net
    assert net < gross  # the sandbox's refunds and cancellations are in the window
    usd_spend = sum(
        (
            r["spend"]
            for r in world.ground_truth_campaign_daily(WORKSPACE, "meta_ads", DAYS[0], DAYS[-1])
        ),
        Decimal(0),
    )
    # The original amounts stay beside the converted ones, one entry per currency.
    assert dict(dashboard["spend_by_currency"]) == {"USD": usd_spend}
    assert dict(dashboard["revenue_by_currency"]) == {"EUR": gross}
    hand_gross = (gross / spend_eur).quantize(CENT, ROUND_HALF_EVEN)
    hand_net = (net / spend_eur).quantize(CENT, ROUND_HALF_EVEN)
    assert Decimal(repr(dashboard["blended_roas"])).quantize(CENT) == hand_gross
    assert Decimal(repr(dashboard["blended_roas_net"])).quantize(CENT) == hand_net


def test_roas_rows_keep_original_currencies_beside_reporting_amounts(
    lake: Path, world: SandboxWorld
):
    rows = rows_of(lake, "marts/roas_daily")
    paid = [r for r in rows if r["platform"] == "meta_ads"]
    assert paid and {r["currency"] for r in paid} == {"USD"}
    assert {r["reporting_currency"] for r in rows} == {"EUR"}
    for row in paid:
        expected = (row["spend"] / _usd_per_eur(world, row["report_date"])).quantize(
            Decimal("0.000001")
        )
        assert row["spend_reporting"] == expected
    credited = [r for r in rows if r["orders_last_click"] > 0]
    assert {r["revenue_currency"] for r in credited} == {"EUR"}
    # Revenue is already in the reporting currency, so it is not converted.
    assert all(r["revenue_last_click_reporting"] == r["revenue_last_click"] for r in credited)


def test_net_revenue_equals_the_shops_ground_truth_per_day_and_campaign(
    lake: Path, world: SandboxWorld
):
    truth = world.shop(WORKSPACE).last_click_truth(DAYS[0], DAYS[-1])
    roas = {
        (r["report_date"], r["platform"], r["campaign_id"]): r
        for r in rows_of(lake, "marts/roas_daily")
    }
    assert any(t.net_revenue < t.revenue for t in truth)
    for row in truth:
        mart = roas[(row.order_date, row.platform or "unattributed", row.campaign_id)]
        assert mart["revenue_last_click"] == row.revenue
        assert mart["net_revenue_last_click"] == row.net_revenue
    orders = world.shop(WORKSPACE).orders(DAYS[0], DAYS[-1])
    assert any(o.cancelled_as_of(NOW) for o in orders), "no cancellation to test against"


def test_the_fx_asset_reads_the_history_when_new_or_behind_and_the_daily_file_otherwise(
    tmp_path: Path,
):
    resources = _resources(tmp_path / "data")
    lake_root = tmp_path / "data" / "lake"

    def materialize() -> dict:
        result = dg.materialize([fx_daily_rates], resources=resources)
        (event,) = result.get_asset_materialization_events()
        return {k: v.value for k, v in event.materialization.metadata.items()}

    first = materialize()
    assert first["read_history"] is True and first["latest_rate_date"] == "2026-11-20"
    daily = materialize()
    assert daily["read_history"] is False and daily["fetched_rates"] == 9
    assert daily["dagster/row_count"] == first["dagster/row_count"]  # idempotent merge
    # Keep only rates older than a week: the next run catches up from the 90-day file.
    stored = pq.read_table(fx_rates_path(lake_root))
    old = stored.filter(pc.less(stored["rate_date"], pa.scalar(date(2026, 11, 12), pa.date32())))
    pq.write_table(old, fx_rates_path(lake_root))
    caught_up = materialize()
    assert caught_up["read_history"] is True
    assert caught_up["dagster/row_count"] == first["dagster/row_count"]
