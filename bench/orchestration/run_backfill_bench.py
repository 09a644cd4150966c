"""A 90-day backfill of one workspace (Meta + Google + every model): daemon vs one process.

Both sides run on PostgreSQL (a scratch database each, dropped afterwards) against the sandbox:

- anchor: the same runs the registry sensor would admit, then the one models run, executed one
  after the other with `execute_in_process` in this process;
- daemon: `dagster-daemon` with `deploy/dagster.yaml` and the code location, from start until the
  unified table and the marts cover every day and no run is unfinished.

It prints both wall times, their ratio (issue 9's target: ≤ 3), and where the daemon's time went
(run process lifetimes, queue waits, the gap between the last sync and the models run).

Run: .venv/bin/python bench/orchestration/run_backfill_bench.py [--days 90]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' service helpers

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.sensors.models import MODELS_JOB, model_graph, model_run_request
from ownlay_pipelines.defs.workspace_sync import (
    initial_backfill_requests,
    sync_workspace_partitions,
)
from ownlay_pipelines.orchestration.history import backfill_window_start
from ownlay_pipelines.orchestration.model_plan import ModelRun
from ownlay_pipelines.orchestration.plan import WINDOW_TAG
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import Settings
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

WORKSPACE = "acme-outdoor"
SCRATCH = "orchestration_scratch"
"""Prefix of the two scratch databases (dropped at the end)."""
DASHBOARD = dg.AssetKey(["marts", "dashboard_metrics"])
UNIFIED = dg.AssetKey(["unified", "campaign_metrics_daily"])
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def home_with(database: str, root: Path, name: str) -> tuple[Path, dict[str, str]]:
    home = root / name
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": POSTGRES_HOST,
        "DAGSTER_PG_PORT": str(POSTGRES_PORT),
        "DAGSTER_PG_USER": postgres_user(),
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": database,
        "OWNLAY_DATA_DIR": str(root / f"{name}_data"),
        "OWNLAY_REGISTRY_FILE": str(root / "workspaces.yaml"),
    }
    return home, env


def in_process(database: str, root: Path, days: int) -> float:
    """Seconds to run the admitted backfill runs and the models run in this process."""
    home, env = home_with(database, root, "anchor")
    os.environ.update(env)
    registry = load_registry(Path(env["OWNLAY_REGISTRY_FILE"]))
    defs = build_definitions(Settings.from_env())
    today = datetime.now(UTC).date()
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        sync_workspace_partitions(instance, registry)
        start = time.perf_counter()
        for request in initial_backfill_requests(registry, [WORKSPACE], today=today, days=days):
            result = defs.resolve_job_def(request.job_name).execute_in_process(
                instance=instance,
                asset_selection=request.asset_selection,
                partition_key=request.partition_key,
                tags=request.tags,
            )
            assert result.success
        graph = model_graph(list(defs.assets))
        models = model_run_request(
            ModelRun(WORKSPACE, tuple(graph.models), backfill_window_start(today, days), today),
            "bench",
        )
        result = defs.resolve_job_def(MODELS_JOB).execute_in_process(
            instance=instance, asset_selection=models.asset_selection, tags=models.tags
        )
        assert result.success
        return time.perf_counter() - start
    finally:
        instance.dispose()


def _settled(instance: dg.DagsterInstance, expected_days: int):
    runs = instance.get_runs()
    if not any(r.job_name == MODELS_JOB for r in runs) or any(
        r.status not in FINISHED for r in runs
    ):
        return None
    if len(instance.get_materialized_partitions(DASHBOARD)) < expected_days:
        return None
    return runs


def daemon(database: str, root: Path, days: int) -> dict:
    home, env = home_with(database, root, "daemon")
    workspace_yaml = write_workspace_yaml(root / "workspace.yaml")
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))},
        **env,
        "OWNLAY_INITIAL_BACKFILL_DAYS": str(days),
    }
    today = datetime.now(UTC).date()
    expected = (today - backfill_window_start(today, days)).days + 1
    os.environ.update({k: v for k, v in env.items() if k.startswith("DAGSTER_PG")})
    instance = dg.DagsterInstance.from_config(str(home))
    log_path = root / "daemon.log"
    try:
        start = time.perf_counter()
        with running(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace_yaml)],
            env=full_env,
            cwd=root,
            log_path=log_path,
        ) as process:
            wait_until(
                lambda: _settled(instance, expected),
                timeout_seconds=900,
                what="backfill and models",
                process=process,
                log_path=log_path,
            )
            wall = time.perf_counter() - start
        records = instance.get_run_records()
    finally:
        instance.dispose()
    created = min(r.create_timestamp.timestamp() for r in records)
    syncs = [r for r in records if r.dagster_run.tags.get(WINDOW_TAG)]
    (models,) = [r for r in records if r.dagster_run.job_name == MODELS_JOB]
    last_sync_end = max(r.end_time for r in syncs)
    return {
        "wall_s": wall,
        "daemon_start_to_first_run_s": created - (time.time() - wall),
        "runs": len(records),
        "run_seconds_total": sum(r.end_time - r.start_time for r in records),
        "queue_wait_total_s": sum(r.start_time - r.create_timestamp.timestamp() for r in records),
        "syncs_done_after_s": last_sync_end - created,
        "models_created_after_last_sync_s": models.create_timestamp.timestamp() - last_sync_end,
        "models_run_s": models.end_time - models.start_time,
        "all_done_after_first_run_s": models.end_time - created,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--db-prefix", default=SCRATCH, help="prefix of the two scratch databases (yours only)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ownlay_backfill_"))
    write_meta_google_registry(root / "workspaces.yaml")
    user = postgres_user()
    with (
        scratch_database(user, args.db_prefix) as anchor_db,
        scratch_database(user, args.db_prefix) as daemon_db,
    ):
        anchor = in_process(anchor_db, root, args.days)
        print(f"in one process: {anchor:.1f} s", flush=True)
        for key in list(os.environ):
            if key.startswith(("OWNLAY_", "DAGSTER_PG")):
                del os.environ[key]
        measured = daemon(daemon_db, root, args.days)
    for key, value in measured.items():
        print(
            f"daemon {key}: {value:.1f}" if isinstance(value, float) else f"daemon {key}: {value}"
        )
    print(f"ratio daemon / one process: {measured['wall_s'] / anchor:.2f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
