"""Where a workspace forwards its conversions: one entry per Conversions-API destination.

Part of the workspace registry (`Workspace.capi`). Ids (pixel, customer, conversion action) are
plain values; every credential is the *name* of an environment variable, resolved only when a
client is built, so no token ever sits in the registry file, a log line or Dagster metadata.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.registry.credentials import check_env_var_names

DESTINATION_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_RETENTION_DAYS = 7

_REQUIRED_IDS: dict[CapiPlatform, tuple[str, ...]] = {
    CapiPlatform.META: ("pixel_id",),
    CapiPlatform.GOOGLE: ("customer_id", "conversion_action_id"),
    CapiPlatform.TIKTOK: ("pixel_code",),
    CapiPlatform.SNAPCHAT: ("pixel_id",),
}
_REQUIRED_CREDENTIALS: dict[CapiPlatform, tuple[str, ...]] = {
    CapiPlatform.META: ("access_token",),
    CapiPlatform.GOOGLE: ("developer_token", "access_token"),
    CapiPlatform.TIKTOK: ("access_token",),
    CapiPlatform.SNAPCHAT: ("access_token",),
}
"""Google's OAuth may instead name `client_id`, `client_secret` and `refresh_token`."""


class CredentialMissing(RuntimeError):
    """A destination's credential environment variable is not set (the message names it)."""


class CapiDestination(BaseModel):
    """One Conversions-API destination: platform, its ids and the env vars of its credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Slug unique in the workspace, e.g. 'meta-main'.")
    platform: CapiPlatform
    pixel_id: str = ""
    pixel_code: str = ""
    customer_id: str = ""
    conversion_action_id: str = ""
    login_customer_id: str = ""
    test_event_code: str = Field(default="", description="Routes events to the test tool.")
    credentials: dict[str, str] = Field(
        default_factory=dict, description="Credential name → environment variable name."
    )

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not DESTINATION_ID.fullmatch(value):
            raise ValueError(f"destination id {value!r} must be a lowercase slug (a-z, 0-9, _, -)")
        return value

    @field_validator("credentials")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        return check_env_var_names(value)

    @model_validator(mode="after")
    def _platform_fields(self) -> CapiDestination:
        for name in _REQUIRED_IDS[self.platform]:
            if not getattr(self, name):
                raise ValueError(f"{self.platform} destination {self.id!r} needs {name}")
        needed = set(_REQUIRED_CREDENTIALS[self.platform])
        if self.platform is CapiPlatform.GOOGLE and {"client_id", "refresh_token"} <= set(
            self.credentials
        ):
            needed = {"developer_token", "client_id", "client_secret", "refresh_token"}
        missing = sorted(needed - set(self.credentials))
        if missing:
            raise ValueError(
                f"{self.platform} destination {self.id!r} needs credentials: {', '.join(missing)}"
            )
        return self

    @property
    def account_id(self) -> str:
        """The platform account the rate budget belongs to (pixel, pixel code or customer)."""
        return self.pixel_id or self.pixel_code or self.customer_id

    def secret(self, name: str, environ: Mapping[str, str] | None = None) -> str:
        """The value of credential `name` from the environment; CredentialMissing names the
        variable (never a value) when it is unset."""
        env = os.environ if environ is None else environ
        variable = self.credentials.get(name, "")
        value = env.get(variable, "") if variable else ""
        if not value:
            raise CredentialMissing(
                f"{self.platform} destination {self.id!r}: set {variable or name} in the environment"
            )
        return value


class CapiSettings(BaseModel):
    """A workspace's forwarding: destinations, phone region, outbox retention, name overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = Field(
        default="US", description="ISO 3166-1 region a phone number without +code is read in."
    )
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        le=37,
        description="Days raw contact data may wait in the outbox before it is wiped (expired).",
    )
    event_overrides: dict[str, dict[CapiPlatform, str]] = Field(
        default_factory=dict,
        description="Source event type → platform → event name, over seed 002's table.",
    )
    destinations: tuple[CapiDestination, ...] = ()

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError(f"default_region {value!r} must be an ISO 3166-1 code such as 'FR'")
        return value

    @model_validator(mode="after")
    def _unique_destinations(self) -> CapiSettings:
        ids = [d.id for d in self.destinations]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"capi destination ids must be unique; repeated: {repeated}")
        return self
