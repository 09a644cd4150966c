"""Where the pipeline keeps its data and which mode it runs in, read once from the environment.

Every path is resolved against the project root (the current directory by default), so the demo,
`dagster dev` and the tests agree on where the lake is unless told otherwise.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_REGISTRY_FILE = Path(__file__).parent / "registry" / "sandbox_workspaces.yaml"


class Mode(StrEnum):
    """`sandbox` serves every connector from the built-in simulators; `live` calls the real APIs."""

    SANDBOX = "sandbox"
    LIVE = "live"


class Settings(BaseModel):
    """Paths and modes of one deployment; built from `OWNLAY_*` environment variables."""

    model_config = ConfigDict(frozen=True)

    data_dir: Path = Field(description="Root of everything the pipeline writes (lake, warehouse).")
    registry_file: Path = Field(description="YAML file listing workspaces and their connections.")
    mode: Mode = Mode.SANDBOX
    sandbox_seed: int = Field(default=7, description="Seed of the synthetic sandbox world.")

    @field_validator("data_dir", "registry_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def lake_dir(self) -> Path:
        """Root of the Parquet lake: one folder per table, Hive-style partition folders below."""
        return self.data_dir / "lake"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file analysts open; it holds only views over the lake."""
        return self.data_dir / "warehouse.duckdb"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read `OWNLAY_DATA_DIR`, `OWNLAY_REGISTRY_FILE`, `OWNLAY_MODE`, `OWNLAY_SANDBOX_SEED`."""
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("OWNLAY_DATA_DIR", "data")),
            registry_file=Path(env.get("OWNLAY_REGISTRY_FILE", str(DEFAULT_REGISTRY_FILE))),
            mode=Mode(env.get("OWNLAY_MODE", Mode.SANDBOX)),
            sandbox_seed=int(env.get("OWNLAY_SANDBOX_SEED", "7")),
        )
