"""The platforms OWNLAY knows, named as seed 000's `Platform` type names them."""

from enum import StrEnum


class Platform(StrEnum):
    """A data source; the value is the name used in asset keys, lake paths and table rows."""

    GOOGLE_ADS = "google_ads"
    META_ADS = "meta_ads"
    TIKTOK_ADS = "tiktok_ads"
    LINKEDIN_ADS = "linkedin_ads"
    SNAPCHAT_ADS = "snapchat_ads"
    GA4 = "ga4"
    SHOPIFY = "shopify"
    STRIPE = "stripe"
    MAILCHIMP = "mailchimp"
    OMNISEND = "omnisend"
    WEBHOOK = "webhook"
    CSV = "csv"
    API = "api"
