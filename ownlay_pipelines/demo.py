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

from ownlay_pipelines.connectors.catalog import ad_platforms
from ownlay_pipelines.defs.partitions import multi_key
from ownlay_pipelines.defs.workspace_sync import sync_workspace_partitions
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import create_api_key, open_key_store, revoke_api_key
from ownlay_pipelines.ingest.server import serve_in_background
from ownlay_pipelines.lifecycle.cli import format_retention, retention_run
from ownlay_pipelines.privacy.keyed_hash import PII_HASH_KEY_ENV
from ownlay_pipelines.registry.workspaces import Registry, Workspace, load_registry
from ownlay_pipelines.sandbox.cost_uploads import write_pinterest_export
from ownlay_pipelines.sandbox.event_sender import send_world_events
from ownlay_pipelines.sandbox.file_drops import write_sandbox_drops
from ownlay_pipelines.sandbox.pii_key import ensure_key
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.schema.platforms import Platform
from ownlay_pipelines.settings import Settings
from ownlay_pipelines.uploads.cli import upload_file
from ownlay_pipelines.watchtower.alert_scoring import Score, score_builtin_rules
from ownlay_pipelines.watchtower.alerts import list_alerts

INSTANCE_YAML = "telemetry:\n  enabled: false\n"
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


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
    """Materialize everything for every workspace over the last `days` days; returns timings.

    Order: a sandbox Pinterest export uploaded like `ownlay upload`, platform entities and daily
    metrics (with the unified table), first-party events sent through the real ingestion
    endpoint and flushed to the lake, the marts, MRR of the Stripe workspaces, the watchtower
    sources, and last the warehouse views.
    """
    # Before any sync: connectors (Mailchimp members, Stripe customers) hash e-mails with it too.
    _ensure_sandbox_pii_key(settings.data_dir)
    registry = load_registry(settings.registry_file)
    added, _ = sync_workspace_partitions(instance, registry)
    if added:
        echo(f"registered workspace partitions: {', '.join(added)}")
    end = today or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    range_tags = {
        w.id: {
            "dagster/asset_partition_range_start": multi_key(start, w.id),
            "dagster/asset_partition_range_end": multi_key(end, w.id),
        }
        for w in registry.workspaces
    }
    timings: dict[str, float] = {}
    total = len(registry.workspaces)
    world = SandboxWorld(registry, seed=settings.sandbox_seed, now=_this_hour())
    for number, workspace in enumerate(registry.workspaces, start=1):
        echo(
            f"[{number}/{total}] {workspace.id}: {upload_cost_export(settings, world, workspace, start, end)}"
        )
        echo(
            f"[{number}/{total}] {workspace.id} ({workspace.tier}, {workspace.currency}): entity snapshots"
        )
        timings[f"{workspace.id}/entities"] = _run(
            defs, "entity_snapshots", instance, partition_key=workspace.id
        )
        echo(f"[{number}/{total}] {workspace.id}: daily metrics {start} .. {end} + unified model")
        timings[f"{workspace.id}/metrics"] = _run(
            defs, "daily_metrics", instance, tags=range_tags[workspace.id]
        )
    started = time.perf_counter()
    # Events start a week before the range so its first days have full attribution windows.
    sent = send_events_through_ingestion(settings, world, start - timedelta(days=8), end)
    timings["events/http"] = time.perf_counter() - started
    echo(f"events: {sum(sent.values()):,} sent through POST /api/v1/events ({_per(sent)})")
    timings["events/flush"] = _run(defs, "flush_events", instance)
    write_sandbox_drops(world, settings.data_dir)
    echo("fx: ECB reference rates (marts convert money into each reporting currency)")
    timings["fx"] = _run(defs, "fx_rates", instance)
    for number, workspace in enumerate(registry.workspaces, start=1):
        echo(f"[{number}/{total}] {workspace.id}: marts (attribution, ROAS, dashboard) + sources")
        timings[f"{workspace.id}/marts"] = _run(
            defs, "marts", instance, tags=range_tags[workspace.id]
        )
        timings[f"{workspace.id}/analyst"] = _run(
            defs, "analyst_marts", instance, tags=range_tags[workspace.id]
        )
        if workspace.connections_for(Platform.STRIPE):
            timings[f"{workspace.id}/mrr"] = _run(defs, "mrr", instance, partition_key=workspace.id)
        timings[f"{workspace.id}/sources"] = _run(
            defs, "watchtower_sources", instance, partition_key=workspace.id
        )
    echo("warehouse: refreshing views")
    timings["warehouse"] = _run(defs, "refresh_warehouse", instance)
    started = time.perf_counter()
    echo(alert_quality(registry, settings.sandbox_seed, end - timedelta(days=1)).summary())
    timings["alerts/quality"] = time.perf_counter() - started
    echo("report: rendering the analyst report")
    timings["report"] = _run(defs, "analyst_report", instance)
    echo(format_retention(retention_run(dry_run=True)))
    return timings


