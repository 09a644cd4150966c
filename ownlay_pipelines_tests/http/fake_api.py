"""A scripted stand-in for a platform API and a minimal client subclass, shared by the http tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx

from ownlay_pipelines.http.client import ApiClient
from ownlay_pipelines.http.clock import FakeClock

BASE_URL = "https://api.example.test/v1/"
ACCOUNT_ID = "act_123"

Answer = Callable[[httpx.Request], httpx.Response]


def reply(
    status: int = 200,
    *,
    json: Any = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """An answer with this status, and a JSON body, a raw text body, or no body."""

    def answer(request: httpx.Request) -> httpx.Response:
        if json is not None:
            return httpx.Response(status, json=json, headers=headers)
        return httpx.Response(status, text=text or "", headers=headers)

    return answer


def fail(error: Exception) -> Answer:
    """An answer that raises `error` from the transport, like a dropped connection."""

    def answer(request: httpx.Request) -> httpx.Response:
        raise error

    return answer


class ScriptedApi:
    """Answers requests in script order (the last answer repeats) and records each request."""

    def __init__(self, *answers: Answer) -> None:
        self._answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]
        return answer(request)

    @property
    def transport(self) -> httpx.MockTransport:
        """An httpx transport served by this script."""
        return httpx.MockTransport(self)


class ExampleClient(ApiClient):
    """A client for a made-up platform that keeps every default hook."""

    platform = "example_ads"


def make_client(
    api: ScriptedApi, clock: FakeClock, client_class: type[ApiClient] = ExampleClient, **kwargs: Any
) -> ApiClient:
    """A client of `client_class` talking to `api` on `clock`, with a seeded jitter source."""
    kwargs.setdefault("rng", random.Random(7))
    return client_class(
        base_url=BASE_URL, account_id=ACCOUNT_ID, transport=api.transport, clock=clock, **kwargs
    )
