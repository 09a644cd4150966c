"""Sending one batch to a Conversions API with the HTTP client core, and reading it per event.

Each sender is an `ApiClient` (http/client.py): its request budget, circuit breaker (5 failures,
60 s, 3 half-open trial calls) and retries on retryable errors (after exactly 1, 2 and 4 s) come
from there.
On top, a per-platform *event* token bucket holds seed 002's events-per-minute limit. The
answer is read per event:

- Meta: `events_received` must equal the batch size; a 400 (code 100) rejects the whole batch,
  which is then split in halves until the bad event is alone and rejected with its reason.
- Google: `partialFailure: true`; each row's error is mapped back by its `conversions[i]` path.
- TikTok: body `code` 0 (or 20001) accepts the batch, 40100 throttles, any other code rejects it
  (split in halves like Meta's).
- Snapchat: one status per event in `events`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from ownlay_pipelines.capi.destinations import CapiDestination
from ownlay_pipelines.capi.outbox import OutboxStatus
from ownlay_pipelines.capi.platforms import CapiPlatform
from ownlay_pipelines.capi.wire import WireEvent
from ownlay_pipelines.http.circuit_breaker import CircuitBreaker
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    PermissionDenied,
    RateLimited,
    TransientError,
)
from ownlay_pipelines.http.rate_limit import RateLimit, TokenBucket
from ownlay_pipelines.http.responses import parse_json_body
from ownlay_pipelines.http.retry import RetryPolicy

CAPI_RETRY_POLICY = RetryPolicy(
    max_attempts=4, base_delay_seconds=1.0, max_delay_seconds=4.0, jitter=False
)
"""Seed 002's `RETRY_DELAYS = [1.0, 2.0, 4.0]`, exactly: three retries after the first attempt
(a server's `Retry-After` still wins)."""
CAPI_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class PlatformLimits:
    """Seed 002's limits: events per minute and the largest batch."""

    events_per_minute: int
    max_batch: int


LIMITS = {
    CapiPlatform.META: PlatformLimits(1_000, 1_000),
    CapiPlatform.GOOGLE: PlatformLimits(2_000, 2_000),
    CapiPlatform.TIKTOK: PlatformLimits(600, 500),
    CapiPlatform.SNAPCHAT: PlatformLimits(500, 1_000),
}


@dataclass(frozen=True)
class EventResult:
    """One event's answer: ACCEPTED, REJECTED, or None (retry later), with a reason."""

    status: OutboxStatus | None
    reason: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """A batch's answers in input order, the platform's request id, time spent and retries."""

    results: list[EventResult]
    request_id: str | None
    latency_ms: float
    """Time spent on the batch's requests — not the time this client waited for its event
    budget or between retries, which says nothing about the platform (health, BatchOptimizer)."""
    retries: int
    waited_ms: float = 0.0
    """Time this client waited (event budget, back-off) while sending the batch."""


class _BatchRejected(Exception):
    """The platform refused the whole batch for a validation reason (split to find the event)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CapiSender(ApiClient):
    """One destination's sender; subclasses give the URL, body, headers and response reading."""

    capi_platform: ClassVar[CapiPlatform]
    default_base_url: ClassVar[str]
    splits_rejected_batches: ClassVar[bool] = False

    def __init__(
        self,
        destination: CapiDestination,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        event_limit: RateLimit | None = None,
        breaker: CircuitBreaker | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        """`http_client`: the run's pooled client of this platform (capi/pool.py), shared by its
        destinations and kept open across batches; without it the sender has one of its own."""
        clock = clock if clock is not None else SystemClock()
        super().__init__(
            base_url=self.default_base_url,
            account_id=destination.account_id,
            transport=transport,
            clock=clock,
            retry_policy=CAPI_RETRY_POLICY,
            breaker=breaker
            if breaker is not None
            else CircuitBreaker(
                failure_threshold=5, reset_seconds=60.0, half_open_max_calls=3, clock=clock
            ),
            timeout=CAPI_TIMEOUT,
            http_client=http_client,
        )
        self.destination = destination
        self._environ = environ
        limits = LIMITS[self.capi_platform]
        self.max_batch = limits.max_batch
        self._events = TokenBucket(
            [event_limit or RateLimit(limits.events_per_minute, 60.0)], self.clock
        )

    def secret(self, name: str) -> str:
        return self.destination.secret(name, self._environ)

    def send(self, events: list[WireEvent]) -> BatchResult:
        """Send `events` (at most `max_batch`) and read the answer for each one."""
        if len(events) > self.max_batch:
            raise ValueError(f"batch of {len(events)} exceeds {self.platform}'s {self.max_batch}")
        started = time.perf_counter()
        retries_before, waited_before = self.stats.retries, self.stats.wait_seconds
        request_ids: list[str] = []
        results = self._send_or_split(events, request_ids)
        waited = self.stats.wait_seconds - waited_before
        return BatchResult(
            results=results,
            request_id=request_ids[0] if request_ids else None,
            # A fake clock's waits take no real time: never below zero.
            latency_ms=max(0.0, time.perf_counter() - started - waited) * 1000.0,
            retries=self.stats.retries - retries_before,
            waited_ms=waited * 1000.0,
        )

    def _send_or_split(self, events: list[WireEvent], request_ids: list[str]) -> list[EventResult]:
        self.stats.wait_seconds += self._events.acquire(len(events))
        try:
            results, request_id = self.request_parsed(
                "POST", self.path(), self._reader(len(events)), json=self.body(events)
            )
        except _BatchRejected as rejected:
            if len(events) == 1 or not self.splits_rejected_batches:
                return [EventResult(OutboxStatus.REJECTED, rejected.reason)] * len(events)
            middle = len(events) // 2
            return self._send_or_split(events[:middle], request_ids) + self._send_or_split(
                events[middle:], request_ids
            )
        except (AuthExpired, PermissionDenied) as error:
            # A credential problem is the destination's, not the events': they wait for a fix.
            return [EventResult(None, f"auth: {type(error).__name__}")] * len(events)
        except ApiError as error:
            reason = f"{type(error).__name__}: {error.code or error.status or ''}".rstrip(": ")
            status = None if _worth_retrying(error) else OutboxStatus.REJECTED
            return [EventResult(status, reason[:200])] * len(events)
        if request_id:
            request_ids.append(request_id)
        return results

    def _reader(self, size: int) -> Callable[[httpx.Response], tuple[list[EventResult], str]]:
        def read(response: httpx.Response) -> tuple[list[EventResult], str]:
            return self.read(response, parse_json_body(response), size)

        return read

    def path(self) -> str:
        raise NotImplementedError

    def body(self, events: list[WireEvent]) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, response: httpx.Response, body: Any, size: int) -> tuple[list[EventResult], str]:
        """Per-event results and the request id; raise _BatchRejected for a refused batch."""
        raise NotImplementedError


def _worth_retrying(error: ApiError) -> bool:
    return error.retryable or type(error).__name__ in ("RetryBudgetExhausted", "CircuitOpen")


class MetaCapiSender(CapiSender):
    """`POST graph.facebook.com/v25.0/{pixel}/events` with `data=[…]`."""

    platform = "meta_capi"
    capi_platform = CapiPlatform.META
    default_base_url = "https://graph.facebook.com"
    splits_rejected_batches = True
    api_version = "v25.0"

    def auth_params(self) -> dict[str, str]:
        return {"access_token": self.secret("access_token")}

    def path(self) -> str:
        return f"/{self.api_version}/{self.destination.pixel_id}/events"

    def body(self, events: list[WireEvent]) -> dict[str, Any]:
        body: dict[str, Any] = {"data": [e.body for e in events]}
        if self.destination.test_event_code:
            body["test_event_code"] = self.destination.test_event_code
        return body

    def classify(self, response: httpx.Response) -> ApiError | None:
        error = _error_object(response)
        if error is None:
            return super().classify(response)
        code = error.get("code")
        message = str(error.get("message", ""))[:200]
        if code == 100:
            return None  # invalid parameter: read() rejects the batch with the sub-code
        if code == 190:
            return AuthExpired(message, status=response.status_code, code="190")
        if code in (4, 17, 80003, 613):
            return RateLimited(message, status=response.status_code, code=str(code))
        if code in (1, 2):
            return TransientError(message, status=response.status_code, code=str(code))
        return super().classify(response)

    def read(self, response: httpx.Response, body: Any, size: int) -> tuple[list[EventResult], str]:
        if "error" in body:
            error = body["error"]
            raise _BatchRejected(f"meta_{error.get('code')}_{error.get('error_subcode', '')}")
        received = int(body.get("events_received", 0))
        trace = str(body.get("fbtrace_id", ""))
        if received == size:
            return [EventResult(OutboxStatus.ACCEPTED)] * size, trace
        return [EventResult(None, f"events_received {received} of {size}")] * size, trace


GOOGLE_ALREADY_THERE = frozenset({"CLICK_CONVERSION_ALREADY_EXISTS", "ORDER_ID_ALREADY_IN_USE"})
"""The platform already holds this conversion (an earlier send whose answer was lost)."""
GOOGLE_RETRY_LATER = frozenset({"TOO_RECENT_EVENT", "CONCURRENT_MODIFICATION"})


class GoogleAdsCapiSender(CapiSender):
    """`POST googleads.googleapis.com/v23/customers/{cid}:uploadClickConversions`."""

    platform = "google_ads_capi"
    capi_platform = CapiPlatform.GOOGLE
    default_base_url = "https://googleads.googleapis.com"
    api_version = "v23"

    def auth_headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.bearer_token(self.secret('access_token'))}",
            "developer-token": self.secret("developer_token"),
        }
        if self.destination.login_customer_id:
            headers["login-customer-id"] = self.destination.login_customer_id
        return headers

    def path(self) -> str:
        return (
            f"/{self.api_version}/customers/{self.destination.customer_id}:uploadClickConversions"
        )

    def body(self, events: list[WireEvent]) -> dict[str, Any]:
        return {
            "conversions": [e.body for e in events],
            "partialFailure": True,
            "validateOnly": bool(self.destination.test_event_code),
        }

    def read(self, response: httpx.Response, body: Any, size: int) -> tuple[list[EventResult], str]:
        results = [EventResult(OutboxStatus.ACCEPTED)] * size
        failure = body.get("partialFailureError") or {}
        if failure.get("code", 0) != 0:
            for detail in failure.get("details", []):
                for error in detail.get("errors", []):
                    index = _row_index(error)
                    if index is None or index >= size:
                        continue
                    code = next(iter(error.get("errorCode", {}).values()), "UNKNOWN")
                    results[index] = _google_row_result(code)
        return results, response.headers.get("request-id", "")


