"""Ground truth equals what the simulators' raw responses add up to, converted by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.sandbox.entities import EntityStatus
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import (
    META,
    action_value,
    google_pages,
    insights_params,
    meta_pages,
    with_deleted,
)

METRICS = ("impressions", "clicks", "spend", "conversions", "conversion_value")


def _span_around_removal(world: SandboxWorld, platform: str, account_id: str) -> tuple[date, date]:
    """Four days ending the day after the deleted campaign's removal, so it has rows in them."""
    deleted = next(
        c for c in world.campaigns(platform, account_id) if c.status is EntityStatus.DELETED
    )
    return deleted.ended_on - timedelta(days=3), deleted.ended_on


def _truth(world: SandboxWorld, workspace_id: str, platform: str, span: tuple[date, date]) -> dict:
    rows = world.ground_truth_campaign_daily(workspace_id, platform, *span)
    return {(r["campaign_id"], r["report_date"]): tuple(r[m] for m in METRICS) for r in rows}


@pytest.mark.parametrize("workspace_id", ["acme-outdoor", "kumo-tea"])
def test_meta_insights_add_up_to_the_ground_truth(
    client: httpx.Client, world: SandboxWorld, workspace_id: str
) -> None:
    account = next(a for a in world.accounts("meta_ads") if a.workspace_id == workspace_id)
    span = _span_around_removal(world, "meta_ads", account.account_id)
    params = insights_params(*span, limit=7, filtering=with_deleted())
    pages = meta_pages(client, f"{META}/act_{account.account_id}/insights", params)
    served: dict[tuple[str, date], tuple[Any, ...]] = {}
    for row in (r for page in pages for r in page["data"]):
        served[(row["campaign_id"], date.fromisoformat(row["date_start"]))] = (
            int(row["impressions"]),
            int(row["clicks"]),
            Decimal(row["spend"]),
            Decimal(action_value(row.get("actions"), "purchase") or "0"),
            Decimal(action_value(row.get("action_values"), "purchase") or "0"),
        )
    assert served == _truth(world, workspace_id, "meta_ads", span)


@pytest.mark.parametrize("workspace_id", ["blumen-haus", "kumo-tea"])
def test_google_ads_metrics_add_up_to_the_ground_truth(
    client: httpx.Client, world: SandboxWorld, workspace_id: str
) -> None:
    account = next(a for a in world.accounts("google_ads") if a.workspace_id == workspace_id)
    span = _span_around_removal(world, "google_ads", account.account_id)
    query = (
        "SELECT campaign.id, segments.date, metrics.impressions, metrics.clicks, "
        "metrics.cost_micros, metrics.conversions, metrics.conversions_value FROM campaign "
        f"WHERE segments.date BETWEEN '{span[0]}' AND '{span[1]}'"
    )
    served: dict[tuple[str, date], tuple[Any, ...]] = {}
    for page in google_pages(client, account.account_id, query):
        for row in page.get("results", []):
            metrics = row["metrics"]
            served[(row["campaign"]["id"], date.fromisoformat(row["segments"]["date"]))] = (
                int(metrics["impressions"]),
                int(metrics["clicks"]),
                Decimal(metrics["costMicros"]) / 1_000_000,
                Decimal(str(metrics["conversions"])),
                Decimal(str(metrics["conversionsValue"])),
            )
    assert served == _truth(world, workspace_id, "google_ads", span)


def test_the_deleted_campaign_is_part_of_the_compared_span(world: SandboxWorld) -> None:
    for platform in tuple(p.platform for p in ad_platforms()):
        for account in world.accounts(platform):
            span = _span_around_removal(world, platform, account.account_id)
            deleted = next(
                c
                for c in world.campaigns(platform, account.account_id)
                if c.status is EntityStatus.DELETED
            )
            rows = world.ground_truth_campaign_daily(account.workspace_id, platform, *span)
            assert any(r["campaign_id"] == deleted.campaign_id for r in rows)
