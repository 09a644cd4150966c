"""One messy file per detection case: delimiter, encoding, header row, dates, numbers, currency."""

from __future__ import annotations

import codecs
from datetime import date
from decimal import Decimal

import pytest

from ownlay_pipelines.uploads.sniff import SAMPLE_BYTES, detect_encoding
from ownlay_pipelines_tests.uploads.files import rows, upload, workspace

HEADER = ["Date", "Campaign", "Impressions", "Clicks", "Spend"]


@pytest.mark.parametrize(
    ("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
def test_delimiter_is_detected(tmp_path, delimiter, name):
    text = "\n".join(
        delimiter.join(cells)
        for cells in [
            HEADER,
            ["2026-11-21", "Spring, sale", "10", "2", "5"],
            ["2026-11-22", "B", "20", "3", "7"],
        ]
    )
    # A comma inside a field only works when the field is quoted for comma files.
    text = text.replace("Spring, sale", '"Spring, sale"' if delimiter == "," else "Spring, sale")
    result = upload(tmp_path, text + "\n", name=f"{name}.csv")
    assert result.detected["delimiter"] == {"\t": "tab"}.get(delimiter, delimiter)
    loaded = rows(tmp_path)
    assert [r["campaign_name"] for r in loaded] == ["Spring, sale", "B"]
    assert [r["spend"] for r in loaded] == [Decimal("5"), Decimal("7")]


CAFE = "Date;Campaign;Spend\n2026-11-21;Café crème;€12,50\n2026-11-22;Über;€3,25\n"


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (codecs.BOM_UTF8 + CAFE.encode("utf-8"), "utf-8-sig"),
        (CAFE.encode("utf-8"), "utf-8"),
        (CAFE.encode("utf-16"), "utf-16"),
        (CAFE.encode("cp1252"), "cp1252"),
        # Latin-1 has no euro sign: a file in it writes EUR, and byte 0x81 is undefined in cp1252.
        (CAFE.replace("€", "EUR ").replace("Über", "Über\x81").encode("latin-1"), "latin-1"),
    ],
)
def test_encoding_is_detected_and_text_survives(tmp_path, encoded, expected):
    assert detect_encoding(encoded) == expected
    result = upload(tmp_path, encoded)
    assert result.quarantined == 0, result.reasons
    loaded = rows(tmp_path)
    assert loaded[0]["campaign_name"] == "Café crème"
    assert loaded[1]["campaign_name"].startswith("Über")
    assert [r["spend"] for r in loaded] == [Decimal("12.5"), Decimal("3.25")]
    assert {r["currency"] for r in loaded} == {"EUR"}


def test_header_row_is_found_below_a_preamble_and_lines_count_from_the_file_top(tmp_path):
    text = (
        "Pinterest Ads - spend report\n"
        "Generated: 2026-11-30 08:00\n"
        "\n"
        "Date,Campaign,Spend\n"
        "2026-11-21,Pins,10.00\n"
        "2026-11-22,Pins,not a number\n"
    )
    result = upload(tmp_path, text)
    assert result.detected["header_line"] == "4"
    assert [r["source_line"] for r in rows(tmp_path)] == [5]
    [bad] = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert (bad["line"], bad["column"]) == (6, "Spend")


def test_a_header_with_an_unnamed_first_column_is_found(tmp_path):
    # pandas' `to_csv()` writes its row index as a first column with an empty header cell.
    result = upload(
        tmp_path, ",Date,Campaign,Spend\n0,2026-11-21,Pins,10.00\n1,2026-11-22,Pins,2\n"
    )
    assert result.detected["header_line"] == "1"
    assert [(r["report_date"], r["spend"]) for r in rows(tmp_path)] == [
        (date(2026, 11, 21), Decimal("10")),
        (date(2026, 11, 22), Decimal("2")),
    ]