def _google_row_result(code: str) -> EventResult:
    if code in GOOGLE_ALREADY_THERE:
        return EventResult(OutboxStatus.ACCEPTED, code)
    if code in GOOGLE_RETRY_LATER:
        return EventResult(None, code)
    return EventResult(OutboxStatus.REJECTED, code)


def _row_index(error: Mapping[str, Any]) -> int | None:
    for element in error.get("location", {}).get("fieldPathElements", []):
        if element.get("fieldName") == "conversions" and "index" in element:
            return int(element["index"])
    return None


class TikTokCapiSender(CapiSender):
    """`POST business-api.tiktok.com/open_api/v1.3/event/track/` (Events API 2.0)."""

    platform = "tiktok_capi"
    capi_platform = CapiPlatform.TIKTOK
    default_base_url = "https://business-api.tiktok.com"
    splits_rejected_batches = True

    def auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self.secret("access_token")}

    def path(self) -> str:
        return "/open_api/v1.3/event/track/"

    def body(self, events: list[WireEvent]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_source": "web",
            "event_source_id": self.destination.pixel_code,
            "data": [e.body for e in events],
        }
        if self.destination.test_event_code:
            body["test_event_code"] = self.destination.test_event_code
        return body

    def classify(self, response: httpx.Response) -> ApiError | None:
        if response.status_code != 200:
            return super().classify(response)
        try:
            code = int(response.json().get("code", 0))
        except (ValueError, AttributeError):
            return None
        if code == 40100:
            return RateLimited("TikTok: too many requests", status=200, code="40100")
        if code in (40104, 40105):
            return AuthExpired("TikTok: access token invalid", status=200, code=str(code))
        if code >= 50000:
            return TransientError("TikTok: server error", status=200, code=str(code))
        return None

    def read(self, response: httpx.Response, body: Any, size: int) -> tuple[list[EventResult], str]:
        code = int(body.get("code", -1))
        if code not in (0, 20001):
            raise _BatchRejected(f"tiktok_{code}")
        return [EventResult(OutboxStatus.ACCEPTED)] * size, str(body.get("request_id", ""))


