"""The ops store: seed 004's tables, indexes, triggers and seeded rows on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from decimal import Decimal

import sqlalchemy as sa

from ownlay_pipelines.watchtower.seed_data import (
    SEEDED_METRICS,
    SEEDED_SOURCES,
    seed_reference_rows,
)
from ownlay_pipelines.watchtower.store import (
    create_store_engine,
    database_url_from_env,
    normalize_database_url,
    open_store,
)
from ownlay_pipelines.watchtower.tables import (
    ROW_LEVEL_SECURITY_SQL,
    api_record_metrics,
    api_records,
    api_snapshots,
    api_sources,
    create_schema,
    watchtower_rules,
)

SEED_TABLES = {
    "api_sources",
    "api_snapshots",
    "api_records",
    "api_record_metrics",
    "metric_definitions",
    "watchtower_rules",
    "watchtower_alerts",
}


def test_plain_postgresql_urls_get_the_psycopg2_driver():
    assert (
        normalize_database_url("postgresql://u:p@h:5432/db")
        == "postgresql+psycopg2://u:p@h:5432/db"
    )
    assert normalize_database_url("postgres://h/db") == "postgresql+psycopg2://h/db"
    assert normalize_database_url("postgresql+psycopg2://h/db") == "postgresql+psycopg2://h/db"
    assert normalize_database_url("sqlite:////tmp/x.sqlite") == "sqlite:////tmp/x.sqlite"


def test_database_url_defaults_to_a_sqlite_file_in_the_data_dir(tmp_path):
    assert database_url_from_env({"OWNLAY_DATA_DIR": str(tmp_path)}) == (
        f"sqlite:///{tmp_path / 'ops.sqlite'}"
    )
    assert database_url_from_env({"OWNLAY_DATABASE_URL": "postgresql://h/db"}) == (
        "postgresql+psycopg2://h/db"
    )


def test_seed_tables_have_seed_columns_and_indexes(store):
    inspector = sa.inspect(store)
    assert set(inspector.get_table_names()) >= SEED_TABLES
    columns = {c["name"]: c for c in inspector.get_columns("watchtower_rules")}
    assert list(columns) == [c.name for c in watchtower_rules.columns]
    assert columns["name"]["nullable"] is False
    assert columns["notify_time"]["type"].python_type is time
    alert_indexes = {i["name"] for i in inspector.get_indexes("watchtower_alerts")}
    assert {
        "idx_watchtower_alerts_rule_id",
        "idx_watchtower_alerts_snapshot_id",
        "idx_watchtower_alerts_client_id",
        "idx_watchtower_alerts_unacknowledged",
        "idx_watchtower_alerts_severity",
        "idx_watchtower_alerts_created_at",
    } <= alert_indexes
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("api_sources")}
    assert ("provider", "endpoint") in uniques
    metric_uniques = inspector.get_unique_constraints("api_record_metrics")
    assert ("record_id", "metric_name") in {tuple(u["column_names"]) for u in metric_uniques}


def test_unacknowledged_alert_index_is_partial(store):
    with store.connect() as connection:
        if store.dialect.name == "postgresql":
            definition = connection.execute(
                # This store's own schema: other test stores on the server have the same index.
                sa.text(
                    "SELECT indexdef FROM pg_indexes "
                    "WHERE indexname = :n AND schemaname = current_schema()"
                ),
                {"n": "idx_watchtower_alerts_unacknowledged"},
            ).scalar_one()
        else:
            definition = connection.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = :n"),
                {"n": "idx_watchtower_alerts_unacknowledged"},
            ).scalar_one()
    assert "WHERE" in definition.upper() and "NOT IS_ACKNOWLEDGED" in definition.upper()


def test_seeded_sources_and_metrics_are_present_once(store):
    with store.begin() as connection:
        seed_reference_rows(connection)  # a second run must not duplicate
        sources = set(
            connection.execute(sa.select(api_sources.c.provider, api_sources.c.endpoint)).all()
        )
        metrics = dict(
            connection.execute(
                sa.text("SELECT metric_name, metric_unit FROM metric_definitions")
            ).all()
        )
        count = connection.execute(sa.text("SELECT count(*) FROM api_sources")).scalar_one()
    assert {(s["provider"], s["endpoint"]) for s in SEEDED_SOURCES} <= sources
    assert count == len(sources)
    assert {name: unit for name, _, _, unit, _, _ in SEEDED_METRICS}.items() <= metrics.items()


def test_raw_sql_insert_gets_seed_defaults(store):
    # Seed 004's own "add more as needed" statement, verbatim.
    with store.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO api_sources (provider, endpoint, display_name, refresh_interval_minutes) "
                "VALUES ('shopify', 'orders', 'Shopify Orders', 60)"
            )
        )
        row = connection.execute(
            sa.select(api_sources).where(api_sources.c.endpoint == "orders")
        ).one()
    assert isinstance(row.id, uuid.UUID)
    assert row.is_active is True
    assert row.created_at.tzinfo is UTC


def test_updated_at_is_kept_current_by_the_trigger(store):
    past = datetime(2020, 1, 1, tzinfo=UTC)
    trigger = "update_api_sources_updated_at"
    with store.begin() as connection:
        # The PostgreSQL trigger overwrites any explicit updated_at, so backdating needs it off.
        if store.dialect.name == "postgresql":
            connection.execute(sa.text(f"ALTER TABLE api_sources DISABLE TRIGGER {trigger}"))
        connection.execute(api_sources.update().values(updated_at=past))
        if store.dialect.name == "postgresql":
            connection.execute(sa.text(f"ALTER TABLE api_sources ENABLE TRIGGER {trigger}"))
    with store.begin() as connection:
        connection.execute(
            api_sources.update().where(api_sources.c.endpoint == "cvr").values(display_name="CVR")
        )
    with store.connect() as connection:
        stamps = dict(
            connection.execute(sa.select(api_sources.c.endpoint, api_sources.c.updated_at)).all()
        )
    assert stamps["cvr"] > past
    assert stamps["clients"] == past


def test_records_round_trip_arrays_json_decimals_and_timestamps(store):
    stamp = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    with store.begin() as connection:
        source_id = connection.execute(
            sa.select(api_sources.c.id).where(api_sources.c.endpoint == "cvr")
        ).scalar_one()
        snapshot_id, record_id = uuid.uuid4(), uuid.uuid4()
        connection.execute(
            api_snapshots.insert().values(
                id=snapshot_id, source_id=source_id, client_id="acme-outdoor"
            )
        )
        connection.execute(
            api_records.insert().values(
                id=record_id,
                snapshot_id=snapshot_id,
                client_id="acme-outdoor",
                external_id="cvr-2026-11",
                tags=["high-value", "vip"],
                amount=Decimal("1234.5678"),
                quantity=3,
                record_date=stamp,
                extra={"source_row": 7},
            )
        )
        connection.execute(
            api_record_metrics.insert().values(
                record_id=record_id, metric_name="cvr", metric_value=Decimal("2.345678")
            )
        )
    with store.connect() as connection:
        record = connection.execute(sa.select(api_records)).one()
        metric = connection.execute(sa.select(api_record_metrics)).one()
        snapshot = connection.execute(sa.select(api_snapshots)).one()
    assert record.tags == ["high-value", "vip"]
    assert record.amount == Decimal("1234.5678")
    assert record.record_date == stamp
    assert record.extra == {"source_row": 7}
    assert metric.metric_value == Decimal("2.345678")
    assert (snapshot.status, snapshot.snapshot_type, snapshot.total_records) == (
        "pending",
        "scheduled",
        0,
    )


def test_a_sqlite_file_path_opens_a_seeded_store(tmp_path):
    engine = open_store(tmp_path / "nested" / "ops.sqlite")
    assert (tmp_path / "nested" / "ops.sqlite").exists()
    with engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1
        assert connection.execute(sa.text("SELECT count(*) FROM api_sources")).scalar_one() == 6


def test_create_schema_twice_is_harmless(tmp_path):
    engine = create_store_engine(f"sqlite:///{tmp_path / 'twice.sqlite'}")
    create_schema(engine)
    create_schema(engine)
    assert set(sa.inspect(engine).get_table_names()) >= SEED_TABLES


def test_row_level_security_ships_commented_out():
    statements = [
        line for line in ROW_LEVEL_SECURITY_SQL.splitlines() if "ENABLE ROW LEVEL" in line
    ]
    assert len(statements) == 6
    assert all(line.startswith("-- ") for line in statements)
