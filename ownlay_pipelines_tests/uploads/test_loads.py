"""Bad rows, re-uploads, the size limit, spreadsheets, mapping files, PII, the unified table, CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest

from ownlay_pipelines.cli import main
from ownlay_pipelines.models.campaign_metrics import compute_campaign_metrics
from ownlay_pipelines.privacy.keyed_hash import PiiHasher
from ownlay_pipelines.uploads import load as load_module
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import MAX_UPLOAD_BYTES, UploadError, load_upload
from ownlay_pipelines.uploads.mapping import MappingError, read_mapping_file
from ownlay_pipelines_tests.uploads.files import HASH_KEY, rows, upload, workspace

BAD_ROWS = (
    "Date,Campaign,Network,Clicks,Spend\n"  # line 1
    "2026-11-21,Pins,Pinterest,10,12.50\n"  # 2 good
    "2026-11-21,Pins,Pinterest,10\n"  # 3 too few columns
    "2026-11-22,Pins,Pinterest,ten,12.50\n"  # 4 clicks not a number
    "2026-13-45,Pins,Pinterest,3,1.00\n"  # 5 impossible date
    ",Pins,Pinterest,3,1.00\n"  # 6 date missing
    "2026-11-22,,Pinterest,3,1.00\n"  # 7 neither campaign id nor name
    "2026-11-22,Pins,Pinterest,3,-1.00\n"  # 8 negative spend
    "2026-11-22,Pins,Pinterest,2.5,1.00\n"  # 9 fractional clicks
    "2026-11-22,Podcast,Reddit,1,2,3\n"  # 10 too many columns
    "2026-11-23,Podcast,Reddit,4,40.00\n"  # 11 good
)


def test_bad_rows_are_quarantined_with_line_column_and_reason_and_the_rest_loads(tmp_path):
    result = upload(tmp_path, BAD_ROWS)

    assert result.rows == 2
    assert [(r["source_line"], r["platform"], r["spend"]) for r in rows(tmp_path)] == [
        (2, "pinterest", Decimal("12.5")),
        (11, "reddit", Decimal("40")),
    ]
    quarantined = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert [(q["line"], q["column"]) for q in quarantined] == [
        (3, None),
        (4, "Clicks"),
        (5, "Date"),
        (6, "Date"),
        (7, "campaign_id or campaign_name"),
        (8, "Spend"),
        (9, "Clicks"),
        (10, None),
    ]
    reasons = {q["line"]: q["reason"] for q in quarantined}
    assert reasons[4] == "not a number (decimal '.')"
    assert reasons[5] == "not a date in the column format %Y-%m-%d"
    assert reasons[6] == reasons[7] == "required value is empty"
    assert reasons[8] == "negative"
    assert reasons[9] == "not a whole number"
    assert "Expected Number of Columns: 5 Found: 4" in reasons[3]
    assert json.loads(quarantined[1]["raw_record"])["Clicks"] == "ten"
    assert result.quarantined == 8
    assert sum(result.reasons.values()) == 8


def test_counts_read_the_same_whatever_their_shape_around_the_plain_digit_path(tmp_path):
    # Plain digits up to 18 are read directly; leading zeros, signs, spaces, 19 digits and
    # exponents go to the general reading, which either gives the same count or refuses them.
    clicks = [
        "7",
        "007",
        " 12 ",
        "+5",
        "123456789012345678",
        "-5",
        "1234567890123456789",
        "1e3",
        "0x1F",
        "2.0",
    ]
    body = "".join(f"2026-11-21,Pins,Pinterest,{c},1.00\n" for c in clicks)
    result = upload(tmp_path, "Date,Campaign,Network,Clicks,Spend\n" + body)

    assert [(r["source_line"], r["clicks"]) for r in rows(tmp_path)] == [
        (2, 7),
        (3, 7),
        (4, 12),
        (5, 5),
        (6, 123456789012345678),
        (9, 1000),
        (11, 2),
    ]
    quarantined = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert [(q["line"], q["reason"]) for q in quarantined] == [
        (7, "negative"),
        (8, "not a number (decimal '.')"),  # 19 digits: past DECIMAL(20, 6)
        (10, "not a number (decimal '.')"),
    ]
    assert result.rows == 7


def test_re_uploading_replaces_the_earlier_load_and_never_doubles(tmp_path):
    first = upload(tmp_path, BAD_ROWS)
    again = upload(tmp_path, BAD_ROWS)
    assert again.upload_id == first.upload_id
    assert len(rows(tmp_path)) == 2
    assert len(rows(tmp_path, "quarantine/uploads/costs", order="line")) == 8

    # A new version of the same file replaces the old one, even the days it no longer has.
    fixed = upload(tmp_path, "Date,Campaign,Spend\n2026-11-25,Pins,5.00\n")
    assert [r["report_date"] for r in rows(tmp_path)] == [date(2026, 11, 25)]
    assert rows(tmp_path, "quarantine/uploads/costs", order="line") == []
    assert fixed.days == [date(2026, 11, 21), date(2026, 11, 23), date(2026, 11, 25)]

    # The same bytes under another name are the same file: they replace, not add.
    renamed = upload(tmp_path, "Date,Campaign,Spend\n2026-11-25,Pins,5.00\n", name="copy.csv")
    assert renamed.replaced == [first.upload_id]
    assert len(rows(tmp_path)) == 1
    # A different file is a second source and adds up.
    upload(tmp_path, "Date,Campaign,Spend\n2026-11-25,Pins,1.00\n", name="other.csv")
    assert sorted(r["spend"] for r in rows(tmp_path)) == [Decimal("1"), Decimal("5")]


def test_a_file_over_100_mb_is_refused_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:
        handle.truncate(MAX_UPLOAD_BYTES + 1)

    def must_not_read(path: Path) -> str:
        raise AssertionError("the file was read")

    monkeypatch.setattr(load_module, "file_sha256", must_not_read)
    with pytest.raises(UploadError, match=r"big.csv is 100.0 MiB; uploads are limited to 100 MiB"):
        load_upload(big, workspace=workspace(), kind=UploadKind.COSTS, lake_root=tmp_path / "lake")


def _workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Pinterest"
    first.append(["Pinterest spend, November"])  # preamble row
    first.append(["Day", "Campaign", "Cost"])
    first.append([date(2026, 11, 21), "Pins", 12.5])
    first.append([date(2026, 11, 22), "Pins", "oops"])
    second = book.create_sheet("Podcast")
    second.append(["Date", "Sponsorship", "Spend", "Network"])
    second.append([46347, "Show A", 300, "Podcast"])  # Excel serial without a date format
    book.save(path)


def test_xlsx_one_sheet_or_all_sheets(tmp_path):
    path = tmp_path / "spend.xlsx"
    _workbook(path)
    lake = tmp_path / "lake"
    [first] = load_upload(path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake)
    assert (first.source_name, first.rows, first.reasons) == (
        "spend.xlsx#Pinterest",
        1,
        {"Cost: not a number (decimal '.')": 1},
    )
    assert first.detected["header_line"] == "2"  # below the preamble row
    [bad] = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert bad["line"] == 4  # the spreadsheet row

    both = load_upload(
        path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake, all_sheets=True
    )
    assert [r.source_name for r in both] == ["spend.xlsx#Pinterest", "spend.xlsx#Podcast"]
    loaded = rows(tmp_path, order="source_name, source_line")
    assert [(r["platform"], r["campaign_name"], r["report_date"], r["spend"]) for r in loaded] == [
        ("upload", "Pins", date(2026, 11, 21), Decimal("12.5")),
        ("podcast", "Show A", date(2026, 11, 21), Decimal("300")),
    ]
    [podcast] = load_upload(
        path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake, sheet="Podcast"
    )
    assert podcast.rows == 1 and len(rows(tmp_path)) == 2


def test_a_mapping_file_overrides_the_suggestions(tmp_path):
    mapping_path = tmp_path / "map.yaml"
    mapping_path.write_text(
        "columns: {spend: 'Budget used', campaign_name: 'Show'}\n"
        "defaults: {platform: Spotify Podcasts}\n"
        "date_format: '%d/%m/%Y'\n"
    )
    mapping = read_mapping_file(mapping_path)
    text = "Date,Show,Cost,Budget used\n01/02/2026,Daily Tech,999,150.00\n"
    result = upload(tmp_path, text, mapping=mapping)
    assert json.loads(result.detected["mapping"])["spend"] == "Budget used"
    [row] = rows(tmp_path)
    assert (row["platform"], row["campaign_name"], row["report_date"], row["spend"]) == (
        "spotify_podcasts",
        "Daily Tech",
        date(2026, 2, 1),
        Decimal("150"),
    )


def test_unmappable_headers_and_bad_mapping_files_are_clear_errors(tmp_path):
    with pytest.raises(
        UploadError,
        match=r"no column found for impressions or clicks or spend or conversions or "
        r"conversion_value",
    ):
        upload(tmp_path, "Date,Campaign,Budget\n2026-11-21,A,1\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: {spend: Cost}\ndecimal: x\n")
    with pytest.raises(MappingError, match=r"decimal: Value error, decimal must be"):
        read_mapping_file(bad)
    bad.write_text("columns: {budget: Cost}\n")
    with pytest.raises(UploadError, match=r"mapping names budget"):
        upload(tmp_path, "Date,Campaign,Cost\n2026-11-21,A,1\n", mapping=read_mapping_file(bad))


def test_order_uploads_keep_e_mails_only_as_keyed_hashes(tmp_path):
    hasher = PiiHasher(HASH_KEY)
    text = "Order,Created at,Total,Email\n1001,2026-11-21 10:00,€40,Ann@Example.com \n1002,2026-11-22,€5,no-at-sign\n"
    result = upload(tmp_path, text, kind=UploadKind.ORDERS, hasher=hasher)
    assert result.reasons == {"Email: not an e-mail address": 1}
    [order] = rows(tmp_path, "raw/uploads/orders")
    assert order["customer_email_hash"] == hasher.hash_email("ann@example.com")
    assert (order["order_id"], order["total"], order["currency"]) == ("1001", Decimal("40"), "EUR")
    stored = Path(tmp_path / "lake/raw/uploads/orders").rglob("*.parquet")
    assert all(b"Example.com" not in p.read_bytes() for p in stored)


def test_event_uploads_read_timestamps_in_the_workspace_zone(tmp_path):
    text = "timestamp,event,visitor_id\n2026-11-21 23:30:00,page_view,v1\n2026-11-22T04:30:00Z,Purchase,v1\n"
    upload(tmp_path, text, kind=UploadKind.EVENTS, name="events.csv")
    loaded = rows(tmp_path, "raw/uploads/events")
    # 23:30 New York is 04:30 UTC next day; the event day stays the workspace's local day.
    assert [r["event_date"] for r in loaded] == [date(2026, 11, 21), date(2026, 11, 21)]
    assert [r["event_type"] for r in loaded] == ["page_view", "purchase"]
    assert loaded[0]["occurred_at"] == loaded[1]["occurred_at"]


def test_event_uploads_read_unix_seconds_and_milliseconds_by_magnitude(tmp_path):
    text = (
        "ts,event,visitor_id\n"
        "1733480000,page_view,v1\n"  # 10 digits: seconds, 2024-12-06T10:13:20Z
        "1733480000123,purchase,v1\n"  # 13 digits: milliseconds
        " 1733480000.5 ,page_view,v2\n"  # seconds with a fraction
        "17334800001,page_view,v3\n"  # 11 digits: neither
        "9999999999,page_view,v4\n"  # seconds past 2100
        "20241206,page_view,v5\n"  # a compact date is not read as a Unix time
    )
    result = upload(tmp_path, text, kind=UploadKind.EVENTS, name="events.csv")

    assert result.rows == 3
    assert result.detected["occurred_at format"] == (
        "Unix time (seconds or milliseconds) (9-10 or 12-13 digits: Unix time)"
    )
    loaded = rows(tmp_path, "raw/uploads/events")
    assert [r["occurred_at"] for r in loaded] == [
        datetime(2024, 12, 6, 10, 13, 20, tzinfo=UTC),
        datetime(2024, 12, 6, 10, 13, 20, 123000, tzinfo=UTC),
        datetime(2024, 12, 6, 10, 13, 20, 500000, tzinfo=UTC),
    ]
    assert [r["event_date"] for r in loaded] == [date(2024, 12, 6)] * 3  # New York day
    out_of_range = (
        "ts: Unix time out of range (seconds below 10^11, else milliseconds; "
        "1970-01-01 to 2100-01-01)"
    )
    assert result.reasons == {out_of_range: 3}
    quarantined = rows(tmp_path, "quarantine/uploads/events", order="line")
    assert [r["line"] for r in quarantined] == [5, 6, 7]


def test_uploaded_costs_enter_the_unified_table_as_their_own_platform(tmp_path):
    upload(
        tmp_path,
        "Date,Campaign,Network,Spend,Clicks\n"
        "2026-11-21,Pins,Pinterest,10.00,4\n"
        "2026-11-21,Pins,Pinterest,2.50,1\n"  # a second row of the same campaign-day adds up
        "2026-11-22,Pins,Pinterest,1.00,1\n",
    )
    table = compute_campaign_metrics(
        duckdb.connect(),
        tmp_path / "lake",
        sources=[],
        workspace_id="acme",
        days=[date(2026, 11, 21)],
    )
    [row] = table.to_pylist()
    assert (row["platform"], row["campaign_id"], row["spend"], row["clicks"]) == (
        "pinterest",
        "Pins",
        Decimal("12.5"),
        5,
    )
    assert row["cpc"] == pytest.approx(2.5)


def test_cli_json_summary_and_refusals(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = tmp_path / "spend.csv"
    path.write_text(BAD_ROWS)
    assert (
        main(["upload", str(path), "--workspace", "acme-outdoor", "--kind", "costs", "--json"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["quarantined"]) == (2, 8)
    assert summary["reasons"]["Clicks: not a number (decimal '.')"] == 1
    assert main(["upload", str(path), "--workspace", "nope", "--kind", "costs"]) == 2
    assert "workspace 'nope' is not in the registry" in capsys.readouterr().err
    assert (
        main(
            ["upload", str(path), "--workspace", "acme-outdoor", "--kind", "costs", "--sheet", "x"]
        )
        == 2
    )
    assert "--sheet and --all-sheets apply to spreadsheets" in capsys.readouterr().err


def test_all_sheets_passes_over_empty_sheets_and_an_empty_chosen_sheet_is_named(tmp_path):
    path = tmp_path / "spend.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Sheet1"  # left empty, as new workbooks start
    data = book.create_sheet("Data")
    data.append(["Date", "Campaign", "Spend"])
    data.append([date(2026, 11, 21), "Pins", 12.5])
    book.create_sheet("Sheet3")
    book.save(path)
    lake = tmp_path / "lake"

    results = load_upload(
        path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake, all_sheets=True
    )
    assert [(r.source_name, r.rows) for r in results] == [("spend.xlsx#Data", 1)]
    assert [r["spend"] for r in rows(tmp_path)] == [Decimal("12.5")]
    with pytest.raises(UploadError, match=r"spend.xlsx: sheet 'Sheet1' is empty; choose another"):
        load_upload(path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake)


def test_cli_says_when_touched_days_are_outside_the_partitions(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "dagster").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    path = tmp_path / "old.csv"
    # No partition is older than 2015-01-01 (orchestration/history.py).
    path.write_text(
        "Date,Campaign,Spend\n2014-06-01,Pins,1.00\n2014-06-02,Pins,2.00\n2206-01-01,Pins,3\n"
    )
    argv = ["upload", str(path), "--workspace", "acme-outdoor", "--kind", "costs"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "DAGSTER_HOME is not set" not in out
    assert "2 day(s) (2014-06-01 … 2014-06-02) lie before the first partition" in out
    assert "1 day(s) (2206-01-01 … 2206-01-01) lie after tomorrow, the last partition" in out


def test_a_number_in_a_sheets_date_column_is_the_serial_of_a_date_that_lost_its_format(tmp_path):
    path = tmp_path / "spend.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Date", "Campaign", "Spend"])
    sheet.append([date(2026, 11, 21), "Pins", 10])
    sheet.append([datetime(2026, 11, 22), "Pins", 20])
    sheet.append([46349, "Pins", 30])  # pasted as a value: 2026-11-23 without its date format
    sheet.append([date(2026, 11, 24), "Pins", date(2026, 1, 1)])  # a date is no spend
    sheet.append([10**12, "Pins", 50])  # no serial of a day
    sheet.append(["Total", None, 110])  # a label does not make the column less of dates
    book.save(path)

    [result] = load_upload(
        path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=tmp_path / "lake"
    )
    assert result.reasons == {
        "Date: not a date in the column format %Y-%m-%d": 1,
        "Spend: not a number (decimal '.')": 1,
    }
    assert [(r["report_date"], r["spend"]) for r in rows(tmp_path)] == [
        (date(2026, 11, 21), Decimal("10")),
        (date(2026, 11, 22), Decimal("20")),
        (date(2026, 11, 23), Decimal("30")),
    ]


def test_every_measure_is_optional_and_one_the_file_does_not_give_is_null_not_zero(tmp_path):
    # Seed 000: only date and campaign are required. A costs file without spend loads; the
    # measures it has no column for, and its empty cells, are NULL (not a measured 0); a row with
    # no measure value at all is refused.
    text = (
        "Date,Campaign,Impressions,Clicks\n"
        "2026-11-21,Pins,1000,10\n"
        "2026-11-21,Podcast,500,\n"
        "2026-11-21,Subtotal,,\n"
    )
    result = upload(tmp_path, text)

    assert (result.rows, result.reasons) == (
        2,
        {
            "impressions or clicks or spend or conversions or conversion_value: "
            "required value is empty": 1
        },
    )
    loaded = [
        (
            r["campaign_name"],
            r["impressions"],
            r["clicks"],
            r["spend"],
            r["conversions"],
            r["conversion_value"],
        )
        for r in rows(tmp_path)
    ]
    assert loaded == [
        ("Pins", 1000, 10, None, None, None),
        ("Podcast", 500, None, None, None, None),
    ]


def test_an_excel_accounting_zero_in_a_money_cell_is_zero(tmp_path):
    # Excel's Accounting format writes 0 as a dash beside the symbol; saved as CSV it is text.
    text = (
        "Date,Campaign,Spend,Revenue\n"
        '2026-11-21,A," $ -   ",$-\n'
        '2026-11-21,B,-,"$1,234.50"\n'
        '2026-11-21,C,$ 12.00," $ -   "\n'
        "2026-11-21,D,--,5\n"
    )
    result = upload(tmp_path, text)

    assert (result.rows, result.quarantined) == (4, 0), result.reasons
    assert [(r["campaign_name"], r["spend"], r["conversion_value"]) for r in rows(tmp_path)] == [
        ("A", Decimal("0"), Decimal("0")),
        ("B", Decimal("0"), Decimal("1234.5")),
        ("C", Decimal("12"), Decimal("0")),
        ("D", None, Decimal("5")),  # `--` is Google Ads' "no data", not zero
    ]


def test_an_excel_accounting_zero_in_euros_is_zero_and_a_dash_count_is_still_refused(tmp_path):
    text = "Date;Campaign;Spend;Clicks\n21.11.2026;A;€ -;3\n21.11.2026;B;-   €;-\n"
    result = upload(tmp_path, text)

    assert result.reasons == {"Clicks: not a number (decimal ',')": 1}
    [row] = rows(tmp_path)
    assert (row["spend"], row["currency"]) == (Decimal("0"), "EUR")


def _workbook_with_notes(path: Path, *, data: bool = True) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["Spend exported by the agency every Monday."])
    notes.append(["Ask Jane before changing the campaign names."])
    if data:
        sheet = book.create_sheet("Data")
        sheet.append(["Date", "Campaign", "Spend"])
        sheet.append([date(2026, 11, 21), "Pins", 12.5])
    summary = book.create_sheet("By campaign")  # a pivot: a table, but not of campaign-days
    summary.append(["Campaign", "Spend"])
    summary.append(["Pins", 12.5])
    book.save(path)


def test_all_sheets_passes_over_sheets_without_a_table_and_names_them(tmp_path):
    path = tmp_path / "spend.xlsx"
    _workbook_with_notes(path)
    lake = tmp_path / "lake"

    results = load_upload(
        path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake, all_sheets=True
    )
    assert [(r.source_name, r.rows) for r in results] == [("spend.xlsx#Data", 1)]
    assert [r["spend"] for r in rows(tmp_path)] == [Decimal("12.5")]
    passed_over = results[0].sheets_passed_over
    assert list(passed_over) == ["Notes", "By campaign"]
    assert passed_over["Notes"].startswith("no column found for report_date, campaign_id or")
    assert "no column found for report_date" in passed_over["By campaign"]
    # A sheet chosen by name that has no table is still refused.
    with pytest.raises(UploadError, match=r"spend.xlsx: no column found for report_date"):
        load_upload(path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake)


def test_all_sheets_refuses_a_workbook_when_no_sheet_has_a_table(tmp_path):
    path = tmp_path / "notes.xlsx"
    _workbook_with_notes(path, data=False)
    with pytest.raises(UploadError) as refused:
        load_upload(
            path,
            workspace=workspace(),
            kind=UploadKind.COSTS,
            lake_root=tmp_path / "lake",
            all_sheets=True,
        )
    message = str(refused.value)
    assert message.startswith("notes.xlsx: no sheet has a table to load (sheet 'Notes': ")
    assert "sheet 'By campaign': no column found for report_date" in message


def test_cli_json_reports_the_sheets_passed_over(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = tmp_path / "spend.xlsx"
    _workbook_with_notes(path)
    argv = ["upload", str(path), "--workspace", "acme-outdoor", "--kind", "costs"]
    assert main([*argv, "--all-sheets", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 1
    assert list(summary["sheets_passed_over"]) == ["Notes", "By campaign"]
