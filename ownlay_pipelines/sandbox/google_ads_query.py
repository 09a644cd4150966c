"""Run a parsed GAQL query against one customer of the world: check fields, build rows, filter.

Checks follow Google's QueryError vocabulary: unknown fields are UNRECOGNIZED_FIELD, fields of
another resource PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE, selecting `segments.date` without a
finite date filter EXPECTED_FILTERS_ON_DATE_RANGE. Metric rows segmented by date exist only for
days with activity, in the customer's timezone (reference/connectors.md §1.2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from ownlay_pipelines.sandbox.entities import CampaignDay, SandboxAccount
from ownlay_pipelines.sandbox.gaql import Condition, GaqlError, GaqlQuery, Value
from ownlay_pipelines.sandbox.google_ads_fields import (
    ALL_FIELDS,
    ATTRIBUTES,
    FieldSpec,
    Kind,
    Row,
    Totals,
)
from ownlay_pipelines.sandbox.world import SandboxWorld

DATE_FIELD = "segments.date"
DURING_DAYS = {
    "TODAY": (0, 0),
    "YESTERDAY": (1, 1),
    "LAST_7_DAYS": (7, 1),
    "LAST_14_DAYS": (14, 1),
    "LAST_30_DAYS": (30, 1),
}
"""(first, last) days before today; Google's LAST_N_DAYS ranges exclude today."""

Predicate = Callable[[Row], bool]


def run_query(world: SandboxWorld, account: SandboxAccount, query: GaqlQuery) -> list[Row]:
    """The rows `query` selects from the customer, filtered, ordered and limited."""
    fields = ATTRIBUTES.get(query.resource)
    if fields is None:
        raise GaqlError(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Invalid resource type was specified in the FROM clause: '{query.resource}'.",
        )
    for name in query.fields:
        _check_field(name, fields, "SELECT")
    for condition in query.conditions:
        _check_field(condition.field, fields, "WHERE")
    for ordering in query.ordering:
        if ordering.field not in query.fields:
            raise GaqlError(
                "EXPECTED_REFERENCED_FIELD_IN_SELECT_CLAUSE",
                f"'{ordering.field}' is used in ORDER BY but not selected.",
            )
    today = world.local_today(account.platform, account.account_id)
    predicates = [_predicate(c, today) for c in query.conditions]
    rows = [row for row in _rows(world, account, query, today) if all(p(row) for p in predicates)]
    for ordering in reversed(query.ordering):
        spec = ALL_FIELDS[ordering.field]
        present = [r for r in rows if spec.read(r) is not None]
        missing = [r for r in rows if spec.read(r) is None]
        rows = sorted(present, key=spec.read, reverse=ordering.descending) + missing
    return rows[: query.limit] if query.limit else rows


def _check_field(name: str, fields: dict[str, FieldSpec], clause: str) -> None:
    if name in fields:
        return
    if name not in ALL_FIELDS:
        raise GaqlError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{name}'.")
    if name.startswith(("metrics.", "segments.")):
        kind = "METRIC" if name.startswith("metrics.") else "SEGMENT"
        raise GaqlError(
            f"PROHIBITED_{kind}_IN_SELECT_OR_WHERE_CLAUSE",
            f"'{name}' is not available here: the OWNLAY sandbox simulates metrics and "
            "segments FROM campaign only.",
        )
    raise GaqlError(
        f"PROHIBITED_RESOURCE_TYPE_IN_{clause}_CLAUSE",
        f"'{name}' comes from a resource that is incompatible with the FROM clause.",
    )


