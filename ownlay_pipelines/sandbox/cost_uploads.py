"""Sandbox spend files from a network without a connector: a Pinterest Ads export per workspace.

The file is messy the way real exports are, so the demo exercises the upload detection:

- two preamble lines (report title, account and range) and a blank line above the header;
- for an EUR workspace a European export: `;` delimiter, `21.11.2026` dates, decimal comma with
  `.` thousands groups and a trailing `€` (`1.234,56 €`); otherwise a US export: `,` delimiter,
  `11/21/2026` dates and a leading symbol (`$1,234.56`, `¥12,345`), fields quoted as needed;
- Pinterest's own headers (`Spend in account currency`, `Pin clicks`), which no synonym knows, so
  the upload needs the mapping file written beside it (also giving `platform: pinterest`);
- one row Pinterest wrote while its reporting was delayed, with `n/a` as spend (quarantined).

`pinterest_campaign_days` is the ground truth the file is rendered from.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from ownlay_pipelines.registry.workspaces import Workspace
from ownlay_pipelines.sandbox.currency import minor_unit_exponent, price_level
from ownlay_pipelines.sandbox.seeding import digits, rng_for
from ownlay_pipelines.sandbox.world import SandboxWorld

PLATFORM = "pinterest"
CAMPAIGN_THEMES = ("Always-on Shopping", "Seasonal Ideas Pins", "Prospecting Video")
HEADER = (
    "Date",
    "Campaign name",
    "Campaign ID",
    "Impressions",
    "Pin clicks",
    "Spend in account currency",
    "Conversions",
)
MAPPING = {
    "columns": {"spend": "Spend in account currency", "clicks": "Pin clicks"},
    "defaults": {"platform": PLATFORM},
}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
DELAYED_SPEND = "n/a"


@dataclass(frozen=True)
class PinterestCampaignDay:
    """One campaign's delivery on one day, as Pinterest reports it (spend in account currency)."""

    day: date
    campaign_id: str
    campaign_name: str
    impressions: int
    clicks: int
    spend: Decimal
    conversions: int


def pinterest_campaign_days(
    world: SandboxWorld, workspace: Workspace, start: date, end: date
) -> list[PinterestCampaignDay]:
    """The workspace's Pinterest delivery from `start` to `end`, by day then campaign."""
    campaigns_rng = rng_for(world.seed, PLATFORM, workspace.id)
    campaigns = [
        ("6" + digits(campaigns_rng, 11), f"{workspace.name} | {theme}")
        for theme in CAMPAIGN_THEMES[: campaigns_rng.randint(2, 3)]
    ]
    level = price_level(workspace.currency)
    rows = []
    day = start
    while day <= end:
        for campaign_id, name in campaigns:
            rng = rng_for(world.seed, PLATFORM, campaign_id, day.isoformat())
            impressions = rng.randint(4_000, 30_000)
            clicks = round(impressions * rng.uniform(0.004, 0.015))
            spend = Decimal(clicks * rng.uniform(0.6, 1.4) * level).quantize(
                Decimal(1).scaleb(-minor_unit_exponent(workspace.currency))
            )
            conversions = sum(rng.random() < 0.03 for _ in range(clicks))
            rows.append(
                PinterestCampaignDay(
                    day, campaign_id, name, impressions, clicks, spend, conversions
                )
            )
        day += timedelta(days=1)
    return rows


def delayed_row_index(world: SandboxWorld, workspace: Workspace, row_count: int) -> int:
    """Which row of the export has `n/a` as spend (the one bad row)."""
    return rng_for(world.seed, PLATFORM, "delayed", workspace.id).randrange(row_count)


def render_pinterest_export(
    world: SandboxWorld, workspace: Workspace, start: date, end: date
) -> str:
    """The export's text (see the module docstring for its layout)."""
    days = pinterest_campaign_days(world, workspace, start, end)
    delayed = delayed_row_index(world, workspace, len(days))
    european = workspace.currency == "EUR"
    buffer = io.StringIO()
    buffer.write("Pinterest Ads Manager - Campaign performance report\n")
    buffer.write(f"Ad account: {workspace.name}; Reporting range: {start} to {end}\n\n")
    writer = csv.writer(buffer, delimiter=";" if european else ",", lineterminator="\n")
    writer.writerow(HEADER)
    for index, row in enumerate(days):
        spend = DELAYED_SPEND if index == delayed else _money(row.spend, workspace, european)
        writer.writerow(
            (
                row.day.strftime("%d.%m.%Y" if european else "%m/%d/%Y"),
                row.campaign_name,
                row.campaign_id,
                row.impressions,
                row.clicks,
                spend,
                row.conversions,
            )
        )
    return buffer.getvalue()


def write_pinterest_export(
    world: SandboxWorld, workspace: Workspace, start: date, end: date, folder: Path
) -> tuple[Path, Path]:
    """Write the export and its mapping file into `folder`; returns (export, mapping)."""
    folder.mkdir(parents=True, exist_ok=True)
    # A stable name: uploading the next day's export replaces this load instead of adding to it.
    export = folder / f"pinterest_{workspace.id}.csv"
    export.write_text(render_pinterest_export(world, workspace, start, end), encoding="utf-8")
    mapping = folder / f"{export.name}.mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False), encoding="utf-8")
    return export, mapping


def _money(amount: Decimal, workspace: Workspace, european: bool) -> str:
    """`amount` as the export writes it: grouped thousands and the currency's symbol or code."""
    places = minor_unit_exponent(workspace.currency)
    text = f"{amount:,.{places}f}"
    symbol = SYMBOLS.get(workspace.currency, workspace.currency + " ")
    if european:
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
        return f"{text} {symbol.strip()}"
    return f"{symbol}{text}"
