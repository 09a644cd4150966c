"""Totals lines of ad-platform exports are summary rows: skipped and counted apart, never spend;
a row labelled like a total that is not at the start or end of the data, or that has a real
date, is not one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from ownlay_pipelines.models.campaign_metrics import compute_campaign_metrics
from ownlay_pipelines_tests.uploads.files import rows, upload

GOOGLE_ADS_CAMPAIGNS = (
    "Campaign report\n"
    '"November 1, 2026 - November 2, 2026"\n'
    "Day,Campaign,Campaign state,Currency code,Cost,Impr.,Clicks\n"  # line 3
    '2026-11-01,Brand,Enabled,USD,"1,234.56","10,000",321\n'
    '2026-11-02,Brand,Enabled,USD,99.10,"5,000",120\n'
    'Total: Account,--,--,USD,"1,333.66","15,000",441\n'  # line 6
    'Total: Search,--,--,USD,"1,333.66","15,000",441\n'
    'Total: Campaigns,--,--,USD,"1,333.66","15,000",441\n'
)


def test_google_ads_totals_lines_are_skipped_and_never_added_to_spend(tmp_path):
    result = upload(tmp_path, GOOGLE_ADS_CAMPAIGNS)

    assert (result.rows, result.quarantined, result.reasons) == (2, 0, {})
    assert result.skipped == {"summary row (totals)": 3}
    assert rows(tmp_path, "quarantine/uploads/costs", order="line") == []
    table = compute_campaign_metrics(
        duckdb.connect(),
        tmp_path / "lake",
        sources=[],
        workspace_id="acme",
        days=[date(2026, 11, 1), date(2026, 11, 2)],
    )
    assert sum(r["spend"] for r in table.to_pylist()) == Decimal("1333.66")


@pytest.mark.parametrize(
    "label",
    [
        "Total",
        "Totals",
        "Grand total",
        "TOTAL:",
        "Gesamt",
        "Summe",
        "Insgesamt",
        "Total général",
        "Totale",
        "Totaal",
        "Total - all campaigns",
    ],
)
def test_a_totals_label_before_or_after_the_data_is_a_summary_row(tmp_path, label):
    text = (
        "Date,Campaign,Spend,Clicks\n"
        f"{label},,22.50,7\n"
        "2026-11-01,Pins,10.00,3\n"
        "2026-11-02,Pins,12.50,4\n"
        f",{label},22.50,7\n"
    )
    result = upload(tmp_path, text)

    assert (result.rows, result.quarantined) == (2, 0)
    assert result.skipped == {"summary row (totals)": 2}


def test_a_total_in_the_middle_or_with_a_real_date_is_not_a_summary_row(tmp_path):
    text = (
        "Date,Campaign,Spend,Clicks\n"
        "2026-11-01,Pins,10.00,3\n"
        "Total,,10.00,3\n"  # line 3: a subtotal between days is not skipped
        "2026-11-02,Pins,12.50,4\n"
        "2026-11-02,Total,5.00,1\n"  # line 5: a campaign called "Total" on a real day is data
        "Subtotal,,27.50,8\n"  # line 6: not a totals label
    )
    result = upload(tmp_path, text)

    assert result.rows == 3
    assert [r["campaign_name"] for r in rows(tmp_path)] == ["Pins", "Pins", "Total"]
    assert result.skipped == {}
    quarantined = rows(tmp_path, "quarantine/uploads/costs", order="line")
    assert [(r["line"], r["reason"]) for r in quarantined] == [
        (3, "not a date in the column format %Y-%m-%d"),
        (6, "not a date in the column format %Y-%m-%d"),
    ]


def test_a_header_repeated_above_each_page_is_skipped_with_its_own_reason(tmp_path):
    text = (
        "Day,Campaign,Cost,Clicks\n"
        "2026-11-01,Brand,10.00,3\n"
        "Day,Campaign,Cost,Clicks\n"  # line 3: the export's second page
        "2026-11-02,Brand,20.00,4\n"
        " day , CAMPAIGN ,Cost,clicks\n"  # line 5: spaces and case aside, the header again
        "2026-11-03,Brand,30.00,5\n"
        "Day,Campaign,Cost,\n"  # line 7: not the whole header, a bad row
    )
    result = upload(tmp_path, text)

    assert (result.rows, result.skipped) == (3, {"repeated header": 2})
    assert [r["spend"] for r in rows(tmp_path)] == [Decimal("10"), Decimal("20"), Decimal("30")]
    assert [
        (q["line"], q["column"], q["reason"])
        for q in rows(tmp_path, "quarantine/uploads/costs", order="line")
    ] == [(7, "Day", "not a date in the column format %Y-%m-%d")]
