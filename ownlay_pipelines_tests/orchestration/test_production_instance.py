"""deploy/dagster.yaml for real: PostgreSQL storage, the run queue and the daemon, end to end.

The daemon's registry sensor adds a new workspace and admits its initial backfill; the queue
starts the runs within the tag limits; the models sensor then recomputes the unified model and
the marts over the same days in one run. Everything runs on the sandbox against the local
PostgreSQL.
"""

import os
import shutil
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import dagster as dg
import pytest
import yaml
from dagster_postgres import PostgresRunStorage

from ownlay_pipelines.orchestration.history import backfill_window_start
from ownlay_pipelines_tests.orchestration.services import (
    BIN,
    POSTGRES_HOST,
    POSTGRES_PORT,
    REPO_ROOT,
    postgres_user,
    running,
    scratch_database,
    wait_until,
    write_meta_google_registry,
    write_workspace_yaml,
)

DEPLOY_YAML = REPO_ROOT / "deploy" / "dagster.yaml"
BACKFILL_DAYS = 3


def backfill_days() -> int:
    """Days the backfill covers: 3 days back rounded to their Monday, up to today."""
    today = datetime.now(UTC).date()
    return (today - backfill_window_start(today, BACKFILL_DAYS)).days + 1


UNIFIED = dg.AssetKey(["unified", "campaign_metrics_daily"])
META_INSIGHTS = dg.AssetKey(["raw", "meta_ads", "insights"])
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def test_the_deployed_instance_limits_runs_per_workspace_platform_and_platform():
    config = yaml.safe_load(DEPLOY_YAML.read_text())

    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert "max_concurrent_runs" not in config["run_coordinator"]["config"]
    limits = {
        item["key"]: item["limit"]
        for item in config["concurrency"]["runs"]["tag_concurrency_limits"]
    }
    assert limits == {
        "ownlay/workspace_platform": 1,
        "ownlay/platform": 3,
        "ownlay/stripe_lake_merge": 1,
    }
    assert config["concurrency"]["pools"]["granularity"] == "op"


def _settled(instance: dg.DagsterInstance) -> list[dg.DagsterRun] | None:
    """All runs once the model covers the backfilled days and no run is queued or running."""
    materialized = instance.get_materialized_partitions(UNIFIED)
    runs = instance.get_runs()
    if len(materialized) < backfill_days() or any(r.status not in FINISHED for r in runs):
        return None
    return list(runs)


def _overlapping(records: list[dg.RunRecord], tag: str) -> list[tuple[str, str]]:
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for record in records:
        value = record.dagster_run.tags.get(tag)
        if value and record.start_time and record.end_time:
            spans.setdefault(value, []).append(
                (record.start_time, record.end_time, record.dagster_run.run_id)
            )
    overlaps = []
    for runs in spans.values():
        runs.sort()
        for (_, end, first), (start, _, second) in pairwise(runs):
            if start < end:
                overlaps.append((first, second))
    return overlaps


@pytest.fixture
def postgres_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    user = postgres_user()
    with scratch_database(user) as database:
        env = {
            "DAGSTER_PG_HOST": POSTGRES_HOST,
            "DAGSTER_PG_PORT": str(POSTGRES_PORT),
            "DAGSTER_PG_USER": user,
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": database,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield env


@pytest.mark.slow
def test_daemon_backfills_a_new_workspace_then_its_model_on_postgres(tmp_path, postgres_env):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_YAML, home / "dagster.yaml")
    workspace_yaml = write_workspace_yaml(tmp_path / "workspace.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))},
        **postgres_env,
        "DAGSTER_HOME": str(home),
        "OWNLAY_DATA_DIR": str(tmp_path / "data"),
        "OWNLAY_REGISTRY_FILE": str(write_meta_google_registry(tmp_path / "workspaces.yaml")),
        "OWNLAY_INITIAL_BACKFILL_DAYS": str(BACKFILL_DAYS),
    }
    log_path = tmp_path / "daemon.log"
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        with running(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace_yaml)],
            env=env,
            cwd=tmp_path,
            log_path=log_path,
        ) as daemon:
            runs = wait_until(
                lambda: _settled(instance),
                timeout_seconds=240,
                what="initial backfill and model backfill",
                process=daemon,
                log_path=log_path,
            )
        records = instance.get_run_records()
        raw_days = instance.get_materialized_partitions(META_INSIGHTS)
        model_days = instance.get_materialized_partitions(UNIFIED)
    finally:
        instance.dispose()

    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    syncs = [r for r in runs if r.tags.get("ownlay/window") == "initial_backfill"]
    assert len(syncs) == 4
    assert {r.tags["ownlay/platform"] for r in syncs} == {"meta_ads", "google_ads"}
    assert len(raw_days) == len(model_days) == backfill_days()
    # The models sensor waited for the workspace's syncs and asked for one run of the unified
    # table and the marts that read it, over exactly the backfilled days.
    (model_run,) = [r for r in runs if r.job_name == "models"]
    assert UNIFIED in model_run.asset_selection
    assert dg.AssetKey(["marts", "dashboard_metrics"]) in model_run.asset_selection
    assert not model_run.asset_selection & {META_INSIGHTS}
    assert not _overlapping(records, "ownlay/workspace_platform")
    durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
    assert max(durations) < timedelta(minutes=2).total_seconds()
