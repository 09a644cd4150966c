"""Files and mapping files refused as a whole: one line on stderr naming the reason, exit 2."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from ownlay_pipelines.cli import main

COSTS = "Date,Campaign,Spend\n2026-11-21,Pins,12.50\n"


def _refusal(tmp_path: Path, monkeypatch, capsys, path: Path, *options: str) -> str:
    """Run `ownlay upload` on `path` as costs; assert it exits 2 and return its one stderr line."""
    monkeypatch.setenv("OWNLAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    argv = ["upload", str(path), "--workspace", "acme-outdoor", "--kind", "costs", *options]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("costs.csv", text)
    return buffer.getvalue()


def test_a_directory_is_refused_as_not_a_file(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "costs.csv"
    folder.mkdir()
    assert "costs.csv is not a file" in _refusal(tmp_path, monkeypatch, capsys, folder)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (gzip.compress(COSTS.encode()), "a gzip archive"),
        (_zip(COSTS), "a ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "an Excel 97-2003 workbook"),
    ],
    ids=["gzip", "zip", "xls"],
)
def test_an_archive_or_binary_workbook_named_csv_is_refused_by_what_it_is(
    tmp_path, monkeypatch, capsys, content, named
):
    path = tmp_path / "costs.csv"
    path.write_bytes(content)
    assert f"costs.csv: {named}, not a CSV or text file" in _refusal(
        tmp_path, monkeypatch, capsys, path
    )


@pytest.mark.parametrize(
    "content", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"], ids=["no-bytes", "bom-only", "blank-lines"]
)
def test_an_empty_file_is_refused_as_empty(tmp_path, monkeypatch, capsys, content):
    path = tmp_path / "costs.csv"
    path.write_bytes(content)
    assert "costs.csv: the file is empty" in _refusal(tmp_path, monkeypatch, capsys, path)


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        # Unclosed flow mapping: YAML's own message spans five lines with a caret drawing.
        (b'columns: {spend: "Spend"\n', "line 2, column 1: expected ',' or '}'"),
        (b"\xff\xfecolumns: {}\n", "not UTF-8 text"),
        (b"date_format: '%Q'\n", "date_format: Value error, '%Q' is not a date format"),
        # A constant that no row could carry: refused once, not quarantined on every row.
        (
            b"defaults: {currency: EURO}\n",
            "defaults: Value error, currency 'EURO' is not an ISO 4217 currency code",
        ),
    ],
    ids=["yaml-syntax", "utf-16", "date-format", "currency-default"],
)
def test_a_bad_mapping_file_is_one_line_naming_the_problem(
    tmp_path, monkeypatch, capsys, mapping, reason
):
    path = tmp_path / "costs.csv"
    path.write_text(COSTS)
    map_path = tmp_path / "map.yaml"
    map_path.write_bytes(mapping)
    error = _refusal(tmp_path, monkeypatch, capsys, path, "--mapping", str(map_path))
    assert f"mapping file {map_path}: " in error and reason in error
