"""Each error class of the taxonomy ends in seed 000's outcome: retried with the right wait, or not."""

import dagster as dg
import pytest

from ownlay_pipelines.defs import failure_policy
from ownlay_pipelines.defs.failure_policy import (
    CONNECTOR_RETRY_POLICY,
    connector_failure_policy,
    failure_outcome,
)
from ownlay_pipelines.http.errors import (
    AuthExpired,
    CircuitOpen,
    FatalApiError,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryBudgetExhausted,
    TransientError,
)
from ownlay_pipelines.orchestration.error_policy import (
    FailureKind,
    SyncAttemptFailed,
    classify,
    kind_from_error_chain,
)


def _exhausted(error):
    return RetryBudgetExhausted(
        f"gave up; last error: {error.message}", last_error=error, platform=error.platform
    )


def _outcome(error, retry_number=0):
    return failure_outcome(
        error, workspace_id="acme-outdoor", platform="meta_ads", retry_number=retry_number
    )


@pytest.mark.parametrize(("server_wait", "expected_wait"), [(90.0, 90.0), (None, 60.0)])
def test_a_short_rate_limit_wait_is_retried_in_the_run_three_times(server_wait, expected_wait):
    error = _exhausted(
        RateLimited("User request limit reached", wait_seconds=server_wait, platform="meta_ads")
    )

    outcome = _outcome(error, retry_number=2)

    assert isinstance(outcome, dg.RetryRequested)
    assert outcome.max_retries == 3
    assert outcome.seconds_to_wait == expected_wait


@pytest.mark.parametrize(("server_wait", "expected_wait"), [(1800.0, 1800.0), (7200.0, 3600.0)])
def test_a_long_rate_limit_wait_ends_the_run_instead_of_sleeping_in_it(server_wait, expected_wait):
    error = _exhausted(
        RateLimited("User request limit reached", wait_seconds=server_wait, platform="meta_ads")
    )

    outcome = _outcome(error)

    assert isinstance(outcome, dg.Failure)
    assert outcome.allow_retries is False
    assert outcome.metadata["retry_after_seconds"].value == expected_wait
    assert outcome.metadata["failure_kind"].value == "rate_limited"
    assert "next scheduled sync retries" in outcome.description


@pytest.mark.parametrize("error_class", [AuthExpired, PermissionDenied])
def test_auth_errors_fail_without_retry_naming_workspace_and_account(error_class):
    error = error_class("Session has expired", platform="meta_ads", account_id="1000000001")

    outcome = _outcome(error)

    assert isinstance(outcome, dg.Failure)
    assert outcome.allow_retries is False
    assert "meta_ads for workspace acme-outdoor, account 1000000001" in outcome.description
    assert "re-authorise" in outcome.description
    assert outcome.metadata["failure_kind"].value == "auth_expired"


@pytest.mark.parametrize(
    ("error", "retries"),
    [
        (TransientError("Internal error", status=503), 3),
        (_exhausted(TransientError("Internal error", status=500)), 3),
        (CircuitOpen("paused after 5 failures"), 3),
        (TransientError("GET /insights failed before a response (ConnectError)"), 5),
    ],
)
def test_api_errors_retry_three_times_and_network_errors_five_with_exponential_backoff(
    error, retries
):
    waits = [_outcome(error, retry_number=n).seconds_to_wait for n in range(retries)]

    assert {_outcome(error).max_retries} == {retries}
    assert waits == [30.0, 60.0, 120.0, 240.0, 480.0][:retries]


@pytest.mark.parametrize(
    "error", [FatalApiError("Unknown field", status=400), PayloadTooLarge("too many rows")]
)
def test_refused_requests_fail_at_once(error):
    outcome = _outcome(error)

    assert isinstance(outcome, dg.Failure)
    assert outcome.allow_retries is False


def test_errors_outside_the_taxonomy_propagate_to_the_assets_retry_policy():
    assert _outcome(KeyError("spend")) is None
    assert CONNECTOR_RETRY_POLICY.max_retries == 3
    with pytest.raises(KeyError), connector_failure_policy("acme-outdoor", "meta_ads"):
        raise KeyError("spend")


def test_the_outcome_is_raised_from_a_marker_that_names_the_kind():
    with (
        pytest.raises(dg.RetryRequested) as raised,
        connector_failure_policy("acme-outdoor", "google_ads", retry_number=0),
    ):
        raise TransientError("Backend error", status=502, account_id="1234567890")

    marker = raised.value.__cause__
    assert isinstance(marker, SyncAttemptFailed)
    assert marker.kind is FailureKind.API_ERROR
    assert isinstance(marker.__cause__, TransientError)
    assert str(marker).startswith("api_error: google_ads for workspace acme-outdoor")


def test_a_marker_in_a_serialized_chain_gives_its_kind_else_unexpected():
    chain = [
        ("RetryRequested", "Exceeded max_retries of 5"),
        ("SyncAttemptFailed", "SyncAttemptFailed: network: meta_ads for workspace acme\n"),
        ("TransientError", "TransientError: GET failed before a response\n"),
    ]
    assert kind_from_error_chain(chain) is FailureKind.NETWORK
    assert kind_from_error_chain(chain[:1]) is FailureKind.UNEXPECTED
    assert classify(ValueError("bug")) is FailureKind.UNEXPECTED


@pytest.mark.parametrize(
    ("error", "retries"),
    [
        (TransientError("no response"), 5),
        (TransientError("Service Unavailable", status=503), 3),
        (AuthExpired("token expired", account_id="1"), 0),
    ],
)
def test_dagster_retries_a_failing_step_exactly_as_often_as_the_policy_says(
    monkeypatch, error, retries
):
    # The real waits are 30 s and more; the count of retries is what is under test.
    monkeypatch.setattr(failure_policy, "retry_wait_seconds", lambda *_: 0.0)

    @dg.asset(retry_policy=CONNECTOR_RETRY_POLICY)
    def flaky_sync() -> None:
        with connector_failure_policy("acme-outdoor", "meta_ads"):
            raise error

    with dg.instance_for_test() as instance:
        result = dg.materialize([flaky_sync], instance=instance, raise_on_error=False)

    assert not result.success
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retried) == retries