def _rows(world: SandboxWorld, account: SandboxAccount, query: GaqlQuery, today: date) -> list[Row]:
    catalog = world.catalog(account.platform, account.account_id)
    campaigns = catalog.campaign_by_id
    groups = {g.ad_group_id: g for g in catalog.ad_groups}
    if query.resource == "customer":
        return [Row(account)]
    if query.resource == "campaign":
        return _campaign_rows(world, account, query, today)
    if query.resource == "ad_group":
        return [
            Row(account, campaign=campaigns[g.campaign_id], ad_group=g) for g in catalog.ad_groups
        ]
    if query.resource == "ad_group_ad":
        return [
            Row(account, campaign=campaigns[a.campaign_id], ad_group=groups[a.ad_group_id], ad=a)
            for a in catalog.ads
        ]
    if query.resource in ("keyword_view", "ad_group_criterion"):
        return [
            Row(
                account,
                campaign=campaigns[k.campaign_id],
                ad_group=groups[k.ad_group_id],
                keyword=k,
            )
            for k in catalog.keywords
        ]
    return [Row(account, conversion_action=c) for c in catalog.conversion_actions]


def _campaign_rows(
    world: SandboxWorld, account: SandboxAccount, query: GaqlQuery, today: date
) -> list[Row]:
    campaigns = world.campaigns(account.platform, account.account_id)
    referenced = set(query.fields) | {c.field for c in query.conditions}
    if not any(name.startswith("metrics.") or name == DATE_FIELD for name in referenced):
        return [Row(account, campaign=c) for c in campaigns]
    start, end = _date_span(query.conditions, today)
    if DATE_FIELD in query.fields and (start is None or end is None):
        raise GaqlError(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "Missing filters on date related fields: selecting segments.date needs a "
            "finite date range in WHERE.",
        )
    first = start or today - timedelta(days=world.history_days - 1)
    days = world.campaign_days(
        account.platform, account.account_id, first, min(end or today, today)
    )
    by_id = {c.campaign_id: c for c in campaigns}
    if DATE_FIELD in query.fields:
        # Google leaves out segmented rows with no activity, as it does for zero-impression days.
        return [
            Row(
                account,
                campaign=by_id[d.campaign_id],
                totals=_totals([d]),
                day=d.report_date,
                key=d.key,
            )
            for d in days
        ]
    return [
        Row(
            account, campaign=c, totals=_totals([d for d in days if d.campaign_id == c.campaign_id])
        )
        for c in campaigns
    ]


def _totals(days: list[CampaignDay]) -> Totals:
    return Totals(
        impressions=sum(d.impressions for d in days),
        clicks=sum(d.clicks for d in days),
        spend=sum((d.spend for d in days), Decimal(0)),
        conversions=sum((d.conversions for d in days), Decimal(0)),
        conversion_value=sum((d.conversion_value for d in days), Decimal(0)),
    )


def _date_span(conditions: tuple[Condition, ...], today: date) -> tuple[date | None, date | None]:
    """The tightest [start, end] the conditions on segments.date allow (None: unbounded)."""
    start: date | None = None
    end: date | None = None
    for condition in conditions:
        if condition.field != DATE_FIELD:
            continue
        low, high = _bounds(condition, today)
        if low is not None:
            start = low if start is None else max(start, low)
        if high is not None:
            end = high if end is None else min(end, high)
    return start, end


def _bounds(condition: Condition, today: date) -> tuple[date | None, date | None]:
    if condition.operator == "DURING":
        return _during(condition.values[0], today)
    days = [_date(v, condition.operator) for v in condition.values]
    one_day = timedelta(days=1)
    if condition.operator == "BETWEEN":
        if days[0] > days[1]:
            raise GaqlError(
                "DATE_RANGE_TOO_NARROW",
                f"BETWEEN '{days[0]}' AND '{days[1]}' starts after it ends.",
            )
        return days[0], days[1]
    return {
        "=": (days[0], days[0]),
        ">=": (days[0], None),
        ">": (days[0] + one_day, None),
        "<=": (None, days[0]),
        "<": (None, days[0] - one_day),
        "IN": (min(days), max(days)),
    }.get(condition.operator, (None, None))


