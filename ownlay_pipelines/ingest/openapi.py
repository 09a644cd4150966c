"""The ingestion API's HTTP contract: request bodies with examples, every answer, the API key.

The handlers read raw bytes (the size cap and the webhook signatures need them), so FastAPI cannot
infer request bodies; this module declares them: `OwnlayEvent`/`TrackEvent` (one, or an array of
up to `OWNLAY_INGEST_MAX_BATCH_EVENTS`), Shopify, Stripe and LinkedIn lead deliveries (and
LinkedIn's validation challenge), the CORS preflight (`OPTIONS`) of the event routes and the
CORS headers of their answers, and the error body of every 4xx. `install_openapi` adds the event
models to the document's components.

A schema cannot say everything the service checks: the event timestamp must lie in a window
around the server clock, and opaque identifiers must not hold an e-mail, phone or IP
(docs/privacy.md), so a schema-valid event can still be refused with 422; likewise a Stripe
signature whose `t` is more than 300 s from the server clock is refused with 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from ownlay_pipelines.events.model import OwnlayEvent, TrackEvent

API_KEY_SCHEME = "WorkspaceApiKey"
OWNLAY_EVENT_EXAMPLE: dict[str, Any] = {
    "event_id": "7f3c9a52-1b6e-4d0a-8c2f-000000000001",
    "event_type": "purchase",
    "timestamp": "2026-11-21T11:30:00Z",
    "user_id": "user_1",
    "session_id": "sess_9f2a",
    "email": "jane.doe@example.com",
    "properties": {"revenue": 99.99, "currency": "USD", "order_id": "#1001"},
    "context": {
        "ip": "203.0.113.77",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
        "page": {"url": "https://shop.example.com/checkout/thanks?gclid=Cj0KCQ"},
    },
}
"""The README's curl body too (a test validates it)."""
TRACK_EVENT_EXAMPLE: dict[str, Any] = {
    "id": "2b8d4e61-0c7a-4f39-9e15-000000000001",
    "event_type": "page_view",
    "user_id": "anon_1",
    "session_id": "s_1",
    "properties": {"section": "tents"},
    "url": "https://shop.example.com/tents?utm_campaign=spring",
    "created_at": "2026-11-21T11:59:00Z",
}
SHOPIFY_ORDER_EXAMPLE: dict[str, Any] = {
    "id": 450789469,
    "name": "#1001",
    "created_at": "2026-11-21T06:00:00-05:00",
    "updated_at": "2026-11-21T06:00:00-05:00",
    "currency": "USD",
    "total_price": "409.94",
    "financial_status": "paid",
    "customer": {"id": 207119551},
}
STRIPE_EVENT_EXAMPLE: dict[str, Any] = {
    "id": "evt_1OzQ3b2eZvKYlo2C",
    "object": "event",
    "type": "charge.succeeded",
    "created": 1795348800,
    "data": {"object": {"id": "ch_3N", "object": "charge", "amount": 2000, "currency": "usd"}},
}

LINKEDIN_LEAD_EXAMPLE: dict[str, Any] = {
    "type": "LEAD_ACTION",
    "leadGenFormResponse": "urn:li:leadFormResponse:3d1bb5c4-20261119-4007313-0",
    "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:4007313,1)",
    "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:508000001"},
    "leadType": "SPONSORED",
    "leadAction": "CREATED",
    "occurredAt": 1795348800000,
}


class EventRefusal(BaseModel):
    """Why one event of the request was refused: its index and each field's reason."""

    index: int
    errors: list[dict[str, str]]


class EventsAccepted(BaseModel):
    """202: the accepted events are durable; refused ones are listed (at most 50, with the count)."""

    status: str = Field(description="'accepted', or 'partial' when some events were refused.")
    accepted: int
    stored: int = Field(description="Accepted events not stored before (retries count 0).")
    duplicates: list[int]
    rejected_count: int
    rejected: list[EventRefusal]


class ErrorBody(BaseModel):
    """Every 4xx/5xx: a code, a one-line message, and for 422 the refused events."""

    error: str
    message: str
    rejected_count: int | None = None
    rejected: list[EventRefusal] | None = None