class SnapchatCapiSender(CapiSender):
    """`POST tr.snapchat.com/v3/{pixel}/events` (Conversions API v3)."""

    platform = "snapchat_capi"
    capi_platform = CapiPlatform.SNAPCHAT
    default_base_url = "https://tr.snapchat.com"

    def auth_params(self) -> dict[str, str]:
        return {"access_token": self.secret("access_token")}

    def path(self) -> str:
        suffix = "/validate" if self.destination.test_event_code else ""
        return f"/v3/{self.destination.pixel_id}/events{suffix}"

    def body(self, events: list[WireEvent]) -> dict[str, Any]:
        return {"data": [e.body for e in events]}

    def read(self, response: httpx.Response, body: Any, size: int) -> tuple[list[EventResult], str]:
        statuses = body.get("events", [])
        results = []
        for index in range(size):
            entry = statuses[index] if index < len(statuses) else {}
            if entry.get("status") == "SUCCESS":
                results.append(EventResult(OutboxStatus.ACCEPTED))
            elif entry:
                results.append(EventResult(OutboxStatus.REJECTED, str(entry.get("reason"))[:200]))
            else:
                results.append(EventResult(None, "no status for event"))
        return results, str(body.get("request_id", ""))


def _error_object(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else None


SENDERS: dict[CapiPlatform, type[CapiSender]] = {
    CapiPlatform.META: MetaCapiSender,
    CapiPlatform.GOOGLE: GoogleAdsCapiSender,
    CapiPlatform.TIKTOK: TikTokCapiSender,
    CapiPlatform.SNAPCHAT: SnapchatCapiSender,
}


def sender_for(destination: CapiDestination, **kwargs: Any) -> CapiSender:
    """The sender class for `destination`'s platform, built with `kwargs`."""
    return SENDERS[destination.platform](destination, **kwargs)
