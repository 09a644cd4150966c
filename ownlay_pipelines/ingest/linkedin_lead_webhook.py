"""LinkedIn lead notifications: the endpoint's ownership challenge and signed `LEAD_ACTION` posts.

As LinkedIn documents webhooks (learn.microsoft.com/linkedin/shared/api-guide/webhook-validation):
- validation: `GET <url>?challengeCode=<uuid>` must answer 200 JSON within 3 s with
  `{"challengeCode", "challengeResponse"}`, where challengeResponse = lower-case
  hex(HMAC-SHA256(key = app client secret, message = challengeCode)); LinkedIn re-validates
  every 2 hours and stops pushing after 3 failures;
- each notification carries `X-LI-Signature` = hex(HMAC-SHA256(client secret,
  "hmacsha256=" + raw body)), checked here in constant time over the body exactly as received;
- a lead notification body is `{"type": "LEAD_ACTION", "leadGenFormResponse": <lead urn>,
  "leadGenForm", "owner", "leadType", "leadAction": "CREATED"|"DELETED", "occurredAt"}`; it
  names the lead but does not hold its answers, and LinkedIn may deliver it more than once.

The client secret is the workspace's `OWNLAY_LINKEDIN_WEBHOOK_SECRET__<WORKSPACE>`, with
`…_PREVIOUS__<WORKSPACE>` also accepted during a rotation (as for Shopify). A verified
notification is stored in the webhook store under the id `<lead urn>/<action>`, so a repeat is
acknowledged but not stored twice; `connectors/linkedin_lead_webhooks.py` applies it later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ownlay_pipelines.events.lake_rows import to_micros
from ownlay_pipelines.http.clock import Clock
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.errors import IngestError
from ownlay_pipelines.ingest.openapi import (
    LINKEDIN_CHALLENGE_ROUTE_DOCS,
    LINKEDIN_LEAD_ROUTE_DOCS,
)
from ownlay_pipelines.ingest.request_body import parse_json, read_capped_body
from ownlay_pipelines.ingest.signatures import SignatureRejected, WebhookProvider
from ownlay_pipelines.ingest.webhook_routes import _secrets, _verified, _workspace
from ownlay_pipelines.ingest.webhook_store import WebhookStore

SIGNATURE_HEADER = "x-li-signature"
SIGNED_PREFIX = b"hmacsha256="
"""LinkedIn signs "hmacsha256=" + body; the header holds only the hex digest."""
LEAD_ACTIONS = frozenset({"CREATED", "DELETED"})
LEAD_URN = re.compile(r"urn:li:leadFormResponse:[A-Za-z0-9_-]{1,100}")
CHALLENGE_CODE = re.compile(r"[A-Za-z0-9-]{1,100}")
HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def linkedin_signature(secret: str, raw_body: bytes) -> str:
    """The `X-LI-Signature` LinkedIn sends for `raw_body` under the app's client secret."""
    return hmac.new(secret.encode(), SIGNED_PREFIX + raw_body, hashlib.sha256).hexdigest()


def challenge_response(secret: str, challenge_code: str) -> str:
    """hex(HMAC-SHA256(client secret, challengeCode)), LinkedIn's ownership proof."""
    return hmac.new(secret.encode(), challenge_code.encode(), hashlib.sha256).hexdigest()


def verify_linkedin(raw_body: bytes, signature_header: str | None, secrets: Sequence[str]) -> None:
    """Return if `signature_header` is LinkedIn's signature of `raw_body` under any secret."""
    if not signature_header:
        raise SignatureRejected("X-LI-Signature header is missing", status=401)
    presented = signature_header.strip().lower()
    if not HEX_DIGEST.fullmatch(presented):
        raise SignatureRejected("X-LI-Signature must be 64 hex digits", status=401)
    for secret in secrets:
        if hmac.compare_digest(linkedin_signature(secret, raw_body), presented):
            return
    raise SignatureRejected("X-LI-Signature does not match the body", status=401)


def linkedin_lead_router(
    deliveries: WebhookStore, settings: IngestSettings, clock: Clock, environ: Mapping[str, str]
) -> APIRouter:
    """Routes `GET|POST /api/v1/webhooks/linkedin/{workspace_id}`."""
    router = APIRouter()
    path = "/api/v1/webhooks/linkedin/{workspace_id}"

    @router.get(path, **LINKEDIN_CHALLENGE_ROUTE_DOCS)
    async def challenge(workspace_id: str, request: Request) -> JSONResponse:
        """Prove ownership of the URL with the current client secret."""
        workspace_id = _workspace(workspace_id)
        code = request.query_params.get("challengeCode")
        if code is None or not CHALLENGE_CODE.fullmatch(code):
            raise IngestError(
                400, "bad_challenge", "challengeCode must be 1-100 letters, digits or '-'"
            )
        secrets = _secrets(WebhookProvider.LINKEDIN, workspace_id, environ)
        if not secrets:
            raise IngestError(401, "invalid_signature", "no LinkedIn client secret configured")
        return JSONResponse(
            {
                "challengeCode": code,
                "challengeResponse": challenge_response(secrets[0], code),
            }
        )

    @router.post(path, **LINKEDIN_LEAD_ROUTE_DOCS)
    async def lead_notification(workspace_id: str, request: Request) -> JSONResponse:
        """A signed lead notification; stored once per lead and action."""
        workspace_id = _workspace(workspace_id)
        body = await read_capped_body(request, settings.max_body_bytes)
        secrets = _secrets(WebhookProvider.LINKEDIN, workspace_id, environ)
        _verified(lambda: verify_linkedin(body, request.headers.get(SIGNATURE_HEADER), secrets))
        notification = parse_json(body)
        lead, action = _lead_and_action(notification)
        try:
            stored = await deliveries.append(
                provider=WebhookProvider.LINKEDIN.value,
                workspace_id=workspace_id,
                delivery_id=f"{lead}/{action}",
                topic=f"lead/{action.lower()}",
                received_at_us=to_micros(clock.now()),
                headers={},
                raw_body=body,
            )
        except Exception as error:
            raise IngestError(503, "store_unavailable", "delivery not stored; retry") from error
        return JSONResponse({"status": "stored" if stored else "duplicate"}, status_code=200)

    return router


def _lead_and_action(notification: object) -> tuple[str, str]:
    if not isinstance(notification, dict) or notification.get("type") != "LEAD_ACTION":
        raise IngestError(400, "malformed_event", "type must be 'LEAD_ACTION'")
    lead = notification.get("leadGenFormResponse")
    if not isinstance(lead, str) or not LEAD_URN.fullmatch(lead):
        raise IngestError(
            400, "malformed_event", "leadGenFormResponse must be an urn:li:leadFormResponse URN"
        )
    action = notification.get("leadAction")
    if action not in LEAD_ACTIONS:
        raise IngestError(400, "malformed_event", "leadAction must be CREATED or DELETED")
    return lead, str(action)
