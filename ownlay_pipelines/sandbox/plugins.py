"""The platform plug-ins the sandbox world models as ad accounts (entities, delivery, clicks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ownlay_pipelines.connectors.platform import PlatformPlugin


def modelled_ad_platforms() -> dict[str, PlatformPlugin]:
    """Platform → plug-in, for every platform whose plug-in carries a sandbox catalog and
    delivery profile; other connected platforms (shops, e-mail, analytics) are not ad accounts."""
    # Imported when called: the catalog names each platform's simulator, and simulators import
    # the sandbox world, which calls this.
    from ownlay_pipelines.connectors.catalog import PLATFORMS

    return {p.platform: p for p in PLATFORMS if p.catalog is not None and p.delivery is not None}
