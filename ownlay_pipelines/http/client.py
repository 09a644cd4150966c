"""The base HTTP client every connector subclasses: limits, breaker, retries, error mapping, stats.

A subclass names its `platform`, supplies credentials (`auth_headers`/`auth_params`) and maps the
platform's own signals (`classify` for body error codes, `observe` for usage headers); everything
else — when to wait, when to retry, when to give up — happens here, the same way for every platform.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import httpx

from ownlay_pipelines.http.circuit_breaker import CircuitBreaker
from ownlay_pipelines.http.clock import Clock, SystemClock
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    RateLimited,
    RetryBudgetExhausted,
    TransientError,
)
from ownlay_pipelines.http.oauth import AccessTokenSource
from ownlay_pipelines.http.rate_limit import RateLimit, RateLimiterRegistry, TokenBucket
from ownlay_pipelines.http.redaction import Redactor, install_httpx_log_filter
from ownlay_pipelines.http.responses import classify_status, parse_json_body
from ownlay_pipelines.http.retry import RetryPolicy, next_delay_seconds

logger = logging.getLogger(__name__)
install_httpx_log_filter()

T = TypeVar("T")

DEFAULT_RETRY_POLICY = RetryPolicy()
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class RequestStats:
    """What one client's traffic cost: calls, retries, throttles, time slept, pages, errors by class."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    wait_seconds: float = 0.0
    pages: int = 0
    errors_by_class: dict[str, int] = field(default_factory=dict)

    def count_error(self, error: ApiError) -> None:
        """Count `error` under its class name; a RateLimited error also counts as throttled."""
        name = type(error).__name__
        self.errors_by_class[name] = self.errors_by_class.get(name, 0) + 1
        if isinstance(error, RateLimited):
            self.throttled += 1

    def as_metadata(self) -> dict[str, int | float]:
        """Flat `http_*` counters for Dagster materialization metadata."""
        metadata: dict[str, int | float] = {
            "http_requests": self.requests,
            "http_retries": self.retries,
            "http_throttled": self.throttled,
            "http_wait_seconds": round(self.wait_seconds, 3),
            "http_pages": self.pages,
        }
        for name, count in sorted(self.errors_by_class.items()):
            metadata[f"http_errors_{_snake_case(name)}"] = count
        return metadata


