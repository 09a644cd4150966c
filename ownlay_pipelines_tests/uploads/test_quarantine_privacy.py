"""The quarantine of uploads keeps why a row was refused, never the buyer in clear: e-mail columns
as their keyed hash, name/address/phone columns removed, every other cell masked as free text."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.quarantine_record import (
    HASHED_PREFIX,
    REMOVED,
    CellTreatment,
    record_policy,
)
from ownlay_pipelines_tests.uploads.files import HASH_KEY, rows, upload
from ownlay_pipelines_tests.uploads.test_layouts import SHOPIFY_EXPORT

HASHER = PiiHasher(HASH_KEY)
JANE = ("jane.doe@example.com", "Jane Doe", "221 W 57th", "212-555-0123", "2125550123", "10019")
"""Order #1001's buyer in the fixture: e-mail, name, street, phone (two forms), zip."""


def _scan_lake(lake: Path, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """Every Parquet file under `lake` (raw and quarantine), as bytes and decoded: which of
    `forbidden` each holds, case-insensitively."""
    hits: dict[str, list[str]] = {}
    for path in sorted(lake.rglob("*.parquet")):
        texts = [
            path.read_bytes().decode("latin-1").lower(),
            json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False).lower(),
        ]
        found = [clear for clear in forbidden if any(clear.lower() in t for t in texts)]
        if found:
            hits[str(path.relative_to(lake))] = found
    return hits


def _shopify_with_bad_rows() -> str:
    """The fixture with #1001's total refused, and a line for Jane the reader cannot split (an
    unquoted comma in her street)."""
    text = SHOPIFY_EXPORT.read_text().replace(",147.50,", ",147.50 USD?,")
    header = text.splitlines()[0].split(",")
    ragged = dict.fromkeys(header, "")
    ragged.update(
        {"Name": "#1005", "Email": "jane.doe@example.com", "Total": "10.00", "Id": "5801"}
    )
    ragged.update({"Billing Name": "Jane Doe", "Billing Street": "221 W 57th St, Apt 4"})
    ragged.update({"Billing Zip": "10019", "Billing Phone": "+1 212-555-0123"})
    ragged["Payment References"] = "rX1"  # the reader accepts a surplus empty last field
    return text + ",".join(ragged.values()) + "\n"


def test_a_bad_shopify_row_leaves_no_e_mail_phone_name_or_street_in_clear_in_the_lake(tmp_path):
    result = upload(
        tmp_path, _shopify_with_bad_rows(), name="orders.csv", kind=UploadKind.ORDERS, hasher=HASHER
    )

    assert result.reasons == {
        "Total: not a number (decimal '.')": 1,
        "row: Expected Number of Columns: 79 Found: 80": 1,
    }
    lake = tmp_path / "lake"
    assert {p.relative_to(lake).parts[0] for p in lake.rglob("*.parquet")} == {"raw", "quarantine"}
    assert _scan_lake(lake, JANE) == {}


def test_the_quarantined_shopify_row_keeps_line_reason_and_its_non_personal_cells(tmp_path):
    upload(
        tmp_path, _shopify_with_bad_rows(), name="orders.csv", kind=UploadKind.ORDERS, hasher=HASHER
    )

    bad, ragged = rows(tmp_path, "quarantine/uploads/orders", order="line")
    assert (bad["line"], bad["column"], bad["reason"]) == (
        6,
        "Total",
        "not a number (decimal '.')",
    )
    record = json.loads(bad["raw_record"])
    # The e-mail column is the keyed hash the loaded orders store, so erasure can match it.
    assert record["Email"] == HASHED_PREFIX + HASHER.hash_email("jane.doe@example.com")
    for personal in ("Billing Name", "Billing Street", "Billing Address1", "Billing City"):
        assert record[personal] == REMOVED
    for personal in ("Billing Zip", "Billing Phone", "Shipping Name", "Shipping Phone", "Phone"):
        assert record[personal] == REMOVED
    assert record["Billing Address2"] is None  # empty stays empty
    assert record["Total"] == "147.50 USD?"
    assert record["Name"] == "#1001"  # mapped to the order name: not a person's name
    assert record["Lineitem name"] == "Trail Runner 2, Size 42"
    assert record["Created at"] == "2026-11-03 14:22:05 -0500"
    assert record["Billing Country"] == "US"
    assert len(record) == 79
    assert ragged["line"] == 9 and ragged["column"] is None
    assert ragged["raw_record"] == f"{REMOVED} 80 fields, the header has 79"