def upload_cost_export(
    settings: Settings, world: SandboxWorld, workspace: Workspace, start: date, end: date
) -> str:
    """Write the workspace's sandbox Pinterest export and load it as `ownlay upload --mapping`
    does; returns what happened, in one line."""
    export, mapping = write_pinterest_export(
        world, workspace, start, end, settings.data_dir / "sandbox_uploads"
    )
    results, _ = upload_file(
        settings, export, workspace_id=workspace.id, kind="costs", mapping_path=mapping
    )
    reasons = ", ".join(
        f"{count} × {reason}" for r in results for reason, count in r.reasons.items()
    )
    return (
        f"uploaded {export.name}: {sum(r.rows for r in results)} rows, "
        f"{sum(r.quarantined for r in results)} quarantined ({reasons or 'none'})"
    )


def alert_quality(registry: Registry, seed: int, last_day: date) -> Score:
    """The built-in rules replayed over 90 sandbox days with injected incidents, on the
    workspaces with two or more ad accounts (a stale account is judged against a sibling)."""
    ad_platform_names = {plugin.platform for plugin in ad_platforms()}
    workspaces = [
        w.id
        for w in registry.workspaces
        if sum(c.platform.value in ad_platform_names for c in w.connections) >= 2
    ]
    return score_builtin_rules(registry, workspaces, last_day=last_day, days=90, seed=seed)


def send_events_through_ingestion(
    settings: Settings, world: SandboxWorld, start: date, end: date
) -> dict[str, int]:
    """Start the ingestion service on loopback, POST the sandbox visitors' events with one
    temporary API key per workspace, and stop it; returns events acknowledged per workspace."""
    _ensure_sandbox_pii_key(settings.data_dir)
    # A backfill of the sandbox's history, not live traffic: seed 000's per-workspace rate limit
    # would only make the demo wait (the sender honours 429 either way).
    ingest = IngestSettings.from_env().model_copy(update={"rate_limit_events_per_second": 0})
    store = open_key_store(ingest.database_url)
    keys = {
        w.id: create_api_key(store, w.id, label="ownlay demo") for w in world.registry.workspaces
    }
    try:
        with serve_in_background(ingest) as base_url:
            return send_world_events(
                world,
                base_url=base_url,
                api_keys={ws: key.plaintext for ws, key in keys.items()},
                start=start,
                end=end,
            )
    finally:
        for key in keys.values():
            revoke_api_key(store, key.key_id)


def _ensure_sandbox_pii_key(data_dir: Path) -> None:
    """Give the sandbox a stable HMAC key for PII when none is configured.

    Real deployments set OWNLAY_PII_HASH_KEY; the demo keeps its own next to (never inside) the
    lake, owner-readable only, so re-running hashes the same visitor the same way.
    """
    if not os.environ.get(PII_HASH_KEY_ENV):
        os.environ[PII_HASH_KEY_ENV] = ensure_key(data_dir)


