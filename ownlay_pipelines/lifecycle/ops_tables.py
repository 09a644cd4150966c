"""Ops-store tables of the data lifecycle: GDPR suppression list and audit log, export state.

They live in the ops store beside the watchtower's and the ingest keys' tables and use its engine
(SQLite file by default, PostgreSQL via `OWNLAY_DATABASE_URL`). Neither holds an identifier in
clear: only its keyed hash (`privacy.keyed_hash`), so the list of erased people reveals nobody.
"""

from __future__ import annotations

import sqlalchemy as sa

from ownlay_pipelines.watchtower.tables import TENANT_LENGTH, JsonObject, UtcDateTime

metadata = sa.MetaData()

gdpr_suppressions = sa.Table(
    "gdpr_suppressions",
    metadata,
    sa.Column("workspace_id", sa.String(TENANT_LENGTH), primary_key=True),
    sa.Column("identifier_kind", sa.String(20), primary_key=True),
    sa.Column("identifier_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    comment="One row per erased person: their later events are dropped at ingest.",
)

gdpr_audit = sa.Table(
    "gdpr_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(TENANT_LENGTH), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("identifier_kind", sa.String(20), nullable=False),
    sa.Column("identifier_hash", sa.String(64), nullable=False),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("counts", JsonObject, nullable=False),
    comment="One row per GDPR export or deletion: who asked, when, for whom (hash), what was found.",
)

warehouse_exports = sa.Table(
    "warehouse_exports",
    metadata,
    sa.Column("destination", sa.String(63), primary_key=True),
    sa.Column("table_name", sa.String(200), primary_key=True),
    sa.Column("workspace_id", sa.String(TENANT_LENGTH), primary_key=True),
    sa.Column("report_date", sa.Date, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("exported_at", UtcDateTime, nullable=False),
    comment="One row per lake partition last copied to a destination, with the file's SHA-256.",
)


def create_lifecycle_tables(engine: sa.Engine) -> None:
    """Create the lifecycle tables if missing."""
    metadata.create_all(engine)
