"""Spend exports as the ad platforms' UIs write them, in English and other languages: their
headers are suggested without a mapping file, and the currency a money header names is used;
and the files people send by mistake (a damaged or renamed spreadsheet) are refused with a reason."""

from __future__ import annotations

import codecs
from datetime import date
from decimal import Decimal

import pytest

from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import UploadError
from ownlay_pipelines.uploads.mapping import (
    MappingFile,
    header_currency,
    normalise_header,
    suggest_mapping,
    with_header_currency,
)
from ownlay_pipelines.uploads.xlsx import cell_text
from ownlay_pipelines_tests.uploads.files import HASH_KEY, rows, upload, workspace


def test_meta_ads_manager_export_loads_with_the_currency_of_its_spend_header(tmp_path):
    text = (
        "Reporting starts,Reporting ends,Campaign name,Amount spent (EUR),Impressions,Link clicks\n"
        '2026-11-01,2026-11-01,Retargeting DE,"12,50",1000,10\n'
        '2026-11-02,2026-11-02,Retargeting DE,"1.012,50",2000,20\n'
    )
    result = upload(tmp_path, text.encode("utf-8-sig"), ws=workspace(currency="USD"))

    assert (result.rows, result.quarantined) == (2, 0)
    loaded = rows(tmp_path)
    assert [(r["report_date"], r["spend"], r["currency"], r["clicks"]) for r in loaded] == [
        (date(2026, 11, 1), Decimal("12.5"), "EUR", 10),
        (date(2026, 11, 2), Decimal("1012.5"), "EUR", 20),
    ]


def test_german_google_ads_export_in_utf16_with_accented_headers(tmp_path):
    lines = [
        "Kampagnenleistung",
        "1. November 2026 - 2. November 2026",
        "Tag\tKampagne\tWährungscode\tKosten\tImpr.\tKlicks",
        "01.11.2026\tMarke\tEUR\t1.234,56\t10.000\t321",
        "02.11.2026\tMarke\tEUR\t99,10\t5.000\t120",
        "Gesamt: Konto\t\tEUR\t1.333,66\t15.000\t441",
    ]
    content = codecs.BOM_UTF16_LE + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")
    result = upload(tmp_path, content)

    # The account's totals line (1.234,56 + 99,10) is a summary, not a bad row: skipped and
    # counted apart (it used to be quarantined as "Tag: not a date").
    assert (result.rows, result.quarantined) == (2, 0)
    assert result.skipped == {"summary row (totals)": 1}
    loaded = rows(tmp_path)
    assert [(r["report_date"], r["spend"], r["currency"], r["impressions"]) for r in loaded] == [
        (date(2026, 11, 1), Decimal("1234.56"), "EUR", 10_000),
        (date(2026, 11, 2), Decimal("99.1"), "EUR", 5_000),
    ]


def test_google_ads_no_data_marker_is_an_empty_cell_not_a_bad_row(tmp_path):
    text = (
        "Campaign,Day,Currency code,Cost,Impr.,Clicks\n"
        "Brand,2026-11-01,USD,12.50,--,--\n"
        'Brand,2026-11-02,USD,3.00,"--",4\n'
        "Brand,2026-11-03,USD,--,100,1\n"
    )
    for name in ("marked", "emptied"):
        (tmp_path / name).mkdir()
    marked = upload(tmp_path / "marked", text)
    emptied = upload(tmp_path / "emptied", text.replace('"--"', "").replace("--", ""))

    assert (marked.rows, marked.reasons) == (3, {})
    assert (emptied.rows, emptied.reasons) == (marked.rows, marked.reasons)
    loaded = rows(tmp_path / "marked")
    # No data is no value (NULL), not a measured 0.
    assert [(r["spend"], r["impressions"], r["clicks"]) for r in loaded] == [
        (Decimal("12.5"), None, None),
        (Decimal("3"), None, 4),
        (None, 100, 1),
    ]
    assert [r["spend"] for r in rows(tmp_path / "emptied")] == [r["spend"] for r in loaded]


