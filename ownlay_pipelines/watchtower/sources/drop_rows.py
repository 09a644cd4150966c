"""What one row of each file-drop source must hold, validated with pydantic.

Field names are the sources' own (seed 004's CVR fields `client_id`, `cvr`, `period_start`; the
internal sources' names are the project's), so `field_mappings.py` maps them unchanged. CSV cells
arrive as text: empty cells mean "not given", and `tags` is `;`-separated.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.registry.workspaces import Tier

EMAIL = r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$"


class DropRow(BaseModel):
    """A row of a dropped file, owned by the client (workspace) named in `client_id`."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    client_id: str

    @model_validator(mode="before")
    @classmethod
    def _blank_cells_are_missing(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value != ""}
        return data

    @field_validator("client_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        return validate_workspace_id(value, "client_id")

    def record(self) -> dict[str, Any]:
        """The row as a source record for the store writer (fields not given left out)."""
        return self.model_dump(exclude_none=True)


class CvrRow(DropRow):
    """One client's conversion rate over one period, as the scraper reports it."""

    period_start: date
    period_end: date | None = None
    cvr: Decimal = Field(ge=0, le=100, description="Conversion rate in percent.")
    sessions: int | None = Field(default=None, ge=0)
    orders: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _period_in_order(self) -> CvrRow:
        if self.period_end is not None and self.period_end < self.period_start:
            raise ValueError(
                f"period_end {self.period_end} is before period_start {self.period_start}"
            )
        return self


class CommunicationReportRow(DropRow):
    """One client Discord channel: when the team and the client last wrote there."""

    channel_id: str = Field(pattern=r"^\d{1,30}$", description="Discord channel snowflake.")
    channel_name: str = Field(min_length=1, max_length=255)
    status: Literal["active", "archived"] = "active"
    last_team_message_at: AwareDatetime | None = None
    last_client_message_at: AwareDatetime | None = None
    team_messages_7d: int = Field(ge=0)
    days_since_team_message: Decimal = Field(ge=0)


class ClientRow(DropRow):
    """One client's master data: contact, tier, status and retainer."""

    name: str = Field(min_length=1, max_length=255)
    email: str | None = Field(default=None, pattern=EMAIL, max_length=255)
    status: Literal["active", "paused", "churned"]
    tier: Tier
    tags: tuple[str, ...] = ()
    monthly_retainer: Decimal | None = Field(default=None, ge=0)
    onboarded_at: date | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(tag.strip() for tag in value.split(";") if tag.strip())
        return value

    def record(self) -> dict[str, Any]:
        record = super().record()
        record["tier"] = self.tier.value
        record["tags"] = list(self.tags)
        return record


DROP_ROWS: dict[str, type[DropRow]] = {
    "scraper/cvr": CvrRow,
    "internal/communication_reports": CommunicationReportRow,
    "internal/clients": ClientRow,
}
"""The row model of each file-drop source, by `provider/endpoint`."""
