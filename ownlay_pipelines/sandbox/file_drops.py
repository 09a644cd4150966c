"""Sandbox files for the file-drop sources, derived from the world so the demo has data.

- `scraper/cvr/sandbox.csv`: each workspace's conversion rate over the last four whole weeks
  (Monday–Sunday, UTC), orders over sessions in percent, taken from the same campaign-days the ad
  simulators serve (clicks as sessions, conversions as orders), so the numbers agree;
- `internal/communication_reports/sandbox.json`: each client's Discord channel; starter-tier
  clients were last written to 8–13 days ago, so seed 004's "No Outreach for 7+ Days" rule has
  something to find, the others 0–4 days ago;
- `internal/clients/sandbox.csv`: the registry's workspaces as client master data.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ownlay_pipelines.registry.workspaces import Tier, Workspace
from ownlay_pipelines.sandbox.catalog import Brand
from ownlay_pipelines.sandbox.currency import price_level
from ownlay_pipelines.sandbox.seeding import digits, rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld
from ownlay_pipelines.watchtower.sources.file_drop import drop_folder

CVR_WEEKS = 4
RETAINER_USD = {Tier.STARTER: 1_500, Tier.GROWTH: 4_000, Tier.ENTERPRISE: 12_000}
FILE_NAME = "sandbox"
CVR_COLUMNS = ("client_id", "period_start", "period_end", "cvr", "sessions", "orders")
CLIENT_COLUMNS = (
    "client_id",
    "name",
    "email",
    "status",
    "tier",
    "tags",
    "monthly_retainer",
    "onboarded_at",
)


def write_sandbox_drops(world: SandboxWorld, data_dir: Path) -> list[Path]:
    """Write (or replace) the three sandbox drop files under `data_dir`; returns their paths."""
    workspaces = world.registry.workspaces
    return [
        _write_csv(
            drop_folder(data_dir, "scraper", "cvr"),
            CVR_COLUMNS,
            [row for workspace in workspaces for row in cvr_rows(world, workspace)],
        ),
        _write_json(
            drop_folder(data_dir, "internal", "communication_reports"),
            [communication_report(world, workspace) for workspace in workspaces],
        ),
        _write_csv(
            drop_folder(data_dir, "internal", "clients"),
            CLIENT_COLUMNS,
            [client_row(world, workspace) for workspace in workspaces],
        ),
    ]


def cvr_rows(world: SandboxWorld, workspace: Workspace) -> list[dict[str, Any]]:
    """The workspace's weekly CVR rows, oldest week first; weeks without sessions have none."""
    today = world.now.astimezone(UTC).date()
    last_sunday = today - timedelta(days=today.weekday() + 1)
    rows = []
    for week in range(CVR_WEEKS, 0, -1):
        end = last_sunday - timedelta(days=7 * (week - 1))
        start = end - timedelta(days=6)
        days = [
            day
            for account in world.accounts()
            if account.workspace_id == workspace.id
            for day in world.campaign_days(account.platform, account.account_id, start, end)
        ]
        sessions = sum(day.clicks for day in days)
        if not sessions:
            # No ad traffic that week (or no ad accounts): the scraper has no rate to report.
            continue
        orders = round(sum((day.conversions for day in days), Decimal(0)))
        cvr = Decimal(orders * 100) / sessions
        rows.append(
            {
                "client_id": workspace.id,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "cvr": str(cvr.quantize(Decimal("0.0001"))),
                "sessions": sessions,
                "orders": orders,
            }
        )
    return rows


def communication_report(world: SandboxWorld, workspace: Workspace) -> dict[str, Any]:
    """The workspace's client channel: when the team and the client last wrote."""
    rng = rng_for(world.seed, "comms", workspace.id)
    quiet_days = rng.randint(8, 13) if workspace.tier is Tier.STARTER else rng.randint(0, 4)
    last_team = world.now - timedelta(days=quiet_days, hours=rng.randint(0, 20))
    last_client = world.now - timedelta(hours=rng.randint(1, 72))
    return {
        "client_id": workspace.id,
        "channel_id": "1" + digits(rng, 18),
        "channel_name": f"client-{workspace.id}",
        "status": "active",
        "last_team_message_at": last_team.isoformat(),
        "last_client_message_at": last_client.isoformat(),
        "team_messages_7d": 0 if quiet_days >= 7 else rng.randint(3, 25),
        "days_since_team_message": (world.now - last_team).days,
    }


def client_row(world: SandboxWorld, workspace: Workspace) -> dict[str, Any]:
    """The workspace as a client record: contact, tier, platforms as tags, retainer."""
    rng = rng_for(world.seed, "client", workspace.id)
    brand = Brand.of(workspace.name, workspace.currency)
    retainer = round(RETAINER_USD[workspace.tier] * price_level(workspace.currency), -2)
    platforms = sorted({str(c.platform) for c in workspace.connections})
    onboarded = world.timeline_anchor - timedelta(days=rng.randint(100, 700))
    return {
        "client_id": workspace.id,
        "name": workspace.name,
        "email": f"marketing@{brand.slug}.example",
        "status": "active",
        "tier": workspace.tier.value,
        "tags": ";".join([workspace.currency.lower(), *platforms]),
        "monthly_retainer": f"{retainer:.2f}",
        "onboarded_at": onboarded.isoformat(),
    }


def _write_csv(folder: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return _replace(folder / f"{FILE_NAME}.csv", buffer.getvalue())


def _write_json(folder: Path, rows: Sequence[dict[str, Any]]) -> Path:
    return _replace(folder / f"{FILE_NAME}.json", json.dumps(list(rows), indent=2) + "\n")


def _replace(path: Path, text: str) -> Path:
    """Write `text` to `path` via a dot-named temp file, which readers skip, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{datetime.now(UTC):%Y%m%d%H%M%S%f}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path
