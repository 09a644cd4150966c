"""The ingestion service: seed 000's `POST /api/v1/events`, seed 001's `/api/v1/track`, webhooks.

Every event endpoint authenticates a workspace API key, caps the body, parses, applies the
workspace's rate limit, refuses another workspace's events, validates each event on its own
(applying the privacy classes), hashes PII, and answers only after the accepted events are durable
in the buffer. Good events of a mixed batch are kept (202 with the refused indexes and reasons); a
request with no valid event gets 422. Bodies larger than `OFF_LOOP_BODY_BYTES` are parsed and
validated in a worker thread, so a big or hostile body never holds the event loop.

The two event routes are answered by `_ingest` through raw ASGI handlers (`asgi.IngestApp`),
bypassing FastAPI's per-request machinery; FastAPI still declares them for the OpenAPI document.
After validation each accepted event is an `OwnlayEvent` (`verdict.accepted`, with its index in
`items`, the parsed JSON objects of the request).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import Route

from ownlay_pipelines.capi.live_capture import LiveCapture
from ownlay_pipelines.events.lake_rows import lake_batch, to_lake_row
from ownlay_pipelines.events.model import EventValidationContext, OwnlayEvent, TimestampPolicy
from ownlay_pipelines.events.validation import (
    BatchValidation,
    PayloadKind,
    foreign_workspace,
    validate_batch,
)
from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.ingest.asgi import (
    Answer,
    IngestApp,
    RawRequest,
    preflight_handler,
    raw_handler,
)
from ownlay_pipelines.ingest.body_turns import NoTurnInTime, TurnTakingReceive
from ownlay_pipelines.ingest.buffer import EventBuffer
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.cors import CorsPolicy
from ownlay_pipelines.ingest.errors import IngestError, http_error_response, ingest_error_response
from ownlay_pipelines.ingest.event_paths import EVENTS_PATH, TRACK_PATH
from ownlay_pipelines.ingest.gil_handoff import QuickHandoffWhileLarge
from ownlay_pipelines.ingest.keys import CachedKeyLookup, key_id_of, open_key_store
from ownlay_pipelines.ingest.large_body_pace import pace_of
from ownlay_pipelines.ingest.linkedin_lead_webhook import linkedin_lead_router
from ownlay_pipelines.ingest.loop_share import LoopShare
from ownlay_pipelines.ingest.openapi import (
    EVENT_ROUTE_DOCS,
    OWNLAY_EVENT_EXAMPLE,
    PREFLIGHT_ROUTE_DOCS,
    TRACK_ROUTE_DOCS,
    install_openapi,
)
from ownlay_pipelines.ingest.rate_limit import WorkspaceRateLimiter
from ownlay_pipelines.ingest.request_body import (
    OFF_LOOP_BODY_BYTES,
    parse_events,
    refuse_eventless,
    refuse_long_batch,
    refuse_long_batch_head,
)
from ownlay_pipelines.ingest.shared_buckets import SharedBuckets, shared_buckets_path
from ownlay_pipelines.ingest.webhook_routes import webhook_router
from ownlay_pipelines.ingest.webhook_store import WebhookStore
from ownlay_pipelines.lifecycle.suppression import drop_suppressed
from ownlay_pipelines.privacy.free_text import mask_contact_data
from ownlay_pipelines.privacy.keyed_hash import PiiHasher

API_KEY_HEADER = "X-Ownlay-Api-Key"
EVENT_ROUTES = {EVENTS_PATH: PayloadKind.OWNLAY_EVENT, TRACK_PATH: PayloadKind.TRACK}
"""The event routes and the payload shape each takes."""
LARGE_BODY_READS = 2
"""Bodies over `OFF_LOOP_BODY_BYTES` read at once; more wait their turn (see `_ingest`)."""
LARGE_BODY_WAIT_SECONDS = 10.0
"""The longest a large body waits for its turn; then it is answered 503 with `Retry-After`."""
LARGE_BODY_READ_SECONDS = 10.0
"""The longest a large body's reading lasts from its first turn: a body that has not fully
arrived by then is answered 408 and its connection closed, so a sender that drips its body
cannot keep the turn, and every large body behind it, waiting. 1 MiB in 10 s is 0.8 Mbit/s."""
LARGE_BODY_IDLE_SECONDS = 2.0
"""The longest a large body's sender may be silent (408 too); it holds no turn meanwhile after
`body_turns.GRACE_SECONDS`."""
MAX_LISTED_REJECTIONS = 50
"""A refusal lists at most this many events' reasons (with the total), so a huge bad batch gets a
short answer; `MAX_ERRORS_PER_EVENT` bounds each one."""
MAX_ERRORS_PER_EVENT = 5
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestService:
    """Everything a request handler needs: settings, buffer, key store, PII hasher, clock, the
    per-workspace rate limiter, the event-timestamp window, the one thread that works on large
    bodies (`OFF_LOOP_BODY_BYTES`) and the event loop's share of the GIL beside it, the turns of
    large bodies to be read, the quick GIL handoff while they arrive, the Conversions-API
    capture (capi/live_capture.py) and the origins whose browsers may send events (`cors`)."""

    settings: IngestSettings
    buffer: EventBuffer
    keys: CachedKeyLookup
    hasher: PiiHasher
    clock: Clock
    rate_limiter: WorkspaceRateLimiter
    timestamp_policy: TimestampPolicy
    off_loop: anyio.CapacityLimiter
    large_body_reads: anyio.CapacityLimiter
    loop_share: LoopShare
    handoff: QuickHandoffWhileLarge
    capture: LiveCapture
    cors: CorsPolicy


def create_app(
    settings: IngestSettings | None = None,
    *,
    hasher: PiiHasher | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The FastAPI app of the ingestion service; settings and secrets default to the environment.

    `environ` is where the PII key and webhook secrets are read (the process environment unless a
    test passes its own); `monotonic` drives the rate limiter's refill.
    """
    env = os.environ if environ is None else environ
    settings = settings or IngestSettings.from_env(env)
    keys = CachedKeyLookup(open_key_store(settings.database_url))
    service = IngestService(
        settings=settings,
        buffer=EventBuffer(settings.buffer_path),
        keys=keys,
        hasher=hasher or PiiHasher.from_env(env),
        clock=clock or SystemClock(),
        # Worker processes spend from one shared table, so the limit holds across them.
        rate_limiter=WorkspaceRateLimiter(
            settings.rate_limit_events_per_second,
            monotonic=monotonic,
            shared=(
                SharedBuckets(shared_buckets_path(settings.buffer_path))
                if settings.workers > 1
                else None
            ),
        ),
        timestamp_policy=settings.timestamp_policy,
        off_loop=anyio.CapacityLimiter(1),
        large_body_reads=anyio.CapacityLimiter(LARGE_BODY_READS),
        loop_share=LoopShare(),
        handoff=QuickHandoffWhileLarge(),
        capture=LiveCapture.from_env(keys.engine, env),
        cors=CorsPolicy(settings.cors_origins),
    )
    webhook_store = WebhookStore(settings.webhook_deliveries_path)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _warm_up(service.hasher)
        yield
        service.handoff.restore()
        service.buffer.close()
        service.rate_limiter.close()
        webhook_store.close()
        service.keys.engine.dispose()

    app = IngestApp(
        title="OWNLAY ingestion",
        description="First-party events (seed 000 and seed 001 shapes) and signed store webhooks.",
        lifespan=lifespan,
        # `/api/v1/events/` is a 404, not a 307 to an address built from the Host header (which
        # a client following it would send its API key to, over http:// behind a TLS proxy).
        redirect_slashes=False,
    )
    app.state.capi_capture = service.capture  # its queued/failures counters, for operators
    app.add_exception_handler(IngestError, ingest_error_response)
    app.add_exception_handler(HTTPException, http_error_response)
    routers = (
        _event_router(service),
        webhook_router(webhook_store, settings, service.clock, env),
        linkedin_lead_router(webhook_store, settings, service.clock, env),
    )
    for router in routers:
        app.include_router(router)
    app.raw_routes = {
        path: raw_handler(functools.partial(_ingest, service, kind=kind), service.cors)
        for path, kind in EVENT_ROUTES.items()
    }
    app.preflight_routes = {path: preflight_handler(service.cors) for path in EVENT_ROUTES}
    install_openapi(app)
    # Every route with its methods, for the `Allow` of a 405 (FastAPI nests included routers).
    app.state.method_routes = [
        *(route for route in app.router.routes if isinstance(route, Route)),
        *(route for router in routers for route in router.routes if isinstance(route, Route)),
    ]
    return app


