"""The platform an uploaded cost row is stored under: a connector's own slug when the file names
a platform OWNLAY syncs, so the unified table can see that both describe the same spend.

A file's platform value is first made `lower_snake` (`Google Ads` → `google_ads`). A value that
is a connector platform (`google_ads`), that platform without its `_ads` suffix (`google`,
`meta`, `tiktok`, `linkedin`, `snapchat`), or one of the older or brand names below
(`facebook_ads`, `instagram`, `adwords`, `snap`…) becomes the connector's slug. Any other value
(`pinterest`, `reddit_ads`, `podcast`) is kept: a network without a connector is its own platform.
"""

from __future__ import annotations

from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.uploads.formats import quote

AD_CONNECTOR_PLATFORMS: tuple[Platform, ...] = (
    Platform.GOOGLE_ADS,
    Platform.META_ADS,
    Platform.TIKTOK_ADS,
    Platform.LINKEDIN_ADS,
    Platform.SNAPCHAT_ADS,
)
"""The connectors that report campaign-day spend into `unified/campaign_metrics_daily`."""

BRAND_NAMES: dict[str, Platform] = {
    "adwords": Platform.GOOGLE_ADS,
    "google_adwords": Platform.GOOGLE_ADS,
    "facebook": Platform.META_ADS,
    "facebook_ads": Platform.META_ADS,
    "fb": Platform.META_ADS,
    "fb_ads": Platform.META_ADS,
    "instagram": Platform.META_ADS,
    "instagram_ads": Platform.META_ADS,
    "facebook_instagram": Platform.META_ADS,
    "meta_facebook": Platform.META_ADS,
    "tik_tok": Platform.TIKTOK_ADS,
    "tik_tok_ads": Platform.TIKTOK_ADS,
    "linked_in": Platform.LINKEDIN_ADS,
    "linked_in_ads": Platform.LINKEDIN_ADS,
    "snap": Platform.SNAPCHAT_ADS,
    "snap_ads": Platform.SNAPCHAT_ADS,
}
"""Slugged names people write for a connector platform, beyond `<name>` and `<name>_ads`."""


def connector_aliases() -> dict[str, str]:
    """Every slugged name that means a connector platform → that platform's slug."""
    aliases = {p.value: p.value for p in AD_CONNECTOR_PLATFORMS}
    aliases |= {p.value.removesuffix("_ads"): p.value for p in AD_CONNECTOR_PLATFORMS}
    aliases |= {name: platform.value for name, platform in BRAND_NAMES.items()}
    return aliases


def canonical_platform_sql(slug: str) -> str:
    """SQL of the stored platform for the slugged value `slug` (module docstring)."""
    cases = " ".join(f"WHEN {quote(a)} THEN {quote(p)}" for a, p in connector_aliases().items())
    return f"CASE {slug} {cases} ELSE {slug} END"
