"""Meta Ads Insights request parameters as the simulator reads and validates them.

The parameters are the SDK's (`level`, `fields`, `time_range`, `time_increment`,
`action_attribution_windows`, `filtering`, `limit`: reference/connectors.md §1.1); a value Meta
would refuse answers with its (#100) error, and anything the sandbox does not model (breakdowns,
other levels) is refused with a message saying so rather than silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from ownlay_pipelines.sandbox.meta_ads_objects import (
    EFFECTIVE_STATUSES,
    HIDDEN_BY_DEFAULT,
    GraphError,
    bad_param,
    json_list_param,
    requested_fields,
)

INSIGHTS_FIELDS = frozenset(
    {
        "account_id",
        "account_name",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "objective",
        "impressions",
        "reach",
        "frequency",
        "clicks",
        "spend",
        "ctr",
        "cpc",
        "cpm",
        "actions",
        "action_values",
        "cost_per_action_type",
        "date_start",
        "date_stop",
    }
)
DEFAULT_FIELDS = ("impressions", "spend")
WINDOWS = frozenset({"1d_click", "7d_click", "28d_click", "1d_view", "1d_ev"})
RETIRED_WINDOWS = frozenset({"7d_view", "28d_view", "dda", "default"})
"""Accepted but never returned: 7d_view/28d_view were retired on 2026-01-12."""
DATE_PRESETS = {"today": (0, 0), "yesterday": (1, 1), "last_3d": (3, 1), "last_7d": (7, 1)}
DATE_PRESETS |= {"last_14d": (14, 1), "last_28d": (28, 1), "last_30d": (30, 1), "last_90d": (90, 1)}
"""(first, last) days before today; Meta's last_Nd presets exclude today."""
RETENTION_MONTHS = 37
STATUS_FILTER_FIELDS = frozenset(
    {"campaign.effective_status", "adset.effective_status", "ad.effective_status"}
)


@dataclass(frozen=True)
class InsightsQuery:
    """A validated insights request: campaign level, a date span, daily or summed over the span."""

    since: date
    until: date
    daily: bool
    fields: tuple[str, ...]
    windows: tuple[str, ...]
    statuses: frozenset[str]
    campaign_ids: frozenset[str] | None
    limit: int

    @property
    def days(self) -> int:
        """Number of days the report spans."""
        return (self.until - self.since).days + 1


def parse_insights_query(
    params: Mapping[str, str], today: date, default_limit: int
) -> InsightsQuery:
    """The query `params` describe; GraphError names the first parameter Meta would refuse."""
    if params.get("level", "account") != "campaign":
        raise bad_param(
            f"level '{params.get('level', 'account')}' is not simulated by the OWNLAY "
            "sandbox; use level=campaign"
        )
    fields = requested_fields(params.get("fields"), DEFAULT_FIELDS)
    for name in fields:
        if name not in INSIGHTS_FIELDS:
            raise bad_param(
                f"{name} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ "
                "for all valid values"
            )
    if params.get("breakdowns") not in (None, "", "[]"):
        raise bad_param("breakdowns are not simulated by the OWNLAY sandbox")
    increment = params.get("time_increment", "all_days")
    if increment not in ("1", "all_days"):
        raise bad_param(
            f"time_increment={increment} is not simulated by the OWNLAY sandbox; use 1 or all_days"
        )
    since, until = _time_range(params, today)
    windows = json_list_param(params, "action_attribution_windows") or []
    for window in windows:
        if window not in WINDOWS | RETIRED_WINDOWS:
            raise bad_param(
                f"action_attribution_windows[{windows.index(window)}] must be one of "
                f"{{{', '.join(sorted(WINDOWS | RETIRED_WINDOWS))}}}."
            )
    statuses, campaign_ids = _filtering(params)
    return InsightsQuery(
        since=since,
        until=until,
        daily=increment == "1",
        fields=tuple(fields),
        windows=tuple(w for w in windows if w in WINDOWS),
        statuses=statuses,
        campaign_ids=campaign_ids,
        limit=parse_limit(params, default_limit),
    )


def parse_limit(params: Mapping[str, str], default: int) -> int:
    """The page size a request asks for (Meta's default 25)."""
    raw = params.get("limit", str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise bad_param("param limit must be a positive integer")
    return int(raw)


def _time_range(params: Mapping[str, str], today: date) -> tuple[date, date]:
    raw = params.get("time_range")
    if raw is None:
        first, last = DATE_PRESETS.get(params.get("date_preset", "last_30d"), (None, None))
        if first is None or last is None:
            raise bad_param(f"date_preset must be one of {', '.join(DATE_PRESETS)}")
        return today - timedelta(days=first), today - timedelta(days=last)
    try:
        value = json.loads(raw)
        since, until = date.fromisoformat(value["since"]), date.fromisoformat(value["until"])
    except (ValueError, KeyError, TypeError):
        raise bad_param(
            'param time_range must be a JSON object {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}'
        ) from None
    if since > until:
        raise bad_param(f"time_range since ({since}) must not be after until ({until})")
    months_back = today.year * 12 + today.month - RETENTION_MONTHS - 1
    oldest = date(months_back // 12, months_back % 12 + 1, 1)
    if since < oldest:
        raise GraphError(
            400,
            3018,
            "(#3018) The start date of the time range cannot be beyond 37 months from the "
            "current date",
        )
    return since, until


def _filtering(params: Mapping[str, str]) -> tuple[frozenset[str], frozenset[str] | None]:
    statuses = EFFECTIVE_STATUSES - HIDDEN_BY_DEFAULT
    campaign_ids = None
    for rule in json_list_param(params, "filtering") or []:
        if (
            not isinstance(rule, dict)
            or rule.get("operator") != "IN"
            or not isinstance(rule.get("value"), list)
        ):
            raise bad_param(
                'filtering must be a list of {"field", "operator": "IN", "value": [...]}'
            )
        if rule.get("field") in STATUS_FILTER_FIELDS:
            # At campaign level a child's status follows its campaign's, so the three fields agree.
            statuses = frozenset(rule["value"])
        elif rule.get("field") == "campaign.id":
            campaign_ids = frozenset(str(v) for v in rule["value"])
        else:
            raise bad_param(
                f"filtering on {rule.get('field')!r} is not simulated by the OWNLAY sandbox"
            )
    return statuses, campaign_ids
