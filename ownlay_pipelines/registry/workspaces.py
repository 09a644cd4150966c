"""The workspace registry: who the tenants are and which platform accounts each one connects.

Read from a YAML file and validated with pydantic; a bad entry is refused with the field and the
reason, never half-loaded.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ownlay_pipelines.capi.destinations import CapiSettings
from ownlay_pipelines.registry.credentials import check_env_var_names
from ownlay_pipelines.registry.tenant import validate_workspace_id
from ownlay_pipelines.schema.platforms import Platform

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


@cache
def _timezones() -> frozenset[str]:
    """IANA zone names; `available_timezones()` walks the tz database on every call."""
    return frozenset(available_timezones())


class Tier(StrEnum):
    """Seed 000 "Sync Cadence Options": the tier decides how often each source syncs."""

    STARTER = "starter"
    GROWTH = "growth"
    ENTERPRISE = "enterprise"


class RevenueSource(StrEnum):
    """Where a workspace's revenue (ROAS, dashboard) comes from: shop orders or Stripe charges."""

    SHOPIFY = "shopify"
    STRIPE = "stripe"


class RegistryError(ValueError):
    """The registry file cannot be used; the message names the entry, the field and the reason."""


class Connection(BaseModel):
    """One platform account connected to a workspace, and where its credentials live."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    account_id: str = Field(description="The platform's account id (Meta ad account without act_).")
    account_name: str = ""
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Credential name → name of the environment variable holding it (never the value).",
    )

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str) -> str:
        if not ACCOUNT_ID.fullmatch(value):
            raise ValueError(
                f"account_id {value!r} must be letters, digits, '.', '_' or '-' (at most 64)"
            )
        return value

    @field_validator("credentials")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        return check_env_var_names(value)


class Workspace(BaseModel):
    """A tenant: one client whose data OWNLAY syncs, with its tier, timezone and currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    timezone: str = Field(description="IANA timezone used for the workspace's reporting day.")
    currency: str = Field(description="ISO 4217 code the workspace reports in.")
    reporting_currency: str = Field(
        default="",
        description="ISO 4217 code the marts convert every amount into (default: `currency`).",
    )
    revenue_source: RevenueSource = Field(
        default=RevenueSource.SHOPIFY,
        description="shopify: attributed shop orders; stripe: the Stripe account's charges.",
    )
    connections: tuple[Connection, ...] = ()
    capi: CapiSettings = Field(
        default_factory=CapiSettings, description="Conversions-API forwarding (capi/)."
    )

    @field_validator("id", mode="before")
    @classmethod
    def _slug(cls, value: object) -> str:
        return validate_workspace_id(value, "id")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise ValueError(f"timezone {value!r} is not an IANA timezone such as 'Europe/Berlin'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _reporting_currency_defaults_to_currency(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("reporting_currency"):
            return {**data, "reporting_currency": data.get("currency")}
        return data

    @field_validator("currency", "reporting_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not CURRENCY_CODE.fullmatch(value):
            raise ValueError(
                f"currency {value!r} is not a three-letter ISO 4217 code such as 'EUR'"
            )
        return value

    @model_validator(mode="after")
    def _one_account_per_platform_and_id(self) -> Workspace:
        seen: set[tuple[Platform, str]] = set()
        for connection in self.connections:
            key = (connection.platform, connection.account_id)
            if key in seen:
                raise ValueError(
                    f"connection {connection.platform}/{connection.account_id} is listed twice"
                )
            seen.add(key)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def connections_for(self, platform: Platform) -> tuple[Connection, ...]:
        """The workspace's accounts on `platform`, in registry order."""
        return tuple(c for c in self.connections if c.platform == platform)


class Registry(BaseModel):
    """All workspaces, keyed by id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspaces: tuple[Workspace, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        ids = [w.id for w in self.workspaces]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"workspace ids must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def workspace_ids(self) -> list[str]:
        return [w.id for w in self.workspaces]

    def get(self, workspace_id: str) -> Workspace:
        """The workspace with this id; KeyError names the known ids when it is missing."""
        for workspace in self.workspaces:
            if workspace.id == workspace_id:
                return workspace
        raise KeyError(
            f"workspace {workspace_id!r} is not in the registry (known: {', '.join(self.workspace_ids)})"
        )

    def platforms(self) -> set[Platform]:
        """Every platform at least one workspace connects."""
        return {c.platform for w in self.workspaces for c in w.connections}


def parse_registry(document: object, source: str = "registry") -> Registry:
    """Validate a parsed YAML/JSON document; RegistryError lists each bad field with its reason."""
    try:
        return Registry.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'document'}: {error['msg']}"
            for error in exc.errors()
        )
        raise RegistryError(f"{source} is invalid: {problems}") from exc


def load_registry(path: Path) -> Registry:
    """Read and validate the registry YAML file at `path`."""
    try:
        # libyaml's loader when present: ~10× faster than pure Python on a 1,000-workspace file.
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError as exc:
        raise RegistryError(f"registry file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"registry file {path} is not valid YAML: {exc}") from exc
    return parse_registry(document, source=str(path))