def _during(value: Value, today: date) -> tuple[date, date]:
    if value.text in DURING_DAYS:
        first, last = DURING_DAYS[value.text]
        return today - timedelta(days=first), today - timedelta(days=last)
    if value.text == "THIS_MONTH":
        return today.replace(day=1), today
    if value.text == "LAST_MONTH":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise GaqlError(
        "INVALID_VALUE_WITH_DURING_OPERATOR",
        f"The value passed to the DURING operator is not a date range literal: '{value.text}'.",
    )


def _date(value: Value, operator: str) -> date:
    try:
        if value.kind != "string":
            raise ValueError(value.text)
        return date.fromisoformat(value.text)
    except ValueError:
        if operator == "BETWEEN":
            raise GaqlError(
                "INVALID_VALUE_WITH_BETWEEN_OPERATOR",
                f"'{value.text}' passed to BETWEEN does not parse as a date.",
            ) from None
        raise GaqlError(
            "INVALID_DATE_FORMAT", f"Invalid date format '{value.text}'. Expected 'YYYY-MM-DD'."
        ) from None


def _predicate(condition: Condition, today: date) -> Predicate:
    """A row test for `condition`, with its literals checked against the field's type now."""
    test = _value_test(condition, today)
    if condition.field == DATE_FIELD:
        # Rows not segmented by date were already summed over the span the filter allows.
        return lambda row: row.day is None or test(row)
    return test


def _value_test(condition: Condition, today: date) -> Predicate:
    spec = ALL_FIELDS[condition.field]
    if condition.operator == "DURING":
        if spec.kind is not Kind.DATE:
            raise GaqlError("OPERATOR_FIELD_MISMATCH", f"DURING cannot filter '{condition.field}'.")
        low, high = (d.isoformat() for d in _during(condition.values[0], today))
        return lambda row: low <= spec.read(row) <= high
    literals = [_literal(spec, v, condition) for v in condition.values]
    read = _comparable_reader(spec)
    compare: dict[str, Callable[[Any], bool]] = {
        "=": lambda x: x == literals[0],
        "!=": lambda x: x != literals[0],
        ">": lambda x: x > literals[0],
        ">=": lambda x: x >= literals[0],
        "<": lambda x: x < literals[0],
        "<=": lambda x: x <= literals[0],
        "IN": lambda x: x in literals,
        "NOT IN": lambda x: x not in literals,
        "BETWEEN": lambda x: literals[0] <= x <= literals[1],
    }
    test = compare[condition.operator]
    return lambda row: (value := read(row)) is not None and test(value)


def _comparable_reader(spec: FieldSpec) -> Callable[[Row], Any]:
    if spec.kind in (Kind.INT64, Kind.INT32, Kind.DOUBLE):
        return lambda row: None if (v := spec.read(row)) is None else Decimal(str(v))
    return spec.read


def _literal(spec: FieldSpec, value: Value, condition: Condition) -> Any:
    if spec.kind in (Kind.INT64, Kind.INT32, Kind.DOUBLE):
        try:
            return Decimal(value.text)
        except InvalidOperation:
            raise GaqlError(
                "BAD_NUMBER", f"'{value.text}' is not a number ({condition.field})."
            ) from None
    if spec.kind is Kind.DATE:
        return _date(value, condition.operator).isoformat()
    if spec.kind is Kind.BOOL:
        if value.text.upper() not in ("TRUE", "FALSE"):
            raise GaqlError(
                "BAD_VALUE", f"'{value.text}' is not TRUE or FALSE ({condition.field})."
            )
        return value.text.upper() == "TRUE"
    if spec.kind is Kind.ENUM:
        if spec.enum_values is not None and value.text not in spec.enum_values:
            raise GaqlError(
                "BAD_ENUM_CONSTANT", f"'{value.text}' is not a valid value of {condition.field}."
            )
        return value.text
    if value.kind != "string":
        raise GaqlError(
            "INVALID_STRING_VALUE", f"{condition.field} needs a quoted string, not {value.text}."
        )
    return value.text
