from __future__ import annotations

import httpx
import pytest

from ownlay_pipelines.http.circuit_breaker import CircuitBreaker
from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import (
    ApiError,
    AuthExpired,
    CircuitOpen,
    FatalApiError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryBudgetExhausted,
    TransientError,
)
from ownlay_pipelines.http.rate_limit import RateLimit
from ownlay_pipelines.http.retry import RetryPolicy
from ownlay_pipelines_tests.http.fake_api import (
    ACCOUNT_ID,
    BASE_URL,
    ExampleClient,
    ScriptedApi,
    fail,
    make_client,
    reply,
)

OK = reply(200, json={"data": [{"id": "1"}]})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (204, None),
        (301, FatalApiError),
        (400, FatalApiError),
        (401, AuthExpired),
        (403, PermissionDenied),
        (404, FatalApiError),
        (408, TransientError),
        (413, PayloadTooLarge),
        (422, FatalApiError),
        (429, RateLimited),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
    ],
)
def test_default_classify_maps_each_http_status_onto_the_taxonomy(
    status: int, expected: type[ApiError] | None, clock: FakeClock
) -> None:
    client = make_client(ScriptedApi(OK), clock)
    response = httpx.Response(
        status, text="boom", request=httpx.Request("GET", BASE_URL + "campaigns")
    )

    error = client.classify(response)

    assert (type(error) if error is not None else None) is expected
    if error is not None:
        assert error.status == status
        assert "GET /v1/campaigns: boom" in error.message


def test_http_429_with_retry_after_seconds_waits_that_long_then_succeeds(clock: FakeClock) -> None:
    api = ScriptedApi(reply(429, headers={"Retry-After": "7"}), OK)
    client = make_client(api, clock)

    body = client.request_json("GET", "campaigns")

    assert body == {"data": [{"id": "1"}]}
    assert clock.sleeps == [7.0]
    assert len(api.requests) == 2
    assert client.stats.as_metadata() == {
        "http_requests": 2,
        "http_retries": 1,
        "http_throttled": 1,
        "http_wait_seconds": 7.0,
        "http_pages": 0,
        "http_errors_rate_limited": 1,
    }


def test_http_429_with_retry_after_http_date_waits_until_that_date(clock: FakeClock) -> None:
    api = ScriptedApi(reply(429, headers={"Retry-After": "Thu, 01 Jan 2026 00:01:30 GMT"}), OK)
    client = make_client(api, clock)

    client.request("GET", "campaigns")

    assert clock.sleeps == [90.0]


def test_http_429_without_retry_after_backs_off_within_the_first_ceiling(clock: FakeClock) -> None:
    client = make_client(ScriptedApi(reply(429), OK), clock)

    client.request("GET", "campaigns")

    assert len(clock.sleeps) == 1
    assert 0.0 <= clock.sleeps[0] <= 1.0


def test_server_wait_beyond_the_cap_raises_budget_exhausted_without_sleeping(
    clock: FakeClock,
) -> None:
    api = ScriptedApi(reply(429, headers={"Retry-After": "7200"}), OK)
    client = make_client(api, clock)

    with pytest.raises(RetryBudgetExhausted) as raised:
        client.request("GET", "reports")

    assert isinstance(raised.value.last_error, RateLimited)
    assert raised.value.last_error.wait_seconds == 7200.0
    assert clock.sleeps == []
    assert len(api.requests) == 1


def test_server_wait_that_would_overrun_the_total_budget_is_not_slept(clock: FakeClock) -> None:
    api = ScriptedApi(reply(429, headers={"Retry-After": "60"}))
    client = make_client(api, clock, retry_policy=RetryPolicy(total_budget_seconds=100.0))

    with pytest.raises(RetryBudgetExhausted, match="overrun the 100 s retry budget"):
        client.request("GET", "reports")

    assert clock.sleeps == [60.0]
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(401, AuthExpired), (403, PermissionDenied), (404, FatalApiError), (413, PayloadTooLarge)],
)
def test_non_retryable_errors_are_raised_after_exactly_one_request(
    status: int, error_class: type[ApiError], clock: FakeClock
) -> None:
    api = ScriptedApi(reply(status, json={"error": "no"}), OK)
    client = make_client(api, clock)

    with pytest.raises(error_class):
        client.request("GET", "campaigns")

    assert len(api.requests) == 1
    assert clock.sleeps == []
    assert client.stats.retries == 0


def test_persistent_5xx_is_retried_up_to_max_attempts_then_gives_up(clock: FakeClock) -> None:
    api = ScriptedApi(reply(503, text="upstream unavailable"))
    client = make_client(api, clock)

    with pytest.raises(RetryBudgetExhausted, match="gave up after 5 attempts") as raised:
        client.request("GET", "campaigns")

    assert isinstance(raised.value.last_error, TransientError)
    assert len(api.requests) == 5
    assert len(clock.sleeps) == 4
    assert client.stats.retries == 4
    assert client.stats.wait_seconds == pytest.approx(sum(clock.sleeps))
    assert client.stats.errors_by_class == {"TransientError": 5, "RetryBudgetExhausted": 1}


@pytest.mark.parametrize(
    "transport_error",
    [httpx.ConnectError("connection refused"), httpx.ReadTimeout("read timed out")],
)
def test_transport_errors_are_retried_as_transient(
    transport_error: Exception, clock: FakeClock
) -> None:
    api = ScriptedApi(fail(transport_error), OK)
    client = make_client(api, clock)

    assert client.request_json("GET", "campaigns") == {"data": [{"id": "1"}]}
    assert len(api.requests) == 2
    assert client.stats.errors_by_class == {"TransientError": 1}


