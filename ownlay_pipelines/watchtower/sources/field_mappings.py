"""Where each source's fields land: `api_records` columns or named `api_record_metrics`.

Seed 004 "Field Mappings" gives the Omnisend and CVR mappings; it names no mapping for the internal
`communication_reports` and `clients` sources, so theirs are the project's (their metrics are in
`seed_data.PROJECT_METRICS` or seed 004's universal ones). Fields a mapping does not name go to
`api_records.extra`, the seed's "overflow for unmapped fields".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RECORD_COLUMNS = frozenset(
    {
        "external_id",
        "name",
        "email",
        "status",
        "category",
        "tags",
        "amount",
        "quantity",
        "record_date",
    }
)
"""The typed `api_records` columns a source field may fill."""


@dataclass(frozen=True)
class FieldMapping:
    """How one source's record fields become an `api_records` row and its metrics.

    `columns` pairs a source field with the column it fills (one field may fill two, e.g. a CVR
    period start is both the record's id and its date); `metrics` pairs a source field with a
    metric name; `client_field` names the field that says whose record it is (seed 004 maps the
    scraper's `client_id` to `api_snapshots.client_id`), None when the caller knows the client.
    """

    provider: str
    endpoint: str
    columns: tuple[tuple[str, str], ...]
    metrics: tuple[tuple[str, str], ...] = ()
    client_field: str | None = None

    def __post_init__(self) -> None:
        targets = [column for _, column in self.columns]
        unknown = sorted(set(targets) - RECORD_COLUMNS)
        if unknown:
            raise ValueError(f"{self.source}: {unknown} are not api_records columns")
        if targets.count("external_id") != 1:
            raise ValueError(f"{self.source}: exactly one field must fill external_id")

    @property
    def source(self) -> str:
        """`provider/endpoint`, the name rules and messages use for the source."""
        return f"{self.provider}/{self.endpoint}"

    @property
    def mapped_fields(self) -> frozenset[str]:
        """Every source field that lands somewhere other than `extra`."""
        names = {field for field, _ in (*self.columns, *self.metrics)}
        if self.client_field is not None:
            names.add(self.client_field)
        return frozenset(names)


OMNISEND_CAMPAIGNS = FieldMapping(
    provider="omnisend",
    endpoint="campaigns",
    columns=(
        ("campaignID", "external_id"),
        ("name", "name"),
        ("status", "status"),
        ("sent", "quantity"),
    ),
    metrics=(("openRate", "open_rate"), ("clickRate", "click_rate")),
)
"""Seed 004 "Omnisend Campaigns"."""

OMNISEND_AUTOMATIONS = FieldMapping(
    provider="omnisend",
    endpoint="automations",
    columns=(("automationID", "external_id"), ("name", "name"), ("status", "status")),
    metrics=(("sent", "sent_count"), ("opened", "opened_count")),
)
"""Seed 004 "Omnisend Automations"."""

SCRAPER_CVR = FieldMapping(
    provider="scraper",
    endpoint="cvr",
    # Seed 004 maps no id; a client's CVR record is one period, named by its start.
    columns=(("period_start", "external_id"), ("period_start", "record_date")),
    metrics=(("cvr", "cvr"),),
    client_field="client_id",
)
"""Seed 004 "CVR Data (from scraper)"."""

INTERNAL_COMMUNICATION_REPORTS = FieldMapping(
    provider="internal",
    endpoint="communication_reports",
    columns=(
        ("channel_id", "external_id"),
        ("channel_name", "name"),
        ("status", "status"),
        ("team_messages_7d", "quantity"),
        ("last_team_message_at", "record_date"),
    ),
    metrics=(("days_since_team_message", "days_since_team_message"),),
    client_field="client_id",
)
"""One record per client Discord channel; seed 004's "No Outreach for 7+ Days" rule watches it."""

INTERNAL_CLIENTS = FieldMapping(
    provider="internal",
    endpoint="clients",
    columns=(
        ("client_id", "external_id"),
        ("name", "name"),
        ("email", "email"),
        ("status", "status"),
        ("tier", "category"),
        ("tags", "tags"),
        ("monthly_retainer", "amount"),
        ("onboarded_at", "record_date"),
    ),
    client_field="client_id",
)
"""One record per client: the master data seed 004's `clients` target watches."""

FIELD_MAPPINGS: Mapping[str, FieldMapping] = {
    mapping.source: mapping
    for mapping in (
        OMNISEND_CAMPAIGNS,
        OMNISEND_AUTOMATIONS,
        SCRAPER_CVR,
        INTERNAL_COMMUNICATION_REPORTS,
        INTERNAL_CLIENTS,
    )
}
"""Every mapping by `provider/endpoint`."""
