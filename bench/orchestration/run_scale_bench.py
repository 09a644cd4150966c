"""Tenants at scale: registry, definitions, every tick, RSS and GraphQL at 3, 200 and 1,000 workspaces.

For each size: a registry of copies of the sandbox workspaces, a fresh Dagster instance
(SQLite, in a temporary DAGSTER_HOME), and then

- registry load (parse + validate, and the cached call a sensor tick pays);
- definitions load (a fresh interpreter importing `ownlay_pipelines.definitions`);
- each sensor's and schedule's tick: evaluation time, runs requested, cursor and payload bytes
  (the serialized run requests); the registry sensor on the first tick (every workspace new) and
  the models sensor after every workspace's Meta and Google days were materialized (`--days`);
- dagster-daemon and dagster-webserver RSS (process trees, after `--settle` seconds; the queue is
  paused so no run starts), and the GraphQL time of the asset catalog and of one asset's
  partition status page.

Run: .venv/bin/python bench/orchestration/run_scale_bench.py [--sizes 3 200 1000] [--days 2]
Ports: 18300-18399 on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the tests' service helpers
from scaled_registry import write_scaled_registry

from ownlay_pipelines.definitions import build_definitions
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.registry.cache import load_registry_cached
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import Settings
from ownlay_pipelines_tests.orchestration.services import descendants, write_workspace_yaml

BIN = Path(sys.executable).parent
PORT = 18300
RAW_INPUTS = [["raw", "meta_ads", "insights"], ["raw", "google_ads", "campaign_metrics"]]
CATALOG_QUERY = """{ assetNodes { assetKey { path } groupName isPartitioned
  partitionStats { numMaterialized numPartitions numFailed } } }"""
PARTITIONS_QUERY = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
  ... on AssetNode { assetPartitionStatuses {
    ... on MultiPartitionStatuses { primaryDimensionName ranges { primaryDimStartKey
      primaryDimEndKey secondaryDim { ... on DefaultPartitionStatuses { materializedPartitions
      failedPartitions } } } } } } } }"""


def timed(fn, repeat: int = 3):
    """(median seconds, last result) of `fn()` over `repeat` calls."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB."""
    total = 0
    for process in (pid, *descendants(pid)):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
    return total / 1024


def tick_row(name: str, seconds: float, runs: int, cursor: str | None, requests: list) -> dict:
    payload = len(dg.serialize_value(list(requests))) if requests else 0
    return {
        "tick": name,
        "seconds": round(seconds, 3),
        "runs": runs,
        "cursor_kb": round(len(cursor or "") / 1024, 1),
        "payload_kb": round(payload / 1024, 1),
    }


def sensor_tick(defs, instance, name, cursor, registry_file):
    sensor = defs.resolve_sensor_def(name)

    def evaluate():
        # With an instance ref Dagster checks requested partitions against the instance (and the
        # tick's pending adds), as the daemon does.
        with dg.build_sensor_context(
            instance_ref=instance.get_ref(),
            cursor=cursor,
            definitions=defs,
            resources=dict(defs.resources),
        ) as context:
            return sensor.evaluate_tick(context)

    seconds, result = timed(evaluate, repeat=1)
    return seconds, result


def schedule_tick(defs, instance, name, when, registry_file):
    schedule = defs.resolve_schedule_def(name)

    def evaluate():
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            resources=dict(defs.resources),
            repository_def=defs.get_repository_def(),
        ) as context:
            return schedule.evaluate_tick(context)

    return timed(evaluate, repeat=1)


def materialize_inputs(instance, workspaces: list[str], days: int, today: date) -> None:
    """Runless materializations of every workspace's Meta and Google days, as a sync wave."""
    for workspace in workspaces:
        for offset in range(days):
            key = multi_key(today - timedelta(days=offset), workspace)
            for path in RAW_INPUTS:
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset_key=path, partition=key)
                )


def services(home: Path, env: dict, settle: float, rows: list[dict], size: int) -> None:
    workspace_yaml = write_workspace_yaml(home / "workspace.yaml")
    logs = home / "services.log"
    with logs.open("ab") as log:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace_yaml)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        web = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                "-w",
                str(workspace_yaml),
                "-h",
                "127.0.0.1",
                "-p",
                str(PORT),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"http://127.0.0.1:{PORT}/server_info", timeout=2).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(1)
            time.sleep(settle)

            def query(text, variables=None):
                response = httpx.post(
                    f"http://127.0.0.1:{PORT}/graphql",
                    json={"query": text, "variables": variables or {}},
                    timeout=120,
                )
                response.raise_for_status()
                assert "errors" not in response.json(), response.json()["errors"]
                return response.json()

            catalog, _ = timed(lambda: query(CATALOG_QUERY))
            statuses, _ = timed(
                lambda: query(PARTITIONS_QUERY, {"path": ["raw", "meta_ads", "insights"]})
            )
            rows.append(
                {
                    "size": size,
                    "daemon_rss_mb": round(rss_mb(daemon.pid)),
                    "webserver_rss_mb": round(rss_mb(web.pid)),
                    "graphql_catalog_s": round(catalog, 3),
                    "graphql_partition_status_s": round(statuses, 3),
                }
            )
        finally:
            for process in (web, daemon):
                os.killpg(process.pid, 15)
                process.wait(timeout=60)