def _dates_file(values: list[str], delimiter: str = ",") -> str:
    lines = [delimiter.join(["Date", "Campaign", "Spend"])]
    lines += [delimiter.join([value, "C", "1"]) for value in values]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("values", "expected", "fmt"),
    [
        (["2026-11-21", "2026-11-02"], [date(2026, 11, 21), date(2026, 11, 2)], "%Y-%m-%d"),
        (
            ["2026-11-21T00:00:00Z", "2026-11-02 13:05"],
            [date(2026, 11, 21), date(2026, 11, 2)],
            "%Y-%m-%d",
        ),
        # US: the last row's second number (21) decides month-first for the whole column.
        (
            ["11/02/2026", "12/01/2026", "11/21/2026"],
            [date(2026, 11, 2), date(2026, 12, 1), date(2026, 11, 21)],
            "%m/%d/%Y",
        ),
        # European: the last row's first number (21) decides day-first for the whole column.
        (
            ["02.11.2026", "01.12.2026", "21.11.2026"],
            [date(2026, 11, 2), date(2026, 12, 1), date(2026, 11, 21)],
            "%d.%m.%Y",
        ),
        (["46347", "46348.75"], [date(2026, 11, 21), date(2026, 11, 22)], "Excel serial number"),
        (["21 Nov 2026", "2 Dec 2026"], [date(2026, 11, 21), date(2026, 12, 2)], "%d %b %Y"),
        (['"Nov 21, 2026"', '"Dec 2, 2026"'], [date(2026, 11, 21), date(2026, 12, 2)], "%b %d, %Y"),
    ],
)
def test_date_formats_are_decided_over_the_whole_column(tmp_path, values, expected, fmt):
    result = upload(tmp_path, _dates_file(values))
    assert result.detected["report_date format"].startswith(fmt)
    assert [r["report_date"] for r in rows(tmp_path)] == expected


def test_an_ambiguous_day_month_column_follows_the_files_locale(tmp_path):
    us = upload(
        tmp_path / "us" if (tmp_path / "us").mkdir() is None else None,
        _dates_file(["01/02/2026", "03/04/2026"]),
    )
    assert us.detected["report_date format"].startswith("%m/%d/%Y")
    assert [r["report_date"] for r in rows(tmp_path / "us")] == [date(2026, 1, 2), date(2026, 3, 4)]
    (tmp_path / "eu").mkdir()
    eu = upload(tmp_path / "eu", _dates_file(["01/02/2026", "03/04/2026"], delimiter=";"))
    assert eu.detected["report_date format"].startswith("%d/%m/%Y")
    assert [r["report_date"] for r in rows(tmp_path / "eu")] == [date(2026, 2, 1), date(2026, 4, 3)]


def test_ambiguous_dotted_dates_are_day_first_even_in_a_comma_file(tmp_path):
    # Nobody writes month.day.year: 01.03.2026 is the 1st of March in every locale using dots.
    result = upload(tmp_path, _dates_file(["01.03.2026", "02.03.2026"]))
    assert result.detected["report_date format"].startswith("%d.%m.%Y")
    assert [r["report_date"] for r in rows(tmp_path)] == [date(2026, 3, 1), date(2026, 3, 2)]


def test_a_date_against_the_columns_order_is_quarantined_not_guessed(tmp_path):
    result = upload(tmp_path, _dates_file(["21/11/2026", "22/11/2026", "11/23/2026"]))
    assert result.rows == 2
    assert result.reasons == {"Date: not a date in the column format %d/%m/%Y": 1}


@pytest.mark.parametrize(
    ("delimiter", "cells", "expected"),
    [
        (",", ['"1,234.56"', '"12,000"', "(12.50)"], ["1234.56", "12000", "-12.50"]),
        (";", ["1.234,56", "12.000", "0,5"], ["1234.56", "12000", "0.5"]),
        (";", ["1 234,56", "1\u00a0000", "7"], ["1234.56", "1000", "7"]),
        (",", ["1'234.5", "3.14159", "2"], ["1234.5", "3.14159", "2"]),
    ],
)
def test_decimal_comma_and_thousands_separators(tmp_path, delimiter, cells, expected):
    # Revenue (conversion value) may be negative (a refund); spend may not.
    lines = [delimiter.join(["Date", "Campaign", "Spend", "Revenue"])]
    lines += [delimiter.join([f"2026-11-{21 + i}", "C", "1", cell]) for i, cell in enumerate(cells)]
    result = upload(tmp_path, "\n".join(lines) + "\n")
    assert result.quarantined == 0, result.reasons
    assert [r["conversion_value"] for r in rows(tmp_path)] == [Decimal(e) for e in expected]