def test_a_transport_error_names_the_request_path_and_the_exception(clock: FakeClock) -> None:
    api = ScriptedApi(fail(httpx.ConnectError("connection refused")))
    client = make_client(api, clock, retry_policy=RetryPolicy(max_attempts=1))

    with pytest.raises(RetryBudgetExhausted) as raised:
        client.request("GET", "campaigns")

    assert str(raised.value.last_error) == (
        "example_ads/act_123: GET /v1/campaigns failed before a response "
        "(ConnectError: connection refused)"
    )


def test_a_body_that_is_not_json_is_retried_as_a_truncated_page(clock: FakeClock) -> None:
    api = ScriptedApi(reply(200, text='{"data": [{"id": "1"'), OK)
    client = make_client(api, clock)

    assert client.request_json("GET", "campaigns") == {"data": [{"id": "1"}]}
    assert len(api.requests) == 2
    assert client.stats.retries == 1


def test_every_error_names_platform_and_account(clock: FakeClock) -> None:
    client = make_client(ScriptedApi(reply(401, json={"error": "expired"})), clock)

    with pytest.raises(AuthExpired) as raised:
        client.request("GET", "campaigns")

    assert (raised.value.platform, raised.value.account_id) == ("example_ads", ACCOUNT_ID)
    assert str(raised.value).startswith("example_ads/act_123 HTTP 401: GET /v1/campaigns")


def test_relative_urls_join_base_url_and_absolute_urls_are_used_as_given(
    clock: FakeClock,
) -> None:
    api = ScriptedApi(OK)
    client = make_client(api, clock)

    client.request("GET", "act_123/insights", params={"level": "campaign"})
    client.request("GET", "https://graph.example.test/v25.0/act_123/insights?after=MjQZD")

    assert str(api.requests[0].url) == BASE_URL + "act_123/insights?level=campaign"
    assert (
        str(api.requests[1].url) == "https://graph.example.test/v25.0/act_123/insights?after=MjQZD"
    )


class UsageHeaderClient(ExampleClient):
    """Pauses as long as the made-up `x-pause-seconds` usage header says."""

    def observe(self, response: httpx.Response) -> float:
        return float(response.headers.get("x-pause-seconds", "0"))


def test_observe_pause_is_slept_before_the_next_call_and_counted(clock: FakeClock) -> None:
    api = ScriptedApi(reply(200, json={}, headers={"x-pause-seconds": "30"}), OK)
    client = make_client(api, clock, client_class=UsageHeaderClient)

    client.request("GET", "campaigns")
    assert clock.sleeps == []
    client.request("GET", "campaigns")

    assert clock.sleeps == [30.0]
    assert client.stats.wait_seconds == 30.0


def test_observe_pause_read_on_an_error_response_overlaps_the_retry_wait(clock: FakeClock) -> None:
    throttled = reply(429, headers={"Retry-After": "10", "x-pause-seconds": "30"})
    client = make_client(ScriptedApi(throttled, OK), clock, client_class=UsageHeaderClient)

    client.request("GET", "campaigns")

    # The 10 s Retry-After counts towards the 30 s pause, so only 20 s more are slept.
    assert clock.sleeps == [10.0, 20.0]
    assert client.stats.wait_seconds == 30.0


def test_rate_limiter_waits_are_counted_in_wait_seconds(clock: FakeClock) -> None:
    client = make_client(ScriptedApi(OK), clock, rate_limits=[RateLimit(1, 10.0)])

    client.request("GET", "campaigns")
    client.request("GET", "campaigns")

    assert clock.sleeps == [10.0]
    assert client.stats.wait_seconds == 10.0


def test_an_open_circuit_refuses_calls_without_sending_them(clock: FakeClock) -> None:
    api = ScriptedApi(reply(500))
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=60.0, clock=clock)
    client = make_client(api, clock, breaker=breaker, retry_policy=RetryPolicy(max_attempts=2))
    with pytest.raises(RetryBudgetExhausted):
        client.request("GET", "campaigns")

    with pytest.raises(CircuitOpen) as raised:
        client.request("GET", "campaigns")

    assert len(api.requests) == 2
    assert (raised.value.platform, raised.value.account_id) == ("example_ads", ACCOUNT_ID)


def test_a_definite_refusal_resolves_a_half_open_trial(clock: FakeClock) -> None:
    api = ScriptedApi(reply(500), reply(500), reply(404), OK)
    breaker = CircuitBreaker(failure_threshold=2, reset_seconds=60.0, clock=clock)
    client = make_client(api, clock, breaker=breaker, retry_policy=RetryPolicy(max_attempts=2))
    with pytest.raises(RetryBudgetExhausted):
        client.request("GET", "campaigns")
    clock.advance(60.0)

    with pytest.raises(FatalApiError):
        client.request("GET", "missing")

    assert client.request_json("GET", "campaigns") == {"data": [{"id": "1"}]}


def test_a_client_class_without_platform_is_refused() -> None:
    with pytest.raises(TypeError, match="must set the class attribute `platform`"):
        ApiClient(base_url=BASE_URL, account_id=ACCOUNT_ID)


def test_client_closes_its_connection_pool_on_leaving_the_with_block(clock: FakeClock) -> None:
    with make_client(ScriptedApi(OK), clock) as client:
        client.request("GET", "campaigns")

    with pytest.raises(RuntimeError, match="closed"):
        client.request("GET", "campaigns")
