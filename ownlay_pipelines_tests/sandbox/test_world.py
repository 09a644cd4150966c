"""The sandbox world: determinism, realistic numbers, money, restatement, days and statuses."""

from __future__ import annotations

import statistics
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import ownlay_pipelines
from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.registry.workspaces import Registry
from ownlay_pipelines.sandbox.entities import EntityStatus
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines_tests.sandbox.wire import NOW, SANDBOX_REGISTRY

PLATFORMS = tuple(plugin.platform for plugin in ad_platforms())


def _days(world: SandboxWorld, platform: str, account_id: str, back: int, span: int):
    today = world.local_today(platform, account_id)
    return world.campaign_days(
        platform, account_id, today - timedelta(days=back), today - timedelta(days=back - span)
    )


def test_two_worlds_with_the_same_seed_agree_on_every_entity_and_number(registry: Registry) -> None:
    first, second = SandboxWorld(registry, now=NOW), SandboxWorld(registry, now=NOW)
    for account in first.accounts():
        platform, account_id = account.platform, account.account_id
        assert first.campaigns(platform, account_id) == second.campaigns(platform, account_id)
        assert first.keywords(platform, account_id) == second.keywords(platform, account_id)
        assert _days(first, platform, account_id, 40, 40) == _days(
            second, platform, account_id, 40, 40
        )


def test_another_seed_gives_another_world(registry: Registry) -> None:
    seven, eight = SandboxWorld(registry, seed=7, now=NOW), SandboxWorld(registry, seed=8, now=NOW)
    account = seven.accounts("meta_ads")[0]
    ids_seven = [c.campaign_id for c in seven.campaigns("meta_ads", account.account_id)]
    ids_eight = [c.campaign_id for c in eight.campaigns("meta_ads", account.account_id)]
    assert ids_seven != ids_eight


def test_a_value_is_the_same_in_a_fresh_process_with_another_hash_seed(world: SandboxWorld) -> None:
    account = world.accounts("google_ads")[0]
    campaign = world.campaigns("google_ads", account.account_id)[1]
    day = world.local_today("google_ads", account.account_id) - timedelta(days=3)
    script = (
        "from datetime import date, datetime\n"
        "from pathlib import Path\n"
        "from ownlay_pipelines.registry.workspaces import load_registry\n"
        "from ownlay_pipelines.sandbox.world import SandboxWorld\n"
        f"world = SandboxWorld(load_registry(Path({str(SANDBOX_REGISTRY)!r})), "
        f"now=datetime.fromisoformat({NOW.isoformat()!r}))\n"
        f"print(world.campaign_day('google_ads', {account.account_id!r}, "
        f"{campaign.campaign_id!r}, date.fromisoformat({day.isoformat()!r})))\n"
    )
    project_root = Path(ownlay_pipelines.__file__).parents[1]
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=project_root,
        env={"PYTHONHASHSEED": "12345"},
    )
    expected = world.campaign_day("google_ads", account.account_id, campaign.campaign_id, day)
    assert result.stdout.strip() == str(expected)


def test_each_account_mixes_active_and_paused_campaigns_with_exactly_one_deleted(
    world: SandboxWorld,
) -> None:
    for account in world.accounts():
        statuses = [c.status for c in world.campaigns(account.platform, account.account_id)]
        assert 5 <= len(statuses) <= 7
        assert statuses.count(EntityStatus.DELETED) == 1
        assert EntityStatus.ACTIVE in statuses and EntityStatus.PAUSED in statuses


def test_entities_come_in_the_counts_and_id_shapes_of_each_platform(world: SandboxWorld) -> None:
    for account in world.accounts("meta_ads"):
        campaigns = world.campaigns("meta_ads", account.account_id)
        assert all(
            len(c.campaign_id) == 18 and c.campaign_id[:3] in ("120", "238") for c in campaigns
        )
        groups = world.ad_groups("meta_ads", account.account_id)
        ads = world.ads("meta_ads", account.account_id)
        assert all(2 <= sum(g.campaign_id == c.campaign_id for g in groups) <= 3 for c in campaigns)
        assert all(2 <= sum(a.ad_group_id == g.ad_group_id for a in ads) <= 3 for g in groups)
        creatives = world.creatives("meta_ads", account.account_id)
        assert sorted(c.ad_id for c in creatives) == sorted(a.ad_id for a in ads)
        assert all((c.image_url is None) != (c.video_id is None) for c in creatives)
        audiences = world.audiences("meta_ads", account.account_id)
        assert 3 <= len(audiences) <= 4
        assert all(
            0 < a.approximate_count_lower_bound < a.approximate_count_upper_bound for a in audiences
        )
    for account in world.accounts("google_ads"):
        campaigns = world.campaigns("google_ads", account.account_id)
        assert all(c.campaign_id.isdigit() and len(c.campaign_id) == 11 for c in campaigns)
        search_groups = [
            g
            for g in world.ad_groups("google_ads", account.account_id)
            if world.campaign("google_ads", account.account_id, g.campaign_id).objective == "SEARCH"
        ]
        keywords = world.keywords("google_ads", account.account_id)
        assert all(
            3 <= sum(k.ad_group_id == g.ad_group_id for k in keywords) <= 5 for g in search_groups
        )
        assert {k.match_type for k in keywords} <= {"EXACT", "PHRASE", "BROAD"}
        assert all(k.quality_score is None or 1 <= k.quality_score <= 10 for k in keywords)
        assert 2 <= len(world.conversion_actions("google_ads", account.account_id)) <= 3


