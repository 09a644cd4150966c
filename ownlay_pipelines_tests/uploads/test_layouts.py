"""Exports recognised by their header: Shopify's orders export, one row per line item, loads one
row per order without a mapping file, its further line-item rows skipped (not quarantined)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl

from ownlay_pipelines.cli import main
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.layouts import SHOPIFY_ORDERS, detect_layout
from ownlay_pipelines.uploads.load import load_upload
from ownlay_pipelines.uploads.mapping import normalise_header
from ownlay_pipelines_tests.uploads.files import HASH_KEY, rows, upload, workspace

SHOPIFY_EXPORT = Path(__file__).parent / "fixtures" / "shopify_orders_export.csv"
"""Four orders as Shopify admin → Orders → Export writes them (newest first, 79 columns):
#1004 paid (one item), #1003 voided and cancelled (two items), #1002 refunded (one item),
#1001 paid with a discount (three items; order total 147.50, not the sum of its lines)."""


def _orders(tmp_path: Path, text: str, hasher: PiiHasher | None = None):
    result = upload(tmp_path, text, name="orders_export.csv", kind=UploadKind.ORDERS, hasher=hasher)
    return result, rows(tmp_path, "raw/uploads/orders")


def test_shopify_orders_export_loads_one_row_per_order_without_a_mapping_file(tmp_path):
    hasher = PiiHasher(HASH_KEY)
    result, orders = _orders(tmp_path, SHOPIFY_EXPORT.read_text(), hasher)

    assert (result.rows, result.quarantined, result.reasons) == (4, 0, {})
    assert result.skipped == {"line item of the order above": 3}
    assert result.detected["export"] == "Shopify orders export"
    assert [
        (o["order_id"], o["order_name"], o["order_date"], o["total"], o["status"]) for o in orders
    ] == [
        ("5801234568004", "#1004", date(2026, 11, 5), Decimal("1249"), "paid"),
        ("5801234568003", "#1003", date(2026, 11, 4), Decimal("25"), "voided"),
        ("5801234568002", "#1002", date(2026, 11, 3), Decimal("59"), "refunded"),
        ("5801234568001", "#1001", date(2026, 11, 3), Decimal("147.5"), "paid"),
    ]
    assert [o["source_line"] for o in orders] == [2, 3, 5, 6]
    assert {o["currency"] for o in orders} == {"USD"}
    # `-0500` after a space, as Shopify writes it: 09:10 in New York is 14:10 UTC.
    assert orders[1]["cancelled_at"] == datetime(2026, 11, 4, 14, 10, tzinfo=UTC)
    assert [o["cancelled_at"] for o in orders if o["order_name"] != "#1003"] == [None] * 3
    assert orders[2]["refunded_amount"] == Decimal("59")
    # Shopify's `Source` is the sales channel (`web`), not a UTM source.
    assert {o["utm_source"] for o in orders} == {None}


def test_shopify_export_keeps_e_mails_only_as_keyed_hashes_and_no_names_or_addresses(tmp_path):
    hasher = PiiHasher(HASH_KEY)
    _, orders = _orders(tmp_path, SHOPIFY_EXPORT.read_text(), hasher)

    assert orders[3]["customer_email_hash"] == hasher.hash_email("jane.doe@example.com")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "lake").rglob("*.parquet"))
    for clear in (b"Example.com", b"example.org", b"Jane Doe", b"221 W 57th", b"555-0123"):
        assert clear not in stored


def test_line_items_of_a_quarantined_order_are_skipped_and_an_orphan_line_is_a_bad_row(tmp_path):
    text = SHOPIFY_EXPORT.read_text().replace(",147.50,", ",147.50 USD?,")
    orphan = "#0999" + "," * 15 + ",1,Gift Card,10.00" + "," * 60
    result, orders = _orders(tmp_path, text + orphan + "\n", PiiHasher(HASH_KEY))

    assert [o["order_name"] for o in orders] == ["#1004", "#1003", "#1002"]
    assert result.skipped == {"line item of the order above": 3}
    assert result.reasons == {
        "Id: required value is empty": 1,
        "Total: not a number (decimal '.')": 1,
    }
    quarantined = rows(tmp_path, "quarantine/uploads/orders", order="line")
    assert [(r["line"], r["column"]) for r in quarantined] == [(6, "Total"), (9, "Id")]