def bench_size(size: int, days: int, settle: float, with_services: bool) -> tuple[list, dict, list]:
    root = Path(tempfile.mkdtemp(prefix=f"ownlay_scale_{size}_"))
    home = root / "home"
    home.mkdir()
    # Queue runs but start none: the bench measures orchestration, not syncs.
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n"
        "concurrency:\n  runs:\n    max_concurrent_runs: 0\ntelemetry:\n  enabled: false\n"
    )
    registry_file = write_scaled_registry(root / "workspaces.yaml", size)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OWNLAY_", "DAGSTER_"))},
        "DAGSTER_HOME": str(home),
        "OWNLAY_DATA_DIR": str(root / "data"),
        "OWNLAY_REGISTRY_FILE": str(registry_file),
    }
    summary: dict = {"size": size}
    summary["registry_load_s"], registry = timed(lambda: load_registry(registry_file))
    load_registry_cached(registry_file)
    summary["registry_cached_us"] = round(
        timed(lambda: load_registry_cached(registry_file))[0] * 1e6
    )
    summary["definitions_load_s"], _ = timed(
        lambda: subprocess.run(
            [sys.executable, "-W", "ignore", "-c", "import ownlay_pipelines.definitions"],
            env=env,
            check=True,
            capture_output=True,
        ),
        repeat=1,
    )
    defs = build_definitions(Settings(data_dir=root / "data", registry_file=registry_file))
    ticks = []
    os.environ["DAGSTER_HOME"] = str(home)
    instance = dg.DagsterInstance.get()
    try:
        seconds, result = sensor_tick(defs, instance, "workspace_registry", None, registry_file)
        ticks.append(
            tick_row(
                "workspace_registry (first)",
                seconds,
                len(result.run_requests),
                result.cursor,
                [*result.run_requests, *result.dynamic_partitions_requests],
            )
        )
        instance.add_dynamic_partitions("workspace", registry.workspace_ids)
        seconds, again = sensor_tick(
            defs, instance, "workspace_registry", result.cursor, registry_file
        )
        ticks.append(
            tick_row(
                "workspace_registry (next)",
                seconds,
                len(again.run_requests),
                again.cursor,
                again.run_requests,
            )
        )
        today = datetime.now(UTC).date()
        start = time.perf_counter()
        materialize_inputs(instance, registry.workspace_ids, days, today)
        summary["materializations_written"] = size * days * len(RAW_INPUTS)
        summary["materialize_s"] = round(time.perf_counter() - start, 1)
        cursor, drained = None, 0
        for tick in range(1, 30):
            seconds, models = sensor_tick(
                defs, instance, "models_follow_upstream", cursor, registry_file
            )
            ticks.append(
                tick_row(
                    f"models_follow_upstream (tick {tick})",
                    seconds,
                    len(models.run_requests),
                    models.cursor,
                    models.run_requests,
                )
            )
            cursor = models.cursor
            drained += len(models.run_requests)
            if not models.run_requests and tick > 1:
                break
        summary["model_runs_total"] = drained
        for name in ("event_buffer", "shopify_webhook_deliveries", "warehouse_catalog_refresh"):
            seconds, result = sensor_tick(defs, instance, name, None, registry_file)
            ticks.append(
                tick_row(
                    name, seconds, len(result.run_requests), result.cursor, result.run_requests
                )
            )
        moments = {
            "06:00 restatement": datetime.combine(today, datetime.min.time(), UTC).replace(hour=6),
            "15:00 intraday": datetime.combine(today, datetime.min.time(), UTC).replace(hour=15),
            "15:15 intraday": datetime.combine(today, datetime.min.time(), UTC).replace(
                hour=15, minute=15
            ),
        }
        for label, when in moments.items():
            for name in ("sync_daily_metrics", "sync_entity_snapshots"):
                seconds, result = schedule_tick(defs, instance, name, when, registry_file)
                requests = result.run_requests or []
                ticks.append(tick_row(f"{name} ({label})", seconds, len(requests), None, requests))
        when = datetime.combine(today, datetime.min.time(), UTC).replace(hour=5)
        for name in (
            "watchtower_sources_on_seed_cadence",
            "watchtower_notifications_every_5_minutes",
            "retention_daily",
        ):
            seconds, result = schedule_tick(defs, instance, name, when, registry_file)
            requests = result.run_requests or []
            ticks.append(tick_row(f"{name} (05:00)", seconds, len(requests), None, requests))
    finally:
        instance.dispose()
    service_rows: list[dict] = []
    if with_services:
        services(home, env, settle, service_rows, size)
    return ticks, summary, service_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 200, 1000])
    parser.add_argument("--days", type=int, default=2, help="days of Meta+Google per workspace")
    parser.add_argument("--settle", type=float, default=45.0, help="seconds the daemon runs")
    parser.add_argument("--no-services", action="store_true", help="skip daemon/webserver")
    args = parser.parse_args()
    for size in args.sizes:
        ticks, summary, service_rows = bench_size(
            size, args.days, args.settle, not args.no_services
        )
        print(f"\n## {size} workspaces\n")
        print(
            " | ".join(
                f"{k}={v if not isinstance(v, float) else round(v, 3)}" for k, v in summary.items()
            )
        )
        print("\n| tick | s | runs | cursor KB | payload KB |\n|---|---|---|---|---|")
        for row in ticks:
            print(
                f"| {row['tick']} | {row['seconds']} | {row['runs']} | {row['cursor_kb']} | {row['payload_kb']} |"
            )
        for row in service_rows:
            print("\n" + " | ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
