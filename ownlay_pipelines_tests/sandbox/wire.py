"""Plain-HTTP helpers the sandbox tests share: base URLs, auth headers, page-following loops."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from ownlay_pipelines import registry as registry_package

NOW = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
"""11:00 in New York, 16:00 in Berlin, and 00:00 of 19 March in Tokyo."""
SANDBOX_REGISTRY = Path(registry_package.__file__).parent / "sandbox_workspaces.yaml"

META = "https://graph.facebook.com/v25.0"
GOOGLE = "https://googleads.googleapis.com/v21"
META_AUTH = {"Authorization": "Bearer sandbox-token"}
GOOGLE_AUTH = {"Authorization": "Bearer sandbox-token", "developer-token": "sandbox-dev-token"}
WINDOWS = ["1d_click", "7d_click", "28d_click", "1d_view"]
ALL_STATUSES = ["ACTIVE", "PAUSED", "DELETED", "ARCHIVED"]


def insights_params(since: date, until: date, **extra: Any) -> dict[str, Any]:
    """Daily campaign insights parameters as a connector sends them."""
    return {
        "level": "campaign",
        "fields": "campaign_id,campaign_name,impressions,reach,clicks,spend,actions,"
        "action_values,account_currency,date_start,date_stop",
        "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
        "time_increment": 1,
        "action_attribution_windows": json.dumps(WINDOWS),
        **extra,
    }


def with_deleted() -> str:
    """The `filtering` value that makes account-level insights include deleted campaigns."""
    return json.dumps(
        [{"field": "campaign.effective_status", "operator": "IN", "value": ALL_STATUSES}]
    )


def meta_pages(client: httpx.Client, url: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page body of a Meta listing, following `paging.next` until it is absent."""
    bodies = [client.get(url, params=params, headers=META_AUTH).json()]
    while "next" in bodies[-1].get("paging", {}):
        bodies.append(client.get(bodies[-1]["paging"]["next"], headers=META_AUTH).json())
    return bodies


def google_search(
    client: httpx.Client, customer_id: str, query: str, **body: Any
) -> httpx.Response:
    """One `googleAds:search` call."""
    return client.post(
        f"{GOOGLE}/customers/{customer_id}/googleAds:search",
        json={"query": query, **body},
        headers=GOOGLE_AUTH,
    )


def google_pages(client: httpx.Client, customer_id: str, query: str) -> list[dict[str, Any]]:
    """Every page body of a search, following `nextPageToken` until it is absent."""
    pages = [google_search(client, customer_id, query).json()]
    while "nextPageToken" in pages[-1]:
        token = pages[-1]["nextPageToken"]
        pages.append(google_search(client, customer_id, query, pageToken=token).json())
    return pages


def action_value(actions: list[dict[str, str]] | None, action_type: str) -> str | None:
    """The `value` of one action type in a Meta actions array, None when absent."""
    for action in actions or []:
        if action["action_type"] == action_type:
            return action["value"]
    return None
