"""What counts as the same load: the same file under another name, the same sheet in a renamed or
re-saved workbook, never doubles the spend in the unified table; a different file still adds."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pyarrow.parquet as pq

from ownlay_pipelines.cli import main
from ownlay_pipelines.models.campaign_metrics import compute_campaign_metrics
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import file_sha256, load_upload
from ownlay_pipelines_tests.uploads.files import rows, workspace

WORKSPACE = "acme-outdoor"
DAY = date(2026, 11, 21)
TABLE = [
    ["Date", "Campaign", "Network", "Spend"],
    [datetime(2026, 11, 21), "Pins", "Pinterest", 10.0],
    [datetime(2026, 11, 21), "Threads", "Reddit", 2.5],
    [datetime(2026, 11, 22), "Pins", "Pinterest", 4.0],
]
CSV = (
    "Date,Campaign,Network,Spend\n2026-11-21,Pins,Pinterest,10.00\n2026-11-21,Threads,Reddit,2.50\n"
)


def _workbook(path: Path, sheets: dict[str, list[list]], *, saved: datetime) -> None:
    """A workbook of `sheets` (title → rows, the first the header) as Excel saves it at `saved`:
    two saves of the same table differ in their bytes."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, table in sheets.items():
        sheet = book.create_sheet(title)
        for row in table:
            sheet.append(row)
            sheet.cell(sheet.max_row, 1).number_format = "yyyy-mm-dd"
    book.properties.created = book.properties.modified = saved
    book.save(path)


def _upload(path: Path, capsys, *options: str) -> dict:
    """`ownlay upload PATH --json` for the workspace's costs; its summary."""
    argv = ["upload", str(path), "--workspace", WORKSPACE, "--kind", "costs", "--json", *options]
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _spend_by_platform(lake: Path, day: date = DAY) -> dict[str, Decimal]:
    """Spend of `day` per platform in unified/campaign_metrics_daily (as its model computes it)."""
    table = compute_campaign_metrics(
        duckdb.connect(), lake, sources=[], workspace_id=WORKSPACE, days=[day]
    )
    return {r["platform"]: r["spend"] for r in table.to_pylist()}