class DeliveryStored(BaseModel):
    """200: the delivery is durable ('stored') or was received before ('duplicate')."""

    status: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "Malformed JSON (too deep, a number too long, NaN), empty batch, bad header, "
        "compressed data that is not valid gzip/deflate, a request that is not valid "
        "HTTP/1.1 (`malformed_http`) or a body in more than 16,384 chunks (`fragmented_body`); "
        "after these two the connection is closed.",
        401: "Missing or unknown API key, or a webhook signature that does not verify.",
        403: "The payload names another workspace than the API key's.",
        404: "A webhook path whose workspace is not a slug (a slug without a signing secret "
        "configured gets 401, as a bad signature does).",
        405: "A method the path does not take; `Allow` lists those it takes.",
        408: "A request line and headers, or a body of at most 64 KiB, that had not fully "
        "arrived 10 s after the request's first byte, or whose bytes stopped for 2 s "
        "(`head_timeout`, `body_timeout`); a body over 64 KiB (or of unknown length) that had "
        "not fully arrived 10 s after its first turn to be read, or whose bytes stopped for "
        "2 s (`body_timeout`). The connection is closed.",
        413: "Body over OWNLAY_INGEST_MAX_BODY_BYTES or batch over the event limit.",
        415: "A body or declared charset other than UTF-8, or a Content-Encoding other than "
        "gzip or deflate (event routes) or none (webhooks).",
        431: "The request line and headers exceed 64 KiB; the connection is closed.",
        422: "No event in the request is valid (reasons per field, never the input value; a "
        "field path, which can be an unknown key of the input, is cut after 64 characters).",
        429: "Over the workspace's events per second; retry after `Retry-After` seconds.",
        503: "The durable store could not commit, or (event routes) a body over 64 KiB found "
        "no turn to be read within 10 s; nothing was kept, retry (after `Retry-After` when "
        "sent).",
    }
    answers: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": reasons[status]} for status in statuses
    }
    if 405 in answers:
        answers[405]["headers"] = {
            "Allow": {"description": "The methods of the path.", "schema": {"type": "string"}}
        }
    if 429 in answers:
        answers[429]["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return answers


def _json_body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": schema,
                    "examples": {name: {"value": value} for name, value in examples.items()},
                }
            },
        }
    }


def _one_or_batch(model: str, example: dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model}"}
    return _json_body(
        {"oneOf": [ref, {"type": "array", "items": ref, "minItems": 1}]},
        {"one event": example, "batch": [example]},
    )