def test_a_generic_orders_file_is_not_taken_for_a_shopify_export():
    woo = ["Order Number", "Order Date", "Name", "Order Total Amount", "Source"]
    assert detect_layout(UploadKind.ORDERS, [normalise_header(h) for h in woo]) is None
    header = SHOPIFY_EXPORT.read_text().splitlines()[0].split(",")
    normalised = [normalise_header(h) for h in header]
    assert detect_layout(UploadKind.ORDERS, normalised) is SHOPIFY_ORDERS
    assert detect_layout(UploadKind.COSTS, normalised) is None


def test_cli_json_reports_skipped_line_items_apart_from_quarantined_rows(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OWNLAY_PII_HASH_KEY", HASH_KEY.decode())
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    command = ["upload", str(SHOPIFY_EXPORT), "--workspace", "acme-outdoor", "--kind", "orders"]

    assert main([*command, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "rows": 4,
        "quarantined": 0,
        "reasons": {},
        "skipped": 3,
        "skipped_reasons": {"line item of the order above": 3},
    }


REPEATED_ORDERS = (
    "Order ID,Date,Total,Currency,Product\n"
    "1001,2026-11-21,50.00,USD,Tent\n"  # line 2: the order
    "1001,2026-11-21,,USD,Pegs\n"  # line 3: a further line item (no total of its own)
    "1002,2026-11-21,20.00,USD,Mug\n"
    "\n"
    "1001,2026-11-22,55.00,USD,Tent\n"  # line 6: another row claiming to be order 1001
    "1002,2026-11-21,20.00,USD,Mug\n"  # line 7: 1002 again, same values
    "1003,2026-11-23,,USD,Lamp\n"  # line 8: no total and no earlier row: a bad row
)


def test_a_repeated_order_id_loads_the_order_once(tmp_path):
    result, loaded = _orders(tmp_path, REPEATED_ORDERS)

    assert [(r["order_id"], r["total"], r["source_line"]) for r in loaded] == [
        ("1001", Decimal("50"), 2),
        ("1002", Decimal("20"), 4),
    ]
    assert result.skipped == {"line item of the order above": 1}
    quarantined = rows(tmp_path, "quarantine/uploads/orders", order="line")
    assert [(q["line"], q["column"], q["reason"]) for q in quarantined] == [
        (6, "Order ID", "order id repeats line 2"),
        (7, "Order ID", "order id repeats line 4"),
        (8, "Total", "required value is empty"),
    ]
    assert json.loads(quarantined[0]["raw_record"])["Total"] == "55.00"
    assert result.reasons == {
        "Order ID: order id repeats an earlier row": 2,
        "Total: required value is empty": 1,
    }


def test_a_repeated_order_id_in_a_sheet_names_the_first_rows_sheet_row(tmp_path):
    path = tmp_path / "orders.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Orders of November"])  # row 1: a title above the header
    sheet.append(["Order ID", "Date", "Total"])  # row 2
    sheet.append(["1001", date(2026, 11, 21), 50])  # row 3
    sheet.append(["1001", date(2026, 11, 21), None])  # row 4: a line item
    sheet.append(["1001", date(2026, 11, 22), 55])  # row 5: another row claiming 1001
    book.save(path)
    [result] = load_upload(
        path, workspace=workspace(), kind=UploadKind.ORDERS, lake_root=tmp_path / "lake"
    )

    assert [(r["order_id"], r["total"]) for r in rows(tmp_path, "raw/uploads/orders")] == [
        ("1001", Decimal("50"))
    ]
    assert result.skipped == {"line item of the order above": 1}
    [repeated] = rows(tmp_path, "quarantine/uploads/orders", order="line")
    assert (repeated["line"], repeated["reason"]) == (5, "order id repeats line 3")