def test_utm_campaign_slugs_are_unique_within_a_workspace(
    world: SandboxWorld, registry: Registry
) -> None:
    for workspace_id in registry.workspace_ids:
        slugs = [
            c.utm_campaign
            for a in world.accounts()
            if a.workspace_id == workspace_id
            for c in world.campaigns(a.platform, a.account_id)
        ]
        assert len(slugs) == len(set(slugs))
        assert all(s == s.lower() and " " not in s for s in slugs)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_daily_numbers_fall_in_realistic_ranges(world: SandboxWorld, platform: str) -> None:
    for account in world.accounts(platform):
        days = _days(world, platform, account.account_id, 60, 30)
        assert days
        for day in days:
            assert 0.004 <= day.clicks / day.impressions <= 0.041
            if platform == "meta_ads":
                assert day.reach is not None and day.reach <= day.impressions
                assert day.actions.get("link_click", 0) <= day.clicks
            else:
                assert day.reach is None and day.actions == {}


def test_cost_per_click_in_yen_is_about_150_times_the_dollar_one(world: SandboxWorld) -> None:
    def median_cpc(workspace_id: str) -> float:
        account = next(a for a in world.accounts("google_ads") if a.workspace_id == workspace_id)
        days = _days(world, "google_ads", account.account_id, 90, 80)
        return statistics.median(float(d.spend) / d.clicks for d in days if d.clicks)

    assert 60 < median_cpc("kumo-tea") / median_cpc("acme-outdoor") < 400


@pytest.mark.parametrize("platform", PLATFORMS)
def test_money_uses_the_currency_minor_unit(world: SandboxWorld, platform: str) -> None:
    for account in world.accounts(platform):
        exponent = 0 if account.currency == "JPY" else -2
        for day in _days(world, platform, account.account_id, 30, 29):
            assert day.spend.as_tuple().exponent == exponent
            assert day.conversion_value.as_tuple().exponent == exponent


def test_meta_purchases_are_whole_and_google_conversions_have_two_decimals(
    world: SandboxWorld,
) -> None:
    meta = [
        d
        for a in world.accounts("meta_ads")
        for d in _days(world, "meta_ads", a.account_id, 60, 50)
    ]
    google = [
        d
        for a in world.accounts("google_ads")
        for d in _days(world, "google_ads", a.account_id, 60, 50)
    ]
    assert all(d.conversions == d.conversions.to_integral_value() for d in meta)
    assert all(d.conversions.as_tuple().exponent == -2 for d in google)
    assert any(d.conversions != d.conversions.to_integral_value() for d in google)


def test_omni_purchase_repeats_purchase_and_conversions_are_the_purchase_action(
    world: SandboxWorld,
) -> None:
    account = world.accounts("meta_ads")[0]
    days = [d for d in _days(world, "meta_ads", account.account_id, 60, 50) if d.conversions]
    assert days
    for day in days:
        assert day.actions["omni_purchase"] == day.actions["purchase"] == int(day.conversions)
        assert (
            day.action_values["omni_purchase"]
            == day.action_values["purchase"]
            == day.conversion_value
        )


@pytest.mark.parametrize(("platform", "window_days"), [("meta_ads", 28), ("google_ads", 30)])
def test_conversions_grow_as_the_day_ages_and_freeze_after_the_window(
    registry: Registry, world: SandboxWorld, platform: str, window_days: int
) -> None:
    later = SandboxWorld(registry, now=NOW + timedelta(days=5))
    settled = SandboxWorld(registry, now=NOW + timedelta(days=window_days + 2))
    much_later = SandboxWorld(registry, now=NOW + timedelta(days=window_days + 40))
    grew = 0
    for account in world.accounts(platform):
        for day in _days(world, platform, account.account_id, 8, 7):
            args = (platform, account.account_id, day.campaign_id, day.report_date)
            aged, final, final_again = (w.campaign_day(*args) for w in (later, settled, much_later))
            assert day.conversions <= aged.conversions <= final.conversions
            assert day.conversion_value <= aged.conversion_value <= final.conversion_value
            grew += aged.conversions > day.conversions
            assert final == final_again
    assert grew > 0