def _warm_up(hasher: PiiHasher) -> None:
    """Pay first-use costs before serving, not on the first requests (which would wait for them,
    and every request queued behind them too): ua-parser compiles its rules (0.2-0.4 s), and
    pyarrow's first conversion of Python rows, which the buffer's first group commit makes, takes
    0.4-0.7 s. The documented example event goes through validation and its lake row."""
    example = OWNLAY_EVENT_EXAMPLE
    moment = datetime.fromisoformat(example["timestamp"])
    context = EventValidationContext(now=moment, policy=TimestampPolicy())
    event = OwnlayEvent.model_validate(example, context=context)
    row = to_lake_row(event, workspace_id="warm-up", received_at=moment, hasher=hasher)
    lake_batch([row])


def _event_router(service: IngestService) -> APIRouter:
    """The event routes as FastAPI declares them (for the OpenAPI document); `IngestApp` answers
    their requests with the same `_ingest` through its raw ASGI handlers."""
    router = APIRouter()

    @router.post(EVENTS_PATH, status_code=202, **EVENT_ROUTE_DOCS)
    async def ingest_events(request: Request) -> Response:
        """Seed 000 payloads: one OwnlayEvent object or an array of them. A key repeated
        in one JSON object counts with its last value (as JavaScript's `JSON.parse` reads it)."""
        return await _ingest_route(service, request, PayloadKind.OWNLAY_EVENT)

    @router.post(TRACK_PATH, status_code=202, **TRACK_ROUTE_DOCS)
    async def track(request: Request) -> Response:
        """Seed 001 tracking-SDK payloads: one event object or an array of them. A key
        repeated in one JSON object counts with its last value."""
        return await _ingest_route(service, request, PayloadKind.TRACK)

    async def preflight(request: Request) -> Response:
        """A browser asks whether a page of its `Origin` may send events here (CORS): 204 with
        the route's terms for an allowed origin, else 403 naming what is not allowed."""
        status, headers = service.cors.preflight(request.headers)
        return Response(status_code=status, headers=headers)

    for path in EVENT_ROUTES:
        router.add_api_route(
            path, preflight, methods=["OPTIONS"], status_code=204, **PREFLIGHT_ROUTE_DOCS
        )
    return router


