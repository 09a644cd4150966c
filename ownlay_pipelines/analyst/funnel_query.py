"""The funnel query: ClickHouse `windowFunnel` default semantics in DuckDB SQL.

Declared semantics (reference/analytics.md §2.3, best attempt, ordered, uniques):

1. An attempt starts at every step-1 event whose local day (workspace time zone) is in range.
2. From a start e₁, eₖ is the earliest step-k event of the visitor *strictly later* than eₖ₋₁
   (equal timestamps never advance a step, so the answer does not depend on arrival order), and
   it counts only if eₖ − e₁ ≤ window (inclusive). Greedy earliest is optimal from a fixed start,
   so a visitor's reached step is the longest ordered chain that starts at a step-1 event and
   completes within the window — ClickHouse `windowFunnel(window)`'s default mode, with ties
   resolved as its `strict_increase` option does.
3. A visitor's attempt is the one reaching the furthest step; then the one completing it
   earliest; then the latest start (PostHog's rule: a newer start replaces an older one that
   gets no further); then the greatest first-step event id. Its timestamps give the times
   between steps, and its first-step event gives the breakdown values (utm_source, campaign =
   utm_campaign else campaign id, device type, country; `(none)` when absent).
4. Per step k: visitors reaching k, drop-off from k−1, and the median seconds from eₖ₋₁ to eₖ.

The chain is ASOF joins (one per step after the first) on `(visitor, ts > previous ts)` over one
materialised scan of the events that flags each row's steps; the connection must run with
`asof_loop_join_threshold = 0` (reference/perf_reliability.md §1.5).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ownlay_pipelines.analyst.funnel_definitions import FunnelDefinition, FunnelStep

BREAKDOWNS = ("utm_source", "campaign", "device", "country")
TOTAL = "total"
ALL_VALUES = "(all)"
NONE_VALUE = "(none)"
MICROS_PER_SECOND = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def literal(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def funnel_events_sql(source: str, timezone: str) -> str:
    """Events of `source` (lake rows) with the funnel's columns: visitor, µs time, local day,
    and the breakdown values. `timezone` is a registry-validated IANA name."""
    return f"""
        SELECT *, coalesce(anonymous_id, user_id) AS visitor, epoch_us(created_at) AS ts_us,
               CAST(timezone({literal(timezone)}, created_at) AS DATE) AS local_day,
               coalesce(nullif(utm_source, ''), {literal(NONE_VALUE)}) AS breakdown_utm_source,
               coalesce(nullif(utm_campaign, ''), nullif(campaign_id, ''),
                        {literal(NONE_VALUE)}) AS breakdown_campaign,
               coalesce(nullif(device_type, ''), {literal(NONE_VALUE)}) AS breakdown_device,
               coalesce(nullif(country, ''), {literal(NONE_VALUE)}) AS breakdown_country
        FROM {source}
        WHERE coalesce(anonymous_id, user_id) IS NOT NULL
    """


def step_predicate(step: FunnelStep) -> str:
    """The WHERE condition an event of `step` satisfies."""
    conditions = [f"event_type = {literal(step.event_type)}"]
    for rule in step.filters:
        if rule.column is not None:
            conditions.append(f"CAST({rule.column} AS VARCHAR) = {literal(rule.value)}")
        else:
            path = literal(f"$.{rule.property_key}")
            conditions.append(f"json_extract_string(properties, {path}) = {literal(rule.value)}")
    return " AND ".join(conditions)


def local_days_us(first_day: date, last_day: date, timezone: str) -> tuple[int, int]:
    """[start, end) in UTC microseconds of the local days first_day … last_day."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first_day, time(), zone)
    end = datetime.combine(last_day + timedelta(days=1), time(), zone)
    return _micros(start), _micros(end)


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def winners_sql(
    funnel: FunnelDefinition,
    events: str,
    first_day: date,
    last_day: date,
    timezone: str,
    *,
    by_day: bool,
    breakdowns: tuple[str, ...] = BREAKDOWNS,
) -> str:
    """One row per visitor (and local day if `by_day`) with a first-step event on local days
    [first_day, last_day]: the visitor's winning attempt (rule 3) with `reached`, `t1`…`tK`
    (µs) and the `breakdowns` values of its first-step event.

    The chain carries only what is asked for: on 10M events every extra column carried through
    three ASOF joins costs more than the joins themselves.
    """
    k = len(funnel.steps)
    window_us = funnel.window_seconds * MICROS_PER_SECOND
    start_us, end_us = local_days_us(first_day, last_day, timezone)
    carried = {f"breakdown_{b}": b for b in breakdowns}
    if breakdowns:
        carried = {"event_id": "event_id", **carried}  # the last tie-break, for breakdowns only
    if by_day:
        carried = {"local_day": "day", **carried}
    # A later step can only count if it is after the earliest start and within the window of
    # the latest one: the bounds are exact and keep the joins' right sides small.
    first = f"{step_predicate(funnel.steps[0])} AND ts_us >= {start_us} AND ts_us < {end_us}"
    later = f"ts_us > {start_us} AND ts_us < {end_us + window_us}"
    kinds = [first] + [f"{step_predicate(s)} AND {later}" for s in funnel.steps[1:]]
    # One scan of the events for every step (each step's own scan read the files k times).
    ctes = [
        f"""steps AS MATERIALIZED (
            SELECT {", ".join(["visitor", "ts_us", *(f"{c} AS {a}" for c, a in carried.items())])},
                   {", ".join(f"({kind}) AS is_{n}" for n, kind in enumerate(kinds, 1))}
            FROM {events}
            WHERE {" OR ".join(f"({kind})" for kind in kinds)}
        )""",
        f"c1 AS (SELECT {', '.join(['visitor', 'ts_us AS t1', *carried.values()])} "
        "FROM steps WHERE is_1)",
    ]
    for n in range(2, k + 1):
        ctes.append(f"s{n} AS (SELECT visitor, ts_us FROM steps WHERE is_{n})")
        join = (
            f"SELECT c.*, s.ts_us AS t{n} FROM c{n - 1} c ASOF LEFT JOIN s{n} s "
            f"ON c.visitor = s.visitor AND c.t{n - 1} < s.ts_us"
        )
        if n > 2:
            # An attempt without step n−1 has no step n either (NULL < ts never holds): only
            # the others go through the join, whose cost follows its left side (most attempts
            # stop at step 1), so c{n−1} is materialised once for both branches.
            join += (
                f" WHERE c.t{n - 1} IS NOT NULL UNION ALL "
                f"SELECT *, NULL::BIGINT AS t{n} FROM c{n - 1} WHERE t{n - 1} IS NULL"
            )
        materialized = " MATERIALIZED" if 2 <= n < k else ""
        ctes.append(f"c{n} AS{materialized} ({join})")
    stops = " ".join(
        f"WHEN t{n} IS NULL OR t{n} - t1 > {window_us} THEN {n - 1}" for n in range(2, k + 1)
    )
    completion = " ".join(f"WHEN {n} THEN t{n}" for n in range(1, k + 1))
    fields = ", ".join(
        f"{name} := {name}"
        for name in ["reached", *(f"t{n}" for n in range(1, k + 1)), *breakdowns]
    )
    order = "r := reached, c := -completed_us, s := t1" + (", e := event_id" if breakdowns else "")
    group = "visitor, day" if by_day else "visitor"
    return f"""
        WITH {", ".join(ctes)},
        attempts AS (
            SELECT *, CASE {stops} ELSE {k} END AS reached FROM c{k}
        ),
        scored AS (
            SELECT *, CASE reached {completion} END AS completed_us FROM attempts
        )
        SELECT {group}, unnest(best)
        FROM (
            SELECT {group}, arg_max(struct_pack({fields}), struct_pack({order})) AS best
            FROM scored GROUP BY {group}
        )
    """


