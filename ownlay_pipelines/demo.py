"""`ownlay demo`: the whole pipeline on the sandbox, against a Dagster instance in the project.

Runs the three asset jobs for every registry workspace over the last N days in-process, against
the instance in `.dagster_home/` (so a later `make dev` shows the runs, materializations and
partitions), then prints what landed and how to query it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import sqlalchemy as sa

from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.registry.workspaces import load_registry
from ownlay_pipelines.settings import Settings
from ownlay_pipelines.watchtower.alerts import list_alerts

INSTANCE_YAML = "telemetry:\n  enabled: false\n"
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
EXAMPLE_QUERY = (
    "SELECT platform, report_date, sum(spend) AS spend, sum(clicks) AS clicks "
    "FROM unified_campaign_metrics_daily WHERE workspace_id = 'acme-outdoor' "
    "GROUP BY ALL ORDER BY report_date DESC, platform LIMIT 6"
)


def prepare_instance(project_root: Path) -> dg.DagsterInstance:
    """The persistent instance under `<project>/.dagster_home` (created on first use)."""
    home = project_root / ".dagster_home"
    home.mkdir(exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def run_demo(
    defs: dg.Definitions,
    settings: Settings,
    instance: dg.DagsterInstance,
    *,
    days: int = 30,
    today: date | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Materialize everything for every workspace over the last `days` days; returns timings."""
    registry = load_registry(settings.registry_file)
    added, _ = sync_workspace_partitions(instance, registry)
    if added:
        echo(f"registered workspace partitions: {', '.join(added)}")
    end = today or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    timings: dict[str, float] = {}
    total = len(registry.workspaces)
    for number, workspace in enumerate(registry.workspaces, start=1):
        echo(
            f"[{number}/{total}] {workspace.id} ({workspace.tier}, {workspace.currency}): entity snapshots"
        )
        timings[f"{workspace.id}/entities"] = _run(
            defs, "entity_snapshots", instance, partition_key=workspace.id
        )
        echo(f"[{number}/{total}] {workspace.id}: daily metrics {start} .. {end} + unified model")
        timings[f"{workspace.id}/metrics"] = _run(
            defs,
            "daily_metrics",
            instance,
            tags={
                "dagster/asset_partition_range_start": multi_key(start, workspace.id),
                "dagster/asset_partition_range_end": multi_key(end, workspace.id),
            },
        )
    echo("warehouse: refreshing views")
    timings["warehouse"] = _run(defs, "refresh_warehouse", instance)
    return timings


def _run(
    defs: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
) -> float:
    started = time.perf_counter()
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance, partition_key=partition_key, tags=tags, run_config=RUN_CONFIG
    )
    if not result.success:
        raise RuntimeError(f"job {job_name} failed (run {result.run_id}); see the log above")
    return time.perf_counter() - started


def summary(warehouse_path: Path) -> str:
    """Rows per warehouse view and totals by workspace and platform, read through the warehouse."""
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        views = [
            r[0]
            for r in connection.sql("SELECT relation FROM ownlay_catalog ORDER BY 1").fetchall()
        ]
        counts = [
            (v, connection.execute(f"SELECT count(*) FROM {v}").fetchall()[0][0]) for v in views
        ]
        totals = connection.execute(
            "SELECT workspace_id, platform, currency, count(*) AS campaign_days, "
            "sum(spend) AS spend, sum(clicks) AS clicks, sum(conversions) AS conversions "
            "FROM unified_campaign_metrics_daily GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    width = max(len(v) for v, _ in counts)
    lines = ["", "Rows per table:"]
    lines += [f"  {view:<{width}}  {rows:>8,}" for view, rows in counts]
    lines += ["", "Unified totals by workspace and platform (money in the account currency):"]
    lines.append(
        f"  {'workspace':<14}{'platform':<12}{'cur':<5}{'rows':>6}{'spend':>16}{'clicks':>10}{'conv':>10}"
    )
    for workspace, platform, currency, rows, spend, clicks, conversions in totals:
        lines.append(
            f"  {workspace:<14}{platform:<12}{currency:<5}{rows:>6}{spend:>16,.2f}{clicks:>10,}{conversions:>10,.1f}"
        )
    return "\n".join(lines)


def alert_summary(store: sa.Engine) -> str:
    """Open watchtower alerts by workspace, severity and rule, as the check recorded them."""
    counts = Counter(
        (alert.client_id or "-", alert.severity, alert.rule_name)
        for alert in list_alerts(store, limit=10_000)
    )
    lines = [
        "",
        f"Watchtower: {sum(counts.values())} open alert(s) (`ownlay alerts list` shows them)",
    ]
    lines += [
        f"  {client:<14}{severity:<10}{rule}  ×{count}"
        for (client, severity, rule), count in sorted(counts.items())
    ]
    return "\n".join(lines)