class ApiClient:
    """One platform account's HTTP client: every call is rate-limited, guarded, retried and counted.

    Subclasses set `platform` and override the hooks `auth_headers`, `auth_params`, `classify` and
    `observe`. Give every client in a process the same `limiter_registry` so clients of one
    account share its budget; without one, the client keeps a budget of its own.
    """

    platform: ClassVar[str]

    def __init__(
        self,
        *,
        base_url: str,
        account_id: str,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        rate_limits: Sequence[RateLimit] = (),
        limiter_registry: RateLimiterRegistry | None = None,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        breaker: CircuitBreaker | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        rng: random.Random | None = None,
        tokens: AccessTokenSource | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        if not getattr(type(self), "platform", ""):
            raise TypeError(f"{type(self).__name__} must set the class attribute `platform`")
        self.base_url = base_url
        self.account_id = account_id
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.retry_policy = retry_policy
        self.breaker = breaker if breaker is not None else CircuitBreaker(clock=self.clock)
        self.stats = RequestStats()
        self.tokens = tokens
        """Refreshing OAuth access tokens, when the connection has a refresh token."""
        self._rng = rng if rng is not None else random.Random()
        self._bucket = self._make_bucket(rate_limits, limiter_registry)
        self._resume_at: float | None = None
        # A shared, pooled `http_client` (several clients of one platform in a run) replaces the
        # client's own: it brings its transport and timeout, must use this `base_url`, and is
        # closed by whoever made it.
        self._owns_http = http_client is None
        self._http = (
            http_client
            if http_client is not None
            else httpx.Client(base_url=base_url, transport=transport, timeout=timeout)
        )

    def auth_headers(self) -> dict[str, str]:
        """Credential headers sent with every request (values are scrubbed from all messages)."""
        return {}

    def auth_params(self) -> dict[str, str]:
        """Credential query parameters sent with every request (scrubbed like auth headers)."""
        return {}

    def classify(self, response: httpx.Response) -> ApiError | None:
        """The taxonomy error this response means, or None for a success; by HTTP status here.

        Platforms override this to read body codes first, including HTTP-200 error bodies
        (TikTok `code != 0`, Shopify GraphQL `THROTTLED`), then fall back to `super().classify`.
        """
        return classify_status(response, self.clock.now())

    def observe(self, response: httpx.Response) -> float:
        """Seconds to pause before the next call, read from usage headers on any response."""
        return 0.0

    def bearer_token(self, configured: str) -> str:
        """The OAuth access token to send: from `tokens` (refreshed when due) when the connection
        has a refresh token, else the `configured` one."""
        return self.tokens.token() if self.tokens is not None else configured

    def secret_values(self) -> list[str]:
        """Every credential value scrubbed from error messages: the auth headers and parameters,
        and the refresh grant's secrets. A failing token refresh leaves only the latter."""
        values = list(self.tokens.secrets) if self.tokens is not None else []
        with contextlib.suppress(ApiError):
            values += [*self.auth_headers().values(), *self.auth_params().values()]
        return values

    def refresh_credentials(self) -> bool:
        """Renew the OAuth access token after an AuthExpired answer; True when renewed, so the
        call is tried once more. Without a refresh token there is nothing to renew. A refused
        refresh is stamped with this client's platform and account, so its alert names them."""
        if self.tokens is None:
            return False
        try:
            self.tokens.refresh()
        except ApiError as error:
            self._stamp(error)
            raise
        return True

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The successful response to `method url` (absolute, or relative to base_url), retried."""
        return self.request_parsed(
            method, url, _unparsed, params=params, json=json, headers=headers
        )

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The parsed JSON body of a successful response; a body that is not JSON is retried."""
        return self.request_parsed(
            method, url, parse_json_body, params=params, json=json, headers=headers
        )

    def request_parsed(
        self,
        method: str,
        url: str,
        parse: Callable[[httpx.Response], T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """`parse` applied to a successful response, inside the retry loop.

        `parse` may raise TransientError (e.g. a truncated body) to have the call retried.
        Retryable errors are retried under `retry_policy`, waiting as the server asks or backing
        off; other errors, and RetryBudgetExhausted when retrying stops, are raised.
        """
        started = self.clock.monotonic()
        attempt = 1
        refreshed = False
        while True:
            try:
                return self._attempt(method, url, parse, params, json, headers)
            except ApiError as error:
                self._stamp(error)
                self.stats.count_error(error)
                if isinstance(error, AuthExpired) and not refreshed and self.refresh_credentials():
                    # A token that expired early (or was revoked and re-issued): one more try.
                    refreshed = True
                    self.stats.retries += 1
                    continue
                if not error.retryable:
                    raise
                try:
                    delay = next_delay_seconds(
                        error,
                        attempt=attempt,
                        elapsed_seconds=self.clock.monotonic() - started,
                        policy=self.retry_policy,
                        rng=self._rng,
                    )
                except RetryBudgetExhausted as exhausted:
                    self.stats.count_error(exhausted)
                    raise
                logger.info("%s; retry %d in %.1f s", error, attempt, delay)
            self._sleep(delay)
            self.stats.retries += 1
            attempt += 1

    def close(self) -> None:
        """Close the underlying connection pools (a shared `http_client` stays open)."""
        if self.tokens is not None:
            self.tokens.close()
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _attempt(
        self,
        method: str,
        url: str,
        parse: Callable[[httpx.Response], T],
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> T:
        if self._resume_at is not None:
            self._sleep(self._resume_at - self.clock.monotonic())
            self._resume_at = None
        self.breaker.before_call()
        if self._bucket is not None:
            self.stats.wait_seconds += self._bucket.acquire()
        self.stats.requests += 1
        try:
            result = self._send(method, url, parse, params, json, headers)
        except ApiError as error:
            if error.retryable:
                self.breaker.record_failure()
            else:
                # A definite refusal (auth, permission, bad request) shows the platform answers,
                # so it resolves a half-open trial instead of counting towards opening the circuit.
                self.breaker.record_success()
            raise
        self.breaker.record_success()
        return result

    def _send(
        self,
        method: str,
        url: str,
        parse: Callable[[httpx.Response], T],
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> T:
        # Auth params override same-named ones, e.g. the access_token Meta embeds in paging.next.
        merged_params = {**(params or {}), **self.auth_params()}
        merged_headers = {**(headers or {}), **self.auth_headers()}
        request = self._http.build_request(
            method, url, params=merged_params or None, json=json, headers=merged_headers
        )
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            # Not chained: the transport's message may quote the URL, token and all, and a chained
            # cause is printed unredacted in tracebacks. Ours carries its text, scrubbed later.
            raise TransientError(
                f"{method} {request.url.path} failed before a response "
                f"({type(exc).__name__}: {exc})"
            ) from None
        pause_seconds = self.observe(response)
        if pause_seconds > 0:
            self._resume_at = self.clock.monotonic() + pause_seconds
        error = self.classify(response)
        if error is not None:
            raise error
        return parse(response)

    def _make_bucket(
        self, limits: Sequence[RateLimit], registry: RateLimiterRegistry | None
    ) -> TokenBucket | None:
        if not limits:
            return None
        if registry is None:
            return TokenBucket(limits, self.clock)
        return registry.bucket(self.platform, self.account_id, limits, self.clock)

    def _stamp(self, error: ApiError) -> None:
        """Say where the error happened and scrub credentials from its message."""
        redact = Redactor(self.secret_values())
        error.platform = error.platform or self.platform
        error.account_id = error.account_id or self.account_id
        error.message = redact(error.message)
        error.args = (error.message,)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.sleep(seconds)
            self.stats.wait_seconds += seconds


def _unparsed(response: httpx.Response) -> httpx.Response:
    return response


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