def test_currency_symbols_become_the_currency_column(tmp_path):
    text = (
        "Date,Campaign,Spend\n"
        "2026-11-21,A,€10.00\n"
        "2026-11-21,B,£5.50\n"
        "2026-11-21,C,$7\n"
        "2026-11-21,D,12.00 CHF\n"
        "2026-11-21,E,3.00\n"
    )
    upload(tmp_path, text, ws=workspace(currency="CAD"))
    loaded = rows(tmp_path)
    # `$` is the workspace's own dollar (CAD here); no symbol means the workspace currency.
    assert [r["currency"] for r in loaded] == ["EUR", "GBP", "CAD", "CHF", "CAD"]
    assert [r["spend"] for r in loaded] == [Decimal(v) for v in ("10", "5.5", "7", "12", "3")]


def test_a_currency_column_wins_over_symbols(tmp_path):
    upload(tmp_path, "Date,Campaign,Spend,Currency\n2026-11-21,A,$10,aud\n")
    assert [r["currency"] for r in rows(tmp_path)] == ["AUD"]


def test_blank_lines_after_the_header_and_rows_of_only_delimiters_are_not_data(tmp_path):
    # Excel's "Save as CSV" writes an empty sheet row as a line of delimiters; some report tools
    # leave a blank line under the header. Neither shifts the line numbers of the rows below.
    text = (
        "Date,Campaign,Spend\r\n"  # line 1
        "\r\n"
        "2026-11-21,Pins,10.00\r\n"  # 3
        ",,\r\n"
        " , ,\r\n"
        "\r\n"
        "2026-11-22,Pins,2.50\r\n"  # 7
        "2026-11-23,Pins,oops\r\n"  # 8
        "Total,,12.50\r\n"
        ",,\r\n"
    )
    result = upload(tmp_path, text)
    assert result.detected["header_line"] == "1"
    assert (result.rows, result.reasons) == (2, {"Spend: not a number (decimal '.')": 1})
    assert result.skipped == {"empty row": 3, "summary row (totals)": 1}
    loaded = rows(tmp_path)
    assert [(r["source_line"], r["spend"]) for r in loaded] == [
        (3, Decimal("10")),
        (7, Decimal("2.5")),
    ]
    [bad] = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert bad["line"] == 8


def _late_text(late_rows: list[str]) -> str:
    """A costs file whose first SAMPLE_BYTES are ASCII, then `late_rows`."""
    lines = ["Date,Campaign,Spend"]
    lines += [f"2026-11-21,Plain campaign {i},1.00" for i in range(SAMPLE_BYTES // 30)]
    return "\r\n".join(lines + late_rows) + "\r\n"


def test_a_windows_1252_file_with_its_first_accent_past_the_sample_loads_as_windows_1252(
    tmp_path,
):
    text = _late_text(["2026-11-22,Café Crème,2.50", "2026-11-22,Straße €,3.50"])
    result = upload(tmp_path, text.encode("cp1252"))
    assert result.detected["encoding"] == "cp1252"
    assert result.quarantined == 0, result.reasons
    late = [r for r in rows(tmp_path) if r["report_date"] == date(2026, 11, 22)]
    assert [(r["campaign_name"], r["spend"]) for r in late] == [
        ("Café Crème", Decimal("2.5")),
        ("Straße €", Decimal("3.5")),
    ]


def test_a_utf8_file_with_one_damaged_byte_past_the_sample_stays_utf8(tmp_path):
    text = _late_text(["2026-11-22,Café Crème,2.50", "2026-11-22,Bad \udcff byte,3.50"])
    result = upload(tmp_path, text.encode("utf-8", errors="surrogateescape"))
    assert result.detected["encoding"] == "utf-8"
    assert result.quarantined == 1
    late = [r for r in rows(tmp_path) if r["report_date"] == date(2026, 11, 22)]
    assert [r["campaign_name"] for r in late] == ["Café Crème"]
