"""The analyst report: one static HTML file of charts per run, openable from a file browser.

For every workspace, over the `REPORT_DAYS` local days ending on the as-of date:
- the funnel: visitors per step of each funnel in `marts/funnels`, summed over the days (a
  visitor counts once per day, as in the mart);
- ROAS by platform over time from `marts/roas_daily`: platform-claimed (the platform's
  conversion value / spend) against first-party last click (credited revenue / spend), plus any
  net-revenue ROAS columns the mart has (`revenue_net_*` / `roas_net_*`), skipped when absent;
- credits by attribution model side by side from `marts/path_attribution` (the period ending on
  the as-of date): conversions per channel under Markov, Shapley, first, last and linear.

Charts are plotly figures; plotly.js is inlined once at the top, so the file needs no server and
no network. The file is written to a temp name and swapped in, so a reader never sees half.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import pyarrow as pa

from ownlay_pipelines.analyst.funnels import FUNNEL_SCHEMA, FUNNELS
from ownlay_pipelines.analyst.path_attribution import PATH_ATTRIBUTION, PATH_ATTRIBUTION_SCHEMA
from ownlay_pipelines.lake.tables import DATA_FILE, TableRef, partition_dir
from ownlay_pipelines.models.mart_inputs import create_view, partition_files
from ownlay_pipelines.models.roas import ROAS_DAILY, ROAS_SCHEMA

REPORT_DAYS = 30
REPORT_FILE = "analyst_report.html"
MODEL_ORDER = ("markov", "shapley", "first", "last", "linear")


@dataclass(frozen=True)
class ReportSummary:
    """Where the report went and what it shows, for the asset's metadata."""

    path: Path
    charts: int
    workspaces_with_data: list[str]


def _view(
    connection: duckdb.DuckDBPyConnection,
    lake_root: Path,
    ref: TableRef,
    schema: pa.Schema,
    workspace_id: str,
    days: Sequence[date],
) -> str:
    name = f"report_{ref.relation_name}"
    create_view(connection, name, partition_files(lake_root, ref, workspace_id, days), schema)
    return name