def _header(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _string_header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


_CORS_ANSWER_HEADERS = {
    "Access-Control-Allow-Origin": _string_header(
        "The request's `Origin`, when OWNLAY_INGEST_CORS_ORIGINS lists it (never `*`)."
    ),
    "Access-Control-Expose-Headers": _string_header(
        "`Retry-After`, with `Access-Control-Allow-Origin`."
    ),
    "Vary": _string_header(
        "`Origin`, when origins are configured and the request sent one (server-to-server "
        "requests send none and get no CORS header)."
    ),
}
"""What every answer of an event route may carry for a browser (`ingest/cors.py`)."""


def _event_answers() -> dict[int | str, dict[str, Any]]:
    """The 202 and refusals of an event route, each with the CORS headers it may carry."""
    answers = _errors(400, 401, 403, 405, 408, 413, 415, 422, 429, 431, 503)
    answers[202] = {"description": "Successful Response"}
    for answer in answers.values():
        answer["headers"] = {**answer.get("headers", {}), **_CORS_ANSWER_HEADERS}
    return answers


_EVENT_ANSWERS = _event_answers()
_WEBHOOK_ERRORS = _errors(400, 401, 404, 405, 408, 413, 415, 431, 503)
_SECURED = {"security": [{API_KEY_SCHEME: []}]}

EVENT_ROUTE_DOCS: dict[str, Any] = {
    "summary": "Send one seed-000 event or a batch",
    "response_model": EventsAccepted,
    "responses": _EVENT_ANSWERS,
    "openapi_extra": {**_one_or_batch("OwnlayEvent", OWNLAY_EVENT_EXAMPLE), **_SECURED},
}
TRACK_ROUTE_DOCS: dict[str, Any] = {
    "summary": "Send one seed-001 tracking-SDK event or a batch",
    "response_model": EventsAccepted,
    "responses": _EVENT_ANSWERS,
    "openapi_extra": {**_one_or_batch("TrackEvent", TRACK_EVENT_EXAMPLE), **_SECURED},
}


def _optional_header(name: str, description: str) -> dict[str, Any]:
    return {**_header(name, description), "required": False}


PREFLIGHT_ROUTE_DOCS: dict[str, Any] = {
    "summary": "CORS preflight: may a page of this Origin send events here?",
    "description": "Browsers send it before a cross-origin POST with the API key header "
    "(Fetch standard, CORS protocol). No key is needed. An OPTIONS without `Origin` and "
    "`Access-Control-Request-Method` is no preflight and gets 204 with `Allow`.",
    "responses": {
        204: {
            "description": "The origin is in OWNLAY_INGEST_CORS_ORIGINS and asked for POST "
            "with headers the route takes (or this was no preflight: then only `Allow`).",
            "headers": {
                "Access-Control-Allow-Origin": _string_header("The request's `Origin`."),
                "Access-Control-Allow-Methods": _string_header("`POST`."),
                "Access-Control-Allow-Headers": _string_header(
                    "`Content-Type, Content-Encoding, X-Ownlay-Api-Key`."
                ),
                "Access-Control-Max-Age": {
                    "description": "Seconds a browser may reuse this answer (7200).",
                    "schema": {"type": "integer"},
                },
                "Vary": _string_header(
                    "`Origin, Access-Control-Request-Method, Access-Control-Request-Headers`."
                ),
                "Allow": _string_header("`OPTIONS, POST`, when this was no preflight."),
            },
        },
        403: {
            "model": ErrorBody,
            "description": "The origin is not allowed (`origin_not_allowed`; none is by "
            "default), or it asked for another method or a header the route does not take "
            "(`cors_method_not_allowed`, `cors_header_not_allowed`); no allow header is sent.",
        },
        **_errors(405, 408, 431),
    },
    "openapi_extra": {
        "parameters": [
            _optional_header("Origin", "The page's origin, e.g. https://shop.example."),
            _optional_header("Access-Control-Request-Method", "POST."),
            _optional_header(
                "Access-Control-Request-Headers",
                "Comma-separated, e.g. content-type,x-ownlay-api-key.",
            ),
        ]
    },
}
SHOPIFY_ROUTE_DOCS: dict[str, Any] = {
    "summary": "Receive a signed Shopify webhook delivery",
    "response_model": DeliveryStored,
    "responses": _WEBHOOK_ERRORS,
    "openapi_extra": {
        **_json_body(
            {"type": "object", "description": "The Shopify object of the topic (order, …)."},
            {"orders/create": SHOPIFY_ORDER_EXAMPLE},
        ),
        "parameters": [
            _header("X-Shopify-Hmac-Sha256", "base64 HMAC-SHA256 of the body (app secret)."),
            _header("X-Shopify-Topic", "Webhook topic, e.g. orders/create."),
            _header("X-Shopify-Event-Id", "Same on every retry of one event."),
        ],
    },
}
STRIPE_ROUTE_DOCS: dict[str, Any] = {
    "summary": "Receive a signed Stripe event",
    "response_model": DeliveryStored,
    "responses": _WEBHOOK_ERRORS,
    "openapi_extra": {
        **_json_body(
            {
                "type": "object",
                "required": ["id", "type"],
                "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
            },
            {"charge.succeeded": STRIPE_EVENT_EXAMPLE},
        ),
        "parameters": [
            _header(
                "Stripe-Signature",
                "t=<unix seconds>,v1=<hex HMAC-SHA256>; t within 300 s of the server clock.",
                pattern=r"^t=[0-9]{1,12}(,v[0-9]=[0-9a-f]{1,128})*,v1=[0-9a-f]{1,128}$",
            )
        ],
    },
}

LINKEDIN_LEAD_ROUTE_DOCS: dict[str, Any] = {
    "summary": "Receive a signed LinkedIn lead notification",
    "response_model": DeliveryStored,
    "responses": _WEBHOOK_ERRORS,
    "openapi_extra": {
        **_json_body(
            {
                "type": "object",
                "required": ["type", "leadGenFormResponse", "leadAction"],
                "properties": {
                    "type": {"type": "string", "enum": ["LEAD_ACTION"]},
                    "leadGenFormResponse": {
                        "type": "string",
                        "pattern": "^urn:li:leadFormResponse:[A-Za-z0-9_-]{1,100}$",
                    },
                    "leadAction": {"type": "string", "enum": ["CREATED", "DELETED"]},
                },
            },
            {"lead created": LINKEDIN_LEAD_EXAMPLE},
        ),
        "parameters": [
            _header(
                "X-LI-Signature",
                'hex HMAC-SHA256 of "hmacsha256=" + body (app client secret).',
                pattern="^[0-9a-fA-F]{64}$",
            )
        ],
    },
}


class ChallengeAnswer(BaseModel):
    """200: LinkedIn's ownership check, hex HMAC-SHA256 of the code under the client secret."""

    challengeCode: str
    challengeResponse: str


LINKEDIN_CHALLENGE_ROUTE_DOCS: dict[str, Any] = {
    "summary": "Answer LinkedIn's webhook validation challenge",
    "response_model": ChallengeAnswer,
    "responses": _errors(400, 401, 404, 405, 408, 431),
    "openapi_extra": {
        "parameters": [
            {
                "name": "challengeCode",
                "in": "query",
                "required": True,
                "description": "Random UUID LinkedIn sends to validate the URL.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,100}$"},
            }
        ]
    },
}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` include the event models and the API-key security scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _, models = models_json_schema(
                [(OwnlayEvent, "validation"), (TrackEvent, "validation")],
                ref_template="#/components/schemas/{model}",
            )
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(models.get("$defs", {}))
            components["securitySchemes"] = {
                API_KEY_SCHEME: {"type": "apiKey", "in": "header", "name": "X-Ownlay-Api-Key"}
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
