"""Every probe of issue 8 answers 4xx with a short one-line reason, never a 500 or an echo."""

import asyncio
import gzip
import json
import zlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ownlay_pipelines.http.clock import FakeClock
from ownlay_pipelines.ingest import request_body
from ownlay_pipelines.ingest.app import create_app
from ownlay_pipelines.ingest.config import IngestSettings
from ownlay_pipelines.ingest.keys import IssuedApiKey
from ownlay_pipelines_tests.ingest.payloads import (
    ENVIRON,
    NOW,
    STRIPE_SECRET,
    auth_header,
    events_scope,
    ownlay_event,
    stripe_body,
    stripe_signature,
)

MIB = 1024 * 1024
STRIPE = "/api/v1/webhooks/stripe/acme"


class Ticker:
    """A monotonic clock the test moves by hand (drives the rate limiter's refill)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def production_client(
    settings: IngestSettings, clock: FakeClock, ticker: Ticker
) -> Iterator[TestClient]:
    """The app with the production body cap (1 MiB) and a 50 events/s limit on a hand clock."""
    tuned = settings.model_copy(
        update={"max_body_bytes": MIB, "rate_limit_events_per_second": 50.0}
    )
    app = create_app(tuned, clock=clock, environ=ENVIRON, monotonic=ticker)
    with TestClient(app) as test_client:
        yield test_client


def _refusal(response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert len(response.content) < 2048
    body = response.json()
    assert body["error"] == error
    assert "\n" not in body["message"] and len(body["message"]) < 200
    return body["message"]


def _post(client: TestClient, key: IssuedApiKey, content: bytes, **headers: str):
    return client.post(
        "/api/v1/events", content=content, headers={**auth_header(key.plaintext), **headers}
    )


def test_one_mib_of_junk_gets_a_short_413_from_its_head_without_being_parsed(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    junk = b"[" + b"1," * (MIB // 2 - 2) + b"1]"
    assert MIB - 8 < len(junk) <= MIB
    monkeypatch.setattr(request_body, "from_json", None)  # parsing it would now raise TypeError

    message = _refusal(_post(production_client, acme_key, junk), 413, "batch_too_large")

    assert message == (
        "the batch holds over 1000 items (2047 in its first 4096 bytes); "
        "send at most 1000 per request"
    )


def test_a_large_array_without_any_object_gets_a_short_422_without_being_parsed(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    junk = b'["' + b"x" * (MIB // 2) + b'", 1, 2]'  # three items: no head to refuse
    monkeypatch.setattr(request_body, "from_json", None)  # parsing it would now raise TypeError

    message = _refusal(_post(production_client, acme_key, junk), 422, "validation_failed")

    assert message == "the batch holds no JSON object, so no event; send objects"


def test_one_mib_of_empty_objects_gets_a_short_413_from_its_head(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    junk = b"[" + b"{}," * (MIB // 3 - 2) + b"{}]"
    monkeypatch.setattr(request_body, "from_json", None)  # parsing it would now raise TypeError

    message = _refusal(_post(production_client, acme_key, junk), 413, "batch_too_large")

    assert message.startswith("the batch holds over 1000 items (1365 in its first 4096 bytes)")


def test_a_large_body_without_any_event_type_key_gets_a_short_422_without_being_parsed(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    junk = json.dumps([{"name": "x" * 500}] * 500).encode()
    assert len(junk) > 64 * 1024
    monkeypatch.setattr(request_body, "from_json", None)  # parsing it would now raise TypeError

    message = _refusal(_post(production_client, acme_key, junk), 422, "validation_failed")

    assert message == "no object in the body has an 'event_type', so none is an event"


def test_a_large_body_spelling_event_type_with_an_escape_is_still_parsed_and_stored(
    production_client: TestClient, acme_key: IssuedApiKey
):
    events = [ownlay_event(n) for n in range(1, 60)]
    for event in events:
        event["properties"]["notes"] = "x" * 1500
    body = json.dumps(events).replace('"event_type"', '"\\u0065vent_type"').encode()
    assert len(body) > 64 * 1024 and b'"event_type"' not in body

    response = _post(production_client, acme_key, body)

    assert (response.status_code, response.json()["stored"]) == (202, 59)


def test_a_batch_over_the_event_limit_gets_a_short_413(
    production_client: TestClient, acme_key: IssuedApiKey
):
    batch = json.dumps([{"event_type": "page_view"}] * 1001).encode()

    message = _refusal(_post(production_client, acme_key, batch), 413, "batch_too_large")

    assert message == "the batch holds 1001 items; send at most 1000 per request"


def test_a_mib_of_event_shaped_objects_gets_a_413_from_its_head(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    item = b'{"event_type":0}'
    count = (MIB - 2) // (len(item) + 1)
    junk = b"[" + b",".join([item] * count) + b"]"
    monkeypatch.setattr(request_body, "from_json", None)  # parsing it would now raise TypeError

    message = _refusal(_post(production_client, acme_key, junk), 413, "batch_too_large")

    assert message.startswith("the batch holds over 1000 items (1927 in its first 32768 bytes)")


def test_a_batch_of_larger_items_is_counted_whole_before_it_is_parsed(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    item = b'{"event_type":"' + b"x" * 40 + b'"}'  # 57 bytes: fewer than 1001 in the head
    junk = b"[" + b",".join([item] * 15_000) + b"]"
    monkeypatch.setattr(request_body, "from_json", None)  # parsing it would now raise TypeError

    message = _refusal(_post(production_client, acme_key, junk), 413, "batch_too_large")

    assert message == "the batch holds 15000 items; send at most 1000 per request"


@pytest.mark.parametrize(
    ("tail", "status", "error", "says"),
    [
        (b",1]", 413, "batch_too_large", "the batch holds 3001 items"),
        (b',{"event_type":"page_view"', 400, "malformed_json", "the request body is not JSON"),
    ],
    ids=["a stray number", "truncated"],
)
def test_a_large_batch_the_object_count_cannot_read_is_refused_by_the_parse(
    production_client: TestClient,
    acme_key: IssuedApiKey,
    tail: bytes,
    status: int,
    error: str,
    says: str,
):
    objects = b",".join([b'{"event_type":"page_view","anonymous_id":"a"}'] * 3000)

    response = _post(production_client, acme_key, b"[" + objects + tail)

    assert _refusal(response, status, error).startswith(says)


def test_a_large_batch_within_the_limit_is_not_refused_by_the_object_count(
    production_client: TestClient, acme_key: IssuedApiKey
):
    events = [ownlay_event(n) for n in range(1, 41)]
    for event in events:
        event["properties"]["notes"] = "{" * 2000  # braces inside strings are not objects
    body = json.dumps(events).encode()
    assert len(body) > 64 * 1024

    response = _post(production_client, acme_key, body)

    assert (response.status_code, response.json()["stored"]) == (202, 40)


def test_a_bad_batch_lists_at_most_fifty_refusals_with_the_total(
    production_client: TestClient, acme_key: IssuedApiKey
):
    response = _post(production_client, acme_key, json.dumps([1] * 1000).encode())

    assert response.status_code == 422
    body = response.json()
    assert body["rejected_count"] == 1000
    assert [r["index"] for r in body["rejected"]] == list(range(50))
    assert len(response.content) < 8192


def test_body_over_the_cap_without_a_length_is_refused_while_streaming(
    production_client: TestClient, acme_key: IssuedApiKey
):
    def chunked() -> Iterator[bytes]:
        yield b"["
        for _ in range(40):
            yield b"1," * 32768

    response = production_client.post(
        "/api/v1/events", content=chunked(), headers=auth_header(acme_key.plaintext)
    )

    _refusal(response, 413, "body_too_large")


@pytest.mark.parametrize(
    ("body", "status", "error", "says"),
    [
        (b"[" * 2000 + b"]" * 2000, 400, "malformed_json", "nesting deeper than 200 levels"),
        (b'{"n": ' + b"7" * 4400 + b"}", 400, "malformed_json", "number out of range"),
        (b'{"revenue": NaN}', 400, "malformed_json", "expected value"),
        (b'{"revenue": Infinity}', 400, "malformed_json", "expected value"),
        (json.dumps(ownlay_event()).encode("utf-16"), 415, "unsupported_charset", "not UTF-8"),
        (b"\xef\xbb\xbf{}", 415, "unsupported_charset", "not UTF-8"),
        (b'{"a": "\xff\xfe"}', 415, "unsupported_charset", "not UTF-8"),
    ],
    ids=["deep", "long-int", "nan", "infinity", "utf-16", "utf-8-bom", "invalid-utf-8"],
)
def test_hostile_json_gets_a_one_line_4xx(
    production_client: TestClient,
    acme_key: IssuedApiKey,
    body: bytes,
    status: int,
    error: str,
    says: str,
):
    response = _post(production_client, acme_key, body)

    assert says in _refusal(response, status, error)


def test_a_declared_charset_other_than_utf8_is_415(client: TestClient, acme_key: IssuedApiKey):
    body = json.dumps(ownlay_event()).encode()

    response = _post(client, acme_key, body, **{"Content-Type": "application/json; charset=utf-16"})

    assert "utf-16" in _refusal(response, 415, "unsupported_charset")


def test_infinite_numbers_and_out_of_range_timestamps_are_422_naming_the_field(
    client: TestClient, acme_key: IssuedApiKey
):
    events = [
        ownlay_event(1, properties={"revenue": 1e999}),
        ownlay_event(2, client_timestamp="9999-12-31T23:59:59-14:00"),
        ownlay_event(3, timestamp="0001-01-01T00:00:00+14:00"),
    ]

    response = _post(client, acme_key, json.dumps(events).replace("Infinity", "1e999").encode())

    assert response.status_code == 422
    reasons = {e["field"]: e["reason"] for r in response.json()["rejected"] for e in r["errors"]}
    assert reasons == {
        "properties": "properties.revenue is not a finite number",
        "client_timestamp": "client_timestamp must lie between 1970 and 2100 (UTC)",
        "timestamp": "timestamp must lie between 1970 and 2100 (UTC)",
    }


@pytest.mark.parametrize(
    ("timestamp", "says"),
    [
        ("1" * 400, "t= must be Unix seconds"),
        ("1" * 5000, "longer than 2048 characters"),
        ("¹²³¹²³¹²³", "t= must be Unix seconds"),  # latin-1 superscripts: isdigit() is True
    ],
)
def test_stripe_signature_timestamps_that_crashed_the_parser_are_400(
    client: TestClient, timestamp: str, says: str
):
    body = stripe_body()
    header = f"t={timestamp},v1=" + "0" * 64

    response = client.post(
        STRIPE, content=body, headers={"Stripe-Signature": header.encode("latin-1")}
    )

    assert says in _refusal(response, 400, "invalid_signature")


@pytest.mark.parametrize("signature", ["²³", "0" * 63 + "é"])
def test_a_stripe_v1_signature_with_non_ascii_characters_is_401_not_a_crash(
    client: TestClient, signature: str
):
    # hmac.compare_digest raises TypeError on a str holding non-ASCII characters; the header
    # only needs a current t= to get that far, no valid signature.
    header = f"t={int(NOW.timestamp())},v1={signature}"

    response = client.post(
        STRIPE, content=stripe_body(), headers={"Stripe-Signature": header.encode("latin-1")}
    )

    assert _refusal(response, 401, "invalid_signature") == (
        "no v1 signature in Stripe-Signature matches the body"
    )


def test_signed_stripe_body_nested_too_deep_is_400(client: TestClient):
    body = b'{"id": "evt_1", "type": "x", "data": ' + b"[" * 300 + b"]" * 300 + b"}"
    now = int(NOW.timestamp())

    response = client.post(
        STRIPE,
        content=body,
        headers={"Stripe-Signature": stripe_signature(body, [STRIPE_SECRET], now)},
    )

    assert "nesting deeper than 200" in _refusal(response, 400, "malformed_json")


def test_over_the_workspace_rate_the_request_is_429_with_retry_after_and_nothing_stored(
    production_client: TestClient, acme_key: IssuedApiKey, ticker: Ticker
):
    first = [ownlay_event(n) for n in range(1, 41)]
    second = [ownlay_event(n) for n in range(41, 61)]

    accepted = _post(production_client, acme_key, json.dumps(first).encode())
    limited = _post(production_client, acme_key, json.dumps(second).encode())
    ticker.now += 1.0
    retried = _post(production_client, acme_key, json.dumps(second).encode())

    assert accepted.status_code == 202
    assert "may send 50 events/s" in _refusal(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"
    assert (retried.status_code, retried.json()["stored"]) == (202, 20)


def test_two_workers_spend_from_one_bucket_so_the_workspace_gets_exactly_its_rate(
    settings: IngestSettings, clock: FakeClock, ticker: Ticker, acme_key: IssuedApiKey
):
    tuned = settings.model_copy(
        update={"max_body_bytes": MIB, "rate_limit_events_per_second": 50.0, "workers": 2}
    )
    first = create_app(tuned, clock=clock, environ=ENVIRON, monotonic=ticker)
    second = create_app(tuned, clock=clock, environ=ENVIRON, monotonic=ticker)
    numbers = iter(range(1, 1000))

    def post(worker: TestClient, events: int) -> int:
        batch = [ownlay_event(next(numbers)) for _ in range(events)]
        return _post(worker, acme_key, json.dumps(batch).encode()).status_code

    with TestClient(first) as one, TestClient(second) as other:
        # Five requests of 10 spend the second's 50 tokens across both workers; per-worker
        # buckets of 25 would refuse the first worker's third and allow the second's sixth.
        statuses = [post(one, 10), post(one, 10), post(one, 10), post(other, 10), post(other, 10)]
        over = post(other, 1)
        ticker.now += 0.1  # five more tokens, wherever they are spent
        refilled = post(one, 5)

    assert statuses == [202] * 5
    assert (over, refilled) == (429, 202)


def test_a_large_valid_batch_is_validated_off_the_event_loop_and_stored(
    production_client: TestClient, acme_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
):
    import anyio.to_thread

    threaded: list[str] = []
    original = anyio.to_thread.run_sync

    async def recording(function, *args, **kwargs):
        threaded.append(getattr(function, "__name__", ""))
        return await original(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", recording)
    events = [ownlay_event(n) for n in range(1, 50)]
    for event in events:
        event["properties"]["notes"] = "x" * 1500
    body = json.dumps(events).encode()
    assert len(body) > 64 * 1024

    response = _post(production_client, acme_key, body)

    assert (response.status_code, response.json()["stored"]) == (202, 49)
    assert "_prepare" in threaded


def test_only_two_large_bodies_are_read_at_once_while_small_requests_go_straight_through(
    settings: IngestSettings, clock: FakeClock, acme_key: IssuedApiKey
):
    tuned = settings.model_copy(update={"max_body_bytes": MIB})
    app = create_app(tuned, clock=clock, environ=ENVIRON)
    handle = app.raw_routes["/api/v1/events"]
    junk = b"[" + b"1," * 50_000 + b"1]"
    reading: list[int] = []

    async def request(body: bytes, number: int, release: asyncio.Event) -> int:
        async def receive() -> dict:
            reading.append(number)
            await release.wait()
            return {"type": "http.request", "body": body, "more_body": False}

        statuses: list[int] = []

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await handle(events_scope(acme_key.plaintext, len(body)), receive, send)
        return statuses[0]

    async def flood() -> tuple[list[int], int, list[int]]:
        held = asyncio.Event()
        large = [asyncio.create_task(request(junk, n, held)) for n in range(1, 5)]
        await asyncio.sleep(0.05)
        started_while_held = sorted(reading)
        free = asyncio.Event()
        free.set()
        small = await asyncio.wait_for(request(json.dumps(ownlay_event(1)).encode(), 0, free), 5)
        held.set()
        return started_while_held, small, list(await asyncio.gather(*large))

    with TestClient(app):  # the app's lifespan: its buffer is closed afterwards
        started_while_held, small, large_statuses = asyncio.run(flood())

    # Two of the four are read (which two depends on whose key lookup finished first); the other
    # two wait with their bytes unread.
    assert len(started_while_held) == 2 and len(set(started_while_held)) == 2
    assert small == 202
    assert large_statuses == [413, 413, 413, 413]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_gzip_or_deflate_batch_is_decompressed_and_stored(
    client: TestClient, acme_key: IssuedApiKey, encoding: str
):
    body = json.dumps([ownlay_event(1), ownlay_event(2)]).encode()
    compressed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)

    response = _post(client, acme_key, compressed, **{"Content-Encoding": encoding})

    assert response.status_code == 202, response.text
    assert response.json()["stored"] == 2


@pytest.mark.parametrize(
    ("body", "headers", "status", "error", "says"),
    [
        # 1 MiB of zeros compresses to ~1 KiB: refused once it grows past the cap, unread beyond.
        (gzip.compress(b"0" * (MIB + 1)), {"Content-Encoding": "gzip"}, 413, "body_too_large",
         "once decompressed"),
        (b"not gzip at all", {"Content-Encoding": "gzip"}, 400, "malformed_body", "not valid gzip"),
        (gzip.compress(b'{"event_type": "x"}')[:-12], {"Content-Encoding": "gzip"}, 400,
         "malformed_body", "cut short"),
        (b"{}", {"Content-Encoding": "br"}, 415, "unsupported_content_encoding",
         "send the body gzip, x-gzip, deflate or uncompressed"),
    ],
    ids=["bomb", "not-gzip", "truncated", "brotli"],
)  # fmt: skip
def test_compressed_bodies_that_cannot_be_read_get_a_one_line_4xx(
    production_client: TestClient,
    acme_key: IssuedApiKey,
    body: bytes,
    headers: dict[str, str],
    status: int,
    error: str,
    says: str,
):
    response = _post(production_client, acme_key, body, **headers)

    assert says in _refusal(response, status, error)


def test_a_webhook_takes_only_an_uncompressed_body(client: TestClient):
    body = stripe_body()
    signature = stripe_signature(body, [STRIPE_SECRET], int(NOW.timestamp()))

    response = client.post(
        STRIPE,
        content=gzip.compress(body),
        headers={"Stripe-Signature": signature, "Content-Encoding": "gzip"},
    )

    assert "send the body uncompressed" in _refusal(response, 415, "unsupported_content_encoding")


def test_an_unknown_key_is_named_by_an_excerpt_never_echoed_whole(
    production_client: TestClient, acme_key: IssuedApiKey
):
    event = {**ownlay_event(1), "A" * 1_000_000: 1}
    nested = ownlay_event(2, context={"page": {"B" * 20_000: 1}})

    alone = _post(production_client, acme_key, json.dumps(event).encode())
    batch = [{**ownlay_event(n), **{c * 3000: 1 for c in "CDEFG"}} for n in range(3, 43)]
    many = _post(production_client, acme_key, json.dumps(batch).encode())
    deeper = _post(production_client, acme_key, json.dumps(nested).encode())

    assert alone.status_code == 422 and len(alone.content) < 2048
    assert alone.json()["rejected"][0]["errors"] == [
        {"field": "A" * 64 + "…", "reason": "Extra inputs are not permitted"}
    ]
    assert many.status_code == 422 and len(many.content) < 32 * 1024  # 600 KB of keys
    assert deeper.json()["rejected"][0]["errors"][0]["field"] == "context.page." + "B" * 51 + "…"


@pytest.mark.parametrize(
    ("method", "path", "status", "error", "message"),
    [
        ("POST", "/api/v1/events/", 404, "not_found", "no such route; /openapi.json lists the routes"),
        ("POST", "/api/v1/nope", 404, "not_found", "no such route; /openapi.json lists the routes"),
        ("GET", "/api/v1/events", 405, "method_not_allowed", "this route takes OPTIONS, POST only"),
        ("PUT", "/api/v1/webhooks/stripe/acme", 405, "method_not_allowed", "this route takes POST only"),
        # Two routes share this path: the answer lists the methods of both.
        ("PUT", "/api/v1/webhooks/linkedin/acme", 405, "method_not_allowed", "this route takes GET, POST only"),
        ("POST", "/openapi.json", 405, "method_not_allowed", "this route takes GET, HEAD only"),
    ],
)  # fmt: skip
def test_a_wrong_route_or_method_gets_the_documented_error_body_and_no_redirect(
    client: TestClient,
    acme_key: IssuedApiKey,
    method: str,
    path: str,
    status: int,
    error: str,
    message: str,
):
    body = json.dumps(ownlay_event(1)).encode()

    response = client.request(
        method, path, content=body, headers=auth_header(acme_key.plaintext), follow_redirects=False
    )

    assert _refusal(response, status, error) == message
    assert "location" not in response.headers
    if status == 405:
        assert response.headers["allow"] == message.removeprefix("this route takes ").removesuffix(
            " only"
        )


def test_a_key_repeated_in_an_event_counts_with_its_last_value_as_documented(
    client: TestClient, acme_key: IssuedApiKey
):
    event = json.dumps(ownlay_event(1, event_type="purchase"))
    body = event.replace(
        '"event_type": "purchase"', '"event_type": "teleport", "event_type": "lead"'
    )
    refused = event.replace('"event_type": "purchase"', '"event_type": "lead", "event_type": "x"')

    stored = _post(client, acme_key, body.encode())
    last_is_bad = _post(client, acme_key, refused.encode())

    assert (stored.status_code, stored.json()["stored"]) == (202, 1)
    assert last_is_bad.json()["rejected"][0]["errors"][0]["field"] == "event_type"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", 'application/json; charset="UTF-8"'],
)
def test_the_body_is_read_as_json_whatever_the_content_type_says_as_documented(
    client: TestClient, acme_key: IssuedApiKey, content_type: str | None
):
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = _post(client, acme_key, json.dumps(ownlay_event(1)).encode(), **headers)

    assert (response.status_code, response.json()["stored"]) == (202, 1)
