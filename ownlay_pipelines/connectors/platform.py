"""A platform as one plug-in: its connector, its sandbox simulators and world model, its click id.

Everything that used to be listed per platform in several places (connector catalog, sandbox
transport, world, delivery profiles, visitors) reads the plug-ins instead, so adding a platform is
its own modules plus one entry in `connectors/catalog.py`. The rules the models rely on are
declared here and checked when the catalog loads (`check_contracts`):

- an ad platform has exactly one stream that feeds `unified/campaign_metrics_daily`; it is
  partitioned by date and workspace and its schema starts with the shared campaign-day columns
  (`schema/campaign_metrics.py`), in order and with the same types;
- an ad platform has an entity snapshot named `campaigns` (partitioned by workspace, with
  `account_id`, `campaign_id`, `campaign_name` and `status`), whose `status` uses the shared
  vocabulary: the plug-in declares how each platform status maps onto it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from ownlay_pipelines.connectors.streams import Connector, Partitioning, StreamSpec
from ownlay_pipelines.schema.campaign_metrics import CAMPAIGN_DAY_FIELDS, CAMPAIGN_STATUSES

if TYPE_CHECKING:
    from ownlay_pipelines.sandbox.performance import DeliveryProfile
    from ownlay_pipelines.sandbox.transport import SimulatorFactory
    from ownlay_pipelines.sandbox.world import CatalogBuilder

CAMPAIGNS_TABLE = "campaigns"
CAMPAIGNS_COLUMNS = ("account_id", "campaign_id", "campaign_name", "status")


class PlatformContractError(ValueError):
    """A plug-in breaks a rule the unified models rely on; the message names the stream."""


@dataclass(frozen=True)
class ClickId:
    """The query parameter a platform appends to every ad click, and how its values look."""

    parameter: str
    prefix: str
    length: int
    referrer: str
    """The Referer a click from the platform's apps and sites arrives with."""


@dataclass(frozen=True)
class SandboxSimulator:
    """One simulator class and every host it answers for (API host, OAuth token host, …)."""

    factory: SimulatorFactory
    hosts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError(f"{self.factory!r} serves no host")


@dataclass(frozen=True)
class PlatformPlugin:
    """Everything the pipeline and its sandbox know about one platform.

    `catalog` and `delivery` make it an ad platform of the sandbox world (entities and daily
    delivery); `click_id` lets the world's shop visitors arrive from its ads.
    """

    connector: Connector
    simulators: tuple[SandboxSimulator, ...] = ()
    catalog: CatalogBuilder | None = None
    delivery: DeliveryProfile | None = None
    click_id: ClickId | None = None
    status_vocabulary: Mapping[str, str] = field(default_factory=dict)
    """Platform campaign status → shared status (`active`, `paused`, `removed`, `other`)."""

    @property
    def platform(self) -> str:
        return self.connector.platform.value

    @property
    def is_ad_platform(self) -> bool:
        """True when the platform reports campaign-day metrics into the unified table."""
        return any(spec.feeds_campaign_metrics for spec in self.connector.streams)

    @property
    def metrics_stream(self) -> StreamSpec:
        """The stream feeding `unified/campaign_metrics_daily`."""
        return next(spec for spec in self.connector.streams if spec.feeds_campaign_metrics)

    def check_contracts(self) -> None:
        """Raise PlatformContractError naming the stream when a model's rule is broken."""
        streams = self.connector.streams
        for spec in streams:
            if spec.platform != self.connector.platform:
                raise PlatformContractError(
                    f"{spec.ref}: belongs to {spec.platform}, listed under {self.platform}"
                )
        feeding = [spec for spec in streams if spec.feeds_campaign_metrics]
        if (self.catalog is not None or self.delivery is not None) and not feeding:
            raise PlatformContractError(
                f"{self.platform}: has a sandbox ad catalog but no stream feeds campaign metrics"
            )
        if not feeding:
            return
        if len(feeding) > 1:
            names = ", ".join(str(spec.ref) for spec in feeding)
            raise PlatformContractError(f"{names}: only one stream per platform may feed metrics")
        _check_metrics_stream(feeding[0])
        _check_campaigns_stream(self, streams)


def _check_metrics_stream(spec: StreamSpec) -> None:
    if spec.partitioning is not Partitioning.DATE_AND_WORKSPACE:
        raise PlatformContractError(
            f"{spec.ref}: feeds campaign metrics but is not date-partitioned"
        )
    head = list(spec.schema)[: len(CAMPAIGN_DAY_FIELDS)]
    for position, expected in enumerate(CAMPAIGN_DAY_FIELDS):
        actual: pa.Field | None = head[position] if position < len(head) else None
        if actual is None or not actual.equals(expected):
            got = "nothing" if actual is None else f"{actual.name}: {actual.type}"
            raise PlatformContractError(
                f"{spec.ref}: column {position + 1} must be the shared campaign-day column "
                f"{expected.name}: {expected.type} (schema/campaign_metrics.py), got {got}"
            )


def _check_campaigns_stream(plugin: PlatformPlugin, streams: tuple[StreamSpec, ...]) -> None:
    campaigns = next((spec for spec in streams if spec.table == CAMPAIGNS_TABLE), None)
    if campaigns is None:
        raise PlatformContractError(
            f"{plugin.metrics_stream.ref}: an ad platform needs an entity snapshot named "
            f"'{CAMPAIGNS_TABLE}' (the unified table reads campaign status from it)"
        )
    if campaigns.partitioning is not Partitioning.WORKSPACE:
        raise PlatformContractError(f"{campaigns.ref}: must be partitioned by workspace")
    missing = [name for name in CAMPAIGNS_COLUMNS if name not in campaigns.schema.names]
    if missing:
        raise PlatformContractError(f"{campaigns.ref}: lacks columns {missing}")
    if not plugin.status_vocabulary:
        raise PlatformContractError(
            f"{campaigns.ref}: the plug-in must declare how platform statuses map onto "
            f"{', '.join(CAMPAIGN_STATUSES)}"
        )
    unknown = sorted(set(plugin.status_vocabulary.values()) - set(CAMPAIGN_STATUSES))
    if unknown:
        raise PlatformContractError(
            f"{campaigns.ref}: status vocabulary maps onto {unknown}, outside the shared "
            f"{', '.join(CAMPAIGN_STATUSES)}"
        )
