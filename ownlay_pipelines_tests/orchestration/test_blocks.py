"""A tick's syncs fold into at most 100 runs, and a block run syncs each workspace of its span."""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from ownlay_pipelines.connectors.streams import Partitioning
from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.jobs import block_run_request
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.resources import PlatformClientsResource, RegistryResource
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.orchestration.blocks import SyncBlock, block_requests
from ownlay_pipelines.orchestration.plan import SyncRequest, Window
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.schema.date_range import DateRange
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import DEFAULT_REGISTRY_FILE, Settings

INSIGHTS = TableRef(("raw", "meta_ads", "insights"))
KEYWORDS = TableRef(("raw", "google_ads", "keyword_stats"))
DAYS = DateRange(date(2026, 11, 19), date(2026, 11, 20))
ORDER = [f"ws-{n:04d}" for n in range(1000)]


def _request(workspace: str, platform: Platform, table: TableRef) -> SyncRequest:
    return SyncRequest(
        workspace, platform, Partitioning.DATE_AND_WORKSPACE, (table,), Window.INTRADAY, DAYS
    )


def test_up_to_the_budget_every_request_stays_its_own_run():
    requests = [_request(w, Platform.META_ADS, INSIGHTS) for w in ORDER[:100]]
    assert block_requests(requests, ORDER) == requests


def test_a_thousand_workspaces_fit_the_budget_and_every_due_sync_is_in_one_run():
    # Every workspace is due on Meta; every third one (not the others) on Google.
    requests = [_request(w, Platform.META_ADS, INSIGHTS) for w in ORDER]
    requests += [_request(w, Platform.GOOGLE_ADS, KEYWORDS) for w in ORDER[::3]]

    runs = block_requests(requests, ORDER)

    assert len(runs) == 100
    assert all(isinstance(run, SyncBlock) for run in runs)
    for platform, due in ((Platform.META_ADS, ORDER), (Platform.GOOGLE_ADS, ORDER[::3])):
        spans = [run.workspace_ids for run in runs if run.platform is platform]
        covered = [w for span in spans for w in span]
        assert len(covered) == len(set(covered)), "a workspace synced twice in one tick"
        assert set(due) <= set(covered)
    google = [run for run in runs if run.platform is Platform.GOOGLE_ADS]
    assert all(run.tables == (KEYWORDS,) and run.days == DAYS for run in google)
    # Google's blocks span the workspaces between its due ones: those are swept in, and named.
    assert sum(len(run.swept_in) for run in google) == sum(
        len(run.workspace_ids) for run in google
    ) - len(ORDER[::3])
    assert "ws-0001" in google[0].swept_in


def test_a_block_run_materializes_each_workspace_of_its_span_with_its_own_rows(tmp_path: Path):
    registry = load_registry(DEFAULT_REGISTRY_FILE)
    order = [w.id for w in registry.workspaces]
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    defs = build_definitions(
        Settings(data_dir=tmp_path / "data", registry_file=DEFAULT_REGISTRY_FILE),
        resource_overrides={
            "platforms": PlatformClientsResource(
                registry=RegistryResource(registry_file=str(DEFAULT_REGISTRY_FILE)),
                sandbox_now=now.isoformat(),
            )
        },
    )
    block = SyncBlock(
        tuple(order[:3]),
        Platform.META_ADS,
        Partitioning.DATE_AND_WORKSPACE,
        (INSIGHTS,),
        Window.INTRADAY,
        DAYS,
    )
    run_request = block_run_request(block, "test")
    with dg.instance_for_test() as instance:
        sync_workspace_partitions(instance, registry)
        result = defs.resolve_job_def(run_request.job_name).execute_in_process(
            instance=instance,
            asset_selection=run_request.asset_selection,
            tags=run_request.tags,
        )
        assert result.success
        records = instance.fetch_materializations(
            dg.AssetKey(list(INSIGHTS.parts)), limit=100
        ).records
    rows = {
        r.partition_key: r.asset_materialization.metadata["dagster/row_count"].value
        for r in records
    }
    expected = {multi_key(day, w) for w in order[:3] for day in DAYS}
    assert set(rows) == expected
    assert all(count > 0 for count in rows.values()), rows
    assert len(set(rows.values())) > 1, "every partition shows the same (run) total"