def funnel_sql(
    funnel: FunnelDefinition,
    events: str,
    first_day: date,
    last_day: date,
    timezone: str,
    *,
    by_day: bool,
    breakdowns: tuple[str, ...] = BREAKDOWNS,
) -> str:
    """The funnel's step rows (see `funnel_steps_sql`) over the `events` relation
    (`funnel_events_sql`'s columns) for first steps on local days [first_day, last_day]."""
    winners = winners_sql(
        funnel, events, first_day, last_day, timezone, by_day=by_day, breakdowns=breakdowns
    )
    return funnel_steps_sql(funnel, f"({winners})", by_day=by_day, breakdowns=breakdowns)


def funnel_steps_sql(
    funnel: FunnelDefinition,
    winners: str,
    *,
    by_day: bool,
    breakdowns: tuple[str, ...] = BREAKDOWNS,
) -> str:
    """Per (day if `by_day`), breakdown, breakdown value and step: visitors reaching the step,
    drop-off from the previous step, and the median seconds from the previous step.

    Breakdown `total` (value `(all)`) counts every visitor; each of `breakdowns` splits them by
    the first-step event's value. Without `by_day` a visitor counts once over the whole range.
    """
    k = len(funnel.steps)
    buckets = ", ".join(
        [f"{{'breakdown': {literal(TOTAL)}, 'value': {literal(ALL_VALUES)}}}"]
        + [f"{{'breakdown': {literal(b)}, 'value': {b}}}" for b in breakdowns]
    )
    day = "day, " if by_day else ""
    counts = ", ".join(
        f"count(*) FILTER (WHERE reached >= {n}) AS visitors_{n}" for n in range(1, k + 1)
    )
    medians = ", ".join(
        f"median(CAST(t{n} - t{n - 1} AS DOUBLE)) FILTER (WHERE reached >= {n}) AS median_us_{n}"
        for n in range(2, k + 1)
    )
    per_step = []
    for n, step in enumerate(funnel.steps, start=1):
        previous = f"visitors_{n - 1}" if n > 1 else "visitors_1"
        median = f"median_us_{n} / {MICROS_PER_SECOND}.0" if n > 1 else "NULL::DOUBLE"
        per_step.append(
            f"SELECT {day}breakdown, value AS breakdown_value, {n} AS step_number, "
            f"{literal(step.name)} AS step_name, {literal(step.event_type)} AS event_type, "
            f"visitors_{n} AS visitors, {previous} - visitors_{n} AS dropoff, "
            f"visitors_{n} / visitors_1 AS conversion_overall, "
            f"visitors_{n} / nullif({previous}, 0) AS conversion_from_previous, "
            f"{median} AS median_seconds_from_previous FROM grouped"
        )
    return f"""
        WITH bucketed AS (
            SELECT *, unnest([{buckets}]) AS bucket FROM {winners}
        ),
        grouped AS (
            SELECT {day}bucket.breakdown AS breakdown, bucket.value AS value, {counts}, {medians}
            FROM bucketed GROUP BY ALL
        )
        {" UNION ALL ".join(per_step)}
        ORDER BY ALL
    """