async def _ingest_route(service: IngestService, request: Request, kind: PayloadKind) -> Response:
    raw = RawRequest.of(request.scope, request.receive)
    try:
        answer = await _ingest(service, raw, kind=kind)
    except IngestError as error:
        answer = Answer.of_error(error)
    origin = raw.headers.get("origin")
    extra = None if origin is None else service.cors.answer_headers(origin)
    headers = dict(answer.headers or {})
    headers.update((name.decode(), value.decode("latin-1")) for name, value in extra or ())
    return Response(answer.body, answer.status, headers, media_type="application/json")


async def _ingest(service: IngestService, request: RawRequest, *, kind: PayloadKind) -> Answer:
    workspace_id = await _authenticate(service, request)
    # A batch whose head already holds too many items is refused before the rest is read.
    inspect_head = functools.partial(
        refuse_long_batch_head, max_events=service.settings.max_batch_events
    )
    if _small_body(request):
        body = await request.capped_body(service.settings.max_body_bytes, inspect_head)
    else:
        body = await _read_large_body(service, request, inspect_head)
    # Before any thread hop: junk and overlong batches are refused at memory-scan speed.
    refuse_eventless(body)
    refuse_long_batch(body, service.settings.max_batch_events)
    now = service.clock.now()
    sender = _RequestContext.of(request) if kind is PayloadKind.TRACK else None
    if len(body) > OFF_LOOP_BODY_BYTES:
        items, verdict, rows = await anyio.to_thread.run_sync(
            _prepare, service, body, kind, workspace_id, now, sender, True, limiter=service.off_loop
        )
    else:
        items, verdict, rows = _prepare(service, body, kind, workspace_id, now, sender, False)
    rejected = _rejections_json(verdict)
    if verdict.rejected:
        logger.info(
            "refused %d of %d events for workspace %s: fields %s",
            len(verdict.rejected),
            len(items),
            workspace_id,
            sorted({error.field for rejection in verdict.rejected for error in rejection.errors}),
        )
    if not verdict.accepted:
        raise IngestError(
            422,
            "validation_failed",
            "no event in the request is valid",
            rejected_count=len(verdict.rejected),
            rejected=rejected,
        )
    try:
        result = await service.buffer.append_events(workspace_id, rows)
    except Exception as error:
        logger.error(
            "buffer commit failed for workspace %s: %s", workspace_id, type(error).__name__
        )
        raise IngestError(503, "buffer_unavailable", "events were not stored; retry") from error
    # Durable now: consented conversions go to the CAPI outbox (a failure there is logged, not raised).
    await service.capture.after_commit(
        workspace_id, ((a.event, items[a.index]) for a in verdict.accepted), rows, now=now
    )
    duplicates = list(verdict.duplicate_indexes)
    if result.duplicate_event_ids:
        already = set(result.duplicate_event_ids)
        duplicates += [
            item.index for item in verdict.accepted if str(item.event.event_id) in already
        ]
    if not rejected and not duplicates:
        return Answer(202, _accepted_body(len(verdict.accepted), result.inserted))
    return Answer.json(
        202,
        {
            "status": "partial" if rejected else "accepted",
            "accepted": len(verdict.accepted) + len(verdict.duplicate_indexes),
            "stored": result.inserted,
            "duplicates": sorted(duplicates),
            "rejected_count": len(verdict.rejected),
            "rejected": rejected,
        },
    )


