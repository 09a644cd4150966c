from datetime import date
from decimal import Decimal

import pytest

from ownlay_pipelines.connectors.wire_values import (
    RowError,
    dig,
    micros_to_decimal,
    to_count,
    to_date,
    to_decimal,
    to_non_negative_decimal,
)


def test_string_money_and_micros_become_exact_decimals():
    assert to_decimal("45.67", "spend") == Decimal("45.67")
    assert micros_to_decimal("12340000", "metrics.costMicros") == Decimal("12.34")
    assert micros_to_decimal("1", "metrics.costMicros") == Decimal("0.000001")
    assert to_decimal(180.37, "metrics.conversionsValue") == Decimal("180.37")


@pytest.mark.parametrize("value", ["N/A", "12.5.0", "", None, True, "NaN", "Infinity"])
def test_non_numbers_are_refused_naming_the_field(value):
    with pytest.raises(RowError) as error:
        to_decimal(value, "spend")
    assert error.value.field == "spend"


def test_negative_amounts_and_fractional_counts_are_refused():
    with pytest.raises(RowError, match="spend: must not be negative"):
        to_non_negative_decimal("-1.00", "spend")
    with pytest.raises(RowError, match="impressions: expected a whole number"):
        to_count("12.5", "impressions")
    assert to_count("9708", "impressions") == 9708


def test_dig_reads_nested_paths_and_names_missing_ones():
    record = {"segments": {"date": "2026-11-01"}, "metrics": {"clicks": None}}
    assert dig(record, "segments.date") == "2026-11-01"
    assert dig(record, "metrics.impressions", required=False) is None
    with pytest.raises(RowError, match=r"metrics\.impressions: is missing"):
        dig(record, "metrics.impressions")
    with pytest.raises(RowError, match=r"metrics\.clicks: is null"):
        dig(record, "metrics.clicks")


def test_dates_are_calendar_days():
    assert to_date("2026-11-01", "date_start") == date(2026, 11, 1)
    with pytest.raises(RowError, match="date_start: expected a date"):
        to_date("11/01/2026", "date_start")
