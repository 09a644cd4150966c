"""Every platform plug-in and connector the pipeline knows; Dagster builds assets for their streams.

Adding a platform is its own modules plus one `PlatformPlugin` entry in `PLATFORMS`; everything
else (assets, unified model sources, sandbox transport and world, shop visitors) reads this list.
Each plug-in's contracts are checked here, so a broken one fails when the definitions load.
"""

from ownlay_pipelines.connectors import (
    ga4,
    google_ads,
    linkedin_ads,
    mailchimp,
    meta_ads,
    shopify,
    snapchat_ads,
    stripe,
    tiktok_ads,
)
from ownlay_pipelines.connectors.platform import ClickId, PlatformPlugin, SandboxSimulator
from ownlay_pipelines.connectors.streams import Connector, StreamSpec
from ownlay_pipelines.sandbox import ga4 as ga4_sandbox
from ownlay_pipelines.sandbox import google_ads as google_ads_sandbox
from ownlay_pipelines.sandbox import google_catalog, meta_catalog
from ownlay_pipelines.sandbox import linkedin_ads as linkedin_ads_sandbox
from ownlay_pipelines.sandbox import mailchimp as mailchimp_sandbox
from ownlay_pipelines.sandbox import meta_ads as meta_ads_sandbox
from ownlay_pipelines.sandbox import shopify as shopify_sandbox
from ownlay_pipelines.sandbox import snapchat_ads as snapchat_ads_sandbox
from ownlay_pipelines.sandbox import stripe as stripe_sandbox
from ownlay_pipelines.sandbox import tiktok_ads as tiktok_ads_sandbox

PLATFORMS: tuple[PlatformPlugin, ...] = (
    PlatformPlugin(
        connector=meta_ads.CONNECTOR,
        simulators=(SandboxSimulator(meta_ads_sandbox.MetaAdsSimulator, (meta_ads_sandbox.HOST,)),),
        catalog=meta_catalog.build_meta_catalog,
        delivery=meta_catalog.DELIVERY,
        click_id=ClickId("fbclid", "IwAR", 40, "https://l.facebook.com/"),
        status_vocabulary=meta_ads.STATUS_VOCABULARY,
    ),
    PlatformPlugin(
        connector=google_ads.CONNECTOR,
        simulators=(
            SandboxSimulator(google_ads_sandbox.GoogleAdsSimulator, (google_ads_sandbox.HOST,)),
        ),
        catalog=google_catalog.build_google_catalog,
        delivery=google_catalog.DELIVERY,
        click_id=ClickId("gclid", "Cj0KCQ", 80, "https://www.google.com/"),
        status_vocabulary=google_ads.STATUS_VOCABULARY,
    ),
    PlatformPlugin(
        connector=tiktok_ads.CONNECTOR,
        simulators=(
            SandboxSimulator(tiktok_ads_sandbox.TikTokAdsSimulator, (tiktok_ads_sandbox.HOST,)),
        ),
        catalog=tiktok_ads_sandbox.build_tiktok_catalog,
        delivery=tiktok_ads_sandbox.DELIVERY,
        click_id=ClickId("ttclid", "E.C.P.", 64, "https://www.tiktok.com/"),
        status_vocabulary=tiktok_ads.STATUS_VOCABULARY,
    ),
    PlatformPlugin(
        connector=snapchat_ads.CONNECTOR,
        simulators=(
            SandboxSimulator(
                snapchat_ads_sandbox.SnapchatAdsSimulator,
                (snapchat_ads_sandbox.HOST, snapchat_ads_sandbox.AUTH_HOST),
            ),
        ),
        catalog=snapchat_ads_sandbox.build_snapchat_catalog,
        delivery=snapchat_ads_sandbox.DELIVERY,
        click_id=ClickId("sccid", "", 36, "https://www.snapchat.com/"),
        status_vocabulary=snapchat_ads.STATUS_VOCABULARY,
    ),
    PlatformPlugin(
        connector=linkedin_ads.CONNECTOR,
        simulators=(
            SandboxSimulator(
                linkedin_ads_sandbox.LinkedInAdsSimulator, (linkedin_ads_sandbox.HOST,)
            ),
        ),
        catalog=linkedin_ads_sandbox.build_linkedin_catalog,
        delivery=linkedin_ads_sandbox.DELIVERY,
        click_id=ClickId("li_fat_id", "", 36, "https://www.linkedin.com/"),
        status_vocabulary=linkedin_ads.STATUS_VOCABULARY,
    ),
    PlatformPlugin(
        connector=ga4.CONNECTOR,
        simulators=(SandboxSimulator(ga4_sandbox.Ga4Simulator, (ga4_sandbox.HOST,)),),
    ),
    PlatformPlugin(
        connector=shopify.CONNECTOR,
        simulators=(SandboxSimulator(shopify_sandbox.ShopifySimulator, (shopify_sandbox.DOMAIN,)),),
    ),
    PlatformPlugin(
        connector=stripe.CONNECTOR,
        simulators=(SandboxSimulator(stripe_sandbox.StripeSimulator, (stripe_sandbox.HOST,)),),
    ),
    PlatformPlugin(
        connector=mailchimp.CONNECTOR,
        # Registered on the parent domain: each data centre's `<dc>.api.mailchimp.com` too.
        simulators=(
            SandboxSimulator(mailchimp_sandbox.MailchimpSimulator, (mailchimp_sandbox.HOST,)),
        ),
    ),
)

for _plugin in PLATFORMS:
    _plugin.check_contracts()

CONNECTORS: tuple[Connector, ...] = tuple(plugin.connector for plugin in PLATFORMS)


def all_streams() -> list[tuple[Connector, StreamSpec]]:
    """(connector, stream) for every stream of every connector."""
    return [(connector, spec) for connector in CONNECTORS for spec in connector.streams]


def ad_platforms() -> list[PlatformPlugin]:
    """The plug-ins whose platform reports campaign-day metrics, in catalog order."""
    return [plugin for plugin in PLATFORMS if plugin.is_ad_platform]


def plugin_for(platform: str) -> PlatformPlugin:
    """The plug-in of `platform`; KeyError names the known platforms."""
    for plugin in PLATFORMS:
        if plugin.platform == str(platform):
            return plugin
    raise KeyError(f"no platform plug-in {platform!r} (known: {[p.platform for p in PLATFORMS]})")