async def _read_large_body(
    service: IngestService, request: RawRequest, inspect_head: Callable[[bytes], None]
) -> bytes:
    """The body of a request that declares more than `OFF_LOOP_BODY_BYTES` or no length.

    It is read only while fewer than `LARGE_BODY_READS` others are: the rest wait with their
    bytes in the socket (uvicorn stops reading past 64 KiB), so a flood of big bodies cannot
    fill every turn of the event loop that small requests need; meanwhile the GIL changes hands
    quickly (`gil_handoff`), so commits of small requests do not wait behind them. A turn is
    taken when bytes have arrived and given back while the sender is quiet (`body_turns`), so
    senders that stall do not hold turns; the wait for a turn, a sender's silence and the reading
    from the first turn on are bounded (503, 408, 408). While several clients send large bodies,
    the bytes are read at the worker's shared pace (`large_body_pace`).
    """
    service.handoff.large_body_seen()
    receive = TurnTakingReceive(
        request.receive,
        service.large_body_reads,
        idle_seconds=LARGE_BODY_IDLE_SECONDS,
        wait_seconds=LARGE_BODY_WAIT_SECONDS,
        read_seconds=LARGE_BODY_READ_SECONDS,
        pace=pace_of(asyncio.get_running_loop()),
        client=request.client,
    )
    try:
        with receive.read_scope:
            return await dataclasses.replace(request, receive=receive).capped_body(
                service.settings.max_body_bytes, inspect_head
            )
        reason = f"the request body did not arrive within {LARGE_BODY_READ_SECONDS:g} s"
    except TimeoutError:
        reason = f"no byte of the request body came for {LARGE_BODY_IDLE_SECONDS:g} s"
    except NoTurnInTime:
        raise IngestError(
            503,
            "busy",
            f"no turn to read a body over {OFF_LOOP_BODY_BYTES} bytes came within "
            f"{LARGE_BODY_WAIT_SECONDS:g} s; retry, or send smaller batches",
            headers={"Retry-After": "1"},
        ) from None
    finally:
        receive.release()
    raise IngestError(
        408, "body_timeout", f"{reason}; send it at once", headers={"Connection": "close"}
    )


def _small_body(request: RawRequest) -> bool:
    """Whether the request declares a body of at most `OFF_LOOP_BODY_BYTES` (nearly every one)."""
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= OFF_LOOP_BODY_BYTES


@functools.lru_cache(maxsize=256)
def _accepted_body(accepted: int, stored: int) -> bytes:
    """The encoded 202 body of a request whose events were all accepted, none a repeat: nearly
    every request's answer, so it is encoded once per (accepted, stored) pair, not per request."""
    return Answer.json(
        202,
        {
            "status": "accepted",
            "accepted": accepted,
            "stored": stored,
            "duplicates": [],
            "rejected_count": 0,
            "rejected": [],
        },
    ).body


@dataclass(frozen=True)
class _RequestContext:
    """What a tracking-SDK event without its own user agent or IP takes from the request."""

    user_agent: str | None
    ip: IPv4Address | IPv6Address | None

    @classmethod
    def of(cls, request: RawRequest) -> _RequestContext:
        header_agent = request.headers.get("user-agent")
        # The header bypasses the model, so it gets the model's user-agent privacy class here.
        agent = mask_contact_data(header_agent[:512], user_agent=True) if header_agent else None
        return cls(user_agent=agent, ip=_client_ip(request.client_host))


