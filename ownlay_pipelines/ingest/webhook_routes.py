"""Shopify and Stripe webhook endpoints: verify the raw body, drop repeats, store durably, ack fast.

Per reference/connectors.md §1.12: the raw body is verified before any parsing, the delivery is
stored as received (the Shopify connector upserts it later, comparing `updated_at`), repeats of a
provider event id are acknowledged but not stored twice (both providers deliver at least once),
and the answer comes well inside Shopify's 5 s timeout.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ownlay_pipelines.events.lake_rows import to_micros
from ownlay_pipelines.http.clock import Clock
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.errors import IngestError
from ownlay_pipelines.ingest.openapi import SHOPIFY_ROUTE_DOCS, STRIPE_ROUTE_DOCS
from ownlay_pipelines.ingest.request_body import parse_json, read_capped_body
from ownlay_pipelines.ingest.signatures import (
    SignatureRejected,
    WebhookProvider,
    verify_shopify,
    verify_stripe,
    webhook_secrets,
)
from ownlay_pipelines.ingest.webhook_store import WebhookStore
from ownlay_pipelines.registry.tenant import validate_workspace_id

SHOPIFY_KEPT_HEADERS = (
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
    "x-shopify-api-version",
)
"""Headers the connector needs later (staleness, API version); the signature is not kept."""

MAX_SHOPIFY_ID_CHARS = 255
"""Shopify's event ids are UUIDs and its topics words like `orders/create`; the headers are not
signed, so their length is bounded before they are stored."""
MAX_WORKSPACE_CHARS = 63
"""A workspace slug's longest (registry/tenant.py)."""
UNCONFIGURED_WARNING_SECONDS = 60.0
MAX_WARNED_WORKSPACES = 1000
logger = logging.getLogger(__name__)


def webhook_router(
    deliveries: WebhookStore, settings: IngestSettings, clock: Clock, environ: Mapping[str, str]
) -> APIRouter:
    """Routes `POST /api/v1/webhooks/{shopify,stripe}/{workspace_id}`."""
    router = APIRouter()

    async def store(
        provider: WebhookProvider,
        workspace_id: str,
        delivery_id: str,
        topic: str,
        headers: dict[str, str],
        body: bytes,
    ) -> JSONResponse:
        try:
            stored = await deliveries.append(
                provider=provider.value,
                workspace_id=workspace_id,
                delivery_id=delivery_id,
                topic=topic,
                received_at_us=to_micros(clock.now()),
                headers=headers,
                raw_body=body,
            )
        except Exception as error:
            # A non-2xx makes Shopify and Stripe redeliver later (connectors.md §1.7, §1.8).
            logger.error("store commit failed for %s webhook: %s", provider, type(error).__name__)
            raise IngestError(503, "store_unavailable", "delivery not stored; retry") from error
        return JSONResponse({"status": "stored" if stored else "duplicate"}, status_code=200)

    @router.post("/api/v1/webhooks/shopify/{workspace_id}", **SHOPIFY_ROUTE_DOCS)
    async def shopify(workspace_id: str, request: Request) -> JSONResponse:
        """A Shopify delivery signed with the app's client secret (base64 HMAC of the body)."""
        workspace_id = _workspace(workspace_id)
        secrets = _secrets(WebhookProvider.SHOPIFY, workspace_id, environ)
        signature = request.headers.get("x-shopify-hmac-sha256")
        if not secrets:  # no body can pass: the same 401, before the body is read
            _verified(lambda: verify_shopify(b"", signature, secrets))
        body = await read_capped_body(request, settings.max_body_bytes)
        _verified(lambda: verify_shopify(body, signature, secrets))
        # X-Shopify-Event-Id repeats on every retry of one event (shopify.dev ignore-duplicates).
        delivery_id = request.headers.get("x-shopify-event-id") or request.headers.get(
            "x-shopify-webhook-id"
        )
        topic = request.headers.get("x-shopify-topic")
        if not delivery_id or not topic:
            raise IngestError(
                400, "missing_header", "X-Shopify-Event-Id and X-Shopify-Topic are required"
            )
        if max(len(delivery_id), len(topic)) > MAX_SHOPIFY_ID_CHARS:
            raise IngestError(
                400,
                "bad_header",
                f"X-Shopify-Event-Id and X-Shopify-Topic hold at most {MAX_SHOPIFY_ID_CHARS} "
                "characters",
            )
        # Stored only if the connector can read it later: a JSON object within parse_json's limits.
        if not isinstance(parse_json(body), dict):
            raise IngestError(400, "malformed_event", "a Shopify delivery must be a JSON object")
        headers = {
            name: request.headers[name] for name in SHOPIFY_KEPT_HEADERS if name in request.headers
        }
        return await store(WebhookProvider.SHOPIFY, workspace_id, delivery_id, topic, headers, body)

    @router.post("/api/v1/webhooks/stripe/{workspace_id}", **STRIPE_ROUTE_DOCS)
    async def stripe(workspace_id: str, request: Request) -> JSONResponse:
        """A Stripe delivery signed with the endpoint secret (`t=…,v1=…`, 300 s tolerance)."""
        workspace_id = _workspace(workspace_id)
        secrets = _secrets(WebhookProvider.STRIPE, workspace_id, environ)
        header = request.headers.get("stripe-signature")
        if not secrets:  # no body can pass: the same 401, before the body is read
            _verified(lambda: verify_stripe(b"", header, secrets, now=clock.now()))
        body = await read_capped_body(request, settings.max_body_bytes)
        _verified(lambda: verify_stripe(body, header, secrets, now=clock.now()))
        event = parse_json(body)
        event_id = event.get("id") if isinstance(event, dict) else None
        event_type = event.get("type") if isinstance(event, dict) else None
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            raise IngestError(400, "malformed_event", "a Stripe event needs string 'id' and 'type'")
        return await store(WebhookProvider.STRIPE, workspace_id, event_id, event_type, {}, body)

    return router


