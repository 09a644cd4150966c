"""Meta's rate-limit signals as the simulator sends them: usage headers and throttling errors.

Every Graph API response carries `x-app-usage`, `x-ad-account-usage` and
`x-business-use-case-usage` (the last keyed by business object id, each entry with
`estimated_time_to_regain_access` in minutes); insights responses add
`x-fb-ads-insights-throttle` (reference/connectors.md §1.1 "Usage headers"). Throttling is HTTP
400 with codes 17, 613 or 80000 — served here in that rotation — and usage at 100 %.
"""

from __future__ import annotations

import itertools
import json
import string
from collections import Counter

from ownlay_pipelines.sandbox.meta_ads_objects import GraphError
from ownlay_pipelines.sandbox.seeding import rng_for

THROTTLES = (
    (17, 2446079, "(#17) User request limit reached"),
    (613, 1487742, "(#613) Calls to this api have exceeded the rate limit."),
    (
        80000,
        2446079,
        "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-insights.",
    ),
)
"""(code, error_subcode, message) of Meta's throttling errors, served in rotation."""
USAGE_CEILING_PERCENT = 60
"""Usage climbs one point per call but stays below the 95 % line connectors pause at, except
while a throttle is being served."""
ACCESS_TIER = "standard_access"


class MetaUsage:
    """The usage counters, throttle rotation and trace ids of one Meta simulator."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._calls: Counter[str] = Counter()
        self._throttles = itertools.count()
        self._traces = itertools.count()

    def throttle(self) -> tuple[GraphError, int]:
        """The next throttling error and the minutes (1–5) until access is regained."""
        number = next(self._throttles)
        code, subcode, message = THROTTLES[number % len(THROTTLES)]
        return GraphError(400, code, message, subcode=subcode, is_transient=True), 1 + number % 5

    def trace_id(self) -> str:
        """An 11-character `fbtrace_id` like Meta's, distinct per response."""
        rng = rng_for(self.seed, "fbtrace", next(self._traces))
        return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(11))

    def headers(
        self, account_id: str | None, regain_minutes: int, insights: bool
    ) -> dict[str, str]:
        """The usage headers of a response to a call on `account_id` (None: no ad account)."""
        key = account_id or "app"
        self._calls[key] += 1
        percent = 100 if regain_minutes else min(USAGE_CEILING_PERCENT, self._calls[key])
        app_percent = min(USAGE_CEILING_PERCENT, sum(self._calls.values()))
        business_use_case = {
            "type": "ads_insights" if insights else "ads_management",
            "call_count": percent,
            "total_cputime": percent // 2,
            "total_time": percent // 2,
            "estimated_time_to_regain_access": regain_minutes,
            "ads_api_access_tier": ACCESS_TIER,
        }
        headers = {
            "x-app-usage": json.dumps(
                {
                    "call_count": app_percent,
                    "total_cputime": app_percent // 2,
                    "total_time": app_percent // 2,
                }
            ),
            "x-ad-account-usage": json.dumps(
                {
                    "acc_id_util_pct": percent,
                    "reset_time_duration": regain_minutes * 60,
                    "ads_api_access_tier": ACCESS_TIER,
                }
            ),
            "x-business-use-case-usage": json.dumps({key: [business_use_case]}),
            "x-fb-trace-id": self.trace_id(),
        }
        if insights:
            headers["x-fb-ads-insights-throttle"] = json.dumps(
                {
                    "app_id_util_pct": app_percent,
                    "acc_id_util_pct": percent,
                    "ads_api_access_tier": ACCESS_TIER,
                }
            )
        return headers
