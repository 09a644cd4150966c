"""The GAQL parser: the clauses connectors write, and the QueryError each mistake earns."""

from __future__ import annotations

import pytest

from ownlay_pipelines.sandbox.gaql import Condition, GaqlError, Ordering, Value, parse_gaql


def test_a_daily_metrics_query_parses_into_its_clauses() -> None:
    query = parse_gaql(
        "SELECT campaign.id, segments.date, metrics.cost_micros FROM campaign "
        "WHERE segments.date BETWEEN '2026-03-01' AND '2026-03-07' "
        "AND campaign.status IN ('ENABLED', 'PAUSED') AND metrics.clicks >= 10 "
        "ORDER BY metrics.cost_micros DESC, campaign.id LIMIT 50"
    )
    assert query.fields == ("campaign.id", "segments.date", "metrics.cost_micros")
    assert query.resource == "campaign"
    assert query.conditions == (
        Condition(
            "segments.date",
            "BETWEEN",
            (Value("2026-03-01", "string"), Value("2026-03-07", "string")),
        ),
        Condition("campaign.status", "IN", (Value("ENABLED", "string"), Value("PAUSED", "string"))),
        Condition("metrics.clicks", ">=", (Value("10", "number"),)),
    )
    assert query.ordering == (Ordering("metrics.cost_micros", True), Ordering("campaign.id", False))
    assert query.limit == 50


def test_keywords_are_case_insensitive_and_enums_may_be_bare() -> None:
    query = parse_gaql(
        "select campaign.id from campaign where campaign.status != REMOVED "
        "and segments.date during LAST_7_DAYS and campaign.id not in (1, 2)"
    )
    assert [c.operator for c in query.conditions] == ["!=", "DURING", "NOT IN"]
    assert query.conditions[0].values == (Value("REMOVED", "enum"),)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("campaign.id FROM campaign", "EXPECTED_SELECT"),
        ("SELECT campaign.id", "EXPECTED_FROM"),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN '2026-01-01'",
            "EXPECTED_AND",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.id IN 5", "EXPECTED_LIST"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.id IN ()",
            "PROHIBITED_EMPTY_LIST_IN_CONDITION",
        ),
        ("SELECT campaign.id FROM campaign WHERE campaign.name = 'open", "STRING_NOT_TERMINATED"),
        ("SELECT campaign.id FROM campaign WHERE campaign.name LIKE 'a%'", "BAD_OPERATOR"),
        ("SELECT campaign.id FROM campaign ORDER campaign.id", "EXPECTED_BY"),
        ("SELECT campaign.id FROM campaign LIMIT 0", "LIMIT_VALUE_TOO_LOW"),
        ("SELECT campaign.id FROM campaign LIMIT ten", "BAD_LIMIT_VALUE"),
        (
            "SELECT campaign.id FROM campaign WHERE campaign.id = 1 OR campaign.id = 2",
            "UNEXPECTED_INPUT",
        ),
        ("SELECT campaign.id, FROM campaign", "BAD_FIELD_NAME"),
        ("SELECT campaign.id FROM campaign WHERE", "UNEXPECTED_END_OF_QUERY"),
        ("SELECT campaign.id FROM campaign WHERE campaign.name = é", "BAD_SYMBOL"),
    ],
)
def test_malformed_queries_name_googles_query_error(text: str, code: str) -> None:
    with pytest.raises(GaqlError) as raised:
        parse_gaql(text)
    assert raised.value.code == code
