"""GDPR access and erasure: an export finds a person in every store, a deletion removes them from
every store (and nobody else), later events of theirs are dropped at ingest, and each request is
audited without the identifier in clear."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ownlay_pipelines.events.compaction import compact_closed_days
from ownlay_pipelines.ingest.flush import flush_buffer
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines.lake.quarantine import QUARANTINE_SCHEMA, quarantine_ref
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.writer import write_partition
from ownlay_pipelines.lifecycle.gdpr import audit_entries, delete_subject, export_subject
from ownlay_pipelines.lifecycle.stores import Stores, stores_at
from ownlay_pipelines.lifecycle.subject import DataSubject, IdentifierKind
from ownlay_pipelines.lifecycle.suppression import SUPPRESSIONS
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import load_upload
from ownlay_pipelines_tests.ingest.lake_events import append_rows, lake_rows
from ownlay_pipelines_tests.ingest.payloads import NOW, PII_KEY, auth_header, ownlay_event
from ownlay_pipelines_tests.lifecycle.stores_fixture import add_snapshot, add_webhook
from ownlay_pipelines_tests.uploads.files import workspace as upload_workspace
from ownlay_pipelines_tests.uploads.test_layouts import SHOPIFY_EXPORT

ANN = "Ann.Smith@Example.com"
BOB = "bob@example.com"
HASHER = PiiHasher(PII_KEY.encode())
ORDERS = TableRef.of("raw", "shopify", "orders")
UPLOADS = TableRef.of("raw", "uploads", "orders")
EMPTY = {
    "lake_rows": 0,
    "lake_files": 0,
    "event_buffer_rows": 0,
    "webhook_deliveries": 0,
    "ops_store_rows": 0,
}


def _events(numbers: range, email: str, day: date) -> list[dict]:
    return lake_rows(
        numbers,
        email=email,
        timestamp=f"{day.isoformat()}T10:00:00Z",
        anonymous_id="anon-ann" if email == ANN else None,
    )


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    """Ann and Bob in every store of workspace acme (and Ann's e-mail in workspace other)."""
    stores = stores_at(tmp_path)
    day1, day2 = date(2026, 11, 19), date(2026, 11, 20)
    # Flushed and compacted (day 1), flushed parts (day 2), and still pending in the buffer.
    append_rows(
        stores.event_buffer, _events(range(0, 3), ANN, day1) + _events(range(3, 8), BOB, day1)
    )
    flush_buffer(stores.event_buffer, stores.lake_root, now=NOW)
    compact_closed_days(stores.lake_root, today=day2, grace=timedelta(0))
    append_rows(
        stores.event_buffer, _events(range(8, 10), ANN, day2) + _events(range(10, 12), BOB, day2)
    )
    flush_buffer(stores.event_buffer, stores.lake_root, now=NOW)
    append_rows(
        stores.event_buffer, _events(range(12, 13), ANN, day2) + _events(range(13, 15), BOB, day2)
    )
    # Store rows with hashed e-mails (Shopify orders, an upload) and a quarantined raw record.
    hashes = [HASHER.hash_email(ANN), HASHER.hash_email(BOB), None]
    write_partition(
        stores.lake_root,
        ORDERS,
        pa.table({"order_id": ["o1", "o2", "o3"], "customer_email_hash": hashes}),
        workspace_id="acme",
        report_date=day1,
    )
    write_partition(
        stores.lake_root,
        UPLOADS,
        pa.table({"order_id": ["u1", "u2"], "email_hash": hashes[:2]}),
        workspace_id="acme",
        report_date=day2,
    )
    write_partition(
        stores.lake_root,
        ORDERS,
        pa.table({"order_id": ["x1"], "customer_email_hash": [HASHER.hash_email(ANN)]}),
        workspace_id="other",
        report_date=day1,
    )
    quarantined = [
        {
            "workspace_id": "acme",
            "report_date": day1,
            "account_id": "a",
            "field": "total",
            "reason": "not a number",
            "raw_record": json.dumps({"email": ANN.lower(), "total": "x"}),
        },
        {
            "workspace_id": "acme",
            "report_date": day1,
            "account_id": "a",
            "field": "total",
            "reason": "not a number",
            "raw_record": json.dumps({"email": BOB, "total": "y"}),
        },
    ]
    write_partition(
        stores.lake_root,
        quarantine_ref(UPLOADS),
        pa.Table.from_pylist(quarantined, schema=QUARANTINE_SCHEMA),
        workspace_id="acme",
        report_date=day1,
    )
    # A webhook body mentioning Ann (as received), one about Bob.
    body = {"id": 1, "customer": {"email": ANN, "first_name": "Ann"}}
    add_webhook(stores, "w-ann", received=NOW, body=body)
    add_webhook(stores, "w-bob", received=NOW, body={"id": 2, "email": BOB})
    # Ops store: a captured record with Ann's e-mail (any case), one with Bob's.
    add_snapshot(stores.ops_store, NOW, email=ANN.upper())
    add_snapshot(stores.ops_store, NOW, email=BOB)
    # A CAPI outbox holding raw contact data until delivered.
    outbox = sa.Table(
        "capi_outbox",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("workspace_id", sa.String),
        sa.Column("email", sa.String),
        sa.Column("user_id", sa.String),
    )
    outbox.create(stores.ops_store)
    with stores.ops_store.begin() as connection:
        connection.execute(
            outbox.insert(),
            [
                {"workspace_id": "acme", "email": ANN.lower(), "user_id": "user_0"},
                {"workspace_id": "acme", "email": BOB, "user_id": "user_3"},
            ],
        )
    return stores


def _ann(kind: IdentifierKind = IdentifierKind.EMAIL, value: str = ANN) -> DataSubject:
    return DataSubject.of("acme", kind, value, HASHER)


def _lake_row_count(stores: Stores) -> int:
    return sum(
        pq.ParquetFile(p).metadata.num_rows for p in Path(stores.lake_root).rglob("*.parquet")
    )


def test_export_finds_the_person_in_every_store(stores: Stores):
    result = export_subject(stores, _ann(), requested_by="dpo@acme", now=NOW)

    assert result.counts == {
        # 3 + 2 events, 1 Shopify order, 1 upload row, 1 quarantined record (not workspace other)
        "lake_rows": 8,
        "lake_files": 5,
        "event_buffer_rows": 1,
        "webhook_deliveries": 1,
        "ops_store_rows": 2,  # the captured record and the CAPI outbox row
    }
    document = result.document
    tables = {item["table"] for item in document["lake"]}
    assert tables == {
        "raw/events",
        "raw/shopify/orders",
        "raw/uploads/orders",
        "quarantine/uploads/orders",
    }
    events = [
        row for item in document["lake"] if item["table"] == "raw/events" for row in item["rows"]
    ]
    assert {row["event_id"][-2:] for row in events} == {"00", "01", "02", "08", "09"}
    assert document["webhook_deliveries"][0]["body"]["customer"]["first_name"] == "Ann"
    assert set(document["ops_store"]) == {"api_records", "capi_outbox"}
    assert document["suppressed"] is False


def test_ids_match_only_their_own_column(stores: Stores):
    by_user = export_subject(
        stores, _ann(IdentifierKind.USER_ID, "user_9"), requested_by="t", now=NOW
    )
    by_anonymous = export_subject(
        stores, _ann(IdentifierKind.ANONYMOUS_ID, "anon-ann"), requested_by="t", now=NOW
    )

    assert by_user.counts["lake_rows"] == 1 and by_user.counts["ops_store_rows"] == 0
    assert by_anonymous.counts["lake_rows"] == 5
    assert by_anonymous.counts["event_buffer_rows"] == 1


def test_after_a_delete_an_export_finds_nothing_in_any_store(stores: Stores, tmp_path: Path):
    before = _lake_row_count(stores)

    deleted = delete_subject(stores, _ann(), requested_by="dpo@acme", now=NOW)

    assert deleted.counts == {
        "lake_rows": 8,
        "lake_files": 5,
        "event_buffer_rows": 1,
        "webhook_deliveries": 1,
        "ops_store_rows": 2,
    }
    after = export_subject(stores, _ann(), requested_by="dpo@acme", now=NOW)
    assert after.counts == EMPTY
    assert after.document["suppressed"] is True
    # Nobody else lost a row: Bob's 5 + 2 + 2 events, his order, upload and quarantined record,
    # workspace other's order.
    assert _lake_row_count(stores) == before - 8
    bob = export_subject(stores, _ann(value=BOB), requested_by="t", now=NOW)
    assert bob.counts == {
        "lake_rows": 5 + 2 + 1 + 1 + 1,
        "lake_files": 5,
        "event_buffer_rows": 2,
        "webhook_deliveries": 1,
        "ops_store_rows": 2,
    }
    other = export_subject(
        stores,
        DataSubject.of("other", IdentifierKind.EMAIL, ANN, HASHER),
        requested_by="t",
        now=NOW,
    )
    assert other.counts["lake_rows"] == 1
    # The buffer still flushes Bob's pending events; Ann's do not reappear.
    flush_buffer(stores.event_buffer, stores.lake_root, now=NOW)
    assert export_subject(stores, _ann(), requested_by="t", now=NOW).counts == EMPTY
    flushed = export_subject(stores, _ann(value=BOB), requested_by="t", now=NOW).counts
    assert (flushed["lake_rows"], flushed["event_buffer_rows"]) == (12, 0)

    again = delete_subject(stores, _ann(), requested_by="dpo@acme", now=NOW)
    assert again.counts == EMPTY


def test_each_request_is_audited_with_the_identifier_hashed(stores: Stores):
    export_subject(stores, _ann(), requested_by="dpo@acme", now=NOW)
    delete_subject(stores, _ann(), requested_by="dpo@acme", now=NOW + timedelta(minutes=5))

    entries = audit_entries(stores.ops_store, "acme")

    assert [(e["action"], e["requested_by"]) for e in entries] == [
        ("export", "dpo@acme"),
        ("delete", "dpo@acme"),
    ]
    assert entries[1]["at"] == NOW + timedelta(minutes=5)
    assert entries[1]["counts"]["lake_rows"] == 8
    assert entries[1]["identifier_hash"] == HASHER.hash_email(ANN)
    dumped = json.dumps([{k: str(v) for k, v in e.items()} for e in entries]).lower()
    assert ANN.lower() not in dumped


def test_later_events_of_an_erased_person_are_dropped_at_ingest(
    stores: Stores, client: TestClient, acme_key: IssuedApiKey
):
    delete_subject(stores, _ann(), requested_by="dpo@acme", now=NOW)
    delete_subject(stores, _ann(IdentifierKind.USER_ID, "user_77"), requested_by="dpo", now=NOW)
    SUPPRESSIONS.clear()

    response = client.post(
        "/api/v1/events",
        json=[
            ownlay_event(40, email=ANN.upper()),  # same person, other spelling
            ownlay_event(77, email="carol@example.com"),  # suppressed by user id
            ownlay_event(41, email=BOB),
        ],
        headers=auth_header(acme_key.plaintext),
    )

    assert response.status_code == 202
    assert response.json()["stored"] == 1
    assert export_subject(stores, _ann(), requested_by="t", now=NOW).counts == EMPTY
    assert (
        export_subject(stores, _ann(value=BOB), requested_by="t", now=NOW).counts[
            "event_buffer_rows"
        ]
        == 3
    )


def test_bad_identifiers_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="email"):
        DataSubject.of("acme", IdentifierKind.EMAIL, "not-an-address", HASHER)
    with pytest.raises(ValueError, match="user_id"):
        DataSubject.of("acme", IdentifierKind.USER_ID, "  ", HASHER)
    with pytest.raises(ValueError):
        DataSubject.of("../etc", IdentifierKind.USER_ID, "u1", HASHER)