def test_the_header_is_found_when_most_rows_leave_an_optional_cell_empty(tmp_path):
    text = (
        "Meta ads report\n"
        "Campaign name,Day,Amount spent (USD),Impressions,Link clicks,Results\n"
        "Prospecting,2026-11-01,10.00,1000,10,\n"
        "Prospecting,2026-11-02,11.00,1100,,\n"
        "Retargeting,2026-11-01,5.00,500,5,1\n"
    )
    result = upload(tmp_path, text)

    assert (result.rows, result.quarantined) == (3, 0)
    assert [r["spend"] for r in rows(tmp_path)] == [Decimal("10"), Decimal("11"), Decimal("5")]


@pytest.mark.parametrize(
    "header",
    [
        "Order Number,Order Date,Order Status,Order Total Amount,Order Currency,Billing Email Address",
        "Order ID,Date Created,Status,Order Total (inc tax),Currency Code,Customer Email",
        "ID,Purchase Date,Status,Grand Total (Base),Grand Total (Purchased),Currency,Email",
    ],
    ids=["woocommerce", "bigcommerce", "magento"],
)
def test_store_order_exports_load_without_a_mapping_file(tmp_path, header):
    magento = header.startswith("ID,")
    line = (
        "1001,2026-11-01,completed," + ("80.00," if magento else "") + "99.99,EUR,jane@example.com"
    )
    hasher = PiiHasher(HASH_KEY)
    content = f"{header}\n{line}\n"
    result = upload(tmp_path, content, name="orders.csv", kind=UploadKind.ORDERS, hasher=hasher)

    assert (result.rows, result.quarantined) == (1, 0)
    [order] = rows(tmp_path, "raw/uploads/orders")
    assert (order["order_id"], order["order_date"], order["total"], order["currency"]) == (
        "1001",
        date(2026, 11, 1),
        Decimal("99.99"),
        "EUR",
    )
    assert order["customer_email_hash"] == hasher.hash_email("jane@example.com")


def test_a_spreadsheet_no_data_marker_is_an_empty_cell():
    assert [cell_text(value) for value in ("--", "", None, "-", "---", 0.0)] == [
        None,
        None,
        None,
        "-",
        "---",
        "0",
    ]


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Amount spent (EUR)", "EUR"),
        ("Amount Spent (USD)", "USD"),
        ("Cost [GBP]", "GBP"),
        ("Spend in JPY", "JPY"),
        ("Spend CHF", "CHF"),
        ("Spend", None),
        ("Spend (NET)", None),  # upper case, but no currency
        ("Clicks (all)", None),  # ALL is a currency; lower case is a word
    ],
)
def test_a_currency_code_closing_a_header_is_read(header, code):
    assert header_currency(header) == code


def test_headers_are_matched_without_accents_case_or_currency_codes():
    headers = ["Día", "Campaña", "Coste (MXN)", "Clics"]
    assert normalise_header("Währung") == "wahrung"
    assert suggest_mapping(UploadKind.COSTS, headers) == {
        "report_date": 0,
        "campaign_name": 1,
        "spend": 2,
        "clicks": 3,
    }


def test_the_header_currency_yields_to_a_currency_column_a_default_or_disagreement():
    headers = ["Date", "Campaign", "Spend (EUR)", "Revenue (USD)", "Currency"]
    with_column = suggest_mapping(UploadKind.COSTS, headers)
    assert "currency" in with_column
    assert with_header_currency(UploadKind.COSTS, headers, with_column, None) == MappingFile()

    no_column = {"report_date": 0, "campaign_name": 1, "spend": 2, "conversion_value": 3}
    assert with_header_currency(UploadKind.COSTS, headers, no_column, None) == MappingFile()

    one_code = {"report_date": 0, "campaign_name": 1, "spend": 2}
    chosen = MappingFile(defaults={"currency": "GBP"})
    assert with_header_currency(UploadKind.COSTS, headers, one_code, chosen) == chosen
    assert with_header_currency(UploadKind.COSTS, headers, one_code, None) == MappingFile(
        defaults={"currency": "EUR"}
    )