def _prepare(
    service: IngestService,
    body: bytes,
    kind: PayloadKind,
    workspace_id: str,
    now: datetime,
    sender: _RequestContext | None,
    off_loop: bool,
) -> tuple[list[object], BatchValidation, list[dict[str, Any]]]:
    """Parse, rate-limit, check the workspace, validate and build the hashed lake rows of the
    accepted events; pure CPU, so large bodies run it off the event loop (`off_loop`)."""
    items, verdict = _parse_and_validate(service, body, kind, workspace_id, now, off_loop)
    rows = [
        to_lake_row(
            _with_request_context(item.event, sender),
            workspace_id=workspace_id,
            received_at=now,
            hasher=service.hasher,
        )
        for item in verdict.accepted
    ]
    # People erased under GDPR: their events are acknowledged but never stored.
    rows = drop_suppressed(service.keys.engine, service.hasher, workspace_id, rows)
    return items, verdict, rows


def _parse_and_validate(
    service: IngestService,
    body: bytes,
    kind: PayloadKind,
    workspace_id: str,
    now: datetime,
    off_loop: bool,
) -> tuple[list[object], BatchValidation]:
    """Parse, rate-limit, check the workspace and validate."""
    if off_loop:
        service.loop_share.settle_debt()
    started = time.perf_counter()
    try:
        items = parse_events(body, service.settings.max_batch_events)
    except IngestError:
        if off_loop:
            service.loop_share.pay_later(time.perf_counter() - started)
        raise
    if off_loop:
        service.loop_share.pay_now(time.perf_counter() - started)
    wait = service.rate_limiter.take(workspace_id, len(items))
    if wait is not None:
        raise IngestError(
            429,
            "rate_limited",
            f"workspace '{workspace_id}' may send {service.settings.rate_limit_events_per_second:g}"
            f" events/s; retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )
    other = foreign_workspace(items, kind, workspace_id)
    if other is not None:
        raise IngestError(
            403,
            "wrong_workspace",
            f"this API key writes workspace '{workspace_id}' only; the payload names '{other}'",
        )
    context = EventValidationContext(now=now, policy=service.timestamp_policy)
    return items, validate_batch(items, kind=kind, workspace_id=workspace_id, context=context)


async def _authenticate(service: IngestService, request: RawRequest) -> str:
    presented = request.headers.get(API_KEY_HEADER.lower())
    if not presented:
        raise IngestError(401, "missing_api_key", f"send the workspace API key in {API_KEY_HEADER}")
    workspace_id = service.keys.cached(presented)
    if workspace_id is None:
        # A miss may wait on PostgreSQL, so it runs off the event loop.
        workspace_id = await anyio.to_thread.run_sync(service.keys.lookup, presented)
    if workspace_id is None:
        # Only the non-secret key id is logged (reference/perf_reliability.md §4.6).
        logger.warning("refused API key id %s", key_id_of(presented) or "(malformed)")
        raise IngestError(401, "invalid_api_key", "the API key is unknown or revoked")
    return workspace_id


def _with_request_context(event: OwnlayEvent, sender: _RequestContext | None) -> OwnlayEvent:
    """A tracking-SDK event without user agent or IP takes the request's own (seed 001 flow)."""
    if sender is None:
        return event
    context = event.context
    updates: dict[str, Any] = {}
    if context.user_agent is None and sender.user_agent:
        updates["user_agent"] = sender.user_agent
    if context.ip is None and sender.ip is not None:
        updates["ip"] = sender.ip
    if not updates:
        return event
    return event.model_copy(update={"context": context.model_copy(update=updates)})


def _client_ip(host: str | None) -> IPv4Address | IPv6Address | None:
    # Behind a proxy uvicorn's proxy-headers support rewrites `client` from X-Forwarded-For.
    if host is None:
        return None
    try:
        return ip_address(host)
    except ValueError:
        return None  # A test client or a Unix socket has no IP address to record.


def _rejections_json(verdict: BatchValidation) -> list[dict[str, Any]]:
    return [
        {
            "index": rejection.index,
            "errors": [
                {"field": error.field, "reason": error.reason}
                for error in rejection.errors[:MAX_ERRORS_PER_EVENT]
            ],
        }
        for rejection in verdict.rejected[:MAX_LISTED_REJECTIONS]
    ]