def funnel_figures(
    connection: duckdb.DuckDBPyConnection, lake_root: Path, workspace_id: str, days: list[date]
) -> list[go.Figure]:
    """One funnel chart per funnel of the mart."""
    view = _view(connection, lake_root, FUNNELS, FUNNEL_SCHEMA, workspace_id, days)
    rows = connection.sql(
        f"""SELECT funnel_name, step_number, any_value(step_name) AS step_name,
                   sum(visitors) AS visitors
            FROM {view} WHERE breakdown = 'total' GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    figures = []
    for name in dict.fromkeys(row[0] for row in rows):
        steps = [row for row in rows if row[0] == name]
        figure = go.Figure(
            go.Funnel(
                y=[f"{n}. {step}" for _, n, step, _ in steps],
                x=[int(visitors) for *_, visitors in steps],
                textinfo="value+percent initial+percent previous",
            )
        )
        figure.update_layout(title=f"Funnel: {name} (visitor-days, last {REPORT_DAYS} days)")
        figures.append(figure)
    return figures


def roas_figure(
    connection: duckdb.DuckDBPyConnection, lake_root: Path, workspace_id: str, days: list[date]
) -> go.Figure | None:
    """ROAS per platform and day in the workspace's reporting currency: platform-claimed
    conversion value, first-party last-click revenue gross and net of refunds, each over spend."""
    view = _view(connection, lake_root, ROAS_DAILY, ROAS_SCHEMA, workspace_id, days)
    measures = {
        "platform-claimed": "platform_conversion_value_reporting",
        "first-party last click": "revenue_last_click_reporting",
        "first-party last click, net": "net_revenue_last_click_reporting",
    }
    sums = ", ".join(f"sum(CAST({c} AS DOUBLE)) AS m{n}" for n, c in enumerate(measures.values()))
    rows = connection.sql(
        f"""SELECT report_date, platform, sum(CAST(spend_reporting AS DOUBLE)) AS spend, {sums}
            FROM {view} GROUP BY ALL HAVING sum(spend_reporting) > 0 ORDER BY ALL"""
    ).fetchall()
    if not rows:
        return None
    figure = go.Figure()
    for platform in sorted({row[1] for row in rows}):
        mine = [row for row in rows if row[1] == platform]
        for n, label in enumerate(measures):
            figure.add_trace(
                go.Scatter(
                    x=[row[0] for row in mine],
                    y=[(row[3 + n] or 0) / row[2] for row in mine],
                    mode="lines+markers",
                    name=f"{platform}: {label}",
                    line={"dash": "solid" if n == 1 else "dot" if n == 0 else "dash"},
                )
            )
    figure.update_layout(
        title="ROAS by platform (conversion value or credited revenue / spend, reporting currency)",
        yaxis_title="ROAS",
    )
    return figure


def credits_figure(
    connection: duckdb.DuckDBPyConnection, lake_root: Path, workspace_id: str, as_of: date
) -> go.Figure | None:
    """Conversions credited per channel under each attribution model, side by side."""
    view = _view(
        connection, lake_root, PATH_ATTRIBUTION, PATH_ATTRIBUTION_SCHEMA, workspace_id, [as_of]
    )
    rows = connection.sql(f"SELECT model, channel, conversions FROM {view}").fetchall()
    if not rows:
        return None
    channels = sorted({row[1] for row in rows})
    figure = go.Figure()
    for model in MODEL_ORDER:
        credit = {row[1]: row[2] for row in rows if row[0] == model}
        figure.add_trace(go.Bar(name=model, x=channels, y=[credit.get(c, 0) for c in channels]))
    figure.update_layout(
        barmode="group",
        title=f"Conversions credited by model, {REPORT_DAYS} days to {as_of}",
        yaxis_title="conversions",
    )
    return figure


def latest_mart_day(lake_root: Path, workspace_ids: Sequence[str]) -> date | None:
    """The latest day any workspace has a path-attribution, ROAS or funnel partition for."""
    days = [
        date.fromisoformat(folder.name.removeprefix("report_date="))
        for ref in (PATH_ATTRIBUTION, ROAS_DAILY, FUNNELS)
        for workspace_id in workspace_ids
        for folder in partition_dir(lake_root, ref, workspace_id, None).glob("report_date=*")
        if (folder / DATA_FILE).exists()
    ]
    return max(days, default=None)


def render_report(
    lake_root: Path, reports_dir: Path, workspace_ids: Sequence[str], as_of: date
) -> ReportSummary:
    """Write the report for `workspace_ids` as of `as_of`; returns where and what."""
    days = [as_of - timedelta(days=n) for n in range(REPORT_DAYS)]
    sections, charts, with_data = [], 0, []
    with duckdb.connect() as connection:
        for workspace_id in workspace_ids:
            figures = [
                *funnel_figures(connection, lake_root, workspace_id, days),
                roas_figure(connection, lake_root, workspace_id, days),
                credits_figure(connection, lake_root, workspace_id, as_of),
            ]
            shown = [figure for figure in figures if figure is not None]
            body = [f"<h2>{html.escape(workspace_id)}</h2>"]
            if not shown:
                body.append("<p>No mart data for this workspace in the period yet.</p>")
            else:
                with_data.append(workspace_id)
            for figure in shown:
                body.append(
                    figure.to_html(
                        full_html=False, include_plotlyjs=charts == 0, default_height=460
                    )
                )
                charts += 1
            sections.append("\n".join(body))
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>OWNLAY analyst report {as_of}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}</style></head><body>"
        f"<h1>OWNLAY analyst report — {REPORT_DAYS} days to {as_of}</h1>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / REPORT_FILE
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(page, encoding="utf-8")
    os.replace(temp, path)
    return ReportSummary(path=path, charts=charts, workspaces_with_data=with_data)