def _workspace(value: str) -> str:
    if len(value) > MAX_WORKSPACE_CHARS:
        # The slug check's message quotes the value: only an excerpt of a long one goes back.
        raise IngestError(
            404,
            "unknown_workspace",
            f"workspace_id {value[:20]!r}… is longer than {MAX_WORKSPACE_CHARS} characters",
        )
    try:
        return validate_workspace_id(value)
    except ValueError as error:
        raise IngestError(404, "unknown_workspace", str(error)) from error


def _secrets(
    provider: WebhookProvider, workspace_id: str, environ: Mapping[str, str]
) -> tuple[str, ...]:
    secrets = webhook_secrets(provider, workspace_id, environ)
    if not secrets and _first_in_a_while((provider, workspace_id)):
        # Said in the log for the operator, not to the caller, who gets the usual 401; once a
        # minute at most per workspace, so a flood of such deliveries is not a flood of lines.
        logger.warning(
            "no %s webhook secret configured for workspace %s (deliveries to it are refused 401; "
            "said at most once every %g s)",
            provider,
            workspace_id,
            UNCONFIGURED_WARNING_SECONDS,
        )
    return secrets


_warned_at: dict[tuple[str, str], float] = {}


def _first_in_a_while(key: tuple[str, str]) -> bool:
    """Whether `UNCONFIGURED_WARNING_SECONDS` have passed since `key` was last warned about (the
    memory is dropped past `MAX_WARNED_WORKSPACES` keys, so made-up workspaces cannot grow it)."""
    now = time.monotonic()
    if now - _warned_at.get(key, -math.inf) < UNCONFIGURED_WARNING_SECONDS:
        return False
    if len(_warned_at) >= MAX_WARNED_WORKSPACES:
        _warned_at.clear()
    _warned_at[key] = now
    return True


def _verified(check: Callable[[], None]) -> None:
    try:
        check()
    except SignatureRejected as error:
        raise IngestError(error.status, "invalid_signature", str(error)) from error
