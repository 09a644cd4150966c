import dagster as dg

from ownlay_pipelines.definitions import defs

NOT_OBVIOUS = ("report_date", "currency", "spend", "conversions", "conversion_value")


def _columns(asset: str) -> dict[str, str | None]:
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(asset.split("/")))
    return {c.name: c.description for c in spec.metadata["dagster/column_schema"].columns}


def test_columns_whose_meaning_is_not_obvious_are_described_in_every_table():
    unified = _columns("unified/campaign_metrics_daily")
    for name in (*NOT_OBVIOUS, "ctr_percent", "cpc", "cpm", "roas", "campaign_status"):
        assert unified[name], name
    assert (
        "percent" in unified["ctr_percent"] and "NULL when the denominator is 0" in unified["roas"]
    )
    for raw in ("raw/meta_ads/insights", "raw/google_ads/campaign_metrics"):
        assert all(_columns(raw)[name] for name in NOT_OBVIOUS), raw
    assert _columns("raw/google_ads/campaign_metrics")["cost_micros"].startswith("Google Ads cost")
    dashboard = _columns("marts/dashboard_metrics")
    assert all(dashboard[n] for n in ("blended_roas", "mer_percent", "period"))
    assert _columns("raw/meta_ads/insights")["impressions"] is None  # obvious: no noise