def test_cli_export_and_delete(stores: Stores, tmp_path: Path, monkeypatch, capsys):
    from ownlay_pipelines.cli import main

    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OWNLAY_DATABASE_URL", raising=False)
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", PII_KEY)
    out = tmp_path / "export.json"

    assert main(["gdpr", "export", "--workspace", "acme", "--email", ANN, "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["counts"]["lake_rows"] == 8
    assert out.stat().st_mode & 0o077 == 0

    assert (
        main(["gdpr", "delete", "--workspace", "acme", "--email", ANN, "--requested-by", "dpo"])
        == 0
    )
    assert "lake_rows 8" in capsys.readouterr().out
    assert main(["gdpr", "export", "--workspace", "acme", "--email", ANN, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["counts"] == EMPTY

    monkeypatch.delenv("OWNLAY_PII_HASH_KEY")
    assert main(["gdpr", "export", "--workspace", "acme", "--user-id", "u", "--out", str(out)]) == 2
    assert "OWNLAY_PII_HASH_KEY" in capsys.readouterr().out


def test_dagster_job_deletes_and_reports_counts_and_refuses_bad_config(
    stores: Stores, tmp_path: Path, monkeypatch
):
    import dagster as dg

    from ownlay_pipelines.defs.lifecycle import gdpr_request
    from ownlay_pipelines.defs.resources import LakeResource, OpsStoreResource

    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", PII_KEY)
    resources = {
        "lake": LakeResource(data_dir=str(tmp_path)),
        "ops_store": OpsStoreResource(database_url=str(stores.ops_store.url)),
    }
    request = {"workspace_id": "acme", "identifier_kind": "email", "identifier": ANN}

    def run(action: str, **extra: str) -> dg.ExecuteInProcessResult:
        config = {"ops": {"gdpr_request_op": {"config": {**request, "action": action, **extra}}}}
        return gdpr_request.execute_in_process(
            run_config=config, resources=resources, raise_on_error=False
        )

    deleted = run("delete")

    assert deleted.success
    (output,) = [e for e in deleted.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert (metadata["lake_rows"], metadata["ops_store_rows"]) == (8, 2)
    assert ANN.lower() not in json.dumps(metadata).lower()
    exported = run("export")
    (output,) = [e for e in exported.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    export_file = Path(output.step_output_data.metadata["export_file"].value)
    assert json.loads(export_file.read_text())["counts"] == EMPTY
    assert audit_entries(stores.ops_store, "acme")[0]["requested_by"].startswith("dagster run ")

    refused = run("forget")
    assert not refused.success
    assert "action must be 'export' or 'delete'" in str(
        refused.failure_data_for_node("gdpr_request_op").error
    )


def test_an_uploaded_bad_row_kept_only_with_the_e_mail_hash_is_found_and_erased(tmp_path: Path):
    # A Shopify export whose orders #1001 (Jane) and #1004 (Sam) are refused: the quarantine
    # keeps their e-mails only as keyed hashes, yet an e-mail request finds and erases Jane's.
    stores = stores_at(tmp_path)
    export = SHOPIFY_EXPORT.read_text()
    export = export.replace(",147.50,", ",147.50 USD?,").replace(",1249.00,", ",1249.00 ??,")
    source = tmp_path / "orders_export.csv"
    source.write_text(export)
    load_upload(
        source,
        workspace=upload_workspace(),
        kind=UploadKind.ORDERS,
        lake_root=stores.lake_root,
        hasher=HASHER,
    )
    jane = DataSubject.of("acme", IdentifierKind.EMAIL, "jane.doe@example.com", HASHER)
    quarantine = next((stores.lake_root / "quarantine/uploads/orders").rglob("*.parquet"))
    assert "jane.doe" not in quarantine.read_bytes().decode("latin-1").lower()

    found = export_subject(stores, jane, requested_by="dpo@acme", now=NOW)
    deleted = delete_subject(stores, jane, requested_by="dpo@acme", now=NOW)

    assert found.counts["lake_rows"] == deleted.counts["lake_rows"] == 1
    [item] = found.document["lake"]
    assert item["table"] == "quarantine/uploads/orders"
    assert [row["line"] for row in item["rows"]] == [6]
    left = pq.read_table(quarantine).to_pylist()
    assert [(row["line"], row["column"]) for row in left] == [(2, "Total")]  # Sam's stays
    assert export_subject(stores, jane, requested_by="t", now=NOW).counts == EMPTY
