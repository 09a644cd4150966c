from datetime import date
from pathlib import Path

import pyarrow as pa

from ownlay_pipelines.cli import main
from ownlay_pipelines.lake.tables import TableRef
from ownlay_pipelines.lake.warehouse import build_warehouse
from ownlay_pipelines.lake.writer import write_partition

INSIGHTS = TableRef.of("raw", "meta_ads", "insights")


def _warehouse(tmp_path: Path) -> Path:
    lake, warehouse = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    for day, clicks in ((1, 5), (2, None)):
        table = pa.table({"report_date": [date(2026, 11, day)], "clicks": [clicks]})
        write_partition(lake, INSIGHTS, table, workspace_id="acme", report_date=date(2026, 11, day))
    build_warehouse(lake, warehouse, descriptions={"raw/meta_ads/insights": "one row per day"})
    return warehouse


def test_sql_without_a_query_lists_the_views_with_their_descriptions(tmp_path, capsys):
    warehouse = _warehouse(tmp_path)

    assert main(["sql", "--warehouse", str(warehouse)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["relation", "lake_table", "description"]
    assert lines[2].split(maxsplit=2) == [
        "raw_meta_ads_insights",
        "raw/meta_ads/insights",
        "one row per day",
    ]
    assert lines[3] == "(1 row(s))"


def test_sql_runs_each_statement_from_stdin_and_prints_csv(tmp_path, capsys, monkeypatch):
    warehouse = _warehouse(tmp_path)
    monkeypatch.setattr(
        "sys.stdin",
        __import__("io").StringIO(
            "SELECT sum(clicks) AS clicks FROM raw_meta_ads_insights;  -- total\n"
            "SELECT report_date, clicks FROM raw_meta_ads_insights ORDER BY 1;\n"
        ),
    )

    assert main(["sql", "-", "--csv", "--warehouse", str(warehouse)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "clicks",
        "5",
        "report_date,clicks",
        "2026-11-01,5",
        "2026-11-02,",
    ]


def test_sql_is_read_only_and_says_when_there_is_no_warehouse(tmp_path, capsys):
    warehouse = _warehouse(tmp_path)

    assert main(["sql", "DROP VIEW raw_meta_ads_insights", "--warehouse", str(warehouse)]) == 2
    assert "read-only" in capsys.readouterr().err
    assert main(["sql", "--warehouse", str(tmp_path / "missing.duckdb")]) == 2
    assert capsys.readouterr().err == (
        f"error: warehouse {tmp_path / 'missing.duckdb'} does not exist; run `make demo` first\n"
    )
