"""Which ad platform a visit came from: click ids and `utm_source` values, mapped in one place.

A platform's click id (`gclid`, `fbclid`, …) is the platform's own stamp on a click, so it decides
first; `utm_source` (what the advertiser typed into the ad's URL) decides when there is none. Every
SQL model that needs a visit's platform uses the expressions built here.
"""

from __future__ import annotations

from ownlay_pipelines.schema.platforms import Platform

CLICK_ID_PLATFORMS: tuple[tuple[str, Platform], ...] = (
    ("gclid", Platform.GOOGLE_ADS),
    ("gbraid", Platform.GOOGLE_ADS),
    ("wbraid", Platform.GOOGLE_ADS),
    ("dclid", Platform.GOOGLE_ADS),
    ("fbclid", Platform.META_ADS),
    ("ttclid", Platform.TIKTOK_ADS),
    ("li_fat_id", Platform.LINKEDIN_ADS),
    ("sccid", Platform.SNAPCHAT_ADS),
)
"""URL query parameter → platform, in precedence order when a URL carries several."""

UTM_SOURCE_PLATFORMS: dict[str, Platform] = {
    "google": Platform.GOOGLE_ADS,
    "adwords": Platform.GOOGLE_ADS,
    "youtube": Platform.GOOGLE_ADS,
    "facebook": Platform.META_ADS,
    "fb": Platform.META_ADS,
    "instagram": Platform.META_ADS,
    "ig": Platform.META_ADS,
    "meta": Platform.META_ADS,
    "tiktok": Platform.TIKTOK_ADS,
    "linkedin": Platform.LINKEDIN_ADS,
    "snapchat": Platform.SNAPCHAT_ADS,
}
"""Lower-cased `utm_source` → platform."""

UNATTRIBUTED = "unattributed"
"""The channel of a conversion no touch could be credited with (totals still reconcile)."""


def platform_sql(url: str, utm_source: str) -> str:
    """A SQL expression for the platform a visit came from, or NULL: first the click id found in
    the URL column `url` (in `CLICK_ID_PLATFORMS` order), then the `utm_source` column's value."""
    click_ids = " ".join(
        f"WHEN regexp_matches({url}, '[?&]{parameter}=[^&#]', 'i') THEN '{platform.value}'"
        for parameter, platform in CLICK_ID_PLATFORMS
    )
    sources = " ".join(
        f"WHEN '{source}' THEN '{platform.value}'"
        for source, platform in UTM_SOURCE_PLATFORMS.items()
    )
    return f"coalesce(CASE {click_ids} END, CASE lower(trim({utm_source})) {sources} END)"


def has_click_id_sql(url: str) -> str:
    """A SQL predicate: the URL column `url` carries one of the known click ids."""
    pattern = "|".join(parameter for parameter, _ in CLICK_ID_PLATFORMS)
    return f"regexp_matches({url}, '[?&]({pattern})=[^&#]', 'i')"


def campaign_key_sql(text: str) -> str:
    """A SQL expression normalising a campaign name or `utm_campaign` for matching: lower case,
    runs of other characters as one '-' (so 'Prospecting | Spring Sale' matches
    'prospecting-spring-sale')."""
    return f"trim(regexp_replace(lower(trim({text})), '[^a-z0-9]+', '-', 'g'), '-')"
