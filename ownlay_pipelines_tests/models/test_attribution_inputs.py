"""From lake files to touchpoints and conversions: UTM and click-id matching, order identity."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ownlay_pipelines.models.attribution import compute_attribution
from ownlay_pipelines.models.attribution_inputs import create_attribution_inputs
from ownlay_pipelines_tests.models.lake import (
    CAMPAIGN_SOURCES,
    GOOGLE_CAMPAIGNS,
    META_CAMPAIGNS,
    event,
    order,
    workspace,
    write_campaigns,
    write_events,
    write_orders,
)

DAY = date(2026, 11, 18)
ORDER_AT = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
SITE = "https://shop.example"
META_URL = (
    f"{SITE}/sale?utm_source=facebook&utm_medium=paid_social"
    "&utm_campaign=prospecting-spring-sale&fbclid=IwAR1"
)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    write_campaigns(tmp_path, META_CAMPAIGNS, {"120001": "Prospecting | Spring Sale"})
    write_campaigns(tmp_path, GOOGLE_CAMPAIGNS, {"2001": "Search - Brand"})
    return tmp_path


def _touchpoints(lake: Path, **options) -> list[tuple]:
    connection = duckdb.connect()
    create_attribution_inputs(
        connection,
        lake,
        workspace=workspace(**options),
        days=[DAY],
        window_days=7,
        campaign_sources=CAMPAIGN_SOURCES,
    )
    return connection.sql(
        "SELECT event_id, identity, channel, platform, campaign_id FROM touchpoints ORDER BY 1"
    ).fetchall()


def test_utm_campaigns_match_campaigns_by_name_or_id_and_click_ids_name_the_platform(lake: Path):
    at = ORDER_AT - timedelta(hours=2)
    write_events(
        lake,
        [
            event(
                "a",
                "page_view",
                at,
                "v1",
                url=META_URL,
                utm_source="facebook",
                utm_campaign="prospecting-spring-sale",
            ),
            event(
                "b",
                "page_view",
                at,
                "v2",
                url=f"{SITE}/?utm_campaign=2001&utm_source=google",
                utm_source="google",
                utm_campaign="2001",
            ),
            event("c", "page_view", at, "v3", url=f"{SITE}/?gclid=Cj0KCQ"),
            event(
                "d",
                "page_view",
                at,
                "v4",
                url=f"{SITE}/?utm_source=Newsletter&utm_campaign=november",
                utm_source="Newsletter",
                utm_campaign="november",
            ),
            event(
                "e", "page_view", at, "v5", url=f"{SITE}/?utm_source=google", utm_source="google"
            ),
            event("g", "page_view", at, "v6", url=f"{SITE}/products/mug"),
            event("f", "add_to_cart", at, "v1", url=META_URL),
        ],
    )
    assert _touchpoints(lake) == [
        ("a", "v1", "meta_ads", "meta_ads", "120001"),
        ("b", "v2", "google_ads", "google_ads", "2001"),
        ("c", "v3", "google_ads", "google_ads", None),
        ("d", "v4", "newsletter", None, None),
    ]


def test_a_click_id_outranks_a_contradicting_utm_source(lake: Path):
    url = f"{SITE}/?utm_source=google&utm_campaign=prospecting-spring-sale&fbclid=IwAR9"
    write_events(
        lake,
        [
            event(
                "a",
                "page_view",
                ORDER_AT,
                "v1",
                url=url,
                utm_source="google",
                utm_campaign="prospecting-spring-sale",
            )
        ],
    )
    assert _touchpoints(lake) == [("a", "v1", "meta_ads", "meta_ads", "120001")]


def _credited(lake: Path, **options) -> dict[tuple[str, str], tuple]:
    table = compute_attribution(
        duckdb.connect(),
        lake,
        workspace=workspace(**options),
        days=[DAY],
        campaign_sources=CAMPAIGN_SOURCES,
    )
    return {
        (row["model"], row["conversion_id"]): (
            row["conversion_source"],
            row["channel"],
            row["campaign_id"],
            row["revenue_credit"],
            row["report_date"],
        )
        for row in table.to_pylist()
    }


def test_shopify_orders_find_their_visitor_through_the_purchase_event(lake: Path):
    write_events(
        lake,
        [
            event(
                "click",
                "page_view",
                ORDER_AT - timedelta(days=2),
                "v1",
                url=META_URL,
                utm_source="facebook",
                utm_campaign="prospecting-spring-sale",
            ),
            event("buy", "purchase", ORDER_AT, "v1", properties={"order_id": "1001", "revenue": 5}),
        ],
    )
    landing = "/?utm_source=google&utm_campaign=search-brand&gclid=x"
    write_orders(
        lake,
        DAY,
        [
            order(
                "1001",
                ORDER_AT,
                DAY,
                "80.50",
                landing_site=landing,
                landing_utm_source="google",
                landing_utm_campaign="search-brand",
            ),
            order("1002", ORDER_AT, DAY, "19.50"),
            order("1003", ORDER_AT, DAY, "999.00", test=True),
        ],
    )
    credited = _credited(lake)
    assert credited[("last_click", "1001")] == (
        "shopify_order",
        "meta_ads",
        "120001",
        Decimal("80.5"),
        DAY,
    )
    assert credited[("landing_utm", "1001")][1:3] == ("google_ads", "2001")
    assert credited[("last_click", "1002")][1] == "unattributed"
    assert credited[("landing_utm", "1002")][1] == "unattributed"
    assert ("last_click", "1003") not in credited


def test_without_a_shop_purchase_events_on_the_local_day_are_the_conversions(lake: Path):
    # 03:00 UTC on the 19th is still the 18th in New York; 06:00 UTC on the 19th is not.
    late_evening = datetime(2026, 11, 19, 3, 0, tzinfo=UTC)
    write_events(
        lake,
        [
            event(
                "click",
                "page_view",
                late_evening - timedelta(hours=1),
                "v1",
                url=META_URL,
                utm_source="facebook",
                utm_campaign="prospecting-spring-sale",
            ),
            event(
                "p1",
                "purchase",
                late_evening,
                "v1",
                properties={"order_id": "A-1", "revenue": 42.5, "currency": "usd"},
            ),
            event(
                "p1-again",
                "purchase",
                late_evening,
                "v1",
                properties={"order_id": "A-1", "revenue": 42.5},
            ),
            event(
                "p2",
                "purchase",
                datetime(2026, 11, 19, 6, 0, tzinfo=UTC),
                "v2",
                properties={"order_id": "A-2", "revenue": 10},
            ),
        ],
    )
    credited = _credited(lake, shopify=False)
    assert credited[("last_click", "A-1")] == (
        "purchase_event",
        "meta_ads",
        "120001",
        Decimal("42.5"),
        DAY,
    )
    assert {key[1] for key in credited} == {"A-1"}
