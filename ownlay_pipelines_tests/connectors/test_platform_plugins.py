"""Platform plug-ins: the catalog, the sandbox and the models all discover platforms from them,
and a plug-in that breaks a rule the unified models rely on fails loudly, naming the stream."""

from dataclasses import replace

import pyarrow as pa
import pytest

from ownlay_pipelines.connectors import meta_ads
from ownlay_pipelines.connectors.catalog import PLATFORMS, ad_platforms, all_streams
from ownlay_pipelines.connectors.platform import PlatformContractError, PlatformPlugin
from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.sandbox import SandboxWorld, sandbox_transport
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE

META = next(p for p in PLATFORMS if p.platform == "meta_ads")


def _with_streams(plugin: PlatformPlugin, **changes_by_table) -> PlatformPlugin:
    streams = tuple(
        replace(spec, **changes_by_table[spec.table]) if spec.table in changes_by_table else spec
        for spec in plugin.connector.streams
    )
    return replace(plugin, connector=replace(plugin.connector, streams=streams))


def test_every_plugin_in_the_catalog_keeps_its_contracts():
    for plugin in PLATFORMS:
        plugin.check_contracts()
    assert {spec.platform.value for _, spec in all_streams()} == {p.platform for p in PLATFORMS}


def test_metrics_table_must_start_with_the_shared_campaign_day_columns():
    schema = META.metrics_stream.schema
    swapped = pa.schema([schema.field(1), schema.field(0), *list(schema)[2:]])
    broken = _with_streams(META, insights={"schema": swapped})

    with pytest.raises(
        PlatformContractError,
        match=r"raw/meta_ads/insights: column 1 must be the shared campaign-day column "
        r"workspace_id: string .*got account_id: string",
    ):
        broken.check_contracts()


def test_metrics_table_with_a_wrong_money_type_is_refused():
    schema = META.metrics_stream.schema
    index = schema.get_field_index("spend")
    wrong = schema.set(index, pa.field("spend", pa.float64(), nullable=False))

    with pytest.raises(PlatformContractError, match=r"raw/meta_ads/insights: column 10 .*spend"):
        _with_streams(META, insights={"schema": wrong}).check_contracts()


def test_ad_platform_without_a_campaigns_snapshot_is_refused():
    broken = _with_streams(META, campaigns={"table": "campaign_list"})

    with pytest.raises(
        PlatformContractError, match=r"raw/meta_ads/insights: .*entity snapshot named 'campaigns'"
    ):
        broken.check_contracts()


def test_campaigns_snapshot_must_be_per_workspace_and_declare_its_status_vocabulary():
    with pytest.raises(PlatformContractError, match=r"raw/meta_ads/campaigns: .*status"):
        replace(META, status_vocabulary={}).check_contracts()
    with pytest.raises(PlatformContractError, match=r"raw/meta_ads/campaigns: .*\['enabled'\]"):
        replace(META, status_vocabulary={"ACTIVE": "enabled"}).check_contracts()
    with pytest.raises(PlatformContractError, match=r"raw/meta_ads/campaigns: must be partitioned"):
        _with_streams(
            META,
            campaigns={
                "partitioning": Partitioning.DATE_AND_WORKSPACE,
                "schema": pa.schema(
                    [*META.connector.streams[1].schema, pa.field("report_date", pa.date32())]
                ),
            },
        ).check_contracts()


def test_a_second_stream_feeding_metrics_is_refused():
    broken = _with_streams(META, campaigns={"feeds_campaign_metrics": True})

    with pytest.raises(PlatformContractError, match="only one stream per platform may feed"):
        broken.check_contracts()


def test_sandbox_serves_every_host_of_every_plugin_simulator_with_one_instance():
    world = SandboxWorld(load_registry(DEFAULT_REGISTRY_FILE))
    transport = sandbox_transport(world)

    for plugin in PLATFORMS:
        for entry in plugin.simulators:
            served = {id(transport.simulators[host]) for host in entry.hosts}
            assert len(served) == 1
    assert {a.platform for a in world.accounts()} == {p.platform for p in ad_platforms()}
    assert meta_ads.CONNECTOR in {p.connector for p in ad_platforms()}