def _cli_env(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path / "data" / "lake"


SPEND = {"pinterest": Decimal("10"), "reddit": Decimal("2.5")}


def test_a_renamed_sheet_in_a_re_downloaded_workbook_replaces_its_load(
    tmp_path, monkeypatch, capsys
):
    lake = _cli_env(tmp_path, monkeypatch)
    first = tmp_path / "spend.xlsx"
    _workbook(first, {"Sheet1": TABLE}, saved=datetime(2026, 12, 1, 9))
    assert _upload(first, capsys)["rows"] == 3
    assert _spend_by_platform(lake) == SPEND

    # The browser's second download, its sheet renamed and saved again: other bytes, same table.
    again = tmp_path / "spend (1).xlsx"
    _workbook(again, {"Spend": TABLE}, saved=datetime(2026, 12, 2, 17))
    assert file_sha256(again) != file_sha256(first)
    summary = _upload(again, capsys)
    assert _spend_by_platform(lake) == SPEND  # not doubled
    assert len(rows(tmp_path / "data")) == 3
    assert (summary["rows"], summary["replaced"]) == (3, {"spend.xlsx#Sheet1": "same content"})

    # The same table as one sheet of a bigger workbook is the same load too.
    bigger = tmp_path / "november.xlsx"
    other = [TABLE[0], [datetime(2026, 11, 21), "Show A", "Podcast", 300.0]]
    _workbook(bigger, {"Podcast": other, "Social": TABLE}, saved=datetime(2026, 12, 3))
    summary = _upload(bigger, capsys, "--all-sheets")
    assert _spend_by_platform(lake) == {**SPEND, "podcast": Decimal("300")}
    assert summary["replaced"] == {"spend (1).xlsx#Spend": "same content"}

    # One row changed: a different table under a new name is a new source, and adds up.
    changed = [*TABLE[:2], [datetime(2026, 11, 21), "Threads", "Reddit", 1.5]]
    _workbook(tmp_path / "reddit.xlsx", {"Spend": changed}, saved=datetime(2026, 12, 4))
    summary = _upload(tmp_path / "reddit.xlsx", capsys)
    assert "replaced" not in summary
    assert _spend_by_platform(lake) == {
        "pinterest": Decimal("20"),
        "reddit": Decimal("4"),
        "podcast": Decimal("300"),
    }


def test_the_same_csv_bytes_under_other_names_replace_and_say_what(tmp_path, monkeypatch, capsys):
    lake = _cli_env(tmp_path, monkeypatch)
    for name in ("costs.csv", "costs (1).csv", "Costs.CSV"):
        (tmp_path / name).write_text(CSV)
    for name in ("costs.csv", "costs (1).csv", "Costs.CSV"):
        _upload(tmp_path / name, capsys)
        assert _spend_by_platform(lake) == SPEND  # so already before sheets had fingerprints
    # What --json says of each.
    assert _upload(tmp_path / "costs.csv", capsys)["replaced"] == {"Costs.CSV": "same content"}
    assert _upload(tmp_path / "costs (1).csv", capsys)["replaced"] == {"costs.csv": "same content"}
    assert _upload(tmp_path / "Costs.CSV", capsys)["replaced"] == {"costs (1).csv": "same content"}
    assert _upload(tmp_path / "Costs.CSV", capsys)["replaced"] == {"Costs.CSV": "same content"}
    assert _spend_by_platform(lake) == SPEND

    # A new version under the same name replaces it as a new version; the plain output says so.
    (tmp_path / "Costs.CSV").write_text(CSV.replace("10.00", "11.00"))
    argv = ["upload", str(tmp_path / "Costs.CSV"), "--workspace", WORKSPACE, "--kind", "costs"]
    assert main(argv) == 0
    assert "  replaced the earlier load of Costs.CSV (same name)\n" in capsys.readouterr().out
    assert _spend_by_platform(lake) == {"pinterest": Decimal("11"), "reddit": Decimal("2.5")}


def test_a_sheet_repeated_in_its_workbook_is_loaded_once_and_named(tmp_path, monkeypatch, capsys):
    lake = _cli_env(tmp_path, monkeypatch)
    path = tmp_path / "spend.xlsx"
    _workbook(path, {"November": TABLE, "November (2)": TABLE}, saved=datetime(2026, 12, 1))
    for _ in range(2):  # and again: the second upload replaces the first, it does not add
        summary = _upload(path, capsys, "--all-sheets")
        assert summary["rows"] == 3
        assert summary["sheets_passed_over"] == {
            "November": "the same rows as sheet 'November (2)', loaded once"
        }
        assert _spend_by_platform(lake) == SPEND
    assert summary["replaced"] == {"spend.xlsx#November (2)": "same content"}


def test_a_sheet_loaded_before_sheets_had_a_fingerprint_is_still_recognised(tmp_path):
    # Loads of earlier versions kept the workbook's SHA-256 and the sheet name as content hash.
    lake = tmp_path / "lake"
    path = tmp_path / "spend.xlsx"
    _workbook(path, {"Sheet1": TABLE}, saved=datetime(2026, 12, 1))
    [first] = load_upload(path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake)
    [data] = (lake / "raw/uploads/costs").glob(f"**/upload_id={first.upload_id}/data.parquet")
    table = pq.read_table(data)
    legacy = {**table.schema.metadata, b"content_sha256": f"{file_sha256(path)}#Sheet1".encode()}
    pq.write_table(table.replace_schema_metadata(legacy), data)

    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(path.read_bytes())
    [again] = load_upload(copy, workspace=workspace(), kind=UploadKind.COSTS, lake_root=lake)
    assert again.replaced == [first.upload_id]
    assert len(rows(tmp_path)) == 3


def test_a_sheet_placed_away_from_a1_keeps_its_rows_and_columns(tmp_path):
    path = tmp_path / "offset.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["C2"] = "Spend report"
    for offset, row in enumerate(TABLE):
        for column, value in enumerate(row):
            sheet.cell(4 + offset, 3 + column, value)
    book.save(path)
    [result] = load_upload(
        path, workspace=workspace(), kind=UploadKind.COSTS, lake_root=tmp_path / "lake"
    )
    assert result.detected["header_line"] == "4"
    loaded = rows(tmp_path)
    assert [(r["source_line"], r["campaign_name"], r["spend"]) for r in loaded] == [
        (5, "Pins", Decimal("10")),
        (6, "Threads", Decimal("2.5")),
        (7, "Pins", Decimal("4")),
    ]


def _report(run_at: str, spend: str = "10.00") -> str:
    """A Microsoft Advertising-like report: a preamble saying when it ran, the table, a notice."""
    return (
        '"Report Name: Campaign spend"\n'
        f'"Report Time: {run_at}"\n'
        '"Time Zone: (GMT-05:00) Eastern Time (US & Canada)"\n'
        "\n"
        "Date,Campaign,Network,Spend\n"
        f"2026-11-21,Pins,Pinterest,{spend}\n"
        "2026-11-21,Threads,Reddit,2.50\n"
        + "".join(f"2026-11-{day},Pins,Pinterest,1.00\n" for day in range(22, 30))
    )


def test_a_report_downloaded_again_whose_preamble_says_when_it_ran_replaces(
    tmp_path, monkeypatch, capsys
):
    lake = _cli_env(tmp_path, monkeypatch)
    (tmp_path / "campaigns.csv").write_text(_report("12/6/2026 9:14:02 PM"))
    (tmp_path / "campaigns (1).csv").write_text(_report("12/7/2026 8:01:55 AM"))
    assert _upload(tmp_path / "campaigns.csv", capsys)["rows"] == 10
    summary = _upload(tmp_path / "campaigns (1).csv", capsys)
    assert _spend_by_platform(lake) == SPEND  # not doubled
    assert summary["replaced"] == {"campaigns.csv": "same content"}

    # The same preamble over another table is another source.
    (tmp_path / "pins.csv").write_text(_report("12/7/2026 8:01:55 AM", spend="1.00"))
    assert "replaced" not in _upload(tmp_path / "pins.csv", capsys)
    assert _spend_by_platform(lake) == {"pinterest": Decimal("11"), "reddit": Decimal("5")}


def test_a_text_file_is_hashed_from_its_header_only_when_its_preamble_ends_for_sure():
    from ownlay_pipelines.uploads.load import preamble_bytes
    from ownlay_pipelines.uploads.sniff import detect_text_layout

    def preamble(text: bytes) -> int:
        return preamble_bytes(text, detect_text_layout(text))

    table = b"Date,Campaign,Spend\n" + b"2026-11-21,Pins,1\n" * 8
    assert (
        preamble(b"Spend report\r\nrun 12/7/2026\r\n" + table) == 29  # both lines, CRLF
    )
    assert preamble(table) == 0
    # A preamble line ending in a lone CR (old Mac) is a line to the sniffer, not to LF: unsure.
    assert preamble(b"Spend report\rrun 12/7/2026\n" + table) == 0
    assert preamble(("Spend report\n" + table.decode()).encode("utf-16")) == 0


def test_a_load_that_took_over_a_copy_answers_to_both_names(tmp_path, monkeypatch, capsys):
    # costs.csv, then the same bytes as `costs (1).csv` (which replaces it), then a new version
    # of costs.csv: the new version replaces the copy's load too, or November 21 counts twice.
    lake = _cli_env(tmp_path, monkeypatch)
    (tmp_path / "costs.csv").write_text(CSV)
    (tmp_path / "costs (1).csv").write_text(CSV)
    _upload(tmp_path / "costs.csv", capsys)
    _upload(tmp_path / "costs (1).csv", capsys)
    (tmp_path / "costs.csv").write_text(CSV.replace("10.00", "12.00"))
    summary = _upload(tmp_path / "costs.csv", capsys)
    assert _spend_by_platform(lake) == {"pinterest": Decimal("12"), "reddit": Decimal("2.5")}
    assert summary["replaced"] == {"costs (1).csv": "same name"}
    # And the copy's name still leads to the one load: its old bytes are an old version.
    _upload(tmp_path / "costs (1).csv", capsys)
    assert _spend_by_platform(lake) == SPEND