def _this_hour() -> datetime:
    """The hour the sandbox platforms report as of (the same truncation as the resource)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _per(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counts.items())


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
        dashboard = connection.execute(
            "SELECT workspace_id, reporting_currency, spend, orders, revenue, blended_roas, "
            "paid_roas_last_click, over_attribution_ratio FROM marts_dashboard_metrics "
            "WHERE period = '30_days' "
            "QUALIFY report_date = max(report_date) OVER (PARTITION BY workspace_id) ORDER BY 1"
        ).fetchall()
        mrr = _rows_if(
            connection,
            views,
            "marts_mrr_daily",
            "SELECT workspace_id, currency, report_date, mrr, paying_customers, "
            "sum(new_mrr) OVER w, sum(churned_mrr) OVER w FROM marts_mrr_daily "
            "WINDOW w AS (PARTITION BY workspace_id, currency ORDER BY report_date "
            "ROWS BETWEEN 29 PRECEDING AND CURRENT ROW) "
            "QUALIFY report_date = max(report_date) OVER (PARTITION BY workspace_id) ORDER BY 1, 2",
        )
        claims = _rows_if(connection, views, "marts_channel_claims_daily", CHANNEL_CLAIMS_30_DAYS)
        mailchimp = _rows_if(
            connection,
            views,
            "raw_mailchimp_reports",
            "SELECT workspace_id, count(*), sum(emails_sent), sum(unique_opens), "
            "sum(unique_clicks), sum(unsubscribed) FROM raw_mailchimp_reports "
            "GROUP BY ALL ORDER BY 1",
        )
    width = max(len(v) for v, _ in counts)
    lines = ["", "Rows per table:"]
    lines += [f"  {view:<{width}}  {rows:>8,}" for view, rows in counts]
    lines += ["", "Unified totals by workspace and platform (money in the account currency):"]
    lines.append(
        f"  {'workspace':<14}{'platform':<14}{'cur':<5}{'rows':>6}{'spend':>16}{'clicks':>10}{'conv':>10}"
    )
    for workspace, platform, currency, rows, spend, clicks, conversions in totals:
        lines.append(
            f"  {workspace:<14}{platform:<14}{currency:<5}{rows:>6}{spend:>16,.2f}{clicks:>10,}{conversions:>10,.1f}"
        )
    lines += [
        "",
        "Last 30 days in each reporting currency (marts_dashboard_metrics; ROAS = gross revenue "
        "/ spend):",
    ]
    lines.append(
        f"  {'workspace':<14}{'cur':<5}{'spend':>14}{'orders':>8}{'revenue':>14}"
        f"{'blended':>9}{'last-click':>11}{'platform/actual conv':>22}"
    )
    for workspace, currency, spend, orders, revenue, blended, paid, over in dashboard:
        lines.append(
            f"  {workspace:<14}{currency or '-':<5}{_number(spend, ',.2f'):>14}"
            f"{_number(orders, ',.0f'):>8}{_number(revenue, ',.2f'):>14}"
            f"{_ratio(blended):>9}{_ratio(paid):>11}{_ratio(over):>22}"
        )
    lines += ["", "Stripe MRR on the last day (marts_mrr_daily; new and churned over 30 days):"]
    lines.append(
        f"  {'workspace':<14}{'cur':<5}{'day':<12}{'mrr':>14}{'customers':>11}{'new':>12}{'churned':>12}"
    )
    for workspace, currency, day, value, customers, new, churned in mrr:
        lines.append(
            f"  {workspace:<14}{currency:<5}{day!s:<12}{value:>14,.2f}{customers:>11,}"
            f"{new:>12,.2f}{churned:>12,.2f}"
        )
    lines += [
        "",
        "Mailchimp campaign reports (raw_mailchimp_reports, campaigns sent in the range):",
    ]
    lines.append(
        f"  {'workspace':<14}{'campaigns':>10}{'sent':>10}{'opened':>10}{'clicked':>10}{'unsub':>8}"
    )
    for workspace, campaigns, sent, opened, clicked, unsubscribed in mailchimp:
        lines.append(
            f"  {workspace:<14}{campaigns:>10,}{sent:>10,}{opened:>10,}{clicked:>10,}{unsubscribed:>8,}"
        )
    lines += [
        "",
        "Who claims the conversions, last 30 days (marts_channel_claims_daily: platform claim vs "
        "GA4 key events vs our last-click orders):",
        f"  {'workspace':<14}{'channel':<16}{'platform':>10}{'GA4':>10}{'ours':>8}"
        f"{'platform/GA4':>14}{'platform/ours':>15}",
    ]
    for workspace, channel, platform, ga4, ours in claims:
        lines.append(
            f"  {workspace:<14}{channel:<16}{_number(platform, ',.1f'):>10}"
            f"{_number(ga4, ',.1f'):>10}{_number(ours, ',.0f'):>8}"
            f"{_ratio(_share(platform, ga4)):>14}{_ratio(_share(platform, ours)):>15}"
        )
    return "\n".join(lines)


CHANNEL_CLAIMS_30_DAYS = (
    "SELECT workspace_id, channel, sum(platform_conversions), sum(ga4_key_events), "
    "sum(first_party_orders_last_click) FROM marts_channel_claims_daily AS c "
    "WHERE report_date > (SELECT max(report_date) FROM marts_channel_claims_daily AS m "
    "WHERE m.workspace_id = c.workspace_id) - 30 GROUP BY ALL ORDER BY ALL"
)


def _share(claimed: object, measured: object) -> float | None:
    """claimed / measured, None when nothing was measured."""
    return None if not measured or claimed is None else float(claimed) / float(measured)


def _rows_if(
    connection: duckdb.DuckDBPyConnection, views: list[str], view: str, query: str
) -> list[tuple]:
    """`query`'s rows, or none when the warehouse has no `view` (no workspace connects it)."""
    return connection.execute(query).fetchall() if view in views else []


def _ratio(value: float | None) -> str:
    return _number(value, ".2f")


def _number(value: object, spec: str) -> str:
    """`value` formatted with `spec`, or '-' when there is none (a day without orders)."""
    return "-" if value is None else format(value, spec)


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


def capi_summary(store: sa.Engine, registry_file: Path) -> str:
    """Forward the sandbox conversions to every workspace's CAPI destinations; match rates."""
    from ownlay_pipelines.sandbox.capi_demo import forward_demo_conversions

    return forward_demo_conversions(store, load_registry(registry_file), now=datetime.now(UTC))
