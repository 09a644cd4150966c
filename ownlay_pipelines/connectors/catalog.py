"""Every connector the pipeline knows; the Dagster layer builds assets for each of their streams."""

from ownlay_pipelines.connectors import google_ads, mailchimp, meta_ads, shopify, stripe
from ownlay_pipelines.connectors.streams import Connector, StreamSpec

CONNECTORS: tuple[Connector, ...] = (
    meta_ads.CONNECTOR,
    google_ads.CONNECTOR,
    shopify.CONNECTOR,
    stripe.CONNECTOR,
    mailchimp.CONNECTOR,
)


def all_streams() -> list[tuple[Connector, StreamSpec]]:
    """(connector, stream) for every stream of every connector."""
    return [(connector, spec) for connector in CONNECTORS for spec in connector.streams]
