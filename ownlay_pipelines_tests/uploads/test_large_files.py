"""Files above the sample size: formats come from a sample spread over the file, and the whole
column decides again when refused rows say the sample misled it. Line numbers stay exact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow.parquet as pq

from ownlay_pipelines.uploads.sample import WHOLE_FILE_BYTES
from ownlay_pipelines_tests.uploads.files import rows, upload

ROWS = 40_000


def _lines(dates: list[str], spends: list[str]) -> str:
    body = [
        f"{d},Campaign {i % 97},{s}" for i, (d, s) in enumerate(zip(dates, spends, strict=True))
    ]
    text = "Date,Campaign,Spend\n" + "\n".join(body) + "\n"
    assert len(text) > WHOLE_FILE_BYTES
    return text


def test_day_first_evidence_outside_the_sample_decides_the_whole_column(tmp_path):
    # Every value but the last few is ambiguous (both numbers ≤ 12); the file's locale (US)
    # says month first, the last rows (never in the sample) say day first.
    dates = [f"{1 + i % 12:02d}/{1 + i % 11:02d}/2026" for i in range(ROWS)]
    dates[-3:] = ["25/12/2026", "31/01/2026", "13/02/2026"]
    result = upload(tmp_path, _lines(dates, ["1.00"] * ROWS))
    assert result.quarantined == 0, result.reasons
    assert result.detected["report_date format"].startswith("%d/%m/%Y")
    loaded = rows(tmp_path)
    assert loaded[0]["report_date"] == date(2026, 1, 1)
    assert loaded[1]["report_date"] == date(2026, 2, 2)  # 02/02
    assert loaded[2]["report_date"] == date(2026, 3, 3)
    assert loaded[13]["report_date"] == date(2026, 3, 2)  # 02/03/2026 day first
    assert [r["report_date"] for r in loaded[-3:]] == [
        date(2026, 12, 25),
        date(2026, 1, 31),
        date(2026, 2, 13),
    ]


def test_decorated_money_and_refusals_in_a_large_file_keep_exact_lines(tmp_path):
    spends = [f'"${(i % 5000) * 1.25 + 1000:,.2f}"' for i in range(ROWS)]
    spends[10] = "(12.50)"  # negative spend: refused
    spends[20] = "n/a"
    spends[30] = '"$1,23,4.00"'  # thousands groups out of place: refused, never 1234
    spends[40] = '" € 7,5 "'  # not the column's shape, cleaned: 7.5 would need a decimal comma
    spends[50] = "12.00 CHF"
    dates = ["2026-11-21"] * ROWS
    text = _lines(dates, spends)
    lines = text.splitlines()
    lines[1001] = "2026-11-21,too,many,cells"  # a ragged row in the middle
    result = upload(tmp_path, "\n".join(lines) + "\n")
    bad = {
        q["line"]: (q["column"], q["reason"])
        for q in rows(tmp_path, "quarantine/uploads/costs", "line")
    }
    assert bad[12] == ("Spend", "negative")
    assert bad[22] == ("Spend", "not a number (decimal '.')")
    assert bad[32] == ("Spend", "not a number (decimal '.')")
    assert bad[42] == ("Spend", "not a number (decimal '.')")
    assert bad[1002][0] is None
    assert result.quarantined == 5
    loaded = {r["source_line"]: r for r in rows(tmp_path)}
    assert len(loaded) == ROWS - 5
    assert (loaded[52]["spend"], loaded[52]["currency"]) == (Decimal("12"), "CHF")
    # Lines after the ragged row still count from the top of the file.
    for line in (2, 1001, 1003, ROWS + 1):
        index = line - 2
        assert loaded[line]["spend"] == Decimal(f"{(index % 5000) * 1.25 + 1000:.2f}")
        assert loaded[line]["currency"] == "USD"
        assert loaded[line]["campaign_name"] == f"Campaign {index % 97}"


def test_rows_around_ragged_rows_are_stored_in_file_order_with_exact_lines(tmp_path):
    # Ragged rows shift the lines of the rows after them; the shift must not cost a join that
    # reorders the stored rows (or a lookup per row and ragged row: a file with thousands of
    # them took minutes).
    lines = _lines(["2026-11-21"] * ROWS, [f"{i}.00" for i in range(ROWS)]).splitlines()
    ragged = range(7, ROWS, 997)
    for line in ragged:
        lines[line - 1] = "2026-11-21,too,many,cells,here"
    result = upload(tmp_path, "\n".join(lines) + "\n")
    assert result.quarantined == len(ragged)
    stored = pq.read_table(next((tmp_path / "lake/raw/uploads/costs").rglob("*.parquet")))
    source_lines = stored.column("source_line").to_pylist()
    assert source_lines == sorted(set(range(2, ROWS + 2)) - set(ragged))
    spends = stored.column("spend").to_pylist()
    assert all(spend == Decimal(line - 2) for line, spend in zip(source_lines, spends, strict=True))


def test_a_file_with_ragged_rows_is_stored_in_whole_row_groups_the_same_each_time(tmp_path):
    # Rows the reader refuses leave its batches short; unsorted, the row groups were bounded by
    # how DuckDB's threads merged them, so the same file gave other bytes on a busy machine.
    # 20 MB: several of the reader's buffers, read by both threads.
    rows_in_file = 700_000
    lines = _lines(["2026-11-21"] * rows_in_file, ["1.00"] * rows_in_file).splitlines()
    ragged = range(50, rows_in_file, 5_000)
    for line in ragged:
        lines[line] = "2026-11-21,too,many,cells,here"
    upload(tmp_path, "\n".join(lines) + "\n")
    stored = pq.ParquetFile(next((tmp_path / "lake/raw/uploads/costs").rglob("*.parquet")))
    groups = [stored.metadata.row_group(i).num_rows for i in range(stored.metadata.num_row_groups)]
    kept = rows_in_file - len(ragged)
    assert groups == [122_880] * (kept // 122_880) + [kept % 122_880]


def test_values_only_outside_the_sample_are_stored_like_the_sampled_ones(tmp_path):
    # Platform, campaign and currency are carried as dictionaries of the sample's values; rows
    # after the sample with other values (kept or refused) must come out as text would.
    body = [
        f"2026-11-21,Campaign {i % 7},{('Meta', 'Google Ads')[i % 2]},1.00,usd" for i in range(ROWS)
    ]
    body[-5] = "2026-11-21,Late campaign,Late Net!,2.00,chf"
    body[-4] = "2026-11-21,Campaign 1,  ,3.00,eur"  # no platform: 'upload'
    body[-3] = "2026-11-21,Refused campaign,Refused Net,n/a,sek"
    text = "Date,Campaign,Network,Spend,Currency\n" + "\n".join(body) + "\n"
    assert len(text) > WHOLE_FILE_BYTES
    result = upload(tmp_path, text)
    assert result.reasons == {"Spend: not a number (decimal '.')": 1}
    loaded = {r["source_line"]: r for r in rows(tmp_path)}
    first, late, empty = loaded[2], loaded[ROWS - 3], loaded[ROWS - 2]
    # "Meta" names the Meta Ads connector's platform: stored under its slug (platform_names).
    assert (first["platform"], first["campaign_id"], first["currency"]) == (
        "meta_ads",
        "Campaign 0",
        "USD",
    )
    assert loaded[3]["platform"] == "google_ads"
    assert (late["platform"], late["campaign_id"], late["campaign_name"], late["currency"]) == (
        "late_net",
        "Late campaign",
        "Late campaign",
        "CHF",
    )
    assert (empty["platform"], empty["currency"]) == ("upload", "EUR")
    # A text column with no empty value is REQUIRED in Parquet, as when it was stored as text.
    [data] = (tmp_path / "lake" / "raw/uploads/costs").glob("**/*.parquet")
    schema = pq.read_schema(data)
    assert not schema.field("campaign_id").nullable
    assert not schema.field("currency").nullable
    assert schema.field("platform").nullable