def test_delivery_is_final_two_days_after_the_day_ends(
    registry: Registry, world: SandboxWorld
) -> None:
    account = world.accounts("meta_ads")[0]
    yesterday = world.local_today("meta_ads", account.account_id) - timedelta(days=1)
    settled = SandboxWorld(registry, now=NOW + timedelta(days=2))
    later = SandboxWorld(registry, now=NOW + timedelta(days=9))
    compared = 0
    for campaign in world.campaigns("meta_ads", account.account_id):
        args = ("meta_ads", account.account_id, campaign.campaign_id, yesterday)
        if world.campaign_day(*args) is None:
            continue
        young, final, final_later = (
            world.campaign_day(*args),
            settled.campaign_day(*args),
            later.campaign_day(*args),
        )
        assert young.impressions < final.impressions
        assert (final.impressions, final.clicks, final.spend) == (
            final_later.impressions,
            final_later.clicks,
            final_later.spend,
        )
        compared += 1
    assert compared


def test_today_is_partial_and_later_local_days_have_no_data(
    registry: Registry, world: SandboxWorld
) -> None:
    new_york = next(a for a in world.accounts("meta_ads") if a.timezone == "America/New_York")
    today = world.local_today("meta_ads", new_york.account_id)
    assert today == date(2026, 3, 18)
    evening = SandboxWorld(registry, now=NOW + timedelta(hours=10))
    active = [
        c
        for c in world.campaigns("meta_ads", new_york.account_id)
        if c.status is EntityStatus.ACTIVE
    ]
    for campaign in active:
        args = ("meta_ads", new_york.account_id, campaign.campaign_id)
        morning_day, evening_day = (
            world.campaign_day(*args, today),
            evening.campaign_day(*args, today),
        )
        assert 0 < morning_day.impressions < evening_day.impressions
        assert world.campaign_day(*args, today + timedelta(days=1)) is None
    tokyo = next(a for a in world.accounts("meta_ads") if a.timezone == "Asia/Tokyo")
    assert world.local_today("meta_ads", tokyo.account_id) == date(2026, 3, 19)
    # Midnight in Tokyo: the new local day has started but nothing has been delivered yet.
    assert (
        world.campaign_days("meta_ads", tokyo.account_id, date(2026, 3, 19), date(2026, 3, 20))
        == []
    )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_deleted_campaigns_have_history_only_before_their_removal(
    world: SandboxWorld, platform: str
) -> None:
    for account in world.accounts(platform):
        deleted = next(
            c
            for c in world.campaigns(platform, account.account_id)
            if c.status is EntityStatus.DELETED
        )
        before = world.campaign_days(
            platform,
            account.account_id,
            deleted.ended_on - timedelta(days=5),
            deleted.ended_on + timedelta(days=5),
        )
        own = [d.report_date for d in before if d.campaign_id == deleted.campaign_id]
        assert own and max(own) == deleted.ended_on - timedelta(days=1)


def test_paused_campaigns_deliver_nothing_once_paused(world: SandboxWorld) -> None:
    for account in world.accounts():
        for campaign in world.campaigns(account.platform, account.account_id):
            if campaign.status is EntityStatus.PAUSED:
                today = world.local_today(account.platform, account.account_id)
                days = world.campaign_days(
                    account.platform, account.account_id, campaign.ended_on, today
                )
                assert all(d.campaign_id != campaign.campaign_id for d in days)


def test_ground_truth_has_one_typed_row_per_active_campaign_day(world: SandboxWorld) -> None:
    start, end = date(2026, 3, 10), date(2026, 3, 12)
    rows = world.ground_truth_campaign_daily("blumen-haus", "google_ads", start, end)
    assert rows
    assert len({(r["account_id"], r["campaign_id"], r["report_date"]) for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == {
            "workspace_id",
            "platform",
            "account_id",
            "campaign_id",
            "campaign_name",
            "report_date",
            "currency",
            "impressions",
            "clicks",
            "spend",
            "conversions",
            "conversion_value",
        }
        assert (row["workspace_id"], row["platform"], row["currency"]) == (
            "blumen-haus",
            "google_ads",
            "EUR",
        )
        assert start <= row["report_date"] <= end
        assert isinstance(row["impressions"], int) and isinstance(row["spend"], Decimal)
        assert row["impressions"] > 0


def test_a_naive_now_is_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="timezone"):
        SandboxWorld(registry, now=NOW.replace(tzinfo=None))


def test_an_unknown_account_is_named_with_the_known_ones(world: SandboxWorld) -> None:
    with pytest.raises(KeyError, match="1000000001"):
        world.campaigns("meta_ads", "999")