def test_a_row_split_by_an_unquoted_thousands_comma_is_quarantined_under_a_trailing_delimiter(
    tmp_path,
):
    # Every line ends with a comma; `$1,000.00` unquoted splits its row into one field more.
    text = (
        "Date,Campaign,Spend,\n"
        "11/21/2026,Reddit A,$10.00,\n"
        "11/23/2026,Reddit A,$1,000.00,\n"
        "11/24/2026,Reddit A,$3.00,\n"
    )
    result = upload(tmp_path, text)

    assert (result.rows, result.quarantined) == (2, 1)
    assert [(r["source_line"], r["spend"]) for r in rows(tmp_path)] == [
        (2, Decimal("10")),
        (4, Decimal("3")),
    ]


def test_an_unnamed_last_column_holding_data_is_kept(tmp_path):
    text = "Date,Campaign,Spend,\n11/21/2026,A,$10.00,note\n11/22/2026,A,$3.00,\n"
    result = upload(tmp_path, text)

    assert (result.rows, result.quarantined) == (2, 0)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("damaged.xlsx", b"PK\x03\x04 not a whole zip archive"),
        ("renamed.xlsx", b"Date,Campaign,Spend\n2026-11-21,A,1\n"),
        ("empty.xlsx", b""),
    ],
)
def test_a_spreadsheet_that_cannot_be_opened_is_refused_with_the_reason(tmp_path, name, content):
    with pytest.raises(UploadError, match=rf"^{name}: not a readable \.xlsx spreadsheet \(zip"):
        upload(tmp_path, content, name=name)


@pytest.mark.parametrize(
    ("platform", "headers", "expected", "currency"),
    [
        (
            "Meta",
            [
                "Reporting starts",
                "Campaign name",
                "Amount spent (USD)",
                "Impr.",
                "Link clicks",
                "Results",
                "Results value",
                "Cost per result",
            ],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "impressions": 3,
                "clicks": 4,
                "conversions": 5,
                "conversion_value": 6,
            },
            "USD",
        ),
        (
            "Meta purchases",
            ["Day", "Campaign name", "Amount spent", "Purchases", "Purchases conversion value"],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "conversions": 3,
                "conversion_value": 4,
            },
            None,
        ),
        (
            "TikTok",
            [
                "By Day",
                "Campaign name",
                "Total cost",
                "Impressions",
                "Clicks",
                "Complete Payment",
                "Total Complete Payment value",
            ],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "impressions": 3,
                "clicks": 4,
                "conversions": 5,
                "conversion_value": 6,
            },
            None,
        ),
        (
            "Pinterest",
            [
                "Date",
                "Campaign name",
                "Spend in account currency",
                "Paid impressions",
                "Pin clicks",
                "Total conversions",
                "Checkouts",
                "Total order value (Checkout)",
            ],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "impressions": 3,
                "clicks": 4,
                "conversions": 5,
                "conversion_value": 7,
            },
            None,
        ),
        (
            "Reddit",
            [
                "Date",
                "Campaign Name",
                "Amount Spent (USD)",
                "Impressions",
                "Clicks",
                "Purchase Total Value",
            ],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "impressions": 3,
                "clicks": 4,
                "conversion_value": 5,
            },
            "USD",
        ),
        (
            "LinkedIn",
            [
                "Start Date (in UTC)",
                "Campaign Name",
                "Total Spent",
                "Impressions",
                "Clicks",
                "Conversions",
                "Total conversion value",
            ],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "impressions": 3,
                "clicks": 4,
                "conversions": 5,
                "conversion_value": 6,
            },
            None,
        ),
        (
            "generic",
            ["Date", "Campaign", "Total spend", "Website purchases", "Checkout value"],
            {
                "report_date": 0,
                "campaign_name": 1,
                "spend": 2,
                "conversions": 3,
                "conversion_value": 4,
            },
            None,
        ),
        (
            "generic USD",
            ["Date", "Campaign", "Cost (USD)", "Clicks"],
            {"report_date": 0, "campaign_name": 1, "spend": 2, "clicks": 3},
            "USD",
        ),
        (
            "generic GBP",
            ["Day", "Campaign", "Total cost (GBP)"],
            {"report_date": 0, "campaign_name": 1, "spend": 2},
            "GBP",
        ),
    ],
)
def test_ad_platform_export_headers_are_suggested(platform, headers, expected, currency):
    columns = suggest_mapping(UploadKind.COSTS, headers)
    assert columns == expected, platform
    mapping = with_header_currency(UploadKind.COSTS, headers, columns, None)
    assert mapping.defaults.get("currency") == currency