def test_an_e_mail_or_phone_typed_in_a_bad_costs_row_is_masked_in_the_quarantine(tmp_path):
    text = (
        "Date,Campaign,Network,Spend\n"
        "2026-11-21,Retarget jane.doe@example.com,Pinterest,n/a\n"
        "2026-11-21,Call +1 212-555-0123,Reddit,1.00,extra\n"
        "2026-11-22,Pins,Pinterest,3.00\n"
    )
    result = upload(tmp_path, text)

    assert result.rows == 1
    bad, ragged = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert json.loads(bad["raw_record"]) == {
        "Date": "2026-11-21",
        "Campaign": "Retarget [email]",
        "Network": "Pinterest",
        "Spend": "n/a",
    }
    # Without personal columns a ragged line is kept, masked as free text.
    assert ragged["raw_record"] == "2026-11-21,Call [phone],Reddit,1.00,extra"


def test_a_bad_events_row_keeps_its_e_mail_as_the_keyed_hash_and_masks_the_rest(tmp_path):
    text = (
        "timestamp,event,anonymous_id,email,utm_campaign,customer_name\n"
        "2026-11-21T10:00:00Z,purchase,a1,jane.doe@example.com,bf,Jane Doe\n"
        "not a time,purchase,a2,Jane.Doe@Example.com,from 203.0.113.7,Jane Doe\n"
    )
    result = upload(tmp_path, text, name="events.csv", kind=UploadKind.EVENTS, hasher=HASHER)

    assert result.rows == 1
    [bad] = rows(tmp_path, "quarantine/uploads/events", order="line")
    assert json.loads(bad["raw_record"]) == {
        "timestamp": "not a time",
        "event": "purchase",
        "anonymous_id": "a2",
        "email": HASHED_PREFIX + HASHER.hash_email("jane.doe@example.com"),
        "utm_campaign": "from [ip]",
        "customer_name": REMOVED,
    }
    assert _scan_lake(tmp_path / "lake", ("jane.doe", "Jane Doe", "203.0.113.7")) == {}


@pytest.mark.parametrize(
    ("header", "treatment"),
    [
        ("Billing First Name", CellTreatment.REMOVE),  # WooCommerce
        ("Bill-to Name", CellTreatment.REMOVE),  # Magento
        ("Customer Phone", CellTreatment.REMOVE),
        ("first name", CellTreatment.REMOVE),
        ("Last Name", CellTreatment.REMOVE),
        ("Address", CellTreatment.REMOVE),
        ("E-Mail", CellTreatment.REMOVE),
        ("Shipping Zip", CellTreatment.REMOVE),
        ("name", CellTreatment.REMOVE),
        ("Billing Country", CellTreatment.MASK),
        ("City", CellTreatment.MASK),  # alone a report dimension, not an address
        ("Lineitem name", CellTreatment.MASK),
        ("Payment Method", CellTreatment.MASK),
    ],
)
def test_unmapped_columns_are_treated_by_their_header(header: str, treatment: CellTreatment):
    policy = record_policy(UploadKind.ORDERS, ("Order ID", header), {"order_id": 0})

    assert policy.treatments == (CellTreatment.MASK, treatment)


def test_a_mapped_column_is_treated_by_its_target_whatever_its_header():
    header = ("Name", "E-Mail", "Total")
    columns = {"order_id": 0, "customer_email": 1, "total": 2}

    hashed = record_policy(UploadKind.ORDERS, header, columns, hasher=HASHER)
    unkeyed = record_policy(UploadKind.ORDERS, header, columns)

    assert hashed.treatments == (
        CellTreatment.MASK,
        CellTreatment.HASH_EMAIL,
        CellTreatment.MASK,
    )
    assert json.loads(hashed.record(["#1", " A@B.io ", None])) == {
        "Name": "#1",
        "E-Mail": HASHED_PREFIX + HASHER.hash_email("a@b.io"),
        "Total": None,
    }
    # No key, no pseudonym: the cell is removed rather than kept in clear.
    assert json.loads(unkeyed.record(["#1", "a@b.io", "1"]))["E-Mail"] == REMOVED
