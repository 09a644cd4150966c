"""ROAS rows from spend and attribution, and the dashboard periods over them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.models.attribution import ATTRIBUTION, ATTRIBUTION_SCHEMA
from ownlay_pipelines.models.campaign_metrics import UNIFIED_CAMPAIGN_METRICS, UNIFIED_SCHEMA
from ownlay_pipelines.models.dashboard import write_dashboard_metrics
from ownlay_pipelines.models.roas import write_roas_daily
from ownlay_pipelines_tests.models.lake import WORKSPACE_ID

DAY = date(2026, 11, 18)


def _spend(platform: str, campaign: str, spend: str, conversions: str, value: str, **extra):
    row = dict.fromkeys(UNIFIED_SCHEMA.names)
    row.update(
        workspace_id=WORKSPACE_ID,
        platform=platform,
        account_id="1",
        campaign_id=campaign,
        campaign_name=f"Campaign {campaign}",
        report_date=extra.pop("day", DAY),
        currency="USD",
        impressions=1000,
        clicks=40,
        spend=Decimal(spend),
        conversions=Decimal(conversions),
        conversion_value=Decimal(value),
    )
    return row


def _credit(
    model: str,
    order: str,
    channel: str,
    campaign: str | None,
    credit: str,
    revenue: str,
    day: date = DAY,
) -> dict:
    return {
        "workspace_id": WORKSPACE_ID,
        "report_date": day,
        "model": model,
        "conversion_id": order,
        "conversion_source": "shopify_order",
        "converted_at": datetime(2026, 11, 18, 12, tzinfo=UTC),
        "currency": "USD",
        "conversion_revenue": Decimal(revenue),
        "channel": channel,
        "platform": None if channel == "unattributed" else channel,
        "campaign_id": campaign,
        "touches": 1,
        "credit": Decimal(credit),
        "revenue_credit": Decimal(revenue),
    }


def _write(lake: Path, day: date, spend: list[dict], credits: list[dict]) -> None:
    write_partition(
        lake,
        UNIFIED_CAMPAIGN_METRICS,
        pa.Table.from_pylist(spend, schema=UNIFIED_SCHEMA),
        workspace_id=WORKSPACE_ID,
        report_date=day,
    )
    write_partition(
        lake,
        ATTRIBUTION,
        pa.Table.from_pylist(credits, schema=ATTRIBUTION_SCHEMA),
        workspace_id=WORKSPACE_ID,
        report_date=day,
    )


def _roas(lake: Path, days: list[date]) -> dict[tuple, dict]:
    table = write_roas_daily(
        duckdb.connect(), lake, workspace_id=WORKSPACE_ID, reporting_currency="USD", days=days
    )
    return {(r["report_date"], r["platform"], r["campaign_id"]): r for r in table.to_pylist()}


def test_a_campaign_row_sets_its_spend_against_each_models_revenue(tmp_path: Path):
    _write(
        tmp_path,
        DAY,
        [
            _spend("meta_ads", "m1", "50.00", "3", "120.00"),
            _spend("tiktok_ads", "t1", "20", "0", "0"),
        ],
        [
            _credit("last_click", "o1", "meta_ads", "m1", "1", "100.00"),
            _credit("linear", "o1", "meta_ads", "m1", "0.5", "50.00"),
            _credit("linear", "o1", "google_ads", "g1", "0.5", "50.00"),
        ],
    )
    rows = _roas(tmp_path, [DAY])

    meta = rows[(DAY, "meta_ads", "m1")]
    assert (meta["spend"], meta["platform_conversions"]) == (Decimal(50), Decimal(3))
    assert meta["platform_roas"] == pytest.approx(2.4)
    assert (meta["orders_last_click"], meta["revenue_last_click"]) == (Decimal(1), Decimal(100))
    assert meta["roas_last_click"] == pytest.approx(2.0)
    assert meta["roas_linear"] == pytest.approx(1.0)
    assert meta["over_attribution_ratio"] == pytest.approx(3.0)
    google = rows[(DAY, "google_ads", "g1")]
    assert (google["spend"], google["revenue_linear"], google["roas_linear"]) == (
        Decimal(0),
        Decimal(50),
        None,
    )
    # A platform is there because the unified table has it, not because a list names it; spend
    # that earned nothing has a ROAS of 0, while revenue without spend has none.
    tiktok = rows[(DAY, "tiktok_ads", "t1")]
    assert (tiktok["platform_roas"], tiktok["roas_last_click"]) == (0.0, 0.0)
    assert tiktok["over_attribution_ratio"] is None


def test_orders_credited_to_no_campaign_have_a_row_so_the_day_adds_up(tmp_path: Path):
    _write(
        tmp_path,
        DAY,
        [_spend("meta_ads", "m1", "10", "1", "30")],
        [
            _credit("last_click", "o1", "meta_ads", "m1", "1", "30.00"),
            _credit("last_click", "o2", "unattributed", None, "1", "12.50"),
        ],
    )
    rows = _roas(tmp_path, [DAY])
    assert rows[(DAY, "unattributed", None)]["revenue_last_click"] == Decimal("12.5")
    assert sum(r["orders_last_click"] for r in rows.values()) == 2
    assert sum(r["revenue_last_click"] for r in rows.values()) == Decimal("42.5")


def test_dashboard_periods_sum_the_days_before_dividing(tmp_path: Path):
    earlier = DAY - timedelta(days=3)
    _write(
        tmp_path,
        earlier,
        [_spend("meta_ads", "m1", "100", "4", "200", day=earlier)],
        [_credit("last_click", "o0", "meta_ads", "m1", "1", "300.00", day=earlier)],
    )
    _write(
        tmp_path,
        DAY,
        [_spend("meta_ads", "m1", "50", "2", "60")],
        [
            _credit("last_click", "o1", "meta_ads", "m1", "1", "40.00"),
            _credit("last_click", "o2", "unattributed", None, "1", "60.00"),
        ],
    )
    connection = duckdb.connect()
    for day in (earlier, DAY):
        write_roas_daily(
            connection, tmp_path, workspace_id=WORKSPACE_ID, reporting_currency="USD", days=[day]
        )
    table = write_dashboard_metrics(
        connection, tmp_path, workspace_id=WORKSPACE_ID, reporting_currency="USD", as_of=DAY
    )
    periods = {r["period"]: r for r in table.to_pylist()}

    assert list(periods) == ["today", "7_days", "30_days", "90_days"]
    today, week = periods["today"], periods["7_days"]
    assert (today["spend"], today["orders"], today["revenue"]) == (50, 2, 100)
    assert today["blended_roas"] == pytest.approx(2.0)
    assert dict(today["spend_by_currency"]) == {"USD": Decimal(50)}
    assert dict(today["revenue_by_currency"]) == {"USD": Decimal(100)}
    assert today["mer_percent"] == pytest.approx(50.0)
    assert today["paid_roas_last_click"] == pytest.approx(0.8)
    assert today["over_attribution_ratio"] == pytest.approx(1.0)
    assert (week["period_start"], week["spend"], week["revenue"]) == (
        DAY - timedelta(days=6),
        150,
        400,
    )
    assert week["blended_roas"] == pytest.approx(400 / 150)
    assert week["platform_roas"] == pytest.approx(260 / 150)
    assert week["aov"] == pytest.approx(400 / 3)


def test_a_dashboard_with_nothing_yet_has_zero_totals_and_no_ratios(tmp_path: Path):
    table = write_dashboard_metrics(
        duckdb.connect(), tmp_path, workspace_id=WORKSPACE_ID, reporting_currency="USD", as_of=DAY
    )
    (today,) = [r for r in table.to_pylist() if r["period"] == "today"]
    assert (today["spend"], today["orders"], today["blended_roas"], today["cpa"]) == (
        0,
        0,
        None,
        None,
    )
