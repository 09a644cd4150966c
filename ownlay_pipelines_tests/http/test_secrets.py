"""Credentials sent by a client must never show up in an error message or a log line."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.http.errors import FatalApiError, RetryBudgetExhausted
from ownlay_pipelines.http.pagination import NextUrlPaginator, RepeatedCursorError
from ownlay_pipelines.http.retry import RetryPolicy
from ownlay_pipelines_tests.http.fake_api import (
    ExampleClient,
    ScriptedApi,
    fail,
    make_client,
    reply,
)

ACCESS_TOKEN = "EAABsbCS1iHgBAKZCZBsecret"
BEARER_TOKEN = "ya29.a0AfH6SMBsecret"


class TokenClient(ExampleClient):
    """Sends one token as Meta's `access_token` param and another as a bearer header."""

    def auth_params(self) -> dict[str, str]:
        return {"access_token": ACCESS_TOKEN}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {BEARER_TOKEN}"}


def _assert_no_secret(text: str) -> None:
    assert ACCESS_TOKEN not in text
    assert BEARER_TOKEN not in text


def test_tokens_are_sent_but_a_body_echoing_them_is_scrubbed_from_the_error(
    clock: FakeClock,
) -> None:
    echo = f"Invalid OAuth access token {ACCESS_TOKEN} (header Bearer {BEARER_TOKEN})"
    api = ScriptedApi(reply(400, json={"error": {"message": echo, "code": 190}}))
    client = make_client(api, clock, client_class=TokenClient)

    with pytest.raises(FatalApiError) as raised:
        client.request("GET", "act_123/insights")

    assert api.requests[0].url.params["access_token"] == ACCESS_TOKEN
    assert api.requests[0].headers["Authorization"] == f"Bearer {BEARER_TOKEN}"
    _assert_no_secret(str(raised.value))
    _assert_no_secret(repr(raised.value.args))
    assert "Invalid OAuth access token *** (header ***)" in str(raised.value)


def test_retried_errors_and_their_log_lines_carry_no_token(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api = ScriptedApi(
        reply(500, text=f"internal error for token {ACCESS_TOKEN}"),
        fail(httpx.ConnectError(f"cannot reach /insights?access_token={ACCESS_TOKEN}")),
    )
    client = make_client(
        api, clock, client_class=TokenClient, retry_policy=RetryPolicy(max_attempts=3)
    )

    with pytest.raises(RetryBudgetExhausted) as raised:
        client.request("GET", "act_123/insights", params={"level": "campaign"})

    _assert_no_secret("".join(traceback.format_exception(raised.value)))
    _assert_no_secret(str(raised.value.last_error))
    assert "HTTP Request: GET https://api.example.test/v1/act_123/insights" in caplog.text
    assert "retry 1 in" in caplog.text
    _assert_no_secret(caplog.text)


def test_a_repeated_next_url_holding_the_token_is_reported_by_position(clock: FakeClock) -> None:
    next_url = (
        f"https://api.example.test/v1/act_123/insights?after=MjQZD&access_token={ACCESS_TOKEN}"
    )
    page = reply(200, json={"data": [], "paging": {"next": next_url}})
    client = make_client(ScriptedApi(page), clock, client_class=TokenClient)

    with pytest.raises(RepeatedCursorError) as raised:
        list(NextUrlPaginator().pages(client, "GET", "act_123/insights"))

    assert "page 2 returned the same next-page cursor as page 1" in str(raised.value)
    _assert_no_secret(str(raised.value))
