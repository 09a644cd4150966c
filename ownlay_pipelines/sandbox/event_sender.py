"""Sending the sandbox visitors' events through the real ingestion endpoint, in batches."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date

import httpx

from ownlay_pipelines.sandbox.first_party_events import event_payloads
from ownlay_pipelines.sandbox.world import SandboxWorld

BATCH_SIZE = 500
"""Events per request: about 600 KB, under the service's 1 MiB body cap."""
API_KEY_HEADER = "X-Ownlay-Api-Key"
MAX_RATE_LIMITED_RETRIES = 100
"""A 429 is retried after its `Retry-After`, like a real SDK does, this many times per batch."""


def send_world_events(
    world: SandboxWorld,
    *,
    base_url: str,
    api_keys: Mapping[str, str],
    start: date,
    end: date,
    client: httpx.Client | None = None,
) -> dict[str, int]:
    """POST every event of each workspace in `api_keys` for local days [start, end]; returns the
    number of events the service acknowledged per workspace.

    The sandbox only produces valid events, so any rejected event is a bug and raises with the
    service's own reasons.
    """
    owned = client is None
    http = client or httpx.Client(timeout=60.0)
    acknowledged: dict[str, int] = {}
    try:
        for workspace_id, api_key in api_keys.items():
            events = list(event_payloads(world, workspace_id, start, end))
            for offset in range(0, len(events), BATCH_SIZE):
                response = _post_honouring_rate_limit(
                    http, f"{base_url}/api/v1/events", events[offset : offset + BATCH_SIZE], api_key
                )
                response.raise_for_status()
                body = response.json()
                if body.get("rejected"):
                    raise ValueError(f"{workspace_id}: the service rejected {body['rejected']}")
                acknowledged[workspace_id] = acknowledged.get(workspace_id, 0) + body["accepted"]
    finally:
        if owned:
            http.close()
    return acknowledged


def _post_honouring_rate_limit(
    http: httpx.Client, url: str, batch: list[dict], api_key: str
) -> httpx.Response:
    """POST the batch; on 429 wait the server's `Retry-After` and send it again (nothing of a
    refused request was stored, so the retry is safe)."""
    for _ in range(MAX_RATE_LIMITED_RETRIES):
        response = http.post(url, json=batch, headers={API_KEY_HEADER: api_key})
        if response.status_code != 429:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response
