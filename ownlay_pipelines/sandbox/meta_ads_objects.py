"""How the world's Meta entities look through the Graph API: node types, fields, statuses, errors.

Entity endpoints return numbers as JSON numbers except money (budgets are strings in the
currency's minor units, Meta's "offset" convention), times as `2025-03-01T00:00:00-0500` in the
account timezone, and omit fields an object does not have. Deleted objects are only listed when
`effective_status` asks for DELETED (Meta "Manage Your Ad Object's Status").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from ownlay_pipelines.sandbox.currency import minor_unit_exponent
from ownlay_pipelines.sandbox.entities import (
    Ad,
    AdGroup,
    Campaign,
    EntityStatus,
    SandboxAccount,
)
from ownlay_pipelines.sandbox.world import SandboxWorld

STATUS_WORDS = {
    EntityStatus.ACTIVE: "ACTIVE",
    EntityStatus.PAUSED: "PAUSED",
    EntityStatus.DELETED: "DELETED",
}
EFFECTIVE_STATUSES = frozenset(
    {
        "ACTIVE",
        "PAUSED",
        "DELETED",
        "PENDING_REVIEW",
        "DISAPPROVED",
        "PREAPPROVED",
        "PENDING_BILLING_INFO",
        "CAMPAIGN_PAUSED",
        "ARCHIVED",
        "ADSET_PAUSED",
        "IN_PROCESS",
        "WITH_ISSUES",
    }
)
HIDDEN_BY_DEFAULT = frozenset({"DELETED", "ARCHIVED"})
OPTIMIZATION_GOALS = {
    "OUTCOME_SALES": "OFFSITE_CONVERSIONS",
    "OUTCOME_TRAFFIC": "LINK_CLICKS",
    "OUTCOME_AWARENESS": "REACH",
    "OUTCOME_LEADS": "LEAD_GENERATION",
}


class GraphError(Exception):
    """An error the Graph API answers with: HTTP status plus Meta's `error` object fields."""

    def __init__(
        self,
        http_status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        is_transient: bool | None = None,
        error_type: str = "OAuthException",
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.subcode = subcode
        self.is_transient = is_transient
        self.error_type = error_type

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        """The JSON body exactly as Meta shapes it."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def bad_param(message: str) -> GraphError:
    """Meta's (#100) invalid-parameter error."""
    return GraphError(400, 100, f"(#100) {message}")


def requested_fields(raw: str | None, default: tuple[str, ...]) -> list[str]:
    """Field names of a `fields` parameter; `creative{id,name}` names `creative` (sub-fields of
    an expanded object are not narrowed by the sandbox)."""
    if not raw:
        return list(default)
    names, depth, current = [], 0, ""
    for char in raw:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += char
    names.append(current)
    return [name.split("{", 1)[0].strip() for name in names if name.strip()]


def json_list_param(params: Mapping[str, str], name: str) -> list[Any] | None:
    """A JSON-array parameter such as `effective_status=["ACTIVE","PAUSED"]`; None when absent."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise bad_param(f"param {name} must be an array.")
    return value


def meta_time(day: date, account: SandboxAccount) -> str:
    """Local midnight of `day` in Meta's timestamp format, e.g. 2025-03-01T00:00:00-0500."""
    return datetime.combine(day, time(), account.zone).strftime("%Y-%m-%dT%H:%M:%S%z")


class MetaView:
    """One ad account's entities rendered as Graph API objects."""

    def __init__(self, world: SandboxWorld, account: SandboxAccount) -> None:
        self.world = world
        self.account = account
        self.catalog = world.catalog(account.platform, account.account_id)
        self._ad_sets = {g.ad_group_id: g for g in self.catalog.ad_groups}

    def effective_status(self, item: object) -> str | None:
        """Meta's `effective_status`: the object's own status unless a parent pauses it."""
        if isinstance(item, Campaign):
            return STATUS_WORDS[item.status]
        if isinstance(item, AdGroup | Ad):
            own = STATUS_WORDS[item.status]
            if own != "ACTIVE":
                return own
            if (
                isinstance(item, Ad)
                and self._ad_sets[item.ad_group_id].status is EntityStatus.PAUSED
            ):
                return "ADSET_PAUSED"
            campaign = self.catalog.campaign_by_id[item.campaign_id]
            return "CAMPAIGN_PAUSED" if campaign.status is EntityStatus.PAUSED else "ACTIVE"
        return None

    def account_node(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The ad account node with its requested fields (`account_status` 1 = active)."""
        offset = self.world.now.astimezone(self.account.zone).utcoffset()
        node = {
            "id": f"act_{self.account.account_id}",
            "account_id": self.account.account_id,
            "name": self.account.name,
            "currency": self.account.currency,
            "timezone_name": self.account.timezone,
            "timezone_offset_hours_utc": offset.total_seconds() / 3600 if offset else 0.0,
            "account_status": 1,
        }
        fields = requested_fields(params.get("fields"), ("id",))
        unknown = [f for f in fields if f not in node]
        if unknown:
            raise bad_param(
                f"Tried accessing nonexisting field ({unknown[0]}) on node type (AdAccount)"
            )
        return {name: node[name] for name in ["id", *fields]}

    def render(self, edge: Edge, item: object, fields: list[str]) -> dict[str, Any]:
        """The object's requested fields; Graph API always includes `id`."""
        out: dict[str, Any] = {}
        for name in ["id", *fields]:
            value = edge.fields[name](self, item)
            if value is not None:
                out[name] = value
        return out

    def budget(self, campaign: Campaign) -> str:
        """The campaign's daily budget as Meta sends it: a string of minor currency units."""
        exponent = minor_unit_exponent(self.account.currency)
        return str(int(campaign.daily_budget.scaleb(exponent)))


Renderer = Callable[[MetaView, Any], Any]


@dataclass(frozen=True)
class Edge:
    """An account edge: its Graph node type, its objects and how each field renders."""

    node_type: str
    items: Callable[[MetaView], list[Any]]
    fields: Mapping[str, Renderer]
    filters_by_status: bool = True


def _status_fields() -> dict[str, Renderer]:
    return {
        "status": lambda v, o: STATUS_WORDS[o.status],
        "configured_status": lambda v, o: STATUS_WORDS[o.status],
        "effective_status": lambda v, o: v.effective_status(o),
        "account_id": lambda v, o: v.account.account_id,
    }


def _campaign_of(view: MetaView, item: AdGroup | Ad) -> Campaign:
    return view.catalog.campaign_by_id[item.campaign_id]


def _updated(view: MetaView, campaign: Campaign) -> str:
    """Last change of a campaign's tree: its pause or deletion, else its launch."""
    return meta_time(campaign.ended_on or campaign.start_date, view.account)


CAMPAIGN_FIELDS: dict[str, Renderer] = {
    "id": lambda v, c: c.campaign_id,
    "name": lambda v, c: c.name,
    **_status_fields(),
    "objective": lambda v, c: c.objective,
    "bid_strategy": lambda v, c: c.bidding_strategy,
    "buying_type": lambda v, c: "AUCTION",
    "daily_budget": lambda v, c: v.budget(c),
    "lifetime_budget": lambda v, c: None,
    "special_ad_categories": lambda v, c: [],
    "start_time": lambda v, c: meta_time(c.start_date, v.account),
    "stop_time": lambda v, c: None,
    "created_time": lambda v, c: meta_time(c.start_date, v.account),
    "updated_time": lambda v, c: _updated(v, c),
}
AD_SET_FIELDS: dict[str, Renderer] = {
    "id": lambda v, g: g.ad_group_id,
    "name": lambda v, g: g.name,
    "campaign_id": lambda v, g: g.campaign_id,
    **_status_fields(),
    # Campaign budget optimisation: the budget lives on the campaign, so ad sets omit theirs.
    "daily_budget": lambda v, g: None,
    "lifetime_budget": lambda v, g: None,
    "targeting": lambda v, g: json.loads(json.dumps(g.targeting)),
    "optimization_goal": lambda v, g: OPTIMIZATION_GOALS[_campaign_of(v, g).objective],
    "billing_event": lambda v, g: "IMPRESSIONS",
    "start_time": lambda v, g: meta_time(_campaign_of(v, g).start_date, v.account),
    "created_time": lambda v, g: meta_time(_campaign_of(v, g).start_date, v.account),
    "updated_time": lambda v, g: _updated(v, _campaign_of(v, g)),
}
AD_FIELDS: dict[str, Renderer] = {
    "id": lambda v, a: a.ad_id,
    "name": lambda v, a: a.name,
    "adset_id": lambda v, a: a.ad_group_id,
    "campaign_id": lambda v, a: a.campaign_id,
    **_status_fields(),
    "creative": lambda v, a: {"id": a.creative_id},
    "created_time": lambda v, a: meta_time(_campaign_of(v, a).start_date, v.account),
    "updated_time": lambda v, a: _updated(v, _campaign_of(v, a)),
}
CREATIVE_FIELDS: dict[str, Renderer] = {
    "id": lambda v, c: c.creative_id,
    "name": lambda v, c: c.name,
    "account_id": lambda v, c: v.account.account_id,
    "status": lambda v, c: "ACTIVE",
    "title": lambda v, c: c.title,
    "body": lambda v, c: c.body,
    "image_url": lambda v, c: c.image_url,
    "video_id": lambda v, c: c.video_id,
    "thumbnail_url": lambda v, c: (
        c.image_url or f"https://scontent.xx.fbcdn.net/v/t15.5256-10/{c.video_id}_n.jpg"
    ),
    "object_type": lambda v, c: "VIDEO" if c.video_id else "SHARE",
    "call_to_action_type": lambda v, c: c.call_to_action_type,
    "link_url": lambda v, c: c.link_url,
}
AUDIENCE_FIELDS: dict[str, Renderer] = {
    "id": lambda v, a: a.audience_id,
    "name": lambda v, a: a.name,
    "account_id": lambda v, a: v.account.account_id,
    "subtype": lambda v, a: a.subtype,
    "description": lambda v, a: a.description,
    "approximate_count_lower_bound": lambda v, a: a.approximate_count_lower_bound,
    "approximate_count_upper_bound": lambda v, a: a.approximate_count_upper_bound,
    "retention_days": lambda v, a: a.retention_days,
    "time_created": lambda v, a: int(a.created_at.timestamp()),
    "delivery_status": lambda v, a: {"code": 200, "description": "This audience is ready for use."},
    "operation_status": lambda v, a: {"code": 200, "description": "Normal"},
}

EDGES: dict[str, Edge] = {
    "campaigns": Edge("Campaign", lambda v: list(v.catalog.campaigns), CAMPAIGN_FIELDS),
    "adsets": Edge("AdSet", lambda v: list(v.catalog.ad_groups), AD_SET_FIELDS),
    "ads": Edge("Adgroup", lambda v: list(v.catalog.ads), AD_FIELDS),
    "adcreatives": Edge(
        "AdCreative", lambda v: list(v.catalog.creatives), CREATIVE_FIELDS, filters_by_status=False
    ),
    "customaudiences": Edge(
        "CustomAudience",
        lambda v: list(v.catalog.audiences),
        AUDIENCE_FIELDS,
        filters_by_status=False,
    ),
}
"""The account edges the simulator serves, by URL segment."""


def list_edge(view: MetaView, edge_name: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every object of the edge the request may see, rendered with its requested fields."""
    edge = EDGES[edge_name]
    fields = requested_fields(params.get("fields"), ("id",))
    unknown = [f for f in fields if f not in edge.fields]
    if unknown:
        raise bad_param(
            f"Tried accessing nonexisting field ({unknown[0]}) on node type ({edge.node_type})"
        )
    wanted = json_list_param(params, "effective_status")
    if wanted is not None:
        invalid = [s for s in wanted if s not in EFFECTIVE_STATUSES]
        if invalid:
            raise bad_param(
                f"param effective_status[{wanted.index(invalid[0])}] must be one of "
                f"{{{', '.join(sorted(EFFECTIVE_STATUSES))}}}."
            )
    items = edge.items(view)
    if edge.filters_by_status:
        items = [i for i in items if _visible(view.effective_status(i), wanted)]
    return [view.render(edge, item, fields) for item in items]


def _visible(status: str | None, wanted: list[Any] | None) -> bool:
    if wanted is None:
        return status not in HIDDEN_BY_DEFAULT
    return status in wanted
